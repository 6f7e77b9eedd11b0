package mapping

import (
	"fmt"
	"math"
	"slices"
	"sort"
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
// (fJ) and latency (clk); ties go to the lower latency.
type keyFn func(en, lat int64) float64

func energyKey(en, _ int64) float64 { return float64(en) }

func lambdaKey(lambda float64) keyFn {
	return func(en, lat int64) float64 { return float64(en) + lambda*float64(lat) }
}

// keyedOptions are a job's options priced for a keyed search. A resident
// option's energy is its compute energy plus the refreshes of ONE copy
// over dEst cycles: extra copies are the arrays the energy objective
// spends on latency, and their refreshes are counted when the plans are
// compared (see chooseBest). A streamed option adds its reload energy
// (array writes and DMA) and the refreshes of its rounds.
func keyedOptions(j *job, p Pool, s, budget, dEst int64, key keyFn, units []int64) []option {
	raw := j.keyedRaw(p, s, budget, dEst, units)
	os := make([]option, len(raw.res), len(raw.res)+1)
	for i, o := range raw.res {
		o.v = key(o.en, o.lat)
		os[i] = o
	}
	if s > 0 {
		best := option{lat: -1}
		for _, o := range raw.str {
			o.v = key(o.en, o.lat)
			if best.lat < 0 || o.v < best.v || (o.v == best.v && o.lat < best.lat) {
				best = o
			}
		}
		os = append(os, best)
	}
	return paretoKey(os)
}

// keyedRawOpts are a job's options for one (region size, budget, dEst,
// units) before a key prices them: the resident ones, and every streamed
// one keyedOptions chooses the best of, in keyedOptions' order. They do
// not depend on the key, and the edp search asks for the same ones under
// each λ of its grid (lambdaPlans), so jobs memoise them.
type keyedRawOpts struct {
	units    []int64
	res, str []option
}

type kmKey struct {
	s, budget, dEst int64
	packed          bool
}

func (j *job) keyedRaw(p Pool, s, budget, dEst int64, units []int64) *keyedRawOpts {
	k := kmKey{s, budget, dEst, units != nil}
	if r := j.km[k]; r != nil && slices.Equal(r.units, units) {
		return r
	}
	r := &keyedRawOpts{units: units}
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
		for c, m := range j.cands {
			ce := j.computeEnergy(p, m)
			try := func(k, _ int64) {
				st := evalStream(j, p, m, s, k)
				en := roundFJ(ce + p.writeEnergy(st.rows) + float64(st.refreshes)*p.RefreshEnergyPerRowFJ)
				r.str = append(r.str, option{cand: c, copies: k, lat: st.lat(j.cpv), en: en})
			}
			if m.Tiles <= s {
				copiesFor(m.Windows, s/m.Tiles, try)
			} else {
				try(1, 0)
			}
		}
	}
	if j.km == nil {
		j.km = map[kmKey]*keyedRawOpts{}
	}
	j.km[k] = r
	return r
}

// paretoKey sorts options by cost and keeps those that strictly improve
// (v, latency) lexicographically.
func paretoKey(opts []option) []option {
	sort.SliceStable(opts, func(a, b int) bool {
		x, y := opts[a], opts[b]
		if x.cost != y.cost {
			return x.cost < y.cost
		}
		if x.v != y.v {
			return x.v < y.v
		}
		return x.lat < y.lat
	})
	out := opts[:0]
	for _, o := range opts {
		if len(out) == 0 {
			out = append(out, o)
			continue
		}
		l := out[len(out)-1]
		if o.v < l.v || (o.v == l.v && o.lat < l.lat) {
			out = append(out, o)
		}
	}
	return out
}

// searchKey is search for a keyed objective: for each streaming-region
// size, the options minimising Σv (then Σlatency) within the resident
// budget; the best size wins, ties keeping the smaller region.
func searchKey(jobs []*job, p Pool, key keyFn, dEst int64) plan {
	mk := func(j *job, s, budget int64, units []int64) []option {
		return keyedOptions(j, p, s, budget, dEst, key, units)
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
func solveKeyFor(opts [][]option, maxBudget int64) func(int64) ([]int, float64, int64, string, bool) {
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
				t = newDPKeyTable(opts, maxBudget)
			}
			choice = t.choice(budget)
		case useDP(budget):
			choice = newDPKeyTable(opts, budget).choice(budget)
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

func newDPKeyTable(opts [][]option, budget int64) *dpKeyTable {
	n := int(budget) + 1
	// Structure of arrays, filled option by option: for each c the
	// options are still tried in order with the same strict comparison
	// (ties keep the cheaper), as a loop over options inside a loop over
	// c would.
	prevV, curV := make([]float64, n), make([]float64, n)
	prevL, curL := make([]int64, n), make([]int64, n)
	prevOK, curOK := make([]bool, n), make([]bool, n)
	for c := range prevOK {
		prevOK[c] = true // zero layers: (0, 0) at any budget
	}
	t := &dpKeyTable{opts: opts, pick: make([][]int32, len(opts))}
	for i, os := range opts {
		pick := make([]int32, n)
		for c := range n {
			curOK[c], pick[c] = false, -1
		}
		for k, o := range os {
			if o.cost >= int64(n) {
				break
			}
			cost := int(o.cost)
			pv, pl, pok := prevV[:n-cost], prevL[:n-cost], prevOK[:n-cost]
			cv, cl, cok, pk := curV[cost:], curL[cost:], curOK[cost:], pick[cost:]
			for c := range pv {
				if !pok[c] {
					continue
				}
				nv, nl := pv[c]+o.v, satAdd(pl[c], o.lat)
				if !cok[c] || nv < cv[c] || (nv == cv[c] && nl < cl[c]) {
					cv[c], cl[c], cok[c], pk[c] = nv, nl, true, int32(k)
				}
			}
		}
		t.pick[i] = pick
		prevV, curV = curV, prevV
		prevL, curL = curL, prevL
		prevOK, curOK = curOK, prevOK
	}
	return t
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

// solveGreedyKey is solveGreedy on v: steps along each layer's lower
// convex hull of (cost, v) by best v saved per array, then a last pass
// spending what is left.
func solveGreedyKey(opts [][]option, budget int64) []int {
	hulls := make([][]int, len(opts))
	for i, os := range opts {
		h := []int{0}
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
		hulls[i] = h
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
	eval := func(c candPlan) *Allocation {
		a := realise(c.jobs, p, c.pl)
		a.applyRefresh(p, a.LatencyClk)
		return a
	}
	list := basePlans(jobs, p, schemes)
	if obj == ObjectiveEDP {
		var ratios []float64
		for _, c := range list {
			a := eval(c)
			ratios = append(ratios, a.EnergyFJ/float64(max(a.LatencyClk, 1)))
		}
		list = lambdaPlans(list, jobs, p, ratios)
	}
	var best *Allocation
	for _, c := range list {
		a := eval(c)
		if best == nil || better(obj, a.EnergyFJ, a.LatencyClk, best.EnergyFJ, best.LatencyClk) {
			best = a
		}
	}
	best.Objective = obj
	return best
}
