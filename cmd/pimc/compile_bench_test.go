package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"testing"

	"pimc/dualnet"
	"pimc/pipeline"
)

const (
	benchResNet50 = "../../testdata/conformance/models/resnet50/model.onnx"
	benchResNet20 = "../../testdata/models/cifar10/resnet20_bnfolded_sclblonnx.onnx"
)

func benchCompile(b *testing.B, model string, extra ...string) {
	dir := b.TempDir()
	args := append(append([]string{"-o", dir}, extra...), model)
	b.ResetTimer()
	for b.Loop() {
		if code := runCompile(args, io.Discard, io.Discard); code != 0 {
			b.Fatalf("compile exited %d", code)
		}
	}
}

func BenchmarkCompileResNet50(b *testing.B) {
	b.Run("no-baselines", func(b *testing.B) { benchCompile(b, benchResNet50, "-no-baselines") })
	b.Run("baselines", func(b *testing.B) { benchCompile(b, benchResNet50) })
}

func BenchmarkCompileResNet20(b *testing.B) {
	b.Run("no-baselines", func(b *testing.B) { benchCompile(b, benchResNet20, "-no-baselines") })
	b.Run("baselines", func(b *testing.B) { benchCompile(b, benchResNet20) })
}

// quantHashes runs compile's quantization steps on model exactly as
// compiler.run does (one calibration, then the chosen ratios and the r = 1
// and r = 0 baselines on clones) and returns the SHA-256 of each variant's
// printed quantized IR (q.String()).
func quantHashes(t *testing.T, model string) [3]string {
	t.Helper()
	fs := newFlagSet("compile", compileUsage, io.Discard)
	pf := addPipeFlags(fs)
	qf := addQuantFlags(fs)
	if _, err := parseArgs(fs, []string{model}); err != nil {
		t.Fatal(err)
	}
	o, err := pf.options(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := &compiler{path: model, o: o, qf: qf, stdout: io.Discard, stderr: io.Discard}
	m, err := pipeline.Load(model, o)
	if err != nil {
		t.Fatal(err)
	}
	cal, _, err := qf.calibrate(m, "test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	dualnet.SetCalibration(m, cal)
	ratios, err := qf.layerRatios(m)
	if err != nil {
		t.Fatal(err)
	}
	var out [3]string
	for i, r := range []dualnet.Ratios{ratios, dualnet.Uniform(1), dualnet.Uniform(0)} {
		q, err := c.quantize(m, r, i == 0)
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256([]byte(q.String()))
		out[i] = hex.EncodeToString(s[:])
	}
	return out
}

// TestCompileQuantGolden pins the quantized IR of compile's three variants
// (chosen, INT4-only, TB-only) on two models to hashes recorded before
// quantization work was cached across variants, and checks that
// quantizing twice in one process (caches warm) gives the same bytes.
func TestCompileQuantGolden(t *testing.T) {
	golden := []struct {
		model string
		ir    [3]string
	}{
		{benchResNet20, [3]string{"5480e674a50a760acf6139d3c328a746dabd8f2ece10fc130f3fba781cedddff", "4c930a2c79f486cdee2e84a5f9efb4f379644dd50abfc8c174cd5b0564498cab", "39a0012cb329171483ffb05946ea50f553013c998980d7a962ca76c540b5dbdf"}},
		{benchResNet50, [3]string{"fa41c9715e61e10ae4513dde6c71867f7f09f9b42a8ff61de43bad651275f30d", "547d15394fdf1940de1ecd6fc8d802064b3da65b0436faf715b69be8a05dff48", "0e4b50f878911406329c14da95e96402140e8757f89b1e6182d78ac40db79d3e"}},
	}
	for _, g := range golden {
		t.Run(filepath.Base(g.model), func(t *testing.T) {
			if testing.Short() && g.model == benchResNet50 {
				t.Skip("short")
			}
			h1 := quantHashes(t, g.model)
			h2 := quantHashes(t, g.model)
			if h1 != h2 {
				t.Errorf("second run differs:\n%q\n%q", h1, h2)
			}
			if h1 != g.ir {
				t.Errorf("quantized IR sha256 %q, golden %q", h1, g.ir)
			}
		})
	}
}
