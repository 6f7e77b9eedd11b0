package runtime_test

import (
	"os"
	"testing"

	"pimc/backend"
	"pimc/cost"
	"pimc/dualnet"
	"pimc/hw"
	"pimc/ir"
	"pimc/runtime"
)

// TestInceptionV1 compiles the ONNX-zoo Inception v1 of
// testdata/conformance (two LRNs, which the PPU runs with fop, between
// Dequantize and QuantizeInput) at r = 0.5 and checks the simulator against
// the quantized reference executor bit for bit, and its PPU and buffer
// counts against the cost model. AlexNet and ZFNet (LRN too, 61M and 62M weights) are too
// large for a unit test; docs/simulator.md gives their `pimc run --check`.
func TestInceptionV1(t *testing.T) {
	const path = "testdata/conformance/models/inception_v1/model.onnx"
	if testing.Short() {
		t.Skip("slow (a few seconds)")
	}
	if _, err := os.Stat(repoPath(path)); err != nil {
		t.Skip(err)
	}
	m := loadModel(t, path)
	cal, err := dualnet.Calibrate(m, randInputs(m, 2, 1), dualnet.CalibOptions{FitSamples: -1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	q := quantize(t, loadModel(t, path), cal, 0.5)
	lrn := 0
	for _, n := range q.Graph.Nodes {
		if n.Op == ir.OpLRN {
			lrn++
		}
	}
	if lrn == 0 {
		t.Fatal("quantized Inception v1 has no LRN")
	}
	h := hw.Default()
	ex, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: h, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := compile(t, q, h)
	in := randInputs(q, 1, 5)[0]
	want, err := ex.Run([]*ir.Tensor{in})
	if err != nil {
		t.Fatal(err)
	}
	got, st, err := p.NewMachine().Run([]runtime.Tensor{toRT(in)})
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, got, want)
	rep, err := cost.Evaluate(q, h, cost.Options{Mapping: backend.Options{}.Mapping()})
	if err != nil {
		t.Fatal(err)
	}
	// The PPU's counts agree exactly (the fop of each LRN: (size + 2)
	// operations per element). Refreshes are left out: they follow the
	// latency, and on this 57-layer net the simulator's eDRAM arrays live
	// long enough for ~12% more than the cost model's estimate, more than
	// compareCost's tolerance.
	sc, cc := st.Inference.Counts, rep.Totals.Counts
	for _, f := range []struct {
		what      string
		sim, cost int64
	}{
		{"ppu_ops", sc.PPUOps, cc.PPUOps}, {"macs", sc.MACs, cc.MACs},
		{"buffer_read_bits", sc.BufferReadBits, cc.BufferReadBits}, {"buffer_write_bits", sc.BufferWriteBits, cc.BufferWriteBits},
	} {
		if f.sim != f.cost {
			t.Errorf("%s: simulator %d, cost model %d", f.what, f.sim, f.cost)
		}
	}
}
