package runtime

import (
	"fmt"
	"slices"

	"pimc/backend/isa"
)

// Tensor is a program input or output: float32 values in row-major order.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// Machine is one simulated chip running one loaded program. Its first Run
// executes the setup code (resident weights) and then the inference; later
// Runs reuse the programmed arrays. A Machine is not safe for concurrent
// use; make one per goroutine.
type Machine struct {
	p     *Program
	abuf  []uint32
	psum  []int64
	live  []int // window descriptors whose cache is valid
	arr   [isa.NumEngines][]arrayState
	cache []winCache // per window descriptor
	setup bool
	// Trace, when set, records one event per instruction of each Run.
	Trace      *Trace
	sc         scratch
	setupStats *Phase
}

type arrayState struct {
	// held are the images the array holds, by column; rows is the
	// tallest one's rows: the word lines a refresh rewrites (all images
	// at once).
	held     []heldImage
	rows     int64
	free     int64 // time the array is idle again
	written  int64 // start of the write (or refresh) its content dates from
	lastUse  int64 // end of the last MVM on this content, -1 unused
	resident bool  // content from the setup code
	busy     int64
}

// heldImage is an image on an array: columns [c0, c1).
type heldImage struct{ img, c0, c1, rows int }

// hold records that image img now occupies columns c0.. of the array: the
// images whose columns overlap it are gone (wprog replaces them), the
// others stay (column packing).
func (a *arrayState) hold(img, c0 int, im *image) {
	c1 := c0 + im.cols
	kept := a.held[:0]
	a.rows = int64(im.rows)
	for _, h := range a.held {
		if h.c1 <= c0 || h.c0 >= c1 {
			kept = append(kept, h)
			a.rows = max(a.rows, int64(h.rows))
		}
	}
	a.held = append(kept, heldImage{img, c0, c1, im.rows})
}

// NewMachine makes a machine for the program, with cleared buffers and
// unprogrammed arrays.
func (p *Program) NewMachine() *Machine {
	m := &Machine{p: p, abuf: make([]uint32, p.abuf), psum: make([]int64, p.psum), cache: make([]winCache, len(p.wins))}
	for _, e := range []isa.Engine{isa.SRAM, isa.EDRAM} {
		m.arr[e] = make([]arrayState, p.pools[e].hp.Arrays)
		for i := range m.arr[e] {
			m.arr[e][i].lastUse = -1
		}
	}
	return m
}

// Run simulates one program on the inputs (program-input order, shapes as
// the program declares) and returns the outputs and the statistics.
func Run(p *Program, inputs []Tensor) ([]Tensor, *Stats, error) {
	return p.NewMachine().Run(inputs)
}

// engine timing state during one phase
type engState struct {
	pc   int
	end  int
	t    int64 // issue time
	busy int64
	n    int64 // instructions executed
	c    Counts
	en   Energy // set at the end of the phase from c
	// The PPU streams element operations at ops_per_cycle across
	// instructions: its time is kept in ticks of 1/ops_per_cycle cycle
	// (t is the tick time rounded up).
	tk, busyTk int64
}

// Run executes one inference (after the setup code on the first call).
func (m *Machine) Run(inputs []Tensor) ([]Tensor, *Stats, error) {
	p := m.p
	if len(inputs) != len(p.ins) {
		return nil, nil, fmt.Errorf("program takes %d inputs, got %d", len(p.ins), len(inputs))
	}
	for i, t := range inputs {
		want := p.ins[i]
		if !slices.Equal(t.Shape, want.Shape) || int64(len(t.Data)) != want.Elems() {
			return nil, nil, fmt.Errorf("input %d (%q) is %v with %d values, program expects %v", i, want.Name, t.Shape, len(t.Data), want.Shape)
		}
	}
	if !m.setup {
		m.setupStats = m.phase(nil, true)
		m.setupStats.energies(m)
		m.setup = true
	}
	outs := make([]Tensor, len(p.outs))
	for i, o := range p.outs {
		outs[i] = Tensor{Shape: append([]int64{}, o.Shape...), Data: make([]float32, o.Elems())}
	}
	st := m.phase(&ports{ins: inputs, outs: outs}, false)
	st.finishRefresh(m)
	st.energies(m)
	stats := m.stats(st)
	return outs, stats, nil
}

type ports struct {
	ins  []Tensor
	outs []Tensor
}

// Phase is the record of one phase (setup or one inference).
type Phase struct {
	eng      [isa.NumEngines]engState
	makespan int64
	ioClk    int64 // LOAD and STORE time
	bus      int64 // DMA bus free time
}

// phase runs the setup code (setup=true) or one inference.
func (m *Machine) phase(x *ports, setup bool) *Phase {
	p := m.p
	ph := &Phase{}
	for e := range ph.eng {
		if setup {
			ph.eng[e].pc, ph.eng[e].end = 0, p.entry[e]
		} else {
			ph.eng[e].pc, ph.eng[e].end = p.entry[e], len(p.streams[e])
		}
	}
	// Each phase's clock starts at 0; arrays are idle.
	for _, e := range []isa.Engine{isa.SRAM, isa.EDRAM} {
		for i := range m.arr[e] {
			a := &m.arr[e][i]
			a.free, a.busy = 0, 0
			if !setup {
				// Content older than this inference dates from its start.
				a.written, a.lastUse = 0, -1
			}
		}
	}
	var tokens [isa.NumEngines][isa.NumEngines][]int64
	opc := int64(p.h.PPU.OpsPerCycle)
	if m.Trace != nil {
		m.Trace.begin(setup, p)
	}
	for {
		// The runnable engine with the earliest issue time goes next.
		best := -1
		for e := range ph.eng {
			s := &ph.eng[e]
			if s.pc >= s.end {
				continue
			}
			o := &p.streams[e][s.pc]
			if o.code == isa.OpWAIT && len(tokens[o.peer][e]) == 0 {
				continue
			}
			if best < 0 || s.t < ph.eng[best].t {
				best = e
			}
		}
		if best < 0 {
			break // Load's checkSync guarantees that every stream has ended
		}
		e := isa.Engine(best)
		s := &ph.eng[e]
		o := &p.streams[e][s.pc]
		s.pc++
		s.n++
		switch o.code {
		case isa.OpWAIT:
			q := tokens[o.peer][e]
			s.t = max(s.t, q[0])
			s.tk = max(s.tk, q[0]*opc)
			tokens[o.peer][e] = q[1:]
		case isa.OpSIGNAL:
			s.t = m.fence(e, s.t)
			tokens[e][o.peer] = append(tokens[e][o.peer], s.t)
		case isa.OpHALT:
			s.t = m.fence(e, s.t)
		default:
			if e.IsPool() {
				m.poolOp(ph, e, o, setup)
			} else if e == isa.PPU {
				ops := o.cnt.PPUOps
				if o.code == isa.OpNOP {
					ops = opc
				}
				start := s.tk
				m.exec(ph, e, o, x)
				s.tk += ops
				s.busyTk += ops
				s.t = ceilDiv(s.tk, opc)
				if m.Trace != nil {
					m.Trace.eventF(e, o, float64(start)/float64(opc), float64(ops)/float64(opc))
				}
			} else {
				start := s.t
				if e == isa.DMA {
					start = max(start, ph.bus)
				}
				m.exec(ph, e, o, x)
				s.t = start + o.dur
				s.busy += o.dur
				if e == isa.DMA {
					ph.bus = s.t
					ph.ioClk += o.dur
				}
				if m.Trace != nil {
					m.Trace.event(e, -1, o, start, o.dur)
				}
			}
		}
	}
	for e := range ph.eng {
		ph.makespan = max(ph.makespan, m.fence(isa.Engine(e), ph.eng[e].t))
	}
	ph.eng[isa.PPU].busy = ceilDiv(ph.eng[isa.PPU].busyTk, opc)
	return ph
}

// addCounts adds an instruction's events to an engine's.
func addCounts(d *Counts, c *Counts) {
	d.Programs += c.Programs
	d.WeightRowsWritten += c.WeightRowsWritten
	d.Refreshes += c.Refreshes
	d.MVMs += c.MVMs
	d.Windows += c.Windows
	d.MACs += c.MACs
	d.ADCConversions += c.ADCConversions
	d.DriverRowCycles += c.DriverRowCycles
	d.PPUOps += c.PPUOps
	d.BufferReadBits += c.BufferReadBits
	d.BufferWriteBits += c.BufferWriteBits
	d.DMABytes += c.DMABytes
}

// energies turns each engine's counts into energy (docs/cost.md's unit
// energies: the pool's for array events, the PPU's for element operations
// and the buffer, the DMA's per byte).
func (ph *Phase) energies(m *Machine) {
	h := m.p.h
	for e := isa.Engine(0); e < isa.NumEngines; e++ {
		s := &ph.eng[e]
		c := &s.c
		en := Energy{
			PPU:         float64(c.PPUOps) * h.PPU.EnergyPerOpFJ,
			BufferRead:  float64(c.BufferReadBits) * h.PPU.BufferReadEnergyPerBitFJ,
			BufferWrite: float64(c.BufferWriteBits) * h.PPU.BufferWriteEnergyPerBitFJ,
			DMA:         float64(c.DMABytes) * h.DMA.EnergyPerByteFJ,
		}
		if e.IsPool() {
			hp := m.p.pools[e].hp
			en.MAC = float64(c.MACs) * hp.MACEnergyFJ
			en.ADC = float64(c.ADCConversions) * hp.ADCEnergyFJ
			en.Driver = float64(c.DriverRowCycles) * hp.DriverEnergyPerRowFJ
			en.WeightWrite = float64(c.WeightRowsWritten) * hp.WriteEnergyPerRowFJ
			en.Refresh = float64(c.Refreshes) * hp.RefreshEnergyPerRowFJ
		}
		s.en = en
	}
}

// fence is the time all of engine e's issued work has finished.
func (m *Machine) fence(e isa.Engine, t int64) int64 {
	if e.IsPool() {
		for i := range m.arr[e] {
			t = max(t, m.arr[e][i].free)
		}
	}
	return t
}

// poolOp issues one WPROG, REFRESH or MVM: it runs on its array when the
// array is idle (WPROG also needs the DMA bus); the stream issues on.
func (m *Machine) poolOp(ph *Phase, e isa.Engine, o *op, setup bool) {
	pc := m.p.pools[e]
	s := &ph.eng[e]
	if o.code == isa.OpNOP {
		s.t++
		return
	}
	a := &m.arr[e][o.a[0]]
	start := max(s.t, a.free)
	hp := pc.hp
	var dur int64
	switch o.code {
	case isa.OpWPROG:
		m.retire(ph, e, a)
		xfer := ceilDiv(o.img.bytes, int64(m.p.h.DMA.BytesPerCycle))
		busStart := max(start, ph.bus)
		ph.bus = busStart + xfer
		end := max(ph.bus, start+o.dur)
		dur = end - start
		a.hold(o.a[1], o.a[2], o.img)
		a.written, a.lastUse, a.resident = start, -1, setup
		addCounts(&s.c, &o.cnt)
	case isa.OpREFRESH:
		if len(a.held) > 0 && pc.retention > 0 {
			rows := a.rows
			m.retire(ph, e, a)
			dur = rows * int64(hp.WriteCyclesPerRow)
			s.c.Refreshes += rows
			a.written, a.lastUse = start, -1
		}
	case isa.OpMVM:
		m.mvm(e, o)
		dur = o.dur
		a.lastUse = start + dur
		addCounts(&s.c, &o.cnt)
	}
	a.free = start + dur
	a.busy += dur
	s.busy += dur
	if m.Trace != nil {
		m.Trace.event(e, o.a[0], o, start, dur)
	}
}

// retire counts the refreshes the array's current content needed while it
// was live, before the content is replaced or the inference ends.
func (m *Machine) retire(ph *Phase, e isa.Engine, a *arrayState) {
	pc := m.p.pools[e]
	if len(a.held) == 0 || pc.retention <= 0 || a.lastUse < 0 {
		return
	}
	ph.eng[e].c.Refreshes += a.rows * ((a.lastUse - a.written) / pc.retention)
	a.lastUse = -1
}

// finishRefresh counts the refreshes at the end of an inference: resident
// content lives for the whole inference, streamed content until its last
// use.
func (ph *Phase) finishRefresh(m *Machine) {
	for _, e := range []isa.Engine{isa.SRAM, isa.EDRAM} {
		for i := range m.arr[e] {
			a := &m.arr[e][i]
			if len(a.held) > 0 && a.resident && a.written == 0 {
				a.lastUse = ph.makespan
			}
			m.retire(ph, e, a)
		}
	}
}

// exec runs one PPU or DMA instruction's data operation and counts its
// events.
func (m *Machine) exec(ph *Phase, e isa.Engine, o *op, x *ports) {
	addCounts(&ph.eng[e].c, &o.cnt)
	if e == isa.DMA {
		switch o.code {
		case isa.OpLOAD:
			src := x.ins[o.a[1]].Data[o.a[2] : o.a[2]+o.a[3]]
			dst := m.abuf[o.a[0] : o.a[0]+o.a[3]]
			for i, v := range src {
				dst[i] = f32bits(v)
			}
			m.written(o.wlo, o.whi)
		case isa.OpSTORE:
			src := m.abuf[o.a[0] : o.a[0]+o.a[3]]
			dst := x.outs[o.a[1]].Data[o.a[2] : o.a[2]+o.a[3]]
			for i, v := range src {
				dst[i] = f32frombits(v)
			}
		}
		return
	}
	m.ppu(o)
	m.written(o.wlo, o.whi)
}

// written invalidates the window caches whose input overlaps the
// activation-buffer words [lo, hi) an instruction has just written.
func (m *Machine) written(lo, hi int) {
	kept := m.live[:0]
	for _, k := range m.live {
		w := m.p.wins[k]
		if w.in < hi && lo < w.inEnd {
			m.cache[k].valid = false
			continue
		}
		kept = append(kept, k)
	}
	m.live = kept
}
