// Package search is a multi-objective evolutionary search over integer
// gene vectors on a grid: NSGA-II (Deb et al. 2002) with constrained
// domination, used by `pimc search` to choose one INT4/TB ratio per split
// layer. The evaluation is a callback, so the package knows nothing about
// models; docs/search.md describes the algorithm.
package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Eval is the result of evaluating one gene vector: objectives to
// minimise, and a constraint violation (0 when feasible, else positive).
type Eval struct {
	Objectives []float64 `json:"objectives"`
	Violation  float64   `json:"violation"`
	// Data is opaque caller data kept with the evaluation (for example the
	// unscaled metrics); it is checkpointed and returned unchanged.
	Data json.RawMessage `json:"data,omitempty"`
}

// Problem is a search space of Genes genes, each an integer in
// [0, Levels), and its evaluation. Evaluate must be deterministic and safe
// to call from several goroutines.
type Problem struct {
	Genes    int
	Levels   int
	Evaluate func(genes []int) (Eval, error)
}

// Options configure NSGA2.
type Options struct {
	Population  int    // individuals per generation (default 20)
	Generations int    // generations of offspring after the initial one
	Seed        uint64 // seeds the PCG source; the search is a function of it
	Workers     int    // parallel evaluations (default 1); never changes results
	// Initial seeds the first population (truncated to Population); the
	// rest is drawn uniformly from the grid.
	Initial [][]int
	// CrossoverProb is the probability that two parents are recombined
	// (default 0.9); MutationProb is the per-gene mutation probability
	// (default 1/Genes).
	CrossoverProb, MutationProb float64
	// Checkpoint, when set, is a file rewritten after every generation;
	// with Resume an existing checkpoint is continued.
	Checkpoint string
	Resume     bool
	// Tag identifies everything else the evaluations depend on (model,
	// data, objectives, constraint); a checkpoint with another tag is
	// refused on resume.
	Tag string
	// Progress is called after each evaluation (or cache hit) with the
	// number done so far in this call and the total expected.
	Progress func(done, total int)
}

// Individual is one evaluated gene vector and its NSGA-II rank (0 is the
// non-dominated front) and crowding distance.
type Individual struct {
	Genes    []int   `json:"genes"`
	Eval     Eval    `json:"eval"`
	Rank     int     `json:"rank"`
	Crowding float64 `json:"-"`
}

// Result is the final population and its first front.
type Result struct {
	Population  []Individual
	Front       []Individual // rank 0, sorted by genes
	Archive     []Individual // every distinct vector evaluated, sorted by genes
	Generation  int          // generations completed (0: initial population only)
	Evaluations int          // distinct vectors evaluated, over all runs
	CacheHits   int          // evaluations answered by the cache in this run
	Resumed     bool
}

// Key is the cache key of a gene vector.
func Key(genes []int) string {
	var b strings.Builder
	for i, g := range genes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(g))
	}
	return b.String()
}

// checkpoint is the JSON state written after each generation.
type checkpoint struct {
	Version     int          `json:"version"`
	Tag         string       `json:"tag"`
	Seed        uint64       `json:"seed"`
	Genes       int          `json:"genes"`
	Levels      int          `json:"levels"`
	Population  int          `json:"population"`
	Generation  int          `json:"generation"`
	RNG         []byte       `json:"rng"`
	Current     []Individual `json:"current"`
	Cache       []Individual `json:"cache"`
	Evaluations int          `json:"evaluations"`
}

type runner struct {
	p       Problem
	o       Options
	rng     *rand.Rand
	pcg     *rand.PCG
	cache   map[string]Eval
	evals   int
	hits    int
	done    int
	total   int
	progMu  sync.Mutex
	mutProb float64
}

// NSGA2 runs the search. The result depends only on the problem, the
// options' seed, sizes and probabilities, and Initial: not on Workers, and
// not on whether the run was interrupted and resumed from a checkpoint.
func NSGA2(p Problem, o Options) (*Result, error) {
	if p.Genes <= 0 || p.Levels <= 0 || p.Evaluate == nil {
		return nil, errors.New("search: problem needs Genes > 0, Levels > 0 and Evaluate")
	}
	if o.Population <= 0 {
		o.Population = 20
	}
	if o.Population < 2 {
		o.Population = 2
	}
	if o.Generations < 0 {
		return nil, errors.New("search: negative Generations")
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.CrossoverProb == 0 {
		o.CrossoverProb = 0.9
	}
	r := &runner{p: p, o: o, cache: map[string]Eval{}, mutProb: o.MutationProb}
	if r.mutProb == 0 {
		r.mutProb = 1 / float64(p.Genes)
	}
	r.pcg = rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)
	r.rng = rand.New(r.pcg)

	var pop []Individual
	gen := 0
	resumed := false
	if o.Resume && o.Checkpoint != "" {
		cp, err := readCheckpoint(o.Checkpoint)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			if cp.Tag != o.Tag {
				return nil, fmt.Errorf("search: checkpoint %s is from another run (%q); this run is %q", o.Checkpoint, cp.Tag, o.Tag)
			}
			if cp.Seed != o.Seed || cp.Genes != p.Genes || cp.Levels != p.Levels || cp.Population != o.Population {
				return nil, fmt.Errorf("search: checkpoint %s is for seed %d, %d genes × %d levels, population %d; this run has seed %d, %d × %d, population %d",
					o.Checkpoint, cp.Seed, cp.Genes, cp.Levels, cp.Population, o.Seed, p.Genes, p.Levels, o.Population)
			}
			if err := r.pcg.UnmarshalBinary(cp.RNG); err != nil {
				return nil, fmt.Errorf("search: checkpoint %s: %w", o.Checkpoint, err)
			}
			for _, in := range cp.Cache {
				r.cache[Key(in.Genes)] = in.Eval
			}
			r.evals = cp.Evaluations
			pop, gen, resumed = cp.Current, cp.Generation, true
		}
	}
	remaining := o.Generations - gen
	if !resumed {
		remaining = o.Generations + 1
	}
	r.total = max(0, remaining) * o.Population

	if !resumed {
		init := make([][]int, 0, o.Population)
		for _, g := range o.Initial {
			if len(init) == o.Population {
				break
			}
			if len(g) != p.Genes {
				return nil, fmt.Errorf("search: initial vector has %d genes, want %d", len(g), p.Genes)
			}
			c := make([]int, p.Genes)
			for i, v := range g {
				c[i] = min(max(v, 0), p.Levels-1)
			}
			init = append(init, c)
		}
		for len(init) < o.Population {
			c := make([]int, p.Genes)
			for i := range c {
				c[i] = r.rng.IntN(p.Levels)
			}
			init = append(init, c)
		}
		var err error
		if pop, err = r.evaluate(init); err != nil {
			return nil, err
		}
		rankAndCrowd(pop)
		if err := r.save(pop, 0); err != nil {
			return nil, err
		}
	} else {
		rankAndCrowd(pop)
	}
	for gen < o.Generations {
		gen++
		kids := r.offspring(pop)
		q, err := r.evaluate(kids)
		if err != nil {
			return nil, err
		}
		pop = survive(append(append([]Individual{}, pop...), q...), o.Population)
		if err := r.save(pop, gen); err != nil {
			return nil, err
		}
	}
	res := &Result{Population: pop, Generation: gen, Evaluations: r.evals, CacheHits: r.hits, Resumed: resumed}
	for _, in := range pop {
		if in.Rank == 0 {
			res.Front = append(res.Front, in)
		}
	}
	res.Front = dedupe(res.Front)
	for k, e := range r.cache {
		res.Archive = append(res.Archive, Individual{Genes: parseKey(k), Eval: e})
	}
	rankAndCrowd(res.Archive)
	sortByGenes(res.Archive)
	return res, nil
}

func parseKey(k string) []int {
	parts := strings.Split(k, ",")
	g := make([]int, len(parts))
	for i, s := range parts {
		g[i], _ = strconv.Atoi(s)
	}
	return g
}

func dedupe(in []Individual) []Individual {
	seen := map[string]bool{}
	var out []Individual
	for _, x := range in {
		k := Key(x.Genes)
		if !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
	}
	sortByGenes(out)
	return out
}

func sortByGenes(in []Individual) {
	sort.SliceStable(in, func(i, j int) bool {
		a, b := in[i].Genes, in[j].Genes
		for k := range a {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return false
	})
}

// evaluate evaluates vectors, answering repeats from the cache and the
// rest in parallel; results are assigned by index, so the order of
// completion never matters.
func (r *runner) evaluate(vs [][]int) ([]Individual, error) {
	out := make([]Individual, len(vs))
	var todo []string
	first := map[string][]int{}
	for _, v := range vs {
		k := Key(v)
		if _, ok := r.cache[k]; ok {
			continue
		}
		if _, ok := first[k]; !ok {
			first[k] = v
			todo = append(todo, k)
		}
	}
	results := make([]Eval, len(todo))
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(r.o.Workers, len(todo)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				g := append([]int(nil), first[todo[i]]...)
				results[i], errs[i] = r.p.Evaluate(g)
				r.tick()
			}
		}()
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, k := range todo {
		if errs[i] != nil {
			return nil, fmt.Errorf("evaluating [%s]: %w", k, errs[i])
		}
		r.cache[k] = results[i]
		r.evals++
	}
	r.hits += len(vs) - len(todo)
	for i := 0; i < len(vs)-len(todo); i++ {
		r.tick()
	}
	for i, v := range vs {
		out[i] = Individual{Genes: append([]int(nil), v...), Eval: r.cache[Key(v)]}
	}
	return out, nil
}

func (r *runner) tick() {
	if r.o.Progress == nil {
		return
	}
	r.progMu.Lock()
	r.done++
	r.o.Progress(r.done, r.total)
	r.progMu.Unlock()
}

// offspring draws Population children: binary tournament selection on
// (rank, crowding), uniform crossover with an SBX-like blend on the grid,
// and grid mutation.
func (r *runner) offspring(pop []Individual) [][]int {
	n := len(pop)
	pick := func() []int {
		a, b := pop[r.rng.IntN(n)], pop[r.rng.IntN(n)]
		if better(b, a) {
			return b.Genes
		}
		return a.Genes
	}
	var kids [][]int
	for len(kids) < n {
		p1, p2 := pick(), pick()
		c1, c2 := append([]int(nil), p1...), append([]int(nil), p2...)
		if r.rng.Float64() < r.o.CrossoverProb {
			for i := range c1 {
				switch u := r.rng.Float64(); {
				case u < 0.4: // swap (uniform crossover)
					c1[i], c2[i] = p2[i], p1[i]
				case u < 0.6: // blend: children spread around the parents
					lo, hi := min(p1[i], p2[i]), max(p1[i], p2[i])
					d := float64(hi-lo) * 0.5
					c1[i] = r.clamp(int(math.Round(float64(lo) - d*r.rng.Float64())))
					c2[i] = r.clamp(int(math.Round(float64(hi) + d*r.rng.Float64())))
				}
			}
		}
		for _, c := range [][]int{c1, c2} {
			for i := range c {
				if r.rng.Float64() < r.mutProb {
					if r.rng.Float64() < 0.7 { // a step or two along the grid
						step := 1 + r.rng.IntN(2)
						if r.rng.IntN(2) == 0 {
							step = -step
						}
						c[i] = r.clamp(c[i] + step)
					} else {
						c[i] = r.rng.IntN(r.p.Levels)
					}
				}
			}
			if len(kids) < n {
				kids = append(kids, c)
			}
		}
	}
	return kids
}

func (r *runner) clamp(v int) int { return min(max(v, 0), r.p.Levels-1) }

// better is the crowded-comparison operator.
func better(a, b Individual) bool {
	if a.Rank != b.Rank {
		return a.Rank < b.Rank
	}
	return a.Crowding > b.Crowding
}

// Dominates is constrained domination: a feasible vector dominates an
// infeasible one, of two infeasible ones the smaller violation wins, and
// of two feasible ones Pareto dominance on the objectives decides.
func Dominates(a, b Eval) bool {
	fa, fb := a.Violation <= 0, b.Violation <= 0
	switch {
	case fa && !fb:
		return true
	case !fa && fb:
		return false
	case !fa && !fb:
		return a.Violation < b.Violation
	}
	strict := false
	for i := range a.Objectives {
		if a.Objectives[i] > b.Objectives[i] {
			return false
		}
		if a.Objectives[i] < b.Objectives[i] {
			strict = true
		}
	}
	return strict
}

// NonDominatedSort returns the fronts (indices into pop) in order, and sets
// each individual's Rank.
func NonDominatedSort(pop []Individual) [][]int {
	n := len(pop)
	dominated := make([][]int, n)
	count := make([]int, n)
	var fronts [][]int
	var cur []int
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i == j {
				continue
			}
			if Dominates(pop[i].Eval, pop[j].Eval) {
				dominated[i] = append(dominated[i], j)
			} else if Dominates(pop[j].Eval, pop[i].Eval) {
				count[i]++
			}
		}
		if count[i] == 0 {
			pop[i].Rank = 0
			cur = append(cur, i)
		}
	}
	for len(cur) > 0 {
		fronts = append(fronts, cur)
		var nxt []int
		for _, i := range cur {
			for _, j := range dominated[i] {
				count[j]--
				if count[j] == 0 {
					pop[j].Rank = len(fronts)
					nxt = append(nxt, j)
				}
			}
		}
		sort.Ints(nxt)
		cur = nxt
	}
	return fronts
}

// crowding sets the crowding distance of the members of one front.
func crowding(pop []Individual, front []int) {
	for _, i := range front {
		pop[i].Crowding = 0
	}
	if len(front) == 0 {
		return
	}
	m := len(pop[front[0]].Eval.Objectives)
	idx := append([]int(nil), front...)
	for k := 0; k < m; k++ {
		sort.SliceStable(idx, func(a, b int) bool {
			return pop[idx[a]].Eval.Objectives[k] < pop[idx[b]].Eval.Objectives[k]
		})
		lo, hi := pop[idx[0]].Eval.Objectives[k], pop[idx[len(idx)-1]].Eval.Objectives[k]
		pop[idx[0]].Crowding = math.Inf(1)
		pop[idx[len(idx)-1]].Crowding = math.Inf(1)
		if hi <= lo {
			continue
		}
		for j := 1; j < len(idx)-1; j++ {
			pop[idx[j]].Crowding += (pop[idx[j+1]].Eval.Objectives[k] - pop[idx[j-1]].Eval.Objectives[k]) / (hi - lo)
		}
	}
}

func rankAndCrowd(pop []Individual) [][]int {
	fronts := NonDominatedSort(pop)
	for _, f := range fronts {
		crowding(pop, f)
	}
	return fronts
}

// survive is elitist survival: whole fronts while they fit, then the
// last front's most crowded-apart members.
func survive(all []Individual, n int) []Individual {
	fronts := rankAndCrowd(all)
	out := make([]Individual, 0, n)
	for _, f := range fronts {
		if len(out)+len(f) <= n {
			for _, i := range f {
				out = append(out, all[i])
			}
			continue
		}
		rest := append([]int(nil), f...)
		sort.SliceStable(rest, func(a, b int) bool { return all[rest[a]].Crowding > all[rest[b]].Crowding })
		for _, i := range rest[:n-len(out)] {
			out = append(out, all[i])
		}
		break
	}
	rankAndCrowd(out)
	return out
}

func (r *runner) save(pop []Individual, gen int) error {
	if r.o.Checkpoint == "" {
		return nil
	}
	state, err := r.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	cp := checkpoint{Version: 1, Tag: r.o.Tag, Seed: r.o.Seed, Genes: r.p.Genes, Levels: r.p.Levels, Population: r.o.Population,
		Generation: gen, RNG: state, Current: pop, Evaluations: r.evals}
	keys := make([]string, 0, len(r.cache))
	for k := range r.cache {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cp.Cache = append(cp.Cache, Individual{Genes: parseKey(k), Eval: r.cache[k]})
	}
	b, err := json.MarshalIndent(cp, "", " ")
	if err != nil {
		return err
	}
	tmp := r.o.Checkpoint + ".tmp"
	if err := os.MkdirAll(filepath.Dir(r.o.Checkpoint), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, r.o.Checkpoint)
}

func readCheckpoint(path string) (*checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("search: checkpoint %s: %w", path, err)
	}
	if cp.Version != 1 {
		return nil, fmt.Errorf("search: checkpoint %s: version %d, want 1", path, cp.Version)
	}
	return &cp, nil
}
