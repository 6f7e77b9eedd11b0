package dualnet

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"pimc/hw"
	"pimc/interp"
	"pimc/ir"
)

// ExecOptions configures the quantized reference executor.
type ExecOptions struct {
	// HW supplies the array rows and ADC resolution of both pools; nil
	// means hw.Default().
	HW *hw.Hardware
	// Workers bounds RunBatch's parallelism (default GOMAXPROCS).
	Workers int
	// tap makes Run record layers' pre-activation sums (runTap).
	tap bool
}

// ADC is the analog read-out model of one PIM pool: partial sums are
// formed over row tiles of Rows consecutive rows of the flattened kernel,
// and each column's per-cycle count is read by a Bits-bit converter that
// saturates at 2^Bits − 1 (exact when Ideal, or when Rows ≤ 2^Bits − 1).
type ADC struct {
	Rows  int
	Bits  int
	Ideal bool
}

// Sat is the largest count the converter reads.
func (a ADC) Sat() int { return 1<<a.Bits - 1 }

// Exact reports whether the converter can never saturate.
func (a ADC) Exact() bool { return a.Ideal || a.Rows <= a.Sat() }

// ADCs derives both pools' ADC models from a hardware description.
func ADCs(h *hw.Hardware) (sram, edram ADC) {
	if h == nil {
		h = hw.Default()
	}
	f := func(p hw.Pool) ADC {
		r := p.Rows
		if p.RowsActivePerCycle > 0 && p.RowsActivePerCycle < r {
			r = p.RowsActivePerCycle
		}
		if r <= 0 {
			r = 128
		}
		return ADC{Rows: r, Bits: p.ADCBits, Ideal: p.ADCIdeal || p.ADCBits <= 0 || p.ADCBits >= 31}
	}
	return f(h.SRAM), f(h.EDRAM)
}

// slot kinds
const (
	slotCode = iota
	slotFloat
	slotConst
)

type slotInfo struct {
	kind  int
	store int // code storage index (aliases share one)
	size  int
	shape []int64
	dtype ir.DType
	bits  int
	sign  bool
	c     *ir.Tensor // constants
}

type step interface {
	run(st *state) error
}

// Executor runs a quantized module. It is safe for concurrent use: each
// run gets its own buffers.
type Executor struct {
	m       *ir.Module
	slots   []slotInfo
	stores  []int // size of each code storage
	steps   []step
	ins     []int
	outs    []int
	workers int
	pool    sync.Pool
	sram    ADC
	edram   ADC
	tap     bool
	ids     map[*ir.Value]int // slot of each value (tests compare every tensor)
}

type state struct {
	codes   [][]int32
	floats  []*ir.Tensor
	scratch map[int]any
	// tap, when set, receives each layer's per-channel sums of the
	// pre-activation (acc·M + B)/2^S in output-code units (bias correction).
	tap map[string]*tapSum
}

type tapSum struct {
	sum, sq []float64
	n       float64
}

// Run executes a quantized module once with the default hardware.
func Run(m *ir.Module, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	e, err := NewExecutor(m, ExecOptions{})
	if err != nil {
		return nil, err
	}
	return e.Run(inputs)
}

// RunBatch executes a quantized module on many input sets in parallel.
func RunBatch(m *ir.Module, batch [][]*ir.Tensor, o ExecOptions) ([][]*ir.Tensor, error) {
	e, err := NewExecutor(m, o)
	if err != nil {
		return nil, err
	}
	return e.RunBatch(batch)
}

// NewExecutor compiles a quantized module into an execution plan.
func NewExecutor(m *ir.Module, o ExecOptions) (*Executor, error) {
	e := &Executor{m: m, workers: o.Workers}
	if e.workers <= 0 {
		e.workers = runtime.GOMAXPROCS(0)
	}
	e.sram, e.edram = ADCs(o.HW)
	e.tap = o.tap
	id := map[*ir.Value]int{}
	g := m.Graph
	addSlot := func(v *ir.Value, s slotInfo) int {
		s.shape, s.dtype = v.Type.Shape, v.Type.DType
		s.size = int(ir.NumElems(v.Type.Shape))
		e.slots = append(e.slots, s)
		id[v] = len(e.slots) - 1
		return id[v]
	}
	newStore := func(size int) int {
		e.stores = append(e.stores, size)
		return len(e.stores) - 1
	}
	for _, v := range g.Inputs {
		if !v.Type.DType.IsFloat() {
			return nil, errorf("graph input %q is %s: the executor takes float inputs", v.Name, v.Type.DType)
		}
		e.ins = append(e.ins, addSlot(v, slotInfo{kind: slotFloat}))
	}
	for _, v := range g.Consts {
		addSlot(v, slotInfo{kind: slotConst, c: v.Const})
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil {
				if _, ok := id[in]; !ok {
					return nil, n.Errorf("input %q is not defined", in.Name)
				}
			}
		}
		st, err := e.compile(n, id, addSlot, newStore)
		if err != nil {
			return nil, err
		}
		if st != nil {
			e.steps = append(e.steps, st)
		}
	}
	for _, v := range g.Outputs {
		i, ok := id[v]
		if !ok {
			return nil, errorf("graph output %q is not computed", v.Name)
		}
		if e.slots[i].kind == slotCode {
			return nil, errorf("graph output %q is integer codes: end the graph with Dequantize", v.Name)
		}
		e.outs = append(e.outs, i)
	}
	e.ids = id
	e.pool.New = func() any { return e.newState() }
	return e, nil
}

func (e *Executor) newState() *state {
	st := &state{codes: make([][]int32, len(e.stores)), floats: make([]*ir.Tensor, len(e.slots)), scratch: map[int]any{}}
	for i, n := range e.stores {
		st.codes[i] = make([]int32, n)
	}
	for i, s := range e.slots {
		if s.kind == slotConst {
			st.floats[i] = s.c
		}
	}
	return st
}

// Run executes the module on one set of inputs (graph-input order) and
// returns the outputs (graph-output order).
func (e *Executor) Run(inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	if len(inputs) != len(e.ins) {
		return nil, errorf("model %q takes %d inputs, got %d", e.m.Name, len(e.ins), len(inputs))
	}
	st := e.pool.Get().(*state)
	defer e.pool.Put(st)
	for i, s := range e.ins {
		t := inputs[i]
		want := e.slots[s]
		if t.DType != want.dtype || !slices.Equal(t.Shape, want.shape) || t.Check() != nil {
			return nil, errorf("input %d is %s, model expects %s", i, t.Type(), ir.Type{DType: want.dtype, Shape: want.shape})
		}
		st.floats[s] = t
	}
	for _, s := range e.steps {
		if err := s.run(st); err != nil {
			return nil, err
		}
	}
	out := make([]*ir.Tensor, len(e.outs))
	for i, s := range e.outs {
		out[i] = st.floats[s]
		st.floats[s] = nil
	}
	return out, nil
}

// RunBatch runs many input sets in parallel (Workers goroutines); the
// results are in input order and identical to sequential runs.
func (e *Executor) RunBatch(batch [][]*ir.Tensor) ([][]*ir.Tensor, error) {
	out := make([][]*ir.Tensor, len(batch))
	errs := make([]error, len(batch))
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for w := 0; w < min(e.workers, len(batch)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(batch) {
					return
				}
				out[i], errs[i] = e.Run(batch[i])
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("input set %d: %w", i, err)
		}
	}
	return out, nil
}

// codeFormat reads a code value's width and signedness from its producer.
func codeFormat(n *ir.Node, slots []slotInfo, id map[*ir.Value]int) (bits int, signed bool) {
	switch n.Op {
	case ir.OpQuantizeInput:
		return int(n.Int("bits", 8)), n.Int("signed", 0) != 0
	case ir.OpQConv, ir.OpDualConv, ir.OpQGemm, ir.OpDualGemm, ir.OpQAdd, ir.OpQRescale, ir.OpQAvgPool, ir.OpQGlobalAvgPool:
		return int(n.Int("out_bits", 8)), n.Int("out_signed", 0) != 0
	}
	s := slots[id[n.In(0)]]
	return s.bits, s.sign
}

func (e *Executor) compile(n *ir.Node, id map[*ir.Value]int, addSlot func(*ir.Value, slotInfo) int, newStore func(int) int) (step, error) {
	in := func(i int) int { return id[n.In(i)] }
	isCode := func(i int) bool { return e.slots[in(i)].kind == slotCode }
	codeOut := func() int {
		bits, sign := codeFormat(n, e.slots, id)
		v := n.Out(0)
		return addSlot(v, slotInfo{kind: slotCode, store: newStore(int(ir.NumElems(v.Type.Shape))), bits: bits, sign: sign})
	}
	rng := func() (int64, int64, bool) {
		lo, hi := codeRange(int(n.Int("out_bits", 8)), n.Int("out_signed", 0) != 0)
		relu := n.Int("relu", 0) != 0
		if relu && lo < 0 {
			lo = 0
		}
		return lo, hi, relu
	}
	switch n.Op {
	case ir.OpQuantizeInput:
		x := in(0)
		y := codeOut()
		lo, hi := codeRange(int(n.Int("bits", 8)), n.Int("signed", 0) != 0)
		return &quantStep{x: x, y: e.slots[y].store, scale: n.Float("scale", 1), lo: lo, hi: hi}, nil
	case ir.OpDequantize:
		x := e.slots[in(0)].store
		y := addSlot(n.Out(0), slotInfo{kind: slotFloat})
		return &dequantStep{x: x, y: y, scale: n.Float("scale", 1), shape: n.Out(0).Type.Shape}, nil
	case ir.OpQConv, ir.OpDualConv, ir.OpQGemm, ir.OpDualGemm:
		return e.compileMM(n, id, codeOut)
	case ir.OpQAdd:
		y := codeOut()
		lo, hi, _ := rng()
		return &addStep{a: e.slots[in(0)].store, b: e.slots[in(1)].store, y: e.slots[y].store,
			ma: n.Int("mult_a", 0), mb: n.Int("mult_b", 0), s: uint(n.Int("shift", 0)), lo: lo, hi: hi}, nil
	case ir.OpQRescale:
		y := codeOut()
		lo, hi, _ := rng()
		return &rescaleStep{x: e.slots[in(0)].store, y: e.slots[y].store, m: n.Int("mult", 0), s: uint(n.Int("shift", 0)), lo: lo, hi: hi}, nil
	case ir.OpQRelu:
		y := codeOut()
		return &reluStep{x: e.slots[in(0)].store, y: e.slots[y].store}, nil
	case ir.OpQMaxPool, ir.OpQAvgPool:
		return e.compilePool(n, in(0), codeOut)
	case ir.OpQGlobalAvgPool:
		y := codeOut()
		lo, hi, _ := rng()
		xs := n.In(0).Type.Shape
		return &gapStep{x: e.slots[in(0)].store, y: e.slots[y].store, nc: int(xs[0] * xs[1]), hw: int(ir.NumElems(xs[2:])),
			m: n.Int("mult", 0), s: uint(n.Int("shift", 0)), lo: lo, hi: hi}, nil
	case ir.OpQConcat:
		y := codeOut()
		st := &concatStep{y: e.slots[y].store}
		axis := int(n.Int("axis", 0))
		ys := n.Out(0).Type.Shape
		st.outer = int(ir.NumElems(ys[:axis]))
		for i := range n.Inputs {
			st.xs = append(st.xs, e.slots[in(i)].store)
			st.inner = append(st.inner, int(ir.NumElems(n.In(i).Type.Shape[axis:])))
		}
		return st, nil
	}
	if len(n.Inputs) > 0 && isCode(0) {
		switch n.Op {
		case ir.OpReshape, ir.OpFlatten, ir.OpSqueeze, ir.OpUnsqueeze, ir.OpIdentity:
			s := e.slots[in(0)]
			addSlot(n.Out(0), slotInfo{kind: slotCode, store: s.store, bits: s.bits, sign: s.sign})
			return nil, nil
		case ir.OpTranspose:
			y := codeOut()
			return newTransposeStep(n, e.slots[in(0)].store, e.slots[y].store), nil
		}
		return nil, n.Errorf("operator on integer codes not supported by the quantized executor")
	}
	// Float op: the FP32 interpreter's kernel.
	for i := range n.Inputs {
		if n.In(i) != nil && isCode(i) {
			return nil, n.Errorf("float operator reads integer codes %q (missing Dequantize)", n.In(i).Name)
		}
	}
	st := &floatStep{n: n}
	for i := range n.Inputs {
		if n.In(i) == nil {
			st.ins = append(st.ins, -1)
		} else {
			st.ins = append(st.ins, in(i))
		}
	}
	for _, o := range n.Outputs {
		if o == nil {
			st.outs = append(st.outs, -1)
			continue
		}
		st.outs = append(st.outs, addSlot(o, slotInfo{kind: slotFloat}))
	}
	return st, nil
}

type quantStep struct {
	x, y   int
	scale  float32
	lo, hi int64
}

func (s *quantStep) run(st *state) error {
	x, y := st.floats[s.x].F, st.codes[s.y]
	for i, v := range x {
		y[i] = int32(QuantizeValue(v, s.scale, s.lo, s.hi))
	}
	return nil
}

type dequantStep struct {
	x, y  int
	scale float32
	shape []int64
}

func (s *dequantStep) run(st *state) error {
	x := st.codes[s.x]
	t := ir.NewTensor(ir.Float32, s.shape...)
	for i, v := range x {
		t.F[i] = float32(v) * s.scale
	}
	st.floats[s.y] = t
	return nil
}

type floatStep struct {
	n         *ir.Node
	ins, outs []int
}

func (s *floatStep) run(st *state) error {
	in := make([]*ir.Tensor, len(s.ins))
	for i, j := range s.ins {
		if j >= 0 {
			in[i] = st.floats[j]
		}
	}
	out, err := interp.EvalNode(s.n, in)
	if err != nil {
		return err
	}
	for i, j := range s.outs {
		if j >= 0 && i < len(out) {
			st.floats[j] = out[i]
		}
	}
	return nil
}

type addStep struct {
	a, b, y int
	ma, mb  int64
	s       uint
	lo, hi  int64
}

func (s *addStep) run(st *state) error {
	a, b, y := st.codes[s.a], st.codes[s.b], st.codes[s.y]
	for i := range y {
		y[i] = int32(Saturate(RoundShift(int64(a[i])*s.ma+int64(b[i])*s.mb, s.s), s.lo, s.hi))
	}
	return nil
}

type rescaleStep struct {
	x, y   int
	m      int64
	s      uint
	lo, hi int64
}

func (s *rescaleStep) run(st *state) error {
	x, y := st.codes[s.x], st.codes[s.y]
	for i := range y {
		y[i] = int32(Saturate(RoundShift(int64(x[i])*s.m, s.s), s.lo, s.hi))
	}
	return nil
}

type reluStep struct{ x, y int }

func (s *reluStep) run(st *state) error {
	x, y := st.codes[s.x], st.codes[s.y]
	for i := range y {
		y[i] = max(x[i], 0)
	}
	return nil
}

type gapStep struct {
	x, y   int
	nc, hw int
	m      int64
	s      uint
	lo, hi int64
}

func (s *gapStep) run(st *state) error {
	x, y := st.codes[s.x], st.codes[s.y]
	for i := 0; i < s.nc; i++ {
		var sum int64
		for _, v := range x[i*s.hw : (i+1)*s.hw] {
			sum += int64(v)
		}
		y[i] = int32(Saturate(RoundShift(sum*s.m, s.s), s.lo, s.hi))
	}
	return nil
}

type concatStep struct {
	xs    []int
	inner []int
	outer int
	y     int
}

func (s *concatStep) run(st *state) error {
	y := st.codes[s.y]
	off := 0
	for o := 0; o < s.outer; o++ {
		for i, x := range s.xs {
			n := s.inner[i]
			copy(y[off:off+n], st.codes[x][o*n:(o+1)*n])
			off += n
		}
	}
	return nil
}

type transposeStep struct {
	x, y  int
	index []int32 // y[i] = x[index[i]]
}

func newTransposeStep(n *ir.Node, x, y int) *transposeStep {
	xs := n.In(0).Type.Shape
	r := len(xs)
	perm := n.IntList("perm", nil)
	if perm == nil {
		perm = make([]int64, r)
		for i := range perm {
			perm[i] = int64(r - 1 - i)
		}
	}
	strides := make([]int, r)
	acc := 1
	for i := r - 1; i >= 0; i-- {
		strides[i] = acc
		acc *= int(xs[i])
	}
	ys := n.Out(0).Type.Shape
	idx := make([]int32, acc)
	coord := make([]int, r)
	for i := range idx {
		off := 0
		for d := 0; d < r; d++ {
			off += coord[d] * strides[perm[d]]
		}
		idx[i] = int32(off)
		for d := r - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < int(ys[d]) {
				break
			}
			coord[d] = 0
		}
	}
	return &transposeStep{x: x, y: y, index: idx}
}

func (s *transposeStep) run(st *state) error {
	x, y := st.codes[s.x], st.codes[s.y]
	for i, j := range s.index {
		y[i] = x[j]
	}
	return nil
}

// poolStep is QMaxPool / QAvgPool over NCHW codes.
type poolStep struct {
	x, y             int
	nc, h, w, oh, ow int
	kh, kw, sh, sw   int
	ph, pw, dh, dw   int
	peh, pew         int
	avg, includePad  bool
	mults            []int64
	s                uint
	lo, hi           int64
}

func (e *Executor) compilePool(n *ir.Node, x int, codeOut func() int) (step, error) {
	xs := n.In(0).Type.Shape
	if len(xs) != 4 {
		return nil, n.Errorf("only 2-D pooling is supported")
	}
	k := n.IntList("kernel_shape", nil)
	geo, err := ir.ResolveConv(n, xs[2:], k, n.Int("ceil_mode", 0) != 0)
	if err != nil {
		return nil, n.Errorf("%v", err)
	}
	y := codeOut()
	st := &poolStep{x: e.slots[x].store, y: e.slots[y].store, nc: int(xs[0] * xs[1]), h: int(xs[2]), w: int(xs[3]),
		oh: int(geo.Out[0]), ow: int(geo.Out[1]), kh: int(k[0]), kw: int(k[1]), sh: int(geo.Strides[0]), sw: int(geo.Strides[1]),
		ph: int(geo.Pads[0]), pw: int(geo.Pads[1]), peh: int(geo.Pads[2]), pew: int(geo.Pads[3]),
		dh: int(geo.Dilations[0]), dw: int(geo.Dilations[1])}
	if n.Op == ir.OpQAvgPool {
		st.avg = true
		st.includePad = n.Int("count_include_pad", 0) != 0
		st.mults = n.IntList("mults", nil)
		st.s = uint(n.Int("shift", 0))
		st.lo, st.hi = codeRange(int(n.Int("out_bits", 8)), n.Int("out_signed", 0) != 0)
		if n.Int("relu", 0) != 0 && st.lo < 0 {
			st.lo = 0
		}
	}
	return st, nil
}

func (s *poolStep) run(st *state) error {
	x, y := st.codes[s.x], st.codes[s.y]
	for c := 0; c < s.nc; c++ {
		img := x[c*s.h*s.w : (c+1)*s.h*s.w]
		out := y[c*s.oh*s.ow : (c+1)*s.oh*s.ow]
		for oy := 0; oy < s.oh; oy++ {
			for ox := 0; ox < s.ow; ox++ {
				best := int32(math.MinInt32)
				var sum int64
				cnt, padCnt := 0, 0
				for ky := 0; ky < s.kh; ky++ {
					iy := oy*s.sh - s.ph + ky*s.dh
					for kx := 0; kx < s.kw; kx++ {
						ix := ox*s.sw - s.pw + kx*s.dw
						if iy >= 0 && iy < s.h && ix >= 0 && ix < s.w {
							v := img[iy*s.w+ix]
							best = max(best, v)
							sum += int64(v)
							cnt++
						} else if iy >= -s.ph && iy < s.h+s.peh && ix >= -s.pw && ix < s.w+s.pew {
							padCnt++
						}
					}
				}
				if !s.avg {
					if cnt == 0 {
						best = 0
					}
					out[oy*s.ow+ox] = best
					continue
				}
				d := cnt
				if s.includePad {
					d += padCnt
				}
				if d == 0 {
					out[oy*s.ow+ox] = 0
					continue
				}
				out[oy*s.ow+ox] = int32(Saturate(RoundShift(sum*s.mults[d-1], s.s), s.lo, s.hi))
			}
		}
	}
	return nil
}

// runTap runs inputs one by one and returns, per layer node name, the mean
// and the mean square of the pre-activation per output channel in
// output-code units.
func (e *Executor) runTap(inputs [][]*ir.Tensor) (map[string][2][]float64, error) {
	st := e.newState()
	st.tap = map[string]*tapSum{}
	for _, in := range inputs {
		for i, s := range e.ins {
			st.floats[s] = in[i]
		}
		for _, s := range e.steps {
			if err := s.run(st); err != nil {
				return nil, err
			}
		}
	}
	out := map[string][2][]float64{}
	for k, t := range st.tap {
		m, q := make([]float64, len(t.sum)), make([]float64, len(t.sum))
		for c := range t.sum {
			m[c], q[c] = t.sum[c]/t.n, t.sq[c]/t.n
		}
		out[k] = [2][]float64{m, q}
	}
	return out, nil
}
