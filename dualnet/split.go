package dualnet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	"pimc/ir"
)

// Ratios says which fraction r of each split layer's output channels the
// INT4 path computes: PerLayer by node name, Default for the others.
type Ratios struct {
	Default  float64
	PerLayer map[string]float64
}

// Uniform returns Ratios with r for every layer.
func Uniform(r float64) Ratios { return Ratios{Default: r} }

func (r Ratios) of(name string) float64 {
	if v, ok := r.PerLayer[name]; ok {
		return v
	}
	return r.Default
}

// SplitOptions is the dual-split policy.
type SplitOptions struct {
	// KeepFirst and KeepLast keep the first conv/FC layer and the last one
	// (the classifier) unsplit at INT8. Use DefaultSplitOptions for the
	// documented defaults (both true).
	KeepFirst, KeepLast bool
	// Granularity rounds n4 to a multiple of this many channels (0 or 1:
	// no rounding).
	Granularity int
}

// DefaultSplitOptions keeps the first and last layers at INT8.
func DefaultSplitOptions() SplitOptions { return SplitOptions{KeepFirst: true, KeepLast: true} }

// LayerSplit is dual-split's decision for one layer.
type LayerSplit struct {
	Precision string // "int8", "int4", "tb" or "dual"
	Ratio     float64
	N4        int   // channels on the INT4 path
	INT4      []int // their indices, ascending
	TB        []int // the ternary channels, ascending
	Errors    []float64
}

// SplitPlan maps layer node names to their split.
type SplitPlan map[string]*LayerSplit

const metaSplit = "dualnet.split"

// Layers returns the names of the conv/FC layers in graph order, for
// ratio files and reports.
func Layers(m *ir.Module) []string {
	var out []string
	for _, n := range m.Graph.Nodes {
		if isLayer(n) {
			out = append(out, n.Name)
		}
	}
	return out
}

// ParseRatios reads a per-layer ratio file: a JSON object mapping layer
// node names to ratios in [0, 1]. Keys that are not splittable layers of m,
// non-numeric values and values outside [0, 1] are errors naming the key.
func ParseRatios(path string, m *ir.Module) (Ratios, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Ratios{}, err
	}
	return parseRatios(data, path, m)
}

func parseRatios(data []byte, path string, m *ir.Module) (Ratios, error) {
	if err := prepare(m); err != nil {
		return Ratios{}, err
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return Ratios{}, fmt.Errorf("%s: want a JSON object of layer name → ratio: %w", path, err)
	}
	layers := map[string]*ir.Node{}
	for _, n := range m.Graph.Nodes {
		if isLayer(n) {
			layers[n.Name] = n
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r := Ratios{Default: 1, PerLayer: map[string]float64{}}
	for _, k := range keys {
		n, ok := layers[k]
		if !ok {
			return Ratios{}, fmt.Errorf("%s: key %q: no conv or FC layer of that name in %q (layers: %v)", path, k, m.Name, Layers(m))
		}
		if !splittable(n) {
			return Ratios{}, fmt.Errorf("%s: key %q: %s is a grouped/depthwise layer, which is never split", path, k, n.Where())
		}
		var v float64
		if err := json.Unmarshal(raw[k], &v); err != nil {
			return Ratios{}, fmt.Errorf("%s: key %q: ratio %s is not a number", path, k, raw[k])
		}
		if !(v >= 0 && v <= 1) {
			return Ratios{}, fmt.Errorf("%s: key %q: ratio %v outside [0, 1]", path, k, v)
		}
		r.PerLayer[k] = v
	}
	return r, nil
}

// Split is the dual-split pass: it decides each layer's precision and, for
// split layers, which output channels take the INT4 path (those with the
// largest TWN error). The decision is recorded in Node.Precision and in the
// module's metadata for the quantize pass. Default ratio: r.Default; first
// and last layers per o; grouped/depthwise convs are kept at INT8.
func Split(m *ir.Module, r Ratios, o SplitOptions) error {
	if err := prepare(m); err != nil {
		return err
	}
	if !(r.Default >= 0 && r.Default <= 1) {
		return errorf("ratio %v outside [0, 1]", r.Default)
	}
	var layers []*ir.Node
	for _, n := range m.Graph.Nodes {
		if isLayer(n) {
			layers = append(layers, n)
		}
	}
	plan := SplitPlan{}
	for i, n := range layers {
		keep := !splittable(n) || (o.KeepFirst && i == 0) || (o.KeepLast && i == len(layers)-1)
		if _, explicit := r.PerLayer[n.Name]; explicit && keep {
			why := "grouped/depthwise"
			if splittable(n) {
				why = "kept at INT8 by the first/last-layer policy"
			}
			return errorf("ratio given for %s, which is %s", n.Where(), why)
		}
		if keep {
			plan[n.Name] = &LayerSplit{Precision: "int8", Ratio: -1}
			n.Precision = "int8"
			continue
		}
		w, err := layerWeights(n)
		if err != nil {
			return err
		}
		c := int(w.Shape[0])
		k := int(w.Len()) / c
		ratio := r.of(n.Name)
		n4 := int(math.Floor(ratio*float64(c) + 0.5))
		if gr := o.Granularity; gr > 1 {
			n4 = min(c, int(math.Floor(float64(n4)/float64(gr)+0.5))*gr)
		}
		errs := ternaryErrors(CalibrationOf(m), w.F, k, c)
		ls := &LayerSplit{Ratio: ratio, N4: n4, INT4: SelectINT4(errs, n4), Errors: errs}
		in4 := make([]bool, c)
		for _, ch := range ls.INT4 {
			in4[ch] = true
		}
		for ch := 0; ch < c; ch++ {
			if !in4[ch] {
				ls.TB = append(ls.TB, ch)
			}
		}
		switch n4 {
		case c:
			ls.Precision = "int4"
		case 0:
			ls.Precision = "tb"
		default:
			ls.Precision = "dual"
		}
		n.Precision = ls.Precision
		plan[n.Name] = ls
	}
	if m.Meta == nil {
		m.Meta = map[string]any{}
	}
	m.Meta[metaSplit] = plan
	return nil
}

// layerWeights returns a layer's float weights as [C_out, K].
func layerWeights(n *ir.Node) (*ir.Tensor, error) {
	if n.Op == ir.OpGemm {
		w, err := gemmWeights(n)
		return w.Tensor, err
	}
	w, _, err := convWeights(n)
	return w, err
}
