// Package passes holds pimc's graph-level passes: canonicalisation
// (constant folding, Identity/Dropout removal, BatchNorm and Pad folding,
// MatMul+Add fusion, auto_pad resolution, dead-code elimination) and, later,
// calibration, the DualNet split and quantization.
//
// Each pass is a plain exported function from *ir.Module to error; the
// pipeline table names it at its position. A pass's doc comment says what
// it does and which passes must run before it. Passes return errors for
// problems in the model, panic (with a "BUG: " prefix) only on internal
// bugs, keep no package-level mutable state, and iterate over slices, never
// maps, so that their output is deterministic.
//
// Layering: passes imports ir and interp only (interp evaluates constant
// sub-graphs exactly as the reference interpreter would run them).
package passes
