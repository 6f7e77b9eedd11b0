package interp

import (
	"math"
	"testing"

	"pimc/ir"
)

// mk builds a node of op with nout outputs and the given attributes.
func mk(op ir.Op, nout int, attrs ir.Attrs) *ir.Node {
	n := &ir.Node{Name: "n", Op: op, Attrs: attrs}
	for i := 0; i < nout; i++ {
		n.Outputs = append(n.Outputs, &ir.Value{Name: "y" + string(rune('0'+i))})
	}
	return n
}

func ai(v int64) *ir.Attr      { return &ir.Attr{Kind: ir.AttrInt, Int: v} }
func af(v float32) *ir.Attr    { return &ir.Attr{Kind: ir.AttrFloat, Float: v} }
func as(v string) *ir.Attr     { return &ir.Attr{Kind: ir.AttrString, Str: v} }
func ais(v ...int64) *ir.Attr  { return &ir.Attr{Kind: ir.AttrInts, Ints: v} }
func at(v *ir.Tensor) *ir.Attr { return &ir.Attr{Kind: ir.AttrTensor, Tensor: v} }

// ft is a float32 tensor of the given shape.
func ft(shape []int64, v ...float32) *ir.Tensor { return ir.FloatTensor(v, shape...) }

// it is an integer tensor.
func it(dt ir.DType, shape []int64, v ...int64) *ir.Tensor { return ir.IntTensor(dt, v, shape...) }

func sh(d ...int64) []int64 { return d }

// eval runs n and fails the test on error.
func eval(t *testing.T, n *ir.Node, in ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	for i := range in {
		v := &ir.Value{Name: "x"}
		if in[i] != nil {
			v.Type = in[i].Type()
		} else {
			v = nil
		}
		n.Inputs = append(n.Inputs, v)
	}
	out, err := EvalNode(n, in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// same compares a result with a wanted tensor: dtype and shape exactly,
// floats to 1e-6 relative (exact for integers).
func same(t *testing.T, got, want *ir.Tensor) {
	t.Helper()
	if !got.Type().Equal(want.Type()) {
		t.Fatalf("got %s, want %s", got.Type(), want.Type())
	}
	for i := range want.F {
		g, w := float64(got.F[i]), float64(want.F[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.Abs(g-w) > 1e-6+1e-5*math.Abs(w) {
			t.Fatalf("element %d = %g, want %g\ngot  %v\nwant %v", i, g, w, got.F, want.F)
		}
	}
	for i := range want.I {
		if got.I[i] != want.I[i] {
			t.Fatalf("element %d = %d, want %d\ngot  %v\nwant %v", i, got.I[i], want.I[i], got.I, want.I)
		}
	}
}
