package interp_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"pimc/interp"
	"pimc/ir"
	"pimc/passes"
)

// rampInput is the conformance models' input: arange(n)/n.
func rampInput(v *ir.Value) *ir.Tensor {
	t := ir.NewTensor(v.Type.DType, v.Type.Shape...)
	for i := range t.F {
		t.F[i] = float32(i) / float32(len(t.F))
	}
	return t
}

// benchModel times Session.Run on one conformance model after import and
// constant folding; with foldBN, BatchNormalization is also folded into
// the convolutions (ONNX Runtime's default optimizations do the same).
func benchModel(b *testing.B, name string, foldBN bool) {
	root := conformanceDir()
	if root == "" {
		b.Skip("no conformance models")
	}
	m, err := prepare(filepath.Join(root, "models", name, "model.onnx"))
	if err != nil {
		b.Fatal(err)
	}
	if foldBN {
		if err := passes.FoldBatchNorm(m); err != nil {
			b.Fatal(err)
		}
	}
	in := []*ir.Tensor{rampInput(m.Graph.Inputs[0])}
	s := interp.NewSession(m)
	if _, err := s.Run(in); err != nil { // warm-up: packs the weights
		b.Fatal(err)
	}
	start := interp.ProcessCPU()
	var times []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.Run(in); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	interp.ReportCPU(b, start)
	// The median and the minimum are steadier than the mean on a shared
	// machine; bench/run.sh reads them.
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2])/1e6, "median-ms")
	b.ReportMetric(float64(times[0])/1e6, "min-ms")
}

// BenchmarkResNet50 is FP32 ResNet-50 on one 224×224 image; bench/run.sh
// compares it with ONNX Runtime.
func BenchmarkResNet50(b *testing.B) {
	b.Run("fold", func(b *testing.B) { benchModel(b, "resnet50", false) })
	b.Run("fold+bn", func(b *testing.B) { benchModel(b, "resnet50", true) })
}

// A session gives the same results as Run, and the same on every run.
func TestSessionMatchesRun(t *testing.T) {
	root := conformanceDir()
	if root == "" || testing.Short() {
		t.Skip("no conformance models or -short")
	}
	m, err := prepare(filepath.Join(root, "models", "squeezenet", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	in := []*ir.Tensor{rampInput(m.Graph.Inputs[0])}
	want, err := interp.Run(m, in)
	if err != nil {
		t.Fatal(err)
	}
	s := interp.NewSession(m)
	for run := 0; run < 2; run++ {
		got, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			for j := range want[i].F {
				if got[i].F[j] != want[i].F[j] {
					t.Fatalf("run %d output %d[%d] = %g, want %g", run, i, j, got[i].F[j], want[i].F[j])
				}
			}
		}
	}
}
