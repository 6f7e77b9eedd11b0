package interp

import (
	"fmt"
	"math"

	"pimc/ir"
)

func init() {
	register(ir.OpMaxPool, func(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) { return maxPool(runOpts{}, n, in) })
	runKernels[ir.OpMaxPool] = maxPool
	register(ir.OpAveragePool, avgPoolKernel)
	register(ir.OpGlobalAvgPool, globalPoolKernel)
	register(ir.OpGlobalMaxPool, globalPoolKernel)
}

// window lists, for output position o along one axis, the in-range input
// indices of the taps and how many taps fall inside the padded extent
// [-pad_begin, in+pad_end) (the count_include_pad divisor; with ceil_mode
// the last window may reach past it, and those taps count for nothing).
type window struct {
	idx    [][]int // per output position: valid input indices in tap order
	padded []int   // per output position: taps inside the padded extent
}

func axisWindows(in, out, k, s, d, pb, pe int) window {
	w := window{idx: make([][]int, out), padded: make([]int, out)}
	for o := 0; o < out; o++ {
		for t := 0; t < k; t++ {
			i := o*s - pb + t*d
			if i >= 0 && i < in {
				w.idx[o] = append(w.idx[o], i)
			}
			if i >= -pb && i < in+pe {
				w.padded[o]++
			}
		}
	}
	return w
}

type poolPlan struct {
	g      geom
	axes   [3]window
	nc     int // batch × channels
	isz    int
	osz    int
	maxOut bool
}

func newPoolPlan(n *ir.Node, x *ir.Tensor) (*poolPlan, error) {
	if !x.DType.IsFloat() {
		return nil, fmt.Errorf("pooling of %s is not supported", x.DType)
	}
	g, err := resolveGeom(n, x.Shape[2:], n.IntList("kernel_shape", nil), n.Int("ceil_mode", 0) != 0)
	if err != nil {
		return nil, err
	}
	p := &poolPlan{g: g, nc: int(x.Shape[0] * x.Shape[1]), isz: g.inSize(), osz: g.outSize()}
	for a := 0; a < 3; a++ {
		p.axes[a] = axisWindows(g.in[a], g.out[a], g.k[a], g.s[a], g.d[a], g.p[a], g.pe[a])
	}
	return p, nil
}

// maxPool takes the largest input in each window, ignoring padding;
// the optional Indices output holds the flat index of the first maximum
// in the whole input tensor (row-major, or column-major over the spatial
// dims when storage_order=1).
func maxPool(o runOpts, n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	p, err := newPoolPlan(n, x)
	if err != nil {
		return nil, err
	}
	y := o.dirtyOut(n, 0) // every element is written below
	var ind *ir.Tensor
	if len(n.Outputs) > 1 && n.Outputs[1] != nil {
		ind = newOut(n, 1)
	}
	colMajor := n.Int("storage_order", 0) == 1
	g := &p.g
	parallelFor(p.nc, 1+2048/(p.osz+1), func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			xc := x.F[c*p.isz : (c+1)*p.isz]
			j := c * p.osz
			for oz := 0; oz < g.out[0]; oz++ {
				for oy := 0; oy < g.out[1]; oy++ {
					for ox := 0; ox < g.out[2]; ox++ {
						best, bi := float32(math.Inf(-1)), -1
						for _, iz := range p.axes[0].idx[oz] {
							for _, iy := range p.axes[1].idx[oy] {
								row := (iz*g.in[1] + iy) * g.in[2]
								for _, ix := range p.axes[2].idx[ox] {
									if v := xc[row+ix]; v > best || bi < 0 {
										best, bi = v, row+ix
									}
								}
							}
						}
						y.F[j] = best
						if ind != nil {
							switch {
							case bi < 0: // a window entirely in the padding
								ind.I[j] = -1
							case colMajor:
								iz, iy, ix := bi/(g.in[1]*g.in[2]), bi/g.in[2]%g.in[1], bi%g.in[2]
								ind.I[j] = int64(c*p.isz + (ix*g.in[1]+iy)*g.in[0] + iz)
							default:
								ind.I[j] = int64(c*p.isz + bi)
							}
						}
						j++
					}
				}
			}
		}
	})
	out := []*ir.Tensor{y}
	if ind != nil {
		out = append(out, ind)
	}
	return out, nil
}

// avgPoolKernel averages each window: over the in-input taps when
// count_include_pad=0, else over the taps inside the padded extent.
func avgPoolKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	p, err := newPoolPlan(n, x)
	if err != nil {
		return nil, err
	}
	y := newOut(n, 0)
	incl := n.Int("count_include_pad", 0) != 0
	g := &p.g
	parallelFor(p.nc, 1+2048/(p.osz+1), func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			xc := x.F[c*p.isz : (c+1)*p.isz]
			j := c * p.osz
			for oz := 0; oz < g.out[0]; oz++ {
				for oy := 0; oy < g.out[1]; oy++ {
					for ox := 0; ox < g.out[2]; ox++ {
						var s float32
						for _, iz := range p.axes[0].idx[oz] {
							for _, iy := range p.axes[1].idx[oy] {
								row := (iz*g.in[1] + iy) * g.in[2]
								for _, ix := range p.axes[2].idx[ox] {
									s += xc[row+ix]
								}
							}
						}
						var cnt int
						if incl {
							cnt = p.axes[0].padded[oz] * p.axes[1].padded[oy] * p.axes[2].padded[ox]
						} else {
							cnt = len(p.axes[0].idx[oz]) * len(p.axes[1].idx[oy]) * len(p.axes[2].idx[ox])
						}
						if cnt == 0 {
							y.F[j] = float32(math.NaN()) // an empty window, as 0/0
						} else {
							y.F[j] = s / float32(cnt)
						}
						j++
					}
				}
			}
		}
	})
	return []*ir.Tensor{y}, nil
}

func globalPoolKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	if !x.DType.IsFloat() {
		return nil, fmt.Errorf("pooling of %s is not supported", x.DType)
	}
	y := newOut(n, 0)
	nc := int(x.Shape[0] * x.Shape[1])
	sz := blockLen(x.Shape[2:])
	isMax := n.Op == ir.OpGlobalMaxPool
	for c := 0; c < nc; c++ {
		xc := x.F[c*sz : (c+1)*sz]
		if isMax {
			m := float32(math.Inf(-1))
			for _, v := range xc {
				m = max(m, v)
			}
			y.F[c] = m
			continue
		}
		var s float64
		for _, v := range xc {
			s += float64(v)
		}
		y.F[c] = float32(s / float64(sz))
	}
	return []*ir.Tensor{y}, nil
}
