// Package runtime loads pimc binary programs (.pimb) and simulates them on
// the chip a hardware description defines: bit-exact values (the integer
// semantics of docs/quantization.md, ADC saturation included), cycles per
// engine honouring the sync tokens (so the two PIM pools overlap), energy by
// component, weight programming and eDRAM refresh, and a Chrome trace.
// docs/simulator.md describes the model.
//
// Load validates everything before anything runs: magic, version, CRC,
// section bounds, the hardware fingerprint, every instruction's operands
// against the hardware and the buffer sizes, which images each array holds
// (side by side, by column) when an MVM uses one, and that the sync tokens cannot deadlock. A program
// Load accepts runs without run-time errors.
//
// Layering: runtime imports only backend/isa and hw. It never sees the
// compiler's IR: it is an independent check of what the compiler emits.
package runtime
