package backend

import (
	"fmt"
	"slices"

	"pimc/backend/isa"
	"pimc/hw"
	"pimc/internal/par"
	"pimc/ir"
	"pimc/mapping"
)

// layer is one conv/FC node prepared for emission.
type layer struct {
	n                      *ir.Node
	gemm, dual             bool
	N, C, H, W             int
	KH, KW, SH, SW, DH, DW int
	PT, PL, PB, PR         int
	OH, OW                 int
	G, cg, ocg, K          int
	cout                   int
	xbits                  int
	signed                 bool
	thr                    int64
	paths                  [isa.NumEngines]*path // SRAM, EDRAM
}

// path is the part of a layer on one pool.
type path struct {
	pool   isa.Engine
	chans  []int64  // output channel of each path row
	w      [][]int8 // IR weights of each path row ([cg][kh][kw]; not copied)
	perm   []int    // IR index of each canonical (ky, kx, c) row; nil: the same
	group  []int    // group of each path row
	planes int      // bit planes per weight (SRAM: w_bits; eDRAM: 2)
	rt     int      // rows per row tile
	ceff   int      // channels per column tile
	tiles  []tile
	// placement
	resident bool
	copies   int
	base     int // the streaming region's start (streamed)
	// places: where each resident image sits (copy-major, then tile
	// order), from the allocation's column packing.
	places []mapping.Place
}

// at is the array and first column of copy c's tile i: the packed place
// of a resident image, else array base + c·T + i of the streaming
// region, column 0.
func (p *path) at(c, i int) (arr, col int) {
	if p.resident {
		pl := p.places[c*len(p.tiles)+i]
		return int(pl.Array), int(pl.Col)
	}
	return p.base + c*len(p.tiles) + i, 0
}

// placesFit reports whether the allocation's places match the path's
// tiles: one per image, each as wide as the tile.
func (p *path) placesFit(h *hw.Pool, places []mapping.Place, copies int) bool {
	if len(places) != copies*len(p.tiles) {
		return false
	}
	for k, pl := range places {
		t := &p.tiles[k%len(p.tiles)]
		if pl.Cols != int64(len(t.rowsIdx)*isa.ColsPerChannel(h, p.planes)) || int(pl.Array) >= h.Arrays {
			return false
		}
	}
	return true
}

// tile is one array-sized block: rows [r0, r0+rows) of group g's
// canonical vector × some of the path's rows.
type tile struct {
	g, rt, ct int
	r0, rows  int
	rowsIdx   []int // path rows (channels) in the tile
	img       int   // image index, set when emitted
}

func (e *emitter) poolOf(en isa.Engine) *hw.Pool {
	if en == isa.SRAM {
		return &e.h.SRAM
	}
	return &e.h.EDRAM
}

// adcRows is the ADC read-out group (dualnet.ADCs' rule).
func adcRows(p *hw.Pool) int {
	r := p.Rows
	if p.RowsActivePerCycle > 0 && p.RowsActivePerCycle < r {
		r = p.RowsActivePerCycle
	}
	return r
}

// plan prepares every layer and places its tiles on arrays.
func (e *emitter) plan() error {
	e.layerOf = map[*ir.Node]*layer{}
	var dl []mapping.DualLayer
	for _, n := range e.m.Graph.Nodes {
		switch n.Op {
		case ir.OpQConv, ir.OpDualConv, ir.OpQGemm, ir.OpDualGemm:
		default:
			continue
		}
		l, err := e.prepare(n)
		if err != nil {
			return err
		}
		e.layers = append(e.layers, l)
		e.layerOf[n] = l
		ml := mapping.Layer{Name: n.Name, IH: l.H, IW: l.W, KH: l.KH, KW: l.KW, IC: l.C, OC: l.cout,
			SH: l.SH, SW: l.SW, PadT: l.PT, PadL: l.PL, PadB: l.PB, PadR: l.PR, DH: l.DH, DW: l.DW, Group: l.G}
		if l.gemm {
			ml = mapping.Layer{Name: n.Name, Kind: mapping.KindFC, IC: l.C, OC: l.cout}
			if l.N > 1 {
				ml = mapping.Layer{Name: n.Name, Kind: mapping.KindConv, IH: l.N, IW: 1, KH: 1, KW: 1, IC: l.C, OC: l.cout}
			}
		}
		d := mapping.DualLayer{Layer: ml, SRAMInputBits: l.xbits}
		if p := l.paths[isa.SRAM]; p != nil {
			d.OC4 = len(p.chans)
			d.SRAMWeightBits = p.planes
		}
		if p := l.paths[isa.EDRAM]; p != nil {
			d.OCTB = len(p.chans)
		}
		dl = append(dl, d)
	}
	if len(dl) == 0 {
		return nil
	}
	res, err := mapping.MapDual(dl, e.h, e.mo)
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	// Resident layers on the arrays the allocation packed them on
	// (0..resident_arrays−1); then the streaming region.
	for _, en := range []isa.Engine{isa.SRAM, isa.EDRAM} {
		arrays := e.poolOf(en).Arrays
		sum := res.SRAM
		if en == isa.EDRAM {
			sum = res.EDRAM
		}
		next := int(sum.ResidentArrays)
		streamed := false
		for i, l := range e.layers {
			p := l.paths[en]
			if p == nil {
				continue
			}
			lr := res.Layers[i].SRAM
			if en == isa.EDRAM {
				lr = res.Layers[i].EDRAM
			}
			T := len(p.tiles)
			if lr.Mode == mapping.ModeResident && int(lr.Tiles) == T && p.placesFit(e.poolOf(en), lr.Places, int(lr.Copies)) {
				p.resident, p.copies, p.places = true, int(lr.Copies), lr.Places
				continue
			}
			streamed = true
			p.copies = 1
			if lr.Mode == mapping.ModeStreamed && int(lr.Tiles) == T {
				p.copies = int(lr.Copies)
			}
		}
		// Arrays only layers the backend streams after all would hold
		// (their mapping's tiles differ from the emitted ones, e.g. groups
		// packed block-diagonally) are dropped: the used arrays are
		// renumbered densely, in order, so the region starts right after.
		next = compact(e.layers, en)
		e.region[en].start = next
		size := arrays - next
		if sum.StreamArrays > 0 && int(sum.StreamArrays) < size {
			size = int(sum.StreamArrays)
		}
		if streamed && size < 1 {
			return fmt.Errorf("backend: the %s pool has no array left for the layers that do not stay resident", en)
		}
		e.region[en].size = size
		for _, l := range e.layers {
			if p := l.paths[en]; p != nil && !p.resident {
				p.base = next
				if p.copies*len(p.tiles) > size {
					p.copies = max(1, size/len(p.tiles))
				}
			}
		}
	}
	return nil
}

// compact renumbers the arrays the resident paths of pool en use to 0..n−1
// (keeping their order and columns) and returns n.
func compact(layers []*layer, en isa.Engine) int {
	used := map[int64]bool{}
	for _, l := range layers {
		if p := l.paths[en]; p != nil && p.resident {
			for _, pl := range p.places {
				used[pl.Array] = true
			}
		}
	}
	ids := make([]int64, 0, len(used))
	for a := range used {
		ids = append(ids, a)
	}
	slices.Sort(ids)
	to := make(map[int64]int64, len(ids))
	for k, a := range ids {
		to[a] = int64(k)
	}
	for _, l := range layers {
		if p := l.paths[en]; p != nil && p.resident {
			pl := slices.Clone(p.places)
			for k := range pl {
				pl[k].Array = to[pl[k].Array]
			}
			p.places = pl
		}
	}
	return len(ids)
}

// prepare reads a layer's geometry and weights and cuts its tiles.
func (e *emitter) prepare(n *ir.Node) (*layer, error) {
	l := &layer{n: n, dual: n.Op == ir.OpDualConv || n.Op == ir.OpDualGemm, gemm: n.Op == ir.OpQGemm || n.Op == ir.OpDualGemm}
	xv := n.In(0)
	xs := xv.Type.Shape
	rqIn := 2
	if l.dual {
		rqIn = 3
	}
	rq := n.In(rqIn).Const
	l.cout = int(rq.Shape[0])
	l.xbits = int(n.Int("x_bits", 8))
	switch xv.Type.DType {
	case ir.Int8, ir.Int16, ir.Int32:
		l.signed = true
	}
	if l.gemm {
		if len(xs) != 2 {
			return nil, n.Errorf("input %v, want [M,K]", xs)
		}
		l.N, l.C, l.H, l.W = int(xs[0]), int(xs[1]), 1, 1
		l.KH, l.KW, l.SH, l.SW, l.DH, l.DW, l.OH, l.OW, l.G = 1, 1, 1, 1, 1, 1, 1, 1, 1
	} else {
		if len(xs) != 4 {
			return nil, n.Errorf("only 2-D convolutions run on the arrays (input %v)", xs)
		}
		l.N, l.C, l.H, l.W = int(xs[0]), int(xs[1]), int(xs[2]), int(xs[3])
		ws := n.In(1).Type.Shape
		l.KH, l.KW = int(ws[2]), int(ws[3])
		geo, err := ir.ResolveConv(n, xs[2:], ws[2:], false)
		if err != nil {
			return nil, n.Errorf("%v", err)
		}
		l.OH, l.OW = int(geo.Out[0]), int(geo.Out[1])
		l.SH, l.SW = int(geo.Strides[0]), int(geo.Strides[1])
		l.DH, l.DW = int(geo.Dilations[0]), int(geo.Dilations[1])
		l.PT, l.PL, l.PB, l.PR = int(geo.Pads[0]), int(geo.Pads[1]), int(geo.Pads[2]), int(geo.Pads[3])
		l.G = int(n.Int("group", 1))
	}
	if l.G < 1 || l.C%l.G != 0 || l.cout%l.G != 0 {
		return nil, n.Errorf("group %d does not divide %d input and %d output channels", l.G, l.C, l.cout)
	}
	l.cg, l.ocg = l.C/l.G, l.cout/l.G
	l.K = l.cg * l.KH * l.KW
	// perm reorders an IR weight row [cg][kh][kw] into (ky, kx, c). The
	// rows themselves are read in place when the images are built: a
	// reordered copy of every weight as int64 was ~90 MB of a ResNet-18.
	var perm []int
	if !l.gemm && (l.KH > 1 || l.KW > 1) {
		perm = make([]int, l.K)
		for c := 0; c < l.cg; c++ {
			for ky := 0; ky < l.KH; ky++ {
				for kx := 0; kx < l.KW; kx++ {
					perm[(ky*l.KW+kx)*l.cg+c] = (c*l.KH+ky)*l.KW + kx
				}
			}
		}
	}
	// Int8s is the tensor's own storage for the quantizer's weights (a
	// parsed IR's int64 codes are narrowed once per tensor).
	codes := map[*ir.Tensor][]int8{}
	rows := func(t *ir.Tensor, i int) []int8 {
		w, ok := codes[t]
		if !ok {
			w = t.Int8s()
			codes[t] = w
		}
		return w[i*l.K : (i+1)*l.K : (i+1)*l.K]
	}
	if l.dual {
		w4, wt, chm := n.In(1).Const, n.In(2).Const, n.In(4).Const
		n4, nt := int(w4.Shape[0]), int(wt.Shape[0])
		if n4 > 0 {
			p := &path{pool: isa.SRAM, planes: 4, perm: perm}
			for i := 0; i < n4; i++ {
				p.chans = append(p.chans, chm.I[i])
				p.w = append(p.w, rows(w4, i))
				p.group = append(p.group, 0)
			}
			l.paths[isa.SRAM] = p
		}
		if nt > 0 {
			p := &path{pool: isa.EDRAM, planes: 2, perm: perm}
			for i := 0; i < nt; i++ {
				p.chans = append(p.chans, chm.I[n4+i])
				p.w = append(p.w, rows(wt, i))
				p.group = append(p.group, 0)
			}
			l.paths[isa.EDRAM] = p
		}
		// The binary input is [x + xoff ≥ min(thr + xoff, 255)] (dualnet's
		// byte comparison), i.e. x ≥ the effective threshold below.
		xoff := int64(0)
		if l.signed {
			xoff = 1 << (l.xbits - 1)
		}
		l.thr = min(n.Int("tb_threshold", 1)+xoff, 255) - xoff
	} else {
		w := n.In(1).Const
		p := &path{pool: isa.SRAM, planes: int(n.Int("w_bits", 8)), perm: perm}
		for c := 0; c < l.cout; c++ {
			p.chans = append(p.chans, int64(c))
			p.w = append(p.w, rows(w, c))
			p.group = append(p.group, c/l.ocg)
		}
		l.paths[isa.SRAM] = p
		l.thr = 1
	}
	for _, p := range l.paths {
		if p == nil {
			continue
		}
		hp := e.poolOf(p.pool)
		ra := adcRows(hp)
		p.rt = hp.Rows / ra * ra
		p.ceff = hp.Cols / isa.ColsPerChannel(hp, p.planes)
		if p.ceff < 1 {
			return nil, n.Errorf("a %d-bit weight does not fit the %s arrays' %d columns", p.planes, p.pool, hp.Cols)
		}
		for g := 0; g < l.G; g++ {
			var idx []int
			for r := range p.chans {
				if p.group[r] == g {
					idx = append(idx, r)
				}
			}
			for c0 := 0; c0 < len(idx); c0 += p.ceff {
				cols := idx[c0:min(len(idx), c0+p.ceff)]
				for rt, r0 := 0, 0; r0 < l.K; rt, r0 = rt+1, r0+p.rt {
					p.tiles = append(p.tiles, tile{g: g, rt: rt, ct: c0 / p.ceff, r0: r0, rows: min(p.rt, l.K-r0), rowsIdx: cols})
				}
			}
		}
	}
	return l, nil
}

// image builds the weight image of one tile, a row at a time: each
// weight's planes are OR-ed into the row as one code rather than bit by
// bit (that was ~20% of a ResNet-18 compile), with whole-byte loops for
// the common 2-, 4- and 8-plane images.
func (p *path) image(t *tile) isa.Image {
	im := isa.Image{Pool: p.pool, Planes: uint8(p.planes), Rows: uint32(t.rows), R0: uint32(t.r0)}
	im.Chans = make([]uint32, len(t.rowsIdx))
	ws := make([][]int8, len(t.rowsIdx))
	for j, r := range t.rowsIdx {
		im.Chans[j] = uint32(p.chans[r])
		ws[j] = p.w[r]
	}
	rb := im.RowBytes()
	im.Bits = make([]byte, t.rows*rb)
	mask := uint32(1)<<p.planes - 1
	for k := range t.rows {
		i := t.r0 + k
		if p.perm != nil {
			i = p.perm[i]
		}
		row := im.Bits[k*rb : (k+1)*rb]
		switch {
		case p.pool == isa.EDRAM:
			// Ternary: + cell is plane 0, − cell plane 1; four weights
			// per byte, each byte formed whole.
			j := 0
			for ; j+4 <= len(ws); j += 4 {
				row[j>>2] = tern8[uint8(ws[j][i])] | tern8[uint8(ws[j+1][i])]<<2 |
					tern8[uint8(ws[j+2][i])]<<4 | tern8[uint8(ws[j+3][i])]<<6
			}
			for ; j < len(ws); j++ {
				row[j>>2] |= tern8[uint8(ws[j][i])] << (j & 3 * 2)
			}
		case p.planes == 4: // two's complement, LSB first, two per byte
			j := 0
			for ; j+2 <= len(ws); j += 2 {
				row[j>>1] = byte(ws[j][i]&15) | byte(ws[j+1][i]&15)<<4
			}
			if j < len(ws) {
				row[j>>1] = byte(ws[j][i] & 15)
			}
		case p.planes == 8:
			for j, w := range ws {
				row[j] = byte(w[i])
			}
		default: // a code spans at most three bytes (planes ≤ 16)
			for j, w := range ws {
				pos := j * p.planes
				code := (uint32(w[i]) & mask) << (pos % 8)
				for b := pos / 8; code != 0; b++ {
					row[b] |= byte(code)
					code >>= 8
				}
			}
		}
	}
	return im
}

// ternCode is the eDRAM cell pair of a ternary weight w, indexed by w+1.
var ternCode = [3]byte{2, 0, 1}

// tern8 is ternCode indexed by the code's byte; codes outside −1..1 leave
// both cells clear.
var tern8 = func() (t [256]byte) {
	for v := -1; v <= 1; v++ {
		t[uint8(int8(v))] = ternCode[v+1]
	}
	return t
}()

// lowerLayer emits a conv/FC layer: window descriptors, weight images,
// the pools' programming and MVMs between sync tokens, and the PPU's
// requantization.
func (e *emitter) lowerLayer(n *ir.Node, last map[*ir.Value]int) error {
	l := e.layerOf[n]
	x, err := e.in(n, 0)
	if err != nil {
		return err
	}
	resIn := 3
	if l.dual {
		resIn = 5
	}
	var res *buffer
	if n.In(resIn) != nil {
		if res, err = e.in(n, resIn); err != nil {
			return err
		}
	}
	y := e.out(n.Out(0), last)
	P := l.OH * l.OW
	e.psum = max(e.psum, l.N*l.cout*P)
	wins := make([]uint64, l.G)
	for g := range wins {
		wins[g] = e.cnst(isa.KWin, int64(x.addr), int64(l.N), int64(l.C), int64(l.H), int64(l.W), int64(g*l.cg), int64(l.cg),
			int64(l.KH), int64(l.KW), int64(l.SH), int64(l.SW), int64(l.DH), int64(l.DW), int64(l.PT), int64(l.PL),
			int64(l.OH), int64(l.OW), int64(l.xbits), b2i(l.signed), l.thr, 0, int64(l.cout))
	}
	var used []isa.Engine
	for _, en := range []isa.Engine{isa.SRAM, isa.EDRAM} {
		if l.paths[en] != nil {
			used = append(used, en)
			e.emit(isa.PPU, isa.I(isa.OpSIGNAL, uint64(en)))
		}
	}
	W := l.N * P
	// The PPU requantizes each chunk of windows as soon as both pools
	// have produced it, overlapping with the next chunk's MVMs. A pool
	// that time-multiplexes its tiles has every sum only at the end: one
	// chunk then.
	K := min(maxChunks, W)
	for _, en := range used {
		if p := l.paths[en]; !p.resident && p.copies*len(p.tiles) > e.region[en].size {
			K = 1
		}
	}
	// chunkOf gives the chunk in which pool en finishes window w.
	chunkOf := func(p *path, w int) int {
		per := (W + p.copies - 1) / p.copies
		cs := (per + K - 1) / K
		return (w - w/per*per) / cs
	}
	psums := int64(0)
	for _, en := range used {
		p := l.paths[en]
		e.addImages(p)
		rtiles := (l.K + p.rt - 1) / p.rt
		psums += int64(len(p.chans) * (rtiles - 1))
		e.emit(en, isa.I(isa.OpWAIT, uint64(isa.PPU)))
		T := len(p.tiles)
		// The first column tile of each group reads the window rows
		// from the buffer; the other column tiles get them by broadcast.
		mvm := func(arr int, t *tile, w0, nw int) {
			if nw > 0 {
				e.emit(en, isa.I(isa.OpMVM, u(arr), u(t.img), wins[t.g], u(w0), u(nw), b2u(t.rt > 0), b2u(t.ct == 0)))
			}
		}
		if p.resident || p.copies*T <= e.region[en].size {
			for c := 0; c < p.copies; c++ {
				for i := range p.tiles {
					arr, col := p.at(c, i)
					wp := isa.I(isa.OpWPROG, u(arr), u(p.tiles[i].img), u(col))
					if p.resident {
						e.setup[en] = append(e.setup[en], wp)
					} else {
						e.emit(en, wp)
					}
				}
			}
			per := (W + p.copies - 1) / p.copies
			cs := (per + K - 1) / K
			for k := 0; k < K; k++ {
				for c := 0; c < p.copies; c++ {
					lo := min(c*per+k*cs, (c+1)*per, W)
					hi := min(c*per+(k+1)*cs, (c+1)*per, W)
					for i := range p.tiles {
						arr, _ := p.at(c, i)
						mvm(arr, &p.tiles[i], lo, hi-lo)
					}
				}
				e.emit(en, isa.I(isa.OpSIGNAL, uint64(isa.PPU)))
			}
			continue
		}
		// Time-multiplexed: rounds of region-size tiles.
		S := e.region[en].size
		for r0 := 0; r0 < T; r0 += S {
			r1 := min(T, r0+S)
			for i := r0; i < r1; i++ {
				e.emit(en, isa.I(isa.OpWPROG, u(p.base+i-r0), u(p.tiles[i].img)))
			}
			for i := r0; i < r1; i++ {
				mvm(p.base+i-r0, &p.tiles[i], 0, W)
			}
		}
		e.emit(en, isa.I(isa.OpSIGNAL, uint64(isa.PPU)))
	}
	lo, hi := codeRange(n)
	rqT := n.In(map[bool]int{false: 2, true: 3}[l.dual]).Const
	rbits, raddr := int64(0), int64(0)
	if res != nil {
		rbits, raddr = e.width[n.In(resIn)], int64(res.addr)
	}
	vals := []int64{int64(l.N), int64(l.cout), int64(P), lo, hi, 0, b2i(res != nil), raddr, e.width[n.Out(0)], rbits, psums}
	k := e.cnst(isa.KReq, append(vals, rqT.I...)...)
	// ready[w] is the chunk after which both pools have window w.
	ready := make([]int, W)
	for w := range ready {
		for _, en := range used {
			if K > 1 {
				ready[w] = max(ready[w], chunkOf(l.paths[en], w))
			}
		}
	}
	for c := 0; c < K; c++ {
		for _, en := range used {
			e.emit(isa.PPU, isa.I(isa.OpWAIT, uint64(en)))
		}
		for w := 0; w < W; {
			if ready[w] != c {
				w++
				continue
			}
			w1 := w
			for w1 < W && ready[w1] == c {
				w1++
			}
			e.emit(isa.PPU, isa.I(isa.OpREQ, u(y.addr), k, u(w), u(w1-w)))
			w = w1
		}
	}
	return nil
}

// maxChunks bounds how many pieces a layer's windows are cut into so that
// the PPU's requantization overlaps with the arrays.
const maxChunks = 8

// addImages appends the path's tile images to the program.
func (e *emitter) addImages(p *path) {
	// Images are independent of each other: built on every core (a
	// ResNet-18 has ~12 M weight codes to pack), appended in tile order.
	ims := make([]isa.Image, len(p.tiles))
	par.For(len(ims), func(i int) { ims[i] = p.image(&p.tiles[i]) })
	for i := range p.tiles {
		e.p.Images = append(e.p.Images, ims[i])
		p.tiles[i].img = len(e.p.Images) - 1
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func b2u(b bool) uint64 { return uint64(b2i(b)) }
