// Package isa is pimc's instruction set and binary container: the opcode
// table (one table drives the encoder, decoder, assembler, disassembler,
// validation and docs/isa.md), 128-bit little-endian instruction words, the
// constant descriptors instructions refer to, and the .pimb file format
// (docs/pimb.md): header with the hardware fingerprint, section table,
// per-engine streams, weight images, constants, I/O layout, symbols, CRC-32.
//
// Encode and Decode are exact inverses on canonical files: Decode accepts
// only the bytes Encode would produce, so decode → encode reproduces the
// input, and Disassemble → Assemble → Encode does too.
//
// Layering: isa is a leaf; it imports only hw (for CheckHardware).
package isa
