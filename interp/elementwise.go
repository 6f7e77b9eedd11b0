package interp

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"pimc/ir"
)

// Binary and variadic elementwise ops with numpy broadcasting.
//
// Integer results are computed in int64 and then wrapped to the output
// dtype exactly as a C cast of the mathematical result would (two's
// complement truncation), e.g. int8 100+100 = -56, uint8 3-5 = 254.
// Integer division truncates toward zero, like C; dividing by zero is an
// error rather than undefined behaviour.

func init() {
	for _, op := range []ir.Op{ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv, ir.OpPRelu} {
		register(op, binaryKernel)
	}
	for _, op := range []ir.Op{ir.OpMax, ir.OpMin, ir.OpSum, ir.OpMean} {
		register(op, variadicKernel)
	}
	register(ir.OpPow, powKernel)
	runKernels[ir.OpAdd] = addRun
	runKernels[ir.OpSum] = addRun
}

// addRun is Add or Sum with an optional fused Relu (see plan). Float
// inputs of one shape take a single parallel pass over memory, summed left
// to right like the generic kernels, so the result is bit-identical to the
// separate ops.
func addRun(o runOpts, n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	same := in[0].DType.IsFloat()
	for _, x := range in {
		same = same && x.DType == in[0].DType && slices.Equal(x.Shape, in[0].Shape)
	}
	if !same {
		k := binaryKernel
		if n.Op == ir.OpSum {
			k = variadicKernel
		}
		out, err := k(n, in)
		if err != nil || !o.relu {
			return out, err
		}
		if !out[0].DType.IsFloat() {
			return nil, fmt.Errorf("BUG: Relu fused into a %s %s", out[0].DType, n.Op)
		}
		reluInPlace(out[0].F)
		return out, nil
	}
	y := o.dirtyOut(n, 0) // every element is written below
	parallelFor(len(y.F), 1<<15, func(lo, hi int) {
		ys := y.F[lo:hi]
		copy(ys, in[0].F[lo:hi])
		for _, x := range in[1:] {
			xs := x.F[lo:hi]
			for i := range ys {
				ys[i] += xs[i]
			}
		}
		if o.relu {
			for i, v := range ys {
				ys[i] = max(v, 0)
			}
		}
	})
	return []*ir.Tensor{y}, nil
}

func reluInPlace(s []float32) {
	parallelFor(len(s), 1<<15, func(lo, hi int) {
		part := s[lo:hi]
		for i, v := range part {
			part[i] = max(v, 0)
		}
	})
}

var errDivZero = errors.New("integer division by zero")

func wrapAll(dt ir.DType, s []int64) {
	if dt == ir.Int64 || dt == ir.Uint64 {
		return
	}
	for i, v := range s {
		s[i] = dt.Wrap(v)
	}
}

// applyBinary computes dst = op(a, b) over the broadcast of a and b;
// dst has the output shape and may alias a when a has that shape too.
func applyBinary(op ir.Op, dst *ir.Tensor, a, b *ir.Tensor) error {
	if dst.DType.IsFloat() && slices.Equal(a.Shape, dst.Shape) && slices.Equal(b.Shape, dst.Shape) {
		// The common case (a residual Add): split across workers.
		parallelFor(len(dst.F), 1<<15, func(lo, hi int) {
			binF(op, dst.F[lo:hi], a.F[lo:hi], 1, b.F[lo:hi], 1)
		})
		return nil
	}
	if dst.DType.IsFloat() && slices.Equal(a.Shape, dst.Shape) && b.Len() == 1 {
		// Scaling by a scalar (weight generators, normalisation): split too.
		parallelFor(len(dst.F), 1<<15, func(lo, hi int) {
			binF(op, dst.F[lo:hi], a.F[lo:hi], 1, b.F, 0)
		})
		return nil
	}
	bc := newBcast(dst.Shape, a.Shape, b.Shape)
	var err error
	if dst.DType.IsFloat() {
		bc.rows(func(d int, off, inner []int, n int) {
			binF(op, dst.F[d:d+n], a.F[off[0]:], inner[0], b.F[off[1]:], inner[1])
		})
		return nil
	}
	bc.rows(func(d int, off, inner []int, n int) {
		if e := binI(op, dst.I[d:d+n], a.I[off[0]:], inner[0], b.I[off[1]:], inner[1]); e != nil {
			err = e
		}
	})
	wrapAll(dst.DType, dst.I)
	return err
}

// binF is one row of a float binary op; sa and sb are 0 (broadcast
// scalar) or 1.
func binF(op ir.Op, y, a []float32, sa int, b []float32, sb int) {
	if sa == 1 && sb == 1 {
		a, b = a[:len(y)], b[:len(y)]
		switch op {
		case ir.OpAdd, ir.OpSum, ir.OpMean:
			for i := range y {
				y[i] = a[i] + b[i]
			}
			return
		case ir.OpMul:
			for i := range y {
				y[i] = a[i] * b[i]
			}
			return
		}
	}
	if sa == 1 && sb == 0 {
		a, bv := a[:len(y)], b[0]
		switch op {
		case ir.OpAdd, ir.OpSum, ir.OpMean:
			for i := range y {
				y[i] = a[i] + bv
			}
			return
		case ir.OpMul:
			for i := range y {
				y[i] = a[i] * bv
			}
			return
		}
	}
	f := floatBinary(op)
	for i := range y {
		y[i] = f(a[i*sa], b[i*sb])
	}
}

func floatBinary(op ir.Op) func(a, b float32) float32 {
	switch op {
	case ir.OpAdd, ir.OpSum, ir.OpMean:
		return func(a, b float32) float32 { return a + b }
	case ir.OpSub:
		return func(a, b float32) float32 { return a - b }
	case ir.OpMul:
		return func(a, b float32) float32 { return a * b }
	case ir.OpDiv:
		return func(a, b float32) float32 { return a / b }
	case ir.OpMax:
		// NaN propagates, as in numpy's maximum.
		return func(a, b float32) float32 {
			if a != a || a > b {
				return a
			}
			return b
		}
	case ir.OpMin:
		return func(a, b float32) float32 {
			if a != a || a < b {
				return a
			}
			return b
		}
	case ir.OpPRelu:
		return func(x, slope float32) float32 {
			if x < 0 {
				return x * slope
			}
			return x
		}
	case ir.OpPow:
		return func(a, b float32) float32 { return float32(math.Pow(float64(a), float64(b))) }
	}
	panic("BUG: no float binary op " + op.String())
}

func binI(op ir.Op, y, a []int64, sa int, b []int64, sb int) error {
	for i := range y {
		x, z := a[i*sa], b[i*sb]
		var v int64
		switch op {
		case ir.OpAdd, ir.OpSum:
			v = x + z
		case ir.OpSub:
			v = x - z
		case ir.OpMul:
			v = x * z
		case ir.OpDiv:
			if z == 0 {
				return errDivZero
			}
			v = x / z
		case ir.OpMax:
			v = max(x, z)
		case ir.OpMin:
			v = min(x, z)
		case ir.OpPRelu:
			v = x
			if x < 0 {
				v = x * z
			}
		case ir.OpPow:
			v = intPow(x, z)
		default:
			return fmt.Errorf("%s is not defined on integers", op)
		}
		y[i] = v
	}
	return nil
}

// intPow is x**e in wrapping int64 arithmetic; negative exponents give
// the truncated real result (0 unless |x| = 1).
func intPow(x, e int64) int64 {
	if e < 0 {
		switch x {
		case 1:
			return 1
		case -1:
			if e%2 == 0 {
				return 1
			}
			return -1
		case 0:
			return 0 // C pow would give inf; there is no integer for it
		}
		return 0
	}
	r := int64(1)
	for ; e > 0; e >>= 1 {
		if e&1 != 0 {
			r *= x
		}
		x *= x
	}
	return r
}

func binaryKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	y := newOut(n, 0)
	if !y.DType.IsFloat() && !y.DType.IsInt() {
		return nil, fmt.Errorf("unsupported dtype %s", y.DType)
	}
	if err := applyBinary(n.Op, y, in[0], in[1]); err != nil {
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}

// variadicKernel folds the inputs left to right into the output buffer:
// y = x0 broadcast; y = op(y, xi) for i = 1..; Mean divides at the end.
func variadicKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	y := newOut(n, 0)
	if n.Op == ir.OpMean && !y.DType.IsFloat() {
		return nil, fmt.Errorf("Mean is defined on floats only, got %s", y.DType)
	}
	if y.DType.IsFloat() {
		expandTo(y.F, in[0].F, in[0].Shape, y.Shape)
	} else {
		expandTo(y.I, in[0].I, in[0].Shape, y.Shape)
	}
	for _, x := range in[1:] {
		if err := applyBinary(n.Op, y, y, x); err != nil {
			return nil, err
		}
	}
	if n.Op == ir.OpMean {
		k := float32(len(in))
		for i := range y.F {
			y.F[i] /= k
		}
	}
	return []*ir.Tensor{y}, nil
}

// powKernel allows an exponent of another dtype (ONNX Pow does): it is
// converted to the base's storage class first.
func powKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x, e := in[0], in[1]
	y := newOut(n, 0)
	if x.DType.IsFloat() != e.DType.IsFloat() {
		c := &ir.Tensor{DType: x.DType, Shape: e.Shape}
		if x.DType.IsFloat() {
			c.F = make([]float32, e.Len())
			for i := range c.F {
				c.F[i] = float32(e.Float(i))
			}
		} else {
			c.I = make([]int64, e.Len())
			for i := range c.I {
				c.I[i] = int64(e.F[i])
			}
		}
		e = c
	}
	if err := applyBinary(ir.OpPow, y, x, e); err != nil {
		return nil, err
	}
	return []*ir.Tensor{y}, nil
}
