package dualnet_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"pimc/dataset"
	"pimc/dualnet"
	"pimc/frontend"
	"pimc/hw"
	"pimc/interp"
	"pimc/ir"
	"pimc/passes"
)

// These tests run real models from testdata/ (copies of ../shared/data).

func repoPath(p string) string { return filepath.Join("..", p) }

// loadModel imports and canonicalises a model (recording BatchNorm
// statistics first, as eval does).
func loadModel(t testing.TB, path string) *ir.Module {
	t.Helper()
	m, err := frontend.Import(repoPath(path), frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dualnet.RecordBNStats(m); err != nil {
		t.Fatal(err)
	}
	for _, p := range []func(*ir.Module) error{passes.FoldConstants, passes.RemoveIdentity, passes.FoldBatchNorm,
		passes.FoldPad, passes.FuseMatMulAdd, passes.ResolveAutoPad, passes.EliminateDeadCode} {
		if err := p(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	return m
}

// images opens a data slice and returns model-input tensors of batch
// images each, with their labels.
func images(t testing.TB, m *ir.Module, path, preset string, limit int) ([]*ir.Tensor, [][]int) {
	t.Helper()
	sp, err := dataset.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	shape := m.Graph.Inputs[0].Type.Shape
	if shape[3] == 3 {
		sp.Layout = dataset.NHWC
	}
	set, err := dataset.Open(repoPath(path), dataset.Options{Spec: sp, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	batch := int(shape[0])
	var ins []*ir.Tensor
	var labels [][]int
	for i := 0; i+batch <= set.Len(); i += batch {
		var data []float32
		var ls []int
		for j := 0; j < batch; j++ {
			data = set.AppendImage(data, i+j)
			ls = append(ls, set.Label(i+j))
		}
		ins = append(ins, ir.FloatTensor(data, shape...))
		labels = append(labels, ls)
	}
	return ins, labels
}

func top1(outs []*ir.Tensor, labels [][]int) float64 {
	c, n := 0, 0
	for i, o := range outs {
		rows := len(labels[i])
		k := int(o.Len()) / rows
		for r, l := range labels[i] {
			best := 0
			for j := 1; j < k; j++ {
				if o.F[r*k+j] > o.F[r*k+best] {
					best = j
				}
			}
			if best == l {
				c++
			}
			n++
		}
	}
	return float64(c) / float64(n)
}

func quantize(t testing.TB, m *ir.Module, cal *dualnet.Calibration, r float64) *ir.Module {
	t.Helper()
	if err := dualnet.Split(m, dualnet.Uniform(r), dualnet.DefaultSplitOptions()); err != nil {
		t.Fatal(err)
	}
	if err := dualnet.Quantize(m, cal, dualnet.QuantOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func runAll(t testing.TB, e *dualnet.Executor, ins []*ir.Tensor) []*ir.Tensor {
	t.Helper()
	var batch [][]*ir.Tensor
	for _, in := range ins {
		batch = append(batch, []*ir.Tensor{in})
	}
	outs, err := e.RunBatch(batch)
	if err != nil {
		t.Fatal(err)
	}
	res := make([]*ir.Tensor, len(outs))
	for i, o := range outs {
		res[i] = o[0]
	}
	return res
}

// TestAccuracySanity checks INT4-only (r = 1, exact ADC) against FP32 on
// the MNIST and Fashion-MNIST slices in testdata: the stated margin is 1.5
// points on 300 images (the 1-point target is for the full test
// sets, reported in docs/accuracy.md).
func TestAccuracySanity(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cases := []struct{ model, data, preset string }{
		{"testdata/models/mnist/lenet5_ccoltong1215_b10.onnx", "testdata/data/mnist/t10k-images-idx3-ubyte.gz", "mnist"},
		{"testdata/models/mnist/mnist-8_onnxzoo_cntk.onnx", "testdata/data/mnist/t10k-images-idx3-ubyte.gz", "mnist-raw"},
		{"testdata/models/fashion_mnist/cnn3_edwin19.onnx", "testdata/data/fashion_mnist/t10k-images-idx3-ubyte.gz", "fashion-mnist"},
	}
	ideal := hw.Default()
	ideal.SRAM.ADCIdeal, ideal.EDRAM.ADCIdeal = true, true
	for _, tc := range cases {
		t.Run(filepath.Base(tc.model), func(t *testing.T) {
			if _, err := os.Stat(repoPath(tc.model)); err != nil {
				t.Skip(err)
			}
			m := loadModel(t, tc.model)
			ins, labels := images(t, m, tc.data, tc.preset, 300)
			var fouts []*ir.Tensor
			for _, in := range ins {
				o, err := interp.Run(m, []*ir.Tensor{in})
				if err != nil {
					t.Fatal(err)
				}
				fouts = append(fouts, o[0])
			}
			fp := top1(fouts, labels)
			cal, err := dualnet.Calibrate(m, ins[:min(len(ins), 20)], dualnet.CalibOptions{FitSamples: 8})
			if err != nil {
				t.Fatal(err)
			}
			q := quantize(t, loadModel(t, tc.model), cal, 1)
			e, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: ideal})
			if err != nil {
				t.Fatal(err)
			}
			q4 := top1(runAll(t, e, ins), labels)
			t.Logf("fp32 %.4f int4 %.4f", fp, q4)
			if q4 < fp-0.015 {
				t.Errorf("INT4-only top-1 %.4f more than 1.5 points below FP32 %.4f", q4, fp)
			}
		})
	}
}

// BenchmarkResNet20Quantized measures the quantized executor's throughput
// (images/s, all cores) on ResNet-20 with CIFAR-10 test images.
// PIMC_BENCH_MODEL (a repository-relative path) selects another ResNet-20
// export: bench/resnet20.sh times ONNX Runtime on the same file.
func BenchmarkResNet20Quantized(b *testing.B) {
	model := "testdata/models/cifar10/resnet20_bnfolded_sclblonnx.onnx"
	if m := os.Getenv("PIMC_BENCH_MODEL"); m != "" {
		model = m
	}
	if _, err := os.Stat(repoPath(model)); err != nil {
		b.Skip(err)
	}
	m := loadModel(b, model)
	ins, _ := images(b, m, "testdata/data/cifar10/cifar10_test_first100_lossless_eran.csv", "cifar10", 100)
	cal, err := dualnet.Calibrate(m, ins[:32], dualnet.CalibOptions{FitSamples: 8})
	if err != nil {
		b.Fatal(err)
	}
	ideal := hw.Default()
	ideal.SRAM.ADCIdeal, ideal.EDRAM.ADCIdeal = true, true
	for _, c := range []struct {
		r  float64
		hw *hw.Hardware
	}{{0.5, hw.Default()}, {1, hw.Default()}, {0, hw.Default()}, {0.5, ideal}, {1, ideal}} {
		adc := "adc5"
		if c.hw.SRAM.ADCIdeal {
			adc = "ideal"
		}
		b.Run(fmt.Sprintf("r=%g/%s", c.r, adc), func(b *testing.B) {
			q := quantize(b, loadModel(b, model), cal, c.r)
			e, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: c.hw})
			if err != nil {
				b.Fatal(err)
			}
			runAll(b, e, ins[:4])
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			n := 0
			for i := 0; i < b.N; i++ {
				runAll(b, e, ins)
				n += len(ins)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "images/s")
			// CPU time per image: on a loaded machine, the throughput two
			// idle cores would give is 2 / this.
			b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(n), "cpu-ms/image")
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestDataFreeFromBatchNorm: a model with BatchNorm calibrates without
// data from the recorded BN statistics and still classifies.
func TestDataFreeFromBatchNorm(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const model = "testdata/models/cifar10/resnet20_bn_amandashi95.onnx"
	if _, err := os.Stat(repoPath(model)); err != nil {
		t.Skip(err)
	}
	m := loadModel(t, model)
	var warned []string
	cal, err := dualnet.DataFree(m, dualnet.CalibOptions{FitSamples: 4, Synthetic: 8, Warn: func(s string) { warned = append(warned, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if cal.Source != "bn" || len(warned) != 0 {
		t.Fatalf("source %q, warnings %v", cal.Source, warned)
	}
	ins, labels := images(t, m, "testdata/data/cifar10/cifar10_test_first100_lossless_eran.csv", "cifar10", 50)
	q := quantize(t, loadModel(t, model), cal, 1)
	e, err := dualnet.NewExecutor(q, dualnet.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	acc := top1(runAll(t, e, ins), labels)
	t.Logf("data-free INT4-only top-1 on 50 images: %.2f", acc)
	if acc < 0.3 {
		t.Errorf("data-free INT4-only top-1 %.2f", acc)
	}
}
