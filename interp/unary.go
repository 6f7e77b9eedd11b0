package interp

import (
	"fmt"
	"math"

	"pimc/ir"
)

// Unary elementwise ops. Transcendentals are evaluated in float64 and
// rounded once to float32, so they are correctly rounded or nearly so.
// Rounding is half to even (Round), as in ONNX and numpy.

func init() {
	for _, op := range []ir.Op{
		ir.OpRelu, ir.OpLeakyRelu, ir.OpElu, ir.OpSelu, ir.OpSigmoid, ir.OpHardSigmoid,
		ir.OpHardSwish, ir.OpTanh, ir.OpSoftplus, ir.OpSoftsign, ir.OpMish, ir.OpGelu,
		ir.OpExp, ir.OpLog, ir.OpNeg, ir.OpAbs, ir.OpSqrt, ir.OpReciprocal, ir.OpCeil,
		ir.OpFloor, ir.OpRound, ir.OpErf, ir.OpSign,
	} {
		register(op, unaryKernel)
	}
	register(ir.OpClip, clipKernel)
}

func unaryKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	y := newOut(n, 0)
	if x.DType.IsInt() {
		if err := unaryInt(n.Op, y.I, x.I); err != nil {
			return nil, err
		}
		wrapAll(y.DType, y.I)
		return []*ir.Tensor{y}, nil
	}
	f, err := floatUnary(n)
	if err != nil {
		return nil, err
	}
	if f == nil { // Relu: the hot one, kept free of an indirect call
		parallelFor(len(x.F), 1<<15, func(lo, hi int) {
			src, dst := x.F[lo:hi], y.F[lo:hi]
			for i, v := range src {
				dst[i] = max(v, 0)
			}
		})
		return []*ir.Tensor{y}, nil
	}
	parallelFor(len(x.F), 1<<13, func(lo, hi int) {
		src, dst := x.F[lo:hi], y.F[lo:hi]
		for i, v := range src {
			dst[i] = f(v)
		}
	})
	return []*ir.Tensor{y}, nil
}

func unaryInt(op ir.Op, y, x []int64) error {
	for i, v := range x {
		switch op {
		case ir.OpRelu:
			y[i] = max(v, 0)
		case ir.OpNeg:
			y[i] = -v
		case ir.OpAbs:
			y[i] = v
			if v < 0 {
				y[i] = -v
			}
		case ir.OpSign:
			switch {
			case v > 0:
				y[i] = 1
			case v < 0:
				y[i] = -1
			default:
				y[i] = 0
			}
		case ir.OpCeil, ir.OpFloor, ir.OpRound:
			y[i] = v
		default:
			return fmt.Errorf("%s is not defined on integers", op)
		}
	}
	return nil
}

func f64(f func(float64) float64) func(float32) float32 {
	return func(x float32) float32 { return float32(f(float64(x))) }
}

// sigmoid avoids exp overflow on either side.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus is log(1+exp(x)) without overflow for large x.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// floatUnary returns the scalar function of a unary op, or nil for Relu.
func floatUnary(n *ir.Node) (func(float32) float32, error) {
	switch n.Op {
	case ir.OpRelu:
		return nil, nil
	case ir.OpLeakyRelu:
		alpha := n.Float("alpha", 0.01)
		return func(x float32) float32 {
			if x < 0 {
				return alpha * x
			}
			return x
		}, nil
	case ir.OpElu:
		alpha := float64(n.Float("alpha", 1))
		return f64(func(x float64) float64 {
			if x < 0 {
				return alpha * math.Expm1(x)
			}
			return x
		}), nil
	case ir.OpSelu:
		alpha := float64(n.Float("alpha", 1.67326319217681884765625))
		gamma := float64(n.Float("gamma", 1.05070102214813232421875))
		return f64(func(x float64) float64 {
			if x <= 0 {
				return gamma * alpha * math.Expm1(x)
			}
			return gamma * x
		}), nil
	case ir.OpSigmoid:
		return f64(sigmoid), nil
	case ir.OpHardSigmoid:
		alpha, beta := n.Float("alpha", 0.2), n.Float("beta", 0.5)
		return func(x float32) float32 { return max(0, min(1, alpha*x+beta)) }, nil
	case ir.OpHardSwish:
		return func(x float32) float32 { return x * max(0, min(1, x/6+0.5)) }, nil
	case ir.OpTanh:
		return f64(math.Tanh), nil
	case ir.OpSoftplus:
		return f64(softplus), nil
	case ir.OpSoftsign:
		return func(x float32) float32 { return x / (1 + float32(math.Abs(float64(x)))) }, nil
	case ir.OpMish:
		return f64(func(x float64) float64 { return x * math.Tanh(softplus(x)) }), nil
	case ir.OpGelu:
		switch a := n.Str("approximate", "none"); a {
		case "none":
			return f64(func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }), nil
		case "tanh":
			c := math.Sqrt(2 / math.Pi)
			return f64(func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(c*(x+0.044715*x*x*x))) }), nil
		default:
			return nil, fmt.Errorf("unknown approximate=%q", a)
		}
	case ir.OpExp:
		return f64(math.Exp), nil
	case ir.OpLog:
		return f64(math.Log), nil
	case ir.OpNeg:
		return func(x float32) float32 { return -x }, nil
	case ir.OpAbs:
		return func(x float32) float32 { return float32(math.Abs(float64(x))) }, nil
	case ir.OpSqrt:
		return f64(math.Sqrt), nil
	case ir.OpReciprocal:
		return func(x float32) float32 { return 1 / x }, nil
	case ir.OpCeil:
		return f64(math.Ceil), nil
	case ir.OpFloor:
		return f64(math.Floor), nil
	case ir.OpRound:
		return f64(math.RoundToEven), nil
	case ir.OpErf:
		return f64(math.Erf), nil
	case ir.OpSign:
		return func(x float32) float32 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x // ±0 and NaN stay
		}, nil
	}
	return nil, fmt.Errorf("BUG: no unary function")
}

// clipKernel bounds x by the optional min and max inputs (scalars); an
// absent bound is the dtype's extreme.
func clipKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	y := newOut(n, 0)
	for i, b := range in[1:3] {
		if b != nil && b.Len() != 1 {
			return nil, fmt.Errorf("%s bound has shape %v, want a scalar", []string{"min", "max"}[i], b.Shape)
		}
		if b != nil && b.DType != x.DType {
			return nil, fmt.Errorf("%s bound is %s, input is %s", []string{"min", "max"}[i], b.DType, x.DType)
		}
	}
	if x.DType.IsFloat() {
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		if in[1] != nil {
			lo = float32(in[1].Float(0))
		}
		if in[2] != nil {
			hi = float32(in[2].Float(0))
		}
		for i, v := range x.F {
			// min then max, as ONNX defines it: lo > hi gives hi.
			y.F[i] = min(max(v, lo), hi)
			if v != v {
				y.F[i] = v
			}
		}
		return []*ir.Tensor{y}, nil
	}
	lo, hi := x.DType.Range()
	if in[1] != nil {
		lo = in[1].I[0]
	}
	if in[2] != nil {
		hi = in[2].I[0]
	}
	for i, v := range x.I {
		y.I[i] = min(max(v, lo), hi)
	}
	return []*ir.Tensor{y}, nil
}
