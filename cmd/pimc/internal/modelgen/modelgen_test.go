package modelgen

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"pimc/frontend/onnxpb"
)

// TestResNet18Structure checks the generated graph's shape: torchvision's
// ResNet-18 has 20 convolutions (17 + 3 downsamples), each followed by a
// BatchNormalization, 8 residual Adds and 11.7 M parameters.
func TestResNet18Structure(t *testing.T) {
	m, err := Model(ResNet18)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, n := range m.GetGraph().GetNode() {
		ops[n.GetOpType()]++
	}
	want := map[string]int{"Conv": 20, "BatchNormalization": 20, "Relu": 17, "Add": 8, "MaxPool": 1, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
	for op, n := range want {
		if ops[op] != n {
			t.Errorf("%d %s nodes, want %d", ops[op], op, n)
		}
	}
	params := 0
	for _, in := range m.GetGraph().GetInitializer() {
		if in.GetDataType() != 1 || len(in.GetRawData()) == 0 {
			t.Fatalf("initializer %s is not raw float data", in.GetName())
		}
		if len(in.GetName()) > 4 && (in.GetName()[len(in.GetName())-4:] == "mean" || in.GetName()[len(in.GetName())-3:] == "var") {
			continue
		}
		params += len(in.GetRawData()) / 4
	}
	if params != 11689512 {
		t.Errorf("%d parameters, want torchvision's 11689512", params)
	}
	if m.GetOpsetImport()[0].GetVersion() != 13 {
		t.Errorf("opset %d", m.GetOpsetImport()[0].GetVersion())
	}
}

func TestDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 2×45 MB")
	}
	a, err := Bytes(ResNet18)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Bytes(ResNet18)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two generations differ")
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(a, &m); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownArch(t *testing.T) {
	if _, err := Model("vgg16"); err == nil {
		t.Fatal("no error for an unknown architecture")
	}
}
