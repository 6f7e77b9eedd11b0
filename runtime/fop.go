package runtime

import (
	"math"

	"pimc/backend/isa"
)

// The fop instruction: float32 operations computed exactly as pimc's FP32
// interpreter computes them (interp/unary.go, interp/norm.go), operation
// for operation, so that the simulator matches the reference executor bit
// for bit. The simulator does not import the interpreter (it never sees
// the compiler's IR); the exactness tests of exact_test.go compare the two.

func f64(f func(float64) float64) func(float32) float32 {
	return func(x float32) float32 { return float32(f(float64(x))) }
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// fopScalar is the scalar function of an elementwise float operation with
// the descriptor's parameters.
func fopScalar(c *isa.Const) func(float32) float32 {
	f0, f1 := c.F32("f0"), c.F32("f1")
	switch isa.FloatOp(c.Get("op")) {
	case isa.FopRelu:
		return func(x float32) float32 { return max(x, 0) }
	case isa.FopLeakyRelu:
		alpha := f0
		return func(x float32) float32 {
			if x < 0 {
				return alpha * x
			}
			return x
		}
	case isa.FopElu:
		alpha := float64(f0)
		return f64(func(x float64) float64 {
			if x < 0 {
				return alpha * math.Expm1(x)
			}
			return x
		})
	case isa.FopSelu:
		alpha, gamma := float64(f0), float64(f1)
		return f64(func(x float64) float64 {
			if x <= 0 {
				return gamma * alpha * math.Expm1(x)
			}
			return gamma * x
		})
	case isa.FopSigmoid:
		return f64(sigmoid)
	case isa.FopHardSigmoid:
		alpha, beta := f0, f1
		return func(x float32) float32 { return max(0, min(1, alpha*x+beta)) }
	case isa.FopHardSwish:
		return func(x float32) float32 { return x * max(0, min(1, x/6+0.5)) }
	case isa.FopTanh:
		return f64(math.Tanh)
	case isa.FopSoftplus:
		return f64(softplus)
	case isa.FopSoftsign:
		return func(x float32) float32 { return x / (1 + float32(math.Abs(float64(x)))) }
	case isa.FopMish:
		return f64(func(x float64) float64 { return x * math.Tanh(softplus(x)) })
	case isa.FopGelu:
		if c.Get("mode") == 1 {
			k := math.Sqrt(2 / math.Pi)
			return f64(func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(k*(x+0.044715*x*x*x))) })
		}
		return f64(func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) })
	case isa.FopExp:
		return f64(math.Exp)
	case isa.FopLog:
		return f64(math.Log)
	case isa.FopNeg:
		return func(x float32) float32 { return -x }
	case isa.FopAbs:
		return func(x float32) float32 { return float32(math.Abs(float64(x))) }
	case isa.FopSqrt:
		return f64(math.Sqrt)
	case isa.FopReciprocal:
		return func(x float32) float32 { return 1 / x }
	case isa.FopCeil:
		return f64(math.Ceil)
	case isa.FopFloor:
		return f64(math.Floor)
	case isa.FopRound:
		return f64(math.RoundToEven)
	case isa.FopErf:
		return f64(math.Erf)
	case isa.FopSign:
		return func(x float32) float32 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x
		}
	case isa.FopClip:
		lo, hi := f0, f1
		return func(x float32) float32 {
			if x != x {
				return x
			}
			return min(max(x, lo), hi)
		}
	}
	panic("BUG: fop " + isa.FloatOp(c.Get("op")).String() + " has no scalar function")
}

// fop executes a fop instruction on the activation buffer.
func (m *Machine) fop(o *op) {
	c := o.c
	b := m.abuf
	dst, src := o.a[0], o.a[1]
	batch, ch, inner := int(c.Get("batch")), int(c.Get("c")), int(c.Get("inner"))
	n := batch * ch * inner
	if isa.FloatOp(c.Get("op")) != isa.FopLRN {
		f := fopScalar(c)
		for i := 0; i < n; i++ {
			b[dst+i] = f32bits(f(f32frombits(b[src+i])))
		}
		return
	}
	// LRN: y = x / (bias + alpha/size · Σ x²)^beta in float64.
	size := int(c.Get("size"))
	alpha, beta, bias := float64(c.F32("f0")), float64(c.F32("f1")), float64(c.F32("f2"))
	lo, hi := (size-1)/2, (size-1)-(size-1)/2
	x := func(i int) float64 { return float64(f32frombits(b[src+i])) }
	for p := 0; p < batch*ch; p++ {
		bi, k := p/ch, p%ch
		c0, c1 := max(0, k-lo), min(ch-1, k+hi)
		for i := 0; i < inner; i++ {
			var ss float64
			for q := c0; q <= c1; q++ {
				v := x((bi*ch+q)*inner + i)
				ss += v * v
			}
			b[dst+p*inner+i] = f32bits(float32(x(p*inner+i) / math.Pow(bias+alpha/float64(size)*ss, beta)))
		}
	}
}
