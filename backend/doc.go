// Package backend lowers a quantized DualNet module (the pimc-domain ops of
// ir/op_pimc.go) to a binary program for one chip: per-engine instruction
// streams with sync tokens, weight images per array tile, constant
// descriptors, the I/O layout and a symbol table (package isa, docs/isa.md).
//
// The layout of every layer is im2col: the canonical (ky, kx, c) input
// vector is cut into row tiles of whole ADC row groups, and output channels
// into column tiles of ⌊cols / columns per weight⌋ channels, because that
// is the layout the ADC rule of docs/quantization.md is defined on. Which
// tiles stay resident, how many copies share the windows and how the rest
// is time-multiplexed through a streaming region follows mapping.MapDual
// restricted to im2col, for the allocation objective of Options.
//
// Layering: backend imports ir, backend/isa, hw and mapping.
package backend
