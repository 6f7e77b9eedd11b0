package mapping

import (
	"cmp"
	"math"
	"slices"
)

// option is one way to run a layer: a candidate mapping, resident on
// dedicated arrays (cost = arrays reserved) or streamed through the shared
// region (cost 0), and the latency it gives in clock cycles.
type option struct {
	cand     int
	resident bool
	copies   int64
	cost     int64
	lat      int64
	// Keyed objectives only (objective.go): modelled energy in whole fJ
	// and the scalar minimised.
	en int64
	v  float64
}

// pareto sorts options by cost and keeps those that strictly lower the
// latency: the only ones an optimal choice can use.
func pareto(opts []option) []option {
	// Stable, as sort.SliceStable was: equal (cost, lat) keep their order.
	slices.SortStableFunc(opts, func(a, b option) int {
		if c := cmp.Compare(a.cost, b.cost); c != 0 {
			return c
		}
		return cmp.Compare(a.lat, b.lat)
	})
	out := opts[:0]
	for _, o := range opts {
		if len(out) == 0 || o.lat < out[len(out)-1].lat {
			out = append(out, o)
		}
	}
	return out
}

// dpWorkLimit bounds the exact solver's work (option × budget steps); above
// it the convex-hull greedy runs instead (docs/mapping.md).
const (
	dpWorkLimit = 4_000_000
	dpMaxBudget = 1 << 16 // bounds the DP tables' memory
)

const (
	solverDP     = "dp"
	solverGreedy = "greedy"
)

// solve picks one option per layer minimising the summed latency with the
// summed cost within budget (a multiple-choice knapsack). opts[i] must be
// Pareto-sorted. It reports false if no choice fits.
func solve(opts [][]option, budget int64) (choice []int, total int64, solver string, ok bool) {
	return solveFor(opts, budget, nil)(budget)
}

// solveFor returns solve(opts, b) as a function of b ≤ maxBudget: as in
// solveKeyFor, the DP's table for the largest budget answers every smaller
// one, so the packed search's bisection fills it once.
// The table for maxBudget is built in sc's buffers (nil: its own).
func solveFor(opts [][]option, maxBudget int64, sc *dpScratch) func(int64) ([]int, int64, string, bool) {
	var minCost, work int64
	for _, o := range opts {
		if len(o) == 0 {
			return func(int64) ([]int, int64, string, bool) { return nil, 0, "", false }
		}
		minCost += o[0].cost
		work += int64(len(o))
	}
	useDP := func(b int64) bool { return b <= dpMaxBudget && work*(b+1) <= dpWorkLimit }
	var t *dpTable
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
				t = newDPTable(opts, maxBudget, sc)
			}
			choice, total := t.choice(budget)
			return choice, total, solverDP, true
		case useDP(budget):
			choice, total := newDPTable(opts, budget, nil).choice(budget)
			return choice, total, solverDP, true
		}
		choice, total := solveGreedy(opts, budget)
		return choice, total, solverGreedy, true
	}
}

// dpTable is the exact solver's table for budgets 0..n−1: pick[i][c] is
// layer i's option in the least-latency choice of layers 0..i using at
// most c arrays (ties keep the cheaper option; options are cost-sorted),
// and best[c] the least latency of all the layers within c.
type dpTable struct {
	opts [][]option
	pick [][]int32
	best []int64
}

func newDPTable(opts [][]option, budget int64, sc *dpScratch) *dpTable {
	const inf = math.MaxInt64
	n := int(budget) + 1
	if sc == nil {
		sc = &dpScratch{}
	}
	prev, cur := grow(&sc.l0, n), grow(&sc.l1, n)
	clear(prev) // zero layers: latency 0 at any budget
	t := &dpTable{opts: opts, pick: sc.picks(len(opts), n)}
	for i, os := range opts {
		// Option by option, each c still tries the options in order with
		// the same strict comparison (ties keep the cheaper).
		pick := t.pick[i]
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
		prev, cur = cur, prev
	}
	t.best = prev
	return t
}

// dpScratch holds the buffers of a DP table, reused from one table to
// the next by a search (the keyed searches build hundreds of small ones).
type dpScratch struct {
	c0, c1 []dpCell
	l0, l1 []int64
	pick   []int32
	rows   [][]int32
}

// grow returns (*b)[:n], reallocating when it is too short; the contents
// are left as they were.
func grow[T any](b *[]T, n int) []T {
	if cap(*b) < n {
		*b = make([]T, n)
	}
	return (*b)[:n]
}

// picks is layers rows of n picks, in one buffer.
func (sc *dpScratch) picks(layers, n int) [][]int32 {
	flat := grow(&sc.pick, layers*n)
	rows := grow(&sc.rows, layers)
	for i := range rows {
		rows[i] = flat[i*n : (i+1)*n : (i+1)*n]
	}
	return rows
}

// choice walks the table back from budget c.
func (t *dpTable) choice(c int64) ([]int, int64) {
	total := t.best[c]
	choice := make([]int, len(t.opts))
	for i := len(t.opts) - 1; i >= 0; i-- {
		k := t.pick[i][c]
		choice[i] = int(k)
		c -= t.opts[i][k].cost
	}
	return choice, total
}

// solveGreedy starts every layer at its cheapest option and repeatedly takes
// the step along some layer's lower convex hull that saves the most latency
// per array, while the budget lasts; a last pass spends what is left on the
// best affordable option of each layer in turn.
func solveGreedy(opts [][]option, budget int64) ([]int, int64) {
	hulls := make([][]int, len(opts))
	for i, os := range opts {
		hulls[i] = lowerHull(os)
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

// lowerHull returns the indices of the lower convex hull of Pareto-sorted
// (cost, latency) points, starting at the cheapest.
func lowerHull(os []option) []int {
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
