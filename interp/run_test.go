package interp

import (
	"math/rand"
	"runtime"
	"testing"

	"pimc/ir"
)

// tinyNet builds x → Conv → Relu → Conv (depthwise) → Relu → Conv 1×1 →
// Relu → Add (residual with the first Relu) → Relu → Sum (with the first
// two Relus) → Relu → MaxPool → BatchNormalization → GlobalAveragePool →
// Flatten → Gemm, with the 1×1 Conv's output also a graph output, so that
// one Conv→Relu pair must not be fused.
func tinyNet(t testing.TB, r *rand.Rand) *ir.Module {
	m := ir.NewModule("tiny")
	g := m.Graph
	x := &ir.Value{Name: "x", Type: ir.Type{DType: ir.Float32, Shape: sh(1, 8, 20, 20)}}
	g.Inputs = []*ir.Value{x}
	cst := func(name string, shape ...int64) *ir.Value {
		t := ft(shape, randFloats(r, int(ir.NumElems(shape)))...)
		v := &ir.Value{Name: name, Type: t.Type(), Const: t}
		g.Consts = append(g.Consts, v)
		return v
	}
	node := func(op ir.Op, attrs ir.Attrs, ins ...*ir.Value) *ir.Value {
		out := &ir.Value{Name: "v" + itoaTest(len(g.Nodes))}
		n := &ir.Node{Name: "n" + itoaTest(len(g.Nodes)), Op: op, Inputs: ins, Outputs: []*ir.Value{out}, Attrs: attrs}
		out.Def = n
		g.Nodes = append(g.Nodes, n)
		return out
	}
	c1 := node(ir.OpConv, ir.Attrs{"pads": ais(1, 1, 1, 1)}, x, cst("w1", 16, 8, 3, 3), cst("b1", 16))
	r1 := node(ir.OpRelu, nil, c1)
	c2 := node(ir.OpConv, ir.Attrs{"pads": ais(1, 1, 1, 1), "group": ai(16)}, r1, cst("w2", 16, 1, 3, 3), cst("b2", 16))
	r2 := node(ir.OpRelu, nil, c2)
	c3 := node(ir.OpConv, nil, r2, cst("w3", 16, 16, 1, 1))
	r3 := node(ir.OpRelu, nil, c3)
	a := node(ir.OpAdd, nil, r3, r1)
	ra := node(ir.OpRelu, nil, a)
	sm := node(ir.OpSum, nil, ra, r1, r2)
	rs := node(ir.OpRelu, nil, sm)
	p := node(ir.OpMaxPool, ir.Attrs{"kernel_shape": ais(3, 3), "strides": ais(2, 2), "ceil_mode": ai(1)}, rs)
	va := cst("va", 16)
	for i, v := range va.Const.F {
		va.Const.F[i] = v*v + 0.1 // a variance
	}
	bn := node(ir.OpBatchNorm, nil, p, cst("g", 16), cst("be", 16), cst("mu", 16), va)
	gp := node(ir.OpGlobalAvgPool, nil, bn)
	f := node(ir.OpFlatten, nil, gp)
	y := node(ir.OpGemm, ir.Attrs{"transB": ai(1)}, f, cst("fc", 10, 16), cst("fcb", 10))
	g.Outputs = []*ir.Value{y, c3}
	if err := ir.InferTypes(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func itoaTest(i int) string { return fmtShape(i) }

// evalChain runs the module node by node through EvalNode (no fusion, no
// caching): the reference for Run and Session.
func evalChain(t testing.TB, m *ir.Module, in []*ir.Tensor) []*ir.Tensor {
	env := map[*ir.Value]*ir.Tensor{}
	for i, v := range m.Graph.Inputs {
		env[v] = in[i]
	}
	for _, v := range m.Graph.Consts {
		env[v] = v.Const
	}
	for _, n := range m.Graph.Nodes {
		var ts []*ir.Tensor
		for _, v := range n.Inputs {
			ts = append(ts, env[v])
		}
		out, err := EvalNode(n, ts)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range n.Outputs {
			env[v] = out[i]
		}
	}
	var res []*ir.Tensor
	for _, v := range m.Graph.Outputs {
		res = append(res, env[v])
	}
	return res
}

func identical(t *testing.T, what string, got, want []*ir.Tensor) {
	t.Helper()
	for i := range want {
		if !got[i].Type().Equal(want[i].Type()) {
			t.Fatalf("%s: output %d is %s, want %s", what, i, got[i].Type(), want[i].Type())
		}
		for j := range want[i].F {
			if got[i].F[j] != want[i].F[j] {
				t.Fatalf("%s: output %d[%d] = %g, want %g", what, i, j, got[i].F[j], want[i].F[j])
			}
		}
	}
}

// Run, Session.Run (fused Conv→Relu, cached weights) and node-by-node
// evaluation agree bit for bit, with 1 or 2 workers.
func TestRunMatchesEvalNode(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	m := tinyNet(t, r)
	if p := newPlan(m); len(p.relu) != 4 {
		t.Fatalf("fused %d Conv/Add/Sum→Relu pairs, want 4", len(p.relu))
	}
	in := []*ir.Tensor{ft(sh(1, 8, 20, 20), randFloats(r, 8*400)...)}
	want := evalChain(t, m, in)
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		got, err := Run(m, in)
		if err != nil {
			t.Fatal(err)
		}
		identical(t, "Run", got, want)
		s := NewSession(m)
		for k := 0; k < 2; k++ {
			got, err = s.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			identical(t, "Session.Run", got, want)
		}
		runtime.GOMAXPROCS(prev)
	}
}

func TestRunErrors(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	m := tinyNet(t, r)
	if _, err := Run(m, nil); err == nil {
		t.Error("no error for a missing input")
	}
	if _, err := Run(m, []*ir.Tensor{ft(sh(1, 8, 20, 19), make([]float32, 8*380)...)}); err == nil {
		t.Error("no error for a wrongly shaped input")
	}
}
