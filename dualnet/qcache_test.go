package dualnet_test

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"

	"pimc/dualnet"
	"pimc/ir"
)

// TestQuantizeCacheExact checks that the fit cache and the incremental
// sequential bias correction change nothing: for several ratio vectors,
// quantizing a clone of one calibrated ResNet-20 (the cache shared, warm
// after the first, two clones at a time so that runs also wait on each
// other's entries) gives the same module, constant by constant and bit for
// bit, as QuantizeRef (the previous fit and seqCorrect: a fresh float pass
// per run, the whole network once per corrected layer).
func TestQuantizeCacheExact(t *testing.T) {
	const model = "testdata/models/cifar10/resnet20_bnfolded_sclblonnx.onnx"
	if _, err := os.Stat(repoPath(model)); err != nil {
		t.Skip("no ResNet-20")
	}
	m := loadModel(t, model)
	ins, _ := images(t, m, "testdata/data/cifar10/cifar10_test_first100_lossless_eran.csv", "cifar10", 24)
	cal, err := dualnet.Calibrate(m, ins, dualnet.CalibOptions{FitSamples: 12})
	if err != nil {
		t.Fatal(err)
	}
	dualnet.SetCalibration(m, cal)
	layers := dualnet.Layers(m)
	rng := rand.New(rand.NewPCG(1, 2))
	ratios := []dualnet.Ratios{dualnet.Uniform(0.5), dualnet.Uniform(1), dualnet.Uniform(0)}
	for i := 0; i < 3; i++ {
		r := dualnet.Ratios{Default: 1, PerLayer: map[string]float64{}}
		for _, l := range layers[1 : len(layers)-1] {
			r.PerLayer[l] = float64(rng.IntN(9)) / 8
		}
		ratios = append(ratios, r)
	}
	opts := []dualnet.QuantOptions{{}, {NoFit: true}, {NoBiasCorrection: true}}
	quant := func(r dualnet.Ratios, o dualnet.QuantOptions, ref bool) (*ir.Module, error) {
		q := m.Clone()
		if err := dualnet.Split(q, r, dualnet.DefaultSplitOptions()); err != nil {
			return nil, err
		}
		f := dualnet.Quantize
		if ref {
			f = dualnet.QuantizeRef
		}
		return q, f(q, nil, o)
	}
	for i, r := range ratios {
		o := opts[i%len(opts)]
		want, err := quant(r, o, true)
		if err != nil {
			t.Fatal(err)
		}
		var got [2]*ir.Module
		var errs [2]error
		var wg sync.WaitGroup
		for j := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[j], errs[j] = quant(r, o, false)
			}()
		}
		wg.Wait()
		for j := range got {
			if errs[j] != nil {
				t.Fatal(errs[j])
			}
			if d := moduleDiff(want, got[j]); d != "" {
				t.Errorf("ratios %d (%v), options %+v: %s", i, r, o, d)
			}
		}
	}
}

// moduleDiff compares two modules' text and every constant's contents.
func moduleDiff(a, b *ir.Module) string {
	if a.String() != b.String() {
		return "module text differs"
	}
	for i, v := range a.Graph.Consts {
		x, y := v.Const, b.Graph.Consts[i].Const
		if len(x.F) != len(y.F) || len(x.I) != len(y.I) || len(x.I8) != len(y.I8) {
			return v.Name + ": sizes differ"
		}
		if !slices.Equal(x.I8, y.I8) {
			return v.Name + ": contents differ"
		}
		for j := range x.F {
			if math.Float32bits(x.F[j]) != math.Float32bits(y.F[j]) {
				return v.Name + ": contents differ"
			}
		}
		for j := range x.I {
			if x.I[j] != y.I[j] {
				return v.Name + ": contents differ"
			}
		}
	}
	return ""
}
