package passes

import (
	"math"
	"slices"

	"pimc/ir"
)

// FoldPad ("fold-pad") folds a constant-mode Pad that pads only spatial
// dims (never batch or channels, never negative) into the pads attribute
// of its readers, adding to the pads they already have, when every reader
// takes the Pad's output as its data input and is one of:
//
//   - Conv, when the pad value is 0;
//   - AveragePool with count_include_pad=1, when the pad value is 0 (the
//     padded zeros then count exactly as the explicit ones did);
//   - MaxPool without an indices output, when the pad value is -inf.
//
// Pools with ceil_mode=1 are left alone: their output size depends on
// where the input ends, which moves when padding becomes implicit. The
// readers' auto_pad must be NOTSET (run resolve-auto-pad first), since
// explicit pads cannot be added to SAME_*.
//
// Processing runs backwards through the graph so that a chain of Pads
// folds completely in one run.
//
// Prerequisites: fold-constants (pads and value must be constants),
// resolve-auto-pad.
func FoldPad(m *ir.Module) error {
	g := m.Graph
	users := g.Users()
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		if n.Op != ir.OpPad {
			continue
		}
		if foldPad(g, users, n) {
			// The readers now read the Pad's input: drop the Pad and
			// refresh users so that an earlier Pad feeding this one
			// sees them. Nodes before i keep their indices.
			g.Nodes = slices.Delete(g.Nodes, i, i+1)
			users = g.Users()
		}
	}
	dropUnusedConsts(g)
	return nil
}

func foldPad(g *ir.Graph, users map[*ir.Value][]*ir.Node, pad *ir.Node) bool {
	if pad.Str("mode", "constant") != "constant" {
		return false
	}
	x, y := pad.In(0), pad.Out(0)
	rank := x.Type.Rank()
	if rank < 3 || g.IsOutput(y) || len(users[y]) == 0 {
		return false
	}
	amounts, err := ir.PadAmounts(pad, rank)
	if err != nil {
		return false
	}
	for i, a := range amounts {
		if a < 0 || a != 0 && i%rank < 2 {
			return false
		}
	}
	value := 0.0
	if v := pad.In(2); v != nil {
		var ok bool
		if value, ok = scalarConst(v); !ok {
			return false
		}
	}
	for _, u := range users[y] {
		if !padFoldsInto(g, users, u, y, value, amounts) {
			return false
		}
	}
	sp := rank - 2
	for _, u := range users[y] {
		if u.In(0) != y {
			continue // already rewritten (a reader listed twice)
		}
		pads := append([]int64{}, u.IntList("pads", make([]int64, 2*sp))...)
		for d := range sp {
			pads[d] += amounts[2+d]
			pads[sp+d] += amounts[rank+2+d]
		}
		u.SetInts("pads", pads)
		u.Inputs[0] = x
	}
	return true
}

// padFoldsInto reports whether reader u can absorb a Pad producing y with
// the given pad value and amounts.
func padFoldsInto(g *ir.Graph, users map[*ir.Value][]*ir.Node, u *ir.Node, y *ir.Value, value float64, amounts []int64) bool {
	for i, in := range u.Inputs {
		if in == y && i != 0 {
			return false // y is also a weight or bias here
		}
	}
	if ap := u.Str("auto_pad", "NOTSET"); ap != "NOTSET" && ap != "" {
		return false
	}
	switch u.Op {
	case ir.OpConv:
		return value == 0
	case ir.OpAveragePool:
		return value == 0 && u.Int("count_include_pad", 0) == 1 && u.Int("ceil_mode", 0) == 0
	case ir.OpMaxPool:
		idx := u.Out(1)
		return math.IsInf(value, -1) && u.Int("ceil_mode", 0) == 0 && (idx == nil || len(users[idx]) == 0 && !g.IsOutput(idx)) &&
			padsInsideKernel(u, amounts)
	}
	return false
}

// padsInsideKernel reports whether, after folding, every pool pad stays
// smaller than the kernel's extent, so no window lies wholly in the
// padding: explicit -inf padding gives -inf there, while runtimes
// differ on what an implicitly padded MaxPool gives (ONNX Runtime's is
// the lowest finite float).
func padsInsideKernel(u *ir.Node, amounts []int64) bool {
	rank := len(amounts) / 2
	sp := rank - 2
	kernel := u.IntList("kernel_shape", nil)
	dil := u.IntList("dilations", nil)
	own := u.IntList("pads", make([]int64, 2*sp))
	if len(kernel) != sp || len(own) != 2*sp {
		return false
	}
	for d := range sp {
		ek := kernel[d]
		if d < len(dil) {
			ek = (kernel[d]-1)*dil[d] + 1
		}
		if own[d]+amounts[2+d] >= ek || own[sp+d]+amounts[rank+2+d] >= ek {
			return false
		}
	}
	return true
}
