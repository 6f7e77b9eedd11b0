package mapping

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
)

// Modes of a layer in an allocation.
const (
	ModeResident = "resident" // weights stay on dedicated arrays; written once at load
	ModeStreamed = "streamed" // weights written into the shared region every inference
	ModeIdle     = "idle"     // nothing of this layer runs on this pool
)

// LayerResult is how one layer runs on one pool. Clock-cycle fields are
// "_clk"; Cycles is the §4 count (input vectors applied, all active tiles in
// parallel). All counts are per inference unless the name says otherwise.
type LayerResult struct {
	Index  int    `json:"index"`
	Name   string `json:"name"`
	OC     int    `json:"oc"` // output channels mapped on this pool
	Mode   string `json:"mode"`
	Scheme Scheme `json:"scheme"`
	Window string `json:"window"`

	Tiles  int64 `json:"tiles"`  // array-sized tiles of one weight copy
	Copies int64 `json:"copies"` // weight copies running windows in parallel
	Rounds int64 `json:"rounds"` // time-multiplexed rounds (streamed; 1 if all tiles fit)
	Arrays int64 `json:"arrays"` // arrays holding this layer's tiles at one time

	Cycles     int64 `json:"cycles"`
	ComputeClk int64 `json:"compute_clk"`
	ReloadClk  int64 `json:"reload_clk"`
	LatencyClk int64 `json:"latency_clk"` // compute_clk + reload_clk

	Reloads        int64   `json:"reloads"`     // tile writes
	ReloadRows     int64   `json:"reload_rows"` // array rows written
	ReloadBytes    int64   `json:"reload_bytes"`
	ReloadEnergyFJ float64 `json:"reload_energy_fj"`
	// ResidentRows is the rows a resident layer keeps for the whole inference.
	ResidentRows int64 `json:"resident_rows"`
	// RefreshRows is the word lines a resident layer's arrays keep
	// programmed, refreshed once per retention period: an array refreshes
	// as many rows as its tallest image has, charged to that image's
	// layer (column packing; ResidentRows when every image is alone).
	RefreshRows int64 `json:"refresh_rows"`
	// Places is where a resident layer's images sit (copy-major, then
	// tile order): array and first column.
	Places          []Place `json:"places"`
	Refreshes       int64   `json:"refreshes"` // row refreshes
	RefreshEnergyFJ float64 `json:"refresh_energy_fj"`

	UsedCells      int64   `json:"used_cells"`
	AllocatedCells int64   `json:"allocated_cells"`
	Utilisation    float64 `json:"utilisation"`
	// EnergyFJ is the energy the allocator models for this part per
	// inference: compute (MACs, ADC, drivers, window reads; zero on an
	// IdealPool) plus reloads plus refreshes (docs/mapping.md, "Objectives").
	EnergyFJ float64 `json:"energy_fj"`

	computeFJ       float64 // the compute part of EnergyFJ
	streamRefreshes int64   // refreshes of streamed rounds (independent of the inference time)
	// The DMA bus use of a streamed layer (MapDual shares the bus between
	// the pools): bus cycles of its first round's writes, the array-side
	// write cycles of that round, and when (from the layer's start) its
	// last transfer ends.
	firstBus, firstArr, busEnd int64
}

// PoolSummary totals one pool's allocation.
type PoolSummary struct {
	Pool   string `json:"pool"`
	Arrays int    `json:"arrays"`
	Rows   int    `json:"rows"`
	Cols   int    `json:"cols"`
	// ResidentArrays are pinned to resident layers; StreamArrays form the
	// region streamed layers share one after another.
	ResidentArrays int64  `json:"resident_arrays"`
	StreamArrays   int64  `json:"stream_arrays"`
	Solver         string `json:"solver"`
	// Objective is what the allocation minimised (latency, energy, edp).
	Objective Objective `json:"objective"`

	Cycles     int64 `json:"cycles"`
	ComputeClk int64 `json:"compute_clk"`
	ReloadClk  int64 `json:"reload_clk"`
	LatencyClk int64 `json:"latency_clk"` // sum over layers: they run one after another

	Reloads         int64   `json:"reloads"`
	ReloadRows      int64   `json:"reload_rows"`
	ReloadBytes     int64   `json:"reload_bytes"`
	ReloadEnergyFJ  float64 `json:"reload_energy_fj"`
	Refreshes       int64   `json:"refreshes"`
	RefreshEnergyFJ float64 `json:"refresh_energy_fj"`
	// LoadClk and LoadEnergyFJ are the one-time cost of writing the resident
	// weights before the first inference; not part of LatencyClk.
	LoadClk      int64   `json:"load_clk"`
	LoadEnergyFJ float64 `json:"load_energy_fj"`

	UsedCells      int64   `json:"used_cells"`
	AllocatedCells int64   `json:"allocated_cells"`
	Utilisation    float64 `json:"utilisation"`
	// EnergyFJ sums the layers' modelled energy (LayerResult.EnergyFJ).
	EnergyFJ float64 `json:"energy_fj"`

	// Bottleneck is the slowest layer (by latency_clk): the stage that would
	// limit a layer pipeline.
	Bottleneck      string `json:"bottleneck"`
	BottleneckIndex int    `json:"bottleneck_index"`
	BottleneckClk   int64  `json:"bottleneck_clk"`
}

// Allocation is the auto mapping of a list of layers on one pool.
type Allocation struct {
	PoolSummary
	Layers []LayerResult `json:"layers"`
}

// Options tunes Allocate.
type Options struct {
	// Schemes restricts the candidate schemes (nil: all of Schemes). With
	// only VWSDK it gives the VW-SDK baseline under the same cost model.
	Schemes []Scheme
	// Objective is what the allocation minimises: latency (the zero
	// value), energy or edp (docs/mapping.md, "Objectives").
	Objective Objective
}

// job is one layer prepared for one pool.
type job struct {
	index  int
	name   string
	oc     int
	layer  Layer
	arr    Array
	cpv    int64 // clock cycles per input vector
	cands  []Mapping
	active bool
	// For the energy model: bit-serial input cycles on this pool and the
	// width of the codes read from the activation buffer.
	inCycles, xBits int64
	// tm memoises the time-multiplexed timings (evalStream), which the
	// keyed searches ask for again and again.
	tm map[tmKey]stream
	// km memoises keyedOptions' options before pricing (keyedRaw).
	km   []kmSlots
	strs []strSlot // streamedRaw's, per region size
	// geom memoises each candidate's tile geometry (candGeom), units the
	// packed knapsack costs in units of unitsOf columns (packedUnits).
	geom    []tileGeo
	units   []int64
	unitsOf int64
}

// bare is a copy of j without its candidates and memos.
func (j *job) bare() *job {
	return &job{index: j.index, name: j.name, oc: j.oc, layer: j.layer, arr: j.arr, cpv: j.cpv,
		active: j.active, inCycles: j.inCycles, xBits: j.xBits}
}

type tmKey struct{ tiles, rows, maxRows, rowTiles, windows, s int64 }

// Allocate maps layers (run one after another) onto the pool: the best scheme
// per layer, spare arrays spent on weight copies, and time-multiplexing with
// counted reloads when the layers do not all fit, all for o.Objective. It
// never fails for lack of arrays. See docs/mapping.md for the model.
func Allocate(layers []Layer, p Pool, o Options) (*Allocation, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	obj, err := o.Objective.normalized()
	if err != nil {
		return nil, err
	}
	jobs := make([]*job, len(layers))
	for i, l := range layers {
		j, err := newJob(i, l, l.OC, p.tileArray(), p.CyclesPerVector(p.InputBits), o.Schemes)
		if err != nil {
			return nil, err
		}
		j.inCycles, j.xBits = p.inputCycles(p.InputBits), int64(p.InputBits)
		jobs[i] = j
	}
	if obj != ObjectiveLatency {
		return allocateFor(jobs, p, o.Schemes, obj), nil
	}
	a := allocate(jobs, p, o.Schemes)
	a.applyRefresh(p, a.LatencyClk)
	a.Objective = obj
	return a, nil
}

func newJob(i int, l Layer, oc int, arr Array, cpv int64, schemes []Scheme) (*job, error) {
	j := &job{index: i, name: l.Name, oc: oc, arr: arr, cpv: cpv, active: oc > 0}
	if !j.active {
		return j, nil
	}
	l.OC = oc
	nl, err := l.Normalized()
	if err != nil {
		return nil, err
	}
	if err := arr.check(); err != nil {
		return nil, fmt.Errorf("layer %q: %w", l.Name, err)
	}
	j.layer = nl
	if len(schemes) == 0 {
		schemes = Schemes
	}
	for _, s := range schemes {
		var m Mapping
		switch s {
		case Im2col:
			m = im2col(nl, arr)
		case SDK:
			m = sdk(nl, arr)
		case VWSDK:
			m = vwsdk(nl, arr)
		default:
			return nil, fmt.Errorf("mapping: unknown scheme %q", s)
		}
		// Identical (tiles, windows) shapes cost the same; keep the first.
		if !slices.ContainsFunc(j.cands, func(c Mapping) bool {
			return c.Tiles == m.Tiles && c.Windows == m.Windows && c.RowsWritten == m.RowsWritten && c.MaxTileRows == m.MaxTileRows
		}) {
			j.cands = append(j.cands, m)
		}
	}
	return j, nil
}

// plan is one complete choice: the shared region size and an option per
// active job.
type plan struct {
	stream int64
	opts   []option // per job; zero value for inactive jobs
	total  int64    // summed latency
	v      float64  // summed key (keyed objectives only)
	solver string
}

// allocate tries several sizes of the shared streaming region (0, and eighths
// of the pool), solves the resident/streamed choice exactly (or greedily for
// huge pools) for each, and keeps the fastest. When the greedy solver was
// needed, the VW-SDK-only plan is computed too and kept if faster, so that
// auto is never worse than VW-SDK.
func allocate(jobs []*job, p Pool, schemes []Scheme) *Allocation {
	c := latencyPlan(jobs, p, schemes)
	return realise(c.jobs, p, c.pl)
}

// candPlan is a plan together with the jobs it indexes (the VW-SDK-only
// fallback has its own).
type candPlan struct {
	jobs []*job
	pl   plan
}

// latencyPlan is the plan the latency objective realises.
func latencyPlan(jobs []*job, p Pool, schemes []Scheme) candPlan {
	best := candPlan{jobs, search(jobs, p)}
	if len(schemes) == 0 {
		schemes = Schemes
	}
	// Column packing is a heuristic (searchSizes): with several schemes,
	// the plans of each scheme alone are candidates too, so that auto is
	// never worse than any one scheme. Without packing, only the greedy
	// solver needs this, and only for VW-SDK.
	packing := packUnit(jobs, int64(p.Array.Cols)) < int64(p.Array.Cols)
	for _, sc := range schemes {
		if len(schemes) == 1 || !(packing || (best.pl.solver == solverGreedy && sc == VWSDK)) {
			continue
		}
		one := make([]*job, len(jobs))
		for i, j := range jobs {
			nj := j.bare()
			if j.active {
				m, _ := Map(j.layer, j.arr, sc) // j.layer and j.arr are checked
				nj.cands = []Mapping{m}
			}
			one[i] = nj
		}
		if alt := search(one, p); alt.total < best.pl.total {
			best = candPlan{one, alt}
		}
	}
	return best
}

// streamSizes are the streaming-region sizes tried: 0 and every eighth of
// the pool.
func streamSizes(n int64) []int64 {
	sizes := []int64{0}
	for q := int64(1); q <= 8; q++ {
		if s := max(1, n*q/8); s != sizes[len(sizes)-1] {
			sizes = append(sizes, s)
		}
	}
	return sizes
}

func search(jobs []*job, p Pool) plan {
	mk := func(j *job, _ int, s, budget int64, units []int64, dst []option) []option {
		start := len(dst)
		dst = residentOptions(j, budget, units, dst)
		if s > 0 {
			dst = append(dst, streamOption(j, p, s))
		}
		return append(dst[:start], pareto(dst[start:])...)
	}
	sv := func(opts [][]option, maxBudget int64, sc *dpScratch) func(int64) ([]int, float64, int64, string, bool) {
		at := solveFor(opts, maxBudget, sc)
		return func(budget int64) ([]int, float64, int64, string, bool) {
			choice, total, solver, ok := at(budget)
			return choice, 0, total, solver, ok
		}
	}
	return searchSizes(jobs, p, streamSizes(int64(p.Arrays)), mk, sv)
}

// maxPackTries bounds the knapsack solves of a packed search per region
// size: the full column budget, then a bisection for the largest budget
// whose plan first-fit decreasing can place.
const maxPackTries = 8

// searchSizes is the search shared by every objective: for each
// streaming-region size s, the options mk gives for the resident budget
// n − s are solved by sv(opts, maxBudget)(budget) (least Σv, then
// Σlatency; the bisection below asks one sv for several budgets), and the
// best size wins, ties keeping the smaller region. Each size is solved twice: with
// a resident option costing whole arrays (k·T, one image per array), and,
// when some tile is narrower than an array, costing columns (column
// packing): the budget is then (n − s)·C columns, and when first-fit
// decreasing cannot place the plan's images on n − s arrays the column
// budget is bisected for the largest that packs. The whole-array plan
// always packs, so packing can only improve on it.
func searchSizes(jobs []*job, p Pool, sizes []int64, mk func(j *job, si int, s, budget int64, units []int64, dst []option) []option,
	sv func(opts [][]option, maxBudget int64, sc *dpScratch) func(budget int64) ([]int, float64, int64, string, bool)) plan {
	n, C := int64(p.Arrays), int64(p.Array.Cols)
	unit := packUnit(jobs, C)
	var units [][]int64
	if unit < C {
		units = make([][]int64, len(jobs))
		for i, j := range jobs {
			if j.active {
				units[i] = j.packedUnits(unit)
			}
		}
	}
	var best plan
	found := false
	spare := make([]option, len(jobs)) // the next best plan's options
	consider := func(s int64, idx []int, opts [][]option, choice []int, v float64, total int64, solver string) {
		if found && (v > best.v || (v == best.v && total >= best.total)) {
			return
		}
		pl := plan{stream: s, opts: spare, total: total, v: v, solver: solver}
		for k, i := range idx {
			pl.opts[i] = opts[k][choice[k]]
		}
		spare = best.opts
		if spare == nil {
			spare = make([]option, len(jobs))
		}
		best, found = pl, true
	}
	// Buffers reused from one size and mode to the next, and from one
	// search to the next: nothing of a solve outlives it but what
	// consider copies.
	w := scratchPool.Get().(*searchScratch)
	defer scratchPool.Put(w)
	sc, pk := &w.dp, &w.pk
	buf, ends, opts, idx, whole := w.buf[:0], w.ends[:0], w.opts[:0], w.idx[:0], w.whole[:0]
	defer func() { w.buf, w.ends, w.opts, w.idx, w.whole = buf, ends, opts, idx, whole }()
	chosen := grow(&w.chosen, len(jobs))
	clear(chosen)
	for si, s := range sizes {
		budget := n - s
		haveWhole := false
		for mode := 0; mode < 2; mode++ {
			if mode == 1 && units == nil {
				break
			}
			buf, ends, idx = buf[:0], ends[:0], idx[:0]
			for i, j := range jobs {
				if !j.active {
					continue
				}
				var u []int64
				if mode == 1 {
					u = units[i]
				}
				buf = mk(j, si, s, budget, u, buf)
				ends = append(ends, len(buf))
				idx = append(idx, i)
			}
			opts = opts[:0]
			for k, e := range ends {
				b := 0
				if k > 0 {
					b = ends[k-1]
				}
				opts = append(opts, buf[b:e:e])
			}
			if found && cannotImprove(opts, best) {
				continue
			}
			if found && best.v > 0 {
				b := budget
				if mode == 1 {
					b = budget * (C / unit)
				}
				if lagrangeExceeds(opts, b, best.v, w) {
					continue
				}
			}
			if mode == 0 {
				if choice, v, total, solver, ok := sv(opts, budget, sc)(budget); ok {
					consider(s, idx, opts, choice, v, total, solver)
					whole = whole[:0]
					for k := range idx {
						whole = append(whole, opts[k][choice[k]])
					}
					haveWhole = true
				}
				continue
			}
			if haveWhole && unbeatable(whole, opts) {
				continue
			}
			// The full column budget first; when first-fit decreasing
			// cannot place that plan's images (fragmentation, or one
			// layer's images needing distinct arrays), bisect the budget
			// for the largest that packs. Every plan that packs is a
			// candidate.
			lo, hi := int64(0), budget*(C/unit) // C/unit units fit an array
			solveAt := sv(opts, hi, sc)
			for ub, try := hi, 0; try < maxPackTries && lo <= hi; try, ub = try+1, (lo+hi)/2 {
				choice, v, total, solver, ok := solveAt(ub)
				if ok {
					for k, i := range idx {
						chosen[i] = opts[k][choice[k]]
					}
					ok = packFits(jobs, chosen, C, budget, pk)
				}
				if ok {
					consider(s, idx, opts, choice, v, total, solver)
					lo = ub + 1
				} else {
					hi = ub - 1
				}
			}
		}
	}
	if !found {
		// Unreachable: the full-pool streaming region always fits. Kept so a
		// bug shows as an empty plan, not a panic.
		best = plan{opts: make([]option, len(jobs))}
	}
	return best
}

// searchScratch is searchSizes' buffers.
type searchScratch struct {
	dp                 dpScratch
	pk                 packScratch
	buf, whole, chosen []option
	ends, idx          []int
	opts               [][]option
	segs               []hullSeg // lagrangeExceeds'
	heads              [][2]int
	hull               []int
}

var scratchPool = sync.Pool{New: func() any { return new(searchScratch) }}

// cannotImprove reports whether no choice from opts can be considered
// after best: every choice's Σv is at least the sum of each layer's least
// v, and its Σlatency at least the sum of the least latencies (float and
// saturating sums, in the solvers' order, are monotone), and consider
// wants a smaller Σv, or an equal one and a smaller Σlatency.
func cannotImprove(opts [][]option, best plan) bool {
	var v float64
	var lat int64
	for _, os := range opts {
		if len(os) == 0 {
			return true // no choice at all
		}
		mv, ml := os[0].v, os[0].lat
		for _, o := range os[1:] {
			mv, ml = min(mv, o.v), min(ml, o.lat)
		}
		v += mv
		lat = satAdd(lat, ml)
	}
	return v > best.v || (v == best.v && lat >= best.total)
}

// lagrangeExceeds reports whether every choice from opts (Pareto lists,
// by cost) costing at most budget sums to a v above bound, as the
// solvers sum it: then nothing in opts can be considered after a plan of
// Σv = bound. It bounds Σv from below by the Lagrangian relaxation of the
// budget: for any μ ≥ 0 and any choice within the budget,
//
//	Σv ≥ L(μ) = Σ_layers min_o (v_o + μ·cost_o) − μ·budget.
//
// μ is the slope at which the greedy on the layers' lower convex hulls of
// (cost, v) runs out of budget, where L is largest (the bound of the LP
// relaxation); how well μ is chosen affects only how often the bound
// prunes, not that it holds. L is computed in floating point and the
// solvers' sums are rounded too, so it must exceed bound by a margin far
// above both rounding errors (relative 2⁻⁵³ per operation, a few dozen
// operations). Negative or non-finite v make it give up (report false).
func lagrangeExceeds(opts [][]option, budget int64, bound float64, sc *searchScratch) bool {
	segs, heads := sc.segs[:0], sc.heads[:0]
	defer func() { sc.segs, sc.heads = segs, heads }()
	left := budget
	for _, os := range opts {
		if len(os) == 0 {
			return false
		}
		for _, o := range os {
			if !(o.v >= 0) || math.IsInf(o.v, 0) {
				return false
			}
		}
		left -= os[0].cost
		// The lower convex hull of (cost, v), from the cheapest option.
		h := lowerHullV(os, sc.hull[:0])
		sc.hull = h
		heads = append(heads, [2]int{len(segs), len(segs)}) // next, end
		for i := 1; i < len(h); i++ {
			a, b := os[h[i-1]], os[h[i]]
			if dc := b.cost - a.cost; dc > 0 && a.v > b.v {
				segs = append(segs, hullSeg{dc: dc, slope: (a.v - b.v) / float64(dc)})
			}
		}
		heads[len(heads)-1][1] = len(segs)
	}
	if left < 0 {
		return false // nothing fits; the solver says so
	}
	// The greedy: the steepest next segment of any layer (each layer's
	// hull gets flatter), while the budget lasts.
	mu := 0.0
	for {
		best := -1
		for i, hd := range heads {
			if hd[0] < hd[1] && (best < 0 || segs[hd[0]].slope > segs[heads[best][0]].slope) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		g := segs[heads[best][0]]
		if g.dc > left {
			mu = g.slope
			break
		}
		left -= g.dc
		heads[best][0]++
	}
	if mu == 0 {
		return false // the budget does not bind: cannotImprove's bound
	}
	var sum float64
	for _, os := range opts {
		m := math.Inf(1)
		for _, o := range os {
			m = min(m, o.v+mu*float64(o.cost))
		}
		sum += m
	}
	lb := sum - mu*float64(budget)
	margin := 1e-9 * (sum + mu*float64(budget))
	return lb-margin > bound
}

// hullSeg is one segment of a layer's lower convex hull of (cost, v).
type hullSeg struct {
	dc    int64
	slope float64 // v saved per unit of cost
}

// unbeatable reports whether each layer's option in chosen has both the
// least v and the least latency of all its options in opts. No choice from
// opts then sums to less (the sums are monotone), so the packed solve of a
// size cannot improve on its whole-array plan, and searchSizes skips it.
func unbeatable(chosen []option, opts [][]option) bool {
	for k, os := range opts {
		for _, o := range os {
			if o.v < chosen[k].v || o.lat < chosen[k].lat {
				return false
			}
		}
	}
	return true
}

// copiesFor calls f for the smallest copy count k ≤ kmax giving each distinct
// ⌈w/k⌉: no other k can be better, since more copies cost more.
func copiesFor(w, kmax int64, f func(k, steps int64)) {
	for k := int64(1); k <= kmax; {
		q := ceilDiv(w, k)
		f(k, q)
		if q == 1 {
			return
		}
		k = ceilDiv(w, q-1)
	}
}

// residentOptions are j's resident options within budget arrays: k
// copies of a candidate cost k·T arrays, or k·units[c] column units when
// units is given (column packing; the images of one layer still need
// k·T distinct arrays).
// They are appended to os.
func residentOptions(j *job, budget int64, units []int64, os []option) []option {
	for c, m := range j.cands {
		if m.Tiles > budget {
			continue
		}
		per := m.Tiles
		if units != nil {
			per = units[c]
		}
		copiesFor(m.Windows, budget/m.Tiles, func(k, steps int64) {
			os = append(os, option{cand: c, resident: true, copies: k, cost: k * per, lat: satMul(steps, j.cpv)})
		})
	}
	return os
}

// stream is the cost of running one candidate in a streaming region.
type stream struct {
	copies, rounds   int64
	cycles, writeClk int64
	// DMA bus use (see LayerResult.firstBus)
	firstBus, firstArr, busEnd int64
	rows                       int64 // rows written per inference
	maxArrays                  int64
	refreshes                  int64 // row refreshes while rounds run
}

func (s stream) lat(cpv int64) int64 { return satAdd(satMul(s.cycles, cpv), s.writeClk) }

// evalStream costs a candidate on s arrays with k copies (k > 1 only if all
// tiles fit). Tiles that do not fit run in rounds of s tiles; each round
// rewrites its arrays and then streams every window through them.
func evalStream(j *job, p Pool, m Mapping, s, k int64) stream {
	if m.Tiles <= s {
		rows := k * m.RowsWritten
		st := stream{copies: k, rounds: 1, rows: rows, maxArrays: k * m.Tiles,
			cycles: ceilDiv(m.Windows, k), writeClk: p.writeClk(m.MaxTileRows, rows)}
		st.refreshes = refreshRows(p, rows, satAdd(st.writeClk, satMul(st.cycles, j.cpv)))
		st.firstBus, st.firstArr = p.busClk(rows), satMul(m.MaxTileRows, p.WriteCyclesPerRow)
		st.busEnd = st.firstBus
		return st
	}
	key := tmKey{m.Tiles, m.RowsWritten, m.MaxTileRows, m.RowTiles, m.Windows, s}
	if st, ok := j.tm[key]; ok {
		return st
	}
	rounds := ceilDiv(m.Tiles, s)
	full := mulDiv(m.RowsWritten, s, m.Tiles) // rows of a full round; the last gets the rest
	last := m.RowsWritten - (rounds-1)*full
	compute := satMul(m.Windows, j.cpv)
	wFull, wLast := p.writeClk(m.MaxTileRows, full), p.writeClk(m.MaxTileRows, last)
	st := stream{copies: 1, rounds: rounds, rows: m.RowsWritten, maxArrays: s,
		cycles:   satMul(rounds, m.Windows),
		writeClk: satAdd(satMul(rounds-1, wFull), wLast)}
	st.refreshes = satAdd(satMul(rounds-1, refreshRows(p, full, satAdd(wFull, compute))),
		refreshRows(p, last, satAdd(wLast, compute)))
	st.firstBus, st.firstArr = p.busClk(full), satMul(m.MaxTileRows, p.WriteCyclesPerRow)
	// The last round's transfers start when the earlier rounds are done.
	st.busEnd = satAdd(satMul(rounds-1, satAdd(wFull, compute)), p.busClk(last))
	if end, busEnd, ok := p.pipelined(m, s, compute); ok {
		// Exposed write time: what the pipeline does not hide behind compute.
		st.writeClk, st.busEnd = end-satMul(st.cycles, j.cpv), busEnd
	}
	if j.tm == nil {
		j.tm = map[tmKey]stream{}
	}
	j.tm[key] = st
	return st
}

// TimeMultiplexedClk is the latency of a time-multiplexed part (more
// tiles than the s-array region holds) when each tile runs compute clock
// cycles of windows: timed tile by tile when pipelined can, else the
// round-by-round bound (docs/mapping.md, "Per layer"). The cost model uses
// it to rescale a batch's windows.
func (p Pool) TimeMultiplexedClk(m Mapping, s, compute int64) int64 {
	if end, _, ok := p.pipelined(m, s, compute); ok {
		return end
	}
	rounds := ceilDiv(m.Tiles, s)
	full := mulDiv(m.RowsWritten, s, m.Tiles)
	last := m.RowsWritten - (rounds-1)*full
	w := satAdd(satMul(rounds-1, p.writeClk(m.MaxTileRows, full)), p.writeClk(m.MaxTileRows, last))
	return satAdd(w, satMul(rounds, compute))
}

// maxPipelinedTiles bounds the tile-by-tile timing of pipelined; larger
// layers keep the round-by-round bound.
const maxPipelinedTiles = 1 << 14

// pipelined times a time-multiplexed part as the chip runs it (the
// simulator's rule, docs/simulator.md): tile i goes to array i mod s of
// the region; its write starts when that array has finished its previous
// tile's windows, its transfer when the DMA bus is free (transfers in tile
// order), and its windows run as soon as it is written. So one array's
// writes overlap the other arrays' compute, which the round-by-round
// bound, Σ round writes + rounds · compute, does not count. It returns the
// end of the last window and of the last transfer, from the layer's
// start, and false when the tiles are too many or their rows are not the
// regular layout of row tiles below (then the round-by-round bound is
// used).
//
// Tile rows follow the emission order of every scheme: per group and
// column tile, row tiles of max_tile_rows rows but the last, which holds
// the rest.
func (p Pool) pipelined(m Mapping, s, compute int64) (end, busEnd int64, ok bool) {
	rt := m.RowTiles
	if m.Tiles > maxPipelinedTiles || rt < 1 || m.Tiles%rt != 0 {
		return 0, 0, false
	}
	blocks := m.Tiles / rt
	if m.RowsWritten%blocks != 0 {
		return 0, 0, false
	}
	last := m.RowsWritten/blocks - (rt-1)*m.MaxTileRows
	if last < 1 || last > m.MaxTileRows {
		return 0, 0, false
	}
	free := make([]int64, s)
	var bus int64
	for i := range m.Tiles {
		rows := m.MaxTileRows
		if i%rt == rt-1 {
			rows = last
		}
		a := i % s
		bus = satAdd(max(free[a], bus), p.busClk(rows))
		written := max(bus, satAdd(free[a], satMul(rows, p.WriteCyclesPerRow)))
		free[a] = satAdd(written, compute)
		end = max(end, free[a])
	}
	return end, bus, true
}

// mulDiv is a·b/c without intermediate overflow, for 0 ≤ b < c.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

// refreshRows is the row refreshes needed to keep rows alive for d cycles:
// one per row per full retention period.
func refreshRows(p Pool, rows, d int64) int64 {
	if p.RetentionCycles <= 0 {
		return 0
	}
	return satMul(rows, d/p.RetentionCycles)
}

// streamOption is the best way to run a job in an s-array streaming region:
// of the candidates and copy counts, in order, the first of least latency.
// That option is among streamedRaw's (an option dropped there is no
// faster than an earlier one), whose order is the same.
func streamOption(j *job, p Pool, s int64) option {
	best := option{lat: -1}
	for _, o := range j.streamedRaw(p, s) {
		if best.lat < 0 || o.lat < best.lat {
			best = option{cand: o.cand, copies: o.copies, lat: o.lat}
		}
	}
	return best
}

// realise turns the chosen plan into the reported allocation.
func realise(jobs []*job, p Pool, pl plan) *Allocation {
	a := &Allocation{PoolSummary: PoolSummary{
		Pool: p.Name, Arrays: p.Arrays, Rows: p.Array.Rows, Cols: p.Array.Cols,
		StreamArrays: pl.stream, Solver: pl.solver, BottleneckIndex: -1,
	}}
	a.Layers = make([]LayerResult, len(jobs))
	var loadRows, loadMaxRows int64
	streamed := false
	for i, j := range jobs {
		r := LayerResult{Index: j.index, Name: j.name, OC: j.oc, Mode: ModeIdle}
		if j.active {
			o := pl.opts[i]
			m := j.cands[o.cand]
			r.Scheme, r.Window, r.Tiles, r.Copies = m.Scheme, m.Window, m.Tiles, o.copies
			if o.resident {
				r.Mode, r.Rounds, r.Arrays = ModeResident, 1, o.copies*m.Tiles
				r.Cycles = ceilDiv(m.Windows, o.copies)
				r.ResidentRows = o.copies * m.RowsWritten
				loadRows += r.ResidentRows
				loadMaxRows = max(loadMaxRows, m.MaxTileRows)
				a.ResidentArrays += r.Arrays
			} else {
				st := evalStream(j, p, m, pl.stream, o.copies)
				streamed = true
				r.Mode, r.Rounds, r.Arrays, r.Cycles = ModeStreamed, st.rounds, st.maxArrays, st.cycles
				r.ReloadClk = st.writeClk
				r.Reloads = st.copies * m.Tiles
				r.ReloadRows = st.rows
				r.ReloadBytes = satMul(st.rows, p.rowBytes())
				r.ReloadEnergyFJ = p.writeEnergy(st.rows)
				r.streamRefreshes = st.refreshes
				r.firstBus, r.firstArr, r.busEnd = st.firstBus, st.firstArr, st.busEnd
			}
			r.ComputeClk = satMul(r.Cycles, j.cpv)
			r.LatencyClk = satAdd(r.ComputeClk, r.ReloadClk)
			r.computeFJ = j.computeEnergy(p, m)
			r.EnergyFJ = r.computeFJ + r.ReloadEnergyFJ
			r.UsedCells = satMul(r.Copies, m.UsedCells)
			r.AllocatedCells = satMul(r.Copies, m.AllocatedCells)
			r.Utilisation = float64(r.UsedCells) / float64(r.AllocatedCells)
		}
		a.Layers[i] = r
		a.add(r)
	}
	if !streamed {
		a.StreamArrays = 0
	}
	// Column packing: the resident images share arrays (pack); a layer
	// occupies its images' columns, the pool its packed arrays.
	pk := pack(jobs, pl.opts, int64(p.Array.Cols))
	a.ResidentArrays = pk.arrays
	a.AllocatedCells = satMul(pk.arrays, int64(p.Array.Rows)*int64(p.Array.Cols))
	for i := range a.Layers {
		r := &a.Layers[i]
		if r.Mode == ModeResident {
			r.Places, r.RefreshRows = pk.places[i], pk.refreshRows[i]
			r.AllocatedCells = satMul(pk.cols[i], int64(p.Array.Rows))
			r.Utilisation = float64(r.UsedCells) / float64(r.AllocatedCells)
		} else {
			a.AllocatedCells = satAdd(a.AllocatedCells, r.AllocatedCells)
		}
	}
	a.LoadClk = p.writeClk(loadMaxRows, loadRows)
	a.LoadEnergyFJ = p.writeEnergy(loadRows)
	if a.AllocatedCells > 0 {
		a.Utilisation = float64(a.UsedCells) / float64(a.AllocatedCells)
	}
	return a
}

func (a *Allocation) add(r LayerResult) {
	a.Cycles = satAdd(a.Cycles, r.Cycles)
	a.ComputeClk = satAdd(a.ComputeClk, r.ComputeClk)
	a.ReloadClk = satAdd(a.ReloadClk, r.ReloadClk)
	a.LatencyClk = satAdd(a.LatencyClk, r.LatencyClk)
	a.Reloads = satAdd(a.Reloads, r.Reloads)
	a.ReloadRows = satAdd(a.ReloadRows, r.ReloadRows)
	a.ReloadBytes = satAdd(a.ReloadBytes, r.ReloadBytes)
	a.ReloadEnergyFJ += r.ReloadEnergyFJ
	a.UsedCells = satAdd(a.UsedCells, r.UsedCells)
	a.AllocatedCells = satAdd(a.AllocatedCells, r.AllocatedCells)
	if r.Mode != ModeIdle && (a.BottleneckIndex < 0 || r.LatencyClk > a.BottleneckClk) {
		a.Bottleneck, a.BottleneckIndex, a.BottleneckClk = r.Name, r.Index, r.LatencyClk
	}
}

// applyRefresh counts refreshes for an inference lasting d cycles: resident
// rows are refreshed once per retention period of the whole inference,
// streamed rows during their own round (already in streamRefreshes).
func (a *Allocation) applyRefresh(p Pool, d int64) {
	a.Refreshes, a.RefreshEnergyFJ = 0, 0
	for i := range a.Layers {
		r := &a.Layers[i]
		r.Refreshes = satAdd(r.streamRefreshes, refreshRows(p, r.RefreshRows, d))
		r.RefreshEnergyFJ = float64(r.Refreshes) * p.RefreshEnergyPerRowFJ
		a.Refreshes = satAdd(a.Refreshes, r.Refreshes)
		a.RefreshEnergyFJ += r.RefreshEnergyFJ
	}
	a.EnergyFJ = 0
	for i := range a.Layers {
		r := &a.Layers[i]
		if r.Mode != ModeIdle {
			r.EnergyFJ = r.computeFJ + r.ReloadEnergyFJ + r.RefreshEnergyFJ
		}
		a.EnergyFJ += r.EnergyFJ
	}
}
