package search

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
)

// zdt1 is ZDT1 on a grid of 11 levels per gene (x = g/10): its Pareto
// front is x_2..x_n = 0, f2 = 1 - sqrt(f1).
func zdt1(genes int) Problem {
	return Problem{Genes: genes, Levels: 11, Evaluate: func(g []int) (Eval, error) {
		x0 := float64(g[0]) / 10
		s := 0.0
		for _, v := range g[1:] {
			s += float64(v) / 10
		}
		gg := 1 + 9*s/float64(len(g)-1)
		f2 := gg * (1 - math.Sqrt(x0/gg))
		return Eval{Objectives: []float64{x0, f2}}, nil
	}}
}

func TestZDT1Front(t *testing.T) {
	res, err := NSGA2(zdt1(5), Options{Population: 40, Generations: 60, Seed: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Every true-front point has f2 = 1 - sqrt(f1); the search should get
	// close: mean distance to the front below 0.05 and several distinct
	// points spread along f1.
	dist := 0.0
	f1s := map[float64]bool{}
	for _, in := range res.Front {
		f1, f2 := in.Eval.Objectives[0], in.Eval.Objectives[1]
		dist += f2 - (1 - math.Sqrt(f1))
		f1s[f1] = true
	}
	dist /= float64(len(res.Front))
	if dist > 0.05 {
		t.Errorf("mean distance to the ZDT1 front %.3f > 0.05 (front %d points)", dist, len(res.Front))
	}
	if len(f1s) < 8 {
		t.Errorf("front covers %d distinct f1 values, want ≥ 8", len(f1s))
	}
}

func fronts(r *Result) [][]int {
	var out [][]int
	for _, in := range r.Population {
		out = append(out, in.Genes)
	}
	return out
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	a, err := NSGA2(zdt1(4), Options{Population: 16, Generations: 10, Seed: 7, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NSGA2(zdt1(4), Options{Population: 16, Generations: 10, Seed: 7, Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fronts(a), fronts(b)) {
		t.Errorf("1 worker and 8 workers differ")
	}
	c, err := NSGA2(zdt1(4), Options{Population: 16, Generations: 10, Seed: 8, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(fronts(a), fronts(c)) {
		t.Errorf("seeds 7 and 8 gave the same population")
	}
}

func TestResumeEqualsUninterrupted(t *testing.T) {
	dir := t.TempDir()
	o := Options{Population: 12, Generations: 8, Seed: 3, Workers: 2}
	full, err := NSGA2(zdt1(4), o)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "checkpoint.json")
	part := o
	part.Generations, part.Checkpoint = 3, cp
	if _, err := NSGA2(zdt1(4), part); err != nil {
		t.Fatal(err)
	}
	calls := 0
	p := zdt1(4)
	ev := p.Evaluate
	p.Evaluate = func(g []int) (Eval, error) { calls++; return ev(g) }
	rest := o
	rest.Checkpoint, rest.Resume, rest.Workers = cp, true, 1
	res, err := NSGA2(p, rest)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.Generation != 8 {
		t.Errorf("resumed %v at generation %d, want true, 8", res.Resumed, res.Generation)
	}
	if !reflect.DeepEqual(fronts(full), fronts(res)) {
		t.Errorf("resumed run differs from the uninterrupted one")
	}
	if res.Evaluations != full.Evaluations {
		t.Errorf("evaluations %d, uninterrupted %d", res.Evaluations, full.Evaluations)
	}
	if calls >= 5*12 {
		t.Errorf("resume evaluated %d vectors; the checkpointed cache should answer repeats", calls)
	}
	// A mismatched run refuses the checkpoint.
	bad := rest
	bad.Seed = 4
	if _, err := NSGA2(zdt1(4), bad); err == nil {
		t.Errorf("resume with another seed succeeded")
	}
}

func TestCacheAndConstraint(t *testing.T) {
	var calls atomic.Int64
	p := Problem{Genes: 2, Levels: 3, Evaluate: func(g []int) (Eval, error) {
		calls.Add(1)
		v := 0.0
		if g[0]+g[1] < 2 { // feasible only when g0 + g1 ≥ 2
			v = float64(2 - g[0] - g[1])
		}
		return Eval{Objectives: []float64{float64(g[0]), float64(g[1])}, Violation: v}, nil
	}}
	res, err := NSGA2(p, Options{Population: 8, Generations: 10, Seed: 1, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if n := int(calls.Load()); n > 9 || n != res.Evaluations {
		t.Errorf("%d calls, %d evaluations, for a space of 9 vectors", n, res.Evaluations)
	}
	for _, in := range res.Front {
		if in.Eval.Violation > 0 {
			t.Errorf("infeasible %v on the front", in.Genes)
		}
		if in.Genes[0]+in.Genes[1] != 2 {
			t.Errorf("front member %v is dominated", in.Genes)
		}
	}
}

func TestInitialSeeded(t *testing.T) {
	init := [][]int{{0, 0, 0}, {10, 10, 10}}
	res, err := NSGA2(zdt1(3), Options{Population: 4, Generations: 0, Seed: 1, Initial: init})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, in := range res.Archive {
		if reflect.DeepEqual(in.Genes, init[0]) || reflect.DeepEqual(in.Genes, init[1]) {
			found++
		}
	}
	if found != 2 || res.Evaluations != 4 {
		t.Errorf("initial vectors found %d, evaluations %d", found, res.Evaluations)
	}
}

func TestScatter(t *testing.T) {
	var b bytes.Buffer
	red := color.RGBA{255, 0, 0, 255}
	if err := Scatter(&b, 200, 150, []Series{{X: []float64{0, 1, 2}, Y: []float64{1, 0, 2}, Color: red, Size: 3, Line: true}}); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 200 {
		t.Errorf("width %d", img.Bounds().Dx())
	}
	reds := 0
	for y := 0; y < 150; y++ {
		for x := 0; x < 200; x++ {
			if r, g, _, _ := img.At(x, y).RGBA(); r == 0xffff && g == 0 {
				reds++
			}
		}
	}
	if reds < 20 {
		t.Errorf("%d red pixels", reds)
	}
}
