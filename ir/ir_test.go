package ir

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// tiny builds x[1,3,8,8] → Conv(w[4,3,3,3], pads 1) → Relu → output.
func tiny() *Module {
	m := NewModule("tiny")
	m.Opsets[""] = 13
	x := &Value{Name: "x", Type: Type{DType: Float32, Shape: []int64{1, 3, 8, 8}, Dims: []string{"N", "", "", ""}}}
	m.Graph.Inputs = []*Value{x}
	w := m.AddConst("w", NewTensor(Float32, 4, 3, 3, 3))
	c := &Node{Name: "conv", Op: OpConv, Inputs: []*Value{x, w}}
	c.SetInts("pads", []int64{1, 1, 1, 1})
	c.Outputs = []*Value{{Name: "c", Def: c}}
	r := &Node{Name: "relu", Op: OpRelu, Inputs: []*Value{c.Outputs[0]}}
	r.Outputs = []*Value{{Name: "y", Def: r}}
	m.Graph.Nodes = []*Node{c, r}
	m.Graph.Outputs = []*Value{r.Outputs[0]}
	if err := InferTypes(m); err != nil {
		panic(err)
	}
	return m
}

func TestPrint(t *testing.T) {
	m := tiny()
	want := `module "tiny" opset ai.onnx=13 level imported
input %x: f32[N=1,3,8,8]
const %w_1: f32[4,3,3,3] = dense<108 elems crc32=` // prefix; crc follows
	got := m.String()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got\n%s\nwant prefix\n%s", got, want)
	}
	for _, line := range []string{
		`%c = Conv(%x, %w_1) {pads=[1,1,1,1]} : f32[1,4,8,8] @"conv"`,
		`%y = Relu(%c) : f32[1,4,8,8] @"relu"`,
		`output %y: f32[1,4,8,8]`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("missing line %q in\n%s", line, got)
		}
	}
	if got != tiny().String() {
		t.Error("printing is not deterministic")
	}
}

func TestVerifyCatches(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(m *Module)
		want   string
	}{
		{"ok", func(m *Module) {}, ""},
		{"use before def", func(m *Module) {
			g := m.Graph
			g.Nodes[0], g.Nodes[1] = g.Nodes[1], g.Nodes[0]
		}, "not defined before use"},
		{"duplicate name", func(m *Module) { m.Graph.Nodes[1].Outputs[0].Name = "c" }, "used by two values"},
		{"arity", func(m *Module) {
			n := m.Graph.Nodes[1]
			n.Inputs = append(n.Inputs, n.Inputs[0])
		}, "2 inputs, op takes 1"},
		{"unknown attr", func(m *Module) { m.Graph.Nodes[0].SetInt("bogus", 1) }, `unknown attribute "bogus"`},
		{"attr kind", func(m *Module) { m.Graph.Nodes[0].SetInt("pads", 1) }, `attribute "pads" is int, want ints`},
		{"stale type", func(m *Module) { m.Graph.Nodes[0].Outputs[0].Type.Shape[1] = 5 }, "inference gives"},
		{"bad const", func(m *Module) { m.Graph.Consts[0].Const.F = m.Graph.Consts[0].Const.F[:3] }, "holds 3 float elements"},
		{"undefined output", func(m *Module) { m.Graph.Outputs = []*Value{{Name: "ghost"}} }, `graph output "ghost" is not defined`},
		{"no engine after partition", func(m *Module) { m.Level = LevelPartitioned }, "no engine assigned"},
		{"bad shape", func(m *Module) { m.Graph.Consts[0].Const.Shape[1] = 4; m.Graph.Consts[0].Type.Shape[1] = 4 }, "holds 108 float elements"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tiny()
			tc.break_(m)
			err := Verify(m)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestInferShapes(t *testing.T) {
	type tc struct {
		name  string
		op    Op
		in    [][]int64
		attrs func(n *Node)
		want  []int64
		err   string
	}
	tests := []tc{
		{"conv stride 2 pad 3", OpConv, [][]int64{{1, 3, 224, 224}, {64, 3, 7, 7}}, func(n *Node) {
			n.SetInts("strides", []int64{2, 2})
			n.SetInts("pads", []int64{3, 3, 3, 3})
		}, []int64{1, 64, 112, 112}, ""},
		{"conv same upper", OpConv, [][]int64{{1, 1, 28, 28}, {8, 1, 5, 5}}, func(n *Node) { n.SetStr("auto_pad", "SAME_UPPER") }, []int64{1, 8, 28, 28}, ""},
		{"conv groups", OpConv, [][]int64{{1, 8, 5, 5}, {8, 2, 3, 3}}, func(n *Node) { n.SetInt("group", 4) }, []int64{1, 8, 3, 3}, ""},
		{"conv bad groups", OpConv, [][]int64{{1, 8, 5, 5}, {8, 3, 3, 3}}, func(n *Node) { n.SetInt("group", 4) }, nil, "input channels"},
		{"maxpool ceil", OpMaxPool, [][]int64{{1, 1, 4, 4}}, func(n *Node) {
			n.SetInts("kernel_shape", []int64{3, 3})
			n.SetInts("strides", []int64{2, 2})
			n.SetInt("ceil_mode", 1)
		}, []int64{1, 1, 2, 2}, ""},
		{"avgpool ceil last window on pad", OpAveragePool, [][]int64{{1, 1, 5, 5}}, func(n *Node) {
			n.SetInts("kernel_shape", []int64{3, 3})
			n.SetInts("strides", []int64{2, 2})
			n.SetInts("pads", []int64{1, 1, 1, 1})
			n.SetInt("ceil_mode", 1)
		}, []int64{1, 1, 3, 3}, ""},
		{"gemm transB", OpGemm, [][]int64{{2, 5}, {7, 5}}, func(n *Node) { n.SetInt("transB", 1) }, []int64{2, 7}, ""},
		{"matmul batch broadcast", OpMatMul, [][]int64{{2, 1, 3, 4}, {5, 4, 6}}, nil, []int64{2, 5, 3, 6}, ""},
		{"matmul 1-D", OpMatMul, [][]int64{{4}, {4, 6}}, nil, []int64{6}, ""},
		{"add broadcast", OpAdd, [][]int64{{2, 3, 4}, {4}}, nil, []int64{2, 3, 4}, ""},
		{"add incompatible", OpAdd, [][]int64{{2, 3}, {4}}, nil, nil, "broadcast"},
		{"flatten", OpFlatten, [][]int64{{2, 3, 4, 5}}, func(n *Node) { n.SetInt("axis", 2) }, []int64{6, 20}, ""},
		{"transpose", OpTranspose, [][]int64{{1, 32, 32, 3}}, func(n *Node) { n.SetInts("perm", []int64{0, 3, 1, 2}) }, []int64{1, 3, 32, 32}, ""},
		{"global pool", OpGlobalAvgPool, [][]int64{{1, 64, 8, 8}}, nil, []int64{1, 64, 1, 1}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &Node{Name: "n", Op: tc.op}
			for i, s := range tc.in {
				n.Inputs = append(n.Inputs, &Value{Name: string(rune('a' + i)), Type: Type{DType: Float32, Shape: s}})
			}
			n.Outputs = []*Value{{Name: "y", Def: n}}
			if tc.attrs != nil {
				tc.attrs(n)
			}
			err := InferNode(n)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(n.Outputs[0].Type.Shape, tc.want) {
				t.Fatalf("shape %v, want %v", n.Outputs[0].Type.Shape, tc.want)
			}
		})
	}
}

func TestReshapeTarget(t *testing.T) {
	got, err := ReshapeTarget([]int64{2, 3, 4}, []int64{0, -1}, false)
	if err != nil || !slices.Equal(got, []int64{2, 12}) {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := ReshapeTarget([]int64{2, 3}, []int64{-1, -1}, false); err == nil {
		t.Error("two -1 accepted")
	}
	if _, err := ReshapeTarget([]int64{2, 3}, []int64{4}, false); err == nil {
		t.Error("wrong element count accepted")
	}
}

func TestRunPasses(t *testing.T) {
	m := tiny()
	var ran []string
	ok := func(name string) Pass {
		return Pass{Name: name, Run: func(*Module) error { ran = append(ran, name); return nil }, Level: LevelCanonical}
	}
	if err := RunPasses(m, []Pass{ok("a"), ok("b"), ok("c")}, RunOptions{VerifyEach: true, StopAfter: "b"}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ran, ",") != "a,b" || m.Level != LevelCanonical {
		t.Errorf("ran %v, level %s", ran, m.Level)
	}
	boom := Pass{Name: "boom", Run: func(*Module) error { panic("kaput") }}
	err := RunPasses(tiny(), []Pass{boom}, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), `panic during pass "boom" while compiling "tiny"`) {
		t.Errorf("panic not reported: %v", err)
	}
	breaker := Pass{Name: "breaker", Run: func(m *Module) error { m.Graph.Nodes[1].SetInt("x", 1); return nil }}
	err = RunPasses(tiny(), []Pass{breaker}, RunOptions{VerifyEach: true})
	if err == nil || !strings.Contains(err.Error(), `IR invalid after pass "breaker"`) {
		t.Errorf("verifier failure not attributed: %v", err)
	}
	failing := Pass{Name: "fails", Run: func(*Module) error { return errors.New("nope") }}
	if err := RunPasses(tiny(), []Pass{failing}, RunOptions{}); err == nil || !strings.Contains(err.Error(), "pass fails: nope") {
		t.Errorf("pass error not wrapped: %v", err)
	}
}

func TestTopoSortAndDead(t *testing.T) {
	m := tiny()
	g := m.Graph
	g.Nodes[0], g.Nodes[1] = g.Nodes[1], g.Nodes[0]
	if err := g.TopoSort(); err != nil {
		t.Fatal(err)
	}
	if err := Verify(m); err != nil {
		t.Fatal(err)
	}
	g.Outputs = []*Value{g.Nodes[0].Outputs[0]}
	if n := g.RemoveDead(); n != 1 || len(g.Nodes) != 1 {
		t.Errorf("RemoveDead removed %d, %d nodes left", n, len(g.Nodes))
	}
}

func TestDOTDeterministic(t *testing.T) {
	var a, b strings.Builder
	if err := WriteDOT(&a, tiny()); err != nil {
		t.Fatal(err)
	}
	m := tiny()
	m.Graph.Nodes[0].Engine, m.Graph.Nodes[0].Precision = "dual", "dual"
	_ = WriteDOT(&b, tiny())
	if a.String() != b.String() {
		t.Error("DOT output not deterministic")
	}
	for _, s := range []string{"Conv", "1x4x8x8", "w_1 4x3x3x3 (432 B)"} {
		if !strings.Contains(a.String(), s) {
			t.Errorf("DOT lacks %q:\n%s", s, a.String())
		}
	}
	var c strings.Builder
	_ = WriteDOT(&c, m)
	if !strings.Contains(c.String(), EngineColors["dual"]) {
		t.Error("partitioned node not coloured")
	}
}

func TestClone(t *testing.T) {
	m := tiny()
	c := m.Clone()
	if c.String() != m.String() {
		t.Fatalf("clone prints differently:\n%s\nvs\n%s", c.String(), m.String())
	}
	if err := Verify(c); err != nil {
		t.Fatal(err)
	}
	c.Graph.Nodes[0].SetInt("group", 1)
	c.Graph.Nodes[1].Outputs[0].Name = "renamed"
	c.Graph.RemoveDead()
	if m.Graph.Nodes[0].Has("group") || m.Graph.Outputs[0].Name != "y" {
		t.Error("changing the clone changed the original")
	}
	if c.Graph.Consts[0].Const != m.Graph.Consts[0].Const {
		t.Error("constant tensors should be shared")
	}
}
