package passes

import "pimc/ir"

// soleUser returns the one node that reads v, when v is read by exactly
// one input slot of one node and is not a graph output; nil otherwise.
// Rewrites that swallow a value's producer need this, or other readers
// would lose the value.
func soleUser(g *ir.Graph, users map[*ir.Value][]*ir.Node, v *ir.Value) *ir.Node {
	if v == nil || g.IsOutput(v) || len(users[v]) != 1 {
		return nil
	}
	return users[v][0]
}

// removeNodes deletes the given nodes, keeping the order of the rest.
func removeNodes(g *ir.Graph, dead map[*ir.Node]bool) {
	if len(dead) == 0 {
		return
	}
	kept := make([]*ir.Node, 0, len(g.Nodes)-len(dead))
	for _, n := range g.Nodes {
		if !dead[n] {
			kept = append(kept, n)
		}
	}
	g.Nodes = kept
}

// dropUnusedConsts deletes constants that no node or graph output reads
// (weights replaced by a rewrite). Unlike Graph.RemoveDead it leaves dead
// nodes alone: removing those is dce's job, and a rewrite pass should not
// change parts of the graph it did not touch.
func dropUnusedConsts(g *ir.Graph) {
	used := map[*ir.Value]bool{}
	for _, o := range g.Outputs {
		used[o] = true
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	kept := g.Consts[:0]
	for _, c := range g.Consts {
		if used[c] {
			kept = append(kept, c)
		}
	}
	clear(g.Consts[len(kept):])
	g.Consts = kept
}

// floatConst returns the float32 data of a constant value, or nil when v
// is absent, not constant, or not float32.
func floatConst(v *ir.Value) []float32 {
	if !v.IsConst() || v.Const.DType != ir.Float32 {
		return nil
	}
	return v.Const.F
}

// scalarConst returns the single element of a one-element constant.
func scalarConst(v *ir.Value) (float64, bool) {
	if !v.IsConst() || v.Const.Len() != 1 {
		return 0, false
	}
	return v.Const.Float(0), true
}

// setConst gives consumer new constant data t for its operand v. When
// consumer is v's only reader, v itself takes the data, which keeps its
// name (conv1.weight stays conv1.weight); otherwise a fresh constant is
// added, because other readers still need the old data. The old Tensor is
// never modified: tensors may be shared.
func setConst(m *ir.Module, users map[*ir.Value][]*ir.Node, v *ir.Value, consumer *ir.Node, t *ir.Tensor) *ir.Value {
	if soleUser(m.Graph, users, v) == consumer {
		v.Const = t
		v.Type = t.Type()
		return v
	}
	return m.AddConst(v.Name, t)
}
