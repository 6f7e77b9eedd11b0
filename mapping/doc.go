// Package mapping tiles a layer's weight matrix onto PIM arrays and allocates
// arrays to layers.
//
// Three single-array schemes follow DESIGN.md §4 exactly: im2col, SDK (as the
// VW-SDK authors count it) and VW-SDK. Allocate adds the many-array "auto"
// mapping: the best scheme per layer, weight duplication on spare arrays, and
// time-multiplexing with counted weight reloads (and eDRAM refreshes) when a
// model does not fit. MapDual maps both pools of a DualNet chip at once.
// docs/mapping.md states every formula and generalisation.
//
// Layering: mapping imports only hw (and the standard library). It never sees
// the compiler IR; the caller adapts IR layers into Layer values.
package mapping
