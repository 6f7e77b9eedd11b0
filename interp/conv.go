package interp

import (
	"fmt"

	"pimc/ir"
)

// geom is a conv/pool geometry with the spatial dims widened to three
// (leading dims of size 1), so one implementation serves 1-D, 2-D and 3-D.
type geom struct {
	in, out, k, s, d, p [3]int // p = begin pads
	pe                  [3]int // end pads
}

func (g *geom) inSize() int  { return g.in[0] * g.in[1] * g.in[2] }
func (g *geom) outSize() int { return g.out[0] * g.out[1] * g.out[2] }
func (g *geom) kSize() int   { return g.k[0] * g.k[1] * g.k[2] }

// resolveGeom applies ir.ResolveConv (auto_pad, ceil_mode) to input dims
// in (spatial only) and kernel dims k.
func resolveGeom(n *ir.Node, in, k []int64, ceil bool) (geom, error) {
	var g geom
	r := len(in)
	if r < 1 || r > 3 {
		return g, fmt.Errorf("%d spatial dims: the interpreter supports 1 to 3", r)
	}
	cg, err := ir.ResolveConv(n, in, k, ceil)
	if err != nil {
		return g, err
	}
	off := 3 - r
	for i := 0; i < 3; i++ {
		g.in[i], g.out[i], g.k[i], g.s[i], g.d[i] = 1, 1, 1, 1, 1
	}
	for i := 0; i < r; i++ {
		g.in[off+i] = int(in[i])
		g.out[off+i] = int(cg.Out[i])
		g.k[off+i] = int(k[i])
		g.s[off+i] = int(cg.Strides[i])
		g.d[off+i] = int(cg.Dilations[i])
		g.p[off+i] = int(cg.Pads[i])
		g.pe[off+i] = int(cg.Pads[i+r])
	}
	return g, nil
}

// is1x1 reports a pointwise conv whose im2col matrix is the input itself.
func (g *geom) is1x1() bool {
	return g.kSize() == 1 && g.s == [3]int{1, 1, 1} && g.p == [3]int{} && g.in == g.out
}

// im2colPanels writes panels [p0,p1) of the im2col matrix of one image
// group (c channels of g.inSize() floats at x) directly in packB's panel
// layout, dst starting at panel p0: row kk = (channel, kz, ky, kx), column
// j = output position; zero outside the input. A panel (nr columns × all
// K rows) is one contiguous block, written front to back.
//
// A panel's columns form runs on one output row each; along a run the
// input x advances by the stride. For each window tap and run, which
// columns read inside the input and from where does not depend on the
// channel, so it is worked out once per panel and then replayed for every
// channel as zero fills and short copies.
func im2colPanels(dst, x []float32, c int, g *geom, p0, p1 int) {
	n := g.outSize()
	ks := g.kSize()
	K := c * ks
	ow, oh := g.out[2], g.out[1]
	isz := g.inSize()
	H, W := g.in[1], g.in[2]
	sx := g.s[2]
	// Columns [q0,qa) and [qb,q1) of a run are padding, [qa,qb) read
	// x[off + (q−qa)·sx] of the channel.
	type piece struct{ q0, qa, qb, q1, off int }
	pieces := make([]piece, 0, ks*nr)
	for p := p0; p < p1; p++ {
		j0 := p * nr
		cols := min(nr, n-j0)
		pieces = pieces[:0]
		for kz := 0; kz < g.k[0]; kz++ {
			for ky := 0; ky < g.k[1]; ky++ {
				for kx := 0; kx < g.k[2]; kx++ {
					for q := 0; q < cols; {
						j := j0 + q
						run := min(ow-j%ow, cols-q)
						iz := j/(oh*ow)*g.s[0] - g.p[0] + kz*g.d[0]
						iy := j/ow%oh*g.s[1] - g.p[1] + ky*g.d[1]
						ix := j%ow*sx - g.p[2] + kx*g.d[2]
						pc := piece{q, q, q, q + run, 0}
						if iz >= 0 && iz < g.in[0] && iy >= 0 && iy < H {
							pc.qa = q + min(run, max(0, (-ix+sx-1)/sx))
							pc.qb = max(pc.qa, q+min(run, max(0, (W-ix+sx-1)/sx)))
							pc.off = (iz*H+iy)*W + ix + (pc.qa-q)*sx
						}
						pieces = append(pieces, pc)
						q += run
					}
					if cols < nr { // zero columns past the matrix
						pieces = append(pieces, piece{cols, cols, cols, nr, 0})
					}
				}
			}
		}
		// Pieces of one tap fill its nr-wide row; taps follow in order.
		panel := dst[(p-p0)*nr*K : (p-p0+1)*nr*K]
		perTap := len(pieces) / ks
		for ch := 0; ch < c; ch++ {
			xc := x[ch*isz : (ch+1)*isz]
			rows := panel[ch*ks*nr : (ch+1)*ks*nr]
			for t := 0; t < ks; t++ {
				row := (*[nr]float32)(rows[t*nr:])
				tp := pieces[t*perTap : (t+1)*perTap]
				if len(tp) == 1 && tp[0].qa == 0 && tp[0].qb == nr && sx == 1 {
					*row = *(*[nr]float32)(xc[tp[0].off:])
					continue
				}
				for _, pc := range tp {
					for q := pc.q0; q < pc.qa; q++ {
						row[q] = 0
					}
					if pc.qa < pc.qb {
						src := xc[pc.off:]
						if sx == 1 {
							copyShort(row[pc.qa:pc.qb], src)
						} else {
							for q := pc.qa; q < pc.qb; q++ {
								row[q] = src[(q-pc.qa)*sx]
							}
						}
					}
					for q := pc.qb; q < pc.q1; q++ {
						row[q] = 0
					}
				}
			}
		}
	}
}

// copyShort copies up to nr floats without a call to memmove, which
// dominates for such short runs.
func copyShort(dst, src []float32) {
	if len(dst) == nr {
		*(*[nr]float32)(dst) = *(*[nr]float32)(src)
		return
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = v
	}
}

func convKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	return conv(runOpts{}, n, in)
}

func conv(o runOpts, n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x, w, b := in[0], in[1], in[2]
	y := o.dirtyOut(n, 0) // every element is written below
	g, err := resolveGeom(n, x.Shape[2:], w.Shape[2:], false)
	if err != nil {
		return nil, err
	}
	group := int(n.Int("group", 1))
	batch, cin, cout := int(x.Shape[0]), int(x.Shape[1]), int(w.Shape[0])
	cg, mg := cin/group, cout/group
	isz, osz := g.inSize(), g.outSize()
	K := cg * g.kSize()
	var bias []float32
	if b != nil {
		bias = b.F
	}
	switch {
	case K == 0:
		// No input channels: the sums are empty.
		clear(y.F)
		biasRelu(y.F, bias, batch, cout, osz, o.relu)
	case cg == 1 && g.kSize() > 1:
		// Depthwise: K is one window, too short for the tiled GEMM.
		convDirect(y.F, x.F, w.F, batch, cin, cout, group, &g)
		if bias != nil || o.relu {
			biasRelu(y.F, bias, batch, cout, osz, o.relu)
		}
	default:
		pa, cached := o.wc.packedWeights(w, group, mg, K)
		for bi := 0; bi < batch; bi++ {
			for gi := 0; gi < group; gi++ {
				xs := x.F[(bi*cin+gi*cg)*isz : (bi*cin+(gi+1)*cg)*isz]
				pack := func(dst []float32, p0, p1 int) { im2colPanels(dst, xs, cg, &g, p0, p1) }
				if g.is1x1() {
					pack = func(dst []float32, p0, p1 int) { packBPanels(dst, matrix{xs, osz, 1}, K, osz, p0, p1) }
				}
				ys := y.F[(bi*cout+gi*mg)*osz:]
				epi := epilogue{relu: o.relu}
				if bias != nil {
					epi.bias = bias[gi*mg : (gi+1)*mg]
				}
				sgemmPackOnTheFly(mg, osz, K, pa[gi*packedALen(mg, K):], pack, ys, osz, epi)
			}
		}
		if !cached {
			putFloats(&pa)
		}
	}
	return []*ir.Tensor{y}, nil
}

// biasRelu adds a per-channel bias (if any) and applies Relu (if relu).
func biasRelu(y, bias []float32, batch, c, size int, relu bool) {
	parallelFor(batch*c, 1+16384/(size+1), func(p0, p1 int) {
		for p := p0; p < p1; p++ {
			var bv float32
			if bias != nil {
				bv = bias[p%c]
			}
			row := y[p*size : (p+1)*size]
			for i, v := range row {
				v += bv
				if relu {
					v = max(v, 0)
				}
				row[i] = v
			}
		}
	})
}

// convDirect computes a conv whose groups each read one input channel
// (depthwise, possibly with a channel multiplier) by direct summation
// over the window in (kz, ky, kx) order.
func convDirect(y, x, w []float32, batch, cin, cout, group int, g *geom) {
	mg := cout / group
	isz, osz, ks := g.inSize(), g.outSize(), g.kSize()
	parallelFor(batch*cout, 1+4096/(osz*ks+1), func(p0, p1 int) {
		for p := p0; p < p1; p++ {
			bi, oc := p/cout, p%cout
			ic := oc / mg
			xc := x[(bi*cin+ic)*isz : (bi*cin+ic+1)*isz]
			wk := w[oc*ks : (oc+1)*ks]
			yc := y[p*osz : (p+1)*osz]
			j := 0
			for oz := 0; oz < g.out[0]; oz++ {
				for oy := 0; oy < g.out[1]; oy++ {
					for ox := 0; ox < g.out[2]; ox++ {
						var s float32
						t := 0
						for kz := 0; kz < g.k[0]; kz++ {
							iz := oz*g.s[0] - g.p[0] + kz*g.d[0]
							for ky := 0; ky < g.k[1]; ky++ {
								iy := oy*g.s[1] - g.p[1] + ky*g.d[1]
								zyIn := iz >= 0 && iz < g.in[0] && iy >= 0 && iy < g.in[1]
								base := (iz*g.in[1] + iy) * g.in[2]
								for kx := 0; kx < g.k[2]; kx++ {
									ix := ox*g.s[2] - g.p[2] + kx*g.d[2]
									if zyIn && ix >= 0 && ix < g.in[2] {
										s += xc[base+ix] * wk[t]
									}
									t++
								}
							}
						}
						yc[j] = s
						j++
					}
				}
			}
		}
	})
}

// im2colIndex returns, for an integer conv, the input offset of each
// (window tap, output position) pair within one channel, or -1 for pad.
func im2colIndex(g *geom) []int32 {
	ks, osz := g.kSize(), g.outSize()
	idx := make([]int32, ks*osz)
	t := 0
	for kz := 0; kz < g.k[0]; kz++ {
		for ky := 0; ky < g.k[1]; ky++ {
			for kx := 0; kx < g.k[2]; kx++ {
				j := 0
				for oz := 0; oz < g.out[0]; oz++ {
					iz := oz*g.s[0] - g.p[0] + kz*g.d[0]
					for oy := 0; oy < g.out[1]; oy++ {
						iy := oy*g.s[1] - g.p[1] + ky*g.d[1]
						for ox := 0; ox < g.out[2]; ox++ {
							ix := ox*g.s[2] - g.p[2] + kx*g.d[2]
							v := int32(-1)
							if iz >= 0 && iz < g.in[0] && iy >= 0 && iy < g.in[1] && ix >= 0 && ix < g.in[2] {
								v = int32((iz*g.in[1]+iy)*g.in[2] + ix)
							}
							idx[t*osz+j] = v
							j++
						}
					}
				}
				t++
			}
		}
	}
	return idx
}

// convInt computes an exact integer conv: acc[n, oc, p] = Σ (x − xzp)·(w −
// wzp[oc]) over the group's channels and window; padding contributes zero
// (it is padding of the real value, so x − xzp = 0 there).
func convInt(n *ir.Node, x, w *ir.Tensor, xzp int64, wzp []int64) ([]int64, geom, error) {
	g, err := resolveGeom(n, x.Shape[2:], w.Shape[2:], false)
	if err != nil {
		return nil, g, err
	}
	group := int(n.Int("group", 1))
	batch, cin, cout := int(x.Shape[0]), int(x.Shape[1]), int(w.Shape[0])
	cg, mg := cin/group, cout/group
	isz, osz, ks := g.inSize(), g.outSize(), g.kSize()
	idx := im2colIndex(&g)
	acc := make([]int64, batch*cout*osz)
	parallelFor(batch*cout, 1, func(p0, p1 int) {
		for p := p0; p < p1; p++ {
			bi, oc := p/cout, p%cout
			gi := oc / mg
			wz := wzp[oc%len(wzp)]
			out := acc[p*osz : (p+1)*osz]
			for c := 0; c < cg; c++ {
				xc := x.I[(bi*cin+gi*cg+c)*isz:]
				for t := 0; t < ks; t++ {
					wv := w.I[(oc*cg+c)*ks+t] - wz
					row := idx[t*osz : (t+1)*osz]
					for j, off := range row {
						if off >= 0 {
							out[j] += (xc[off] - xzp) * wv
						}
					}
				}
			}
		}
	})
	return acc, g, nil
}
