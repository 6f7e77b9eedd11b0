package frontend

import (
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

// TestCanonicalise checks that each legacy form is rewritten into the
// IR's canonical form with the same meaning.
func TestCanonicalise(t *testing.T) {
	x4 := vi("x", ir.Float32, 2, 3, 4, 5)
	y := vi("y", ir.Float32)
	tests := []struct {
		name  string
		model *onnxpb.ModelProto
		opts  Options
		ops   string // expected node ops in order
		check func(t *testing.T, m *ir.Module)
	}{
		{
			name: "clip opset 6 attributes become inputs",
			model: mkModel(6, mkGraph([]*onnxpb.NodeProto{mkNode("Clip", "c", []string{"x"}, []string{"y"}, attrFloat("min", -1), attrFloat("max", 2))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Clip",
			check: func(t *testing.T, m *ir.Module) {
				n := m.Graph.Nodes[0]
				wantConstF(t, n.In(1), []float32{-1}, nil)
				wantConstF(t, n.In(2), []float32{2}, nil)
				wantNoAttrs(t, n)
			},
		},
		{
			name: "clip opset 6 with only max leaves min omitted",
			model: mkModel(6, mkGraph([]*onnxpb.NodeProto{mkNode("Clip", "c", []string{"x"}, []string{"y"}, attrFloat("max", 6))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Clip",
			check: func(t *testing.T, m *ir.Module) {
				n := m.Graph.Nodes[0]
				if n.In(1) != nil {
					t.Errorf("min input = %v, want omitted", n.In(1).Name)
				}
				wantConstF(t, n.In(2), []float32{6}, nil)
			},
		},
		{
			name: "clip opset 11 inputs stay",
			model: mkModel(11, mkGraph([]*onnxpb.NodeProto{mkNode("Clip", "c", []string{"x", "lo", "hi"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y}, tf("lo", nil, -1), tf("hi", nil, 2))),
			ops: "Clip",
			check: func(t *testing.T, m *ir.Module) {
				n := m.Graph.Nodes[0]
				wantConstF(t, n.In(1), []float32{-1}, nil)
				wantConstF(t, n.In(2), []float32{2}, nil)
			},
		},
		{
			name: "pad opset 2 pads and value become inputs",
			model: mkModel(2, mkGraph([]*onnxpb.NodeProto{mkNode("Pad", "p", []string{"x"}, []string{"y"},
				attrInts("pads", 0, 0, 1, 2, 0, 0, 3, 4), attrStr("mode", "constant"), attrFloat("value", 1.5))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Pad",
			check: func(t *testing.T, m *ir.Module) {
				n := m.Graph.Nodes[0]
				wantConstI(t, n.In(1), []int64{0, 0, 1, 2, 0, 0, 3, 4})
				wantConstF(t, n.In(2), []float32{1.5}, nil)
				if n.Str("mode", "") != "constant" {
					t.Errorf("mode = %q", n.Str("mode", ""))
				}
				wantShape(t, n.Out(0), 2, 3, 8, 11)
			},
		},
		{
			name: "pad opset 1 paddings",
			model: mkModel(1, mkGraph([]*onnxpb.NodeProto{mkNode("Pad", "p", []string{"x"}, []string{"y"},
				attrInts("paddings", 0, 0, 1, 1, 0, 0, 1, 1), attrStr("mode", "edge"))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Pad",
			check: func(t *testing.T, m *ir.Module) {
				wantShape(t, m.Graph.Nodes[0].Out(0), 2, 3, 6, 7)
			},
		},
		{
			name: "squeeze opset 11 axes attribute becomes input",
			model: mkModel(11, mkGraph([]*onnxpb.NodeProto{mkNode("Squeeze", "s", []string{"x"}, []string{"y"}, attrInts("axes", -1, 1))},
				[]*onnxpb.ValueInfoProto{vi("x", ir.Float32, 2, 1, 3, 1)}, []*onnxpb.ValueInfoProto{y})),
			ops: "Squeeze",
			check: func(t *testing.T, m *ir.Module) {
				n := m.Graph.Nodes[0]
				wantConstI(t, n.In(1), []int64{-1, 1})
				wantShape(t, n.Out(0), 2, 3)
			},
		},
		{
			name: "unsqueeze opset 11",
			model: mkModel(11, mkGraph([]*onnxpb.NodeProto{mkNode("Unsqueeze", "u", []string{"x"}, []string{"y"}, attrInts("axes", 0, 5))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Unsqueeze",
			check: func(t *testing.T, m *ir.Module) {
				wantShape(t, m.Graph.Nodes[0].Out(0), 1, 2, 3, 4, 5, 1)
			},
		},
		{
			name: "reduce mean opset 11 and reduce sum opset 12",
			model: mkModel(12, mkGraph([]*onnxpb.NodeProto{
				mkNode("ReduceMean", "rm", []string{"x"}, []string{"a"}, attrInts("axes", 2, 3), attrInt("keepdims", 0)),
				mkNode("ReduceSum", "rs", []string{"a"}, []string{"y"}, attrInts("axes", 1)),
			}, []*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "ReduceMean ReduceSum",
			check: func(t *testing.T, m *ir.Module) {
				wantConstI(t, m.Graph.Nodes[0].In(1), []int64{2, 3})
				wantConstI(t, m.Graph.Nodes[1].In(1), []int64{1})
				wantShape(t, m.Graph.Nodes[1].Out(0), 2, 1)
			},
		},
		{
			name: "reduce max opset 13 still takes the attribute",
			model: mkModel(13, mkGraph([]*onnxpb.NodeProto{mkNode("ReduceMax", "r", []string{"x"}, []string{"y"}, attrInts("axes", 1))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "ReduceMax",
			check: func(t *testing.T, m *ir.Module) {
				wantShape(t, m.Graph.Nodes[0].Out(0), 2, 1, 4, 5)
			},
		},
		{
			name: "split opset 11 sizes become input",
			model: mkModel(11, mkGraph([]*onnxpb.NodeProto{mkNode("Split", "s", []string{"x"}, []string{"a", "b"}, attrInt("axis", 3), attrInts("split", 2, 3))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{vi("a", ir.Float32), vi("b", ir.Float32)})),
			ops: "Split",
			check: func(t *testing.T, m *ir.Module) {
				n := m.Graph.Nodes[0]
				wantConstI(t, n.In(1), []int64{2, 3})
				wantShape(t, n.Out(0), 2, 3, 4, 2)
				wantShape(t, n.Out(1), 2, 3, 4, 3)
			},
		},
		{
			name: "slice opset 9 attributes become inputs",
			model: mkModel(9, mkGraph([]*onnxpb.NodeProto{mkNode("Slice", "s", []string{"x"}, []string{"y"},
				attrInts("starts", 1, 0), attrInts("ends", 3, -1), attrInts("axes", 2, 3))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Slice",
			check: func(t *testing.T, m *ir.Module) {
				n := m.Graph.Nodes[0]
				wantConstI(t, n.In(1), []int64{1, 0})
				wantConstI(t, n.In(2), []int64{3, -1})
				wantConstI(t, n.In(3), []int64{2, 3})
				wantShape(t, n.Out(0), 2, 3, 2, 4)
			},
		},
		{
			name: "dropout opset 6 ratio and is_test dropped",
			model: mkModel(6, mkGraph([]*onnxpb.NodeProto{mkNode("Dropout", "d", []string{"x"}, []string{"y"}, attrFloat("ratio", 0.3), attrInt("is_test", 1))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Dropout",
			check: func(t *testing.T, m *ir.Module) {
				wantNoAttrs(t, m.Graph.Nodes[0])
			},
		},
		{
			name: "batchnorm opset 6 spatial, is_test and consumed_inputs dropped",
			model: mkModel(5, mkGraph([]*onnxpb.NodeProto{mkNode("BatchNormalization", "bn", []string{"x", "s", "b", "m", "v"}, []string{"y"},
				attrInt("spatial", 1), attrInt("is_test", 1), attrInts("consumed_inputs", 0, 0, 0, 1, 1), attrFloat("epsilon", 1e-3))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y},
				tf("s", []int64{3}, 1, 1, 1), tf("b", []int64{3}, 0, 0, 0), tf("m", []int64{3}, 0, 0, 0), tf("v", []int64{3}, 1, 1, 1))),
			ops: "BatchNormalization",
			check: func(t *testing.T, m *ir.Module) {
				n := m.Graph.Nodes[0]
				if len(n.Attrs) != 1 || n.Float("epsilon", 0) != 1e-3 {
					t.Errorf("attrs = %s, want only epsilon", ir.FormatAttrs(n.Attrs))
				}
			},
		},
		{
			name: "softmax opset 11 axis 1 on rank 4 flattens",
			model: mkModel(11, mkGraph([]*onnxpb.NodeProto{mkNode("Softmax", "sm", []string{"x"}, []string{"y"}, attrInt("axis", 1))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Flatten Softmax Reshape",
			check: func(t *testing.T, m *ir.Module) {
				f, s, r := m.Graph.Nodes[0], m.Graph.Nodes[1], m.Graph.Nodes[2]
				if f.Int("axis", -99) != 1 || s.Int("axis", -99) != 1 {
					t.Errorf("Flatten axis %d, Softmax axis %d; want 1, 1", f.Int("axis", -99), s.Int("axis", -99))
				}
				wantShape(t, f.Out(0), 2, 60)
				wantConstI(t, r.In(1), []int64{2, 3, 4, 5})
				wantShape(t, r.Out(0), 2, 3, 4, 5)
				if s.Name != "sm" || r.Out(0).Name != "y" {
					t.Errorf("softmax node %q, output %q; want the ONNX names", s.Name, r.Out(0).Name)
				}
			},
		},
		{
			name: "softmax opset 11 default axis on rank 2 is the last axis",
			model: mkModel(11, mkGraph([]*onnxpb.NodeProto{mkNode("LogSoftmax", "sm", []string{"x"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{vi("x", ir.Float32, 4, 10)}, []*onnxpb.ValueInfoProto{y})),
			ops: "LogSoftmax",
			check: func(t *testing.T, m *ir.Module) {
				if a := m.Graph.Nodes[0].Int("axis", -99); a != 1 {
					t.Errorf("axis = %d, want 1", a)
				}
			},
		},
		{
			name: "softmax opset 11 with only unit dims after axis stays one node",
			model: mkModel(11, mkGraph([]*onnxpb.NodeProto{mkNode("Softmax", "sm", []string{"x"}, []string{"y"}, attrInt("axis", 1))},
				[]*onnxpb.ValueInfoProto{vi("x", ir.Float32, 2, 10, 1, 1)}, []*onnxpb.ValueInfoProto{y})),
			ops: "Softmax",
		},
		{
			name: "softmax opset 13 is per axis already",
			model: mkModel(13, mkGraph([]*onnxpb.NodeProto{mkNode("Softmax", "sm", []string{"x"}, []string{"y"}, attrInt("axis", 1))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Softmax",
		},
		{
			name: "legacy broadcast with axis on a constant reshapes it",
			model: mkModel(6, mkGraph([]*onnxpb.NodeProto{mkNode("Add", "a", []string{"x", "b"}, []string{"y"}, attrInt("broadcast", 1), attrInt("axis", 1))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y}, tf("b", []int64{3}, 1, 2, 3))),
			ops: "Add",
			check: func(t *testing.T, m *ir.Module) {
				n := m.Graph.Nodes[0]
				wantConstF(t, n.In(1), []float32{1, 2, 3}, []int64{3, 1, 1})
				wantNoAttrs(t, n)
			},
		},
		{
			name: "legacy broadcast with axis on a runtime value unsqueezes it",
			model: mkModel(6, mkGraph([]*onnxpb.NodeProto{mkNode("Mul", "m", []string{"x", "b"}, []string{"y"}, attrInt("broadcast", 1), attrInt("axis", 0))},
				[]*onnxpb.ValueInfoProto{x4, vi("b", ir.Float32, 2, 3)}, []*onnxpb.ValueInfoProto{y})),
			ops: "Unsqueeze Mul",
			check: func(t *testing.T, m *ir.Module) {
				wantConstI(t, m.Graph.Nodes[0].In(1), []int64{2, 3})
				wantShape(t, m.Graph.Nodes[0].Out(0), 2, 3, 1, 1)
				wantShape(t, m.Graph.Nodes[1].Out(0), 2, 3, 4, 5)
			},
		},
		{
			name: "legacy broadcast of trailing dims needs nothing",
			model: mkModel(1, mkGraph([]*onnxpb.NodeProto{mkNode("Sub", "s", []string{"x", "b"}, []string{"y"}, attrInt("broadcast", 1), attrInts("consumed_inputs", 0, 0))},
				[]*onnxpb.ValueInfoProto{x4, vi("b", ir.Float32, 5)}, []*onnxpb.ValueInfoProto{y})),
			ops: "Sub",
		},
		{
			name: "gemm opset 6 broadcast dropped",
			model: mkModel(6, mkGraph([]*onnxpb.NodeProto{mkNode("Gemm", "g", []string{"a", "w", "c"}, []string{"y"}, attrInt("broadcast", 1), attrInt("transB", 1))},
				[]*onnxpb.ValueInfoProto{vi("a", ir.Float32, 2, 4)}, []*onnxpb.ValueInfoProto{y},
				tf("w", []int64{3, 4}, make([]float32, 12)...), tf("c", []int64{3}, 1, 2, 3))),
			ops: "Gemm",
			check: func(t *testing.T, m *ir.Module) {
				if m.Graph.Nodes[0].Has("broadcast") {
					t.Error("broadcast attribute kept")
				}
			},
		},
		{
			name: "prelu opset 6 per-channel slope",
			model: mkModel(6, mkGraph([]*onnxpb.NodeProto{mkNode("PRelu", "p", []string{"x", "s"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y}, tf("s", []int64{3}, .1, .2, .3))),
			ops: "PRelu",
			check: func(t *testing.T, m *ir.Module) {
				wantConstF(t, m.Graph.Nodes[0].In(1), []float32{.1, .2, .3}, []int64{3, 1, 1})
			},
		},
		{
			name: "reshape opset 4 shape attribute",
			model: mkModel(4, mkGraph([]*onnxpb.NodeProto{mkNode("Reshape", "r", []string{"x"}, []string{"y"}, attrInts("shape", 0, -1))},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Reshape",
			check: func(t *testing.T, m *ir.Module) {
				wantShape(t, m.Graph.Nodes[0].Out(0), 2, 60)
			},
		},
		{
			name: "concat opset 3 default axis 1",
			model: mkModel(3, mkGraph([]*onnxpb.NodeProto{mkNode("Concat", "c", []string{"x", "x"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Concat",
			check: func(t *testing.T, m *ir.Module) {
				wantShape(t, m.Graph.Nodes[0].Out(0), 2, 6, 4, 5)
			},
		},
		{
			name: "cast opset 1 string target and double target",
			model: mkModel(1, mkGraph([]*onnxpb.NodeProto{
				mkNode("Cast", "c1", []string{"x"}, []string{"i"}, attrStr("to", "int32")),
				mkNode("Cast", "c2", []string{"i"}, []string{"y"}, attrStr("to", "DOUBLE")),
			}, []*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Cast Cast",
			check: func(t *testing.T, m *ir.Module) {
				wantDType(t, m.Graph.Nodes[0].Out(0), ir.Int32)
				wantDType(t, m.Graph.Nodes[1].Out(0), ir.Float32)
			},
		},
		{
			name: "tile opset 1 tiles and axis",
			model: mkModel(1, mkGraph([]*onnxpb.NodeProto{mkNode("Tile", "t", []string{"x", "n", "a"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y}, ti("n", nil, 3), ti("a", nil, 2))),
			ops: "Tile",
			check: func(t *testing.T, m *ir.Module) {
				wantConstI(t, m.Graph.Nodes[0].In(1), []int64{1, 1, 3, 1})
				wantShape(t, m.Graph.Nodes[0].Out(0), 2, 3, 12, 5)
			},
		},
		{
			name: "constant nodes become constants",
			model: mkModel(13, mkGraph([]*onnxpb.NodeProto{
				mkNode("Constant", "k1", nil, []string{"s"}, attrInts("value_ints", 6, -1)),
				mkNode("Constant", "k2", nil, []string{"f"}, attrFloat("value_float", 0.5)),
				mkNode("Constant", "k3", nil, []string{"t"}, attrTensor("value", tf("", []int64{1, 3, 1, 1}, 1, 2, 3))),
				mkNode("Reshape", "r", []string{"x", "s"}, []string{"r"}),
				mkNode("Mul", "m", []string{"r", "f"}, []string{"m"}),
				mkNode("Add", "a", []string{"x", "t"}, []string{"y"}),
			}, []*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y, vi("m", ir.Float32)})),
			ops: "Reshape Mul Add",
			check: func(t *testing.T, m *ir.Module) {
				wantConstI(t, m.Graph.Nodes[0].In(1), []int64{6, -1})
				wantConstF(t, m.Graph.Nodes[1].In(1), []float32{0.5}, nil)
				wantConstF(t, m.Graph.Nodes[2].In(1), []float32{1, 2, 3}, []int64{1, 3, 1, 1})
			},
		},
		{
			name: "reshape from shape-gather-unsqueeze-concat folds to a constant shape",
			model: mkModel(11, mkGraph([]*onnxpb.NodeProto{
				mkNode("Shape", "sh", []string{"x"}, []string{"s"}),
				mkNode("Gather", "ga", []string{"s", "zero"}, []string{"n"}, attrInt("axis", 0)),
				mkNode("Unsqueeze", "un", []string{"n"}, []string{"n1"}, attrInts("axes", 0)),
				mkNode("Concat", "cc", []string{"n1", "minus1"}, []string{"shape"}, attrInt("axis", 0)),
				mkNode("Reshape", "rs", []string{"x", "shape"}, []string{"y"}),
			}, []*onnxpb.ValueInfoProto{vi("x", ir.Float32, "N", 3, 4, 4)}, []*onnxpb.ValueInfoProto{y},
				ti("zero", nil, 0), ti("minus1", []int64{1}, -1))),
			opts: Options{Bindings: map[string]int64{"N": 2}},
			ops:  "Reshape",
			check: func(t *testing.T, m *ir.Module) {
				n := m.Graph.Nodes[0]
				wantConstI(t, n.In(1), []int64{2, -1})
				wantShape(t, n.Out(0), 2, 48)
				if len(m.Graph.Consts) != 1 {
					t.Errorf("%d constants left, want only the folded shape", len(m.Graph.Consts))
				}
			},
		},
		{
			name: "int64 shape arithmetic, slice, cast and constant-of-shape fold",
			model: mkModel(13, mkGraph([]*onnxpb.NodeProto{
				mkNode("Shape", "sh", []string{"x"}, []string{"s"}),
				mkNode("Slice", "sl", []string{"s", "b", "e"}, []string{"hw"}),
				mkNode("Mul", "mu", []string{"hw", "two"}, []string{"hw2"}),
				mkNode("Div", "dv", []string{"hw2", "two"}, []string{"hw3"}),
				mkNode("Sub", "sb", []string{"hw3", "one"}, []string{"hw4"}),
				mkNode("Add", "ad", []string{"hw4", "one"}, []string{"hw5"}),
				mkNode("Cast", "ca", []string{"hw5"}, []string{"hw6"}, attrInt("to", int64(ir.Int64))),
				mkNode("ConstantOfShape", "co", []string{"hw6"}, []string{"z"}, attrTensor("value", tf("", []int64{1}, 0.25))),
				mkNode("Add", "ad2", []string{"x", "z"}, []string{"y"}),
			}, []*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y},
				ti("b", []int64{1}, 2), ti("e", []int64{1}, 100), ti("two", nil, 2), ti("one", []int64{1}, 1))),
			ops: "Add",
			check: func(t *testing.T, m *ir.Module) {
				z := m.Graph.Nodes[0].In(1)
				wantShape(t, z, 4, 5)
				if !z.IsConst() || z.Const.F[0] != 0.25 {
					t.Errorf("ConstantOfShape not folded to 0.25: %v", z)
				}
			},
		},
		{
			name: "float16 initializer becomes float32",
			model: mkModel(13, mkGraph([]*onnxpb.NodeProto{mkNode("Add", "a", []string{"x", "h"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{vi("x", ir.Float16, 3)}, []*onnxpb.ValueInfoProto{vi("y", ir.Float16, 3)},
				&onnxpb.TensorProto{Name: strp("h"), Dims: []int64{3}, DataType: i32p(int32(ir.Float16)), Int32Data: []int32{0x3c00, 0xc000, 0x3555}})),
			ops: "Add",
			check: func(t *testing.T, m *ir.Module) {
				wantConstF(t, m.Graph.Nodes[0].In(1), []float32{1, -2, 0.333251953125}, []int64{3})
				wantDType(t, m.Graph.Inputs[0], ir.Float32)
				io, _ := m.Meta[MetaIODTypes].(map[string]ir.DType)
				if io["x"] != ir.Float16 || io["y"] != ir.Float16 {
					t.Errorf("Meta[%s] = %v, want x and y recorded as f16", MetaIODTypes, io)
				}
			},
		},
		{
			name: "inputs shadowed by initializers are constants",
			model: func() *onnxpb.ModelProto {
				m := mkModel(6, mkGraph([]*onnxpb.NodeProto{mkNode("Mul", "m", []string{"x", "w"}, []string{"y"})},
					[]*onnxpb.ValueInfoProto{x4, vi("w", ir.Float32, 5)}, []*onnxpb.ValueInfoProto{y}, tf("w", []int64{5}, 1, 2, 3, 4, 5)))
				m.IrVersion = i64p(3)
				return m
			}(),
			ops: "Mul",
			check: func(t *testing.T, m *ir.Module) {
				if len(m.Graph.Inputs) != 1 || m.Graph.Inputs[0].Name != "x" {
					t.Errorf("inputs = %v, want only x", valueNames(m.Graph.Inputs))
				}
				wantConstF(t, m.Graph.Nodes[0].In(1), []float32{1, 2, 3, 4, 5}, []int64{5})
			},
		},
		{
			name: "symbolic batch binds to 1 by default; unnamed dims get a name",
			model: mkModel(13, mkGraph([]*onnxpb.NodeProto{mkNode("Relu", "r", []string{"x"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{vi("x", ir.Float32, "N", 3, nil)}, []*onnxpb.ValueInfoProto{y})),
			ops: "Relu",
			check: func(t *testing.T, m *ir.Module) {
				in := m.Graph.Inputs[0]
				if got := in.Type.String(); got != "f32[N=1,3,x_d2=1]" {
					t.Errorf("input type %s, want f32[N=1,3,x_d2=1]", got)
				}
				if !reflect.DeepEqual(m.Bindings, map[string]int64{"N": 1, "x_d2": 1}) {
					t.Errorf("bindings %v", m.Bindings)
				}
			},
		},
		{
			name: "symbolic batch bound by the caller",
			model: mkModel(13, mkGraph([]*onnxpb.NodeProto{mkNode("Relu", "r", []string{"x"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{vi("x", ir.Float32, "N", 3)}, []*onnxpb.ValueInfoProto{y})),
			opts: Options{Bindings: map[string]int64{"N": 8}},
			ops:  "Relu",
			check: func(t *testing.T, m *ir.Module) {
				wantShape(t, m.Graph.Nodes[0].Out(0), 8, 3)
				if m.Bindings["N"] != 8 {
					t.Errorf("bindings %v", m.Bindings)
				}
			},
		},
		{
			name: "graph inputs given as constants",
			model: mkModel(13, mkGraph([]*onnxpb.NodeProto{mkNode("Reshape", "r", []string{"x", "s"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{x4, vi("s", ir.Int64, 2)}, []*onnxpb.ValueInfoProto{y})),
			opts: Options{Constants: map[string]*ir.Tensor{"s": ir.IntTensor(ir.Int64, []int64{6, 20}, 2)}},
			ops:  "Reshape",
			check: func(t *testing.T, m *ir.Module) {
				wantShape(t, m.Graph.Nodes[0].Out(0), 6, 20)
				if len(m.Graph.Inputs) != 1 {
					t.Errorf("inputs %v, want only x", valueNames(m.Graph.Inputs))
				}
			},
		},
		{
			name: "unnamed and duplicate node names are generated",
			model: mkModel(13, mkGraph([]*onnxpb.NodeProto{
				mkNode("Relu", "", []string{"x"}, []string{"a"}),
				mkNode("Relu", "dup", []string{"a"}, []string{"b"}),
				mkNode("Relu", "dup", []string{"b"}, []string{"c"}),
				mkNode("Relu", "Relu_0", []string{"c"}, []string{"y"}),
			}, []*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Relu Relu Relu Relu",
			check: func(t *testing.T, m *ir.Module) {
				var names []string
				for _, n := range m.Graph.Nodes {
					names = append(names, n.Name)
				}
				if want := []string{"Relu_0_1", "dup", "Relu_2", "Relu_0"}; !reflect.DeepEqual(names, want) {
					t.Errorf("node names %v, want %v", names, want)
				}
			},
		},
		{
			name: "nodes out of order are sorted",
			model: mkModel(13, mkGraph([]*onnxpb.NodeProto{
				mkNode("Sigmoid", "b", []string{"a"}, []string{"y"}),
				mkNode("Relu", "a", []string{"x"}, []string{"a"}),
			}, []*onnxpb.ValueInfoProto{x4}, []*onnxpb.ValueInfoProto{y})),
			ops: "Relu Sigmoid",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustImport(t, tc.model, tc.opts)
			if got := opSeq(m); got != tc.ops {
				t.Fatalf("ops %q, want %q\n%s", got, tc.ops, m)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
			if t.Failed() {
				t.Logf("module:\n%s", m)
			}
		})
	}
}

// TestImportErrors checks that bad models are rejected with an error that
// names the file and the culprit.
func TestImportErrors(t *testing.T) {
	x := vi("x", ir.Float32, 1, 3)
	y := vi("y", ir.Float32)
	relu := func(in, out string) *onnxpb.NodeProto { return mkNode("Relu", "", []string{in}, []string{out}) }
	good := mkModel(13, mkGraph([]*onnxpb.NodeProto{relu("x", "y")}, []*onnxpb.ValueInfoProto{x}, []*onnxpb.ValueInfoProto{y}))
	goodBytes := marshal(t, good)
	model := func(opset int64, nodes []*onnxpb.NodeProto, inits ...*onnxpb.TensorProto) []byte {
		return marshal(t, mkModel(opset, mkGraph(nodes, []*onnxpb.ValueInfoProto{x}, []*onnxpb.ValueInfoProto{y}, inits...)))
	}
	tests := []struct {
		name string
		data []byte
		opts Options
		want []string // substrings of the error
	}{
		{"empty", nil, Options{}, []string{"test.onnx: not an ONNX model: no graph"}},
		{"random bytes", []byte("\x08\x96\x01 this is not protobuf \xff\xff\xff"), Options{}, []string{"test.onnx: not an ONNX model"}},
		{"truncated", goodBytes[:len(goodBytes)-5], Options{}, []string{"test.onnx: not an ONNX model"}},
		{"unsupported operators listed together", model(13, []*onnxpb.NodeProto{
			mkNode("Resize", "up1", []string{"x"}, []string{"a"}),
			mkNode("NonMaxSuppression", "nms", []string{"a"}, []string{"b"}),
			mkNode("Resize", "up2", []string{"b"}, []string{"c"}),
			mkNode("FusedConv", "fc", []string{"c"}, []string{"y"}),
		}), Options{}, []string{`test.onnx: 3 unsupported operators: Resize (nodes "up1", "up2"), FusedConv (node "fc"), NonMaxSuppression (node "nms")`}},
		{"unknown domain", func() []byte {
			n := mkNode("FusedConv", "fc", []string{"x"}, []string{"y"})
			n.Domain = strp("com.microsoft")
			return model(13, []*onnxpb.NodeProto{n})
		}(), Options{}, []string{`1 unsupported operator: com.microsoft:FusedConv (node "fc")`}},
		{"dangling input", model(13, []*onnxpb.NodeProto{relu("nope", "y")}), Options{}, []string{`node "Relu_0" (Relu): input "nope" is not produced`}},
		{"cycle", model(13, []*onnxpb.NodeProto{relu("b", "a"), relu("a", "b"), relu("x", "y")}), Options{}, []string{"cycle"}},
		{"value defined twice", model(13, []*onnxpb.NodeProto{relu("x", "y"), relu("x", "y")}), Options{}, []string{`value "y" is produced by two nodes`}},
		{"unknown attribute", model(13, []*onnxpb.NodeProto{mkNode("Relu", "r", []string{"x"}, []string{"y"}, attrInt("frobnicate", 1))}),
			Options{}, []string{`node "r" (Relu): attribute "frobnicate" is not supported`}},
		{"attribute of the wrong kind", model(13, []*onnxpb.NodeProto{mkNode("LeakyRelu", "r", []string{"x"}, []string{"y"}, attrInt("alpha", 1))}),
			Options{}, []string{`node "r" (LeakyRelu): attribute "alpha" is int, want float`}},
		{"batchnorm spatial 0", model(7, []*onnxpb.NodeProto{mkNode("BatchNormalization", "bn", []string{"x", "s", "s", "s", "s"}, []string{"y"}, attrInt("spatial", 0))},
			tf("s", []int64{3}, 1, 1, 1)), Options{}, []string{`node "bn" (BatchNormalization): spatial=0 is not supported`}},
		{"raw data size mismatch", model(13, []*onnxpb.NodeProto{mkNode("Add", "a", []string{"x", "w"}, []string{"y"})},
			&onnxpb.TensorProto{Name: strp("w"), Dims: []int64{3}, DataType: i32p(1), RawData: []byte{1, 2, 3}}),
			Options{}, []string{`initializer "w": FLOAT tensor of shape [3] needs 12 bytes of raw data, has 3`}},
		{"typed data size mismatch", model(13, []*onnxpb.NodeProto{mkNode("Add", "a", []string{"x", "w"}, []string{"y"})},
			&onnxpb.TensorProto{Name: strp("w"), Dims: []int64{3}, DataType: i32p(1), FloatData: []float32{1}}),
			Options{}, []string{`initializer "w"`, "needs 3 elements in float_data, has 1"}},
		{"data in the wrong field", model(13, []*onnxpb.NodeProto{mkNode("Add", "a", []string{"x", "w"}, []string{"y"})},
			&onnxpb.TensorProto{Name: strp("w"), Dims: []int64{3}, DataType: i32p(7), FloatData: []float32{1, 2, 3}}),
			Options{}, []string{`initializer "w": INT64 tensor stores its data in float_data, want int64_data`}},
		{"absurd dims", model(13, []*onnxpb.NodeProto{mkNode("Add", "a", []string{"x", "w"}, []string{"y"})},
			&onnxpb.TensorProto{Name: strp("w"), Dims: []int64{1 << 40, 1 << 40}, DataType: i32p(1)}),
			Options{}, []string{`initializer "w": shape [1099511627776 1099511627776] has more than 2147483648 elements`}},
		{"negative dims", model(13, []*onnxpb.NodeProto{mkNode("Add", "a", []string{"x", "w"}, []string{"y"})},
			&onnxpb.TensorProto{Name: strp("w"), Dims: []int64{-3}, DataType: i32p(1)}),
			Options{}, []string{`initializer "w": negative dim`}},
		{"string tensor", model(13, []*onnxpb.NodeProto{mkNode("Add", "a", []string{"x", "w"}, []string{"y"})},
			&onnxpb.TensorProto{Name: strp("w"), Dims: []int64{1}, DataType: i32p(8), StringData: [][]byte{[]byte("hi")}}),
			Options{}, []string{`initializer "w": unsupported tensor data type STRING`}},
		{"external data without a directory", model(13, []*onnxpb.NodeProto{mkNode("Add", "a", []string{"x", "w"}, []string{"y"})},
			externalTensor("w", "w.bin", 3)), Options{}, []string{`initializer "w": tensor data is in external file "w.bin"`}},
		{"no outputs", marshal(t, mkModel(13, mkGraph([]*onnxpb.NodeProto{relu("x", "y")}, []*onnxpb.ValueInfoProto{x}, nil))),
			Options{}, []string{"graph has no outputs"}},
		{"output not produced", marshal(t, mkModel(13, mkGraph([]*onnxpb.NodeProto{relu("x", "y")}, []*onnxpb.ValueInfoProto{x}, []*onnxpb.ValueInfoProto{vi("z", 1)}))),
			Options{}, []string{`graph output 0 ("z") is not produced`}},
		{"input without shape", marshal(t, mkModel(13, mkGraph([]*onnxpb.NodeProto{relu("x", "y")},
			[]*onnxpb.ValueInfoProto{{Name: strp("x"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: i32p(1)}}}}},
			[]*onnxpb.ValueInfoProto{y}))), Options{}, []string{`graph input "x": has no shape`}},
		{"binding for an unknown symbol", goodBytes, Options{Bindings: map[string]int64{"batch": 4}},
			[]string{"binding batch names no symbolic dimension of the model's inputs (they have: none)"}},
		{"constant for an unknown input", goodBytes, Options{Constants: map[string]*ir.Tensor{"q": ir.FloatTensor([]float32{1}, 1)}},
			[]string{"constant values given for q, which is not a graph input"}},
		{"constant of the wrong shape", goodBytes, Options{Constants: map[string]*ir.Tensor{"x": ir.FloatTensor([]float32{1}, 1)}},
			[]string{`graph input "x": constant value: value is f32[1], input is f32[1,3]`}},
		{"reshape needs a constant shape", marshal(t, mkModel(13, mkGraph([]*onnxpb.NodeProto{mkNode("Reshape", "r", []string{"x", "s"}, []string{"y"})},
			[]*onnxpb.ValueInfoProto{x, vi("s", ir.Int64, 2)}, []*onnxpb.ValueInfoProto{y}))),
			Options{}, []string{`node "r" (Reshape): shape (input 1, "s") must be a constant`}},
		{"missing required input", model(13, []*onnxpb.NodeProto{mkNode("Conv", "c", []string{"x"}, []string{"y"})}),
			Options{}, []string{`node "c" (Conv): 1 inputs, Conv takes 2 to 3`}},
		{"shape inference failure", model(13, []*onnxpb.NodeProto{mkNode("Conv", "c", []string{"x", "w"}, []string{"y"})}, tf("w", []int64{1}, 1)),
			Options{}, []string{`node "c" (Conv)`}},
		{"no default opset import", func() []byte {
			m := proto.Clone(good).(*onnxpb.ModelProto)
			m.OpsetImport = []*onnxpb.OperatorSetIdProto{{Domain: strp("com.example"), Version: i64p(1)}}
			return marshal(t, m)
		}(), Options{}, []string{"uses the default ONNX domain, which the model does not import"}},
		{"graph attribute", model(13, []*onnxpb.NodeProto{mkNode("Relu", "r", []string{"x"}, []string{"y"},
			&onnxpb.AttributeProto{Name: strp("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: &onnxpb.GraphProto{}})}),
			Options{}, []string{`node "r" (Relu): attribute "body": has kind GRAPH, which pimc does not support`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ImportBytes(tc.data, "test.onnx", tc.opts)
			if err == nil {
				t.Fatalf("import succeeded:\n%s", m)
			}
			if !strings.HasPrefix(err.Error(), "test.onnx: ") {
				t.Errorf("error %q does not start with the file name", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func wantConstF(t *testing.T, v *ir.Value, want []float32, shape []int64) {
	t.Helper()
	if !v.IsConst() {
		t.Errorf("value %v is not a constant", v)
		return
	}
	if !reflect.DeepEqual(v.Const.F, want) || v.Const.DType != ir.Float32 {
		t.Errorf("constant %q = %s %v, want f32 %v", v.Name, v.Const.DType, v.Const.F, want)
	}
	if shape == nil {
		shape = []int64{}
	}
	if !reflect.DeepEqual(append([]int64{}, v.Const.Shape...), shape) {
		t.Errorf("constant %q has shape %v, want %v", v.Name, v.Const.Shape, shape)
	}
}

func wantConstI(t *testing.T, v *ir.Value, want []int64) {
	t.Helper()
	if !v.IsConst() {
		t.Errorf("value %v is not a constant", v)
		return
	}
	if !reflect.DeepEqual(v.Const.I, want) || v.Const.DType != ir.Int64 || !reflect.DeepEqual(v.Const.Shape, []int64{int64(len(want))}) {
		t.Errorf("constant %q = %s%v %v, want i64[%d] %v", v.Name, v.Const.DType, v.Const.Shape, v.Const.I, len(want), want)
	}
}

func wantShape(t *testing.T, v *ir.Value, dims ...int64) {
	t.Helper()
	if v == nil || !reflect.DeepEqual(v.Type.Shape, dims) {
		t.Errorf("value %v has shape %v, want %v", v, v.Type.Shape, dims)
	}
}

func wantDType(t *testing.T, v *ir.Value, dt ir.DType) {
	t.Helper()
	if v.Type.DType != dt {
		t.Errorf("value %q has dtype %s, want %s", v.Name, v.Type.DType, dt)
	}
}

func wantNoAttrs(t *testing.T, n *ir.Node) {
	t.Helper()
	if len(n.Attrs) != 0 {
		t.Errorf("%s keeps attributes %s", n.Where(), ir.FormatAttrs(n.Attrs))
	}
}

func valueNames(vs []*ir.Value) []string {
	var s []string
	for _, v := range vs {
		s = append(s, v.Name)
	}
	return s
}

func strp(s string) *string { return &s }
func i32p(v int32) *int32   { return &v }
func i64p(v int64) *int64   { return &v }

func externalTensor(name, loc string, n int, kv ...string) *onnxpb.TensorProto {
	tp := &onnxpb.TensorProto{Name: strp(name), Dims: []int64{int64(n)}, DataType: i32p(int32(ir.Float32)),
		DataLocation: onnxpb.TensorProto_EXTERNAL.Enum()}
	tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: strp("location"), Value: strp(loc)})
	for i := 0; i+1 < len(kv); i += 2 {
		tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: strp(kv[i]), Value: strp(kv[i+1])})
	}
	return tp
}
