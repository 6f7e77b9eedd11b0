package passes

import "pimc/ir"

// LowerSum ("lower-sum") rewrites the variadic Sum into a chain of binary
// Adds (a one-input Sum becomes its input), so that later stages see one
// form of elementwise addition: residual connections exported at opset
// < 8 (ResNet-50 from the model zoo) use Sum.
//
// Prerequisites: none.
func LowerSum(m *ir.Module) error {
	g := m.Graph
	var out []*ir.Node
	for _, n := range g.Nodes {
		if n.Op != ir.OpSum {
			out = append(out, n)
			continue
		}
		y := n.Out(0)
		if len(n.Inputs) == 1 {
			if g.IsOutput(y) && (isInput(g, n.In(0)) || g.IsOutput(n.In(0))) {
				out = append(out, n) // keeps the interface's names
				continue
			}
			g.Replace(y, n.In(0))
			continue
		}
		acc := n.In(0)
		for i := 1; i < len(n.Inputs); i++ {
			add := &ir.Node{Name: n.Name, Op: ir.OpAdd, Inputs: []*ir.Value{acc, n.Inputs[i]}}
			if i < len(n.Inputs)-1 {
				add.Name = m.FreshName(n.Name)
				add.Outputs = []*ir.Value{{Name: m.FreshName(y.Name), Def: add}}
			} else {
				add.Outputs = []*ir.Value{y}
				y.Def = add
			}
			if err := ir.InferNode(add); err != nil {
				return err
			}
			out = append(out, add)
			acc = add.Outputs[0]
		}
	}
	g.Nodes = out
	return nil
}
