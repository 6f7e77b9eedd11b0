package passes

import (
	"pimc/interp"
	"pimc/ir"
)

// FoldConstants ("fold-constants") evaluates every node whose inputs are
// all constants with the FP32 interpreter and turns its outputs into
// constants. Shape is folded from the static type of its input even when
// that input is not constant: all shapes are static in pimc, and this is
// what makes PyTorch's Shape→Gather→Unsqueeze→Concat→Reshape flatten
// chains, ConstantOfShape weights and the conformance models'
// Tile→Slice→Mul→Add→Reshape weight generators fold away.
//
// One sweep in topological order reaches the fixed point, because a folded
// node's readers come later in the order. A folded output keeps its Value
// (and so its name, including a graph output's name). A node whose op has
// no interpreter kernel is left in place. Nodes and constants that become
// unused are removed at the end. There is no size cap: weights must end up
// as constants whatever their size.
//
// Prerequisites: none; it should run first, since the other passes need
// constant weights and shape operands.
func FoldConstants(m *ir.Module) error {
	g := m.Graph
	// Results are collected first and applied at the end, so that an
	// error leaves the module as it was.
	known := map[*ir.Value]*ir.Tensor{}
	kept := make([]*ir.Node, 0, len(g.Nodes))
	var folded []*ir.Value
	// Folded intermediates are dropped as soon as their last reader has
	// folded too: weight generators (Tile → Slice → Mul → Add) would
	// otherwise hold every step's copy of the weights at once.
	uses := map[*ir.Value]int{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil {
				uses[in]++
			}
		}
	}
	for _, o := range g.Outputs {
		uses[o]++
	}
	for _, n := range g.Nodes {
		outs, err := foldNode(n, known, uses)
		if err != nil {
			return err
		}
		if outs == nil {
			kept = append(kept, n)
			continue
		}
		for i, o := range n.Outputs {
			if o != nil {
				known[o] = outs[i]
				folded = append(folded, o)
			}
		}
		for _, in := range n.Inputs {
			if in == nil {
				continue
			}
			if uses[in]--; uses[in] == 0 && known[in] != nil {
				delete(known, in)
			}
		}
	}
	live := folded[:0]
	for _, o := range folded {
		// Converting the Value in place keeps every reader and the
		// graph-output name without any rewiring.
		if t := known[o]; t != nil {
			o.Const, o.Def = t, nil
			live = append(live, o)
		}
	}
	folded = live
	g.Nodes = kept
	g.Consts = append(g.Consts, folded...)
	g.RemoveDead()
	return nil
}

// foldNode returns n's outputs when n can be folded, nil otherwise.
// known holds the values folded so far in this sweep.
func foldNode(n *ir.Node, known map[*ir.Value]*ir.Tensor, uses map[*ir.Value]int) ([]*ir.Tensor, error) {
	if n.Op == ir.OpShape && n.In(0) != nil {
		shape := n.In(0).Type.Shape
		s, e := ir.ShapeRange(n, len(shape))
		dims := append([]int64{}, shape[s:e]...)
		return checkFolded(n, []*ir.Tensor{ir.IntTensor(ir.Int64, dims, int64(len(dims)))})
	}
	in := make([]*ir.Tensor, len(n.Inputs))
	for i, v := range n.Inputs {
		switch {
		case v == nil:
		case v.IsConst():
			in[i] = v.Const
		case known[v] != nil:
			in[i] = known[v]
		default:
			return nil, nil
		}
	}
	if !interp.Supported(n.Op) {
		return nil, nil
	}
	// A value folded in this sweep and read by no other node is dead
	// after this one: the kernel may overwrite it, and a view of it
	// (Reshape) need not be copied.
	consumed := make([]bool, len(n.Inputs))
	for i, v := range n.Inputs {
		consumed[i] = v != nil && known[v] != nil && uses[v] == 1
	}
	out, err := interp.EvalNodeConsuming(n, in, consumed)
	if err != nil {
		return nil, err
	}
	// Kernels may return views of their inputs (Reshape, Identity);
	// constants must not share storage, or a later rewrite of one would
	// silently change another. Copying only then matters: weight
	// generators produce hundreds of MB, and copying them all cost a
	// quarter of the pass's time.
	for i, t := range out {
		if t != nil && aliasesAny(t, in, consumed) {
			out[i] = t.Clone()
		}
	}
	return checkFolded(n, out)
}

// aliasesAny reports whether t's storage overlaps that of any of ins.
func aliasesAny(t *ir.Tensor, ins []*ir.Tensor, consumed []bool) bool {
	for i, in := range ins {
		if in != nil && !consumed[i] && (sameArray(t.F, in.F) || sameArray(t.I, in.I)) {
			return true
		}
	}
	return false
}

// sameArray reports whether a and b are slices of one backing array:
// reslicing keeps the end of the capacity, so both then end at the same
// last element. (A three-index slice expression could hide sharing;
// interp kernels reslice, which this catches.)
func sameArray[E any](a, b []E) bool {
	if cap(a) == 0 || cap(b) == 0 {
		return false
	}
	return &a[:cap(a)][cap(a)-1] == &b[:cap(b)][cap(b)-1]
}

// checkFolded makes sure the computed tensors have the types inference
// recorded; a mismatch is an interpreter or inference bug, reported as an
// error naming the node rather than silently changing types.
func checkFolded(n *ir.Node, out []*ir.Tensor) ([]*ir.Tensor, error) {
	for i, o := range n.Outputs {
		if o == nil {
			continue
		}
		if i >= len(out) || out[i] == nil {
			return nil, n.Errorf("interpreter computed no value for output %d (%q)", i, o.Name)
		}
		if err := out[i].Check(); err != nil {
			return nil, n.Errorf("interpreter result for output %q: %v", o.Name, err)
		}
		if !out[i].Type().Equal(o.Type) {
			return nil, n.Errorf("interpreter computed %s for output %q, inference says %s", out[i].Type(), o.Name, o.Type)
		}
	}
	return out, nil
}
