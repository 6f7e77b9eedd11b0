package ir

// Clone copies the module's graph structure (values, nodes, attribute
// maps) so that passes on the copy leave the original untouched. Constant
// tensors are shared, not copied: passes replace constants rather than
// write into them, and weights are the bulk of a model. Meta is copied
// shallowly, so stage results recorded before the clone (e.g. a
// calibration) are visible to both.
func (m *Module) Clone() *Module {
	c := &Module{Name: m.Name, Producer: m.Producer, Level: m.Level, nameSeq: m.nameSeq,
		Opsets: map[string]int64{}, Bindings: map[string]int64{}, Graph: &Graph{}}
	for k, v := range m.Opsets {
		c.Opsets[k] = v
	}
	for k, v := range m.Bindings {
		c.Bindings[k] = v
	}
	if m.Meta != nil {
		c.Meta = make(map[string]any, len(m.Meta))
		for k, v := range m.Meta {
			c.Meta[k] = v
		}
	}
	vals := map[*Value]*Value{}
	cp := func(v *Value) *Value {
		if v == nil {
			return nil
		}
		if n, ok := vals[v]; ok {
			return n
		}
		n := &Value{Name: v.Name, Const: v.Const, Type: Type{DType: v.Type.DType,
			Shape: append([]int64(nil), v.Type.Shape...), Dims: append([]string(nil), v.Type.Dims...)}}
		vals[v] = n
		return n
	}
	g := m.Graph
	for _, v := range g.Inputs {
		c.Graph.Inputs = append(c.Graph.Inputs, cp(v))
	}
	for _, v := range g.Consts {
		c.Graph.Consts = append(c.Graph.Consts, cp(v))
	}
	for _, n := range g.Nodes {
		nn := &Node{Name: n.Name, Op: n.Op, Engine: n.Engine, Precision: n.Precision}
		if n.Attrs != nil {
			nn.Attrs = make(Attrs, len(n.Attrs))
			for k, a := range n.Attrs {
				nn.Attrs[k] = a
			}
		}
		for _, in := range n.Inputs {
			nn.Inputs = append(nn.Inputs, cp(in))
		}
		for _, o := range n.Outputs {
			no := cp(o)
			if no != nil {
				no.Def = nn
			}
			nn.Outputs = append(nn.Outputs, no)
		}
		c.Graph.Nodes = append(c.Graph.Nodes, nn)
	}
	for _, v := range g.Outputs {
		c.Graph.Outputs = append(c.Graph.Outputs, cp(v))
	}
	return c
}
