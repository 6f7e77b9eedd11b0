// Package dualnet implements pimc's DualNet quantization: the calibrate,
// dual-split and quantize passes that turn a canonical float graph into the
// pimc-domain integer ops of ir/op_pimc.go (every conv/FC layer split into
// an INT4 path for SRAM-PIM and a ternary-weight / binary-activation path
// for eDRAM-PIM at a ratio r), and the integer-exact quantized reference
// executor whose results the simulator must reproduce bit for bit,
// including ADC saturation.
//
// docs/quantization.md is the specification of every rounding,
// requantization and ADC rule; docs/accuracy.md reports what they cost on
// real models and data.
//
// Layering: dualnet imports ir, interp (the FP32 kernels, for calibration
// and the float ops after Dequantize) and hw (array rows and ADC bits).
package dualnet
