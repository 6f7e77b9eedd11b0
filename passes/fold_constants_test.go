package passes

import (
	"path/filepath"
	"testing"

	"golang.org/x/tools/txtar"

	"pimc/interp"
	"pimc/ir"
)

func TestFoldConstants(t *testing.T) { runTxtar(t, "fold-constants") }

// TestFoldConstantsWeightGenerator checks the folded weight's values,
// which the golden text shows only as a checksum.
func TestFoldConstantsWeightGenerator(t *testing.T) {
	needKernels(t, ir.OpTile, ir.OpSlice, ir.OpMul, ir.OpAdd, ir.OpReshape)
	m := parseSection(t, filepath.Join("testdata", "fold-constants", "weight_generator.txtar"), "input")
	if err := FoldConstants(m); err != nil {
		t.Fatal(err)
	}
	w := m.Graph.Nodes[0].In(1)
	if !w.IsConst() || len(m.Graph.Nodes) != 1 {
		t.Fatalf("weight not folded:\n%s", m)
	}
	block := []float32{0.1, -0.2, 0.3, -0.4, 0.5}
	for i, got := range w.Const.F {
		// The conversion rounds the product, as the Mul kernel does, so no
		// fused multiply-add changes the expected value.
		want := float32(block[(i+1)%5]*0.5) + 0.25
		if got != want {
			t.Errorf("w[%d] = %v, want %v", i, got, want)
		}
	}
}

// TestFoldConstantsLeavesUnsupported: a node whose op has no interpreter
// kernel stays even when its inputs are constant.
func TestFoldConstantsLeavesUnsupported(t *testing.T) {
	if interp.Supported(ir.OpQRelu) {
		t.Skip("interp now runs QRelu; pick another op without a kernel")
	}
	src := `module "m" opset ai.onnx=13 opset pimc=1 level imported
const %c: i8[2] = [-3,4]
%y = QRelu(%c) : i8[2] @"qrelu"
output %y: i8[2]
`
	m, err := ir.Parse("t", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := FoldConstants(m); err != nil {
		t.Fatal(err)
	}
	if got := m.String(); got != src {
		t.Errorf("got\n%s", got)
	}
}

// needKernels skips the test while interp lacks a kernel it needs.
func needKernels(t *testing.T, ops ...ir.Op) {
	t.Helper()
	for _, op := range ops {
		if !interp.Supported(op) {
			t.Skipf("interp has no kernel for %s yet", op)
		}
	}
}

// parseSection parses one text-IR section of a txtar test case.
func parseSection(t *testing.T, file, section string) *ir.Module {
	t.Helper()
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ar.Files {
		if f.Name == section {
			m, err := ir.Parse(file, f.Data)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("%s has no %s section", file, section)
	return nil
}

// TestFoldConstantsNumerics: a random weight generator
// (Tile→Slice→Mul→Add→Reshape→Conv) computes the same before and after
// folding.
func TestFoldConstantsNumerics(t *testing.T) {
	needKernels(t, ir.OpTile, ir.OpSlice, ir.OpMul, ir.OpAdd, ir.OpReshape, ir.OpConv, ir.OpConstantOfShape)
	for seed := range uint64(5) {
		b := newBuilder(t, seed)
		x := b.input("x", 1, 3, 5, 5)
		tile := b.node(ir.OpTile, nil, b.rand("block", -1, 1, 7), b.ints("reps", 10))
		s := b.node(ir.OpSlice, nil, tile, b.ints("starts", b.intn(0, 7)), b.ints("ends", 70))
		// Only the first 54 elements feed the weight.
		s = b.node(ir.OpSlice, nil, s, b.ints("s0", 0), b.ints("e0", 54))
		ms := b.node(ir.OpMul, nil, s, b.scalar("scale", 0.5))
		add := b.node(ir.OpAdd, nil, ms, b.scalar("offset", 0.125))
		w := b.node(ir.OpReshape, nil, add, b.ints("wshape", 2, 3, 3, 3))
		cs := b.node(ir.OpConstantOfShape, ir.Attrs{"value": {Kind: ir.AttrTensor, Tensor: ir.FloatTensor([]float32{0.25}, 1)}}, b.ints("bshape", 2))
		y := b.node(ir.OpConv, nil, x, w, cs)
		b.checkPass(FoldConstants, ir.OpTile, y)
		if n := len(b.m.Graph.Nodes); n != 1 {
			t.Errorf("%d nodes left, want the Conv only:\n%s", n, b.m)
		}
	}
}

func TestSameArray(t *testing.T) {
	a := make([]float32, 10)
	if !sameArray(a, a[2:5]) || !sameArray(a[3:], a[:1]) || sameArray(a, make([]float32, 10)) || sameArray(a, nil) {
		t.Error("sameArray")
	}
}
