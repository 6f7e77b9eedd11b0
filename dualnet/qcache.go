package dualnet

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"pimc/ir"
)

// fitCache memoises the quantize pass's fit statistics across quantize
// runs sharing a Calibration: pimc search quantizes hundreds of clones of
// one calibrated module with different ratios, pimc compile three. A
// layer's statistics (the float output's moments and, per output channel,
// the sums relating its quantized accumulator z to its float output y on
// the fit samples) depend on the float graph, the fit samples, the layer's
// input code format and TB threshold, and the channel's path (INT4 codes
// against x's codes, ternary codes against [x ≥ τ]) — not on the other
// channels' paths or on any other layer's ratio. So both paths' sums are
// measured for every channel the first time a layer is seen (one float
// pass over the fit samples) and every later run picks, per channel, the
// sums of the path its split gives it. Each channel's sums are accumulated
// in the same order as a direct measurement, so they are the same bits.
type fitCache struct {
	mu     sync.Mutex
	graphs []*graphFit
}

// graphFit holds the entries measured on one float graph and fit set. The
// graph is identified by its structure (desc: nodes, attributes, value
// names and types) and its constants and fit samples, compared by content
// (pointers first: clones share them).
type graphFit struct {
	desc   string
	consts []*ir.Tensor
	fit    []*ir.Tensor
	layers map[fitKey]*fitEntry
}

// fitKey is everything a layer's entry depends on besides the graph.
type fitKey struct {
	node   string
	scale  uint32 // input code scale (float32 bits)
	bits   int
	signed bool
	tau    int
	int8   bool
}

type fitEntry struct {
	done chan struct{} // closed when the entry is measured (or failed)
	err  error
	// Per output channel, the sums on each path: st8 for INT8 layers, st4
	// and stT (INT4 and ternary) for split layers.
	st8, st4, stT     []lsStat
	floatSum, floatSq []float64
	floatN            float64
}

func (e *fitEntry) stat(kind byte, ch int) lsStat {
	switch kind {
	case '8':
		return e.st8[ch]
	case '4':
		return e.st4[ch]
	}
	return e.stT[ch]
}

// fitStats returns the entry of each plan (in plans order), measuring the
// ones no earlier run has. Entries another run is measuring are waited
// for, after this run's own are done (so that two runs never wait on each
// other).
func (l *lowering) fitStats(plans []*layerPlan) ([]*fitEntry, error) {
	fc := &l.cal.weights().fc
	gf := fc.graph(l.m, l.cal.Fit)
	out := make([]*fitEntry, len(plans))
	var todo []*layerPlan
	var mine []*fitEntry
	fc.mu.Lock()
	for i, p := range plans {
		k := fitKey{node: p.n.Name, scale: math.Float32bits(p.in.scale), bits: p.in.bits, signed: p.in.signed,
			tau: p.tau, int8: p.w8 != nil}
		e := gf.layers[k]
		if e == nil {
			e = &fitEntry{done: make(chan struct{})}
			gf.layers[k] = e
			todo = append(todo, p)
			mine = append(mine, e)
		}
		out[i] = e
	}
	fc.mu.Unlock()
	if len(todo) > 0 {
		err := l.measureFit(todo, mine)
		fc.mu.Lock()
		for i, e := range mine {
			e.err = err
			if err != nil {
				// Not kept: a later run measures it again.
				for k, v := range gf.layers {
					if v == mine[i] {
						delete(gf.layers, k)
					}
				}
			}
			close(e.done)
		}
		fc.mu.Unlock()
	}
	for _, e := range out {
		<-e.done
		if e.err != nil {
			return nil, e.err
		}
	}
	return out, nil
}

// graph returns the entry set of m's float graph with fit samples fit,
// creating it when new.
func (fc *fitCache) graph(m *ir.Module, fit []*ir.Tensor) *graphFit {
	desc := graphDesc(m.Graph)
	consts := make([]*ir.Tensor, len(m.Graph.Consts))
	for i, v := range m.Graph.Consts {
		consts[i] = v.Const
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, g := range fc.graphs {
		if g.desc == desc && sameTensors(g.consts, consts) && sameTensors(g.fit, fit) {
			return g
		}
	}
	g := &graphFit{desc: desc, consts: consts, fit: append([]*ir.Tensor(nil), fit...), layers: map[fitKey]*fitEntry{}}
	fc.graphs = append(fc.graphs, g)
	return g
}

// graphDesc describes a graph's structure: inputs, constants' names and
// types, nodes (op, name, attributes, operand and result names and types)
// and outputs. Constant contents are compared separately.
func graphDesc(g *ir.Graph) string {
	var b strings.Builder
	val := func(v *ir.Value) {
		if v == nil {
			b.WriteString("_,")
			return
		}
		fmt.Fprintf(&b, "%q:%s,", v.Name, v.Type)
	}
	b.WriteString("in ")
	for _, v := range g.Inputs {
		val(v)
	}
	b.WriteString("\nconst ")
	for _, v := range g.Consts {
		val(v)
	}
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "\n%s %q ", n.Op, n.Name)
		for _, v := range n.Inputs {
			val(v)
		}
		b.WriteString("-> ")
		for _, v := range n.Outputs {
			val(v)
		}
		keys := make([]string, 0, len(n.Attrs))
		for k := range n.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			a := n.Attrs[k]
			fmt.Fprintf(&b, " %s=%d/%d/%08x/%q/%v/%v/%q", k, a.Kind, a.Int, math.Float32bits(a.Float), a.Str, a.Ints, f32bits(a.Floats), a.Strings)
			if a.Tensor != nil {
				fmt.Fprintf(&b, "/%s", ir.TensorSummary(a.Tensor))
			}
		}
	}
	b.WriteString("\nout ")
	for _, v := range g.Outputs {
		val(v)
	}
	return b.String()
}

func f32bits(f []float32) []uint32 {
	out := make([]uint32, len(f))
	for i, v := range f {
		out[i] = math.Float32bits(v)
	}
	return out
}

// sameTensors compares two tensor lists by content (bits).
func sameTensors(a, b []*ir.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x == nil || y == nil || x.DType != y.DType || !slices.Equal(x.Shape, y.Shape) || !sameBits(x.F, y.F) || len(x.I) != len(y.I) || !slices.Equal(x.I8, y.I8) {
			return false
		}
		for j := range x.I {
			if x.I[j] != y.I[j] {
				return false
			}
		}
	}
	return true
}

// measureFit fills entries (one per plan in todo): one float pass per fit
// sample, in sample order, then each layer's sums (one goroutine per layer
// at a time, so each sum is accumulated in sample order).
func (l *lowering) measureFit(todo []*layerPlan, entries []*fitEntry) error {
	type job struct {
		p      *layerPlan
		e      *fitEntry
		c4, ct [][]int8
	}
	jobs := make([]job, len(todo))
	for i, p := range todo {
		e := entries[i]
		e.floatSum, e.floatSq = make([]float64, p.c), make([]float64, p.c)
		j := job{p: p, e: e}
		if p.w8 != nil {
			e.st8 = make([]lsStat, p.c)
		} else {
			all := make([]int, p.c)
			for ch := range all {
				all[ch] = ch
			}
			j.c4, _, _ = quantizeChannels(l.cal, p.w, p.k, all, 7)
			j.ct = ternary(l.cal, p.w, p.k, p.c).t
			e.st4, e.stT = make([]lsStat, p.c), make([]lsStat, p.c)
		}
		jobs[i] = j
	}
	for _, s := range l.cal.Fit {
		env, err := runFloat(l.m, []*ir.Tensor{s})
		if err != nil {
			return errorf("fit: %v", err)
		}
		var wg sync.WaitGroup
		next := make(chan *job)
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range next {
					j.p.accumulateAll(env[j.p.n.In(0)], j.e, j.c4, j.ct)
					j.e.accumulateOut(env[j.p.n.Out(0)], j.p.c)
				}
			}()
		}
		for i := range jobs {
			next <- &jobs[i]
		}
		close(next)
		wg.Wait()
	}
	return nil
}
