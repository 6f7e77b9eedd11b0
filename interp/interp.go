// Package interp is pimc's FP32 reference interpreter: it executes an IR
// module op by op with ONNX semantics. Constant folding uses it too, so an
// op folds exactly as it would run.
//
// Layering: interp imports only ir.
package interp

import (
	"fmt"
	"sort"

	"pimc/ir"
)

// Kernel computes one node's outputs from its input tensors (nil entries
// for omitted optional inputs). Kernels must not modify their inputs.
type Kernel func(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error)

var kernels = map[ir.Op]Kernel{}

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

// EvalNode runs one node.
func EvalNode(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	k, ok := kernels[n.Op]
	if !ok {
		return nil, n.Errorf("operator not supported by the interpreter")
	}
	out, err := k(n, in)
	if err != nil {
		return nil, n.Errorf("%v", err)
	}
	return out, nil
}

// Run executes m on inputs given in graph-input order and returns the
// outputs in graph-output order. Intermediate tensors are released after
// their last use.
func Run(m *ir.Module, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
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
		if t.DType != v.Type.DType || !sameShape(t.Shape, v.Type.Shape) {
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
		in := make([]*ir.Tensor, len(n.Inputs))
		for j, v := range n.Inputs {
			if v != nil {
				in[j] = env[v]
			}
		}
		out, err := EvalNode(n, in)
		if err != nil {
			return nil, err
		}
		for j, v := range n.Outputs {
			if v != nil && j < len(out) {
				env[v] = out[j]
			}
		}
		for _, v := range n.Inputs {
			if v != nil && last[v] == i && !keep[v] && v.Const == nil {
				delete(env, v)
			}
		}
	}
	res := make([]*ir.Tensor, len(g.Outputs))
	for i, o := range g.Outputs {
		res[i] = env[o]
		if res[i] == nil {
			return nil, fmt.Errorf("graph output %q was not computed", o.Name)
		}
	}
	return res, nil
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
