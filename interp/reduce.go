package interp

import (
	"fmt"
	"math"

	"pimc/ir"
)

func init() {
	for _, op := range []ir.Op{ir.OpReduceMean, ir.OpReduceMax, ir.OpReduceMin, ir.OpReduceSum} {
		register(op, reduceKernel)
	}
}

// reduceKernel reduces the axes ir.ReduceAxes selects. Float sums are
// accumulated in float64 in input order; integer sums wrap to the dtype.
// Reducing an empty set gives the identity: 0 for sums, −inf/+inf (the
// dtype's extremes for integers) for Max/Min, NaN for Mean (0/0).
func reduceKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	red, err := ir.ReduceAxes(n, x.Rank())
	if err != nil {
		return nil, err
	}
	y := newOut(n, 0)
	// Output index of each input element: strides over the kept axes.
	r := x.Rank()
	ost := make([]int64, r)
	acc := int64(1)
	for i := r - 1; i >= 0; i-- {
		if !red[i] {
			ost[i] = acc
			acc *= x.Shape[i]
		}
	}
	count := int64(1)
	for i, d := range x.Shape {
		if red[i] {
			count *= d
		}
	}
	outLen := int(y.Len())
	bc := bcast{dims: make([]int, 0, r), strides: [][]int{nil}}
	for i := 0; i < r; i++ {
		bc.dims = append(bc.dims, int(x.Shape[i]))
		bc.strides[0] = append(bc.strides[0], int(ost[i]))
	}
	if r == 0 {
		bc.dims, bc.strides[0] = []int{1}, []int{0}
	}
	if x.DType.IsFloat() {
		s := make([]float64, outLen)
		init := 0.0
		switch n.Op {
		case ir.OpReduceMax:
			init = math.Inf(-1)
		case ir.OpReduceMin:
			init = math.Inf(1)
		}
		for i := range s {
			s[i] = init
		}
		src := 0
		bc.rows(func(_ int, off, inner []int, cnt int) {
			for k := 0; k < cnt; k++ {
				v := float64(x.F[src+k])
				o := off[0] + k*inner[0]
				switch n.Op {
				case ir.OpReduceMax:
					if v > s[o] || v != v {
						s[o] = v
					}
				case ir.OpReduceMin:
					if v < s[o] || v != v {
						s[o] = v
					}
				default:
					s[o] += v
				}
			}
			src += cnt
		})
		for i, v := range s {
			if n.Op == ir.OpReduceMean {
				v /= float64(count)
			}
			y.F[i] = float32(v)
		}
		return []*ir.Tensor{y}, nil
	}
	if n.Op == ir.OpReduceMean {
		return nil, fmt.Errorf("ReduceMean of %s is not supported", x.DType)
	}
	lo, hi := x.DType.Range()
	for i := range y.I {
		switch n.Op {
		case ir.OpReduceMax:
			y.I[i] = lo
		case ir.OpReduceMin:
			y.I[i] = hi
		}
	}
	src := 0
	bc.rows(func(_ int, off, inner []int, cnt int) {
		for k := 0; k < cnt; k++ {
			v := x.I[src+k]
			o := off[0] + k*inner[0]
			switch n.Op {
			case ir.OpReduceMax:
				y.I[o] = max(y.I[o], v)
			case ir.OpReduceMin:
				y.I[o] = min(y.I[o], v)
			default:
				y.I[o] += v
			}
		}
		src += cnt
	})
	wrapAll(y.DType, y.I)
	return []*ir.Tensor{y}, nil
}
