package dualnet

import (
	"math"
	"os"
	"testing"

	"pimc/dataset"
	"pimc/frontend"
	"pimc/hw"
	"pimc/ir"
	"pimc/passes"
)

// TestRealModelMatchesReference runs a real model (LeNet-5 with a
// BatchNorm1d, whose 400-input FC layer saturates a 5-bit ADC) through the
// executor and the naive reference with the default hardware.
func TestRealModelMatchesReference(t *testing.T) {
	const path = "../testdata/models/mnist/lenet5_bn1d_ccoltong1215_b10.onnx"
	if _, err := os.Stat(path); err != nil {
		t.Skip(err)
	}
	load := func() *ir.Module {
		m, err := frontend.Import(path, frontend.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []func(*ir.Module) error{passes.FoldConstants, passes.RemoveIdentity, passes.FoldBatchNorm,
			passes.FoldPad, passes.FuseMatMulAdd, passes.ResolveAutoPad, passes.EliminateDeadCode} {
			if err := p(m); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	m := load()
	sp, _ := dataset.Preset("mnist-01")
	set, err := dataset.Open("../testdata/data/mnist/t10k-images-idx3-ubyte.gz", dataset.Options{Spec: sp, Limit: 40})
	if err != nil {
		t.Fatal(err)
	}
	var ins []*ir.Tensor
	for i := 0; i < 40; i += 10 {
		var d []float32
		for j := 0; j < 10; j++ {
			d = set.AppendImage(d, i+j)
		}
		ins = append(ins, ir.FloatTensor(d, m.Graph.Inputs[0].Type.Shape...))
	}
	cal, err := Calibrate(m, ins[:2], CalibOptions{FitSamples: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []float64{1, 0.5} {
		q := load()
		if err := Split(q, Uniform(r), DefaultSplitOptions()); err != nil {
			t.Fatal(err)
		}
		if err := Quantize(q, cal, QuantOptions{}); err != nil {
			t.Fatal(err)
		}
		h := hw.Default()
		sram, edram := ADCs(h)
		e, err := NewExecutor(q, ExecOptions{HW: h})
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range ins[2:] {
			got, err := e.Run([]*ir.Tensor{in})
			if err != nil {
				t.Fatal(err)
			}
			want := refRun(t, q, []*ir.Tensor{in}, sram, edram)
			for j := range want[0].F {
				if math.Float32bits(got[0].F[j]) != math.Float32bits(want[0].F[j]) {
					t.Fatalf("r=%v input %d output %d: executor %v, reference %v", r, i, j, got[0].F[j], want[0].F[j])
				}
			}
		}
	}
}
