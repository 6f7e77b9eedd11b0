package passes

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"pimc/interp"
	"pimc/ir"
)

// builder assembles small random graphs in Go for the numerical tests,
// where weights are random and so cannot be written as text.
type builder struct {
	t   *testing.T
	m   *ir.Module
	rng *rand.Rand
}

func newBuilder(t *testing.T, seed uint64) *builder {
	m := ir.NewModule(fmt.Sprintf("random%d", seed))
	m.Opsets[""] = 18
	return &builder{t: t, m: m, rng: rand.New(rand.NewPCG(seed, 1))}
}

func (b *builder) input(name string, shape ...int64) *ir.Value {
	v := &ir.Value{Name: name, Type: ir.Type{DType: ir.Float32, Shape: shape}}
	b.m.Graph.Inputs = append(b.m.Graph.Inputs, v)
	return v
}

// rand returns a float32 constant with elements uniform in [lo, hi).
func (b *builder) rand(name string, lo, hi float64, shape ...int64) *ir.Value {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.F {
		t.F[i] = float32(lo + (hi-lo)*b.rng.Float64())
	}
	return b.m.AddConst(name, t)
}

func (b *builder) ints(name string, v ...int64) *ir.Value {
	return b.m.AddConst(name, ir.IntTensor(ir.Int64, v, int64(len(v))))
}

func (b *builder) scalar(name string, v float32) *ir.Value {
	return b.m.AddConst(name, ir.FloatTensor([]float32{v}))
}

// node adds a single-output node and infers its type.
func (b *builder) node(op ir.Op, attrs ir.Attrs, ins ...*ir.Value) *ir.Value {
	n := &ir.Node{Name: b.m.FreshName(op.String()), Op: op, Inputs: ins, Attrs: attrs}
	n.Outputs = []*ir.Value{{Name: b.m.FreshName("v"), Def: n}}
	if err := ir.InferNode(n); err != nil {
		b.t.Fatalf("building %s: %v", op, err)
	}
	b.m.Graph.Nodes = append(b.m.Graph.Nodes, n)
	return n.Outputs[0]
}

func (b *builder) intn(lo, hi int) int64 { return int64(lo + b.rng.IntN(hi-lo+1)) }

func ints(v ...int64) *ir.Attr     { return &ir.Attr{Kind: ir.AttrInts, Ints: v} }
func intAttr(v int64) *ir.Attr     { return &ir.Attr{Kind: ir.AttrInt, Int: v} }
func floatAttr(v float32) *ir.Attr { return &ir.Attr{Kind: ir.AttrFloat, Float: v} }

// bn appends an inference BatchNormalization with random statistics.
func (b *builder) bn(x *ir.Value) *ir.Value {
	c := x.Type.Shape[1]
	return b.node(ir.OpBatchNorm, ir.Attrs{"epsilon": floatAttr(1e-3)}, x,
		b.rand("gamma", 0.5, 1.5, c), b.rand("beta", -1, 1, c), b.rand("mean", -1, 1, c), b.rand("var", 0.1, 2, c))
}

// checkPass runs pass on b's module (outputs given) and requires that
// the interpreter's results before and after agree within 1e-5 of each
// output's largest magnitude (folding reorders float rounding, so
// elementwise relative error near zero would be meaningless), that the
// IR verifies, and that no node of a removed op is left.
func (b *builder) checkPass(pass func(*ir.Module) error, gone ir.Op, outs ...*ir.Value) {
	t := b.t
	t.Helper()
	b.m.Graph.Outputs = outs
	if err := ir.Verify(b.m); err != nil {
		t.Fatalf("built graph invalid: %v\n%s", err, b.m)
	}
	var inputs []*ir.Tensor
	for _, v := range b.m.Graph.Inputs {
		x := ir.NewTensor(v.Type.DType, v.Type.Shape...)
		for i := range x.F {
			x.F[i] = float32(b.rng.NormFloat64())
		}
		inputs = append(inputs, x)
	}
	before, err := interp.Run(b.m, inputs)
	if err != nil {
		t.Fatal(err)
	}
	text := b.m.String()
	if err := pass(b.m); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(b.m); err != nil {
		t.Fatalf("IR invalid after the pass: %v\nbefore:\n%s\nafter:\n%s", err, text, b.m)
	}
	for _, n := range b.m.Graph.Nodes {
		if n.Op == gone {
			t.Fatalf("%s left in place:\n%s", n.Where(), b.m)
		}
	}
	after, err := interp.Run(b.m, inputs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range before {
		if !before[i].Type().Equal(after[i].Type()) {
			t.Fatalf("output %d: %s before, %s after", i, before[i].Type(), after[i].Type())
		}
		scale := 0.0
		for _, v := range before[i].F {
			if !math.IsInf(float64(v), 0) {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
		}
		for j, v := range before[i].F {
			if after[i].F[j] == v {
				continue // also equal infinities
			}
			if d := math.Abs(float64(after[i].F[j]) - float64(v)); d > 1e-5*scale || math.IsNaN(d) {
				t.Fatalf("output %d element %d: %v before, %v after (scale %v)\nbefore:\n%s\nafter:\n%s", i, j, v, after[i].F[j], scale, text, b.m)
			}
		}
	}
}
