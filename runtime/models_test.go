package runtime_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"pimc/dataset"
	"pimc/dualnet"
	"pimc/frontend"
	"pimc/hw"
	"pimc/ir"
	"pimc/passes"
	"pimc/runtime"
)

// The real models of testdata/models with their test data and presets
// (testdata/models/README.md).
var realModels = []struct {
	name, model, data, preset string
}{
	{"lenet5", "testdata/models/mnist/lenet5_ccoltong1215_b10.onnx", "testdata/data/mnist/t10k-images-idx3-ubyte.gz", "mnist"},
	{"lenet5-bn1d", "testdata/models/mnist/lenet5_bn1d_ccoltong1215_b10.onnx", "testdata/data/mnist/t10k-images-idx3-ubyte.gz", "mnist-01"},
	{"mnist-8", "testdata/models/mnist/mnist-8_onnxzoo_cntk.onnx", "testdata/data/mnist/t10k-images-idx3-ubyte.gz", "mnist-raw"},
	{"cnn3", "testdata/models/fashion_mnist/cnn3_edwin19.onnx", "testdata/data/fashion_mnist/t10k-images-idx3-ubyte.gz", "fashion-mnist"},
	{"resnet20-bn", "testdata/models/cifar10/resnet20_bn_amandashi95.onnx", "testdata/data/cifar10/cifar10_test_first100_lossless_eran.csv", "cifar10"},
	{"resnet20", "testdata/models/cifar10/resnet20_bnfolded_sclblonnx.onnx", "testdata/data/cifar10/cifar10_test_first100_lossless_eran.csv", "cifar10"},
	{"squeezenet", "testdata/models/cifar10/squeezenet_nhwc_emclab.onnx", "testdata/data/cifar10/cifar10_test_first100_lossless_eran.csv", "cifar10-01"},
}

func repoPath(p string) string { return filepath.Join("..", p) }

// loadModel imports and canonicalises a model as pimc eval does.
func loadModel(t testing.TB, path string) *ir.Module {
	t.Helper()
	m, err := frontend.Import(repoPath(path), frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dualnet.RecordBNStats(m); err != nil {
		t.Fatal(err)
	}
	for _, p := range []func(*ir.Module) error{passes.FoldConstants, passes.RemoveIdentity, passes.ResolveAutoPad,
		passes.FuseMatMulAdd, passes.FoldBatchNorm, passes.FoldPad, passes.EliminateDeadCode} {
		if err := p(m); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// images returns model-input tensors of real test images.
func images(t testing.TB, m *ir.Module, path, preset string, limit int) []*ir.Tensor {
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
	for i := 0; i+batch <= set.Len(); i += batch {
		var data []float32
		for j := 0; j < batch; j++ {
			data = set.AppendImage(data, i+j)
		}
		ins = append(ins, ir.FloatTensor(data, shape...))
	}
	return ins
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

// TestBitExactRealModels compiles every real model at r = 0, 0.5 and 1
// with ideal and 5-bit ADCs and checks the simulator against the quantized
// reference executor on real test images, bit for bit.
func TestBitExactRealModels(t *testing.T) {
	ideal := hw.Default()
	ideal.SRAM.ADCIdeal, ideal.EDRAM.ADCIdeal = true, true
	hws := []struct {
		name string
		h    *hw.Hardware
	}{{"adc5", hw.Default()}, {"ideal", ideal}}
	perCase := 4
	if testing.Short() {
		perCase = 1
	}
	for _, mc := range realModels {
		t.Run(mc.name, func(t *testing.T) {
			if _, err := os.Stat(repoPath(mc.model)); err != nil {
				t.Skip(err)
			}
			t.Parallel()
			m := loadModel(t, mc.model)
			ins := images(t, m, mc.data, mc.preset, 40)
			cal, err := dualnet.Calibrate(m, ins[:min(len(ins), 8)], dualnet.CalibOptions{FitSamples: 4, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			test := ins[len(ins)-min(len(ins), perCase):]
			for _, r := range []float64{0, 0.5, 1} {
				q := quantize(t, loadModel(t, mc.model), cal, r)
				for _, hc := range hws {
					t.Run(fmt.Sprintf("r=%g/%s", r, hc.name), func(t *testing.T) {
						ex, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: hc.h, Workers: 1})
						if err != nil {
							t.Fatal(err)
						}
						p, data := compile(t, q, hc.h)
						saveSeed(t, mc.name, r, hc.name, data)
						mach := p.NewMachine()
						for _, in := range test {
							want, err := ex.Run([]*ir.Tensor{in})
							if err != nil {
								t.Fatal(err)
							}
							got, _, err := mach.Run([]runtime.Tensor{toRT(in)})
							if err != nil {
								t.Fatal(err)
							}
							sameBits(t, got, want)
						}
					})
				}
			}
		})
	}
}

var seedMu sync.Mutex

// saveSeed writes a few real programs as fuzz seeds for backend/isa and
// runtime when PIMC_WRITE_SEEDS=1.
func saveSeed(t testing.TB, model string, r float64, adc string, data []byte) {
	if os.Getenv("PIMC_WRITE_SEEDS") != "1" || r != 0.5 || adc != "adc5" || len(data) > 100<<10 || model == "lenet5-bn1d" {
		return
	}
	seedMu.Lock()
	defer seedMu.Unlock()
	for _, dir := range []string{"../backend/isa/testdata", "testdata"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, model+".pimb"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
