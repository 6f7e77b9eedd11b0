package ir

import (
	"math"
	"strings"
	"testing"
)

// parseSample is hand-written text IR touching every part of the grammar.
const parseSample = `# comments and blank lines are ignored

module "sample" producer "pytorch 2.1" opset ai.onnx=13 opset pimc=1 level canonical
input %x: f32[N=1,3,8,8]
input %"odd name": f32[1,2]
const %w: f32[2,3,3,3] = iota<0.5,-0.125>
const %b: f32[2] = [0.25,-1e-05]
const %shape: i64[2] = [1,-1]
const %big: f32[16] = splat<NaN>
const %a:b: i64[] = [7]
const %s2: i64[2] = [1,2]
%y = Conv(%x, %w, %b) {group=1, pads=[1,1,1,1], strides=[1,1]} : f32[1,2,8,8] @"conv1" [sram int4]
%p, _ = MaxPool(%y) {kernel_shape=[2,2], strides=[2,2]} : f32[1,2,4,4] @"pool" [ppu ]
%r = Reshape(%p, %shape) : f32[1,32] @"" [ fp32]
%c = ConstantOfShape(%s2) {value=tensor<f32[1] [-Inf]>} : f32[1,2] @"cos"
%e = Clip(%"odd name", _, %b) : f32[1,2] @"clip"
output %r: f32[1,32]
output %"odd name": f32[1,2]
`

func TestParseSample(t *testing.T) {
	m, err := Parse("sample.pir", []byte(parseSample))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(m); err != nil {
		t.Fatalf("parsed module does not verify: %v", err)
	}
	g := m.Graph
	if m.Producer != "pytorch 2.1" || m.Opsets[""] != 13 || m.Opsets["pimc"] != 1 || m.Level != LevelCanonical {
		t.Errorf("header: producer %q opsets %v level %v", m.Producer, m.Opsets, m.Level)
	}
	if m.Bindings["N"] != 1 || g.Inputs[0].Type.Dims[0] != "N" {
		t.Errorf("bindings %v, dims %v", m.Bindings, g.Inputs[0].Type.Dims)
	}
	w := g.Consts[0].Const
	if w.F[0] != 0.5 || w.F[1] != 0.375 || w.F[53] != float32(0.5-53*0.125) {
		t.Errorf("iota: %v", w.F[:3])
	}
	if !math.IsNaN(float64(g.Consts[3].Const.F[15])) {
		t.Errorf("splat<NaN>: %v", g.Consts[3].Const.F)
	}
	if g.Consts[4].Name != "a:b" || g.Consts[4].Const.I[0] != 7 {
		t.Errorf("name with a colon: %q %v", g.Consts[4].Name, g.Consts[4].Const)
	}
	conv, pool, rs := g.Nodes[0], g.Nodes[1], g.Nodes[2]
	if conv.Engine != "sram" || conv.Precision != "int4" || pool.Engine != "ppu" || pool.Precision != "" || rs.Engine != "" || rs.Precision != "fp32" {
		t.Errorf("engines: %q/%q %q/%q %q/%q", conv.Engine, conv.Precision, pool.Engine, pool.Precision, rs.Engine, rs.Precision)
	}
	if pool.Outputs[1] != nil || len(pool.Outputs) != 2 {
		t.Errorf("omitted output: %v", pool.Outputs)
	}
	if clip := g.Nodes[4]; clip.Inputs[1] != nil || clip.Inputs[2] != g.Consts[1] {
		t.Errorf("omitted input: %v", clip.Inputs)
	}
	if g.Outputs[1] != g.Inputs[1] {
		t.Errorf("output that is a graph input")
	}
	// The canonical form summarises the large constants, which then
	// cannot be read back.
	want := strings.Join([]string{
		`module "sample" producer "pytorch 2.1" opset ai.onnx=13 opset pimc=1 level canonical`,
		`input %x: f32[N=1,3,8,8]`,
		`input %"odd name": f32[1,2]`,
		`const %w: f32[2,3,3,3] = dense<54 elems crc32=7d51b5a4>`,
		`const %b: f32[2] = [0.25,-1e-05]`,
		`const %shape: i64[2] = [1,-1]`,
		`const %big: f32[16] = dense<16 elems crc32=cb736557>`,
		`const %a:b: i64[] = [7]`,
		`const %s2: i64[2] = [1,2]`,
		`%y = Conv(%x, %w, %b) {group=1, pads=[1,1,1,1], strides=[1,1]} : f32[1,2,8,8] @"conv1" [sram int4]`,
		`%p, _ = MaxPool(%y) {kernel_shape=[2,2], strides=[2,2]} : f32[1,2,4,4] @"pool" [ppu ]`,
		`%r = Reshape(%p, %shape) : f32[1,32] @"" [ fp32]`,
		`%c = ConstantOfShape(%s2) {value=tensor<f32[1] [-Inf]>} : f32[1,2] @"cos"`,
		`%e = Clip(%"odd name", _, %b) : f32[1,2] @"clip"`,
		`output %r: f32[1,32]`,
		`output %"odd name": f32[1,2]`,
		``}, "\n")
	text := m.String()
	if text != want {
		t.Errorf("printed\n%s\nwant\n%s", text, want)
	}
	if _, err := Parse("printed", []byte(text)); err == nil || !strings.Contains(err.Error(), "printed:4:26: constant data elided") {
		t.Errorf("reparsing elided constants: got %v", err)
	}
}

// TestParseRoundTripBuilt prints a module built in Go (no elided
// constants), parses it and prints again.
func TestParseRoundTripBuilt(t *testing.T) {
	m := NewModule("built")
	m.Opsets[""] = 17
	m.Level = LevelImported
	g := m.Graph
	x := &Value{Name: "x", Type: Type{DType: Float32, Shape: []int64{1, 4}, Dims: []string{"batch", ""}}}
	g.Inputs = append(g.Inputs, x)
	w := m.AddConst("w", FloatTensor([]float32{1, -2, 3.5, float32(math.Inf(1)), 0, float32(math.Copysign(0, -1)), 1e-30, 3e38}, 4, 2))
	cv := m.AddConst("cv", IntTensor(Int64, []int64{2, 1}, 2))
	mm := &Node{Name: "mm", Op: OpMatMul, Inputs: []*Value{x, w}}
	mm.Outputs = []*Value{{Name: "y", Def: mm}}
	rs := &Node{Name: "rs", Op: OpReshape, Inputs: []*Value{nil, cv}}
	rs.Outputs = []*Value{{Name: "out put", Def: rs}}
	g.Nodes = []*Node{mm, rs}
	if err := InferNode(mm); err != nil {
		t.Fatal(err)
	}
	rs.Inputs[0] = mm.Outputs[0]
	if err := InferNode(rs); err != nil {
		t.Fatal(err)
	}
	cs := &Node{Name: "cs", Op: OpConstantOfShape, Inputs: []*Value{cv}}
	cs.Outputs = []*Value{{Name: "k", Def: cs}}
	cs.Attrs = Attrs{"value": {Kind: AttrTensor, Tensor: IntTensor(Int8, []int64{-3}, 1)}}
	if err := InferNode(cs); err != nil {
		t.Fatal(err)
	}
	sm := &Node{Name: "sm", Op: OpLeakyRelu, Inputs: []*Value{rs.Outputs[0]}}
	sm.SetFloat("alpha", 1)
	sm.Outputs = []*Value{{Name: "z", Def: sm}}
	if err := InferNode(sm); err != nil {
		t.Fatal(err)
	}
	g.Nodes = append(g.Nodes, cs, sm)
	g.Outputs = []*Value{sm.Outputs[0], cs.Outputs[0]}
	if err := Verify(m); err != nil {
		t.Fatal(err)
	}
	text := m.String()
	m2, err := Parse("built", []byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if got := m2.String(); got != text {
		t.Errorf("round trip differs:\n%s\nvs\n%s", got, text)
	}
	if a := m2.Graph.Nodes[3].Attrs["alpha"]; a.Kind != AttrFloat || a.Float != 1 {
		t.Errorf("float attribute printed as 1 parsed as %+v", a)
	}
}

func TestParseErrors(t *testing.T) {
	const hdr = "module \"m\" opset ai.onnx=13\n"
	tests := []struct {
		name, src, want string
	}{
		{"no header", "input %x: f32[1]\n", "t:1:1: expected the module header"},
		{"empty", "", "missing module header"},
		{"elided", hdr + "const %w: f32[9] = dense<9 elems crc32=01234567>\n", "t:2:20: constant data elided"},
		{"count", hdr + "const %w: f32[3] = [1,2]\n", "t:2:20: constant has 2 elements, type f32[3] needs 3"},
		{"int range", hdr + "const %w: u8[1] = [256]\n", "t:2:20: element 256 out of range for u8"},
		{"bad float", hdr + "const %w: f32[1] = [1x]\n", `t:2:21: bad f32 element "1x"`},
		{"dtype", hdr + "input %x: q7[1]\n", `t:2:11: unknown element type "q7"`},
		{"dup", hdr + "input %x: f32[1]\ninput %x: f32[1]\n", "t:3:7: value %x already defined on line 2"},
		{"undefined", hdr + "input %x: f32[1]\n%y = Relu(%z) : f32[1] @\"r\"\noutput %y: f32[1]\n", "t:3:11: undefined value %z"},
		{"unknown op", hdr + "input %x: f32[1]\n%y = Frob(%x) : f32[1] @\"r\"\n", `t:3:6: unknown operator "Frob"`},
		{"arity", hdr + "input %x: f32[1]\n%y = Add(%x) : f32[1] @\"a\"\n", "t:3:6: Add takes 2 inputs, got 1"},
		{"required nil", hdr + "input %x: f32[1]\n%y = Add(%x, _) : f32[1] @\"a\"\n", "t:3:14: input 1 of Add cannot be omitted"},
		{"variadic nil", hdr + "input %x: f32[1]\n%y = Concat(%x, _) {axis=0} : f32[1] @\"c\"\n", "cannot be omitted"},
		{"attr unknown", hdr + "input %x: f32[1]\n%y = Relu(%x) {alpha=1} : f32[1] @\"r\"\n", `t:3:16: Relu has no attribute "alpha"`},
		{"attr kind", hdr + "input %x: f32[1]\n%y = LeakyRelu(%x) {alpha=[1]} : f32[1] @\"r\"\n", `bad f32 element ""`},
		{"attr required", hdr + "input %x: f32[1]\n%y = Concat(%x) : f32[1] @\"c\"\n", `t:3:6: Concat requires attribute "axis"`},
		{"type mismatch", hdr + "input %x: f32[1,2]\n%y = Relu(%x) : f32[2,1] @\"r\"\n", "t:3:17: node \"r\" (Relu): output %y recorded as f32[2,1], inference gives f32[1,2]"},
		{"infer error", hdr + "input %x: f32[2]\ninput %z: f32[3]\n%y = Add(%x, %z) : f32[3] @\"a\"\n", "t:4:6: node \"a\" (Add): shapes"},
		{"types count", hdr + "input %x: f32[1]\n%y = Relu(%x) : f32[1], f32[1] @\"r\"\n", "t:3:25: 2 types for 1 outputs"},
		{"output type", hdr + "input %x: f32[1]\noutput %x: f32[2]\n", "t:3:12: output %x declared as f32[2] but the value is f32[1]"},
		{"trailing", hdr + "input %x: f32[1] junk\n", `t:2:18: unexpected "junk" at end of line`},
		{"level", "module \"m\" level fancy\n", `t:1:12: bad or repeated level "fancy"`},
		{"neg dim", hdr + "input %x: f32[-1]\n", `t:2:15: bad dimension "-1"`},
		{"binding", hdr + "input %x: f32[N=1]\ninput %y: f32[N=2]\n", "t:3:7: dimension N bound to 2 here but 1 earlier"},
		{"splat cap", hdr + "const %w: f32[100000,100000] = splat<1>\n", "too many elements"},
		{"shape overflow", hdr + "const %w: f32[4294967296,4294967296,4] = [1]\n", "constant has 1 elements"},
		{"cos negative", hdr + "const %s: i64[2] = [1,-1]\n%c = ConstantOfShape(%s) : f32[1,1] @\"c\"\n", "negative dim"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// TestParseAwaitsConstant: a Reshape whose shape is computed (before
// fold-constants) keeps its recorded type.
func TestParseAwaitsConstant(t *testing.T) {
	src := `module "m" opset ai.onnx=13 level imported
input %x: f32[2,3,4]
%s = Shape(%x) : i64[3] @"shape"
%y = Reshape(%x, %s) : f32[2,3,4] @"reshape"
output %y: f32[2,3,4]
`
	m, err := Parse("t", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.String(); got != src {
		t.Errorf("got\n%s", got)
	}
}
