package backend

import (
	"fmt"
	"math"
	"slices"

	"pimc/backend/isa"
	"pimc/hw"
	"pimc/ir"
	"pimc/mapping"
)

// Emit lowers a quantized module to a program for h. The module's graph
// inputs must be float tensors, its outputs float tensors (Dequantize or a
// float op after it), and every other op one the chip runs: the pimc ops of
// ir/op_pimc.go, reshapes and transposes of codes, Softmax and LogSoftmax,
// and the float ops of the fop instruction (floatOps: LRN and elementwise
// activations) on float32 tensors. The layers are allocated with o.Mapping(), the options to cost the
// program with. The result is deterministic: equal modules and options give
// equal bytes.
func Emit(m *ir.Module, h *hw.Hardware, o Options) (*isa.Program, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	fp, err := h.Fingerprint()
	if err != nil {
		return nil, err
	}
	if _, err := mapping.ParseObjective(string(o.Objective)); err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	e := &emitter{m: m, h: h, mo: o.Mapping(), loc: map[*ir.Value]*buffer{}, width: mapping.ValueWidths(m)}
	e.p = &isa.Program{HWName: h.Name, Fingerprint: fp, Model: m.Name}
	if err := e.plan(); err != nil {
		return nil, err
	}
	if err := e.run(); err != nil {
		return nil, err
	}
	if err := e.p.Validate(); err != nil {
		return nil, fmt.Errorf("internal error: emitted program invalid: %w", err)
	}
	if err := e.p.CheckHardware(h); err != nil {
		return nil, fmt.Errorf("internal error: emitted program does not fit the hardware: %w", err)
	}
	return e.p, nil
}

type emitter struct {
	m     *ir.Module
	h     *hw.Hardware
	mo    mapping.Options // how the layers are allocated
	p     *isa.Program
	setup [isa.NumEngines][]isa.Inst
	code  [isa.NumEngines][]isa.Inst
	syms  []sym
	alloc allocator
	loc   map[*ir.Value]*buffer
	width map[*ir.Value]int64 // stored bits per element (docs/cost.md)
	psum  int
	// layers
	layers  []*layer
	layerOf map[*ir.Node]*layer
	region  [isa.NumEngines]struct{ start, size int } // streaming region per pool
	resNext [isa.NumEngines]int
}

type sym struct {
	engine     isa.Engine
	setup      bool
	start, end int
	name       string
}

type buffer struct {
	addr, n int
	last    int // index of the last node reading it; len(nodes) = never freed
}

// emit appends an instruction to an engine's per-inference stream.
func (e *emitter) emit(en isa.Engine, in isa.Inst) { e.code[en] = append(e.code[en], in) }

// node runs f and records the instructions it emitted as node name's.
func (e *emitter) node(name string, f func() error) error {
	var c, s [isa.NumEngines]int
	for en := range c {
		c[en], s[en] = len(e.code[en]), len(e.setup[en])
	}
	if err := f(); err != nil {
		return err
	}
	for en := isa.Engine(0); en < isa.NumEngines; en++ {
		if n := len(e.setup[en]); n > s[en] {
			e.syms = append(e.syms, sym{en, true, s[en], n, name})
		}
		if n := len(e.code[en]); n > c[en] {
			e.syms = append(e.syms, sym{en, false, c[en], n, name})
		}
	}
	return nil
}

func (e *emitter) cnst(kind isa.ConstKind, vals ...int64) uint64 {
	e.p.Consts = append(e.p.Consts, isa.Const{Kind: kind, Vals: vals})
	return uint64(len(e.p.Consts) - 1)
}

func u(v int) uint64 { return uint64(v) }

// run emits the whole program.
func (e *emitter) run() error {
	g := e.m.Graph
	nodes := g.Nodes
	// Liveness: the last node reading each value.
	last := map[*ir.Value]int{}
	for i, n := range nodes {
		for _, v := range n.Inputs {
			if v != nil && !v.IsConst() {
				last[v] = i
			}
		}
	}
	for _, v := range g.Outputs {
		last[v] = len(nodes)
	}
	// Inputs: loaded by the DMA, then the PPU may start.
	var inPorts []isa.Port
	for i, v := range g.Inputs {
		if v.Type.DType != ir.Float32 {
			return fmt.Errorf("backend: graph input %q is %s; the chip takes float32 inputs", v.Name, v.Type.DType)
		}
		n := int(v.Type.Len())
		b := &buffer{addr: e.alloc.get(n), n: n, last: last[v]}
		e.loc[v] = b
		inPorts = append(inPorts, isa.Port{DType: isa.F32, Name: v.Name, Shape: append([]int64{}, v.Type.Shape...), Addr: uint32(b.addr)})
		e.emit(isa.DMA, isa.I(isa.OpLOAD, u(b.addr), u(i), 0, u(n)))
	}
	if len(g.Inputs) > 0 {
		e.emit(isa.DMA, isa.I(isa.OpSIGNAL, uint64(isa.PPU)))
		e.emit(isa.PPU, isa.I(isa.OpWAIT, uint64(isa.DMA)))
	}
	for i, n := range nodes {
		if err := e.node(n.Name, func() error { return e.lower(n, i, last) }); err != nil {
			return err
		}
		// Free what this node read for the last time.
		for _, v := range n.Inputs {
			if b := e.loc[v]; b != nil && b.last == i {
				e.alloc.put(b.addr, b.n)
				b.last = -1 // freed once even if read twice
			}
		}
		// A value nobody reads is dead at once.
		for _, v := range n.Outputs {
			if b := e.loc[v]; v != nil && b != nil && b.last < i && b.last != -1 {
				e.alloc.put(b.addr, b.n)
				b.last = -1
			}
		}
	}
	// Outputs: the PPU hands over to the DMA.
	var outPorts []isa.Port
	e.emit(isa.PPU, isa.I(isa.OpSIGNAL, uint64(isa.DMA)))
	e.emit(isa.DMA, isa.I(isa.OpWAIT, uint64(isa.PPU)))
	for i, v := range g.Outputs {
		b := e.loc[v]
		if b == nil || v.Type.DType != ir.Float32 {
			return fmt.Errorf("backend: graph output %q is %s; the chip's outputs are float32 (end the graph with Dequantize)", v.Name, v.Type.DType)
		}
		outPorts = append(outPorts, isa.Port{Out: true, DType: isa.F32, Name: v.Name, Shape: append([]int64{}, v.Type.Shape...), Addr: uint32(b.addr)})
		e.emit(isa.DMA, isa.I(isa.OpSTORE, u(b.addr), u(i), 0, u(b.n)))
	}
	e.p.Ports = append(inPorts, outPorts...)
	for en := isa.Engine(0); en < isa.NumEngines; en++ {
		e.emit(en, isa.I(isa.OpHALT))
		s := &e.p.Streams[en]
		s.Entry = uint32(len(e.setup[en]))
		s.Code = append(append([]isa.Inst{}, e.setup[en]...), e.code[en]...)
	}
	for _, s := range e.syms {
		off := 0
		if !s.setup {
			off = len(e.setup[s.engine])
		}
		e.p.Syms = append(e.p.Syms, isa.Sym{Engine: s.engine, Start: uint32(s.start + off), End: uint32(s.end + off), Name: s.name})
	}
	if e.alloc.top >= 1<<28 || e.psum >= 1<<28 {
		return fmt.Errorf("backend: model needs %d activation words and %d partial sums, above the 2^28-word address space", e.alloc.top, e.psum)
	}
	e.p.ABufWords = uint32(e.alloc.top)
	e.p.PSumWords = uint32(e.psum)
	return nil
}

// out allocates the buffer of a node's output.
func (e *emitter) out(v *ir.Value, last map[*ir.Value]int) *buffer {
	n := int(v.Type.Len())
	b := &buffer{addr: e.alloc.get(n), n: n, last: last[v]}
	if _, read := last[v]; !read {
		b.last = -2 // never read: freed right after the node
	}
	e.loc[v] = b
	return b
}

func (e *emitter) in(n *ir.Node, i int) (*buffer, error) {
	v := n.In(i)
	b := e.loc[v]
	if b == nil {
		if v != nil && v.IsConst() {
			return nil, n.Errorf("constant input %q: the chip reads activations only", v.Name)
		}
		return nil, n.Errorf("input %d is not computed on the chip", i)
	}
	return b, nil
}

func codeRange(n *ir.Node) (int64, int64) {
	lo, hi := ir.CodeRange(n.Int("out_bits", 8), n.Int("out_signed", 0) != 0)
	if n.Int("relu", 0) != 0 && lo < 0 {
		lo = 0
	}
	return lo, hi
}

// lower emits one node.
func (e *emitter) lower(n *ir.Node, i int, last map[*ir.Value]int) error {
	ppu := func(in isa.Inst) { e.emit(isa.PPU, in) }
	switch n.Op {
	case ir.OpQConv, ir.OpDualConv, ir.OpQGemm, ir.OpDualGemm:
		return e.lowerLayer(n, last)
	case ir.OpReshape, ir.OpFlatten, ir.OpSqueeze, ir.OpUnsqueeze, ir.OpIdentity:
		b, err := e.in(n, 0)
		if err != nil {
			return err
		}
		// An alias: the buffer lives until the alias's last reader.
		e.loc[n.Out(0)] = b
		if l, ok := last[n.Out(0)]; ok && l > b.last {
			b.last = l
		}
		return nil
	}
	x, err := e.in(n, 0)
	if err != nil {
		return err
	}
	xv := n.In(0)
	y := e.out(n.Out(0), last)
	switch n.Op {
	case ir.OpQuantizeInput:
		lo, hi := ir.CodeRange(n.Int("bits", 8), n.Int("signed", 0) != 0)
		k := e.cnst(isa.KQuant, isa.F32Bits(n.Float("scale", 1)), lo, hi, e.width[n.Out(0)])
		ppu(isa.I(isa.OpQUANT, u(y.addr), u(x.addr), u(y.n), k))
	case ir.OpDequantize:
		k := e.cnst(isa.KDeq, isa.F32Bits(n.Float("scale", 1)), e.width[xv])
		ppu(isa.I(isa.OpDEQ, u(y.addr), u(x.addr), u(y.n), k))
	case ir.OpQAdd:
		b, err := e.in(n, 1)
		if err != nil {
			return err
		}
		lo, hi := codeRange(n)
		k := e.cnst(isa.KAdd, int64(y.n), n.Int("mult_a", 0), n.Int("mult_b", 0), n.Int("shift", 0), lo, hi,
			e.width[xv], e.width[n.In(1)], e.width[n.Out(0)])
		ppu(isa.I(isa.OpADD, u(y.addr), u(x.addr), u(b.addr), k))
	case ir.OpQRescale:
		lo, hi := codeRange(n)
		k := e.cnst(isa.KRescale, n.Int("mult", 0), n.Int("shift", 0), lo, hi, e.width[xv], e.width[n.Out(0)])
		ppu(isa.I(isa.OpRESCALE, u(y.addr), u(x.addr), u(y.n), k))
	case ir.OpQRelu:
		ppu(isa.I(isa.OpRELU, u(y.addr), u(x.addr), u(y.n), uint64(e.width[n.Out(0)])))
	case ir.OpQMaxPool, ir.OpQAvgPool:
		xs := xv.Type.Shape
		if len(xs) != 4 {
			return n.Errorf("only 2-D pooling runs on the PPU")
		}
		k := n.IntList("kernel_shape", nil)
		geo, err := ir.ResolveConv(n, xs[2:], k, n.Int("ceil_mode", 0) != 0)
		if err != nil {
			return n.Errorf("%v", err)
		}
		avg := int64(0)
		var lo, hi, shift int64
		var mults []int64
		if n.Op == ir.OpQAvgPool {
			avg = 1
			lo, hi = codeRange(n)
			shift = n.Int("shift", 0)
			mults = n.IntList("mults", nil)
		}
		vals := []int64{xs[0] * xs[1], xs[2], xs[3], geo.Out[0], geo.Out[1], k[0], k[1], geo.Strides[0], geo.Strides[1],
			geo.Pads[0], geo.Pads[1], geo.Pads[2], geo.Pads[3], geo.Dilations[0], geo.Dilations[1], avg, n.Int("count_include_pad", 0), shift, lo, hi,
			e.width[xv], e.width[n.Out(0)]}
		kk := e.cnst(isa.KPool, append(vals, mults...)...)
		op := isa.OpMAXPOOL
		if avg == 1 {
			op = isa.OpAVGPOOL
		}
		ppu(isa.I(op, u(y.addr), u(x.addr), kk))
	case ir.OpQGlobalAvgPool:
		xs := xv.Type.Shape
		lo, hi := codeRange(n)
		k := e.cnst(isa.KGap, xs[0]*xs[1], ir.NumElems(xs[2:]), n.Int("mult", 0), n.Int("shift", 0), lo, hi, e.width[xv], e.width[n.Out(0)])
		ppu(isa.I(isa.OpGAP, u(y.addr), u(x.addr), k))
	case ir.OpQConcat:
		axis := int(n.Int("axis", 0))
		ys := n.Out(0).Type.Shape
		if axis < 0 {
			axis += len(ys)
		}
		outer := ir.NumElems(ys[:axis])
		total := ir.NumElems(ys[axis:])
		off := int64(0)
		for j := range n.Inputs {
			b, err := e.in(n, j)
			if err != nil {
				return err
			}
			inner := ir.NumElems(n.In(j).Type.Shape[axis:])
			k := e.cnst(isa.KCopy, outer, inner, inner, total, e.width[n.In(j)])
			ppu(isa.I(isa.OpCOPY, u(y.addr)+uint64(off), u(b.addr), k))
			off += inner
		}
	case ir.OpTranspose:
		xs := xv.Type.Shape
		r := len(xs)
		perm := n.IntList("perm", nil)
		if perm == nil {
			perm = make([]int64, r)
			for i := range perm {
				perm[i] = int64(r - 1 - i)
			}
		}
		if r < 1 || r > 8 {
			return n.Errorf("transpose of rank %d", r)
		}
		vals := append([]int64{int64(r), e.width[xv]}, xs...)
		k := e.cnst(isa.KPerm, append(vals, perm...)...)
		ppu(isa.I(isa.OpPERM, u(y.addr), u(x.addr), k))
	case ir.OpSoftmax, ir.OpLogSoftmax:
		xs := xv.Type.Shape
		r := len(xs)
		axis := int(n.Int("axis", -1))
		if axis < 0 {
			axis += r
		}
		if r == 0 || axis < 0 || axis >= r {
			return n.Errorf("axis %d of a rank-%d tensor", n.Int("axis", -1), r)
		}
		log := int64(0)
		if n.Op == ir.OpLogSoftmax {
			log = 1
		}
		k := e.cnst(isa.KSoftmax, ir.NumElems(xs[:axis]), xs[axis], ir.NumElems(xs[axis+1:]), log)
		ppu(isa.I(isa.OpSOFTMAX, u(y.addr), u(x.addr), k))
	default:
		f, ok := floatOps[n.Op]
		if !ok {
			return n.Errorf("not supported by the chip (the PPU runs the pimc ops, reshapes, Transpose, Softmax, LogSoftmax, LRN and the float activations of docs/isa.md)")
		}
		k, err := e.fop(n, f)
		if err != nil {
			return err
		}
		ppu(isa.I(isa.OpFOP, u(y.addr), u(x.addr), k))
	}
	return nil
}

// floatOps are the float ops the PPU's fop instruction runs.
var floatOps = map[ir.Op]isa.FloatOp{
	ir.OpLRN: isa.FopLRN, ir.OpRelu: isa.FopRelu, ir.OpLeakyRelu: isa.FopLeakyRelu, ir.OpElu: isa.FopElu,
	ir.OpSelu: isa.FopSelu, ir.OpSigmoid: isa.FopSigmoid, ir.OpHardSigmoid: isa.FopHardSigmoid,
	ir.OpHardSwish: isa.FopHardSwish, ir.OpTanh: isa.FopTanh, ir.OpSoftplus: isa.FopSoftplus,
	ir.OpSoftsign: isa.FopSoftsign, ir.OpMish: isa.FopMish, ir.OpGelu: isa.FopGelu, ir.OpExp: isa.FopExp,
	ir.OpLog: isa.FopLog, ir.OpNeg: isa.FopNeg, ir.OpAbs: isa.FopAbs, ir.OpSqrt: isa.FopSqrt,
	ir.OpReciprocal: isa.FopReciprocal, ir.OpCeil: isa.FopCeil, ir.OpFloor: isa.FopFloor,
	ir.OpRound: isa.FopRound, ir.OpErf: isa.FopErf, ir.OpSign: isa.FopSign, ir.OpClip: isa.FopClip,
}

// fop builds the descriptor of a float op: the attributes the FP32
// interpreter reads, with its defaults (interp/unary.go, interp/norm.go).
func (e *emitter) fop(n *ir.Node, f isa.FloatOp) (uint64, error) {
	xv, yv := n.In(0), n.Out(0)
	if xv.Type.DType != ir.Float32 || yv.Type.DType != ir.Float32 || !slices.Equal(xv.Type.Shape, yv.Type.Shape) {
		return 0, n.Errorf("%s of %s to %s: the PPU runs float ops on float32 tensors of one shape", n.Op, xv.Type, yv.Type)
	}
	xs := xv.Type.Shape
	batch, c, inner := int64(1), int64(1), ir.NumElems(xs)
	if len(xs) >= 2 {
		batch, c, inner = xs[0], xs[1], ir.NumElems(xs[2:])
	}
	var size, mode int64
	var fl [3]float32
	switch f {
	case isa.FopLRN:
		if len(xs) < 3 {
			return 0, n.Errorf("LRN of a rank-%d tensor (want >= 3)", len(xs))
		}
		size = n.Int("size", 0)
		if size <= 0 {
			return 0, n.Errorf("LRN size=%d must be positive", size)
		}
		fl = [3]float32{n.Float("alpha", 1e-4), n.Float("beta", 0.75), n.Float("bias", 1)}
	case isa.FopLeakyRelu:
		fl[0] = n.Float("alpha", 0.01)
	case isa.FopElu:
		fl[0] = n.Float("alpha", 1)
	case isa.FopSelu:
		fl[0], fl[1] = n.Float("alpha", 1.67326319217681884765625), n.Float("gamma", 1.05070102214813232421875)
	case isa.FopHardSigmoid:
		fl[0], fl[1] = n.Float("alpha", 0.2), n.Float("beta", 0.5)
	case isa.FopGelu:
		switch a := n.Str("approximate", "none"); a {
		case "none":
		case "tanh":
			mode = 1
		default:
			return 0, n.Errorf("Gelu approximate=%q", a)
		}
	case isa.FopClip:
		fl[0], fl[1] = float32(math.Inf(-1)), float32(math.Inf(1))
		for j := 1; j <= 2; j++ {
			b := n.In(j)
			if b == nil {
				continue
			}
			if !b.IsConst() || b.Const.Len() != 1 || b.Const.DType != ir.Float32 {
				return 0, n.Errorf("Clip bound %q must be a float32 scalar constant on the chip", b.Name)
			}
			fl[j-1] = float32(b.Const.Float(0))
		}
	}
	for _, d := range []int64{batch, c, inner} {
		if d < 1 || d > 1<<24 {
			return 0, n.Errorf("%s of shape %v: the fop descriptor's batch, channels and inner size must be 1..2^24", n.Op, xs)
		}
	}
	if size > 1<<24 {
		return 0, n.Errorf("LRN size=%d above 2^24", size)
	}
	vals := []int64{int64(f), batch, c, inner, size, mode}
	for i, v := range fl {
		if f.Info().Floats[i] == "" {
			v = 0
		}
		vals = append(vals, isa.F32Bits(v))
	}
	return e.cnst(isa.KFop, vals...), nil
}

// allocator is a first-fit allocator of activation-buffer words.
type allocator struct {
	free []span // sorted by address, coalesced
	top  int
}

type span struct{ addr, n int }

func (a *allocator) get(n int) int {
	if n == 0 {
		n = 1
	}
	for i, s := range a.free {
		if s.n >= n {
			if s.n == n {
				a.free = append(a.free[:i], a.free[i+1:]...)
			} else {
				a.free[i] = span{s.addr + n, s.n - n}
			}
			return s.addr
		}
	}
	// Grow, reusing a free span at the top.
	if k := len(a.free); k > 0 && a.free[k-1].addr+a.free[k-1].n == a.top {
		s := a.free[k-1]
		a.free = a.free[:k-1]
		a.top = s.addr + n
		return s.addr
	}
	addr := a.top
	a.top += n
	return addr
}

func (a *allocator) put(addr, n int) {
	if n == 0 {
		n = 1
	}
	i := 0
	for i < len(a.free) && a.free[i].addr < addr {
		i++
	}
	a.free = append(a.free, span{})
	copy(a.free[i+1:], a.free[i:])
	a.free[i] = span{addr, n}
	// Coalesce with the neighbours.
	if i+1 < len(a.free) && a.free[i].addr+a.free[i].n == a.free[i+1].addr {
		a.free[i].n += a.free[i+1].n
		a.free = append(a.free[:i+1], a.free[i+2:]...)
	}
	if i > 0 && a.free[i-1].addr+a.free[i-1].n == a.free[i].addr {
		a.free[i-1].n += a.free[i].n
		a.free = append(a.free[:i], a.free[i+1:]...)
	}
}

// Options says how Emit lays a module out.
type Options struct {
	// Objective is the allocation objective (docs/mapping.md,
	// "Objectives"); the zero value is latency.
	Objective mapping.Objective
}

// Mapping is the mapping the backend lays layers out with: im2col only
// (see the package doc), allocated for o.Objective. Evaluate the cost
// model with it to compare with the simulator (docs/cost.md,
// docs/simulator.md).
func (o Options) Mapping() mapping.Options {
	return mapping.Options{Schemes: []mapping.Scheme{mapping.Im2col}, Objective: o.Objective}
}
