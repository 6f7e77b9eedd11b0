// Package cost is pimc's analytical cost model and compile report: per
// layer and in total, the cycles and latency of each pool (the INT4 path on
// SRAM-PIM and the TB path on eDRAM-PIM run in parallel), the PPU's time,
// energy by component (array MACs, ADC conversions, input drivers, PPU ops,
// activation-buffer traffic, weight writes, DMA, eDRAM refresh), array
// count and utilisation, and weight and activation memory. Compare sets a
// chosen DualNet against its INT4-only (r = 1) and TB-only (r = 0)
// versions, the paper's headline table; WriteTable prints a summary and
// WriteUtilisationSVG draws the array placement.
//
// Every count is a function of the quantized IR's shapes and the hardware
// description only (never of weight or activation values), so that the
// simulator can reproduce it instruction by instruction. docs/cost.md gives
// each formula; docs/report.md is the JSON schema.
//
// Layering: cost imports ir, hw and mapping only. It maps the module with
// mapping.FromIR and mapping.MapDual, the same adapter the backend uses.
package cost
