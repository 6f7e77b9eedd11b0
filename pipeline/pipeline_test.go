package pipeline

import (
	"os"
	"testing"

	"pimc/ir"
)

func TestPassOrder(t *testing.T) {
	if err := CheckOrder(AllPasses()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range AllPasses() {
		if seen[p.Name] {
			t.Errorf("pass %q appears twice", p.Name)
		}
		seen[p.Name] = true
		if p.Run == nil || p.Doc == "" {
			t.Errorf("pass %q lacks Run or Doc", p.Name)
		}
	}
	for _, c := range passOrder {
		for _, n := range c {
			if !seen[n] {
				t.Errorf("ordering constraint names unknown pass %q", n)
			}
		}
	}
	// A deliberately misordered table must be caught.
	bad := []ir.Pass{{Name: "fold-batchnorm"}, {Name: "fold-constants"}}
	if CheckOrder(bad) == nil {
		t.Error("CheckOrder accepted fold-batchnorm before fold-constants")
	}
}

// TestVerifyEachOnModels runs the pipeline with the verifier after every
// pass on the real models in testdata.
func TestVerifyEachOnModels(t *testing.T) {
	models := []string{
		"../testdata/models/cifar10/resnet20_bn_amandashi95.onnx",
		"../testdata/models/cifar10/resnet20_bnfolded_sclblonnx.onnx",
		"../testdata/models/cifar10/squeezenet_nhwc_emclab.onnx",
		"../testdata/models/mnist/mnist-8_onnxzoo_cntk.onnx",
		"../testdata/models/mnist/lenet5_ccoltong1215_b10.onnx",
		"../testdata/models/mnist/lenet5_bn1d_ccoltong1215_b10.onnx",
		"../testdata/models/fashion_mnist/cnn3_edwin19.onnx",
		"../testdata/conformance/models/resnet50/model.onnx",
		"../testdata/conformance/models/inception_v1/model.onnx",
	}
	for _, p := range models {
		t.Run(p, func(t *testing.T) {
			if _, err := os.Stat(p); err != nil {
				t.Fatal("testdata missing:", err)
			}
			if _, err := Load(p, Options{VerifyEach: true}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// BenchmarkLoadResNet50 measures import + canonicalisation + verification
// of ResNet-50 (target: under 150 ms and 300 MB peak).
func BenchmarkLoadResNet50(b *testing.B) {
	const p = "../testdata/conformance/models/resnet50/model.onnx"
	if _, err := os.Stat(p); err != nil {
		b.Skip("missing", p)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m, err := Load(p, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := ir.Verify(m); err != nil {
			b.Fatal(err)
		}
	}
}
