package runtime

import (
	"errors"
	"fmt"
	"slices"

	"pimc/backend/isa"
	"pimc/hw"
)

// Program is a loaded, validated program ready to run on one hardware
// description. It is read-only: many Machines may run it concurrently.
type Program struct {
	bin     *isa.Program
	h       *hw.Hardware
	streams [isa.NumEngines][]op
	entry   [isa.NumEngines]int
	images  []*image
	wins    []*window
	reqs    []*reqParams             // per constant index, for req descriptors
	pools   [isa.NumEngines]*poolCfg // SRAM and EDRAM
	abuf    int
	psum    int
	ins     []isa.Port
	outs    []isa.Port
}

// Binary returns the decoded program.
func (p *Program) Binary() *isa.Program { return p.bin }

// Hardware returns the description the program was loaded for.
func (p *Program) Hardware() *hw.Hardware { return p.h }

// Inputs and Outputs describe the program's ports (float32, row-major).
func (p *Program) Inputs() []isa.Port  { return p.ins }
func (p *Program) Outputs() []isa.Port { return p.outs }

// poolCfg is what the simulator needs of one PIM pool.
type poolCfg struct {
	hp         *hw.Pool
	engine     isa.Engine
	adcRows    int   // rows per ADC read-out group (min(rows, rows_active_per_cycle))
	sat        int   // largest count the ADC reads
	ideal      bool  // counts never saturate
	rowGroups  int64 // hw.Pool.RowGroups (timing)
	colsPerADC int64
	retention  int64 // cycles; 0 = static
}

func newPoolCfg(h *hw.Hardware, e isa.Engine) *poolCfg {
	p := &h.SRAM
	if e == isa.EDRAM {
		p = &h.EDRAM
	}
	c := &poolCfg{hp: p, engine: e, rowGroups: int64(p.RowGroups()), colsPerADC: int64(p.ColsPerADC), retention: h.RetentionCycles(p)}
	c.adcRows = p.Rows
	if p.RowsActivePerCycle > 0 && p.RowsActivePerCycle < c.adcRows {
		c.adcRows = p.RowsActivePerCycle
	}
	// The same rule as the quantized reference executor (dualnet.ADCs).
	c.ideal = p.ADCIdeal || p.ADCBits <= 0 || p.ADCBits >= 31
	if !c.ideal {
		c.sat = 1<<p.ADCBits - 1
		if c.adcRows <= c.sat {
			c.ideal = true
		}
	}
	return c
}

// cyclesPerVector is the clock cycles one window takes on one array.
func (c *poolCfg) cyclesPerVector(xbits int) int64 {
	if c.engine == isa.EDRAM {
		xbits = c.hp.InputBits // the binary input
	}
	return int64(c.hp.InputCycles(xbits)) * c.rowGroups * c.colsPerADC
}

// image is a decoded weight image: per ADC row group, per channel, per bit
// plane, the rows' cells as 64-bit words.
type image struct {
	pool    isa.Engine
	planes  int
	rows    int
	r0      int
	chans   []int32
	groups  int // ⌈rows / adcRows⌉
	gw      int // words per group
	w       []uint64
	colpop  []int32 // per [group][chan][plane]: set cells
	bytes   int64   // rows × the pool's row bytes (DMA traffic of a program)
	cols    int     // array columns the image occupies
	maxPop  int32
	adcRows int
}

func (im *image) word(j, g, q int) []uint64 {
	o := ((g*len(im.chans)+j)*im.planes + q) * im.gw
	return im.w[o : o+im.gw]
}

func decodeImage(src *isa.Image, pc *poolCfg) *image {
	im := &image{pool: src.Pool, planes: int(src.Planes), rows: int(src.Rows), r0: int(src.R0), adcRows: pc.adcRows}
	im.chans = make([]int32, len(src.Chans))
	for i, c := range src.Chans {
		im.chans[i] = int32(c)
	}
	im.groups = (im.rows + pc.adcRows - 1) / pc.adcRows
	im.gw = (min(pc.adcRows, im.rows) + 63) / 64
	im.w = make([]uint64, len(im.chans)*im.groups*im.planes*im.gw)
	im.colpop = make([]int32, len(im.chans)*im.groups*im.planes)
	for r := 0; r < im.rows; r++ {
		g, pos := r/pc.adcRows, r%pc.adcRows
		for j := range im.chans {
			for q := 0; q < im.planes; q++ {
				if src.Bit(r, j, q) {
					im.word(j, g, q)[pos>>6] |= 1 << (pos & 63)
					im.colpop[(g*len(im.chans)+j)*im.planes+q]++
				}
			}
		}
	}
	for _, c := range im.colpop {
		im.maxPop = max(im.maxPop, c)
	}
	im.bytes = int64(im.rows) * int64(pc.hp.RowBytes())
	im.cols = len(im.chans) * isa.ColsPerChannel(pc.hp, im.planes)
	return im
}

// window is a decoded window descriptor.
type window struct {
	in, n, c, h, w, c0, cg int
	kh, kw, sh, sw, dh, dw int
	pt, pl, oh, ow         int
	xbits                  int
	signed                 bool
	thr                    int64
	psum, cout             int
	k                      int // rows of the canonical input vector: kh·kw·cg
	nwin                   int // n·oh·ow
	kwords                 int // ⌈k/64⌉
	planes                 bool
	thresh                 bool
	inEnd, psumEnd         int
	padOne                 bool // the threshold plane reads 1 for padding (0 ≥ thr)
	cw                     int  // words per pixel per plane: ⌈c/64⌉
	nplanes                int  // cached planes: xbits (if planes) + 1 (if thresh)
	tplane                 int  // index of the threshold plane
}

func decodeWindow(c isa.Const) *window {
	g := func(n string) int { return int(c.Get(n)) }
	w := &window{in: g("in"), n: g("n"), c: g("c"), h: g("h"), w: g("w"), c0: g("c0"), cg: g("cg"),
		kh: g("kh"), kw: g("kw"), sh: g("sh"), sw: g("sw"), dh: g("dh"), dw: g("dw"), pt: g("pt"), pl: g("pl"),
		oh: g("oh"), ow: g("ow"), xbits: g("xbits"), signed: g("signed") == 1, thr: c.Get("thr"), psum: g("psum"), cout: g("cout")}
	w.k = w.kh * w.kw * w.cg
	w.nwin = w.n * w.oh * w.ow
	w.kwords = (w.k + 63) / 64
	w.inEnd = w.in + w.n*w.c*w.h*w.w
	w.psumEnd = w.psum + w.n*w.cout*w.oh*w.ow
	w.padOne = 0 >= w.thr
	w.cw = (w.c + 63) / 64
	return w
}

// op is one decoded instruction with everything the run needs.
type op struct {
	code  isa.Op
	index int // in its stream
	a     [7]int
	win   *window
	img   *image
	c     *isa.Const
	n     int64 // elements (DMA) or windows (MVM)
	dur   int64 // fixed duration (PPU, DMA, pool instructions)
	cnt   Counts
	req   *reqParams
	peer  isa.Engine
	// wlo..whi are the activation-buffer words a PPU or LOAD instruction
	// may write.
	wlo, whi int
}

// ErrHardware is wrapped by the error Load returns for a program built for
// other hardware.
var ErrHardware = errors.New("hardware mismatch")

// Load decodes and validates a program for the hardware h (see the package
// documentation for the checks). Errors name the section, instruction or
// field at fault.
func Load(data []byte, h *hw.Hardware) (*Program, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	bin, err := isa.Decode(data)
	if err != nil {
		return nil, err
	}
	return FromBinary(bin, h)
}

// FromBinary validates an already decoded program for h (Load without the
// container checks).
func FromBinary(bin *isa.Program, h *hw.Hardware) (*Program, error) {
	if err := bin.Validate(); err != nil {
		return nil, err
	}
	if err := bin.CheckHardware(h); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHardware, err)
	}
	p := &Program{bin: bin, h: h, abuf: int(bin.ABufWords), psum: int(bin.PSumWords)}
	p.pools[isa.SRAM] = newPoolCfg(h, isa.SRAM)
	p.pools[isa.EDRAM] = newPoolCfg(h, isa.EDRAM)
	p.ins, p.outs = bin.Inputs(), bin.Outputs()
	for i, pt := range bin.Ports {
		if int64(pt.Addr)+pt.Elems() > int64(p.abuf) {
			return nil, fmt.Errorf("port %d (%q): words %d..%d outside the %d-word activation buffer", i, pt.Name, pt.Addr, int64(pt.Addr)+pt.Elems(), p.abuf)
		}
	}
	for i := range bin.Images {
		p.images = append(p.images, decodeImage(&bin.Images[i], p.pools[bin.Images[i].Pool]))
	}
	p.wins = make([]*window, len(bin.Consts))
	for i, c := range bin.Consts {
		if c.Kind == isa.KWin {
			w := decodeWindow(c)
			if w.inEnd > p.abuf {
				return nil, fmt.Errorf("constant %d (win): input words %d..%d outside the %d-word activation buffer", i, w.in, w.inEnd, p.abuf)
			}
			if w.psumEnd > p.psum {
				return nil, fmt.Errorf("constant %d (win): partial sums %d..%d outside the %d-word partial-sum buffer", i, w.psum, w.psumEnd, p.psum)
			}
			p.wins[i] = w
		}
	}
	for e := isa.Engine(0); e < isa.NumEngines; e++ {
		s := &bin.Streams[e]
		p.entry[e] = int(s.Entry)
		p.streams[e] = make([]op, len(s.Code))
		for j, in := range s.Code {
			o, err := p.decodeOp(e, j, in)
			if err != nil {
				return nil, fmt.Errorf("stream %s, instruction %d (%s): %w", e, j, in.Op, err)
			}
			p.streams[e][j] = o
		}
	}
	for _, w := range p.wins {
		if w == nil {
			continue
		}
		if w.planes {
			w.nplanes = w.xbits
		}
		w.tplane = w.nplanes
		if w.thresh {
			w.nplanes++
		}
	}
	if err := p.checkArrays(); err != nil {
		return nil, err
	}
	if err := p.checkSync(); err != nil {
		return nil, err
	}
	return p, nil
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func (p *Program) decodeOp(e isa.Engine, j int, in isa.Inst) (op, error) {
	o := op{code: in.Op, index: j}
	for i := range o.a {
		o.a[i] = int(in.Args[i])
	}
	info := in.Op.Info()
	if info.Const != 0 {
		o.c = &p.bin.Consts[o.a[info.Field("k")]]
	}
	inABuf := func(name string, addr, n int64) error {
		if n > 0 && (addr < 0 || addr+n > int64(p.abuf)) {
			return fmt.Errorf("%s words %d..%d outside the %d-word activation buffer", name, addr, addr+n, p.abuf)
		}
		return nil
	}
	overlap := func(a, na, b, nb int64) bool { return na > 0 && nb > 0 && a < b+nb && b < a+na }
	get := func(name string) int64 { return o.c.Get(name) }
	c := &o.cnt
	// rw checks a PPU instruction's source and destination and counts its
	// buffer traffic.
	rw := func(dst, nd, dbits, src, ns, sbits int64, disjoint bool) error {
		if err := inABuf("dst", dst, nd); err != nil {
			return err
		}
		if err := inABuf("src", src, ns); err != nil {
			return err
		}
		if disjoint && overlap(dst, nd, src, ns) {
			return fmt.Errorf("source and destination overlap")
		}
		c.BufferReadBits += ns * sbits
		c.BufferWriteBits += nd * dbits
		return nil
	}
	var err error
	switch in.Op {
	case isa.OpNOP:
		o.dur = 1
	case isa.OpHALT:
	case isa.OpSIGNAL, isa.OpWAIT:
		o.peer = isa.Engine(o.a[0])
	case isa.OpWPROG:
		pc := p.pools[e]
		o.img = p.images[o.a[1]]
		o.dur = int64(o.img.rows) * int64(pc.hp.WriteCyclesPerRow)
		c.Programs = 1
		c.WeightRowsWritten = int64(o.img.rows)
		c.DMABytes = o.img.bytes
	case isa.OpREFRESH:
		// Its rows (and so its time) are those of the image the array
		// holds when it runs.
	case isa.OpMVM:
		pc := p.pools[e]
		hp := pc.hp
		o.img = p.images[o.a[1]]
		o.win = p.wins[o.a[2]]
		o.n = int64(o.a[4])
		o.dur = o.n * pc.cyclesPerVector(o.win.xbits)
		inCycles := int64(hp.InputCycles(o.win.xbits))
		if e == isa.SRAM {
			o.win.planes = true
		} else {
			o.win.thresh = true
			inCycles = int64(hp.InputCycles(hp.InputBits))
		}
		rows, nch := int64(o.img.rows), int64(len(o.img.chans))
		c.MVMs = 1
		c.Windows = o.n
		c.MACs = o.n * rows * nch
		c.ADCConversions = o.n * nch * int64(isa.ColsPerChannel(hp, o.img.planes)) * inCycles * pc.rowGroups
		c.DriverRowCycles = o.n * rows * inCycles
		if o.a[6] == 1 {
			c.BufferReadBits = o.n * rows * int64(o.win.xbits)
		}
	case isa.OpLOAD, isa.OpSTORE:
		addr, port, off, n := int64(o.a[0]), o.a[1], int64(o.a[2]), int64(o.a[3])
		var pt isa.Port
		if in.Op == isa.OpLOAD {
			pt = p.ins[port]
		} else {
			pt = p.outs[port]
		}
		if off+n > pt.Elems() {
			return o, fmt.Errorf("words %d..%d of port %d (%q), which has %d", off, off+n, port, pt.Name, pt.Elems())
		}
		if err := inABuf("buffer", addr, n); err != nil {
			return o, err
		}
		o.n = n
		c.DMABytes = 4 * n
		o.dur = ceilDiv(c.DMABytes, int64(p.h.DMA.BytesPerCycle))
		if in.Op == isa.OpLOAD {
			c.BufferWriteBits = 32 * n
		} else {
			c.BufferReadBits = 32 * n
		}
	case isa.OpQUANT:
		n := int64(o.a[2])
		err = rw(int64(o.a[0]), n, get("obits"), int64(o.a[1]), n, 32, false)
		c.PPUOps = n
	case isa.OpDEQ:
		n := int64(o.a[2])
		err = rw(int64(o.a[0]), n, 32, int64(o.a[1]), n, get("ibits"), false)
		c.PPUOps = n
	case isa.OpRESCALE:
		n := int64(o.a[2])
		err = rw(int64(o.a[0]), n, get("obits"), int64(o.a[1]), n, get("ibits"), false)
		c.PPUOps = n
	case isa.OpRELU:
		n, w := int64(o.a[2]), int64(o.a[3])
		err = rw(int64(o.a[0]), n, w, int64(o.a[1]), n, w, false)
		c.PPUOps = n
	case isa.OpREQ:
		k := o.a[1]
		if p.reqs == nil {
			p.reqs = make([]*reqParams, len(p.bin.Consts))
		}
		if p.reqs[k] == nil {
			p.reqs[k] = newReqParams(o.c)
		}
		o.req = p.reqs[k]
		cout, P := get("cout"), get("p")
		total := get("n") * cout * P
		w0, nw := int64(o.a[2]), int64(o.a[3])
		// The windows' elements lie within the tensor's extent.
		if err := inABuf("dst", int64(o.a[0]), total); err != nil {
			return o, err
		}
		if get("psum")+total > int64(p.psum) {
			return o, fmt.Errorf("accumulators %d..%d outside the %d-word partial-sum buffer", get("psum"), get("psum")+total, p.psum)
		}
		n := nw * cout
		c.PPUOps = n + nw*get("psums")
		c.BufferWriteBits = n * get("obits")
		if get("hasres") == 1 {
			if err := inABuf("res", get("res"), total); err != nil {
				return o, err
			}
			c.PPUOps += n
			c.BufferReadBits = n * get("rbits")
		}
		_ = w0
	case isa.OpADD:
		n := get("n")
		for i, name := range []string{"dst", "a", "b"} {
			if err := inABuf(name, int64(o.a[i]), n); err != nil {
				return o, err
			}
		}
		c.PPUOps = 2 * n
		c.BufferReadBits = n * (get("abits") + get("bbits"))
		c.BufferWriteBits = n * get("obits")
	case isa.OpMAXPOOL, isa.OpAVGPOOL:
		nc := get("nc")
		nin, out := nc*get("h")*get("w"), nc*get("oh")*get("ow")
		err = rw(int64(o.a[0]), out, get("obits"), int64(o.a[1]), nin, get("ibits"), true)
		k := get("kh") * get("kw")
		if in.Op == isa.OpMAXPOOL {
			k = max(1, k-1)
		}
		c.PPUOps = k * out
	case isa.OpGAP:
		nc, hw := get("nc"), get("hw")
		err = rw(int64(o.a[0]), nc, get("obits"), int64(o.a[1]), nc*hw, get("ibits"), false)
		c.PPUOps = nc * hw
	case isa.OpCOPY:
		rows, ln := get("rows"), get("len")
		if rows > 0 && ln > 0 {
			se := (rows-1)*get("sstride") + ln
			de := (rows-1)*get("dstride") + ln
			if err := rw(int64(o.a[0]), de, 0, int64(o.a[1]), se, 0, true); err != nil {
				return o, err
			}
		}
		n := rows * ln
		c.PPUOps = n
		c.BufferReadBits, c.BufferWriteBits = n*get("bits"), n*get("bits")
	case isa.OpPERM:
		t := o.c.Tail()
		n := int64(1)
		for _, d := range t[:len(t)/2] {
			n *= d
		}
		err = rw(int64(o.a[0]), n, get("bits"), int64(o.a[1]), n, get("bits"), true)
		c.PPUOps = n
	case isa.OpSOFTMAX:
		n := get("outer") * get("dim") * get("inner")
		if o.a[0] != o.a[1] && overlap(int64(o.a[0]), n, int64(o.a[1]), n) {
			return o, fmt.Errorf("source and destination partly overlap")
		}
		err = rw(int64(o.a[0]), n, 32, int64(o.a[1]), n, 32, false)
		c.PPUOps = 3 * n
	case isa.OpFOP:
		n := get("batch") * get("c") * get("inner")
		f := isa.FloatOp(get("op"))
		// Elementwise operations may run in place; LRN reads neighbouring
		// channels, so its source and destination must be disjoint.
		if (f == isa.FopLRN || o.a[0] != o.a[1]) && overlap(int64(o.a[0]), n, int64(o.a[1]), n) {
			return o, fmt.Errorf("source and destination overlap")
		}
		err = rw(int64(o.a[0]), n, 32, int64(o.a[1]), n, 32, false)
		c.PPUOps = n * isa.FopElemOps(f, get("size"))
	default:
		return o, fmt.Errorf("BUG: no simulator for %s", in.Op)
	}
	if err != nil {
		return o, err
	}
	o.wlo, o.whi = p.writeRange(&o)
	if e == isa.PPU && in.Op != isa.OpSIGNAL && in.Op != isa.OpWAIT && in.Op != isa.OpHALT && in.Op != isa.OpNOP {
		o.dur = ceilDiv(c.PPUOps, int64(p.h.PPU.OpsPerCycle))
	}
	return o, nil
}

// reqParams is a decoded requantization descriptor.
type reqParams struct {
	cout, p   int
	psum, res int
	lo, hi    int64
	hasRes    bool
	rows      []reqRow
}

type reqRow struct {
	m, base, r int64
	s          uint
}

func newReqParams(c *isa.Const) *reqParams {
	q := &reqParams{cout: int(c.Get("cout")), p: int(c.Get("p")), psum: int(c.Get("psum")), res: int(c.Get("res")),
		lo: c.Get("lo"), hi: c.Get("hi"), hasRes: c.Get("hasres") == 1}
	rq := c.Tail()
	q.rows = make([]reqRow, q.cout)
	for ch := range q.rows {
		M, B, S, R := rq[4*ch], rq[4*ch+1], uint(rq[4*ch+2]), rq[4*ch+3]
		if S > 0 {
			B += int64(1) << (S - 1)
		}
		q.rows[ch] = reqRow{m: M, base: B, r: R, s: S}
	}
	return q
}

// writeRange is the activation-buffer words an instruction may write
// (empty for instructions that write none).
func (p *Program) writeRange(o *op) (int, int) {
	get := func(n string) int { return int(o.c.Get(n)) }
	dst := o.a[0]
	var n int
	switch o.code {
	case isa.OpLOAD:
		n = o.a[3]
	case isa.OpQUANT, isa.OpDEQ, isa.OpRESCALE, isa.OpRELU:
		n = o.a[2]
	case isa.OpREQ:
		n = get("n") * get("cout") * get("p")
	case isa.OpADD:
		n = get("n")
	case isa.OpMAXPOOL, isa.OpAVGPOOL:
		n = get("nc") * get("oh") * get("ow")
	case isa.OpGAP:
		n = get("nc")
	case isa.OpCOPY:
		if get("rows") > 0 && get("len") > 0 {
			n = (get("rows")-1)*get("dstride") + get("len")
		}
	case isa.OpPERM:
		t := o.c.Tail()
		n = 1
		for _, d := range t[:len(t)/2] {
			n *= int(d)
		}
	case isa.OpSOFTMAX:
		n = get("outer") * get("dim") * get("inner")
	case isa.OpFOP:
		n = get("batch") * get("c") * get("inner")
	default:
		return 0, 0
	}
	return dst, dst + n
}

// checkArrays replays each pool's stream (setup, then the inference code
// twice, which covers every later inference) and checks that every MVM's
// array holds the image it names.
func (p *Program) checkArrays() error {
	for _, e := range []isa.Engine{isa.SRAM, isa.EDRAM} {
		arrs := make(map[int]*arrayState)
		ops := p.streams[e]
		run := func(from, to int) error {
			for j := from; j < to; j++ {
				o := &ops[j]
				switch o.code {
				case isa.OpWPROG:
					a := arrs[o.a[0]]
					if a == nil {
						a = &arrayState{}
						arrs[o.a[0]] = a
					}
					a.hold(o.a[1], o.a[2], o.img)
				case isa.OpMVM:
					a := arrs[o.a[0]]
					if a == nil || len(a.held) == 0 {
						return fmt.Errorf("stream %s, instruction %d (mvm): array %d holds no weights", e, j, o.a[0])
					}
					if !slices.ContainsFunc(a.held, func(h heldImage) bool { return h.img == o.a[1] }) {
						imgs := make([]int, len(a.held))
						for i, h := range a.held {
							imgs[i] = h.img
						}
						slices.Sort(imgs)
						return fmt.Errorf("stream %s, instruction %d (mvm): array %d holds images %v, the instruction expects image %d", e, j, o.a[0], imgs, o.a[1])
					}
				}
			}
			return nil
		}
		if err := run(0, p.entry[e]); err != nil {
			return err
		}
		for pass := 0; pass < 2; pass++ {
			if err := run(p.entry[e], len(ops)); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSync replays the tokens of one inference without timing and reports
// a deadlock (a wait no signal can satisfy).
func (p *Program) checkSync() error {
	var pc [isa.NumEngines]int
	var tokens [isa.NumEngines][isa.NumEngines]int
	for e := range pc {
		pc[e] = p.entry[e]
	}
	for {
		progress, done := false, true
		for e := isa.Engine(0); e < isa.NumEngines; e++ {
			ops := p.streams[e]
			for pc[e] < len(ops) {
				o := &ops[pc[e]]
				if o.code == isa.OpWAIT {
					if tokens[o.peer][e] == 0 {
						break
					}
					tokens[o.peer][e]--
				} else if o.code == isa.OpSIGNAL {
					tokens[e][o.peer]++
				}
				pc[e]++
				progress = true
			}
			if pc[e] < len(ops) {
				done = false
			}
		}
		if done {
			break
		}
		if !progress {
			msg := ""
			for e := isa.Engine(0); e < isa.NumEngines; e++ {
				if pc[e] < len(p.streams[e]) {
					msg += fmt.Sprintf(" %s at instruction %d waits for %s;", e, pc[e], p.streams[e][pc[e]].peer)
				}
			}
			return fmt.Errorf("deadlock: the sync tokens cannot be satisfied:%s", msg[:len(msg)-1])
		}
	}
	for s := range tokens {
		for d, n := range tokens[s] {
			if n != 0 {
				return fmt.Errorf("%d token(s) from %s to %s are never waited for (one inference would leave them for the next)", n, isa.Engine(s), isa.Engine(d))
			}
		}
	}
	return nil
}
