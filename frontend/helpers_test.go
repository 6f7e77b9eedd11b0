package frontend

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

// A tiny DSL for hand-built ModelProtos (Go's ssa func_test.go style).

func mkModel(opset int64, g *onnxpb.GraphProto) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:    proto.Int64(7),
		ProducerName: proto.String("pimc-test"),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		Graph:        g,
	}
}

func mkGraph(nodes []*onnxpb.NodeProto, inputs, outputs []*onnxpb.ValueInfoProto, inits ...*onnxpb.TensorProto) *onnxpb.GraphProto {
	return &onnxpb.GraphProto{Name: proto.String("g"), Node: nodes, Input: inputs, Output: outputs, Initializer: inits}
}

func mkNode(op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	n := &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: out, Attribute: attrs}
	if name != "" {
		n.Name = proto.String(name)
	}
	return n
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrStr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func attrTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

// vi declares a tensor value; a dim is an int (dim_value), a string
// (dim_param) or nil (unknown).
func vi(name string, dt ir.DType, dims ...any) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch d := d.(type) {
		case int:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		case string:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(dt)), Shape: shape}},
	}}
}

// tf is a float32 tensor stored in raw_data.
func tf(name string, dims []int64, vals ...float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(ir.Float32)), RawData: raw}
}

// ti is an int64 tensor stored in int64_data.
func ti(name string, dims []int64, vals ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(ir.Int64)), Int64Data: vals}
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func importModelProto(t testing.TB, m *onnxpb.ModelProto, o Options) (*ir.Module, error) {
	t.Helper()
	return ImportBytes(marshal(t, m), "test.onnx", o)
}

func mustImport(t testing.TB, m *onnxpb.ModelProto, o Options) *ir.Module {
	t.Helper()
	mod, err := importModelProto(t, m, o)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// opSeq lists the ops of the module's nodes in order.
func opSeq(m *ir.Module) string {
	var s []string
	for _, n := range m.Graph.Nodes {
		s = append(s, n.Op.String())
	}
	return strings.Join(s, " ")
}

func findConst(m *ir.Module, name string) *ir.Value {
	for _, c := range m.Graph.Consts {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// firstDir returns the first of dirs that exists, or "". Shared test data
// is looked up in the repository's copy under testdata/ first, then in
// ../../shared beside the repository (where CI puts it).
func firstDir(dirs ...string) string {
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return ""
}

func conformanceDir() string {
	return firstDir("../testdata/conformance", "../../shared/conformance")
}

// sharedModels lists every shared .onnx model, sorted: the conformance
// cases and the real models of shared/data (or their copies under the
// repository's testdata/). It skips the test when there are none.
func sharedModels(t testing.TB) []string {
	t.Helper()
	var files []string
	if conf := conformanceDir(); conf != "" {
		for _, sub := range []string{"node", "pytorch-converted", "pytorch-operator", "models"} {
			fs, _ := filepath.Glob(filepath.Join(conf, sub, "*", "model.onnx"))
			files = append(files, fs...)
		}
	}
	if d := firstDir("../testdata/models", "../../shared/data/models"); d != "" {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".onnx") {
				files = append(files, p)
			}
			return nil
		})
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Skip("no shared models found")
	}
	return files
}
