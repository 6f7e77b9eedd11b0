// Package hw describes the target chip: the SRAM-PIM pool (INT4 path), the
// eDRAM-PIM pool (ternary-weight/binary-activation path), the digital
// post-processing unit and the DMA engine. A description is read from a JSON
// file (Load, Parse) and checked field by field (Validate); Default returns the
// built-in dualpim-28nm chip. docs/hardware.md is the schema reference.
//
// Layering: hw is a leaf. It imports nothing from pimc, so every other stage
// (mapping, backend, runtime via the program header) can depend on it.
package hw
