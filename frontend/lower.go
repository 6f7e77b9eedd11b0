package frontend

import (
	"fmt"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

// nodeCtx is one ONNX node on its way into the IR. Normalisers (canon.go)
// consume the attributes they understand, rewrite inputs, and emit one or
// more IR nodes; whatever attribute is left when a node is emitted must be
// one the IR op declares.
type nodeCtx struct {
	im      *importer
	name    string // IR name of the node
	op      string // ONNX op_type
	domain  string // "" = ai.onnx
	opset   int64  // the model's opset for domain
	attrs   ir.Attrs
	inputs  []*ir.Value // nil = omitted optional input
	outputs []string    // ONNX output names, "" = omitted
}

func (c *nodeCtx) errorf(format string, args ...any) error {
	return fmt.Errorf("node %q (%s): "+format, append([]any{c.name, c.op}, args...)...)
}

// in returns input i or nil.
func (c *nodeCtx) in(i int) *ir.Value {
	if i < len(c.inputs) {
		return c.inputs[i]
	}
	return nil
}

// need returns input i, failing when it is absent.
func (c *nodeCtx) need(i int) (*ir.Value, error) {
	if v := c.in(i); v != nil {
		return v, nil
	}
	return nil, c.errorf("input %d is missing", i)
}

func (im *importer) lowerNode(index int, np *onnxpb.NodeProto) error {
	c := &nodeCtx{
		im:      im,
		name:    im.names[index],
		op:      np.GetOpType(),
		domain:  canonDomain(np.GetDomain()),
		outputs: append([]string{}, np.GetOutput()...),
	}
	c.opset = im.opsets[c.domain]
	attrs, err := decodeAttrs(np.GetAttribute(), im.dec)
	if err != nil {
		return c.errorf("%w", err)
	}
	c.attrs = attrs
	for _, name := range np.GetInput() {
		if name == "" {
			c.inputs = append(c.inputs, nil)
			continue
		}
		c.inputs = append(c.inputs, im.values[name]) // nodeOrder checked it exists
	}
	seen := map[string]bool{}
	for _, o := range c.outputs {
		if o != "" && seen[o] {
			return c.errorf("output %q is listed twice", o)
		}
		seen[o] = true
	}
	if c.domain == "" && c.opset < 6 {
		// consumed_inputs was an in-place memory hint of opset 1, removed
		// in opset 6; it never changed results.
		delete(c.attrs, "consumed_inputs")
	}
	if f, ok := normalizers[c.op]; ok && c.domain == "" {
		return f(c)
	}
	return c.emitSelf()
}

// emitSelf emits the node as the IR op of the same name.
func (c *nodeCtx) emitSelf() error {
	op, ok := ir.LookupOp(c.domain, c.op)
	if !ok {
		return c.errorf("operator is not supported")
	}
	_, err := c.emit(op, c.name, c.inputs, c.attrs, c.outputs)
	return err
}

// emit builds one IR node named name, checks it against the op table,
// infers its output types, and either folds it to constants (fold.go) or
// appends it to the graph. outNames are the names of the outputs to
// create ("" = omitted); ONNX names become resolvable by later nodes.
func (c *nodeCtx) emit(op ir.Op, name string, inputs []*ir.Value, attrs ir.Attrs, outNames []string) ([]*ir.Value, error) {
	for len(inputs) > 0 && inputs[len(inputs)-1] == nil {
		inputs = inputs[:len(inputs)-1]
	}
	for len(outNames) > 0 && outNames[len(outNames)-1] == "" {
		outNames = outNames[:len(outNames)-1]
	}
	n := &ir.Node{Name: name, Op: op, Inputs: inputs, Attrs: attrs}
	if err := checkNode(n, len(outNames)); err != nil {
		return nil, c.errorf("%w", err)
	}
	n.Outputs = make([]*ir.Value, len(outNames))
	for i, o := range outNames {
		if o != "" {
			n.Outputs[i] = &ir.Value{Name: o, Def: n}
		}
	}
	if err := ir.InferNode(n); err != nil {
		return nil, err
	}
	for _, o := range n.Outputs {
		if o == nil {
			continue
		}
		if _, err := numElems(o.Type.Shape); err != nil {
			return nil, fmt.Errorf("%s: output %q: %w", n.Where(), o.Name, err)
		}
	}
	folded, err := foldNode(n)
	if err != nil {
		return nil, err
	}
	g := c.im.m.Graph
	if folded != nil {
		for i, o := range n.Outputs {
			if o == nil {
				continue
			}
			t := folded[i]
			if !o.Type.Equal(t.Type()) || t.Check() != nil {
				panic(fmt.Sprintf("BUG: folding %s gave %s, inference %s", n.Where(), t.Type(), o.Type))
			}
			o.Def, o.Const = nil, t
			g.Consts = append(g.Consts, o)
		}
	} else {
		g.Nodes = append(g.Nodes, n)
	}
	for _, o := range n.Outputs {
		if o != nil {
			c.im.values[o.Name] = o
		}
	}
	return n.Outputs, nil
}

// checkNode checks arity and attributes against the op table before shape
// inference runs, which assumes both are right.
func checkNode(n *ir.Node, outs int) error {
	info := n.Op.Info()
	if len(n.Inputs) < info.MinIn || (info.MaxIn >= 0 && len(n.Inputs) > info.MaxIn) {
		return fmt.Errorf("%d inputs, %s takes %s", len(n.Inputs), n.Op, arity(info.MinIn, info.MaxIn))
	}
	for i, in := range n.Inputs {
		if in == nil && (i < info.MinIn || info.MaxIn < 0) {
			return fmt.Errorf("input %d is missing", i)
		}
	}
	if outs < info.MinOut || (info.MaxOut >= 0 && outs > info.MaxOut) {
		return fmt.Errorf("%d outputs, %s gives %s", outs, n.Op, arity(info.MinOut, info.MaxOut))
	}
	for name, a := range n.Attrs {
		spec, ok := info.Attrs[name]
		if !ok {
			return fmt.Errorf("attribute %q is not supported", name)
		}
		if spec.Kind != a.Kind {
			return fmt.Errorf("attribute %q is %s, want %s", name, a.Kind, spec.Kind)
		}
	}
	for name, spec := range info.Attrs {
		if spec.Required && !n.Has(name) {
			return fmt.Errorf("required attribute %q is missing", name)
		}
	}
	if err := checkAttrSanity(n); err != nil {
		return err
	}
	return nil
}

// checkAttrSanity rejects attribute values that shape inference would
// mishandle (overflowing arithmetic on absurd values).
func checkAttrSanity(n *ir.Node) error {
	const limit = 1 << 20
	switch n.Op {
	case ir.OpDepthToSpace, ir.OpSpaceToDepth:
		if b := n.Int("blocksize", 0); b <= 0 || b > limit {
			return fmt.Errorf("blocksize %d is out of range", b)
		}
	}
	return nil
}

func arity(lo, hi int) string {
	switch {
	case hi < 0:
		return fmt.Sprintf("at least %d", lo)
	case lo == hi:
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

// takeInt removes an int attribute; ok reports whether it was present.
func (c *nodeCtx) takeInt(name string) (v int64, ok bool, err error) {
	a, ok := c.attrs[name]
	if !ok {
		return 0, false, nil
	}
	delete(c.attrs, name)
	if a.Kind != ir.AttrInt {
		return 0, true, c.errorf("attribute %q is %s, want int", name, a.Kind)
	}
	return a.Int, true, nil
}

// takeInts removes an ints attribute.
func (c *nodeCtx) takeInts(name string) (v []int64, ok bool, err error) {
	a, ok := c.attrs[name]
	if !ok {
		return nil, false, nil
	}
	delete(c.attrs, name)
	if a.Kind != ir.AttrInts {
		return nil, true, c.errorf("attribute %q is %s, want ints", name, a.Kind)
	}
	return a.Ints, true, nil
}

// takeFloat removes a float attribute.
func (c *nodeCtx) takeFloat(name string) (v float32, ok bool, err error) {
	a, ok := c.attrs[name]
	if !ok {
		return 0, false, nil
	}
	delete(c.attrs, name)
	if a.Kind != ir.AttrFloat {
		return 0, true, c.errorf("attribute %q is %s, want float", name, a.Kind)
	}
	return a.Float, true, nil
}

// newConst adds a constant named after the node and its role.
func (c *nodeCtx) newConst(role string, t *ir.Tensor) *ir.Value {
	v := &ir.Value{Name: c.im.freshValue(c.name + "/" + role), Type: t.Type(), Const: t}
	c.im.m.Graph.Consts = append(c.im.m.Graph.Consts, v)
	return v
}

// helper emits an auxiliary single-output node of a rewrite, named after
// the ONNX node and role, and returns its output.
func (c *nodeCtx) helper(op ir.Op, role string, inputs []*ir.Value, attrs ir.Attrs) (*ir.Value, error) {
	name := c.im.freshNode(c.name + "/" + role)
	outs, err := c.emit(op, name, inputs, attrs, []string{c.im.freshValue(c.name + "/" + role)})
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

func int64Tensor(vals ...int64) *ir.Tensor {
	return ir.IntTensor(ir.Int64, append([]int64{}, vals...), int64(len(vals)))
}

func intAttr(v int64) *ir.Attr { return &ir.Attr{Kind: ir.AttrInt, Int: v} }
