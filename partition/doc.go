// Package partition decides which engine runs each op of a quantized
// module and records it on the IR (ir.Node.Engine and Precision), so that
// the DOT writer, the cost model and the backend all read one decision:
//
//   - DualConv / DualGemm with INT4 and ternary channels → "dual" (both
//     pools run in parallel); INT4 channels only → "sram" (int4); ternary
//     channels only → "edram" (tb);
//   - QConv / QGemm (unsplit INT8 or INT4 layers, depthwise included) →
//     "sram" (int8 / int4 from w_bits);
//   - every other op → "ppu", with the format of the value it produces
//     (int4, int8, int16, fp32...) as its precision.
//
// docs/cost.md lists the rules with the cost each engine is charged.
//
// Layering: partition imports ir and hw only (it needs no hardware numbers
// today; hw is allowed so that capacity checks can move here). mapping does
// not import partition: the result travels on the IR.
package partition
