// Package mapping tiles a layer's weight matrix onto PIM arrays and allocates
// arrays to layers.
//
// Three single-array schemes follow DESIGN.md §4 exactly: im2col, SDK (as the
// VW-SDK authors count it) and VW-SDK. Allocate adds the many-array "auto"
// mapping: the best scheme per layer, weight duplication on spare arrays, and
// time-multiplexing with counted weight reloads (and eDRAM refreshes) when a
// model does not fit; resident images of different layers share arrays by
// column (column packing, pack.go). MapDual maps both pools of a DualNet chip at once.
// docs/mapping.md states every formula and generalisation.
//
// Layering: mapping imports hw and ir (and the standard library). The core
// (schemes, Allocate, MapDual) works on plain Layer values; only the adapter
// in fromir.go reads the IR, turning the quantized layer ops into DualLayer
// values so that the cost model and the backend map the same layers the
// same way. mapping never imports passes, partition or later stages.
package mapping
