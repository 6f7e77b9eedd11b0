// Package modelgen writes torchvision-structured ResNet ONNX models with
// deterministic pseudo-random weights, for compile-speed benchmarks on
// networks the repository cannot ship (a ResNet-18 is 45 MB).
//
// The graphs follow torchvision's resnet18 / 50 / 101 / 152 as exported by
// torch.onnx at opset 13 without constant folding of BatchNorm: Conv (no
// bias) → BatchNormalization → Relu, a 3×3/2 MaxPool stem, residual Adds,
// GlobalAveragePool → Flatten → Gemm(transB=1). Input 1×3×224×224, output
// 1×1000. Weights are He-initialised (N(0, 2/fan_out), torchvision's
// kaiming_normal_ with mode="fan_out"); BatchNorm statistics are drawn
// around realistic trained values (γ ≈ 0.2–1, β ≈ ±0.1, running var ≈
// 0.05–2) so that every code path that reads them sees plausible numbers.
// The accuracy of such a model is meaningless; its size and structure are
// what the benchmarks need.
//
// It lives under cmd/pimc because only the benchmarks and the generator
// command (modelgen/gen) use it, and the layering rules allow cmd/pimc to
// import frontend/onnxpb.
package modelgen

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"google.golang.org/protobuf/proto"

	"pimc/frontend/onnxpb"
)

// Arch names a generated architecture.
type Arch string

const (
	ResNet18  Arch = "resnet18"
	ResNet50  Arch = "resnet50"
	ResNet101 Arch = "resnet101"
	ResNet152 Arch = "resnet152"
)

// onnxFloat is ONNX's FLOAT TensorProto data type.
const onnxFloat = 1

type builder struct {
	rng   *rand.Rand
	g     *onnxpb.GraphProto
	nodes int
}

// Model returns the model proto for arch. The same arch always gives the
// same model (fixed PCG seed).
func Model(arch Arch) (*onnxpb.ModelProto, error) {
	var blocks [4]int
	bottleneck := false
	switch arch {
	case ResNet18:
		blocks = [4]int{2, 2, 2, 2}
	case ResNet50:
		blocks = [4]int{3, 4, 6, 3}
		bottleneck = true
	case ResNet101:
		blocks = [4]int{3, 4, 23, 3}
		bottleneck = true
	case ResNet152:
		blocks = [4]int{3, 8, 36, 3}
		bottleneck = true
	default:
		return nil, fmt.Errorf("modelgen: unknown architecture %q (want resnet18, resnet50, resnet101 or resnet152)", arch)
	}
	b := &builder{rng: rand.New(rand.NewPCG(18, 50)), g: &onnxpb.GraphProto{Name: proto.String(string(arch))}}
	b.g.Input = []*onnxpb.ValueInfoProto{valueInfo("input", 1, 3, 224, 224)}
	x := b.convBN("input", "conv1", "bn1", 3, 64, 7, 2, 3)
	x = b.relu(x, "/relu/Relu")
	x = b.node("MaxPool", "/maxpool/MaxPool", []string{x}, ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1), ints("strides", 2, 2))
	in := 64
	for li, n := range blocks {
		planes := 64 << li
		for bi := 0; bi < n; bi++ {
			stride := 1
			if bi == 0 && li > 0 {
				stride = 2
			}
			pre := fmt.Sprintf("layer%d.%d", li+1, bi)
			if bottleneck {
				x, in = b.bottleneck(x, pre, in, planes, stride)
			} else {
				x, in = b.basic(x, pre, in, planes, stride)
			}
		}
	}
	x = b.node("GlobalAveragePool", "/avgpool/GlobalAveragePool", []string{x})
	x = b.node("Flatten", "/Flatten", []string{x}, intAttr("axis", 1))
	fcW := b.param("fc.weight", []int64{1000, int64(in)}, math.Sqrt(1/float64(in)))
	fcB := b.param("fc.bias", []int64{1000}, 0.01)
	out := b.node("Gemm", "/fc/Gemm", []string{x, fcW, fcB}, floatAttr("alpha", 1), floatAttr("beta", 1), intAttr("transB", 1))
	b.g.Output = []*onnxpb.ValueInfoProto{valueInfo(out, 1, 1000)}
	return &onnxpb.ModelProto{
		IrVersion:    proto.Int64(7),
		ProducerName: proto.String("pimc modelgen"),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph:        b.g,
	}, nil
}

// Bytes returns the serialized model.
func Bytes(arch Arch) ([]byte, error) {
	m, err := Model(arch)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// Write writes the model to path.
func Write(path string, arch Arch) error {
	data, err := Bytes(arch)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func (b *builder) basic(x, pre string, in, planes, stride int) (string, int) {
	y := b.convBN(x, pre+".conv1", pre+".bn1", in, planes, 3, stride, 1)
	y = b.relu(y, "/"+pre+"/relu/Relu")
	y = b.convBN(y, pre+".conv2", pre+".bn2", planes, planes, 3, 1, 1)
	id := x
	if stride != 1 || in != planes {
		id = b.convBN(x, pre+".downsample.0", pre+".downsample.1", in, planes, 1, stride, 0)
	}
	s := b.node("Add", "/"+pre+"/Add", []string{y, id})
	return b.relu(s, "/"+pre+"/relu_1/Relu"), planes
}

func (b *builder) bottleneck(x, pre string, in, planes, stride int) (string, int) {
	out := planes * 4
	y := b.convBN(x, pre+".conv1", pre+".bn1", in, planes, 1, 1, 0)
	y = b.relu(y, "/"+pre+"/relu/Relu")
	// torchvision's ResNet v1.5: the stride is on the 3×3 conv.
	y = b.convBN(y, pre+".conv2", pre+".bn2", planes, planes, 3, stride, 1)
	y = b.relu(y, "/"+pre+"/relu_1/Relu")
	y = b.convBN(y, pre+".conv3", pre+".bn3", planes, out, 1, 1, 0)
	id := x
	if stride != 1 || in != out {
		id = b.convBN(x, pre+".downsample.0", pre+".downsample.1", in, out, 1, stride, 0)
	}
	s := b.node("Add", "/"+pre+"/Add", []string{y, id})
	return b.relu(s, "/"+pre+"/relu_2/Relu"), out
}

// convBN adds Conv(no bias) → BatchNormalization and returns the BN output.
func (b *builder) convBN(x, conv, bn string, cin, cout, k, stride, pad int) string {
	w := b.param(conv+".weight", []int64{int64(cout), int64(cin), int64(k), int64(k)}, math.Sqrt(2/float64(cout*k*k)))
	y := b.node("Conv", scopeName(conv)+"/Conv", []string{x, w},
		ints("dilations", 1, 1), intAttr("group", 1), ints("kernel_shape", int64(k), int64(k)),
		ints("pads", int64(pad), int64(pad), int64(pad), int64(pad)), ints("strides", int64(stride), int64(stride)))
	c := int64(cout)
	gamma := b.tensor(bn+".weight", []int64{c}, func() float64 { return 0.2 + 0.8*b.rng.Float64() })
	beta := b.tensor(bn+".bias", []int64{c}, func() float64 { return 0.1 * b.rng.NormFloat64() })
	mean := b.tensor(bn+".running_mean", []int64{c}, func() float64 { return 0.2 * b.rng.NormFloat64() })
	vr := b.tensor(bn+".running_var", []int64{c}, func() float64 { return 0.05 + 2*b.rng.Float64() })
	return b.node("BatchNormalization", scopeName(bn)+"/BatchNormalization", []string{y, gamma, beta, mean, vr},
		floatAttr("epsilon", 1e-5), floatAttr("momentum", 0.9))
}

// scopeName turns a parameter prefix into torch.onnx's node scope:
// "layer1.0.conv1" → "/layer1/0/conv1".
func scopeName(p string) string { return "/" + strings.ReplaceAll(p, ".", "/") }

func (b *builder) relu(x, name string) string { return b.node("Relu", name, []string{x}) }

// param adds an N(0, std²) float initializer.
func (b *builder) param(name string, dims []int64, std float64) string {
	return b.tensor(name, dims, func() float64 { return std * b.rng.NormFloat64() })
}

// tensor adds a float initializer stored in raw_data.
func (b *builder) tensor(name string, dims []int64, gen func() float64) string {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	raw := make([]byte, 4*n)
	for i := int64(0); i < n; i++ {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(gen())))
	}
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{
		Name: proto.String(name), Dims: dims, DataType: proto.Int32(onnxFloat), RawData: raw})
	return name
}

// node adds a node with one output, named after torch.onnx's
// "/scope/Op_output_0" convention, and returns the output name.
func (b *builder) node(op, name string, ins []string, attrs ...*onnxpb.AttributeProto) string {
	b.nodes++
	out := name + "_output_0"
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{
		Name: proto.String(name), OpType: proto.String(op), Input: ins, Output: []string{out}, Attribute: attrs})
	return out
}

func valueInfo(name string, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{
			Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(onnxFloat), Shape: shape}}}}
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func ints(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func floatAttr(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}
