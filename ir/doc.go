// Package ir is pimc's graph intermediate representation: a typed tensor
// graph in topological order, the op table that the importer, printer and
// verifier share, shape and dtype inference, the verifier, a canonical text
// printer, a DOT writer and the named-pass runner.
//
// Layering: ir imports nothing from pimc. Every other compiler package may
// import it; the simulator (runtime) must not, so that it stays an
// independent check of what the compiler emits.
package ir
