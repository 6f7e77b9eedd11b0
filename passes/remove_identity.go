package passes

import "pimc/ir"

// RemoveIdentity ("remove-identity") deletes Identity nodes and
// inference-mode Dropout nodes, making their readers read the input
// directly. When the removed node's output is a graph output, the input
// value takes over the output's name, so the model's interface is
// unchanged; the node is kept only where that is impossible (its input is
// itself a graph input or graph output, whose name must not change).
//
// In inference mode Dropout's mask is all true, so a mask that is read
// becomes a constant. A Dropout whose training_mode input is true or not a
// constant is an error: pimc compiles for inference only and cannot
// reproduce a random mask.
//
// Prerequisites: none (fold-constants first makes training_mode constant
// where it is computed).
func RemoveIdentity(m *ir.Module) error {
	g := m.Graph
	users := g.Users()
	dead := map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		switch n.Op {
		case ir.OpIdentity:
		case ir.OpDropout:
			if err := checkInferenceDropout(g, users, n); err != nil {
				return err
			}
		default:
			continue
		}
		if mask := n.Out(1); mask != nil && (len(users[mask]) > 0 || g.IsOutput(mask)) {
			ones := ir.NewTensor(ir.Bool, mask.Type.Shape...)
			for i := range ones.I {
				ones.I[i] = 1
			}
			c := &ir.Value{Name: mask.Name, Type: ones.Type(), Const: ones}
			g.Consts = append(g.Consts, c)
			g.Replace(mask, c)
			n.Outputs = n.Outputs[:1]
		}
		x, y := n.In(0), n.Out(0)
		if g.IsOutput(y) && (isInput(g, x) || g.IsOutput(x)) {
			continue
		}
		g.Replace(y, x)
		dead[n] = true
	}
	removeNodes(g, dead)
	dropUnusedConsts(g) // Dropout's ratio and training_mode
	return nil
}

func checkInferenceDropout(g *ir.Graph, users map[*ir.Value][]*ir.Node, n *ir.Node) error {
	tm := n.In(2)
	if tm == nil {
		return nil
	}
	if !tm.IsConst() || tm.Const.Len() != 1 {
		return n.Errorf("training_mode input %q is not a constant scalar; pimc compiles for inference only", tm.Name)
	}
	if tm.Const.Float(0) != 0 {
		return n.Errorf("training_mode is true; pimc compiles for inference only")
	}
	return nil
}

func isInput(g *ir.Graph, v *ir.Value) bool {
	for _, in := range g.Inputs {
		if in == v {
			return true
		}
	}
	return false
}
