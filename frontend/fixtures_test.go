package frontend

import (
	"bytes"
	"encoding/binary"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

var update = flag.Bool("update", false, "rewrite the hand-made ONNX fixtures in testdata/onnx")

const fixtureDir = "../testdata/onnx"

// fixture is a small hand-made model kept under testdata/onnx, so that the
// importer is exercised from the repository alone; the files also seed
// FuzzImport.
type fixture struct {
	file    string
	model   func() *onnxpb.ModelProto
	extra   map[string][]byte // side files (external data), relative to the model
	ops     string            // node ops after import; "" when import must fail
	wantErr string
}

var fixtures = []fixture{
	{file: "tiny_cnn.onnx", model: tinyCNN, ops: "Conv BatchNormalization Relu MaxPool Reshape Gemm Softmax"},
	{file: "legacy_opset6.onnx", model: legacyOpset6, ops: "Clip Pad Add BatchNormalization Dropout Flatten Softmax Reshape"},
	{file: "f16_weights.onnx", model: f16Weights, ops: "Conv"},
	{file: "external/model.onnx", model: externalModel, extra: map[string][]byte{"weights.bin": externalWeights()}, ops: "MatMul"},
	{file: "unsupported.onnx", model: unsupportedModel, wantErr: `2 unsupported operators: Resize (nodes "up1", "up2"), NonMaxSuppression (node "nms")`},
}

// TestFixtures checks the committed fixtures match their builders (run
// with -update to rewrite them) and import as expected.
func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			path := filepath.Join(fixtureDir, fx.file)
			files := map[string][]byte{path: marshal(t, fx.model())}
			for name, data := range fx.extra {
				files[filepath.Join(filepath.Dir(path), name)] = data
			}
			for p, want := range files {
				if *update {
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, want, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				got, err := os.ReadFile(p)
				if err != nil {
					t.Fatalf("%v (run go test ./frontend -run TestFixtures -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s is stale; run go test ./frontend -run TestFixtures -update", p)
				}
			}
			m, err := Import(path, Options{})
			if fx.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), fx.wantErr) {
					t.Fatalf("error %v, want %q", err, fx.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := opSeq(m); got != fx.ops {
				t.Errorf("ops %q, want %q\n%s", got, fx.ops, m)
			}
		})
	}
}

// lcg fills deterministic pseudo-random weights in [-0.5, 0.5).
func lcg(n int, seed uint32) []float32 {
	out := make([]float32, n)
	for i := range out {
		seed = seed*1664525 + 1013904223
		out[i] = float32(seed>>8)/float32(1<<24) - 0.5
	}
	return out
}

func tinyCNN() *onnxpb.ModelProto {
	m := mkModel(9, mkGraph([]*onnxpb.NodeProto{
		mkNode("Conv", "conv1", []string{"input", "w1", "b1"}, []string{"c1"}, attrInts("kernel_shape", 3, 3), attrInts("pads", 1, 1, 1, 1)),
		mkNode("BatchNormalization", "bn1", []string{"c1", "g", "beta", "mean", "var"}, []string{"n1"}, attrFloat("epsilon", 1e-5)),
		mkNode("Relu", "relu1", []string{"n1"}, []string{"r1"}),
		mkNode("MaxPool", "pool1", []string{"r1"}, []string{"p1"}, attrInts("kernel_shape", 2, 2), attrInts("strides", 2, 2)),
		mkNode("Shape", "", []string{"p1"}, []string{"s"}),
		mkNode("Gather", "", []string{"s", "zero"}, []string{"batch"}, attrInt("axis", 0)),
		mkNode("Unsqueeze", "", []string{"batch"}, []string{"batch1"}, attrInts("axes", 0)),
		mkNode("Concat", "", []string{"batch1", "minus1"}, []string{"shape"}, attrInt("axis", 0)),
		mkNode("Reshape", "flatten", []string{"p1", "shape"}, []string{"f"}),
		mkNode("Gemm", "fc", []string{"f", "wfc", "bfc"}, []string{"logits"}, attrInt("transB", 1)),
		mkNode("Softmax", "prob", []string{"logits"}, []string{"output"}, attrInt("axis", 1)),
	}, []*onnxpb.ValueInfoProto{vi("input", ir.Float32, "N", 1, 8, 8)}, []*onnxpb.ValueInfoProto{vi("output", ir.Float32, "N", 10)},
		tf("w1", []int64{4, 1, 3, 3}, lcg(36, 1)...), tf("b1", []int64{4}, lcg(4, 2)...),
		tf("g", []int64{4}, 1, 1.5, 0.5, 2), tf("beta", []int64{4}, 0, 0.1, -0.1, 0.2),
		tf("mean", []int64{4}, lcg(4, 3)...), tf("var", []int64{4}, 1, 2, 0.5, 1),
		ti("zero", nil, 0), ti("minus1", []int64{1}, -1),
		tf("wfc", []int64{10, 64}, lcg(640, 4)...), tf("bfc", []int64{10}, lcg(10, 5)...)))
	m.ProducerName = proto.String("pimc fixture")
	return m
}

// legacyOpset6 is an IR-3 model in opset 6 that uses the legacy forms the
// importer rewrites; its initializers are also listed as inputs.
func legacyOpset6() *onnxpb.ModelProto {
	inits := []*onnxpb.TensorProto{
		tf("bias", []int64{3}, 0.1, 0.2, 0.3),
		tf("s", []int64{3}, 1, 1, 1), tf("b", []int64{3}, 0, 0, 0), tf("m", []int64{3}, 0, 0, 0), tf("v", []int64{3}, 1, 1, 1),
	}
	inputs := []*onnxpb.ValueInfoProto{vi("x", ir.Float32, 1, 3, 4, 4)}
	for _, t := range inits {
		inputs = append(inputs, vi(t.GetName(), ir.Float32, 3))
	}
	m := mkModel(6, mkGraph([]*onnxpb.NodeProto{
		mkNode("Clip", "clip", []string{"x"}, []string{"a"}, attrFloat("min", 0), attrFloat("max", 6)),
		mkNode("Pad", "pad", []string{"a"}, []string{"b1"}, attrInts("pads", 0, 0, 1, 1, 0, 0, 1, 1), attrStr("mode", "constant"), attrFloat("value", 0)),
		mkNode("Add", "add", []string{"b1", "bias"}, []string{"c"}, attrInt("broadcast", 1), attrInt("axis", 1)),
		mkNode("BatchNormalization", "bn", []string{"c", "s", "b", "m", "v"}, []string{"d"}, attrInt("is_test", 1), attrInt("spatial", 1)),
		mkNode("Dropout", "drop", []string{"d"}, []string{"e"}, attrInt("is_test", 1), attrFloat("ratio", 0.5)),
		mkNode("Softmax", "sm", []string{"e"}, []string{"y"}, attrInt("axis", 1)),
	}, inputs, []*onnxpb.ValueInfoProto{vi("y", ir.Float32, 1, 3, 6, 6)}, inits...))
	m.IrVersion = proto.Int64(3)
	return m
}

func f16Weights() *onnxpb.ModelProto {
	w := lcg(2*3*3*3, 7)
	raw := make([]byte, 2*len(w))
	for i, v := range w {
		binary.LittleEndian.PutUint16(raw[2*i:], f32ToF16(v))
	}
	return mkModel(13, mkGraph([]*onnxpb.NodeProto{
		mkNode("Conv", "conv", []string{"x", "w"}, []string{"y"}, attrInts("kernel_shape", 3, 3)),
	}, []*onnxpb.ValueInfoProto{vi("x", ir.Float16, "batch", 3, 5, 5)}, []*onnxpb.ValueInfoProto{vi("y", ir.Float16, "batch", 2, 3, 3)},
		&onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{2, 3, 3, 3}, DataType: proto.Int32(int32(ir.Float16)), RawData: raw}))
}

func externalWeights() []byte {
	data := make([]byte, 4096+4*12)
	for i, v := range lcg(12, 9) {
		binary.LittleEndian.PutUint32(data[4096+4*i:], math.Float32bits(v))
	}
	return data
}

func externalModel() *onnxpb.ModelProto {
	return mkModel(13, mkGraph([]*onnxpb.NodeProto{
		mkNode("MatMul", "mm", []string{"x", "w"}, []string{"y"}),
	}, []*onnxpb.ValueInfoProto{vi("x", ir.Float32, 2, 3)}, []*onnxpb.ValueInfoProto{vi("y", ir.Float32, 2, 4)},
		&onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{3, 4}, DataType: proto.Int32(int32(ir.Float32)),
			DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(), ExternalData: []*onnxpb.StringStringEntryProto{
				{Key: proto.String("location"), Value: proto.String("weights.bin")},
				{Key: proto.String("offset"), Value: proto.String("4096")},
				{Key: proto.String("length"), Value: proto.String("48")},
			}}))
}

func unsupportedModel() *onnxpb.ModelProto {
	return mkModel(13, mkGraph([]*onnxpb.NodeProto{
		mkNode("Resize", "up1", []string{"x", "", "scales"}, []string{"a"}),
		mkNode("NonMaxSuppression", "nms", []string{"a", "a"}, []string{"b"}),
		mkNode("Resize", "up2", []string{"b", "", "scales"}, []string{"y"}),
	}, []*onnxpb.ValueInfoProto{vi("x", ir.Float32, 1, 3, 4, 4)}, []*onnxpb.ValueInfoProto{vi("y", ir.Float32)},
		tf("scales", []int64{4}, 1, 1, 2, 2)))
}
