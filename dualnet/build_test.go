package dualnet

import (
	"math/rand/v2"
	"testing"

	"pimc/ir"
)

// gb builds small float graphs by hand for tests.
type gb struct {
	t   *testing.T
	m   *ir.Module
	rng *rand.Rand
}

func newGB(t *testing.T, name string) *gb {
	return &gb{t: t, m: ir.NewModule(name), rng: rand.New(rand.NewPCG(7, 11))}
}

func (b *gb) input(name string, shape ...int64) *ir.Value {
	v := &ir.Value{Name: name, Type: ir.Type{DType: ir.Float32, Shape: shape}}
	b.m.Graph.Inputs = append(b.m.Graph.Inputs, v)
	return v
}

func (b *gb) randConst(name string, scale float64, shape ...int64) *ir.Value {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.F {
		t.F[i] = float32(b.rng.NormFloat64() * scale)
	}
	return b.m.AddConst(name, t)
}

func (b *gb) node(op ir.Op, name string, ins []*ir.Value, set func(n *ir.Node)) *ir.Value {
	n := &ir.Node{Name: name, Op: op, Inputs: ins}
	o := &ir.Value{Name: name + "_out", Def: n}
	n.Outputs = []*ir.Value{o}
	if set != nil {
		set(n)
	}
	if err := ir.InferNode(n); err != nil {
		b.t.Fatal(err)
	}
	b.m.Graph.Nodes = append(b.m.Graph.Nodes, n)
	return o
}

func (b *gb) conv(name string, x *ir.Value, cout, k, pad int64) *ir.Value {
	cin := x.Type.Shape[1]
	w := b.randConst(name+"_w", 1/float64(cin*k*k), cout, cin, k, k)
	bias := b.randConst(name+"_b", 0.1, cout)
	return b.node(ir.OpConv, name, []*ir.Value{x, w, bias}, func(n *ir.Node) {
		n.SetInts("pads", []int64{pad, pad, pad, pad})
		n.SetInts("kernel_shape", []int64{k, k})
	})
}

func (b *gb) relu(name string, x *ir.Value) *ir.Value {
	return b.node(ir.OpRelu, name, []*ir.Value{x}, nil)
}

func (b *gb) gemm(name string, x *ir.Value, cout int64) *ir.Value {
	k := x.Type.Shape[1]
	w := b.randConst(name+"_w", 1/float64(k), cout, k)
	bias := b.randConst(name+"_b", 0.1, cout)
	return b.node(ir.OpGemm, name, []*ir.Value{x, w, bias}, func(n *ir.Node) { n.SetInt("transB", 1) })
}

func (b *gb) output(v *ir.Value) {
	b.m.Graph.Outputs = append(b.m.Graph.Outputs, v)
	if err := ir.Verify(b.m); err != nil {
		b.t.Fatal(err)
	}
}

// testNet is a small residual CNN exercising every lowering: INT8 first and
// last layers, split convs, a fused residual, a signed-input split conv,
// max and average pooling, global pooling, a split FC layer, a final
// Softmax in float.
func testNet(t *testing.T) *ir.Module {
	b := newGB(t, "testnet")
	x := b.input("x", 1, 3, 10, 10)
	c1 := b.relu("relu1", b.conv("conv1", x, 8, 3, 1))
	c2 := b.relu("relu2", b.conv("conv2", c1, 16, 3, 1))
	c3 := b.conv("conv3", c2, 16, 3, 1)
	a := b.relu("relu3", b.node(ir.OpAdd, "add", []*ir.Value{c3, c2}, nil))
	p := b.node(ir.OpMaxPool, "pool", []*ir.Value{a}, func(n *ir.Node) {
		n.SetInts("kernel_shape", []int64{2, 2})
		n.SetInts("strides", []int64{2, 2})
	})
	c4 := b.conv("conv4", p, 16, 1, 0) // no ReLU: signed output
	c5 := b.relu("relu5", b.conv("conv5", c4, 24, 3, 1))
	ap := b.node(ir.OpAveragePool, "avg", []*ir.Value{c5}, func(n *ir.Node) {
		n.SetInts("kernel_shape", []int64{3, 3})
		n.SetInts("pads", []int64{1, 1, 1, 1})
	})
	g := b.node(ir.OpGlobalAvgPool, "gap", []*ir.Value{ap}, nil)
	f := b.node(ir.OpFlatten, "flat", []*ir.Value{g}, nil)
	h := b.relu("relu6", b.gemm("fc1", f, 20))
	o := b.gemm("fc2", h, 10)
	s := b.node(ir.OpSoftmax, "softmax", []*ir.Value{o}, func(n *ir.Node) { n.SetInt("axis", 1) })
	b.output(s)
	return b.m
}

func randInputs(m *ir.Module, n int, seed uint64) []*ir.Tensor {
	rng := rand.New(rand.NewPCG(seed, 3))
	in := m.Graph.Inputs[0]
	out := make([]*ir.Tensor, n)
	for i := range out {
		t := ir.NewTensor(ir.Float32, in.Type.Shape...)
		for j := range t.F {
			t.F[j] = float32(rng.NormFloat64())
		}
		out[i] = t
	}
	return out
}

// quantizeNet compiles m with the given ratio and calibration samples.
func quantizeNet(t *testing.T, m *ir.Module, ratio float64, samples []*ir.Tensor) *ir.Module {
	t.Helper()
	o := DefaultOptions()
	o.Ratios = Uniform(ratio)
	o.Samples = samples
	if err := Compile(m, o); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatalf("%v\n%s", err, m)
	}
	return m
}
