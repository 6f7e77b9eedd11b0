package mapping

// The allocation search as it was before it was made faster (commit
// c547eda), frozen: every function the speed-up touched or might have,
// renamed ref*, with keyedRaw's memo left out (options are computed afresh
// every time). TestSearchMatchesReference compares today's MapDual and
// Allocate with it. Do not edit: it is the reference, not code in use.

import (
	"cmp"
	"math"
	"slices"
	"sort"

	"pimc/hw"
)

// refKeyedOptions are a job's options priced for a keyed refSearch. A resident
// option's energy is its compute energy plus the refreshes of ONE copy
// over dEst cycles: extra copies are the arrays the energy objective
// spends on latency, and their refreshes are counted when the plans are
// compared (see chooseBest). A streamed option adds its reload energy
// (array writes and DMA) and the refreshes of its rounds.
// refKeyFn is the scalar a keyed plan minimises, from an option's energy
// (fJ) and latency (clk); ties go to the lower latency.
type refKeyFn func(en, lat int64) float64

func refEnergyKey(en, _ int64) float64 { return float64(en) }

func refLambdaKey(lambda float64) refKeyFn {
	return func(en, lat int64) float64 { return float64(en) + lambda*float64(lat) }
}

func refKeyedOptions(j *job, p Pool, s, budget, dEst int64, key refKeyFn, units []int64) []option {
	raw := j.refKeyedRaw(p, s, budget, dEst, units)
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
	return refParetoKey(os)
}

// refKeyedRawOpts are a job's options for one (region size, budget, dEst,
// units) before a key prices them: the resident ones, and every streamed
// one refKeyedOptions chooses the best of, in refKeyedOptions' order. They do
// not depend on the key, and the edp refSearch asks for the same ones under
// each λ of its grid (refLambdaPlans), so jobs memoise them.
type refKeyedRawOpts struct {
	units    []int64
	res, str []option
}

func (j *job) refKeyedRaw(p Pool, s, budget, dEst int64, units []int64) *refKeyedRawOpts {
	// Not memoised: the reference computes them afresh every time.
	r := &refKeyedRawOpts{units: units}
	for c, m := range j.cands {
		ce := j.computeEnergy(p, m)
		if m.Tiles <= budget {
			en := roundFJ(ce + float64(refreshRows(p, m.RowsWritten, dEst))*p.RefreshEnergyPerRowFJ)
			per := m.Tiles
			if units != nil {
				per = units[c] // column packing (refSearchSizes)
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
	return r
}

// refParetoKey sorts options by cost and keeps those that strictly improve
// (v, latency) lexicographically.
func refParetoKey(opts []option) []option {
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

// refSearchKey is refSearch for a keyed objective: for each streaming-region
// size, the options minimising Σv (then Σlatency) within the resident
// budget; the best size wins, ties keeping the smaller region.
func refSearchKey(jobs []*job, p Pool, key refKeyFn, dEst int64) plan {
	mk := func(j *job, s, budget int64, units []int64) []option {
		return refKeyedOptions(j, p, s, budget, dEst, key, units)
	}
	return refSearchSizes(jobs, p, keyedSizes(int64(p.Arrays)), mk, refSolveKeyFor)
}

// refSolveKeyFor is solve for keyed options, as a function of the budget b:
// minimise Σv, then Σlatency, with the summed cost within b. Exact by DP
// when small enough (always on realistic chips), else the convex-hull
// greedy on v. The packed refSearch bisects the budget with the same
// options; the DP's table for the largest budget holds the answer for
// every smaller one (best[c] only reads smaller c of the previous layer),
// so it is filled once and each budget is only a walk back through it.
func refSolveKeyFor(opts [][]option, maxBudget int64) func(int64) ([]int, float64, int64, string, bool) {
	var minCost, work int64
	for _, o := range opts {
		if len(o) == 0 {
			return func(int64) ([]int, float64, int64, string, bool) { return nil, 0, 0, "", false }
		}
		minCost += o[0].cost
		work += int64(len(o))
	}
	useDP := func(b int64) bool { return b <= dpMaxBudget && work*(b+1) <= dpWorkLimit }
	var t *refDpKeyTable
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
				t = refNewDPKeyTable(opts, maxBudget)
			}
			choice = t.choice(budget)
		case useDP(budget):
			choice = refNewDPKeyTable(opts, budget).choice(budget)
		default:
			choice, solver = refSolveGreedyKey(opts, budget), solverGreedy
		}
		for i, os := range opts {
			v += os[choice[i]].v
			lat = satAdd(lat, os[choice[i]].lat)
		}
		return choice, v, lat, solver, true
	}
}

// refDpKeyTable is the exact keyed solver's table for budgets 0..n−1: best[c]
// is the least (Σv, Σlat) of the layers so far using at most c arrays
// (ties keep the cheaper option), and pick[i][c] is layer i's option in
// it.
type refDpKeyTable struct {
	opts [][]option
	pick [][]int32
}

func refNewDPKeyTable(opts [][]option, budget int64) *refDpKeyTable {
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
	t := &refDpKeyTable{opts: opts, pick: make([][]int32, len(opts))}
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
func (t *refDpKeyTable) choice(c int64) []int {
	choice := make([]int, len(t.opts))
	for i := len(t.opts) - 1; i >= 0; i-- {
		k := t.pick[i][c]
		choice[i] = int(k)
		c -= t.opts[i][k].cost
	}
	return choice
}

// refSolveGreedyKey is refSolveGreedy on v: steps along each layer's lower
// convex hull of (cost, v) by best v saved per array, then a last pass
// spending what is left.
func refSolveGreedyKey(opts [][]option, budget int64) []int {
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

// refSamePlan reports whether two candidate plans make the same choices.
func refSamePlan(a, b refCandPlan) bool {
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

// refAddPlan appends c unless an equal plan is already listed.
func refAddPlan(list []refCandPlan, c refCandPlan) []refCandPlan {
	for _, d := range list {
		if refSamePlan(c, d) {
			return list
		}
	}
	return append(list, c)
}

// refBasePlans are the plans every non-latency objective considers on one
// pool, in a fixed order: the latency plan, then the energy plan.
func refBasePlans(jobs []*job, p Pool, schemes []Scheme) []refCandPlan {
	lp := refLatencyPlan(jobs, p, schemes)
	list := []refCandPlan{lp}
	// Refreshes of resident rows are priced over the latency plan's time,
	// a lower bound of the inference. The energy plan is slower, so it is
	// searched once more with refreshes priced over its own latency (on
	// eDRAM, a long inference can make a larger streaming region pay);
	// the plans compared at the end count refreshes exactly.
	ep := refCandPlan{jobs, refSearchKey(jobs, p, refEnergyKey, lp.pl.total)}
	list = refAddPlan(list, ep)
	if p.RetentionCycles > 0 && ep.pl.total/p.RetentionCycles > lp.pl.total/p.RetentionCycles {
		list = refAddPlan(list, refCandPlan{jobs, refSearchKey(jobs, p, refEnergyKey, ep.pl.total)})
	}
	return list
}

// refLambdaPlans adds the plans minimising energy + λ·latency for a
// geometric grid of λ (fJ per clock cycle) around the given ratios E/L:
// at an optimum of E·L, λ = E/L, so the grid brackets it.
func refLambdaPlans(list []refCandPlan, jobs []*job, p Pool, ratios []float64) []refCandPlan {
	dEst := list[0].pl.total
	for _, l := range lambdaGrid(ratios) {
		list = refAddPlan(list, refCandPlan{jobs, refSearchKey(jobs, p, refLambdaKey(l), dEst)})
	}
	return list
}

// refAllocateFor is refAllocateLayers's energy and edp path: refRealise the candidate
// plans, count their refreshes over their own latency and keep the best.
func refAllocateFor(jobs []*job, p Pool, schemes []Scheme, obj Objective) *Allocation {
	eval := func(c refCandPlan) *Allocation {
		a := refRealise(c.jobs, p, c.pl)
		a.applyRefresh(p, a.LatencyClk)
		return a
	}
	list := refBasePlans(jobs, p, schemes)
	if obj == ObjectiveEDP {
		var ratios []float64
		for _, c := range list {
			a := eval(c)
			ratios = append(ratios, a.EnergyFJ/float64(max(a.LatencyClk, 1)))
		}
		list = refLambdaPlans(list, jobs, p, ratios)
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

// refPareto sorts options by cost and keeps those that strictly lower the
// latency: the only ones an optimal choice can use.
func refPareto(opts []option) []option {
	sort.SliceStable(opts, func(a, b int) bool {
		if opts[a].cost != opts[b].cost {
			return opts[a].cost < opts[b].cost
		}
		return opts[a].lat < opts[b].lat
	})
	out := opts[:0]
	for _, o := range opts {
		if len(out) == 0 || o.lat < out[len(out)-1].lat {
			out = append(out, o)
		}
	}
	return out
}

// refSolveFor returns solve(opts, b) as a function of b ≤ maxBudget: as in
// refSolveKeyFor, the DP's table for the largest budget answers every smaller
// one, so the packed refSearch's bisection fills it once.
func refSolveFor(opts [][]option, maxBudget int64) func(int64) ([]int, int64, string, bool) {
	var minCost, work int64
	for _, o := range opts {
		if len(o) == 0 {
			return func(int64) ([]int, int64, string, bool) { return nil, 0, "", false }
		}
		minCost += o[0].cost
		work += int64(len(o))
	}
	useDP := func(b int64) bool { return b <= dpMaxBudget && work*(b+1) <= dpWorkLimit }
	var t *refDpTable
	return func(budget int64) ([]int, int64, string, bool) {
		if minCost > budget {
			return nil, 0, "", false
		}
		if len(opts) == 0 {
			return nil, 0, solverDP, true
		}
		switch {
		case budget <= maxBudget && useDP(maxBudget):
			if t == nil {
				t = refNewDPTable(opts, maxBudget)
			}
			choice, total := t.choice(budget)
			return choice, total, solverDP, true
		case useDP(budget):
			choice, total := refNewDPTable(opts, budget).choice(budget)
			return choice, total, solverDP, true
		}
		choice, total := refSolveGreedy(opts, budget)
		return choice, total, solverGreedy, true
	}
}

// refDpTable is the exact solver's table for budgets 0..n−1: pick[i][c] is
// layer i's option in the least-latency choice of layers 0..i using at
// most c arrays (ties keep the cheaper option; options are cost-sorted),
// and best[c] the least latency of all the layers within c.
type refDpTable struct {
	opts [][]option
	pick [][]int32
	best []int64
}

func refNewDPTable(opts [][]option, budget int64) *refDpTable {
	const inf = math.MaxInt64
	n := int(budget) + 1
	prev := make([]int64, n) // zero layers: latency 0 at any budget
	cur := make([]int64, n)
	t := &refDpTable{opts: opts, pick: make([][]int32, len(opts))}
	for i, os := range opts {
		// Option by option, each c still tries the options in order with
		// the same strict comparison (ties keep the cheaper).
		pick := make([]int32, n)
		for c := range n {
			cur[c], pick[c] = inf, -1
		}
		for k, o := range os {
			if o.cost >= int64(n) {
				break
			}
			cost := int(o.cost)
			pv, cv, pk := prev[:n-cost], cur[cost:], pick[cost:]
			for c, p := range pv {
				if p == inf {
					continue
				}
				if v := satAdd(p, o.lat); v < cv[c] {
					cv[c], pk[c] = v, int32(k)
				}
			}
		}
		t.pick[i] = pick
		prev, cur = cur, prev
	}
	t.best = prev
	return t
}

// choice walks the table back from budget c.
func (t *refDpTable) choice(c int64) ([]int, int64) {
	total := t.best[c]
	choice := make([]int, len(t.opts))
	for i := len(t.opts) - 1; i >= 0; i-- {
		k := t.pick[i][c]
		choice[i] = int(k)
		c -= t.opts[i][k].cost
	}
	return choice, total
}

// refSolveGreedy starts every layer at its cheapest option and repeatedly takes
// the step along some layer's lower convex hull that saves the most latency
// per array, while the budget lasts; a last pass spends what is left on the
// best affordable option of each layer in turn.
func refSolveGreedy(opts [][]option, budget int64) ([]int, int64) {
	hulls := make([][]int, len(opts))
	for i, os := range opts {
		hulls[i] = refLowerHull(os)
	}
	choice := make([]int, len(opts))
	pos := make([]int, len(opts)) // index into hulls[i]
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
			gain := float64(from.lat-to.lat) / float64(max(dc, 1))
			if best < 0 || gain > bestGain {
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
	var total int64
	for i, os := range opts {
		total = satAdd(total, os[choice[i]].lat)
	}
	return choice, total
}

// refLowerHull returns the indices of the lower convex hull of Pareto-sorted
// (cost, latency) points, starting at the cheapest.
func refLowerHull(os []option) []int {
	h := []int{0}
	for k := 1; k < len(os); k++ {
		for len(h) >= 2 {
			a, b := os[h[len(h)-2]], os[h[len(h)-1]]
			// Drop b if it lies on or above the segment a→os[k].
			l := float64(b.lat-a.lat)*float64(os[k].cost-a.cost) - float64(os[k].lat-a.lat)*float64(b.cost-a.cost)
			if l < 0 {
				break
			}
			h = h[:len(h)-1]
		}
		h = append(h, k)
	}
	return h
}

// refAllocateLayers maps layers (run one after another) onto the pool: the best scheme
// per layer, spare arrays spent on weight copies, and time-multiplexing with
// counted reloads when the layers do not all fit, all for o.Objective. It
// never fails for lack of arrays. See docs/mapping.md for the model.
func refAllocateLayers(layers []Layer, p Pool, o Options) (*Allocation, error) {
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
		return refAllocateFor(jobs, p, o.Schemes, obj), nil
	}
	a := refAllocate(jobs, p, o.Schemes)
	a.applyRefresh(p, a.LatencyClk)
	a.Objective = obj
	return a, nil
}

// refAllocate tries several sizes of the shared streaming region (0, and eighths
// of the pool), solves the resident/streamed choice exactly (or greedily for
// huge pools) for each, and keeps the fastest. When the greedy solver was
// needed, the VW-SDK-only plan is computed too and kept if faster, so that
// auto is never worse than VW-SDK.
func refAllocate(jobs []*job, p Pool, schemes []Scheme) *Allocation {
	c := refLatencyPlan(jobs, p, schemes)
	return refRealise(c.jobs, p, c.pl)
}

// refCandPlan is a plan together with the jobs it indexes (the VW-SDK-only
// fallback has its own).
type refCandPlan struct {
	jobs []*job
	pl   plan
}

// refLatencyPlan is the plan the latency objective realises.
func refLatencyPlan(jobs []*job, p Pool, schemes []Scheme) refCandPlan {
	best := refCandPlan{jobs, refSearch(jobs, p)}
	if len(schemes) == 0 {
		schemes = Schemes
	}
	// Column packing is a heuristic (refSearchSizes): with several schemes,
	// the plans of each scheme alone are candidates too, so that auto is
	// never worse than any one scheme. Without packing, only the greedy
	// solver needs this, and only for VW-SDK.
	packing := refPackUnit(jobs, int64(p.Array.Cols)) < int64(p.Array.Cols)
	for _, sc := range schemes {
		if len(schemes) == 1 || !(packing || (best.pl.solver == solverGreedy && sc == VWSDK)) {
			continue
		}
		one := make([]*job, len(jobs))
		for i, j := range jobs {
			nj := *j
			nj.cands, nj.tm = nil, nil
			if j.active {
				m, _ := Map(j.layer, j.arr, sc) // j.layer and j.arr are checked
				nj.cands = []Mapping{m}
			}
			one[i] = &nj
		}
		if alt := refSearch(one, p); alt.total < best.pl.total {
			best = refCandPlan{one, alt}
		}
	}
	return best
}

func refSearch(jobs []*job, p Pool) plan {
	mk := func(j *job, s, budget int64, units []int64) []option {
		os := refResidentOptions(j, budget, units)
		if s > 0 {
			os = append(os, refStreamOption(j, p, s))
		}
		return refPareto(os)
	}
	sv := func(opts [][]option, maxBudget int64) func(int64) ([]int, float64, int64, string, bool) {
		at := refSolveFor(opts, maxBudget)
		return func(budget int64) ([]int, float64, int64, string, bool) {
			choice, total, solver, ok := at(budget)
			return choice, 0, total, solver, ok
		}
	}
	return refSearchSizes(jobs, p, streamSizes(int64(p.Arrays)), mk, sv)
}

// refSearchSizes is the refSearch shared by every objective: for each
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
func refSearchSizes(jobs []*job, p Pool, sizes []int64, mk func(j *job, s, budget int64, units []int64) []option,
	sv func(opts [][]option, maxBudget int64) func(budget int64) ([]int, float64, int64, string, bool)) plan {
	n, C := int64(p.Arrays), int64(p.Array.Cols)
	unit := refPackUnit(jobs, C)
	var units [][]int64
	if unit < C {
		units = make([][]int64, len(jobs))
		for i, j := range jobs {
			if j.active {
				units[i] = j.refPackedUnits(unit)
			}
		}
	}
	var best plan
	found := false
	consider := func(s int64, idx []int, opts [][]option, choice []int, v float64, total int64, solver string) {
		if found && (v > best.v || (v == best.v && total >= best.total)) {
			return
		}
		pl := plan{stream: s, opts: make([]option, len(jobs)), total: total, v: v, solver: solver}
		for k, i := range idx {
			pl.opts[i] = opts[k][choice[k]]
		}
		best, found = pl, true
	}
	for _, s := range sizes {
		budget := n - s
		var whole []option // the whole-array plan's choices (in idx order)
		for mode := 0; mode < 2; mode++ {
			if mode == 1 && units == nil {
				break
			}
			var opts [][]option
			var idx []int
			for i, j := range jobs {
				if !j.active {
					continue
				}
				var u []int64
				if mode == 1 {
					u = units[i]
				}
				opts = append(opts, mk(j, s, budget, u))
				idx = append(idx, i)
			}
			if mode == 0 {
				if choice, v, total, solver, ok := sv(opts, budget)(budget); ok {
					consider(s, idx, opts, choice, v, total, solver)
					whole = make([]option, len(idx))
					for k := range idx {
						whole[k] = opts[k][choice[k]]
					}
				}
				continue
			}
			if whole != nil && refUnbeatable(whole, opts) {
				continue
			}
			// The full column budget first; when first-fit decreasing
			// cannot place that plan's images (fragmentation, or one
			// layer's images needing distinct arrays), bisect the budget
			// for the largest that packs. Every plan that packs is a
			// candidate.
			lo, hi := int64(0), budget*(C/unit) // C/unit units fit an array
			solveAt := sv(opts, hi)
			for ub, try := hi, 0; try < maxPackTries && lo <= hi; try, ub = try+1, (lo+hi)/2 {
				choice, v, total, solver, ok := solveAt(ub)
				if ok {
					chosen := make([]option, len(jobs))
					for k, i := range idx {
						chosen[i] = opts[k][choice[k]]
					}
					ok = refPack(jobs, chosen, C).arrays <= budget
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

// refUnbeatable reports whether each layer's option in chosen has both the
// least v and the least latency of all its options in opts. No choice from
// opts then sums to less (the sums are monotone), so the packed solve of a
// size cannot improve on its whole-array plan, and refSearchSizes skips it.
func refUnbeatable(chosen []option, opts [][]option) bool {
	for k, os := range opts {
		for _, o := range os {
			if o.v < chosen[k].v || o.lat < chosen[k].lat {
				return false
			}
		}
	}
	return true
}

// refResidentOptions are j's resident options within budget arrays: k
// copies of a candidate cost k·T arrays, or k·units[c] column units when
// units is given (column packing; the images of one layer still need
// k·T distinct arrays).
func refResidentOptions(j *job, budget int64, units []int64) []option {
	var os []option
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

// refStreamOption is the best way to run a job in an s-array streaming region.
func refStreamOption(j *job, p Pool, s int64) option {
	best := option{lat: -1}
	for c, m := range j.cands {
		try := func(k, _ int64) {
			if l := evalStream(j, p, m, s, k).lat(j.cpv); best.lat < 0 || l < best.lat {
				best = option{cand: c, copies: k, lat: l}
			}
		}
		if m.Tiles <= s {
			copiesFor(m.Windows, s/m.Tiles, try)
		} else {
			try(1, 0)
		}
	}
	return best
}

// refRealise turns the chosen plan into the reported allocation.
func refRealise(jobs []*job, p Pool, pl plan) *Allocation {
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
	// Column packing: the resident images share arrays (refPack); a layer
	// occupies its images' columns, the pool its packed arrays.
	pk := refPack(jobs, pl.opts, int64(p.Array.Cols))
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

// refTileGeom gives the columns and rows of each tile of candidate m, in tile
// order (per group, column tile, row tile: the backend's emission order).
// Only the im2col layout (also SDK's n = 1 and VW-SDK's fallback) without
// block-diagonal groups is known tile by tile; other layouts report every
// tile as a whole array (cols = C, rows nil), so they never share one.
func (j *job) refTileGeom(m Mapping) (cols, rows []int64) {
	l, a := j.layer, j.arr
	C, R := int64(a.Cols), int64(a.Rows)
	ceff := int64(a.ceff())
	icg, ocg := int64(l.IC/l.Group), int64(l.OC/l.Group)
	k := int64(l.KH) * int64(l.KW) * icg
	ur, uc := ceilDiv(k, R), ceilDiv(ocg, ceff)
	cols = make([]int64, m.Tiles)
	if m.OutH != 1 || m.OutW != 1 || m.GroupsPerTile != 1 || m.RowTiles != ur || m.ColTiles != uc ||
		m.Tiles != int64(l.Group)*ur*uc {
		for i := range cols {
			cols[i] = C
		}
		return cols, nil
	}
	rows = make([]int64, m.Tiles)
	i := 0
	for range l.Group {
		for ct := range uc {
			for rt := range ur {
				cols[i] = min(ceff, ocg-ct*ceff) * int64(a.WeightCols)
				rows[i] = min(R, k-rt*R)
				i++
			}
		}
	}
	return cols, rows
}

// refPack places the resident images of plan opts by first-fit decreasing:
// images sorted by columns (wider first), then rows, then layer, copy and
// tile (so the result is deterministic); each goes to the first array that
// has room and holds no image of its layer, else to a new array. Images
// are laid out left to right on an array. It uses at most one array per
// image, so a plan whose images fit one per array always packs.
func refPack(jobs []*job, opts []option, C int64) packResult {
	res := packResult{places: make([][]Place, len(jobs)), refreshRows: make([]int64, len(jobs)), cols: make([]int64, len(jobs))}
	var items []packItem
	exact := make([]bool, len(jobs))
	for i, j := range jobs {
		if !j.active || !opts[i].resident {
			continue
		}
		m := j.cands[opts[i].cand]
		cols, rows := j.refTileGeom(m)
		exact[i] = rows != nil
		res.places[i] = make([]Place, opts[i].copies*m.Tiles)
		for c := range opts[i].copies {
			for t := range cols {
				it := packItem{job: i, copy: int(c), tile: t, cols: cols[t]}
				if rows != nil {
					it.rows = rows[t]
				}
				items = append(items, it)
				res.cols[i] += cols[t]
			}
		}
	}
	// (job, copy, tile) is unique, so the order is total and any sort
	// gives it; the generic one is several times cheaper than
	// sort.SliceStable, and packing runs at every step of the packed
	// refSearch's bisection.
	slices.SortFunc(items, func(x, y packItem) int {
		if c := cmp.Compare(y.cols, x.cols); c != 0 {
			return c
		}
		if c := cmp.Compare(y.rows, x.rows); c != 0 {
			return c
		}
		if c := cmp.Compare(x.job, y.job); c != 0 {
			return c
		}
		if c := cmp.Compare(x.copy, y.copy); c != 0 {
			return c
		}
		return cmp.Compare(x.tile, y.tile)
	})
	type arr struct {
		fill    int64
		jobs    []int
		tallest int // item index of the tallest image
	}
	var arrs []arr
	for k, it := range items {
		a := -1
		if it.cols < C {
			for x := range arrs {
				if arrs[x].fill+it.cols <= C && !slices.Contains(arrs[x].jobs, it.job) {
					a = x
					break
				}
			}
		}
		if a < 0 {
			arrs = append(arrs, arr{tallest: k})
			a = len(arrs) - 1
		}
		T := len(res.places[it.job]) / int(opts[it.job].copies)
		res.places[it.job][it.copy*T+it.tile] = Place{Array: int64(a), Col: arrs[a].fill, Cols: it.cols, Rows: it.rows}
		arrs[a].fill += it.cols
		arrs[a].jobs = append(arrs[a].jobs, it.job)
		if it.rows > items[arrs[a].tallest].rows {
			arrs[a].tallest = k
		}
	}
	res.arrays = int64(len(arrs))
	for _, a := range arrs {
		if it := items[a.tallest]; exact[it.job] {
			res.refreshRows[it.job] += it.rows
		}
	}
	// Layers whose tiles are whole arrays sit alone: all their rows.
	for i, j := range jobs {
		if j.active && opts[i].resident && !exact[i] {
			res.refreshRows[i] = opts[i].copies * j.cands[opts[i].cand].RowsWritten
		}
	}
	return res
}

// refPackUnit is the column granularity of a packed knapsack: the gcd of the
// array's columns and every candidate tile's columns, but at least
// C/maxUnitsPerArray (tile widths are then rounded up to whole units; the
// placement itself uses the exact widths). It returns C when no tile is
// narrower than an array (then packing changes nothing).
func refPackUnit(jobs []*job, C int64) int64 {
	u := C
	for _, j := range jobs {
		if !j.active {
			continue
		}
		for _, m := range j.cands {
			cols, _ := j.refTileGeom(m)
			for _, c := range cols {
				u = gcd(u, c)
			}
		}
	}
	if u < C {
		u = max(u, ceilDiv(C, maxUnitsPerArray))
	}
	return u
}

// refPackedUnits is the knapsack cost of one copy of each candidate of j in
// units of u columns: its tiles' columns summed.
func (j *job) refPackedUnits(u int64) []int64 {
	out := make([]int64, len(j.cands))
	for c, m := range j.cands {
		cols, _ := j.refTileGeom(m)
		for _, x := range cols {
			out[c] += ceilDiv(x, u)
		}
	}
	return out
}

// refMapDual maps the INT4 parts of the layers on the SRAM pool (b =
// cells_per_weight columns per weight) and the TB parts on the eDRAM pool
// (b = 2, a +/- column pair), each pool allocated as by refAllocateLayers. Refreshes
// are counted over the whole dual inference. Under the energy and edp
// objectives the two pools' candidate plans are chosen together
// (refMapDualFor).
func refMapDual(layers []DualLayer, h *hw.Hardware, o Options) (*DualResult, error) {
	obj, err := o.Objective.normalized()
	if err != nil {
		return nil, err
	}
	sp, ep, sj, ej, err := dualJobs(layers, h, o.Schemes)
	if err != nil {
		return nil, err
	}
	var r *DualResult
	if obj == ObjectiveLatency {
		r = refDualResult(layers, h, sp, ep, refAllocate(sj, sp, o.Schemes), refAllocate(ej, ep, o.Schemes))
	} else {
		r = refMapDualFor(layers, h, sp, ep, sj, ej, o.Schemes, obj)
	}
	r.Objective = obj
	r.SRAM.Objective, r.EDRAM.Objective = obj, obj
	return r, nil
}

// refMapDualFor is refMapDual's energy and edp path. Each pool contributes its
// candidate plans (latency plan, energy plan and, for edp, the λ plans);
// every pair is realised and costed as refMapDual reports it (shared DMA bus,
// refreshes over the dual latency), and the best pair under the objective
// wins. Pairs are tried SRAM plan major, in list order; ties keep the
// first.
func refMapDualFor(layers []DualLayer, h *hw.Hardware, sp, ep Pool, sj, ej []*job, schemes []Scheme, obj Objective) *DualResult {
	sl, el := refBasePlans(sj, sp, schemes), refBasePlans(ej, ep, schemes)
	eval := func(sc, ec refCandPlan) *DualResult {
		return refDualResult(layers, h, sp, ep, refRealise(sc.jobs, sp, sc.pl), refRealise(ec.jobs, ep, ec.pl))
	}
	if obj == ObjectiveEDP {
		var ratios []float64
		for _, sc := range sl {
			for _, ec := range el {
				d := eval(sc, ec)
				ratios = append(ratios, d.EnergyFJ/float64(max(d.LatencyClk, 1)))
			}
		}
		sl, el = refLambdaPlans(sl, sj, sp, ratios), refLambdaPlans(el, ej, ep, ratios)
	}
	var best *DualResult
	for _, sc := range sl {
		for _, ec := range el {
			d := eval(sc, ec)
			if best == nil || better(obj, d.EnergyFJ, d.LatencyClk, best.EnergyFJ, best.LatencyClk) {
				best = d
			}
		}
	}
	return best
}

// refDualResult assembles refMapDual's result from the two pools' allocations:
// the shared DMA bus, the per-layer maximum and refreshes over the dual
// latency.
func refDualResult(layers []DualLayer, h *hw.Hardware, sp, ep Pool, sa, ea *Allocation) *DualResult {
	refShareBus(sa, ea)
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

// refShareBus charges the eDRAM pool its wait for the one DMA bus. Both
// pools' weight writes pass through it, in issue order, and the SRAM part
// of a layer is issued first: in a layer where both pools stream, the
// eDRAM part's first transfers start only when the SRAM part's last one
// has ended (for a time-multiplexed SRAM part, the transfer of its last
// round). The wait lengthens the eDRAM part's reload_clk and so its
// latency_clk; the arrays' own write cycles overlap with it.
func refShareBus(sa, ea *Allocation) {
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
