package mapping

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Objective is what an allocation minimises (docs/mapping.md, "Objectives").
type Objective string

const (
	// ObjectiveLatency minimises each pool's summed latency; weight
	// reloads cost only their time. The zero value of Options means it.
	ObjectiveLatency Objective = "latency"
	// ObjectiveEnergy minimises the modelled energy per inference (weights
	// kept resident rather than reloaded every inference), then latency
	// with the arrays that stay resident.
	ObjectiveEnergy Objective = "energy"
	// ObjectiveEDP minimises energy × latency over the plans the
	// allocator considers.
	ObjectiveEDP Objective = "edp"
)

// Objectives lists the objectives in a fixed order.
var Objectives = []Objective{ObjectiveLatency, ObjectiveEnergy, ObjectiveEDP}

// ParseObjective reads an objective name.
func ParseObjective(s string) (Objective, error) {
	return Objective(s).normalized()
}

// normalized maps "" to latency and rejects unknown names.
func (o Objective) normalized() (Objective, error) {
	if o == "" {
		return ObjectiveLatency, nil
	}
	if slices.Contains(Objectives, o) {
		return o, nil
	}
	return "", fmt.Errorf("mapping: unknown allocation objective %q (want latency, energy or edp)", string(o))
}

// maxExactFJ keeps rounded energies where float64 adds integers exactly,
// so that sums compare without rounding noise.
const maxExactFJ = 1 << 53

// roundFJ rounds an energy to whole femtojoules (saturating), so that
// option energies add exactly and equal plans tie exactly.
func roundFJ(e float64) int64 {
	if !(e > 0) {
		return 0
	}
	if e >= maxExactFJ {
		return maxExactFJ
	}
	return int64(math.Round(e))
}

// computeEnergy is the energy of one inference's array work of candidate
// m on this job's pool, counted as docs/cost.md counts it: MACs, ADC
// conversions (W·RT·oh·ow·OC·b·I·RG), driver row-cycles (W·RW·I) and the
// window reads from the activation buffer (W·pix·IC·x_bits). It does not
// depend on copies, rounds or residency, only on the scheme.
func (j *job) computeEnergy(p Pool, m Mapping) float64 {
	if !j.active {
		return 0
	}
	l := j.layer
	w := float64(m.Windows)
	adc := w * float64(m.RowTiles) * float64(m.OutH) * float64(m.OutW) * float64(l.OC) *
		float64(j.arr.WeightCols) * float64(j.inCycles) * float64(p.rowGroups())
	drv := w * float64(m.RowsWritten) * float64(j.inCycles)
	buf := w * float64(m.WindowH) * float64(m.WindowW) * float64(l.IC) * float64(j.xBits)
	return float64(roundFJ(float64(l.MACs())*p.MACEnergyFJ + adc*p.ADCEnergyFJ +
		drv*p.DriverEnergyPerRowFJ + buf*p.BufferReadEnergyPerBitFJ))
}

// keyFn is the scalar a keyed plan minimises, from an option's energy
// (fJ) and latency (clk); ties go to the lower latency. It is energy
// alone (energyKey) or energy + λ·latency (lambdaKey).
type keyFn struct {
	lambda  float64
	withLat bool
}

func (k keyFn) of(en, lat int64) float64 {
	if !k.withLat {
		return float64(en)
	}
	return float64(en) + k.lambda*float64(lat)
}

var energyKey = keyFn{}

func lambdaKey(lambda float64) keyFn { return keyFn{lambda: lambda, withLat: true} }

// keyedOptions are a job's options priced for a keyed search. A resident
// option's energy is its compute energy plus the refreshes of ONE copy
// over dEst cycles: extra copies are the arrays the energy objective
// spends on latency, and their refreshes are counted when the plans are
// compared (see chooseBest). A streamed option adds its reload energy
// (array writes and DMA) and the refreshes of its rounds. They are
// appended to dst, Pareto-pruned: sorted by cost, only those that
// strictly improve (v, latency) lexicographically, as the solvers want.
func keyedOptions(j *job, p Pool, si int, s, budget, dEst int64, key keyFn, units []int64, dst []option) []option {
	raw := j.keyedRaw(p, si, s, budget, dEst, units)
	best := option{lat: -1}
	if s > 0 {
		for _, o := range raw.str {
			o.v = key.of(o.en, o.lat)
			if best.lat < 0 || o.v < best.v || (o.v == best.v && o.lat < best.lat) {
				best = o
			}
		}
	}
	// The options are the resident ones and then the streamed one; the
	// pruning is that of a stable sort by (cost, v, lat) followed by a
	// walk keeping each option that strictly improves (v, lat) on the
	// last kept. Of the options of one cost only the first least one can
	// be kept, so it is enough to walk raw.res, stably sorted by cost
	// once for all keys, taking each cost's first least option (the
	// streamed one last among those of its cost).
	start := len(dst)
	var g option // the least option of the cost being walked
	inGroup, streamed := false, !(s > 0)
	for i := 0; i <= len(raw.res); i++ {
		var o option
		end := i == len(raw.res)
		if !end {
			o = raw.res[i]
			o.v = key.of(o.en, o.lat)
		}
		if !streamed && (end || o.cost > best.cost) {
			// The streamed option comes after every option of its cost.
			switch {
			case inGroup && g.cost == best.cost:
				if lessVL(best, g) {
					g = best
				}
			case inGroup:
				dst = keepPareto(dst, start, g)
				g = best
			default:
				g, inGroup = best, true
			}
			streamed = true
		}
		if end {
			break
		}
		switch {
		case !inGroup:
			g, inGroup = o, true
		case o.cost != g.cost:
			dst = keepPareto(dst, start, g)
			g = o
		case lessVL(o, g):
			g = o
		}
	}
	if inGroup {
		dst = keepPareto(dst, start, g)
	}
	return dst
}

// lessVL orders options by (v, lat).
func lessVL(a, b option) bool { return a.v < b.v || (a.v == b.v && a.lat < b.lat) }

// keepPareto appends o to the options dst[start:] if it strictly improves
// (v, lat) on the last of them.
func keepPareto(dst []option, start int, o option) []option {
	if len(dst) == start || lessVL(o, dst[len(dst)-1]) {
		return append(dst, o)
	}
	return dst
}

// keyedRawOpts are a job's options for one (region size, budget, dEst,
// units) before a key prices them: the resident ones, and every streamed
// one keyedOptions chooses the best of, in keyedOptions' order. They do
// not depend on the key, and the edp search asks for the same ones under
// each λ of its grid (lambdaPlans), so jobs memoise them.
type keyedRawOpts struct {
	s, budget int64
	units     []int64
	res, str  []option
}

// kmSlots are a job's keyedRawOpts for one dEst, at slot 2·si + packed
// for the si-th region size of the search (a hint: an entry is used only
// if its size, budget and units are the ones asked for).
type kmSlots struct {
	dEst  int64
	slots []*keyedRawOpts
}

func (j *job) keyedRaw(p Pool, si int, s, budget, dEst int64, units []int64) *keyedRawOpts {
	slot := 2 * si
	if units != nil {
		slot++
	}
	var m *kmSlots
	for i := range j.km {
		if j.km[i].dEst == dEst {
			m = &j.km[i]
			break
		}
	}
	if m == nil {
		j.km = append(j.km, kmSlots{dEst: dEst})
		m = &j.km[len(j.km)-1]
	}
	if slot < len(m.slots) {
		if r := m.slots[slot]; r != nil && r.s == s && r.budget == budget && (r.units != nil) == (units != nil) && slices.Equal(r.units, units) {
			return r
		}
	}
	r := &keyedRawOpts{s: s, budget: budget, units: units}
	count := 0
	for _, m := range j.cands {
		if m.Tiles <= budget {
			copiesFor(m.Windows, budget/m.Tiles, func(_, _ int64) { count++ })
		}
	}
	r.res = make([]option, 0, count)
	for c, m := range j.cands {
		ce := j.computeEnergy(p, m)
		if m.Tiles <= budget {
			en := roundFJ(ce + float64(refreshRows(p, m.RowsWritten, dEst))*p.RefreshEnergyPerRowFJ)
			per := m.Tiles
			if units != nil {
				per = units[c] // column packing (searchSizes)
			}
			copiesFor(m.Windows, budget/m.Tiles, func(k, steps int64) {
				r.res = append(r.res, option{cand: c, resident: true, copies: k, cost: k * per, lat: satMul(steps, j.cpv), en: en})
			})
		}
	}
	if s > 0 {
		r.str = j.streamedRaw(p, s)
	}
	// Stably by cost: keyedOptions walks them cost by cost.
	slices.SortStableFunc(r.res, func(x, y option) int { return cmp.Compare(x.cost, y.cost) })
	if slot >= len(m.slots) {
		m.slots = append(m.slots, make([]*keyedRawOpts, slot+1-len(m.slots))...)
	}
	m.slots[slot] = r
	return r
}

// streamedRaw is keyedRaw's streamed options in an s-array region,
// memoised per s (they depend on neither the budget, dEst nor the
// units), less those that cannot be chosen: keyedOptions keeps the first
// option of least (v, lat) under a key that grows with both energy and
// latency, so an option no better in either than an earlier one is never
// chosen (its (v, lat) is not below that earlier one's, which is not
// below the option kept by the time it is reached).
func (j *job) streamedRaw(p Pool, s int64) []option {
	for _, e := range j.strs {
		if e.s == s {
			return e.opts
		}
	}
	var out []option
	for c, m := range j.cands {
		ce := j.computeEnergy(p, m)
		try := func(k, _ int64) {
			st := evalStream(j, p, m, s, k)
			en := roundFJ(ce + p.writeEnergy(st.rows) + float64(st.refreshes)*p.RefreshEnergyPerRowFJ)
			o := option{cand: c, copies: k, lat: st.lat(j.cpv), en: en}
			for _, e := range out {
				if e.en <= o.en && e.lat <= o.lat {
					return
				}
			}
			out = append(out, o)
		}
		if m.Tiles <= s {
			copiesFor(m.Windows, s/m.Tiles, try)
		} else {
			try(1, 0)
		}
	}
	j.strs = append(j.strs, strSlot{s, out})
	return out
}

// strSlot is one region size's streamedRaw.
type strSlot struct {
	s    int64
	opts []option
}

// searchKey is search for a keyed objective: for each streaming-region
// size, the options minimising Σv (then Σlatency) within the resident
// budget; the best size wins, ties keeping the smaller region.
func searchKey(jobs []*job, p Pool, key keyFn, dEst int64) plan {
	mk := func(j *job, si int, s, budget int64, units []int64, dst []option) []option {
		return keyedOptions(j, p, si, s, budget, dEst, key, units, dst)
	}
	return searchSizes(jobs, p, keyedSizes(int64(p.Arrays)), mk, solveKeyFor)
}

// keyedSizes are the streaming-region sizes a keyed search tries: those
// of the latency search plus 1, 2, 4, … arrays. Reloads cost the same
// energy whatever the region's size, so the energy objective wants the
// smallest region that lets the rest stay resident; the eighths of the
// pool alone would leave up to n/8 − 1 arrays idle.
func keyedSizes(n int64) []int64 {
	sizes := streamSizes(n)
	for s := int64(1); s < n; s *= 2 {
		if !slices.Contains(sizes, s) {
			sizes = append(sizes, s)
		}
	}
	slices.Sort(sizes)
	return sizes
}

// solveKeyFor is solve for keyed options, as a function of the budget b:
// minimise Σv, then Σlatency, with the summed cost within b. Exact by DP
// when small enough (always on realistic chips), else the convex-hull
// greedy on v. The packed search bisects the budget with the same
// options; the DP's table for the largest budget holds the answer for
// every smaller one (best[c] only reads smaller c of the previous layer),
// so it is filled once and each budget is only a walk back through it.
// The table for maxBudget is built in sc's buffers (nil: its own), so it
// lasts until sc's next use.
func solveKeyFor(opts [][]option, maxBudget int64, sc *dpScratch) func(int64) ([]int, float64, int64, string, bool) {
	var minCost, work int64
	for _, o := range opts {
		if len(o) == 0 {
			return func(int64) ([]int, float64, int64, string, bool) { return nil, 0, 0, "", false }
		}
		minCost += o[0].cost
		work += int64(len(o))
	}
	useDP := func(b int64) bool { return b <= dpMaxBudget && work*(b+1) <= dpWorkLimit }
	var t *dpKeyTable
	return func(budget int64) (choice []int, v float64, lat int64, solver string, ok bool) {
		if minCost > budget {
			return nil, 0, 0, "", false
		}
		if len(opts) == 0 {
			return nil, 0, 0, solverDP, true
		}
		solver = solverDP
		switch {
		case budget <= maxBudget && useDP(maxBudget):
			if t == nil {
				t = newDPKeyTable(opts, maxBudget, sc)
			}
			choice = t.choice(budget)
		case useDP(budget):
			choice = newDPKeyTable(opts, budget, nil).choice(budget)
		default:
			choice, solver = solveGreedyKey(opts, budget), solverGreedy
		}
		for i, os := range opts {
			v += os[choice[i]].v
			lat = satAdd(lat, os[choice[i]].lat)
		}
		return choice, v, lat, solver, true
	}
}

// dpKeyTable is the exact keyed solver's table for budgets 0..n−1: best[c]
// is the least (Σv, Σlat) of the layers so far using at most c arrays
// (ties keep the cheaper option), and pick[i][c] is layer i's option in
// it.
type dpKeyTable struct {
	opts [][]option
	pick [][]int32
}

func newDPKeyTable(opts [][]option, budget int64, sc *dpScratch) *dpKeyTable {
	n := int(budget) + 1
	if sc == nil {
		sc = &dpScratch{}
	}
	// Filled option by option: for each c the options are still tried in
	// order with the same strict comparison (ties keep the cheaper), as a
	// loop over options inside a loop over c would. The budgets a layer
	// can reach are a suffix [lo, n) (more arrays never hurt), so where
	// the loop over options would find no choice yet, the option is
	// taken without comparing.
	prev, cur := grow(&sc.c0, n), grow(&sc.c1, n)
	clear(prev) // zero layers: (0, 0) at any budget
	prevLo := 0
	t := &dpKeyTable{opts: opts, pick: sc.picks(len(opts), n)}
	for i, os := range opts {
		pick := t.pick[i]
		for c := range pick {
			pick[c] = -1
		}
		curLo := n // cur[c] holds a choice iff c >= curLo
		for k, o := range os {
			if o.cost >= int64(n-prevLo) {
				if o.cost >= int64(n) {
					break
				}
				continue // reaches no budget
			}
			lo := prevLo + int(o.cost) // first budget the option reaches
			pv := prev[prevLo : n-int(o.cost)]
			cv, pk := cur[lo:n][:len(pv)], pick[lo:n][:len(pv)]
			// Budgets below curLo have no choice yet: take the option.
			fresh := max(min(curLo, n)-lo, 0)
			if fresh > len(pv) {
				fresh = len(pv)
			}
			ov, ol, k32 := o.v, o.lat, int32(k)
			lim := math.MaxInt64 - ol // satAdd(l, ol) saturates when l > lim
			for c := range pv[:fresh] {
				nl := pv[c].l + ol
				if pv[c].l > lim {
					nl = math.MaxInt64
				}
				cv[c] = dpCell{pv[c].v + ov, nl}
				pk[c] = k32
			}
			pv, cv, pk = pv[fresh:], cv[fresh:], pk[fresh:]
			cv, pk = cv[:len(pv)], pk[:len(pv)]
			for c, p := range pv {
				nv, nl := p.v+ov, p.l+ol
				if p.l > lim {
					nl = math.MaxInt64
				}
				if q := &cv[c]; nv < q.v || (nv == q.v && nl < q.l) {
					*q = dpCell{nv, nl}
					pk[c] = k32
				}
			}
			curLo = min(curLo, lo)
		}
		prev, cur = cur, prev
		prevLo = curLo
	}
	return t
}

// dpCell is the least (Σv, Σlatency) of a keyed DP at one budget.
type dpCell struct {
	v float64
	l int64
}

// choice walks the table back from budget c.
func (t *dpKeyTable) choice(c int64) []int {
	choice := make([]int, len(t.opts))
	for i := len(t.opts) - 1; i >= 0; i-- {
		k := t.pick[i][c]
		choice[i] = int(k)
		c -= t.opts[i][k].cost
	}
	return choice
}

// lowerHullV appends to h (reused storage) the indices of the lower convex
// hull of options os (sorted by cost) in the (cost, v) plane, from the
// cheapest option.
func lowerHullV(os []option, h []int) []int {
	h = append(h, 0)
	for k := 1; k < len(os); k++ {
		for len(h) >= 2 {
			a, b := os[h[len(h)-2]], os[h[len(h)-1]]
			if (b.v-a.v)*float64(os[k].cost-a.cost)-(os[k].v-a.v)*float64(b.cost-a.cost) < 0 {
				break
			}
			h = h[:len(h)-1]
		}
		h = append(h, k)
	}
	return h
}

// solveGreedyKey is solveGreedy on v: steps along each layer's lower
// convex hull of (cost, v) by best v saved per array, then a last pass
// spending what is left.
func solveGreedyKey(opts [][]option, budget int64) []int {
	hulls := make([][]int, len(opts))
	for i, os := range opts {
		hulls[i] = lowerHullV(os, nil)
	}
	choice := make([]int, len(opts))
	pos := make([]int, len(opts))
	left := budget
	for i := range opts {
		left -= opts[i][0].cost
	}
	for {
		best, bestGain := -1, 0.0
		for i, h := range hulls {
			if pos[i]+1 >= len(h) {
				continue
			}
			from, to := opts[i][h[pos[i]]], opts[i][h[pos[i]+1]]
			dc := to.cost - from.cost
			if dc > left {
				continue
			}
			if gain := (from.v - to.v) / float64(max(dc, 1)); best < 0 || gain > bestGain {
				best, bestGain = i, gain
			}
		}
		if best < 0 {
			break
		}
		h := hulls[best]
		left -= opts[best][h[pos[best]+1]].cost - opts[best][h[pos[best]]].cost
		pos[best]++
		choice[best] = h[pos[best]]
	}
	for i, os := range opts {
		cur := os[choice[i]]
		for k := len(os) - 1; k > choice[i]; k-- {
			if os[k].cost-cur.cost <= left {
				left -= os[k].cost - cur.cost
				choice[i] = k
				break
			}
		}
	}
	return choice
}

// samePlan reports whether two candidate plans make the same choices.
func samePlan(a, b candPlan) bool {
	if a.pl.stream != b.pl.stream || len(a.jobs) != len(b.jobs) || (len(a.jobs) > 0 && &a.jobs[0] != &b.jobs[0]) {
		return false
	}
	for i, x := range a.pl.opts {
		y := b.pl.opts[i]
		if x.cand != y.cand || x.resident != y.resident || x.copies != y.copies {
			return false
		}
	}
	return true
}

// addPlan appends c unless an equal plan is already listed.
func addPlan(list []candPlan, c candPlan) []candPlan {
	for _, d := range list {
		if samePlan(c, d) {
			return list
		}
	}
	return append(list, c)
}

// basePlans are the plans every non-latency objective considers on one
// pool, in a fixed order: the latency plan, then the energy plan.
func basePlans(jobs []*job, p Pool, schemes []Scheme) []candPlan {
	lp := latencyPlan(jobs, p, schemes)
	list := []candPlan{lp}
	// Refreshes of resident rows are priced over the latency plan's time,
	// a lower bound of the inference. The energy plan is slower, so it is
	// searched once more with refreshes priced over its own latency (on
	// eDRAM, a long inference can make a larger streaming region pay);
	// the plans compared at the end count refreshes exactly.
	ep := candPlan{jobs, searchKey(jobs, p, energyKey, lp.pl.total)}
	list = addPlan(list, ep)
	if p.RetentionCycles > 0 && ep.pl.total/p.RetentionCycles > lp.pl.total/p.RetentionCycles {
		list = addPlan(list, candPlan{jobs, searchKey(jobs, p, energyKey, ep.pl.total)})
	}
	return list
}

// lambdaPlans adds the plans minimising energy + λ·latency for a
// geometric grid of λ (fJ per clock cycle) around the given ratios E/L:
// at an optimum of E·L, λ = E/L, so the grid brackets it.
func lambdaPlans(list []candPlan, jobs []*job, p Pool, ratios []float64) []candPlan {
	dEst := list[0].pl.total
	for _, l := range lambdaGrid(ratios) {
		list = addPlan(list, candPlan{jobs, searchKey(jobs, p, lambdaKey(l), dEst)})
	}
	return list
}

// lambdaGrid is the powers of two from min(ratios)/16 to max(ratios)·16.
func lambdaGrid(ratios []float64) []float64 {
	lo, hi := math.Inf(1), 0.0
	for _, r := range ratios {
		if r > 0 && !math.IsInf(r, 0) {
			lo, hi = min(lo, r), max(hi, r)
		}
	}
	if hi == 0 {
		return nil
	}
	var out []float64
	for l := math.Exp2(math.Floor(math.Log2(lo / 16))); l <= hi*16 && len(out) < 64; l *= 2 {
		out = append(out, l)
	}
	return out
}

// better reports whether (e1, l1) beats (e2, l2) under the objective.
// Ties go to the lower energy, then the lower latency; exact ties keep the
// earlier plan (the caller's order), so the choice is deterministic.
func better(obj Objective, e1 float64, l1 int64, e2 float64, l2 int64) bool {
	if obj == ObjectiveEDP {
		p1, p2 := e1*float64(l1), e2*float64(l2)
		if p1 != p2 {
			return p1 < p2
		}
	}
	if e1 != e2 {
		return e1 < e2
	}
	return l1 < l2
}

// allocateFor is Allocate's energy and edp path: realise the candidate
// plans, count their refreshes over their own latency and keep the best.
func allocateFor(jobs []*job, p Pool, schemes []Scheme, obj Objective) *Allocation {
	var list []candPlan
	var done []*Allocation // list[i] realised, once
	eval := func(i int) *Allocation {
		for len(done) <= i {
			c := list[len(done)]
			a := realise(c.jobs, p, c.pl)
			a.applyRefresh(p, a.LatencyClk)
			done = append(done, a)
		}
		return done[i]
	}
	list = basePlans(jobs, p, schemes)
	if obj == ObjectiveEDP {
		var ratios []float64
		for i := range list {
			a := eval(i)
			ratios = append(ratios, a.EnergyFJ/float64(max(a.LatencyClk, 1)))
		}
		list = lambdaPlans(list, jobs, p, ratios)
	}
	var best *Allocation
	for i := range list {
		a := eval(i)
		if best == nil || better(obj, a.EnergyFJ, a.LatencyClk, best.EnergyFJ, best.LatencyClk) {
			best = a
		}
	}
	best.Objective = obj
	return best
}
