package dualnet

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"

	"pimc/ir"
)

// mmStep executes QConv, DualConv, QGemm and DualGemm. For each output
// position it gathers the input codes of the kernel window into one vector
// in the canonical row order (ky, kx, input channel) — the order the ADC
// model's row tiles follow — and computes each output channel's accumulator
// on its path; blocks of posBlock positions are then requantized together.
// Codes are held as u = x + xoff (xoff = 2^(x_bits−1) for signed inputs, 0
// otherwise) in bytes.
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
	bases                          []int      // per output position: the window's offset in the NHWC buffer
	chAll                          [][]int32  // per group: output channel of each block row (-1: padding)
	rqRows                         [][]rqRow  // per group: requantization of each block row
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
	// AVX512_VNNI (dotBlkVNNI): w as [group][kpad/4][16 rows][4], groups
	// of 16 rows; the last group's mask covers rowsPad.
	wq       []int8
	ng16, kq int
	lastMask uint64
	// ADC model: weight bit columns per row tile.
	ntiles, tw int
	wcol       []uint64 // [row][tile][wbits][tw]
	colpop     []int32  // [row][tile][wbits]
	// AVX-512 layout of wcol for two-word tiles: [tile][wbits][word][rows8],
	// eight rows per vector.
	rows8 int
	wz    []uint64
	// adcPix512 (128-row tiles): per tile the masks of its rows in the two
	// words (0 for tiles of ≤ sat rows, which cannot saturate), and the
	// terms' weights −σ_i σ_j 2^(i+j) [xbits][wbits] for unsigned and
	// signed inputs.
	tmask        []uint64
	coefU, coefS []int64
	// adcPixG512 (GFNI, VNNI): tmask and wz with the bits of each byte
	// reversed (revBits8), coefU and coefS as 16-bit values in int32.
	tmaskG, wzG      []uint64
	coefU16, coefS16 []int32
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
	// AVX-512 layout for two-word tiles: [tile][+lo, +hi, −lo, −hi][rows8].
	rows8 int
	wz    []uint64
	tmask []uint64 // tbPix512 (128-row tiles): each tile's rows in its two words
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
	zpl    []uint64 // AVX-512 ADC kernels: the planes that can saturate / tile words
	coef   []int64
	// dotBlkVNNI: the window vectors of a block of positions (stride xs,
	// each as xcol), and the rows' −xoff·Σw.
	xcol0 []uint8
	xblk  []uint8
	xs    int
	bias  []int32
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
	// Each output position's window base in the padded NHWC image.
	s.bases = make([]int, s.oh*s.ow)
	for pix := range s.bases {
		oy, ox := pix/s.ow, pix%s.ow
		s.bases[pix] = (oy*s.sh*s.wp + ox*s.sw) * s.cin
	}
	// canon maps the IR weight layout [rows][cg][kh][kw] to the canonical
	// row order (ky, kx, c).
	canon := func(t *ir.Tensor, rows int) []int8 {
		w := t.Int8s()
		if s.gemm {
			return w
		}
		out := make([]int8, len(w))
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
			s.ipaths = []*intPath{newIntPath(canon(w4, n4), chm.I[:n4], 4, s.kg, s.kpad, s.xbits, s.sram)}
		} else {
			s.ipaths = []*intPath{nil}
		}
		if nt := int(wt.Shape[0]); nt > 0 {
			s.tpath = newTBPath(canon(wt, nt), chm.I[n4:], s.kg, s.edram)
		}
		s.tau = uint8(int32(n.Int("tb_threshold", 1)) + s.xoff)
		if int32(n.Int("tb_threshold", 1))+s.xoff > 255 {
			s.tau = 255
		}
	} else {
		w := canon(n.In(1).Const, s.cout)
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
			// Whole groups of 8 TB rows: tbPix512 stores eight rows at a
			// time, and must not reach the next position's accumulators
			// (formed before with dotBlkVNNI).
			toff := len(ch)
			ch = append(ch, s.tpath.ch...)
			for (len(ch)-toff)%8 != 0 {
				ch = append(ch, -1)
			}
		}
		s.chAll = append(s.chAll, ch)
	}
	for _, ch := range s.chAll {
		// Whole groups of 8 for rqT512; padding rows have c = −1.
		rows := make([]rqRow, (len(ch)+7)&^7)
		for r := range rows {
			rows[r].c = -1
		}
		for r, c := range ch {
			rows[r].c = c
			if c < 0 {
				continue
			}
			q := s.rq[c]
			rows[r].m, rows[r].r, rows[r].sh = q.M, q.R, uint64(q.S)
			rows[r].lo, rows[r].hi = s.lo, s.hi
			rows[r].base = q.B
			if q.S > 0 {
				rows[r].base += int64(1) << (q.S - 1)
			}
		}
		s.rqRows = append(s.rqRows, rows)
	}
	s.y = e.slots[codeOut()].store
	return s, nil
}

// rqRow is one block row's requantization (§6) with the rounding half
// folded into base.
type rqRow struct {
	rqParams
	c int32
}

// rqParams is the layout rqT512 reads (with rqRow.c at byte 48, 56 bytes
// per row on amd64; checked in exec_adc_amd64.go).
type rqParams struct {
	m, base, r int64
	sh         uint64
	lo, hi     int64
}

// posBlock is the number of output positions whose accumulators are
// formed before they are requantized together.
const posBlock = 32

func newIntPath(w []int8, ch []int64, wbits, kg, kpad, xbits int, adc ADC) *intPath {
	rows := len(ch)
	p := &intPath{rows: rows, rowsPad: (rows + 3) &^ 3, wbits: wbits, kg: kg, kpad: kpad}
	p.simd = useAVX2 && wbits <= 4 && xbits <= 4
	p.simd8 = useAVX2 && wbits <= 8 && !p.simd
	p.ch = make([]int32, rows)
	for i, c := range ch {
		p.ch[i] = int32(c)
	}
	p.w = alignedI8(p.rowsPad * kpad)
	p.wsum = make([]int64, rows)
	for r := 0; r < rows; r++ {
		for k := 0; k < kg; k++ {
			p.w[r*kpad+k] = w[r*kg+k]
			p.wsum[r] += int64(w[r*kg+k])
		}
	}
	if useVNNI {
		p.ng16 = (p.rowsPad + 15) / 16
		p.lastMask = 1<<uint(p.rowsPad-16*(p.ng16-1)) - 1
		// K in whole pairs of 4-byte quads (dotBlkVNNI's one-pixel loop
		// takes two per step), not padded to 32.
		p.kq = (kg + 7) / 8 * 2
		p.wq = alignedI8(p.ng16 * 16 * 4 * p.kq)
		for r := 0; r < rows; r++ {
			g, l := r/16, r%16
			for k := 0; k < kg; k++ {
				p.wq[((g*p.kq+k/4)*16+l)*4+k%4] = p.w[r*kpad+k]
			}
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
				u := int64(w[r*kg+k]) & wmask // two's complement bits
				for j := 0; j < wbits; j++ {
					if u>>j&1 != 0 {
						p.wcol[((r*p.ntiles+t)*wbits+j)*p.tw+pos>>6] |= 1 << (pos & 63)
						p.colpop[(r*p.ntiles+t)*wbits+j]++
					}
				}
			}
		}
		if useAVX512 && p.tw == 2 && adc.Rows == 128 {
			p.tmask = tileMasks(kg, p.ntiles, adc.Sat())
			p.coefU = make([]int64, xbits*wbits)
			p.coefS = make([]int64, xbits*wbits)
			for i := 0; i < xbits; i++ {
				for j := 0; j < wbits; j++ {
					c := int64(1) << uint(i+j)
					if j == wbits-1 {
						c = -c
					}
					p.coefU[i*wbits+j] = -c
					if i == xbits-1 {
						c = -c
					}
					p.coefS[i*wbits+j] = -c
				}
			}
		}
		if (useAVX512 || useAVX2) && p.tw == 2 {
			// adcCorr512 / adcCorr256 layout.
			p.rows8 = (rows + 7) &^ 7
			p.wz = alignedU64(p.ntiles * wbits * 2 * p.rows8)
			for r := 0; r < rows; r++ {
				for t := 0; t < p.ntiles; t++ {
					for j := 0; j < wbits; j++ {
						for h := 0; h < 2; h++ {
							p.wz[((t*wbits+j)*2+h)*p.rows8+r] = p.wcol[((r*p.ntiles+t)*wbits+j)*2+h]
						}
					}
				}
			}
		}
		if useGFNI && useVNNI && p.tmask != nil {
			p.coefU16 = make([]int32, len(p.coefU))
			p.coefS16 = make([]int32, len(p.coefS))
			for i := range p.coefU {
				p.coefU16[i] = int32(uint16(int16(p.coefU[i])))
				p.coefS16[i] = int32(uint16(int16(p.coefS[i])))
			}
			p.tmaskG = make([]uint64, len(p.tmask))
			for i, m := range p.tmask {
				p.tmaskG[i] = revBits8(m)
			}
			p.wzG = alignedU64(len(p.wz))
			for i, m := range p.wz {
				p.wzG[i] = revBits8(m)
			}
		}
	}
	return p
}

func newTBPath(w []int8, ch []int64, kg int, adc ADC) *tbPath {
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
	// With AVX-512 and 128-row tiles, tbPix512 serves exact ADCs too (its
	// popcounts beat the byte dot product); else AVX2 uses the byte kernel.
	tiles512 := useAVX512 && p.tw == 2 && adc.Rows == 128
	if useAVX2 && adc.Exact() && !tiles512 {
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
	// tbTiles512 / tbTiles256 layout (AVX2: non-exact ADCs only, exact
	// ones use the byte kernel).
	if p.tw == 2 && ((useAVX512 && (!adc.Exact() || tiles512)) || (useAVX2 && !adc.Exact())) {
		p.rows8 = (rows + 7) &^ 7
		p.wz = alignedU64(p.ntiles * 4 * p.rows8)
		if useAVX512 && adc.Rows == 128 {
			p.tmask = tileMasks(kg, p.ntiles, 0)
		}
		for t := 0; t < p.ntiles; t++ {
			for r := 0; r < rows; r++ {
				for h := 0; h < 2; h++ {
					p.wz[(t*4+h)*p.rows8+r] = p.plus[(t*rows+r)*2+h]
					p.wz[(t*4+2+h)*p.rows8+r] = p.minus[(t*rows+r)*2+h]
				}
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
	// xcol is 64-padded so that bit vectors made from it (planes, b) are
	// whole 64-bit words: tiles of a multiple of 64 rows read them directly.
	kpad64 := (s.kpad + 63) &^ 63
	// adcPix512 reads whole 128-byte tiles.
	xs := max(kpad64, (s.kg+127)&^127)
	sc := &mmScratch{xcol: alignedU8(xs)[:kpad64], acc: make([]int32, posBlock*rall+8), pacc: make([]int64, s.cout+4),
		dots: make([]int32, s.cout+8), xp: make([]uint8, s.hp*s.wp*s.cin, s.hp*s.wp*s.cin+64)}
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
	sc.ge = make([]uint32, kpad64/32)
	sc.lo, sc.hi = make([]uint8, s.kpad), make([]uint8, s.kpad)
	sc.bb = make([]uint8, s.kpad)
	sc.geW = make([]uint64, (s.kpad+63)/64)
	sc.pl = make([]uint32, 8*kpad64/32)
	ntiles := (s.kg + min(s.sram.Rows, s.edram.Rows) - 1) / min(s.sram.Rows, s.edram.Rows)
	// adcPix512 lists up to 3·xbits words per tile, adcPixG512 four
	// arrays of 8·ntiles + 8.
	sc.zpl = make([]uint64, max(24, 32*ntiles+32))
	sc.coef = make([]int64, 64)
	sc.xcol0, sc.xs = sc.xcol, xs
	blk := s.tpath != nil && s.tpath.tmask != nil
	for _, p := range s.ipaths {
		if p != nil && p.wq != nil {
			blk = true
			sc.bias = make([]int32, max(len(sc.bias), 16*p.ng16))
		}
	}
	if blk {
		// gatherBlk512 writes up to 63 bytes past a vector's end.
		sc.xblk = alignedU8(posBlock*xs + 64)
	}
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
			// Reading several channels at one pixel touches addresses
			// h·w·4 bytes apart: beyond 1 KB they share L1 sets and
			// thrash, and the channel-by-channel loop below is faster.
			packed := s.h*s.w <= 256
			switch {
			case useVBMI && s.cin%16 == 0 && s.w%16 == 0:
				// 16×16 blocks: each cache line of img is read once.
				packed = true
				for iy := 0; iy < s.h; iy++ {
					o := ((iy+s.ph)*s.wp + s.pw) * s.cin
					_ = xp[o+s.w*s.cin-1]
					_ = img[(s.cin-1)*s.h*s.w+iy*s.w+s.w-1]
					nhwcT512(&img[iy*s.w], s.h*s.w, s.cin, s.w, s.xoff, &xp[o], &nhwcIdx[0])
				}
			case !packed:
			case useAVX512 && s.cin%16 == 0:
				hw := s.h * s.w
				for iy := 0; iy < s.h; iy++ {
					o := ((iy+s.ph)*s.wp + s.pw) * s.cin
					_ = xp[o+s.w*s.cin-1]
					nhwc512(&img[iy*s.w], hw, s.cin, s.w, s.xoff, &xp[o])
				}
			case s.cin%8 == 0:
				transposeNHWC8(xp, img, s.cin, s.h, s.w, s.wp, s.ph, s.pw, s.xoff)
			}
			for c := 0; c < s.cin && (!packed || s.cin%8 != 0); c++ {
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
			for p0 := 0; p0 < P; p0 += posBlock {
				p1 := min(p0+posBlock, P)
				// With AVX-512, the block's window vectors are gathered
				// first (rows of sc.xblk) and the kernels run over the
				// whole block; the rest runs per position.
				blk := sc.xblk != nil
				n := p1 - p0
				exact := s.sram.Exact()
				tp := s.tpath
				if g != 0 {
					tp = nil
				}
				dotDone, adcDone, tbDone := ip == nil, ip == nil || exact, tp == nil
				sc.xcol = sc.xcol0
				if blk {
					s.gatherBlk(sc, xp, p0, n, g)
					if ip != nil && ip.wq != nil {
						ip.dotBlk(sc.xblk, sc.xs, n, acc, rall, sc, s.xoff)
						dotDone = true
						if !adcDone && ip.adc512(rall+4, sc, s.xbits) {
							ip.adcBlk(sc.xblk, sc.xs, n, acc, rall, sc, s.xoff, s.xbits, s.sram)
							adcDone = true
						}
					}
					if tp != nil && tp.bytes == nil && tp.tb512(rall-toff, sc) {
						tp.applyBlk(sc.xblk, sc.xs, n, acc[toff:], rall, sc, s.tau, s.edram)
						tbDone = true
					}
				}
				for pix := p0; pix < p1 && !(dotDone && adcDone && tbDone); pix++ {
					xcol := sc.xcol0[:s.kpad]
					if blk {
						o := (pix - p0) * sc.xs
						sc.xcol = sc.xblk[o : o+len(sc.xcol0) : o+sc.xs]
						xcol = sc.xcol[:s.kpad]
					} else {
						s.gather(xcol, xp, pix, g)
					}
					ap := acc[(pix-p0)*rall : (pix-p0+1)*rall+4]
					if !dotDone {
						ip.dot(xcol, ap, sc, int32(s.xoff))
					}
					if !adcDone {
						ip.adcApply(ap, sc, s.xoff, s.xbits, s.sram)
					}
					if !tbDone {
						if tp.bytes != nil {
							geBytesAVX2(&xcol[0], s.kpad, int8(s.tau-1), &sc.bb[0])
							tp.bytes.dot(sc.bb, ap[toff:], sc, 0)
						} else {
							tp.apply(ap[toff:], sc, s.tau, s.kg, s.edram)
						}
					}
				}
				sc.xcol = sc.xcol0
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
				lo, hi := s.lo, s.hi
				rqRows := s.rqRows[g]
				// AVX-512: whole groups of 8 positions; the rest below.
				n8 := 0
				if useAVX512 {
					n8 = (p1 - p0) &^ 7
				}
				if n8 > 0 {
					var rp *int32
					if resImg != nil {
						rp = &resImg[p0]
					}
					rqT512(&acc[0], rall, &rqRows[0], len(rqRows)/8, n8, &outImg[p0], P, rp)
				}
				for r := range rqRows {
					q := &rqRows[r]
					if q.c < 0 || n8 == p1-p0 {
						continue
					}
					out := outImg[int(q.c)*P+p0 : int(q.c)*P+p1]
					a := acc[r : (len(out)-1)*rall+r+1]
					if resImg != nil {
						rs := resImg[int(q.c)*P+p0 : int(q.c)*P+p1]
						rs = rs[:len(out)]
						for i := n8; i < len(out); i++ {
							v := (int64(a[i*rall])*q.m + int64(rs[i])*q.r + q.base) >> q.sh
							out[i] = int32(min(max(v, lo), hi))
						}
						continue
					}
					for i := n8; i < len(out); i++ {
						v := (int64(a[i*rall])*q.m + q.base) >> q.sh
						out[i] = int32(min(max(v, lo), hi))
					}
				}
			}
		}
	}
	return nil
}

// gatherBlk forms the window vectors of output positions p0..p0+n−1
// (group g) in the rows of sc.xblk.
func (s *mmStep) gatherBlk(sc *mmScratch, xp []uint8, p0, n, g int) {
	// Bounds: the runs are in increasing order of dst and src, bases
	// increase, and compileMM's runs end within the window vector and,
	// from any window's base, within the image; gatherBlk512 reads and
	// writes up to 63 bytes past a run's end, within the 64 bytes of
	// slack of xp and xblk (and before the next run rewrites them).
	last := s.runs[len(s.runs)-1]
	bases := s.bases[p0 : p0+n]
	_ = xp[:cap(xp)][g*s.cg+bases[n-1]+last.src+last.n-1+64]
	_ = sc.xblk[(n-1)*sc.xs+last.dst+last.n-1+64]
	if last.dst+last.n > sc.xs {
		panic("BUG: window vector longer than its row")
	}
	gatherBlk512(&sc.xblk[0], sc.xs, &xp[:cap(xp)][g*s.cg], &bases[0], n, &s.runs[0], len(s.runs))
}

// gather forms the window vector of output position pix (group g) in
// xcol.
func (s *mmStep) gather(xcol, xp []uint8, pix, g int) {
	if s.gemm {
		copy(xcol, xp[:s.kg])
		return
	}
	oy, ox := pix/s.ow, pix%s.ow
	base := (oy*s.sh*s.wp+ox*s.sw)*s.cin + g*s.cg
	gatherRuns(xcol, xp, base, s.runs)
}

// dot computes every row's exact dot product Σ x·w into dst[:rowsPad]
// (padding rows get 0), where xcol holds u = x + xoff.
func (p *intPath) dot(xcol []uint8, dst []int32, sc *mmScratch, xoff int32) {
	dst = dst[:p.rowsPad+4]
	if p.wq != nil {
		p.dotBlk(xcol, p.kpad, 1, dst, 0, sc, xoff)
		return
	}
	switch {
	case p.simd && p.kpad <= simdChunk:
		r := 0
		if useVNNI {
			for ; r+8 <= p.rowsPad; r += 8 {
				dot8VNNI(&xcol[0], &p.w[r*p.kpad], p.kpad, p.kpad, &dst[r])
			}
		}
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
		r0 := 0
		if useVNNI {
			// 32-bit lanes: whole bytes, any length.
			for ; r0+8 <= p.rowsPad; r0 += 8 {
				dot8VNNI(&xcol[0], &p.w[r0*p.kpad], p.kpad, p.kpad, &dst[r0])
			}
			if r0 == p.rowsPad {
				break
			}
		}
		lo, hi := sc.lo[:p.kpad], sc.hi[:p.kpad]
		for k, u := range xcol[:p.kpad] {
			lo[k], hi[k] = u&15, u>>4
		}
		if p.kpad <= 256 {
			// One chunk: eight rows per call.
			var ph [8]int32
			for ; r0+8 <= p.rowsPad; r0 += 8 {
				dot8AVX2(&lo[0], &p.w[r0*p.kpad], p.kpad, p.kpad, &dst[r0])
				dot8AVX2(&hi[0], &p.w[r0*p.kpad], p.kpad, p.kpad, &ph[0])
				for i, v := range ph {
					dst[r0+i] += 16 * v
				}
			}
		}
		clear(dst[r0:p.rowsPad])
		var pl, ph [4]int32
		for r := r0; r < p.rowsPad; r += 4 {
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

// dotBlk computes the exact dot products of npix window vectors (rows of
// xblk, stride xs, u = x + xoff) into acc[i·rall : i·rall+rowsPad] with
// dotBlkVNNI (padding rows get 0).
func (p *intPath) dotBlk(xblk []uint8, xs, npix int, acc []int32, rall int, sc *mmScratch, xoff int32) {
	_ = xblk[(npix-1)*xs+4*p.kq-1]
	_ = acc[(npix-1)*rall+p.rowsPad-1]
	if len(sc.bias) < 16*p.ng16 {
		sc.bias = make([]int32, 16*p.ng16)
	}
	bias := sc.bias[:16*p.ng16]
	for r := range bias {
		bias[r] = 0
		if r < p.rows {
			bias[r] = -xoff * int32(p.wsum[r])
		}
	}
	dotBlkVNNI(&xblk[0], xs, npix, &p.wq[0], p.kq, p.ng16, &bias[0], &acc[0], rall, p.lastMask)
}

// adcApply applies the SRAM ADC model to dst, the exact dot products of
// the window vector sc.xcol (u = x + xoff): one AVX-512 call for the whole
// vector with 128-row tiles, else bit planes and adcCorrect.
func (p *intPath) adcApply(dst []int32, sc *mmScratch, xoff int32, xbits int, adc ADC) {
	if p.adc512(len(dst), sc, xbits) {
		p.adcBlk(sc.xcol[:cap(sc.xcol)], cap(sc.xcol), 1, dst, 0, sc, xoff, xbits, adc)
		return
	}
	planeBits(sc.xcol, uint8(xoff), xbits, sc.pl)
	p.adcCorrect(dst, sc, xoff != 0, xbits, adc)
}

// adc512 reports whether adcPix512 serves this path (128-row tiles), with
// window vectors of at least 128·ntiles bytes and n accumulators.
func (p *intPath) adc512(n int, sc *mmScratch, xbits int) bool {
	return p.tmask != nil && n >= p.rows8 && cap(sc.xcol) >= 128*p.ntiles && len(p.coefU) == xbits*p.wbits
}

// adcBlk applies adcPix512 to npix window vectors (rows of xblk, stride
// xs ≥ 128·ntiles) and their accumulators (rows of acc, stride rall; the
// kernel adds 0 to rows rowsPad..rows8, which may be the next vector's).
func (p *intPath) adcBlk(xblk []uint8, xs, npix int, acc []int32, rall int, sc *mmScratch, xoff int32, xbits int, adc ADC) {
	_ = xblk[(npix-1)*xs+128*p.ntiles-1]
	_ = acc[(npix-1)*rall+p.rows8-1]
	coef := p.coefU
	if xoff != 0 {
		coef = p.coefS
	}
	if p.tmaskG != nil {
		c16 := p.coefU16
		if xoff != 0 {
			c16 = p.coefS16
		}
		adcPixG512(&xblk[0], xs, npix, uint8(xoff), xbits, &p.tmaskG[0], p.ntiles, &p.wzG[0], p.wbits, p.rows8, int64(adc.Sat()), &c16[0], &acc[0], rall, &sc.zpl[0])
		return
	}
	adcPix512(&xblk[0], xs, npix, uint8(xoff), xbits, &p.tmask[0], p.ntiles, &p.wz[0], p.wbits, p.rows8, int64(adc.Sat()), &coef[0], &acc[0], rall, &sc.zpl[0])
}

// adcCorrect applies the SRAM ADC model: for every row tile, input bit
// plane i and weight bit column j whose count p exceeds the converter's
// range, the exact contribution ±2^(i+j)·p is replaced by ±2^(i+j)·sat.
// sc.pl holds the input bit planes of the whole vector.
func (p *intPath) adcCorrect(dst []int32, sc *mmScratch, signed bool, xbits int, adc ADC) {
	sat := adc.Sat()
	tw := p.tw
	stride := len(sc.pl) / 8
	if tw == 2 && adc.Rows%64 == 0 {
		planes := sc.planes[:2*xbits]
		for t := 0; t < p.ntiles; t++ {
			k0, k1 := t*adc.Rows, min((t+1)*adc.Rows, p.kg)
			if k1-k0 <= sat {
				continue
			}
			hot := 0 // planes holding more than sat ones: their counts can saturate
			for i := 0; i < xbits; i++ {
				w0, w1 := tile2(sc.pl[i*stride:(i+1)*stride], k0, k1)
				planes[2*i], planes[2*i+1] = w0, w1
				if bits.OnesCount64(w0)+bits.OnesCount64(w1) > sat {
					hot |= 1 << i
				}
			}
			if hot == 0 {
				continue
			}
			if p.wz != nil && len(dst) >= p.rows8 {
				p.correct512(dst, planes, hot, t, sat, signed, xbits, sc)
			} else {
				p.correct2(dst, planes, hot, t, sat, signed, xbits)
			}
		}
		return
	}
	for t := 0; t < p.ntiles; t++ {
		k0, k1 := t*adc.Rows, min((t+1)*adc.Rows, p.kg)
		if k1-k0 <= sat {
			continue
		}
		planes := sc.planes[:xbits*tw]
		hot := 0
		for i := 0; i < xbits; i++ {
			pw := planes[i*tw : (i+1)*tw]
			tileWords(sc.pl[i*stride:(i+1)*stride], k0, k1, pw)
			pop := 0
			for _, w := range pw {
				pop += bits.OnesCount64(w)
			}
			if pop > sat {
				hot |= 1 << i
			}
		}
		if hot == 0 {
			continue
		}
		if tw == 2 {
			if p.wz != nil && len(dst) >= p.rows8 {
				p.correct512(dst, planes, hot, t, sat, signed, xbits, sc)
			} else {
				p.correct2(dst, planes, hot, t, sat, signed, xbits)
			}
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
					if hot>>i&1 == 0 {
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

// tbSat is the TB kernels' clamp: none (above any count) for an exact ADC.
func tbSat(adc ADC) int64 {
	if adc.Exact() {
		return 1 << 40
	}
	return int64(adc.Sat())
}

// apply computes every ternary row's accumulator into dst for the window
// vector sc.xcol (b = [u ≥ tau]): one AVX-512 call for 128-row tiles,
// else geBits and dot.
func (p *tbPath) apply(dst []int32, sc *mmScratch, tau uint8, kg int, adc ADC) {
	if p.tb512(len(dst), sc) {
		p.applyBlk(sc.xcol[:cap(sc.xcol)], cap(sc.xcol), 1, dst, 0, sc, tau, adc)
		return
	}
	geBits(sc.xcol, tau, sc.ge)
	p.dot(kg, dst, sc, adc)
}

// tb512 reports whether tbPix512 serves this path.
func (p *tbPath) tb512(n int, sc *mmScratch) bool {
	return p.tmask != nil && n >= p.rows8 && cap(sc.xcol) >= 128*p.ntiles
}

// applyBlk applies tbPix512 to npix window vectors (rows of xblk, stride
// xs ≥ 128·ntiles) and their accumulators (acc rows of stride rall, each
// with room for rows8 TB rows).
func (p *tbPath) applyBlk(xblk []uint8, xs, npix int, acc []int32, rall int, sc *mmScratch, tau uint8, adc ADC) {
	_ = xblk[(npix-1)*xs+128*p.ntiles-1]
	_ = acc[(npix-1)*rall+p.rows8-1]
	tbPix512(&xblk[0], xs, npix, tau, &p.tmask[0], p.ntiles, &p.wz[0], p.rows8, tbSat(adc), &acc[0], rall, &sc.zpl[0])
}

// dot computes every ternary row's accumulator Σ_tiles (ADC(p+) − ADC(p−))
// into sc.pacc; sc.ge holds the binary activations b = [u ≥ tau].
func (p *tbPath) dot(kg int, dst []int32, sc *mmScratch, adc ADC) {
	if p.wz != nil && len(dst) >= p.rows8 {
		// All tiles' binary words, then one kernel call for every row.
		b := sc.zpl[:2*p.ntiles]
		for t := 0; t < p.ntiles; t++ {
			k0, k1 := t*adc.Rows, min((t+1)*adc.Rows, kg)
			if adc.Rows%64 == 0 {
				b[2*t], b[2*t+1] = tile2(sc.ge, k0, k1)
			} else {
				tileWords(sc.ge, k0, k1, b[2*t:2*t+2])
			}
		}
		if !useAVX512 {
			// Counts ≤ 128: a clamp at 2^15 is none.
			tbTiles256(&b[0], p.ntiles, &p.wz[0], p.rows8, min(tbSat(adc), 1<<15), &dst[0])
			return
		}
		tbTiles512(&b[0], p.ntiles, &p.wz[0], p.rows8, tbSat(adc), &dst[0])
		return
	}
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

// tile2 returns bits [k0, k1) of the bit vector src as two words (bits
// past k1 cleared); k0 is a multiple of 64, k1 − k0 ≤ 128, and src holds
// whole 64-bit words up to k1.
func tile2(src []uint32, k0, k1 int) (w0, w1 uint64) {
	j := k0 >> 5
	n := k1 - k0
	w0 = uint64(src[j]) | uint64(src[j+1])<<32
	if n <= 64 {
		if n < 64 {
			w0 &= 1<<uint(n) - 1
		}
		return w0, 0
	}
	w1 = uint64(src[j+2]) | uint64(src[j+3])<<32
	if n < 128 {
		w1 &= 1<<uint(n-64) - 1
	}
	return w0, w1
}

// gatherRuns copies the window's runs from the NHWC image into the
// window vector.
func gatherRuns(xcol, xp []uint8, base int, runs []run) {
	if useAVX2 && len(runs) > 0 {
		// Bounds: runs are in increasing order of dst and src, and
		// compileMM's runs end within the window vector and the image.
		last := runs[len(runs)-1]
		_ = xp[base+last.src+last.n-1]
		_ = xcol[last.dst+last.n-1]
		gatherAVX2(&xcol[0], &xp[base], &runs[0], len(runs))
		return
	}
	for _, r := range runs {
		src := xp[base+r.src : base+r.src+r.n : base+r.src+r.n]
		dst := xcol[r.dst : r.dst+r.n : r.dst+r.n]
		if r.n >= 32 {
			copy(dst, src)
			continue
		}
		j := 0
		for ; j+8 <= r.n; j += 8 {
			binary.LittleEndian.PutUint64(dst[j:], binary.LittleEndian.Uint64(src[j:]))
		}
		for ; j < r.n; j++ {
			dst[j] = src[j]
		}
	}
}

// transposeNHWC8 writes the CHW codes img as u = x + xoff bytes into the
// interior of the padded NHWC image xp, eight channels per 8-byte store
// (cin a multiple of 8).
func transposeNHWC8(xp []uint8, img []int32, cin, h, w, wp, ph, pw int, xoff int32) {
	hw := h * w
	for c := 0; c < cin; c += 8 {
		ch := img[c*hw : (c+8)*hw]
		for iy := 0; iy < h; iy++ {
			o := ((iy+ph)*wp+pw)*cin + c
			for p := iy * w; p < (iy+1)*w; p++ {
				v := uint64(uint8(ch[p]+xoff)) | uint64(uint8(ch[hw+p]+xoff))<<8 |
					uint64(uint8(ch[2*hw+p]+xoff))<<16 | uint64(uint8(ch[3*hw+p]+xoff))<<24 |
					uint64(uint8(ch[4*hw+p]+xoff))<<32 | uint64(uint8(ch[5*hw+p]+xoff))<<40 |
					uint64(uint8(ch[6*hw+p]+xoff))<<48 | uint64(uint8(ch[7*hw+p]+xoff))<<56
				binary.LittleEndian.PutUint64(xp[o:o+8], v)
				o += cin
			}
		}
	}
}

// run copies n bytes from offset src (relative to the window's first pixel
// in the NHWC buffer) to position dst of the window vector.
type run struct{ dst, src, n int }

// correct2 is adcCorrect's inner loop for two-word tiles (64 < R ≤ 128).
func (p *intPath) correct2(dst []int32, planes []uint64, hot, t, sat int, signed bool, xbits int) {
	wb := p.wbits
	for i := 0; i < xbits; i++ {
		if hot>>i&1 == 0 {
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

// correct512 is correct2 on AVX-512 (AVX2: adcCorr256): every row,
// column and hot plane of tile t in one kernel call (eight rows per
// vector; four with AVX2). dst must have room for
// rows8 entries; padding rows have no weight bits and add 0.
func (p *intPath) correct512(dst []int32, planes []uint64, hot, t, sat int, signed bool, xbits int, sc *mmScratch) {
	wb := p.wbits
	zp, coef := sc.zpl, sc.coef
	np := 0
	for i := 0; i < xbits; i++ {
		if hot>>i&1 == 0 {
			continue
		}
		zp[2*np], zp[2*np+1] = planes[2*i], planes[2*i+1]
		negI := signed && i == xbits-1
		for j := 0; j < wb; j++ {
			// The term's weight σ_i σ_j 2^(i+j); the kernel adds
			// −weight · (p − sat) where p > sat.
			c := int64(1) << uint(i+j)
			if (j == wb-1) != negI {
				c = -c
			}
			coef[np*wb+j] = -c
		}
		np++
	}
	if !useAVX512 {
		adcCorr256(&zp[0], &coef[0], np, &p.wz[t*wb*2*p.rows8], wb, p.rows8, int64(sat), &dst[0])
		return
	}
	adcCorr512(&zp[0], &coef[0], np, &p.wz[t*wb*2*p.rows8], wb, p.rows8, int64(sat), &dst[0])
}

// nhwcIdx holds nhwcT512's VPERMT2B index vectors: pixels 0–7 and 8–15
// of channels 0–7 from four channels per register (byte c·16 + p), then
// pixels 0–3 and 4–7 of all 16 channels from two such halves (byte p·8 + c).
var nhwcIdx = func() (t [256]uint8) {
	for p := 0; p < 8; p++ {
		for c := 0; c < 8; c++ {
			t[p*8+c] = uint8(c*16 + p)
			t[64+p*8+c] = uint8(c*16 + p + 8)
		}
	}
	for k := 0; k < 2; k++ {
		for q := 0; q < 4; q++ {
			p := 4*k + q
			for c := 0; c < 16; c++ {
				v := p*8 + c
				if c >= 8 {
					v = 64 + p*8 + c - 8
				}
				t[128+64*k+q*16+c] = uint8(v)
			}
		}
	}
	return t
}()

// revBits8 reverses the bits within each byte of w.
func revBits8(w uint64) uint64 { return bits.ReverseBytes64(bits.Reverse64(w)) }

// tileMasks returns, per 128-row tile, the masks of its rows in its two
// 64-bit words, or zeros for tiles of at most skip rows.
func tileMasks(kg, ntiles, skip int) []uint64 {
	m := make([]uint64, 2*ntiles)
	for t := range ntiles {
		n := min(128, kg-t*128)
		if n <= skip {
			continue
		}
		m[2*t] = ^uint64(0)
		if n < 64 {
			m[2*t] = 1<<uint(n) - 1
		}
		if n >= 128 {
			m[2*t+1] = ^uint64(0)
		} else if n > 64 {
			m[2*t+1] = 1<<uint(n-64) - 1
		}
	}
	return m
}

// alignedU64, alignedI8 and alignedU8 return zeroed slices starting on a 64-byte
// boundary, so that the AVX-512 kernels' vector loads do not straddle
// cache lines, nor the AVX2 kernels' 32-byte loads (Go's heap does not
// move objects).
func alignedU64(n int) []uint64 {
	b := make([]uint64, n+8)
	off := int((64 - uintptr(unsafe.Pointer(&b[0]))%64) % 64 / 8)
	return b[off : off+n : off+n]
}

func alignedI8(n int) []int8 {
	b := make([]int8, n+64)
	off := int((64 - uintptr(unsafe.Pointer(&b[0]))%64) % 64)
	return b[off : off+n : off+n]
}

func alignedU8(n int) []uint8 {
	b := make([]uint8, n+64)
	off := int((64 - uintptr(unsafe.Pointer(&b[0]))%64) % 64)
	return b[off : off+n : off+n]
}
