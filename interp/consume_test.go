package interp

import (
	"testing"

	"pimc/ir"
)

// TestEvalNodeConsuming checks that in-place evaluation gives the same
// values as EvalNode, reuses the consumable input's storage, and leaves a
// non-consumable input untouched.
func TestEvalNodeConsuming(t *testing.T) {
	for _, op := range []ir.Op{ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv} {
		mk := func() []*ir.Tensor {
			return []*ir.Tensor{ir.FloatTensor([]float32{1, 2, 3, 4, 5, 6}, 2, 3), ir.FloatTensor([]float32{0.5}, 1)}
		}
		a, b := &ir.Value{Name: "a", Type: ir.Type{DType: ir.Float32, Shape: []int64{2, 3}}}, &ir.Value{Name: "b", Type: ir.Type{DType: ir.Float32, Shape: []int64{1}}}
		n := &ir.Node{Name: "n", Op: op, Inputs: []*ir.Value{a, b}}
		n.Outputs = []*ir.Value{{Name: "y", Def: n}}
		if err := ir.InferNode(n); err != nil {
			t.Fatal(err)
		}
		want, err := EvalNode(n, mk())
		if err != nil {
			t.Fatal(err)
		}
		in := mk()
		got, err := EvalNodeConsuming(n, in, []bool{true, false})
		if err != nil {
			t.Fatal(err)
		}
		if &got[0].F[0] != &in[0].F[0] {
			t.Errorf("%s: result not written in place", op)
		}
		for i := range want[0].F {
			if got[0].F[i] != want[0].F[i] {
				t.Fatalf("%s: element %d = %g, want %g", op, i, got[0].F[i], want[0].F[i])
			}
		}
		in = mk()
		if _, err := EvalNodeConsuming(n, in, []bool{false, false}); err != nil || in[0].F[0] != 1 {
			t.Errorf("%s: non-consumable input changed (%v)", op, err)
		}
	}
}
