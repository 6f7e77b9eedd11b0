package partition

import (
	"strings"
	"testing"

	"pimc/ir"
)

// quantIR has one node of every kind the rules distinguish: INT8 first
// layer, a dual split conv with a residual, an INT4-only and a TB-only split
// layer, a depthwise INT8 conv, pooling, add, rescale, concat, flatten, an
// INT4 unsplit FC, dequantize and a float softmax.
const quantIR = `module "quant" level quantized
input %x: f32[1,3,8,8]
const %c1_w: i8[8,3,3,3] = splat<1>
const %c1_rq: i64[8,4] = splat<0>
const %d_w4: i8[4,8,3,3] = splat<1>
const %d_wt: i8[4,8,3,3] = splat<-1>
const %d_rq: i64[8,4] = splat<0>
const %d_ch: i64[8] = iota<0,1>
const %i_w4: i8[8,8,1,1] = splat<2>
const %i_wt: i8[0,8,1,1] = []
const %i_rq: i64[8,4] = splat<0>
const %i_ch: i64[8] = iota<0,1>
const %t_w4: i8[0,8,1,1] = []
const %t_wt: i8[8,8,1,1] = splat<1>
const %t_rq: i64[8,4] = splat<0>
const %t_ch: i64[8] = iota<0,1>
const %dw_w: i8[8,1,3,3] = splat<1>
const %dw_rq: i64[8,4] = splat<0>
const %fc_w: i8[4,16] = splat<1>
const %fc_rq: i64[4,4] = splat<0>
%xq = QuantizeInput(%x) {bits=8, scale=0.1, signed=1} : i8[1,3,8,8] @"quantize_x"
%c1 = QConv(%xq, %c1_w, %c1_rq) {kernel_shape=[3,3], out_bits=4, out_signed=0, pads=[1,1,1,1], relu=1, w_bits=8, x_bits=8} : u8[1,8,8,8] @"conv1" [ int8]
%d = DualConv(%c1, %d_w4, %d_wt, %d_rq, %d_ch, %c1) {kernel_shape=[3,3], out_bits=4, out_signed=0, pads=[1,1,1,1], tb_threshold=3, x_bits=4} : u8[1,8,8,8] @"dual" [ dual]
%i = DualConv(%d, %i_w4, %i_wt, %i_rq, %i_ch) {out_bits=4, out_signed=0, tb_threshold=3, x_bits=4} : u8[1,8,8,8] @"int4only" [ int4]
%t = DualConv(%d, %t_w4, %t_wt, %t_rq, %t_ch) {out_bits=4, out_signed=0, tb_threshold=3, x_bits=4} : u8[1,8,8,8] @"tbonly" [ tb]
%a = QAdd(%i, %t) {mult_a=1, mult_b=1, shift=1, out_bits=4, out_signed=0} : u8[1,8,8,8] @"add"
%r = QRelu(%a) : u8[1,8,8,8] @"relu"
%r8 = QRescale(%r) {mult=3, shift=1, out_bits=8, out_signed=0} : u8[1,8,8,8] @"rescale"
%dw = QConv(%r8, %dw_w, %dw_rq) {group=8, kernel_shape=[3,3], out_bits=4, out_signed=0, pads=[1,1,1,1], w_bits=8, x_bits=8} : u8[1,8,8,8] @"depthwise"
%p = QMaxPool(%dw) {kernel_shape=[2,2], strides=[2,2]} : u8[1,8,4,4] @"pool"
%cat = QConcat(%p, %p) {axis=1} : u8[1,16,4,4] @"concat"
%g = QGlobalAvgPool(%cat) {mult=1, shift=4, out_bits=4, out_signed=0} : u8[1,16,1,1] @"gap"
%f = Flatten(%g) : u8[1,16] @"flatten"
%fc = QGemm(%f, %fc_w, %fc_rq) {out_bits=16, out_signed=1, w_bits=4, x_bits=4} : i16[1,4] @"fc"
%y = Dequantize(%fc) {scale=0.01} : f32[1,4] @"dequantize"
%s = Softmax(%y) {axis=1} : f32[1,4] @"softmax"
output %s: f32[1,4]
`

func parse(t *testing.T, src string) *ir.Module {
	t.Helper()
	m, err := ir.Parse(t.Name(), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAssignRules(t *testing.T) {
	m := parse(t, quantIR)
	if err := Assign(m); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"quantize_x": {"ppu", "int8"},
		"conv1":      {"sram", "int8"},
		"dual":       {"dual", "dual"},
		"int4only":   {"sram", "int4"},
		"tbonly":     {"edram", "tb"},
		"add":        {"ppu", "int4"},
		"relu":       {"ppu", "int4"},
		"rescale":    {"ppu", "int8"},
		"depthwise":  {"sram", "int8"},
		"pool":       {"ppu", "int4"},
		"concat":     {"ppu", "int4"},
		"gap":        {"ppu", "int4"},
		"flatten":    {"ppu", "int4"},
		"fc":         {"sram", "int4"},
		"dequantize": {"ppu", "fp32"},
		"softmax":    {"ppu", "fp32"},
	}
	if len(m.Graph.Nodes) != len(want) {
		t.Fatalf("%d nodes, want %d", len(m.Graph.Nodes), len(want))
	}
	for _, n := range m.Graph.Nodes {
		w := want[n.Name]
		if n.Engine != w[0] || n.Precision != w[1] {
			t.Errorf("%s: [%s %s], want [%s %s]", n.Where(), n.Engine, n.Precision, w[0], w[1])
		}
	}
	// The module now verifies at the partitioned level (every node has an
	// engine), and the text form round-trips the decision.
	m.Level = ir.LevelPartitioned
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := ir.Print(&b, m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `@"tbonly" [edram tb]`) {
		t.Errorf("printed IR lacks the engine:\n%s", b.String())
	}
}

func TestAssignIdempotent(t *testing.T) {
	m := parse(t, quantIR)
	if err := Assign(m); err != nil {
		t.Fatal(err)
	}
	var a, b strings.Builder
	_ = ir.Print(&a, m)
	if err := Assign(m); err != nil {
		t.Fatal(err)
	}
	_ = ir.Print(&b, m)
	if a.String() != b.String() {
		t.Error("a second Assign changed the module")
	}
}

func TestAssignDOT(t *testing.T) {
	m := parse(t, quantIR)
	if err := Assign(m); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := ir.WriteDOT(&b, m); err != nil {
		t.Fatal(err)
	}
	dot := b.String()
	for eng, c := range ir.EngineColors {
		if !strings.Contains(dot, c) {
			t.Errorf("DOT has no node coloured for %s (%s)", eng, c)
		}
	}
	for _, s := range []string{"[dual dual]", "[sram int8]", "[edram tb]", "[ppu fp32]"} {
		if !strings.Contains(dot, s) {
			t.Errorf("DOT lacks label %q", s)
		}
	}
}

// TestAssignFloatLayers: a module that was never quantized is refused, and
// the error names every float layer.
func TestAssignFloatLayers(t *testing.T) {
	m := parse(t, `module "float"
input %x: f32[1,3,8,8]
const %w: f32[4,3,3,3] = splat<0.5>
const %w2: f32[2,4] = splat<0.5>
%y = Conv(%x, %w) : f32[1,4,6,6] @"stem"
%r = Relu(%y) : f32[1,4,6,6] @"relu"
%g = GlobalAveragePool(%r) : f32[1,4,1,1] @"gap"
%f = Flatten(%g) : f32[1,4] @"flat"
%z = Gemm(%f, %w2) {transB=1} : f32[1,2] @"head"
output %z: f32[1,2]
`)
	err := Assign(m)
	if err == nil {
		t.Fatal("Assign accepted float layers")
	}
	for _, w := range []string{`node "stem" (Conv): float layer left`, `node "head" (Gemm): float layer left`, "run the quantize pass"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestAssignEmptySplit(t *testing.T) {
	// Verify refuses a split layer without channels (its channel map
	// would be empty), so build it without verifying.
	m := parse(t, `module "e" level quantized
input %x: u8[1,4,2,2]
%y = QRelu(%x) : u8[1,4,2,2] @"relu"
output %y: u8[1,4,2,2]
`)
	n := m.Graph.Nodes[0]
	w := &ir.Value{Name: "w", Type: ir.Type{DType: ir.Int8, Shape: []int64{0, 4, 1, 1}}}
	n.Op = ir.OpDualConv
	n.Inputs = []*ir.Value{n.Inputs[0], w, w}
	if err := Assign(m); err == nil || !strings.Contains(err.Error(), `node "relu" (DualConv): split layer has neither`) {
		t.Errorf("Assign error %v", err)
	}
}

// TestAssignFloatOps: the float ops a quantized module leaves between a
// Dequantize and a quantization (LRN, activations; the backend's fop
// instruction) go to the PPU at the float format.
func TestAssignFloatOps(t *testing.T) {
	m := parse(t, `module "fops" level quantized
input %x: f32[1,4,3,3]
const %hi: f32[] = splat<6>
%xq = QuantizeInput(%x) {bits=8, scale=0.1, signed=1} : i8[1,4,3,3] @"quantize_x"
%d = Dequantize(%xq) {scale=0.1} : f32[1,4,3,3] @"dequantize"
%l = LRN(%d) {alpha=0.0001, beta=0.75, bias=1, size=3} : f32[1,4,3,3] @"lrn"
%s = Sigmoid(%l) : f32[1,4,3,3] @"sigmoid"
%c = Clip(%s, _, %hi) : f32[1,4,3,3] @"clip"
%e = Exp(%c) : f32[1,4,3,3] @"exp"
%q = QuantizeInput(%e) {bits=8, scale=0.1, signed=0} : u8[1,4,3,3] @"requantize"
%y = Dequantize(%q) {scale=0.1} : f32[1,4,3,3] @"out"
output %y: f32[1,4,3,3]
`)
	if err := Assign(m); err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.Nodes {
		want := [2]string{EnginePPU, "fp32"}
		if n.Op == ir.OpQuantizeInput {
			want[1] = "int8"
		}
		if n.Engine != want[0] || n.Precision != want[1] {
			t.Errorf("%s: [%s %s], want [%s %s]", n.Where(), n.Engine, n.Precision, want[0], want[1])
		}
	}
}
