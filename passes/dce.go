package passes

import "pimc/ir"

// EliminateDeadCode ("dce") deletes nodes none of whose outputs is used
// and constants nothing reads (ir.Graph.RemoveDead). Other passes leave
// such leftovers behind on purpose, so the pipeline can run this once, or
// at several positions under different names.
//
// Prerequisites: none.
func EliminateDeadCode(m *ir.Module) error {
	m.Graph.RemoveDead()
	return nil
}
