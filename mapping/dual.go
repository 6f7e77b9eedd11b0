package mapping

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"pimc/hw"
)

// DualLayer is one layer of a DualNet: its geometry and how its output
// channels split between the INT4 path (SRAM pool) and the TB path (eDRAM
// pool). Layer.OC is the total; it may be left 0 (then OC4+OCTB).
type DualLayer struct {
	Layer Layer `json:"layer"`
	OC4   int   `json:"oc4"`  // channels on the INT4 path (SRAM-PIM)
	OCTB  int   `json:"octb"` // channels on the TB path (eDRAM-PIM)
	// SRAMWeightBits and SRAMInputBits override the SRAM pool's native
	// widths for this layer (0: native). A layer kept at INT8 (DESIGN.md §2:
	// depthwise, first and last layers) uses 8 and 8.
	SRAMWeightBits int `json:"sram_weight_bits"`
	SRAMInputBits  int `json:"sram_input_bits"`
}

// DualLayerResult is one layer on both pools. The pools run in parallel, so
// the layer takes the longer of the two.
type DualLayerResult struct {
	Index      int         `json:"index"`
	Name       string      `json:"name"`
	SRAM       LayerResult `json:"sram"`
	EDRAM      LayerResult `json:"edram"`
	LatencyClk int64       `json:"latency_clk"`
	// Bound names the pool that sets the latency: "sram", "edram", "both"
	// (equal) or "none" (no channels anywhere).
	Bound string `json:"bound"`
}

// DualResult is a whole model mapped on both pools.
type DualResult struct {
	Hardware   string  `json:"hardware"`
	ClockMHz   float64 `json:"clock_mhz"`
	LatencyClk int64   `json:"latency_clk"` // sum of the layers' latencies
	LatencyUS  float64 `json:"latency_us"`
	// Objective is what the allocation minimised; EnergyFJ is both pools'
	// modelled energy (PoolSummary.EnergyFJ), the energy it minimised.
	Objective Objective `json:"objective"`
	EnergyFJ  float64   `json:"energy_fj"`
	// Bottleneck is the slowest layer.
	Bottleneck      string            `json:"bottleneck"`
	BottleneckIndex int               `json:"bottleneck_index"`
	BottleneckClk   int64             `json:"bottleneck_clk"`
	SRAM            PoolSummary       `json:"sram"`
	EDRAM           PoolSummary       `json:"edram"`
	Layers          []DualLayerResult `json:"layers"`
}

// MapDual maps the INT4 parts of the layers on the SRAM pool (b =
// cells_per_weight columns per weight) and the TB parts on the eDRAM pool
// (b = 2, a +/- column pair), each pool allocated as by Allocate. Refreshes
// are counted over the whole dual inference. Under the energy and edp
// objectives the two pools' candidate plans are chosen together
// (mapDualFor).
func MapDual(layers []DualLayer, h *hw.Hardware, o Options) (*DualResult, error) {
	obj, err := o.Objective.normalized()
	if err != nil {
		return nil, err
	}
	sp, ep, sj, ej, err := dualJobs(layers, h, o.Schemes)
	if err != nil {
		return nil, err
	}
	key, cache := newDualKey(sj, ej, h, o.Schemes, obj)
	if cache {
		if r := dualCache.get(key); r != nil {
			return r, nil
		}
	}
	var r *DualResult
	if obj == ObjectiveLatency {
		r = dualResult(layers, h, sp, ep, allocate(sj, sp, o.Schemes), allocate(ej, ep, o.Schemes))
	} else {
		r = mapDualFor(layers, h, sp, ep, sj, ej, o.Schemes, obj)
	}
	r.Objective = obj
	r.SRAM.Objective, r.EDRAM.Objective = obj, obj
	if cache {
		dualCache.put(key, r)
	}
	return r, nil
}

// dualJobs checks the layers and prepares each one's job on both pools.
func dualJobs(layers []DualLayer, h *hw.Hardware, schemes []Scheme) (sp, ep Pool, sj, ej []*job, err error) {
	if sp, err = PoolFromHW(h, PoolSRAM); err != nil {
		return
	}
	if ep, err = PoolFromHW(h, PoolEDRAM); err != nil {
		return
	}
	sj = make([]*job, len(layers))
	ej = make([]*job, len(layers))
	for i, d := range layers {
		l := d.Layer
		if d.OC4 < 0 || d.OCTB < 0 {
			return sp, ep, nil, nil, fmt.Errorf("mapping: layer %q: oc4=%d and octb=%d must not be negative", l.Name, d.OC4, d.OCTB)
		}
		if l.OC != 0 && d.OC4+d.OCTB != l.OC {
			return sp, ep, nil, nil, fmt.Errorf("mapping: layer %q: oc4=%d + octb=%d != oc=%d", l.Name, d.OC4, d.OCTB, l.OC)
		}
		if l.OC == 0 {
			l.OC = d.OC4 + d.OCTB
		}
		if g := max(l.Group, 1); d.OC4%g != 0 || d.OCTB%g != 0 {
			return sp, ep, nil, nil, fmt.Errorf("mapping: layer %q: oc4=%d and octb=%d must both be divisible by group=%d", l.Name, d.OC4, d.OCTB, g)
		}
		if d.SRAMWeightBits < 0 || d.SRAMWeightBits > 16 || d.SRAMInputBits < 0 || d.SRAMInputBits > 16 {
			return sp, ep, nil, nil, fmt.Errorf("mapping: layer %q: sram weight/input bits must be 0..16", l.Name)
		}
		if err = l.Validate(); err != nil {
			return sp, ep, nil, nil, err
		}
		arr, inBits := sp.tileArray(), sp.InputBits
		if d.SRAMWeightBits > 0 {
			arr.WeightCols = (d.SRAMWeightBits + sp.BitsPerCell - 1) / sp.BitsPerCell
		}
		if d.SRAMInputBits > 0 {
			inBits = d.SRAMInputBits
		}
		if sj[i], err = newJob(i, l, d.OC4, arr, sp.CyclesPerVector(inBits), schemes); err != nil {
			return sp, ep, nil, nil, err
		}
		if ej[i], err = newJob(i, l, d.OCTB, ep.tileArray(), ep.CyclesPerVector(ep.InputBits), schemes); err != nil {
			return sp, ep, nil, nil, err
		}
		// Both paths read the same codes from the buffer, at x_bits.
		sj[i].inCycles, sj[i].xBits = sp.inputCycles(inBits), int64(inBits)
		ej[i].inCycles, ej[i].xBits = ep.inputCycles(ep.InputBits), int64(inBits)
	}
	return sp, ep, sj, ej, nil
}

// dualCache remembers the last MapDual results. `pimc compile` maps the
// chosen variant's layers twice, once to emit the program (backend.Emit)
// and once to cost it (cost.Evaluate), and the edp search is a sizeable
// part of a compile. The two describe a layer slightly differently (e.g.
// a dual layer's SRAM weight width given or left native), so the key is
// what the search reads: each layer's name and its two jobs as newJob
// normalised them, the hardware, schemes and objective. A hit returns a
// deep copy: callers own what they get.
//
// The baselines are costed while the chosen variant is emitted, so the
// memo holds a few entries, enough for a compile's four calls. The
// hardware is matched by identity as well as by content: a compile hands
// one *hw.Hardware to all its variants, and a compile repeated in one
// process (a benchmark) loads its own, so it starts cold. (An entry holds
// its pointer, so the address is not reused while it is there.)
var dualCache = &dualMemo{}

const dualCacheSize = 4

type dualKey struct {
	jobs    []jobKey     // SRAM and eDRAM job of each layer
	hwp     *hw.Hardware // the description handed to MapDual
	hw      []byte       // its JSON (all its fields)
	schemes []Scheme
	obj     Objective
}

// jobKey is everything of a job the search reads (its candidates follow
// from the layer, array and schemes).
type jobKey struct {
	name                string
	oc                  int
	layer               Layer
	arr                 Array
	cpv, inCycles, xBit int64
}

func newDualKey(sj, ej []*job, h *hw.Hardware, schemes []Scheme, obj Objective) (dualKey, bool) {
	b, err := h.JSON()
	if err != nil {
		return dualKey{}, false
	}
	k := dualKey{jobs: make([]jobKey, 0, 2*len(sj)), hwp: h, hw: b, schemes: slices.Clone(schemes), obj: obj}
	for i := range sj {
		for _, j := range []*job{sj[i], ej[i]} {
			k.jobs = append(k.jobs, jobKey{j.name, j.oc, j.layer, j.arr, j.cpv, j.inCycles, j.xBits})
		}
	}
	return k, true
}

func (k *dualKey) equal(o *dualKey) bool {
	return k.obj == o.obj && k.hwp == o.hwp && slices.Equal(k.jobs, o.jobs) && bytes.Equal(k.hw, o.hw) && slices.Equal(k.schemes, o.schemes)
}

type dualMemo struct {
	mu      sync.Mutex
	entries []dualEntry // most recently used last
}

type dualEntry struct {
	key dualKey
	res *DualResult
}

func (m *dualMemo) get(k dualKey) *DualResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.entries {
		if e := m.entries[i]; e.key.equal(&k) {
			m.entries = append(append(m.entries[:i:i], m.entries[i+1:]...), e)
			return e.res.clone()
		}
	}
	return nil
}

func (m *dualMemo) put(k dualKey, r *DualResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) == dualCacheSize {
		m.entries = append(m.entries[:0:0], m.entries[1:]...)
	}
	m.entries = append(m.entries, dualEntry{k, r.clone()})
}

// clone copies r deeply (Places are the only shared slices).
func (r *DualResult) clone() *DualResult {
	c := *r
	c.Layers = slices.Clone(r.Layers)
	for i := range c.Layers {
		c.Layers[i].SRAM.Places = slices.Clone(c.Layers[i].SRAM.Places)
		c.Layers[i].EDRAM.Places = slices.Clone(c.Layers[i].EDRAM.Places)
	}
	return &c
}

// mapDualFor is MapDual's energy and edp path. Each pool contributes its
// candidate plans (latency plan, energy plan and, for edp, the λ plans);
// every pair is realised and costed as MapDual reports it (shared DMA bus,
// refreshes over the dual latency), and the best pair under the objective
// wins. Pairs are tried SRAM plan major, in list order; ties keep the
// first.
//
// Each plan is realised once; a pair is first costed by pairCost, which
// computes the energy and latency dualResult would report without
// building the result, and only the best pair is assembled.
func mapDualFor(layers []DualLayer, h *hw.Hardware, sp, ep Pool, sj, ej []*job, schemes []Scheme, obj Objective) *DualResult {
	sl, el := basePlans(sj, sp, schemes), basePlans(ej, ep, schemes)
	var sa, ea []*Allocation // realised plans, in list order
	realiseAll := func() {
		for len(sa) < len(sl) {
			c := sl[len(sa)]
			sa = append(sa, realise(c.jobs, sp, c.pl))
		}
		for len(ea) < len(el) {
			c := el[len(ea)]
			ea = append(ea, realise(c.jobs, ep, c.pl))
		}
	}
	realiseAll()
	if obj == ObjectiveEDP {
		var ratios []float64
		for i := range sl {
			for k := range el {
				en, lat := pairCost(sa[i], ea[k], sp, ep)
				ratios = append(ratios, en/float64(max(lat, 1)))
			}
		}
		sl, el = lambdaPlans(sl, sj, sp, ratios), lambdaPlans(el, ej, ep, ratios)
		realiseAll()
	}
	bi, bk := -1, -1
	var bestEn float64
	var bestLat int64
	for i := range sl {
		for k := range el {
			en, lat := pairCost(sa[i], ea[k], sp, ep)
			if bi < 0 || better(obj, en, lat, bestEn, bestLat) {
				bi, bk, bestEn, bestLat = i, k, en, lat
			}
		}
	}
	// pairCost left the realised plans as realise made them, and they
	// are not needed after this.
	return dualResult(layers, h, sp, ep, sa[bi], ea[bk])
}

// pairCost is the EnergyFJ and LatencyClk of dualResult(layers, h, sp,
// ep, sa, ea), computed as dualResult computes them (shareBus's wait,
// the per-layer maximum, applyRefresh over the dual latency, the sums in
// the same order) but without modifying sa or ea.
func pairCost(sa, ea *Allocation, sp, ep Pool) (energyFJ float64, latencyClk int64) {
	for i := range ea.Layers {
		s, e := &sa.Layers[i], &ea.Layers[i]
		el := e.LatencyClk
		if s.Mode == ModeStreamed && e.Mode == ModeStreamed && s.busEnd > 0 {
			alone := max(e.firstArr, e.firstBus)
			shared := max(e.firstArr, satAdd(s.busEnd, e.firstBus))
			if d := shared - alone; d > 0 {
				el = satAdd(el, d)
			}
		}
		latencyClk = satAdd(latencyClk, max(s.LatencyClk, el))
	}
	return refreshedEnergy(sa, sp, latencyClk) + refreshedEnergy(ea, ep, latencyClk), latencyClk
}

// refreshedEnergy is a.EnergyFJ after a.applyRefresh(p, d), without
// modifying a.
func refreshedEnergy(a *Allocation, p Pool, d int64) float64 {
	var sum float64
	for i := range a.Layers {
		r := &a.Layers[i]
		en := r.EnergyFJ
		if r.Mode != ModeIdle {
			refreshes := satAdd(r.streamRefreshes, refreshRows(p, r.RefreshRows, d))
			refreshFJ := float64(refreshes) * p.RefreshEnergyPerRowFJ
			en = r.computeFJ + r.ReloadEnergyFJ + refreshFJ
		}
		sum += en
	}
	return sum
}

// dualResult assembles MapDual's result from the two pools' allocations:
// the shared DMA bus, the per-layer maximum and refreshes over the dual
// latency.
func dualResult(layers []DualLayer, h *hw.Hardware, sp, ep Pool, sa, ea *Allocation) *DualResult {
	shareBus(sa, ea)
	r := &DualResult{Hardware: h.Name, ClockMHz: h.ClockMHz, BottleneckIndex: -1, Layers: make([]DualLayerResult, len(layers))}
	for i := range layers {
		s, e := sa.Layers[i], ea.Layers[i]
		dl := DualLayerResult{Index: i, Name: layers[i].Layer.Name, LatencyClk: max(s.LatencyClk, e.LatencyClk)}
		switch {
		case s.Mode == ModeIdle && e.Mode == ModeIdle:
			dl.Bound = "none"
		case s.LatencyClk > e.LatencyClk:
			dl.Bound = string(PoolSRAM)
		case e.LatencyClk > s.LatencyClk:
			dl.Bound = string(PoolEDRAM)
		default:
			dl.Bound = "both"
		}
		r.LatencyClk = satAdd(r.LatencyClk, dl.LatencyClk)
		if dl.Bound != "none" && (r.BottleneckIndex < 0 || dl.LatencyClk > r.BottleneckClk) {
			r.Bottleneck, r.BottleneckIndex, r.BottleneckClk = dl.Name, i, dl.LatencyClk
		}
		r.Layers[i] = dl
	}
	// Resident weights must survive the whole dual inference, not just the
	// time their own pool is busy.
	sa.applyRefresh(sp, r.LatencyClk)
	ea.applyRefresh(ep, r.LatencyClk)
	for i := range layers {
		r.Layers[i].SRAM, r.Layers[i].EDRAM = sa.Layers[i], ea.Layers[i]
	}
	r.SRAM, r.EDRAM = sa.PoolSummary, ea.PoolSummary
	r.EnergyFJ = sa.EnergyFJ + ea.EnergyFJ
	r.LatencyUS = h.CyclesToMicroseconds(r.LatencyClk)
	return r
}

// shareBus charges the eDRAM pool its wait for the one DMA bus. Both
// pools' weight writes pass through it, in issue order, and the SRAM part
// of a layer is issued first: in a layer where both pools stream, the
// eDRAM part's first transfers start only when the SRAM part's last one
// has ended (for a time-multiplexed SRAM part, the transfer of its last
// round). The wait lengthens the eDRAM part's reload_clk and so its
// latency_clk; the arrays' own write cycles overlap with it.
func shareBus(sa, ea *Allocation) {
	changed := false
	for i := range ea.Layers {
		s, e := &sa.Layers[i], &ea.Layers[i]
		if s.Mode != ModeStreamed || e.Mode != ModeStreamed || s.busEnd <= 0 {
			continue
		}
		alone := max(e.firstArr, e.firstBus)
		shared := max(e.firstArr, satAdd(s.busEnd, e.firstBus))
		if d := shared - alone; d > 0 {
			e.ReloadClk = satAdd(e.ReloadClk, d)
			e.LatencyClk = satAdd(e.LatencyClk, d)
			changed = true
		}
	}
	if changed {
		ea.resum()
	}
}

// resum recomputes the pool's time sums and bottleneck from its layers.
func (a *Allocation) resum() {
	a.ReloadClk, a.LatencyClk = 0, 0
	a.Bottleneck, a.BottleneckIndex, a.BottleneckClk = "", -1, 0
	for _, r := range a.Layers {
		a.ReloadClk = satAdd(a.ReloadClk, r.ReloadClk)
		a.LatencyClk = satAdd(a.LatencyClk, r.LatencyClk)
		if r.Mode != ModeIdle && (a.BottleneckIndex < 0 || r.LatencyClk > a.BottleneckClk) {
			a.Bottleneck, a.BottleneckIndex, a.BottleneckClk = r.Name, r.Index, r.LatencyClk
		}
	}
}
