package runtime

import (
	"math"

	"pimc/backend/isa"
)

func f32bits(f float32) uint32     { return math.Float32bits(f) }
func f32frombits(u uint32) float32 { return math.Float32frombits(u) }

// roundShift is the PPU's one rounding rule: (x + 2^(s−1)) >> s for s ≥ 1
// (arithmetic shift, int64 wrap-around), x for s = 0.
func roundShift(x int64, s uint) int64 {
	if s == 0 {
		return x
	}
	return (x + int64(1)<<(s-1)) >> s
}

func clamp(x, lo, hi int64) int64 { return min(max(x, lo), hi) }

// ppu executes one PPU instruction on the activation buffer.
func (m *Machine) ppu(o *op) {
	b := m.abuf
	c := o.c
	switch o.code {
	case isa.OpQUANT:
		dst, src, n := o.a[0], o.a[1], o.a[2]
		scale := float64(c.F32("scale"))
		lo, hi := c.Get("lo"), c.Get("hi")
		for i := 0; i < n; i++ {
			r := math.RoundToEven(float64(f32frombits(b[src+i])) / scale)
			var q int64
			switch {
			case r != r:
				q = 0
			case r < float64(lo):
				q = lo
			case r > float64(hi):
				q = hi
			default:
				q = int64(r)
			}
			b[dst+i] = uint32(int32(q))
		}
	case isa.OpDEQ:
		dst, src, n := o.a[0], o.a[1], o.a[2]
		scale := c.F32("scale")
		for i := 0; i < n; i++ {
			b[dst+i] = f32bits(float32(int32(b[src+i])) * scale)
		}
	case isa.OpREQ:
		m.req(o)
	case isa.OpADD:
		dst, pa, pb := o.a[0], o.a[1], o.a[2]
		n := int(c.Get("n"))
		ma, mb, s := c.Get("ma"), c.Get("mb"), uint(c.Get("shift"))
		lo, hi := c.Get("lo"), c.Get("hi")
		for i := 0; i < n; i++ {
			v := int64(int32(b[pa+i]))*ma + int64(int32(b[pb+i]))*mb
			b[dst+i] = uint32(int32(clamp(roundShift(v, s), lo, hi)))
		}
	case isa.OpRESCALE:
		dst, src, n := o.a[0], o.a[1], o.a[2]
		mm, s := c.Get("m"), uint(c.Get("shift"))
		lo, hi := c.Get("lo"), c.Get("hi")
		for i := 0; i < n; i++ {
			b[dst+i] = uint32(int32(clamp(roundShift(int64(int32(b[src+i]))*mm, s), lo, hi)))
		}
	case isa.OpRELU:
		dst, src, n := o.a[0], o.a[1], o.a[2]
		for i := 0; i < n; i++ {
			b[dst+i] = uint32(max(int32(b[src+i]), 0))
		}
	case isa.OpMAXPOOL, isa.OpAVGPOOL:
		m.pool(o)
	case isa.OpGAP:
		dst, src := o.a[0], o.a[1]
		nc, hw := int(c.Get("nc")), int(c.Get("hw"))
		mm, s := c.Get("m"), uint(c.Get("shift"))
		lo, hi := c.Get("lo"), c.Get("hi")
		for ch := 0; ch < nc; ch++ {
			var sum int64
			for _, v := range b[src+ch*hw : src+(ch+1)*hw] {
				sum += int64(int32(v))
			}
			b[dst+ch] = uint32(int32(clamp(roundShift(sum*mm, s), lo, hi)))
		}
	case isa.OpCOPY:
		dst, src := o.a[0], o.a[1]
		rows, ln := int(c.Get("rows")), int(c.Get("len"))
		ss, ds := int(c.Get("sstride")), int(c.Get("dstride"))
		for r := 0; r < rows; r++ {
			copy(b[dst+r*ds:dst+r*ds+ln], b[src+r*ss:src+r*ss+ln])
		}
	case isa.OpPERM:
		m.perm(o)
	case isa.OpSOFTMAX:
		m.softmax(o)
	case isa.OpFOP:
		m.fop(o)
	}
}

func (m *Machine) req(o *op) {
	q := o.req
	b, ps := m.abuf, m.psum
	dst, w0, nw := o.a[0], o.a[2], o.a[3]
	P := q.p
	// Window ranges within one image are contiguous per channel.
	for w := w0; w < w0+nw; {
		bi, q0 := w/P, w%P
		q1 := min(P, q0+(w0+nw-w))
		n := q1 - q0
		for ch, r := range q.rows {
			o0 := (bi*q.cout+ch)*P + q0
			acc := ps[q.psum+o0 : q.psum+o0+n]
			out := b[dst+o0 : dst+o0+n]
			if q.hasRes {
				rs := b[q.res+o0 : q.res+o0+n]
				for i, a := range acc {
					out[i] = uint32(int32(clamp((a*r.m+int64(int32(rs[i]))*r.r+r.base)>>r.s, q.lo, q.hi)))
				}
				continue
			}
			for i, a := range acc {
				out[i] = uint32(int32(clamp((a*r.m+r.base)>>r.s, q.lo, q.hi)))
			}
		}
		w += n
	}
}

func (m *Machine) pool(o *op) {
	c := o.c
	b := m.abuf
	dst, src := o.a[0], o.a[1]
	g := func(n string) int { return int(c.Get(n)) }
	nc, h, w, oh, ow := g("nc"), g("h"), g("w"), g("oh"), g("ow")
	kh, kw, sh, sw := g("kh"), g("kw"), g("sh"), g("sw")
	pt, pl, pb, pr, dh, dw := g("pt"), g("pl"), g("pb"), g("pr"), g("dh"), g("dw")
	avg, incpad := c.Get("avg") == 1, c.Get("incpad") == 1
	s := uint(c.Get("shift"))
	lo, hi := c.Get("lo"), c.Get("hi")
	mults := c.Tail()
	for ch := 0; ch < nc; ch++ {
		img := b[src+ch*h*w : src+(ch+1)*h*w]
		out := b[dst+ch*oh*ow : dst+(ch+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				best := int32(math.MinInt32)
				var sum int64
				cnt, padCnt := 0, 0
				for ky := 0; ky < kh; ky++ {
					iy := oy*sh - pt + ky*dh
					for kx := 0; kx < kw; kx++ {
						ix := ox*sw - pl + kx*dw
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							v := int32(img[iy*w+ix])
							best = max(best, v)
							sum += int64(v)
							cnt++
						} else if iy >= -pt && iy < h+pb && ix >= -pl && ix < w+pr {
							padCnt++
						}
					}
				}
				if !avg {
					if cnt == 0 {
						best = 0
					}
					out[oy*ow+ox] = uint32(best)
					continue
				}
				d := cnt
				if incpad {
					d += padCnt
				}
				if d == 0 {
					out[oy*ow+ox] = 0
					continue
				}
				out[oy*ow+ox] = uint32(int32(clamp(roundShift(sum*mults[d-1], s), lo, hi)))
			}
		}
	}
}

func (m *Machine) perm(o *op) {
	t := o.c.Tail()
	r := len(t) / 2
	shape, perm := t[:r], t[r:]
	strides := make([]int, r)
	acc := 1
	for i := r - 1; i >= 0; i-- {
		strides[i] = acc
		acc *= int(shape[i])
	}
	ys := make([]int, r)
	for i := range ys {
		ys[i] = int(shape[perm[i]])
	}
	b := m.abuf
	dst, src := o.a[0], o.a[1]
	coord := make([]int, r)
	for i := 0; i < acc; i++ {
		off := 0
		for d := 0; d < r; d++ {
			off += coord[d] * strides[perm[d]]
		}
		b[dst+i] = b[src+off]
		for d := r - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < ys[d] {
				break
			}
			coord[d] = 0
		}
	}
}

// softmax follows the FP32 interpreter's kernel operation for operation:
// float64 maximum, differences, exp sum, then exp(e)/s or e − log s.
func (m *Machine) softmax(o *op) {
	c := o.c
	outer, dim, inner := int(c.Get("outer")), int(c.Get("dim")), int(c.Get("inner"))
	logOut := c.Get("log") == 1
	b := m.abuf
	dst, src := o.a[0], o.a[1]
	e := make([]float64, dim)
	for oi := 0; oi < outer; oi++ {
		for i := 0; i < inner; i++ {
			base := oi*dim*inner + i
			mx := math.Inf(-1)
			for k := 0; k < dim; k++ {
				mx = math.Max(mx, float64(f32frombits(b[src+base+k*inner])))
			}
			var s float64
			for k := 0; k < dim; k++ {
				e[k] = float64(f32frombits(b[src+base+k*inner])) - mx
				s += math.Exp(e[k])
			}
			ls := math.Log(s)
			for k := 0; k < dim; k++ {
				if logOut {
					b[dst+base+k*inner] = f32bits(float32(e[k] - ls))
				} else {
					b[dst+base+k*inner] = f32bits(float32(math.Exp(e[k]) / s))
				}
			}
		}
	}
}
