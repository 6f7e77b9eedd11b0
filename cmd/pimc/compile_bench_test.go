package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"testing"

	"pimc/cmd/pimc/internal/modelgen"
	"pimc/dualnet"
	"pimc/pipeline"
)

const (
	benchResNet50 = "../../testdata/conformance/models/resnet50/model.onnx"
	benchResNet20 = "../../testdata/models/cifar10/resnet20_bnfolded_sclblonnx.onnx"
	// The same network with its BatchNorms: calibrated from their
	// statistics, and its own mapping.
	benchResNet20BN = "../../testdata/models/cifar10/resnet20_bn_amandashi95.onnx"
)

func benchCompile(b *testing.B, model string, extra ...string) {
	dir := b.TempDir()
	args := append(append([]string{"-o", dir}, extra...), model)
	// Every iteration solves its allocations afresh, as a `pimc compile`
	// process does: mapping.MapDual's memo is keyed by the *hw.Hardware
	// each compile loads.
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

// BenchmarkCompileResNet18 compiles a generated torchvision-structured
// ResNet-18 (package modelgen; 45 MB, so it is written to a temporary
// directory outside the timer rather than committed) as `pimc compile`
// does, baselines included. Peak RSS of the CLI on the same model:
//
//	go run ./cmd/pimc/internal/modelgen/gen -o /tmp/resnet18.onnx resnet18
//	go build -o /tmp/pimc ./cmd/pimc
//	/usr/bin/time -v /tmp/pimc compile -o /tmp/r18 /tmp/resnet18.onnx
func BenchmarkCompileResNet18(b *testing.B) {
	model := filepath.Join(b.TempDir(), "resnet18.onnx")
	if err := modelgen.Write(model, modelgen.ResNet18); err != nil {
		b.Fatal(err)
	}
	b.Run("no-baselines", func(b *testing.B) { benchCompile(b, model, "-no-baselines") })
	b.Run("baselines", func(b *testing.B) { benchCompile(b, model) })
}

func BenchmarkCompileResNet20(b *testing.B) {
	b.Run("no-baselines", func(b *testing.B) { benchCompile(b, benchResNet20, "-no-baselines") })
	b.Run("baselines", func(b *testing.B) { benchCompile(b, benchResNet20) })
}

func BenchmarkCompileResNet20BN(b *testing.B) {
	b.Run("no-baselines", func(b *testing.B) { benchCompile(b, benchResNet20BN, "-no-baselines") })
	b.Run("baselines", func(b *testing.B) { benchCompile(b, benchResNet20BN) })
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
// ResNet-50's hashes were re-recorded when data-free calibration from
// BatchNorm statistics stopped running the model (its histograms are now
// derived analytically); with the old calibration the new weight-scale
// search and TWN memo reproduce the old hashes exactly. Both were
// re-recorded again when the printed checksum of int8 constants changed to
// one byte per element (the previous print code reproduces the previous
// hashes on the same tree).
func TestCompileQuantGolden(t *testing.T) {
	golden := []struct {
		model string
		ir    [3]string
	}{
		{benchResNet20, [3]string{"2fdd2d33237e293c7d81983fa2e50c4c0dea060feee9582bad362f53405eada6", "cab741f952b4fb15135ac39e35699453bc63d813c963431f4fb2cba577577113", "ef3a0b9da829a0c3fa684c4799c60d33c0001b82b95cf0810ac73e0557b120d4"}},
		{benchResNet50, [3]string{"5bdab149d88d94e7beac84359ea3635a40804012de3f48cc2fea832d3793c50a", "3aeffea70fe051c81768245129ce98525985fd07910865a29330fea0ec70797b", "456ed7ce3f867b957f6ba7448e152bec5a1e3cd665f731865dbbd24f2df78734"}},
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
