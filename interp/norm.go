package interp

import (
	"fmt"
	"math"

	"pimc/ir"
)

func init() {
	register(ir.OpBatchNorm, func(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) { return batchNorm(runOpts{}, n, in) })
	runKernels[ir.OpBatchNorm] = batchNorm
	register(ir.OpInstanceNorm, instanceNormKernel)
	register(ir.OpLRN, lrnKernel)
	register(ir.OpSoftmax, softmaxKernel)
	register(ir.OpLogSoftmax, softmaxKernel)
}

// batchNorm is inference-mode BatchNormalization. Per channel it
// folds scale/sqrt(var+eps) and bias − mean·that into one multiply-add,
// computed in float64 and rounded once.
func batchNorm(o runOpts, n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	if n.Int("training_mode", 0) != 0 {
		return nil, fmt.Errorf("training_mode=1 is not supported (inference only)")
	}
	x, scale, bias, mean, vr := in[0], in[1], in[2], in[3], in[4]
	if x.Rank() < 2 {
		return nil, fmt.Errorf("input rank %d, want >= 2", x.Rank())
	}
	c := int(x.Shape[1])
	for i, t := range in[1:5] {
		if t.Len() != int64(c) {
			return nil, fmt.Errorf("input %d has %d elements, want %d (channels)", i+1, t.Len(), c)
		}
	}
	eps := float64(n.Float("epsilon", 1e-5))
	mul, add := make([]float32, c), make([]float32, c)
	for i := 0; i < c; i++ {
		s := float64(scale.F[i]) / math.Sqrt(float64(vr.F[i])+eps)
		mul[i] = float32(s)
		add[i] = float32(float64(bias.F[i]) - float64(mean.F[i])*s)
	}
	y := o.dirtyOut(n, 0) // every element is written below
	sz := blockLen(x.Shape[2:])
	nc := int(x.Shape[0]) * c
	parallelFor(nc, 1+16384/(sz+1), func(p0, p1 int) {
		for p := p0; p < p1; p++ {
			m, a := mul[p%c], add[p%c]
			src, dst := x.F[p*sz:(p+1)*sz], y.F[p*sz:(p+1)*sz]
			for i, v := range src {
				dst[i] = v*m + a
			}
		}
	})
	return []*ir.Tensor{y}, nil
}

// instanceNormKernel normalizes each (batch, channel) plane by its own
// mean and population variance (float64 accumulation).
func instanceNormKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x, scale, bias := in[0], in[1], in[2]
	if x.Rank() < 3 {
		return nil, fmt.Errorf("input rank %d, want >= 3", x.Rank())
	}
	c := int(x.Shape[1])
	if scale.Len() != int64(c) || bias.Len() != int64(c) {
		return nil, fmt.Errorf("scale %v and bias %v must have %d elements", scale.Shape, bias.Shape, c)
	}
	eps := float64(n.Float("epsilon", 1e-5))
	y := newOut(n, 0)
	sz := blockLen(x.Shape[2:])
	for p := 0; p < int(x.Shape[0])*c; p++ {
		src, dst := x.F[p*sz:(p+1)*sz], y.F[p*sz:(p+1)*sz]
		var sum float64
		for _, v := range src {
			sum += float64(v)
		}
		mean := sum / float64(sz)
		var ss float64
		for _, v := range src {
			d := float64(v) - mean
			ss += d * d
		}
		s := float64(scale.F[p%c]) / math.Sqrt(ss/float64(sz)+eps)
		b := float64(bias.F[p%c])
		for i, v := range src {
			dst[i] = float32((float64(v)-mean)*s + b)
		}
	}
	return []*ir.Tensor{y}, nil
}

// lrnKernel: y = x / (bias + alpha/size · Σ x²)^beta, the sum over
// channels c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉ clipped to the tensor.
func lrnKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	if x.Rank() < 3 {
		return nil, fmt.Errorf("input rank %d, want >= 3", x.Rank())
	}
	size := int(n.Int("size", 0))
	if size <= 0 {
		return nil, fmt.Errorf("size=%d must be positive", size)
	}
	alpha := float64(n.Float("alpha", 1e-4))
	beta := float64(n.Float("beta", 0.75))
	bias := float64(n.Float("bias", 1))
	y := newOut(n, 0)
	c := int(x.Shape[1])
	sz := blockLen(x.Shape[2:])
	lo, hi := (size-1)/2, (size-1)-(size-1)/2
	parallelFor(int(x.Shape[0])*c, 1, func(p0, p1 int) {
		for p := p0; p < p1; p++ {
			b, ch := p/c, p%c
			c0, c1 := max(0, ch-lo), min(c-1, ch+hi)
			for i := 0; i < sz; i++ {
				var ss float64
				for k := c0; k <= c1; k++ {
					v := float64(x.F[(b*c+k)*sz+i])
					ss += v * v
				}
				y.F[p*sz+i] = float32(float64(x.F[p*sz+i]) / math.Pow(bias+alpha/float64(size)*ss, beta))
			}
		}
	})
	return []*ir.Tensor{y}, nil
}

// softmaxKernel normalizes along one axis (opset 13 form), subtracting the
// maximum first so exp cannot overflow; sums are in float64.
func softmaxKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	if !x.DType.IsFloat() {
		return nil, fmt.Errorf("%s of %s is not supported", n.Op, x.DType)
	}
	r := x.Rank()
	axis := int(n.Int("axis", -1))
	if axis < -r || axis >= max(r, 1) {
		return nil, fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	y := newOut(n, 0)
	if r == 0 {
		if n.Op == ir.OpSoftmax {
			y.F[0] = 1
		}
		return []*ir.Tensor{y}, nil
	}
	dim := int(x.Shape[axis])
	outer := blockLen(x.Shape[:axis])
	inner := blockLen(x.Shape[axis+1:])
	logOut := n.Op == ir.OpLogSoftmax
	e := make([]float64, dim)
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*dim*inner + i
			m := math.Inf(-1)
			for k := 0; k < dim; k++ {
				m = math.Max(m, float64(x.F[base+k*inner]))
			}
			var s float64
			for k := 0; k < dim; k++ {
				e[k] = float64(x.F[base+k*inner]) - m
				s += math.Exp(e[k])
			}
			ls := math.Log(s)
			for k := 0; k < dim; k++ {
				if logOut {
					y.F[base+k*inner] = float32(e[k] - ls)
				} else {
					y.F[base+k*inner] = float32(math.Exp(e[k]) / s)
				}
			}
		}
	}
	return []*ir.Tensor{y}, nil
}
