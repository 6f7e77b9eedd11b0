package dualnet

import (
	"encoding/binary"
	"math"
	"math/bits"

	"pimc/ir"
)

// mmStep executes QConv, DualConv, QGemm and DualGemm. For each output
// position it gathers the input codes of the kernel window into one vector
// in the canonical row order (ky, kx, input channel) — the order the ADC
// model's row tiles follow — computes each output channel's accumulator on
// its path, and requantizes. Codes are held as u = x + xoff (xoff =
// 2^(x_bits−1) for signed inputs, 0 otherwise) in bytes.
type mmStep struct {
	name                           string
	tap                            bool
	idx                            int // scratch key
	x, y, res                      int
	batch                          int
	cin, h, w                      int
	cout, oh, ow                   int
	kh, kw, sh, sw, ph, pw, dh, dw int
	hp, wp                         int
	groups, cg, kg, kpad, ocg      int
	gemm                           bool
	xbits                          int
	xoff                           int32
	runs                           []run      // gather runs of the window vector from the NHWC buffer
	chAll                          [][]int32  // per group: output channel of each block row (-1: padding)
	ipaths                         []*intPath // per group; nil entries for empty paths
	tpath                          *tbPath
	tau                            uint8 // threshold on u
	rq                             []Requant
	lo, hi                         int64
	sram, edram                    ADC
}

// intPath holds the rows (output channels) of one group computed on the
// SRAM path with multi-bit weights.
type intPath struct {
	rows, rowsPad int
	ch            []int32 // output channel of each row
	wbits         int
	kg, kpad      int
	w             []int8  // [rowsPad][kpad], canonical row order, zero padded
	wsum          []int64 // Σ_k w per row
	simd          bool
	simd8         bool // 8-bit inputs as two nibble vectors
	// ADC model: weight bit columns per row tile.
	ntiles, tw int
	wcol       []uint64 // [row][tile][wbits][tw]
	colpop     []int32  // [row][tile][wbits]
}

// tbPath holds the ternary rows, as +/− column bit masks per row tile.
type tbPath struct {
	rows        int
	ch          []int32
	ntiles, tw  int
	plus, minus []uint64 // [tile][row][tw]
	// Exact ADC: tiles do not matter; whole-vector masks per row.
	kw         int
	pall, mall []uint64 // [row][kw]
	// Exact ADC with AVX2: Σ b·t as a byte dot product.
	bytes *intPath
}

type mmScratch struct {
	xp     []uint8
	padded bool
	xcol   []uint8
	acc    []int32 // [16][block rows]
	pacc   []int64 // per path row
	dots   []int32
	planes []uint64 // per tile: [plane][tw]
	bw     []uint64 // per tile
	lo, hi []uint8
	bb     []uint8
	ge     []uint32 // per position: [x ≥ tau] bits of the whole vector
	geW    []uint64
	pl     []uint32 // per position: [plane][kpad/32] bits
}

// simdChunk bounds the rows one AVX2 call sums: 16-bit lanes hold pair
// sums of at most 2·15·7 = 210 each, 4096/32 = 128 times.
const simdChunk = 4096

func (e *Executor) compileMM(n *ir.Node, id map[*ir.Value]int, codeOut func() int) (step, error) {
	xs := n.In(0).Type.Shape
	s := &mmStep{name: n.Name, tap: e.tap, idx: len(e.steps), x: e.slots[id[n.In(0)]].store, res: -1, sram: e.sram, edram: e.edram}
	xin := e.slots[id[n.In(0)]]
	s.xbits = int(n.Int("x_bits", 8))
	if xin.bits > s.xbits || s.xbits > 8 {
		return nil, n.Errorf("input codes are %d-bit, the layer reads %d-bit codes (at most 8)", xin.bits, s.xbits)
	}
	if xin.sign {
		s.xoff = 1 << (s.xbits - 1)
	}
	dual := n.Op == ir.OpDualConv || n.Op == ir.OpDualGemm
	s.gemm = n.Op == ir.OpQGemm || n.Op == ir.OpDualGemm
	rqIn, resIn := 2, 3
	if dual {
		rqIn, resIn = 3, 5
	}
	rqT := n.In(rqIn).Const
	s.cout = int(rqT.Shape[0])
	s.rq = make([]Requant, s.cout)
	for c := range s.rq {
		r := rqT.I[c*4 : c*4+4]
		s.rq[c] = Requant{M: r[0], B: r[1], S: r[2], R: r[3]}
	}
	if r := n.In(resIn); r != nil {
		s.res = e.slots[id[r]].store
	}
	lo, hi := codeRange(int(n.Int("out_bits", 8)), n.Int("out_signed", 0) != 0)
	if n.Int("relu", 0) != 0 && lo < 0 {
		lo = 0
	}
	s.lo, s.hi = lo, hi
	s.groups = 1
	if s.gemm {
		s.batch, s.cin, s.h, s.w = int(xs[0]), int(xs[1]), 1, 1
		s.oh, s.ow, s.hp, s.wp = 1, 1, 1, 1
		s.kh, s.kw, s.sh, s.sw, s.dh, s.dw = 1, 1, 1, 1, 1, 1
	} else {
		s.batch, s.cin, s.h, s.w = int(xs[0]), int(xs[1]), int(xs[2]), int(xs[3])
		ws := n.In(1).Type.Shape
		s.kh, s.kw = int(ws[2]), int(ws[3])
		geo, err := ir.ResolveConv(n, xs[2:], ws[2:], false)
		if err != nil {
			return nil, n.Errorf("%v", err)
		}
		s.oh, s.ow = int(geo.Out[0]), int(geo.Out[1])
		s.sh, s.sw = int(geo.Strides[0]), int(geo.Strides[1])
		s.dh, s.dw = int(geo.Dilations[0]), int(geo.Dilations[1])
		s.ph, s.pw = int(geo.Pads[0]), int(geo.Pads[1])
		// The padded image covers every window, including windows that
		// reach past the end padding by less than a stride.
		s.hp = max(s.h+int(geo.Pads[0]+geo.Pads[2]), (s.oh-1)*s.sh+(s.kh-1)*s.dh+1)
		s.wp = max(s.w+int(geo.Pads[1]+geo.Pads[3]), (s.ow-1)*s.sw+(s.kw-1)*s.dw+1)
		s.groups = int(n.Int("group", 1))
	}
	s.cg = s.cin / s.groups
	s.ocg = s.cout / s.groups
	s.kg = s.cg * s.kh * s.kw
	s.kpad = (s.kg + 31) &^ 31
	for ky := 0; ky < s.kh; ky++ {
		for kx := 0; kx < s.kw; kx++ {
			r := run{dst: (ky*s.kw + kx) * s.cg, src: (ky*s.dh*s.wp + kx*s.dw) * s.cin, n: s.cg}
			// Neighbouring pixels of one kernel row are adjacent in the
			// NHWC buffer when all channels are read: merge their runs.
			if l := len(s.runs) - 1; l >= 0 && s.cg == s.cin && s.runs[l].dst+s.runs[l].n == r.dst && s.runs[l].src+s.runs[l].n == r.src {
				s.runs[l].n += r.n
				continue
			}
			s.runs = append(s.runs, r)
		}
	}
	// canon maps the IR weight layout [rows][cg][kh][kw] to the canonical
	// row order (ky, kx, c).
	canon := func(w []int64, rows int) []int64 {
		if s.gemm {
			return w
		}
		out := make([]int64, len(w))
		for r := 0; r < rows; r++ {
			for c := 0; c < s.cg; c++ {
				for ky := 0; ky < s.kh; ky++ {
					for kx := 0; kx < s.kw; kx++ {
						out[r*s.kg+(ky*s.kw+kx)*s.cg+c] = w[r*s.kg+(c*s.kh+ky)*s.kw+kx]
					}
				}
			}
		}
		return out
	}
	if dual {
		w4, wt, chm := n.In(1).Const, n.In(2).Const, n.In(4).Const
		n4 := int(w4.Shape[0])
		if n4 > 0 {
			s.ipaths = []*intPath{newIntPath(canon(w4.I, n4), chm.I[:n4], 4, s.kg, s.kpad, s.xbits, s.sram)}
		} else {
			s.ipaths = []*intPath{nil}
		}
		if nt := int(wt.Shape[0]); nt > 0 {
			s.tpath = newTBPath(canon(wt.I, nt), chm.I[n4:], s.kg, s.edram)
		}
		s.tau = uint8(int32(n.Int("tb_threshold", 1)) + s.xoff)
		if int32(n.Int("tb_threshold", 1))+s.xoff > 255 {
			s.tau = 255
		}
	} else {
		w := canon(n.In(1).Const.I, s.cout)
		wb := int(n.Int("w_bits", 8))
		for g := 0; g < s.groups; g++ {
			ch := make([]int64, s.ocg)
			for i := range ch {
				ch[i] = int64(g*s.ocg + i)
			}
			s.ipaths = append(s.ipaths, newIntPath(w[g*s.ocg*s.kg:(g+1)*s.ocg*s.kg], ch, wb, s.kg, s.kpad, s.xbits, s.sram))
		}
	}
	// Block rows per group: the SRAM path's rows (padded to 4), then the
	// TB path's.
	for g, p := range s.ipaths {
		var ch []int32
		if p != nil {
			ch = append(ch, p.ch...)
			for len(ch) < p.rowsPad {
				ch = append(ch, -1)
			}
		}
		if g == 0 && s.tpath != nil {
			ch = append(ch, s.tpath.ch...)
			for len(ch)%4 != 0 {
				ch = append(ch, -1)
			}
		}
		s.chAll = append(s.chAll, ch)
	}
	s.y = e.slots[codeOut()].store
	return s, nil
}

func newIntPath(w []int64, ch []int64, wbits, kg, kpad, xbits int, adc ADC) *intPath {
	rows := len(ch)
	p := &intPath{rows: rows, rowsPad: (rows + 3) &^ 3, wbits: wbits, kg: kg, kpad: kpad}
	p.simd = useAVX2 && wbits <= 4 && xbits <= 4
	p.simd8 = useAVX2 && wbits <= 8 && !p.simd
	p.ch = make([]int32, rows)
	for i, c := range ch {
		p.ch[i] = int32(c)
	}
	p.w = make([]int8, p.rowsPad*kpad)
	p.wsum = make([]int64, rows)
	for r := 0; r < rows; r++ {
		for k := 0; k < kg; k++ {
			p.w[r*kpad+k] = int8(w[r*kg+k])
			p.wsum[r] += w[r*kg+k]
		}
	}
	p.ntiles = (kg + adc.Rows - 1) / adc.Rows
	if !adc.Exact() {
		p.tw = (adc.Rows + 63) / 64
		p.wcol = make([]uint64, rows*p.ntiles*wbits*p.tw)
		p.colpop = make([]int32, rows*p.ntiles*wbits)
		wmask := int64(1)<<wbits - 1
		for r := 0; r < rows; r++ {
			for k := 0; k < kg; k++ {
				t, pos := k/adc.Rows, k%adc.Rows
				u := w[r*kg+k] & wmask // two's complement bits
				for j := 0; j < wbits; j++ {
					if u>>j&1 != 0 {
						p.wcol[((r*p.ntiles+t)*wbits+j)*p.tw+pos>>6] |= 1 << (pos & 63)
						p.colpop[(r*p.ntiles+t)*wbits+j]++
					}
				}
			}
		}
	}
	return p
}

func newTBPath(w []int64, ch []int64, kg int, adc ADC) *tbPath {
	rows := len(ch)
	p := &tbPath{rows: rows}
	p.ch = make([]int32, rows)
	for i, c := range ch {
		p.ch[i] = int32(c)
	}
	p.ntiles = (kg + adc.Rows - 1) / adc.Rows
	p.tw = (adc.Rows + 63) / 64
	p.kw = (kg + 63) / 64
	p.pall = make([]uint64, rows*p.kw)
	p.mall = make([]uint64, rows*p.kw)
	for r := 0; r < rows; r++ {
		for k := 0; k < kg; k++ {
			switch w[r*kg+k] {
			case 1:
				p.pall[r*p.kw+k>>6] |= 1 << (k & 63)
			case -1:
				p.mall[r*p.kw+k>>6] |= 1 << (k & 63)
			}
		}
	}
	if useAVX2 && adc.Exact() {
		p.bytes = newIntPath(w, ch, 2, kg, (kg+31)&^31, 1, ADC{Rows: adc.Rows, Ideal: true})
	}
	p.plus = make([]uint64, p.ntiles*rows*p.tw)
	p.minus = make([]uint64, p.ntiles*rows*p.tw)
	for r := 0; r < rows; r++ {
		for k := 0; k < kg; k++ {
			t, pos := k/adc.Rows, k%adc.Rows
			i := (t*rows+r)*p.tw + pos>>6
			switch w[r*kg+k] {
			case 1:
				p.plus[i] |= 1 << (pos & 63)
			case -1:
				p.minus[i] |= 1 << (pos & 63)
			}
		}
	}
	return p
}

func (s *mmStep) scratch(st *state) *mmScratch {
	if v, ok := st.scratch[s.idx]; ok {
		return v.(*mmScratch)
	}
	rall := 0
	for _, ch := range s.chAll {
		rall = max(rall, len(ch))
	}
	sc := &mmScratch{xcol: make([]uint8, s.kpad), acc: make([]int32, 16*rall+8), pacc: make([]int64, s.cout+4),
		dots: make([]int32, s.cout+8), xp: make([]uint8, s.hp*s.wp*s.cin)}
	tw := 1
	for _, p := range s.ipaths {
		if p != nil {
			tw = max(tw, p.tw)
		}
	}
	if s.tpath != nil {
		tw = max(tw, s.tpath.tw)
	}
	sc.planes = make([]uint64, 8*tw)
	sc.bw = make([]uint64, tw)
	sc.ge = make([]uint32, s.kpad/32)
	sc.lo, sc.hi = make([]uint8, s.kpad), make([]uint8, s.kpad)
	sc.bb = make([]uint8, s.kpad)
	sc.geW = make([]uint64, (s.kpad+63)/64)
	sc.pl = make([]uint32, 8*s.kpad/32)
	st.scratch[s.idx] = sc
	return sc
}

func (s *mmStep) run(st *state) error {
	sc := s.scratch(st)
	x, y := st.codes[s.x], st.codes[s.y]
	var res []int32
	if s.res >= 0 {
		res = st.codes[s.res]
	}
	imgIn := s.cin * s.h * s.w
	P := s.oh * s.ow
	pad := uint8(s.xoff)
	for b := 0; b < s.batch; b++ {
		img := x[b*imgIn : (b+1)*imgIn]
		// The padded NHWC image of u = x + xoff.
		xp := sc.xp
		if s.gemm {
			for k, v := range img {
				xp[k] = uint8(v + s.xoff)
			}
		} else {
			// The border keeps the pad value between images.
			if !sc.padded && (s.hp != s.h || s.wp != s.w) {
				for i := range xp {
					xp[i] = pad
				}
				sc.padded = true
			}
			for c := 0; c < s.cin; c++ {
				for iy := 0; iy < s.h; iy++ {
					row := img[(c*s.h+iy)*s.w : (c*s.h+iy+1)*s.w]
					o := ((iy+s.ph)*s.wp+s.pw)*s.cin + c
					for _, v := range row {
						xp[o] = uint8(v + s.xoff)
						o += s.cin
					}
				}
			}
		}
		outImg := y[b*s.cout*P : (b+1)*s.cout*P]
		var resImg []int32
		if res != nil {
			resImg = res[b*s.cout*P : (b+1)*s.cout*P]
		}
		acc := sc.acc
		for g := 0; g < s.groups; g++ {
			chAll := s.chAll[g]
			rall := len(chAll)
			ip := s.ipaths[g]
			toff := 0
			if ip != nil {
				toff = ip.rowsPad
			}
			for p0 := 0; p0 < P; p0 += 16 {
				p1 := min(p0+16, P)
				for pix := p0; pix < p1; pix++ {
					xcol := sc.xcol
					if s.gemm {
						copy(xcol, xp[:s.kg])
					} else {
						oy, ox := pix/s.ow, pix%s.ow
						base := (oy*s.sh*s.wp+ox*s.sw)*s.cin + g*s.cg
						gatherRuns(xcol, xp, base, s.runs)
					}
					ap := acc[(pix-p0)*rall : (pix-p0+1)*rall+4]
					if ip != nil {
						ip.dot(xcol, ap, sc, int32(s.xoff))
						if !s.sram.Exact() {
							planeBits(xcol, uint8(s.xoff), s.xbits, sc.pl)
							ip.adcCorrect(ap, sc, s.xoff != 0, s.xbits, s.sram)
						}
					}
					if t := s.tpath; t != nil && g == 0 {
						if t.bytes != nil {
							geBytesAVX2(&xcol[0], s.kpad, int8(s.tau-1), &sc.bb[0])
							t.bytes.dot(sc.bb, ap[toff:], sc, 0)
						} else {
							geBits(xcol, s.tau, sc.ge)
							t.dot(s.kg, ap[toff:], sc, s.edram)
						}
					}
				}
				if s.tap && st.tap != nil {
					t := st.tap[s.name]
					if t == nil {
						t = &tapSum{sum: make([]float64, s.cout), sq: make([]float64, s.cout)}
						st.tap[s.name] = t
					}
					for r, c := range chAll {
						if c < 0 {
							continue
						}
						q := s.rq[c]
						f := math.Ldexp(1, -int(q.S))
						for i := 0; i < p1-p0; i++ {
							v := (float64(acc[i*rall+r])*float64(q.M) + float64(q.B)) * f
							t.sum[c] += v
							t.sq[c] += v * v
						}
					}
					if g == 0 {
						t.n += float64(p1 - p0)
					}
				}
				// Requantize the block: acc is position-major, the output
				// channel-major.
				for r, c := range chAll {
					if c < 0 {
						continue
					}
					q := s.rq[c]
					sh := uint(q.S)
					half := int64(0)
					if sh > 0 {
						half = int64(1) << (sh - 1)
					}
					base := q.B + half
					out := outImg[int(c)*P+p0 : int(c)*P+p1]
					if resImg != nil {
						rs := resImg[int(c)*P+p0 : int(c)*P+p1]
						for i := range out {
							v := (int64(acc[i*rall+r])*q.M + int64(rs[i])*q.R + base) >> sh
							out[i] = int32(min(max(v, s.lo), s.hi))
						}
						continue
					}
					for i := range out {
						v := (int64(acc[i*rall+r])*q.M + base) >> sh
						out[i] = int32(min(max(v, s.lo), s.hi))
					}
				}
			}
		}
	}
	return nil
}

// dot computes every row's exact dot product Σ x·w into dst[:rowsPad]
// (padding rows get 0), where xcol holds u = x + xoff.
func (p *intPath) dot(xcol []uint8, dst []int32, sc *mmScratch, xoff int32) {
	dst = dst[:p.rowsPad+4]
	switch {
	case p.simd && p.kpad <= simdChunk:
		r := 0
		for ; r+8 <= p.rowsPad; r += 8 {
			dot8AVX2(&xcol[0], &p.w[r*p.kpad], p.kpad, p.kpad, &dst[r])
		}
		if r < p.rowsPad {
			dot4AVX2(&xcol[0], &p.w[r*p.kpad], p.kpad, p.kpad, &dst[r])
		}
	case p.simd:
		clear(dst[:p.rowsPad])
		part := dst[p.rowsPad : p.rowsPad+4]
		for r := 0; r < p.rowsPad; r += 4 {
			for k0 := 0; k0 < p.kpad; k0 += simdChunk {
				n := min(simdChunk, p.kpad-k0)
				dot4AVX2(&xcol[k0], &p.w[r*p.kpad+k0], n, p.kpad, &part[0])
				for i := 0; i < 4; i++ {
					dst[r+i] += part[i]
				}
			}
		}
	case p.simd8:
		// u = 16·hi + lo with hi, lo ≤ 15: pair sums of nibble × int8
		// stay below 2·15·127, so 256-row chunks fit 16-bit lanes.
		lo, hi := sc.lo[:p.kpad], sc.hi[:p.kpad]
		for k, u := range xcol[:p.kpad] {
			lo[k], hi[k] = u&15, u>>4
		}
		clear(dst[:p.rowsPad])
		var pl, ph [4]int32
		for r := 0; r < p.rowsPad; r += 4 {
			for k0 := 0; k0 < p.kpad; k0 += 256 {
				n := min(256, p.kpad-k0)
				dot4AVX2(&lo[k0], &p.w[r*p.kpad+k0], n, p.kpad, &pl[0])
				dot4AVX2(&hi[k0], &p.w[r*p.kpad+k0], n, p.kpad, &ph[0])
				for i := 0; i < 4; i++ {
					dst[r+i] += pl[i] + 16*ph[i]
				}
			}
		}
	default:
		xs := xcol[:p.kg]
		for r := 0; r < p.rowsPad; r++ {
			w := p.w[r*p.kpad : r*p.kpad+p.kg]
			var s int32
			for k, u := range xs {
				s += int32(u) * int32(w[k])
			}
			dst[r] = s
		}
	}
	if xoff != 0 {
		for r := 0; r < p.rows; r++ {
			dst[r] -= xoff * int32(p.wsum[r])
		}
	}
}

// adcCorrect applies the SRAM ADC model: for every row tile, input bit
// plane i and weight bit column j whose count p exceeds the converter's
// range, the exact contribution ±2^(i+j)·p is replaced by ±2^(i+j)·sat.
// sc.pl holds the input bit planes of the whole vector.
func (p *intPath) adcCorrect(dst []int32, sc *mmScratch, signed bool, xbits int, adc ADC) {
	sat := adc.Sat()
	tw := p.tw
	stride := len(sc.pl) / 8
	for t := 0; t < p.ntiles; t++ {
		k0, k1 := t*adc.Rows, min((t+1)*adc.Rows, p.kg)
		if k1-k0 <= sat {
			continue
		}
		planes := sc.planes[:xbits*tw]
		unsafe := 0
		for i := 0; i < xbits; i++ {
			pw := planes[i*tw : (i+1)*tw]
			tileWords(sc.pl[i*stride:(i+1)*stride], k0, k1, pw)
			pop := 0
			for _, w := range pw {
				pop += bits.OnesCount64(w)
			}
			if pop > sat {
				unsafe |= 1 << i
			}
		}
		if unsafe == 0 {
			continue
		}
		if tw == 2 {
			p.correct2(dst, planes, unsafe, t, sat, signed, xbits)
			continue
		}
		for r := 0; r < p.rows; r++ {
			base := (r*p.ntiles + t) * p.wbits
			for j := 0; j < p.wbits; j++ {
				if int(p.colpop[base+j]) <= sat {
					continue
				}
				wc := p.wcol[(base+j)*tw : (base+j+1)*tw]
				for i := 0; i < xbits; i++ {
					if unsafe>>i&1 == 0 {
						continue
					}
					cnt := 0
					pi := planes[i*tw : (i+1)*tw]
					for w, m := range wc {
						cnt += bits.OnesCount64(pi[w] & m)
					}
					if cnt <= sat {
						continue
					}
					d := int64(sat-cnt) << uint(i+j)
					neg := j == p.wbits-1
					if signed && i == xbits-1 {
						neg = !neg
					}
					if neg {
						d = -d
					}
					dst[r] += int32(d)
				}
			}
		}
	}
}

// dot computes every ternary row's accumulator Σ_tiles (ADC(p+) − ADC(p−))
// into sc.pacc; sc.ge holds the binary activations b = [u ≥ tau].
func (p *tbPath) dot(kg int, dst []int32, sc *mmScratch, adc ADC) {
	pacc := sc.pacc[:p.rows]
	clear(pacc)
	defer func() {
		for r, v := range pacc {
			dst[r] = int32(v)
		}
	}()
	tw := p.tw
	exact := adc.Exact()
	sat := adc.Sat()
	if exact {
		kw := p.kw
		b := sc.geW[:kw]
		for i := range b {
			b[i] = uint64(sc.ge[2*i])
			if 2*i+1 < len(sc.ge) {
				b[i] |= uint64(sc.ge[2*i+1]) << 32
			}
		}
		if kw <= 16 {
			for r := range pacc {
				pl, mi := p.pall[r*kw:(r+1)*kw:(r+1)*kw], p.mall[r*kw:(r+1)*kw:(r+1)*kw]
				c := 0
				for i, bv := range b {
					c += bits.OnesCount64(bv&pl[i]) - bits.OnesCount64(bv&mi[i])
				}
				pacc[r] = int64(c)
			}
			return
		}
	}
	for t := 0; t < p.ntiles; t++ {
		k0, k1 := t*adc.Rows, min((t+1)*adc.Rows, kg)
		bw := sc.bw[:tw]
		tileWords(sc.ge, k0, k1, bw)
		plus := p.plus[t*p.rows*tw : (t+1)*p.rows*tw]
		minus := p.minus[t*p.rows*tw : (t+1)*p.rows*tw]
		if tw == 2 {
			b0, b1 := bw[0], bw[1]
			if exact {
				for r := range pacc {
					pl, mi := plus[2*r:2*r+2:2*r+2], minus[2*r:2*r+2:2*r+2]
					pacc[r] += int64(bits.OnesCount64(b0&pl[0]) + bits.OnesCount64(b1&pl[1]) -
						bits.OnesCount64(b0&mi[0]) - bits.OnesCount64(b1&mi[1]))
				}
				continue
			}
			for r := range pacc {
				pl, mi := plus[2*r:2*r+2:2*r+2], minus[2*r:2*r+2:2*r+2]
				pp := bits.OnesCount64(b0&pl[0]) + bits.OnesCount64(b1&pl[1])
				pm := bits.OnesCount64(b0&mi[0]) + bits.OnesCount64(b1&mi[1])
				pacc[r] += int64(min(pp, sat) - min(pm, sat))
			}
			continue
		}
		for r := range pacc {
			pp, pm := 0, 0
			for w, b := range bw {
				pp += bits.OnesCount64(b & plus[r*tw+w])
				pm += bits.OnesCount64(b & minus[r*tw+w])
			}
			if !exact {
				pp, pm = min(pp, sat), min(pm, sat)
			}
			pacc[r] += int64(pp - pm)
		}
	}
}

// geBits sets bit k of dst iff xcol[k] ≥ tau, for the whole (32-padded)
// vector.
func geBits(xcol []uint8, tau uint8, dst []uint32) {
	if useAVX2 && tau <= 127 && tau >= 1 {
		geBitsAVX2(&xcol[0], len(xcol), int8(tau-1), &dst[0])
		return
	}
	for w := range dst {
		var m uint32
		for i, v := range xcol[w*32 : w*32+32] {
			if v >= tau {
				m |= 1 << i
			}
		}
		dst[w] = m
	}
}

// planeBits sets bit k of plane i (dst[i·len(xcol)/32 ...]) iff bit i of
// xcol[k] ^ flip is set, for i < nplanes.
func planeBits(xcol []uint8, flip uint8, nplanes int, dst []uint32) {
	stride := len(xcol) / 32
	if useAVX2 {
		planesAVX2(&xcol[0], len(xcol), flip, nplanes, &dst[0])
		return
	}
	for i := 0; i < nplanes; i++ {
		for w := 0; w < stride; w++ {
			var m uint32
			for j, v := range xcol[w*32 : w*32+32] {
				m |= uint32((v^flip)>>i&1) << j
			}
			dst[i*stride+w] = m
		}
	}
}

// tileWords extracts bits [k0, k1) of src into dst (bit 0 of dst[0] =
// bit k0), clearing the bits past k1.
func tileWords(src []uint32, k0, k1 int, dst []uint64) {
	n := k1 - k0
	if k0%32 == 0 {
		j := k0 / 32
		for w := range dst {
			var v uint64
			if j+2*w < len(src) {
				v = uint64(src[j+2*w])
			}
			if j+2*w+1 < len(src) {
				v |= uint64(src[j+2*w+1]) << 32
			}
			if rem := n - 64*w; rem < 64 {
				if rem <= 0 {
					v = 0
				} else {
					v &= 1<<uint(rem) - 1
				}
			}
			dst[w] = v
		}
		return
	}
	clear(dst)
	for r := 0; r < n; r++ {
		k := k0 + r
		if src[k>>5]>>(k&31)&1 != 0 {
			dst[r>>6] |= 1 << (r & 63)
		}
	}
}

// gatherRuns copies the window's runs from the NHWC image into the
// window vector.
func gatherRuns(xcol, xp []uint8, base int, runs []run) {
	for _, r := range runs {
		src := xp[base+r.src : base+r.src+r.n : base+r.src+r.n]
		dst := xcol[r.dst : r.dst+r.n : r.dst+r.n]
		j := 0
		for ; j+8 <= r.n; j += 8 {
			binary.LittleEndian.PutUint64(dst[j:], binary.LittleEndian.Uint64(src[j:]))
		}
		for ; j < r.n; j++ {
			dst[j] = src[j]
		}
	}
}

// run copies n bytes from offset src (relative to the window's first pixel
// in the NHWC buffer) to position dst of the window vector.
type run struct{ dst, src, n int }

// correct2 is adcCorrect's inner loop for two-word tiles (64 < R ≤ 128).
func (p *intPath) correct2(dst []int32, planes []uint64, unsafe, t, sat int, signed bool, xbits int) {
	wb := p.wbits
	for i := 0; i < xbits; i++ {
		if unsafe>>i&1 == 0 {
			continue
		}
		b0, b1 := planes[2*i], planes[2*i+1]
		negI := signed && i == xbits-1
		for r := 0; r < p.rows; r++ {
			base := (r*p.ntiles + t) * wb
			wc := p.wcol[2*base : 2*(base+wb) : 2*(base+wb)]
			var d int64
			for j := 0; j < wb; j++ {
				cnt := bits.OnesCount64(b0&wc[2*j]) + bits.OnesCount64(b1&wc[2*j+1])
				if cnt <= sat {
					continue
				}
				v := int64(sat-cnt) << uint(j)
				if j == wb-1 {
					v = -v
				}
				d += v
			}
			if d != 0 {
				if negI {
					d = -d
				}
				dst[r] += int32(d << uint(i))
			}
		}
	}
}
