package cost

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"pimc/hw"
	"pimc/ir"
	"pimc/mapping"
)

// Options controls Evaluate.
type Options struct {
	// Label names the variant in the report, e.g. "chosen", "int4-only",
	// "tb-only".
	Label string
	// Mapping restricts the allocator's schemes (zero value: all of them,
	// the `auto` mapping) and sets its objective (zero value: latency).
	Mapping mapping.Options
}

// Evaluate costs a quantized module on the hardware: it maps the array
// layers on both pools with mapping.MapDual, then counts every event the
// energy model charges and adds up latency and memory (docs/cost.md).
// Partitioning need not have run: engines follow from the ops. A float
// layer left in the module is an error naming it.
func Evaluate(m *ir.Module, h *hw.Hardware, o Options) (*Report, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("cost: module has no graph")
	}
	if h == nil {
		return nil, errors.New("cost: no hardware description")
	}
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("cost: hardware %q: %w", h.Name, err)
	}
	layers, nodes, err := mapping.FromIR(m)
	if err != nil {
		return nil, err
	}
	res, err := mapping.MapDual(layers, h, o.Mapping)
	if err != nil {
		return nil, err
	}
	e := newEvaluator(m, h)
	r := &Report{Schema: Schema, Model: m.Name, Label: o.Label, Hardware: h.Name, ClockMHz: h.ClockMHz, Alloc: res.Objective}

	// Pass 1: every node's counts and time, in graph order. Refresh
	// waits for pass 2 because it depends on the whole inference's
	// latency.
	layerAt := make(map[*ir.Node]int, len(nodes))
	for i, n := range nodes {
		layerAt[n] = i
	}
	ppuPart := make([]Counts, len(nodes)) // each layer's own PPU work
	t := &r.Totals
	for _, n := range m.Graph.Nodes {
		if i, ok := layerAt[n]; ok {
			lr, pc, err := e.layer(i, n, layers[i], res.Layers[i])
			if err != nil {
				return nil, err
			}
			r.Layers = append(r.Layers, lr)
			ppuPart[i] = pc
			t.LatencyClk += lr.LatencyClk
			t.ArrayClk += lr.ArrayClk
			t.LayerPPUClk += lr.PPUClk
			continue
		}
		p := e.ppuNode(n)
		r.PPUOps = append(r.PPUOps, p)
		t.PPUOpClk += p.Clk
	}
	// PPU-only ops run between layers, one after another.
	t.LatencyClk += t.PPUOpClk
	t.NoOverlapLatencyClk = t.ArrayClk + t.LayerPPUClk + t.PPUOpClk
	t.LatencyUS = h.CyclesToMicroseconds(t.LatencyClk)

	// Pass 2: refresh over the whole inference — resident weights are
	// held while the inputs are loaded and the outputs stored too, as in
	// the simulator — then the sums.
	t.DMAIOClk = e.ioClk
	for i := range r.Layers {
		l := &r.Layers[i]
		e.refresh(&l.SRAM, &h.SRAM, res.Layers[i].SRAM, t.LatencyClk+t.DMAIOClk)
		e.refresh(&l.EDRAM, &h.EDRAM, res.Layers[i].EDRAM, t.LatencyClk+t.DMAIOClk)
		l.Counts, l.Energy = ppuPart[i], e.charge(ppuPart[i], nil)
		for _, p := range []*PathCost{&l.SRAM, &l.EDRAM} {
			l.Counts.add(p.Counts)
			l.Energy.add(p.Energy)
		}
		t.Counts.add(l.Counts)
		t.Energy.add(l.Energy)
		if l.LatencyClk > t.BottleneckClk {
			t.Bottleneck, t.BottleneckClk = l.Name, l.LatencyClk
		}
	}
	for _, p := range r.PPUOps {
		t.Counts.add(p.Counts)
		t.Energy.add(p.Energy)
		if p.Clk > t.BottleneckClk {
			t.Bottleneck, t.BottleneckClk = p.Name, p.Clk
		}
	}
	t.EnergyUJ = t.Energy.Total / 1e9

	places := func(sram bool) [][]mapping.Place {
		out := make([][]mapping.Place, len(res.Layers))
		for i, l := range res.Layers {
			out[i] = l.EDRAM.Places
			if sram {
				out[i] = l.SRAM.Places
			}
		}
		return out
	}
	if r.SRAM, err = e.pool(mapping.PoolSRAM, res.SRAM, r.Layers, places(true), t.LatencyClk); err != nil {
		return nil, err
	}
	if r.EDRAM, err = e.pool(mapping.PoolEDRAM, res.EDRAM, r.Layers, places(false), t.LatencyClk); err != nil {
		return nil, err
	}
	// Both pools' resident weights come through the one DMA engine, so
	// the loads are counted one after the other.
	t.LoadClk = r.SRAM.LoadClk + r.EDRAM.LoadClk
	t.LoadEnergyFJ = r.SRAM.LoadEnergyFJ + r.EDRAM.LoadEnergyFJ

	t.Memory = e.memory(r.Layers, nodes)
	r.Ratio = splitRatio(r.Layers)
	return r, nil
}

type evaluator struct {
	m       *ir.Module
	h       *hw.Hardware
	width   map[*ir.Value]int64 // bits per element of every activation
	input   map[*ir.Value]bool  // graph inputs: brought in by the DMA
	output  map[*ir.Value]bool  // graph outputs: sent out by the DMA
	charged map[*ir.Value]bool  // graph inputs whose DMA is already counted
	ioClk   int64               // DMA time of the input loads and output stores
}

func newEvaluator(m *ir.Module, h *hw.Hardware) *evaluator {
	e := &evaluator{m: m, h: h, width: mapping.ValueWidths(m),
		input: map[*ir.Value]bool{}, output: map[*ir.Value]bool{}, charged: map[*ir.Value]bool{}}
	for _, v := range m.Graph.Inputs {
		e.input[v] = true
	}
	for _, v := range m.Graph.Outputs {
		e.output[v] = true
	}
	return e
}

// charge prices counts: the array terms with pool p's energies (p is nil
// for PPU-only work, whose array counts are zero), the rest with the PPU,
// buffer and DMA energies.
func (e *evaluator) charge(c Counts, p *hw.Pool) Energy {
	h := e.h
	en := Energy{
		PPU:         float64(c.PPUOps) * h.PPU.EnergyPerOpFJ,
		BufferRead:  float64(c.BufferReadBits) * h.PPU.BufferReadEnergyPerBitFJ,
		BufferWrite: float64(c.BufferWriteBits) * h.PPU.BufferWriteEnergyPerBitFJ,
		DMA:         float64(c.DMABytes) * h.DMA.EnergyPerByteFJ,
	}
	if p != nil {
		en.MAC = float64(c.MACs) * p.MACEnergyFJ
		en.ADC = float64(c.ADCConversions) * p.ADCEnergyFJ
		en.Driver = float64(c.DriverRowCycles) * p.DriverEnergyPerRowFJ
		en.WeightWrite = float64(c.WeightRowsWritten) * p.WriteEnergyPerRowFJ
		en.Refresh = float64(c.Refreshes) * p.RefreshEnergyPerRowFJ
	}
	en.sum()
	return en
}

// layer costs one array layer: both paths and its own PPU work (returned
// separately so that pass 2 can add the refreshes before summing).
func (e *evaluator) layer(i int, n *ir.Node, d mapping.DualLayer, dr mapping.DualLayerResult) (LayerReport, Counts, error) {
	l := LayerReport{Index: i, Name: n.Name, Op: n.Op.String(), OC4: d.OC4, OCTB: d.OCTB,
		Ratio: float64(d.OC4) / float64(d.OC4+d.OCTB), Bound: dr.Bound}
	dual := n.Op == ir.OpDualConv || n.Op == ir.OpDualGemm
	xbits := n.Int("x_bits", 0)
	batch := mapping.BatchOf(n)
	var err error
	if l.SRAM, err = e.path(n, mapping.PoolSRAM, d, dr.SRAM, xbits, batch); err != nil {
		return l, Counts{}, err
	}
	if l.EDRAM, err = e.path(n, mapping.PoolEDRAM, d, dr.EDRAM, xbits, batch); err != nil {
		return l, Counts{}, err
	}
	if batch > 1 {
		// mapping's bound is one image's; the batch lengthens compute,
		// not reloads.
		switch {
		case l.SRAM.Mode == mapping.ModeIdle && l.EDRAM.Mode == mapping.ModeIdle:
			l.Bound = "none"
		case l.SRAM.LatencyClk > l.EDRAM.LatencyClk:
			l.Bound = string(mapping.PoolSRAM)
		case l.EDRAM.LatencyClk > l.SRAM.LatencyClk:
			l.Bound = string(mapping.PoolEDRAM)
		default:
			l.Bound = "both"
		}
	}
	l.Engine, l.Precision = engineOf(n, d)
	if n.Precision != "" {
		l.Precision = n.Precision
	}

	// Weight memory (DESIGN.md §2): 4 bits per INT4 weight, 2 per ternary
	// weight (log2(3) when packed), w_bits per unsplit weight.
	if dual {
		n4, nt := n.In(1).Type.Len(), n.In(2).Type.Len()
		l.SRAM.Weights, l.EDRAM.Weights = n4, nt
		l.WeightBits = 4*n4 + 2*nt
		l.WeightPackedBits = 4*n4 + packedTernaryBits(nt)
	} else {
		nw := n.In(1).Type.Len()
		l.SRAM.Weights = nw
		l.WeightBits = nw * n.Int("w_bits", 8)
		l.WeightPackedBits = l.WeightBits
	}

	// The layer's own PPU work: requantize every output (plus the
	// residual term) and add the partial sums of the row tiles. The TB
	// path's thresholding of the input codes is done by its input drivers
	// as they apply each code (docs/cost.md), not by the PPU.
	out := n.Out(0)
	elems := out.Type.Len()
	var pc Counts
	pc.PPUOps = elems
	res := n.In(3)
	if dual {
		res = n.In(5)
	}
	if res != nil {
		pc.PPUOps += elems
		pc.BufferReadBits += res.Type.Len() * e.width[res]
	}
	for _, p := range []*PathCost{&l.SRAM, &l.EDRAM} {
		if p.Mode == mapping.ModeIdle {
			continue
		}
		pc.PPUOps += p.partialSums
	}
	pc.BufferWriteBits = elems * e.width[out]
	e.streamOut(out, &pc)
	e.streamIn(n, &pc)
	l.PPUClk = ceilDiv(pc.PPUOps, int64(e.h.PPU.OpsPerCycle))
	l.ArrayClk = max(l.SRAM.LatencyClk, l.EDRAM.LatencyClk)
	// The PPU requantizes a layer's outputs as the arrays produce them,
	// so the layer ends when the slowest of the three engines does
	// (docs/cost.md, "Latency"). A time-multiplexed part has every sum
	// only after its last round, so the PPU then starts after the arrays.
	l.LatencyClk = max(l.ArrayClk, l.PPUClk)
	if l.SRAM.Rounds > 1 || l.EDRAM.Rounds > 1 {
		l.LatencyClk = l.ArrayClk + l.PPUClk
	}
	if l.PPUClk > l.ArrayClk {
		l.Bound = "ppu"
	}
	return l, pc, nil
}

// engineOf is partition's rule, derived from the channel split.
func engineOf(n *ir.Node, d mapping.DualLayer) (engine, precision string) {
	switch {
	case n.Op == ir.OpQConv || n.Op == ir.OpQGemm:
		return "sram", fmt.Sprintf("int%d", n.Int("w_bits", 8))
	case d.OC4 > 0 && d.OCTB > 0:
		return "dual", "dual"
	case d.OC4 > 0:
		return "sram", "int4"
	}
	return "edram", "tb"
}

// path costs one pool's part of a layer. mapping reports the allocation
// (mode, copies, rounds, clock cycles, reloads); the per-scheme geometry
// behind the event counts comes from mapping.Map with the chosen scheme,
// which gives the same tiles and windows the allocator used.
//
// A conv of batch N > 1 is allocated as one image's layer (as the backend
// does); every tile then evaluates the windows of all N images, so the
// windows, cycles and every per-window count scale by N while the tiles,
// copies, rounds and weight writes do not (docs/cost.md, "Batch").
func (e *evaluator) path(n *ir.Node, kind mapping.PoolKind, d mapping.DualLayer, lr mapping.LayerResult, xbits, batch int64) (PathCost, error) {
	hp := &e.h.SRAM
	if kind == mapping.PoolEDRAM {
		hp = &e.h.EDRAM
	}
	// Tiled as mapping tiles it (mapping.TileRows).
	arr := mapping.Array{Rows: mapping.TileRows(hp.Rows, hp.RowsActivePerCycle), Cols: hp.Cols, WeightCols: hp.CellsPerWeight}
	inBits := hp.InputBits
	if kind == mapping.PoolSRAM {
		if d.SRAMWeightBits > 0 {
			arr.WeightCols = (d.SRAMWeightBits + hp.WeightBitsPerCell - 1) / hp.WeightBitsPerCell
		}
		if d.SRAMInputBits > 0 {
			inBits = d.SRAMInputBits
		}
	}
	p := PathCost{Pool: string(kind), OC: lr.OC, Mode: lr.Mode}
	if lr.Mode == mapping.ModeIdle {
		return p, nil
	}
	p.WeightBits, p.InputBits = arr.WeightCols*hp.WeightBitsPerCell, inBits
	l := d.Layer
	l.OC = lr.OC
	l, err := l.Normalized()
	if err != nil {
		return p, err
	}
	mp, err := mapping.Map(l, arr, lr.Scheme)
	if err != nil {
		return p, err
	}
	if mp.Tiles != lr.Tiles {
		return p, fmt.Errorf("cost: BUG: %s on %s: scheme %s gives %d tiles, the allocation %d", n.Where(), kind, lr.Scheme, mp.Tiles, lr.Tiles)
	}
	p.Scheme, p.Window = string(lr.Scheme), lr.Window
	p.Tiles, p.Copies, p.Rounds, p.Arrays = lr.Tiles, lr.Copies, lr.Rounds, lr.Arrays
	p.Windows, p.Cycles = mp.Windows, lr.Cycles
	p.ComputeClk, p.ReloadClk, p.LatencyClk = lr.ComputeClk, lr.ReloadClk, lr.LatencyClk
	p.ResidentRows = lr.ResidentRows
	if batch > 1 {
		pool, err := mapping.PoolFromHW(e.h, kind)
		if err != nil {
			return p, err
		}
		pool.Array = arr
		batchTime(&p, lr, mp, batch, pool)
	}
	p.UsedCells, p.AllocatedCells, p.Utilisation = lr.UsedCells, lr.AllocatedCells, lr.Utilisation

	inCycles := int64(hp.InputCycles(inBits))
	// Every window meets every tile of one weight copy exactly once:
	// copies split the windows, rounds split the tiles.
	pix := int64(mp.WindowH) * int64(mp.WindowW)
	wins := batch * mp.Windows // windows of all images
	c := &p.Counts
	c.MACs = batch * l.MACs()
	// Each tile evaluation converts every weight column holding data, once
	// per input bit-cycle and row group; summed over the tiles of one copy
	// those columns are row_tiles × out_h·out_w × OC × b.
	c.ADCConversions = batch * mp.Windows * mp.RowTiles * int64(mp.OutH) * int64(mp.OutW) * int64(l.OC) *
		int64(arr.WeightCols) * inCycles * int64(hp.RowGroups())
	// Each tile evaluation drives every row holding weights once per input
	// bit-cycle; summed over the tiles of one copy that is rows_written.
	c.DriverRowCycles = wins * mp.RowsWritten * inCycles
	// Each window's input codes are read from the activation buffer: its
	// pixels × all input channels, at x_bits. The TB path reads the same
	// codes; its drivers compare each with tb_threshold.
	c.BufferReadBits = wins * pix * int64(l.IC) * xbits
	c.WeightRowsWritten = lr.ReloadRows
	c.DMABytes = lr.ReloadBytes
	// Row tiles split each output's dot product; the PPU adds the partial
	// sums of the valid outputs.
	p.partialSums = batch * int64(l.OH()) * int64(l.OW()) * int64(l.OC) * (mp.RowTiles - 1)
	p.Energy = e.charge(*c, hp)
	return p, nil
}

// batchTime rescales one path's time from mapping's one-image allocation
// to a batch of n images, as the backend runs it: a resident path (or a
// streamed one whose copies all fit) splits the n·windows input vectors
// among its copies; a time-multiplexed one streams all n·windows through
// every round. Reloads happen once per round whatever n is.
//
// A time-multiplexed part's exposed write time shrinks as its windows grow
// (one array's next write overlaps the other arrays' windows), so it is
// retimed with mapping's rule for the batch's windows; a wait for the
// shared DMA bus that mapping added is kept.
func batchTime(p *PathCost, lr mapping.LayerResult, mp mapping.Mapping, n int64, pool mapping.Pool) {
	if lr.Cycles <= 0 {
		return
	}
	cpv := lr.ComputeClk / lr.Cycles
	wins := n * mp.Windows
	if lr.Rounds > 1 {
		p.Cycles = lr.Rounds * wins
		wait := lr.ReloadClk - (pool.TimeMultiplexedClk(mp, lr.Arrays, mp.Windows*cpv) - lr.ComputeClk)
		p.ReloadClk = pool.TimeMultiplexedClk(mp, lr.Arrays, wins*cpv) - p.Cycles*cpv + wait
	} else {
		p.Cycles = ceilDiv(wins, max(lr.Copies, 1))
	}
	p.Windows = wins
	p.ComputeClk = p.Cycles * cpv
	p.LatencyClk = p.ComputeClk + p.ReloadClk
}

// refresh adds the refreshes of one path for an inference of d clock
// cycles: resident rows once per full retention period of the whole
// inference, streamed rows as mapping counted them for their own rounds.
func (e *evaluator) refresh(p *PathCost, hp *hw.Pool, lr mapping.LayerResult, d int64) {
	switch p.Mode {
	case mapping.ModeResident:
		if ret := e.h.RetentionCycles(hp); ret > 0 {
			// The word lines of the arrays this layer's images share (column
			// packing: an array refreshes its tallest image's rows, once).
			p.Counts.Refreshes = lr.RefreshRows * (d / ret)
		}
	case mapping.ModeStreamed:
		p.Counts.Refreshes = lr.Refreshes
	}
	p.Energy = e.charge(p.Counts, hp)
}

// streamIn charges the arrival of the graph inputs n reads to n, the
// first reader of each: the DMA brings them from off-chip and writes them
// into the activation buffer, from where every reader reads them.
func (e *evaluator) streamIn(n *ir.Node, c *Counts) {
	for _, in := range n.Inputs {
		if in != nil && e.input[in] && !e.charged[in] {
			e.charged[in] = true
			bits := in.Type.Len() * e.width[in]
			c.DMABytes += ceilDiv(bits, 8)
			c.BufferWriteBits += bits
			e.ioClk += ceilDiv(ceilDiv(bits, 8), int64(e.h.DMA.BytesPerCycle))
		}
	}
}

// streamOut charges the sending out of v when it is a graph output: the
// DMA reads it from the activation buffer and sends it off-chip.
func (e *evaluator) streamOut(v *ir.Value, c *Counts) {
	if v != nil && e.output[v] {
		bits := v.Type.Len() * e.width[v]
		c.DMABytes += ceilDiv(bits, 8)
		c.BufferReadBits += bits
		e.ioClk += ceilDiv(ceilDiv(bits, 8), int64(e.h.DMA.BytesPerCycle))
	}
}

// pool sums one pool over the layers and lays out its arrays.
func (e *evaluator) pool(kind mapping.PoolKind, s mapping.PoolSummary, ls []LayerReport, places [][]mapping.Place, d int64) (PoolReport, error) {
	p := PoolReport{Pool: string(kind), Arrays: s.Arrays, Rows: s.Rows, Cols: s.Cols,
		ResidentArrays: s.ResidentArrays, StreamArrays: s.StreamArrays, Solver: s.Solver,
		UsedCells: s.UsedCells, AllocatedCells: s.AllocatedCells, CellUtilisation: s.Utilisation,
		LoadClk: s.LoadClk, LoadEnergyFJ: s.LoadEnergyFJ, StreamLayers: []string{}}
	p.UsedArrays = p.ResidentArrays + p.StreamArrays
	p.ArrayUtilisation = ratio(float64(p.UsedArrays), float64(p.Arrays))
	var streamUsed, streamAlloc int64
	for i := range ls {
		pc := &ls[i].SRAM
		if kind == mapping.PoolEDRAM {
			pc = &ls[i].EDRAM
		}
		p.Cycles += pc.Cycles
		p.ComputeClk += pc.ComputeClk
		p.ReloadClk += pc.ReloadClk
		p.LatencyClk += pc.LatencyClk
		p.Counts.add(pc.Counts)
		p.Energy.add(pc.Energy)
		switch pc.Mode {
		case mapping.ModeResident:
		case mapping.ModeStreamed:
			p.StreamLayers = append(p.StreamLayers, ls[i].Name)
			streamUsed += pc.UsedCells
			streamAlloc += pc.AllocatedCells
		}
	}
	p.Busy = ratio(float64(p.LatencyClk), float64(d))
	// The resident arrays hold the images the allocation packed on them
	// (several layers' side by side, by column).
	p.Placement = make([]ArrayUse, p.ResidentArrays, p.Arrays)
	cells := float64(s.Rows) * float64(s.Cols)
	for i := range ls {
		pc := &ls[i].SRAM
		if kind == mapping.PoolEDRAM {
			pc = &ls[i].EDRAM
		}
		if pc.Mode != mapping.ModeResident {
			continue
		}
		for _, pl := range places[i] {
			if pl.Array < 0 || pl.Array >= p.ResidentArrays {
				return p, fmt.Errorf("cost: BUG: %s pool: %s's image on array %d of %d resident", kind, ls[i].Name, pl.Array, p.ResidentArrays)
			}
			// An im2col image's cells all hold weights; other layouts
			// (rows unknown per tile) count the layer's utilisation.
			used := float64(pl.Rows) * float64(pl.Cols)
			if pl.Rows == 0 {
				used = pc.Utilisation * float64(pl.Cols) * float64(s.Rows)
			}
			a := &p.Placement[pl.Array]
			a.Images = append(a.Images, ArrayImage{Layer: ls[i].Name, LayerIndex: i, Col: pl.Col, Cols: pl.Cols, Rows: pl.Rows,
				Utilisation: used / (float64(pl.Cols) * float64(s.Rows))})
			a.Utilisation += used / cells
		}
	}
	for k := range p.Placement {
		a := &p.Placement[k]
		a.Array, a.Use, a.LayerIndex = k, UseResident, -1
		slices.SortFunc(a.Images, func(x, y ArrayImage) int { return int(x.Col - y.Col) })
		if len(a.Images) > 0 {
			a.Layer, a.LayerIndex = a.Images[0].Layer, a.Images[0].LayerIndex
		}
	}
	su := ratio(float64(streamUsed), float64(streamAlloc))
	for k := int64(0); k < p.StreamArrays; k++ {
		p.Placement = append(p.Placement, ArrayUse{Array: len(p.Placement), Use: UseStream, LayerIndex: -1, Utilisation: su})
	}
	if len(p.Placement) > p.Arrays {
		return p, fmt.Errorf("cost: BUG: %s pool: %d arrays placed on %d", kind, len(p.Placement), p.Arrays)
	}
	for len(p.Placement) < p.Arrays {
		p.Placement = append(p.Placement, ArrayUse{Array: len(p.Placement), Use: UseFree, LayerIndex: -1})
	}
	return p, nil
}

// memory totals the weights and measures the activations.
func (e *evaluator) memory(ls []LayerReport, nodes []*ir.Node) Memory {
	var mem Memory
	for i, l := range ls {
		n := nodes[i]
		mem.WeightBits += l.WeightBits
		mem.WeightPackedBits += l.WeightPackedBits
		mem.Weights += l.SRAM.Weights + l.EDRAM.Weights
		if n.Op == ir.OpDualConv || n.Op == ir.OpDualGemm {
			mem.INT4Weights += l.SRAM.Weights
			mem.TernaryWeights += l.EDRAM.Weights
			continue
		}
		switch n.Int("w_bits", 8) {
		case 8:
			mem.INT8Weights += l.SRAM.Weights
		case 4:
			mem.INT4Weights += l.SRAM.Weights
		}
	}
	mem.ActivationBits, mem.PeakActivationBits, mem.PeakAt = e.activations()
	mem.BufferBits = int64(e.h.PPU.BufferBytes) * 8
	return mem
}

func splitRatio(ls []LayerReport) Ratio {
	var r Ratio
	var mac4, macs int64
	for _, l := range ls {
		if l.Op != ir.OpDualConv.String() && l.Op != ir.OpDualGemm.String() {
			r.UnsplitLayers++
			continue
		}
		r.SplitLayers++
		r.INT4Channels += int64(l.OC4)
		r.TBChannels += int64(l.OCTB)
		mac4 += l.SRAM.Counts.MACs
		macs += l.SRAM.Counts.MACs + l.EDRAM.Counts.MACs
	}
	r.Channels = ratio(float64(r.INT4Channels), float64(r.INT4Channels+r.TBChannels))
	r.MACs = ratio(float64(mac4), float64(macs))
	return r
}

// packedTernaryBits is ⌈n·log2(3)⌉: n ternary weights in base-3 packing.
func packedTernaryBits(n int64) int64 {
	return int64(math.Ceil(float64(n) * math.Log2(3)))
}

func ceilDiv(a, b int64) int64 {
	if b <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
