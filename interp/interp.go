// Package interp is pimc's FP32 reference interpreter: it executes an IR
// module op by op with ONNX semantics. Constant folding uses it too, so an
// op folds exactly as it would run.
//
// Layering: interp imports only ir.
package interp

import (
	"fmt"
	"slices"
	"sort"

	"pimc/ir"
)

// Kernel computes one node's outputs from its input tensors (nil entries
// for omitted optional inputs; the slice is padded with nils up to the
// op's maximum arity). n is bound by EvalNode: its inputs are constants
// holding the tensors and its outputs carry the inferred types. Kernels
// must not modify their inputs and must return fresh tensors.
type Kernel func(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error)

var kernels = map[ir.Op]Kernel{}

// runKernels are variants used when a module is run (Run, Session.Run):
// they can reuse prepared weight layouts and apply a fused activation
// (see runOpts). EvalNode uses the plain Kernel.
var runKernels = map[ir.Op]func(o runOpts, n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error){}

// runOpts are the extras a run kernel may use.
type runOpts struct {
	wc   *weightCache // may be nil: no caching
	ar   *arena       // may be nil: no recycling
	relu bool         // apply Relu to the output (a fused Relu node)
}

func register(op ir.Op, k Kernel) {
	if _, dup := kernels[op]; dup {
		panic("BUG: kernel registered twice for " + op.String())
	}
	kernels[op] = k
}

// Supported reports whether the interpreter has a kernel for op.
func Supported(op ir.Op) bool { _, ok := kernels[op]; return ok }

// Unsupported lists the nodes of m whose op has no kernel, as
// "name (Op)" strings in graph order.
func Unsupported(m *ir.Module) []string {
	var out []string
	for _, n := range m.Graph.Nodes {
		if !Supported(n.Op) {
			out = append(out, fmt.Sprintf("%q (%s)", n.Name, n.Op))
		}
	}
	return out
}

// EvalNode runs one node on the given input tensors (nil for omitted
// optional inputs). The node's outputs get the dtype and shape that ir
// shape inference derives from these inputs; the tensors returned are
// fresh (never aliases of the inputs).
func EvalNode(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	return evalNode(nil, n, in)
}

func evalNode(o *runOpts, n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	k, ok := kernels[n.Op]
	if !ok {
		return nil, n.Errorf("operator not supported by the interpreter")
	}
	info := n.Op.Info()
	if len(in) < info.MinIn || (info.MaxIn >= 0 && len(in) > info.MaxIn) {
		return nil, n.Errorf("got %d inputs, want %d to %d", len(in), info.MinIn, info.MaxIn)
	}
	for i, t := range in {
		if t == nil {
			if i < info.MinIn || info.MaxIn < 0 {
				return nil, n.Errorf("required input %d is missing", i)
			}
			continue
		}
		if err := t.Check(); err != nil {
			return nil, n.Errorf("input %d: %v", i, err)
		}
	}
	if info.MaxIn > len(in) {
		in = append(append(make([]*ir.Tensor, 0, info.MaxIn), in...), make([]*ir.Tensor, info.MaxIn-len(in))...)
	}
	if err := checkClasses(n, in); err != nil {
		return nil, n.Errorf("%v", err)
	}
	b := bind(n, in)
	if err := ir.InferNode(b); err != nil {
		return nil, err
	}
	for i, v := range b.Outputs {
		if v != nil {
			if err := checkShape(v.Type.Shape); err != nil {
				return nil, n.Errorf("output %d: %v", i, err)
			}
		}
	}
	var out []*ir.Tensor
	var err error
	if rk := runKernels[n.Op]; rk != nil && o != nil {
		out, err = rk(*o, b, in)
	} else {
		out, err = k(b, in)
	}
	if err != nil {
		return nil, n.Errorf("%v", err)
	}
	for i, v := range b.Outputs {
		if v == nil {
			continue
		}
		if i >= len(out) || out[i] == nil {
			return nil, n.Errorf("BUG: kernel did not produce output %d", i)
		}
		if !out[i].Type().Equal(v.Type) {
			return nil, n.Errorf("BUG: kernel produced %s for output %d, shape inference says %s", out[i].Type(), i, v.Type)
		}
	}
	return out, nil
}

// bind returns a copy of n whose inputs are constants holding in, and
// whose outputs are fresh values, so that ir's resolvers (ResolveSlice,
// PadAmounts, ...) and shape inference see the actual runtime inputs and
// n itself is not modified.
func bind(n *ir.Node, in []*ir.Tensor) *ir.Node {
	b := *n
	b.Inputs = make([]*ir.Value, len(in))
	for i, t := range in {
		if t != nil {
			name := ""
			if i < len(n.Inputs) && n.Inputs[i] != nil {
				name = n.Inputs[i].Name
			}
			b.Inputs[i] = &ir.Value{Name: name, Type: t.Type(), Const: t}
		}
	}
	b.Outputs = make([]*ir.Value, len(n.Outputs))
	for i, o := range n.Outputs {
		if o != nil {
			b.Outputs[i] = &ir.Value{Name: o.Name}
		}
	}
	return &b
}

// newOut allocates output i of a bound node with its inferred type.
func newOut(n *ir.Node, i int) *ir.Tensor {
	t := n.Outputs[i].Type
	return ir.NewTensor(t.DType, t.Shape...)
}

// Run executes m on inputs given in graph-input order and returns the
// outputs in graph-output order. Intermediate tensors are released after
// their last use. To run a module many times, a Session is faster.
func Run(m *ir.Module, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	return run(m, nil, newArena(), newPlan(m), inputs)
}

// Session runs one module repeatedly. It keeps the convolution weights of
// the module's constants in the layout the GEMM kernel reads, so later
// runs skip that repacking, as an inference runtime prepares its weights
// once per session. The module and its constants must not change while
// the session is in use; Run may be called from several goroutines.
type Session struct {
	m    *ir.Module
	wc   *weightCache
	ar   *arena
	plan plan
}

// NewSession prepares a session for m.
func NewSession(m *ir.Module) *Session {
	wc := &weightCache{consts: map[*ir.Tensor]bool{}, packed: map[packKey][]float32{}}
	for _, v := range m.Graph.Consts {
		if v.Const != nil {
			wc.consts[v.Const] = true
		}
	}
	return &Session{m: m, wc: wc, ar: newArena(), plan: newPlan(m)}
}

// Run executes the session's module (see the package-level Run).
func (s *Session) Run(inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	return run(s.m, s.wc, s.ar, s.plan, inputs)
}

// plan records node fusions for running a module: a float Conv, Add or Sum
// whose only reader is a Relu applies the Relu itself (the Conv in its
// GEMM epilogue, while the tile is still in registers). The result is
// bit-identical: the same max(x, 0) of the same value.
type plan struct {
	relu     map[*ir.Node]*ir.Node // Conv, Add or Sum → the Relu it absorbs
	absorbed map[*ir.Node]bool
}

func newPlan(m *ir.Module) plan {
	g := m.Graph
	p := plan{relu: map[*ir.Node]*ir.Node{}, absorbed: map[*ir.Node]bool{}}
	users := g.Users()
	for _, n := range g.Nodes {
		if (n.Op != ir.OpConv && n.Op != ir.OpAdd && n.Op != ir.OpSum) || len(n.Outputs) != 1 || n.Outputs[0] == nil {
			continue
		}
		v := n.Outputs[0]
		if !v.Type.DType.IsFloat() {
			continue
		}
		if u := users[v]; len(u) == 1 && u[0].Op == ir.OpRelu && !g.IsOutput(v) && len(u[0].Outputs) == 1 {
			p.relu[n] = u[0]
			p.absorbed[u[0]] = true
		}
	}
	return p
}

func run(m *ir.Module, wc *weightCache, ar *arena, p plan, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	g := m.Graph
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("model %q takes %d inputs, got %d", m.Name, len(g.Inputs), len(inputs))
	}
	if bad := Unsupported(m); len(bad) > 0 {
		sort.Strings(bad)
		return nil, fmt.Errorf("model %q: %d nodes use operators the interpreter does not support: %v", m.Name, len(bad), bad)
	}
	env := map[*ir.Value]*ir.Tensor{}
	for i, v := range g.Inputs {
		t := inputs[i]
		if err := t.Check(); err != nil {
			return nil, fmt.Errorf("input %d (%q): %w", i, v.Name, err)
		}
		if t.DType != v.Type.DType || !slices.Equal(t.Shape, v.Type.Shape) {
			return nil, fmt.Errorf("input %d (%q) is %s, model expects %s", i, v.Name, t.Type(), v.Type)
		}
		env[v] = t
	}
	for _, v := range g.Consts {
		env[v] = v.Const
	}
	last := map[*ir.Value]int{}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil {
				last[in] = i
			}
		}
	}
	keep := map[*ir.Value]bool{}
	for _, o := range g.Outputs {
		keep[o] = true
	}
	for i, n := range g.Nodes {
		if p.absorbed[n] {
			continue
		}
		in := make([]*ir.Tensor, len(n.Inputs))
		for j, v := range n.Inputs {
			if v != nil {
				in[j] = env[v]
				if in[j] == nil {
					return nil, n.Errorf("input %d (%q) has no value", j, v.Name)
				}
			}
		}
		o := runOpts{wc: wc, ar: ar}
		outs := n.Outputs
		if r := p.relu[n]; r != nil {
			o.relu, outs = true, r.Outputs
		}
		out, err := evalNode(&o, n, in)
		if err != nil {
			return nil, err
		}
		for j, v := range outs {
			if v != nil && j < len(out) {
				if v.Type.DType != ir.Undefined && !out[j].Type().Equal(v.Type) {
					return nil, n.Errorf("output %d (%q) is %s at run time, the graph says %s", j, v.Name, out[j].Type(), v.Type)
				}
				env[v] = out[j]
			}
		}
		for _, v := range n.Inputs {
			if v != nil && last[v] == i && !keep[v] && v.Const == nil {
				// Dead: a computed intermediate's buffer is recycled
				// (graph inputs belong to the caller).
				if t := env[v]; t != nil && v.Def != nil && t.DType == ir.Float32 {
					ar.put(t.F)
				}
				delete(env, v)
			}
		}
	}
	res := make([]*ir.Tensor, len(g.Outputs))
	computed := map[*ir.Tensor]bool{}
	for i, o := range g.Outputs {
		res[i] = env[o]
		if res[i] == nil {
			return nil, fmt.Errorf("graph output %q was not computed", o.Name)
		}
		// An output that is a constant or an input, or that appears
		// twice, is copied: callers own what Run returns.
		if o.Const != nil || o.Def == nil || computed[res[i]] {
			res[i] = res[i].Clone()
		}
		computed[res[i]] = true
	}
	return res, nil
}

// maxElems bounds an output's size: beyond it a shape is almost surely
// corrupt, and allocating it would crash the process instead of failing.
const maxElems = 1 << 34

// checkShape rejects a negative or absurdly large inferred shape.
func checkShape(s []int64) error {
	n := int64(1)
	for _, d := range s {
		if d < 0 {
			return fmt.Errorf("shape %v has a negative dim", s)
		}
		if d > 0 && n > maxElems/d {
			return fmt.Errorf("shape %v has more than %d elements", s, int64(maxElems))
		}
		n *= d
	}
	return nil
}

// EvalNodeConsuming is EvalNode for a caller that will never read in[i]
// again where consumable[i] is true: an elementwise Add/Sub/Mul/Div may
// then write its result into that input's storage instead of allocating.
// Constant folding uses it so that weight generators (Tile → Slice → Mul →
// Add over tens of millions of elements) do not allocate a buffer per step.
func EvalNodeConsuming(n *ir.Node, in []*ir.Tensor, consumable []bool) ([]*ir.Tensor, error) {
	switch n.Op {
	case ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv:
		out := n.Out(0)
		if len(in) == 2 && len(consumable) > 0 && consumable[0] && in[0] != nil && in[1] != nil && out != nil &&
			in[0].DType.IsFloat() && in[0].DType == out.Type.DType && in[1].DType == in[0].DType &&
			slices.Equal(in[0].Shape, out.Type.Shape) && in[0].Check() == nil && in[1].Check() == nil {
			if err := applyBinary(n.Op, in[0], in[0], in[1]); err != nil {
				return nil, n.Errorf("%v", err)
			}
			return []*ir.Tensor{in[0]}, nil
		}
	}
	return EvalNode(n, in)
}
