package runtime

import (
	"math/bits"

	"pimc/backend/isa"
)

// winCache holds, for every window of a descriptor, the canonical input
// vector as bit planes: xbits two's complement planes (if an SRAM MVM uses
// the descriptor) and the binary plane [x ≥ thr] (if an eDRAM MVM does).
// It is rebuilt when an instruction has written its input words since.
type winCache struct {
	valid bool
	vec   []uint64 // [window][plane][kwords]
	pix   []uint64 // [b][y][x][plane][cw]: channel bits of each pixel
}

type scratch struct {
	choff []int
	acc   []int64
	xg    []uint64
	xpop  []int
}

// windowPlanes returns the up-to-date bit planes of descriptor k.
func (m *Machine) windowPlanes(k int, win *window) []uint64 {
	c := &m.cache[k]
	if c.valid {
		return c.vec
	}
	if win.c0 == 0 && win.cg == win.c && win.dw == 1 {
		m.rowPlanes(c, win)
		c.valid = true
		m.live = append(m.live, k)
		return c.vec
	}
	np := win.nplanes
	// Pixel planes.
	hw := win.h * win.w
	npix := win.n * hw
	need := npix * np * win.cw
	if cap(c.pix) < need {
		c.pix = make([]uint64, need)
	}
	pix := c.pix[:need]
	clear(pix)
	mask := int32(1)<<win.xbits - 1
	if win.xbits >= 32 {
		mask = -1
	}
	if win.cw == 1 && win.planes && win.xbits == 4 {
		// The common case, transposed in registers: one pass over the
		// pixels, the channels of a pixel gathered into five words.
		thr, th := win.thr, win.thresh
		for b := 0; b < win.n; b++ {
			img := m.abuf[win.in+b*win.c*hw : win.in+(b+1)*win.c*hw]
			out := pix[b*hw*np : (b+1)*hw*np]
			for i := 0; i < hw; i++ {
				var p0, p1, p2, p3, t uint64
				for ch := 0; ch < win.c; ch++ {
					v := int32(img[ch*hw+i])
					x := uint64(v & mask)
					p0 |= (x & 1) << ch
					p1 |= (x >> 1 & 1) << ch
					p2 |= (x >> 2 & 1) << ch
					p3 |= (x >> 3 & 1) << ch
					if int64(v) >= thr {
						t |= 1 << ch
					}
				}
				o := out[i*np : i*np+np]
				o[0], o[1], o[2], o[3] = p0, p1, p2, p3
				if th {
					o[4] = t
				}
			}
		}
	} else {
		m.pixelPlanes(win, pix, mask)
	}
	// Window vectors.
	stride := np * win.kwords
	need = win.nwin * stride
	if cap(c.vec) < need {
		c.vec = make([]uint64, need)
	}
	vec := c.vec[:need]
	clear(vec)
	P := win.oh * win.ow
	oneWord := win.c0&63+win.cg <= 64
	cword, cshift := win.c0>>6, uint(win.c0&63)
	cmask := uint64(1)<<uint(win.cg) - 1
	if win.cg >= 64 {
		cmask = ^uint64(0)
	}
	// Pixel offsets of the kernel taps, for windows inside the image.
	nk := win.kh * win.kw
	delta := make([]int, nk)
	for ky := 0; ky < win.kh; ky++ {
		for kx := 0; kx < win.kw; kx++ {
			delta[ky*win.kw+kx] = (ky*win.dh*win.w + kx*win.dw) * np * win.cw
		}
	}
	spanH, spanW := (win.kh-1)*win.dh, (win.kw-1)*win.dw
	for w := 0; w < win.nwin; w++ {
		b, p := w/P, w%P
		oy, ox := p/win.ow, p%win.ow
		dst := vec[w*stride : (w+1)*stride]
		iy0, ix0 := oy*win.sh-win.pt, ox*win.sw-win.pl
		if oneWord && iy0 >= 0 && ix0 >= 0 && iy0+spanH < win.h && ix0+spanW < win.w {
			// Inside the image: append the taps' channel words in
			// order, flushing whole 64-bit words.
			o0 := ((b*win.h+iy0)*win.w+ix0)*np*win.cw + cword
			cg := uint(win.cg)
			for q := 0; q < np; q++ {
				d := dst[q*win.kwords : (q+1)*win.kwords]
				var cur uint64
				fill, wi := uint(0), 0
				oq := o0 + q*win.cw
				for _, dl := range delta {
					chunk := pix[oq+dl] >> cshift & cmask
					cur |= chunk << fill
					if fill+cg >= 64 {
						d[wi] = cur
						wi++
						cur = chunk >> (64 - fill) // 0 when fill = 0
						fill = fill + cg - 64
					} else {
						fill += cg
					}
				}
				if fill > 0 {
					d[wi] = cur
				}
			}
			continue
		}
		pos := 0
		for ky := 0; ky < win.kh; ky++ {
			iy := oy*win.sh - win.pt + ky*win.dh
			for kx := 0; kx < win.kw; kx++ {
				ix := ox*win.sw - win.pl + kx*win.dw
				if iy >= 0 && iy < win.h && ix >= 0 && ix < win.w {
					o := ((b*win.h+iy)*win.w + ix) * np * win.cw
					if oneWord {
						// The group's channels sit in one word: shift them in.
						sh, dw := uint(pos&63), pos>>6
						spill := sh != 0 && int(sh)+win.cg > 64
						for q := 0; q < np; q++ {
							chunk := pix[o+q*win.cw+cword] >> cshift & cmask
							dst[q*win.kwords+dw] |= chunk << sh
							if spill {
								dst[q*win.kwords+dw+1] |= chunk >> (64 - sh)
							}
						}
					} else {
						for q := 0; q < np; q++ {
							appendBits(dst[q*win.kwords:(q+1)*win.kwords], pos, pix[o+q*win.cw:o+(q+1)*win.cw], win.c0, win.cg)
						}
					}
				} else if win.thresh && win.padOne {
					setOnes(dst[win.tplane*win.kwords:(win.tplane+1)*win.kwords], pos, win.cg)
				}
				pos += win.cg
			}
		}
	}
	c.valid = true
	m.live = append(m.live, k)
	return vec
}

// appendBits copies bits [from, from+n) of src to bits [pos, pos+n) of dst
// (which are zero).
func appendBits(dst []uint64, pos int, src []uint64, from, n int) {
	for n > 0 {
		// Take up to 64 bits from src at from.
		sw, sb := from>>6, from&63
		v := src[sw] >> sb
		take := 64 - sb
		if sb != 0 && sw+1 < len(src) {
			v |= src[sw+1] << (64 - sb)
			take = 64
		}
		take = min(take, n)
		if take < 64 {
			v &= 1<<take - 1
		}
		dw, db := pos>>6, pos&63
		dst[dw] |= v << db
		if db != 0 && db+take > 64 {
			dst[dw+1] |= v >> (64 - db)
		}
		from += take
		pos += take
		n -= take
	}
}

func setOnes(dst []uint64, pos, n int) {
	for i := pos; i < pos+n; i++ {
		dst[i>>6] |= 1 << (i & 63)
	}
}

// extract copies the bits from bit off on into dst, zero past src's end.
func extract(src []uint64, off int, dst []uint64) {
	sh, base := uint(off&63), off>>6
	for w := range dst {
		i := base + w
		var v uint64
		if i < len(src) {
			v = src[i] >> sh
			if sh != 0 && i+1 < len(src) {
				v |= src[i+1] << (64 - sh)
			}
		}
		dst[w] = v
	}
}

// mvm executes one MVM: for each window, each ADC row group of the image
// and each image channel, the per-column counts of every (input plane,
// weight plane) pair, clamped by the ADC, shift-added with their two's
// complement signs (SRAM) or as + minus − counts (eDRAM).
func (m *Machine) mvm(e isa.Engine, o *op) {
	win, img := o.win, o.img
	pc := m.p.pools[e]
	vec := m.windowPlanes(o.a[2], win)
	stride := win.nplanes * win.kwords
	nch := len(img.chans)
	if cap(m.sc.acc) < nch {
		m.sc.acc = make([]int64, nch)
	}
	acc := m.sc.acc[:nch]
	gw := img.gw
	np := 1
	if e == isa.SRAM {
		np = win.xbits
	}
	if cap(m.sc.xg) < np*gw {
		m.sc.xg = make([]uint64, np*gw)
	}
	if cap(m.sc.xpop) < np {
		m.sc.xpop = make([]int, np)
	}
	xg, xpop := m.sc.xg[:np*gw], m.sc.xpop[:np]
	sat := pc.sat
	if pc.ideal {
		sat = 1 << 30
	}
	P := win.oh * win.ow
	w0, nw := o.a[3], o.a[4]
	write := o.a[5] == 0
	planes := img.planes
	gsize := nch * planes * gw
	if cap(m.sc.choff) < nch {
		m.sc.choff = make([]int, nch)
	}
	choff := m.sc.choff[:nch]
	for j, ch := range img.chans {
		choff[j] = int(ch) * P
	}
	for w := w0; w < w0+nw; w++ {
		v := vec[w*stride : (w+1)*stride]
		clear(acc)
		for g := 0; g < img.groups; g++ {
			k0 := img.r0 + g*img.adcRows
			W := img.w[g*gsize : (g+1)*gsize]
			if e == isa.SRAM {
				any := false
				for i := 0; i < np; i++ {
					x := xg[i*gw : (i+1)*gw]
					extract(v[i*win.kwords:(i+1)*win.kwords], k0, x)
					c := 0
					for _, u := range x {
						c += bits.OnesCount64(u)
					}
					xpop[i] = c
					any = any || c > 0
				}
				if !any {
					continue
				}
				switch {
				case gw == 2 && np == 4 && planes == 4:
					sram44(xg, xpop, W, acc, sat, win.signed)
				case gw == 1 && np == 4 && planes == 4:
					sram44w1(xg, xpop, W, acc, sat, win.signed)
				case gw == 1 && np == 8 && planes == 8:
					sram88w1(xg, xpop, W, acc, sat, win.signed)
				default:
					sramAny(xg, xpop, W, acc, np, planes, gw, sat, win.signed)
				}
				continue
			}
			// eDRAM: the binary plane against the + and − cells.
			x := xg[:gw]
			extract(v[win.tplane*win.kwords:(win.tplane+1)*win.kwords], k0, x)
			xp := 0
			for _, u := range x {
				xp += bits.OnesCount64(u)
			}
			if xp == 0 {
				continue
			}
			s := sat
			if xp <= sat {
				s = 1 << 30
			}
			if gw == 2 {
				x0, x1 := x[0], x[1]
				for j := range acc {
					pm := W[4*j : 4*j+4 : 4*j+4]
					pp := bits.OnesCount64(x0&pm[0]) + bits.OnesCount64(x1&pm[1])
					mm := bits.OnesCount64(x0&pm[2]) + bits.OnesCount64(x1&pm[3])
					acc[j] += int64(min(pp, s) - min(mm, s))
				}
				continue
			}
			if gw == 1 {
				x0 := x[0]
				for j := range acc {
					pm := W[2*j : 2*j+2 : 2*j+2]
					acc[j] += int64(min(bits.OnesCount64(x0&pm[0]), s) - min(bits.OnesCount64(x0&pm[1]), s))
				}
				continue
			}
			for j := range acc {
				pl := W[(2*j)*gw : (2*j+1)*gw]
				mi := W[(2*j+1)*gw : (2*j+2)*gw]
				var pp, pm int
				for t, u := range x {
					pp += bits.OnesCount64(u & pl[t])
					pm += bits.OnesCount64(u & mi[t])
				}
				acc[j] += int64(min(pp, s) - min(pm, s))
			}
		}
		b, p := w/P, w%P
		ps := m.psum[win.psum+b*win.cout*P+p:]
		if write {
			for j, off := range choff {
				ps[off] = acc[j]
			}
		} else {
			for j, off := range choff {
				ps[off] += acc[j]
			}
		}
	}
}

// planeWeight is the signed weight of input plane i: 2^i, negative for the
// top plane of signed (two's complement) inputs.
func planeWeight(i, np int, signed bool) int64 {
	if signed && i == np-1 {
		return -(int64(1) << i)
	}
	return int64(1) << i
}

// sram44 is sramAny for 4-bit inputs, 4-bit weights and 128-row groups.
func sram44(x []uint64, xpop []int, W []uint64, acc []int64, sat int, signed bool) {
	if hasPOPCNT && len(acc) > 0 {
		var s [4]int64
		for i := range s {
			s[i] = int64(satOf(xpop[i], sat))
		}
		m3 := int64(8)
		if signed {
			m3 = -8
		}
		_ = W[8*len(acc)-1]
		if hasVPOPCNT && useVector {
			mw := [4]int64{1, 2, 4, m3}
			sram44v(&x[0], &s[0], &mw[0], &W[0], len(acc), &acc[0])
			return
		}
		sram44asm(&x[0], &s[0], m3, &W[0], len(acc), &acc[0])
		return
	}
	x = x[:8:8]
	x00, x01, x10, x11 := x[0], x[1], x[2], x[3]
	x20, x21, x30, x31 := x[4], x[5], x[6], x[7]
	// A plane whose count cannot reach the ADC's limit is never clamped.
	s0, s1, s2, s3 := 1<<30, 1<<30, 1<<30, 1<<30
	if xpop[0] > sat {
		s0 = sat
	}
	if xpop[1] > sat {
		s1 = sat
	}
	if xpop[2] > sat {
		s2 = sat
	}
	if xpop[3] > sat {
		s3 = sat
	}
	m3 := int64(8)
	if signed {
		m3 = -8
	}
	for j := range acc {
		w := W[8*j : 8*j+8 : 8*j+8]
		var a int64
		for q := 0; q < 4; q++ {
			w0, w1 := w[2*q], w[2*q+1]
			c0 := min(bits.OnesCount64(x00&w0)+bits.OnesCount64(x01&w1), s0)
			c1 := min(bits.OnesCount64(x10&w0)+bits.OnesCount64(x11&w1), s1)
			c2 := min(bits.OnesCount64(x20&w0)+bits.OnesCount64(x21&w1), s2)
			c3 := min(bits.OnesCount64(x30&w0)+bits.OnesCount64(x31&w1), s3)
			v := int64(c0) + 2*int64(c1) + 4*int64(c2) + m3*int64(c3)
			if q == 3 {
				a -= v << 3 // the weight's top plane is −8
			} else {
				a += v << q
			}
		}
		acc[j] += a
	}
}

// sramAny adds one row group's contribution to every channel's
// accumulator: Σ over input planes i and weight planes q of
// ±2^(i+q) · min(count, sat), the sign negative for the weight's top plane
// and for the top input plane of signed inputs.
func sramAny(x []uint64, xpop []int, W []uint64, acc []int64, np, planes, gw, sat int, signed bool) {
	for i := 0; i < np; i++ {
		if xpop[i] == 0 {
			continue
		}
		s := sat
		if xpop[i] <= sat {
			s = 1 << 30
		}
		pw := planeWeight(i, np, signed)
		xi := x[i*gw : (i+1)*gw]
		for j := range acc {
			wj := W[j*planes*gw : (j+1)*planes*gw]
			var a int64
			for q := 0; q < planes; q++ {
				wq := wj[q*gw : (q+1)*gw]
				c := 0
				for t, u := range xi {
					c += bits.OnesCount64(u & wq[t])
				}
				v := int64(min(c, s)) << q
				if q == planes-1 {
					a -= v
				} else {
					a += v
				}
			}
			acc[j] += a * pw
		}
	}
}

func satOf(pop, sat int) int {
	if pop > sat {
		return sat
	}
	return 1 << 30
}

// sram44w1 is sram44 for groups of at most 64 rows.
func sram44w1(x []uint64, xpop []int, W []uint64, acc []int64, sat int, signed bool) {
	if hasPOPCNT && len(acc) > 0 {
		var s [4]int64
		for i := range s {
			s[i] = int64(satOf(xpop[i], sat))
		}
		m3 := int64(8)
		if signed {
			m3 = -8
		}
		_ = W[4*len(acc)-1]
		if hasVPOPCNT && useVector {
			mw := [4]int64{1, 2, 4, m3}
			sram44w1v(&x[0], &s[0], &mw[0], &W[0], len(acc), &acc[0])
			return
		}
		sram44w1asm(&x[0], &s[0], m3, &W[0], len(acc), &acc[0])
		return
	}
	x = x[:4:4]
	x0, x1, x2, x3 := x[0], x[1], x[2], x[3]
	s0, s1, s2, s3 := satOf(xpop[0], sat), satOf(xpop[1], sat), satOf(xpop[2], sat), satOf(xpop[3], sat)
	m3 := int64(8)
	if signed {
		m3 = -8
	}
	for j := range acc {
		w := W[4*j : 4*j+4 : 4*j+4]
		var a int64
		for q := 0; q < 4; q++ {
			wq := w[q]
			v := int64(min(bits.OnesCount64(x0&wq), s0)) + 2*int64(min(bits.OnesCount64(x1&wq), s1)) +
				4*int64(min(bits.OnesCount64(x2&wq), s2)) + m3*int64(min(bits.OnesCount64(x3&wq), s3))
			if q == 3 {
				a -= v << 3
			} else {
				a += v << q
			}
		}
		acc[j] += a
	}
}

// sram88w1 is sramAny for 8-bit inputs and weights and groups of at most
// 64 rows (the INT8 first layers).
func sram88w1(x []uint64, xpop []int, W []uint64, acc []int64, sat int, signed bool) {
	x = x[:8:8]
	var s [8]int
	for i := range s {
		s[i] = satOf(xpop[i], sat)
	}
	m7 := int64(128)
	if signed {
		m7 = -128
	}
	for j := range acc {
		w := W[8*j : 8*j+8 : 8*j+8]
		var a int64
		for q := 0; q < 8; q++ {
			wq := w[q]
			if wq == 0 {
				continue
			}
			v := int64(min(bits.OnesCount64(x[0]&wq), s[0])) + 2*int64(min(bits.OnesCount64(x[1]&wq), s[1])) +
				4*int64(min(bits.OnesCount64(x[2]&wq), s[2])) + 8*int64(min(bits.OnesCount64(x[3]&wq), s[3])) +
				16*int64(min(bits.OnesCount64(x[4]&wq), s[4])) + 32*int64(min(bits.OnesCount64(x[5]&wq), s[5])) +
				64*int64(min(bits.OnesCount64(x[6]&wq), s[6])) + m7*int64(min(bits.OnesCount64(x[7]&wq), s[7]))
			if q == 7 {
				a -= v << 7
			} else {
				a += v << q
			}
		}
		acc[j] += a
	}
}

func popcount(u uint64) int { return bits.OnesCount64(u) }

// pixelPlanes is the general form of the pixel-plane transpose.
func (m *Machine) pixelPlanes(win *window, pix []uint64, mask int32) {
	hw := win.h * win.w
	np := win.nplanes
	for b := 0; b < win.n; b++ {
		for ch := 0; ch < win.c; ch++ {
			src := m.abuf[win.in+(b*win.c+ch)*hw : win.in+(b*win.c+ch+1)*hw]
			bit := uint64(1) << (ch & 63)
			word := ch >> 6
			base := b * hw * np * win.cw
			step := np * win.cw
			if win.planes {
				for i, u := range src {
					x := int32(u) & mask
					o := base + i*step + word
					for x != 0 {
						q := bits.TrailingZeros32(uint32(x))
						pix[o+q*win.cw] |= bit
						x &= x - 1
					}
				}
			}
			if win.thresh {
				o := base + win.tplane*win.cw + word
				thr := win.thr
				for i, u := range src {
					if int64(int32(u)) >= thr {
						pix[o+i*step] |= bit
					}
				}
			}
		}
	}
}

// rowPlanes builds the window vectors of a descriptor whose windows read
// all channels with unit horizontal dilation: the kw pixels of one kernel
// row are then kw·c consecutive bits of the image row laid out as
// (pixel, channel), so each kernel row is one bit-string copy. Rows are
// stored with the horizontal padding around them (zero, or one in the
// threshold plane when 0 ≥ thr).
func (m *Machine) rowPlanes(c *winCache, win *window) {
	np := win.nplanes
	C := win.c
	wp := max(win.pl+win.w, (win.ow-1)*win.sw+win.kw) // padded row, in pixels
	rbits := wp * C
	rw := (rbits+63)/64 + 1
	nrows := win.n * win.h
	need := nrows * np * rw
	if cap(c.pix) < need {
		c.pix = make([]uint64, need)
	}
	pix := c.pix[:need]
	clear(pix)
	// The padding of the threshold plane reads 1 when 0 ≥ thr.
	var onesRow []uint64
	if win.thresh && win.padOne {
		onesRow = make([]uint64, rw)
		setOnes(onesRow, 0, rbits)
		for r := 0; r < nrows; r++ {
			row := pix[(r*np+win.tplane)*rw : (r*np+win.tplane+1)*rw]
			setOnes(row, 0, win.pl*C)
			setOnes(row, (win.pl+win.w)*C, rbits-(win.pl+win.w)*C)
		}
	}
	mask := int32(1)<<win.xbits - 1
	hw := win.h * win.w
	if C <= 64 && win.xbits <= 4 && win.planes {
		// Pixel by pixel: the channels of a pixel gathered into one word
		// per plane in registers, then shifted into the row.
		put := func(row []uint64, bit int, v uint64) {
			wi, sh := bit>>6, uint(bit&63)
			row[wi] |= v << sh
			if sh != 0 && int(sh)+C > 64 {
				row[wi+1] |= v >> (64 - sh)
			}
		}
		thrM1 := win.thr - 1
		for b := 0; b < win.n; b++ {
			img := m.abuf[win.in+b*C*hw : win.in+(b+1)*C*hw]
			for iy := 0; iy < win.h; iy++ {
				base := (b*win.h + iy) * np * rw
				for ix := 0; ix < win.w; ix++ {
					var p0, p1, p2, p3, t uint64
					i := iy*win.w + ix
					for ch := 0; ch < C; ch++ {
						v := int32(img[ch*hw+i])
						x := uint64(v & mask)
						p0 |= (x & 1) << ch
						p1 |= (x >> 1 & 1) << ch
						p2 |= (x >> 2 & 1) << ch
						p3 |= (x >> 3 & 1) << ch
						// 1 iff v ≥ thr, without a branch.
						t |= uint64((thrM1-int64(v))>>63&1) << ch
					}
					bit := (win.pl + ix) * C
					ps := [4]uint64{p0, p1, p2, p3}
					for q := 0; q < win.xbits; q++ {
						if ps[q] != 0 {
							put(pix[base+q*rw:base+(q+1)*rw], bit, ps[q])
						}
					}
					if win.thresh && t != 0 {
						put(pix[base+win.tplane*rw:base+(win.tplane+1)*rw], bit, t)
					}
				}
			}
		}
	}
	for b := 0; b < win.n && !(C <= 64 && win.xbits <= 4 && win.planes); b++ {
		for ch := 0; ch < C; ch++ {
			src := m.abuf[win.in+(b*C+ch)*hw : win.in+(b*C+ch+1)*hw]
			for iy := 0; iy < win.h; iy++ {
				base := ((b*win.h + iy) * np) * rw
				line := src[iy*win.w : (iy+1)*win.w]
				for ix, u := range line {
					v := int32(u)
					bit := (win.pl+ix)*C + ch
					wi, sh := bit>>6, uint(bit&63)
					if win.planes {
						for x := v & mask; x != 0; x &= x - 1 {
							q := bits.TrailingZeros32(uint32(x))
							pix[base+q*rw+wi] |= 1 << sh
						}
					}
					if win.thresh {
						o := base + win.tplane*rw + wi
						if int64(v) >= win.thr {
							pix[o] |= 1 << sh
						}
					}
				}
			}
		}
	}
	// Window vectors: kh bit-string copies per plane.
	stride := np * win.kwords
	need = win.nwin * stride
	if cap(c.vec) < need {
		c.vec = make([]uint64, need)
	}
	vec := c.vec[:need]
	clear(vec)
	P := win.oh * win.ow
	n := win.kw * C
	nmask := ^uint64(0)
	if n < 64 {
		nmask = 1<<uint(n) - 1
	}
	for w := 0; w < win.nwin; w++ {
		b, p := w/P, w%P
		oy, ox := p/win.ow, p%win.ow
		dst := vec[w*stride : (w+1)*stride]
		from := ox * win.sw * C
		for ky := 0; ky < win.kh; ky++ {
			iy := oy*win.sh - win.pt + ky*win.dh
			pos := ky * n
			for q := 0; q < np; q++ {
				d := dst[q*win.kwords : (q+1)*win.kwords]
				if iy < 0 || iy >= win.h {
					if q == win.tplane && onesRow != nil {
						setOnes(d, pos, n)
					}
					continue
				}
				o := ((b*win.h+iy)*np + q) * rw
				if n <= 64 {
					// One word: the row has a slack word, d is zeroed.
					fw, fb := o+from>>6, uint(from&63)
					v := pix[fw] >> fb
					if fb != 0 {
						v |= pix[fw+1] << (64 - fb)
					}
					v &= nmask
					dw, db := pos>>6, uint(pos&63)
					d[dw] |= v << db
					if db != 0 && int(db)+n > 64 {
						d[dw+1] |= v >> (64 - db)
					}
					continue
				}
				appendBits(d, pos, pix[o:o+rw], from, n)
			}
		}
	}
}

// useVector lets tests compare the AVX-512 kernels with the scalar ones.
var useVector = true
