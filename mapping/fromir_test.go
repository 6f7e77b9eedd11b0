package mapping

import (
	"fmt"
	"strings"
	"testing"

	"pimc/hw"
	"pimc/ir"
)

// adapterIR exercises every layer op LayerOf reads: a split conv with
// stride, padding and dilation, a TB-only conv (empty INT4 weights), an INT8
// depthwise conv and an INT4-only split FC layer; the PPU ops between them
// are skipped.
const adapterIR = `module "adapter" level quantized
input %x: f32[1,8,16,16]
const %c1_w4: i8[4,8,3,3] = splat<1>
const %c1_wt: i8[12,8,3,3] = splat<-1>
const %c1_rq: i64[16,4] = splat<0>
const %c1_ch: i64[16] = iota<0,1>
const %c2_w4: i8[0,16,1,1] = []
const %c2_wt: i8[16,16,1,1] = splat<1>
const %c2_rq: i64[16,4] = splat<0>
const %c2_ch: i64[16] = iota<0,1>
const %dw_w: i8[16,1,3,3] = splat<2>
const %dw_rq: i64[16,4] = splat<0>
const %fc_w4: i8[10,96] = splat<3>
const %fc_wt: i8[0,96] = []
const %fc_rq: i64[10,4] = splat<0>
const %fc_ch: i64[10] = iota<0,1>
%xq = QuantizeInput(%x) {bits=4, scale=0.1, signed=0} : u8[1,8,16,16] @"q"
%y1 = DualConv(%xq, %c1_w4, %c1_wt, %c1_rq, %c1_ch) {dilations=[2,1], kernel_shape=[3,3], out_bits=4, out_signed=0, pads=[2,1,2,0], strides=[2,2], tb_threshold=3, x_bits=4} : u8[1,16,8,8] @"c1"
%p = QMaxPool(%y1) {kernel_shape=[2,1], strides=[2,1]} : u8[1,16,4,8] @"pool"
%y2 = DualConv(%p, %c2_w4, %c2_wt, %c2_rq, %c2_ch) {out_bits=8, out_signed=0, tb_threshold=2, x_bits=4} : u8[1,16,4,8] @"c2"
%y3 = QConv(%y2, %dw_w, %dw_rq) {group=16, kernel_shape=[3,3], out_bits=4, out_signed=0, pads=[1,1,1,1], w_bits=8, x_bits=8} : u8[1,16,4,8] @"dw"
%y3p = QAvgPool(%y3) {kernel_shape=[4,3], mults=[1,1,1,1,1,1,1,1,1,1,1,1], shift=0, out_bits=4, out_signed=0} : u8[1,16,1,6] @"avg"
%f = Flatten(%y3p) : u8[1,96] @"flat"
%y4 = DualGemm(%f, %fc_w4, %fc_wt, %fc_rq, %fc_ch) {out_bits=8, out_signed=1, tb_threshold=1, x_bits=4} : i8[1,10] @"fc"
output %y4: i8[1,10]
`

func TestLayerOfShapes(t *testing.T) {
	m, err := ir.Parse("adapter.ir", []byte(adapterIR))
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	ls, ns, err := FromIR(m)
	if err != nil {
		t.Fatal(err)
	}
	want := []DualLayer{
		{Layer: Layer{Name: "c1", Kind: KindConv, IH: 16, IW: 16, KH: 3, KW: 3, IC: 8, OC: 16, SH: 2, SW: 2,
			PadT: 2, PadL: 1, PadB: 2, PadR: 0, DH: 2, DW: 1, Group: 1}, OC4: 4, OCTB: 12, SRAMInputBits: 4},
		{Layer: Layer{Name: "c2", Kind: KindConv, IH: 4, IW: 8, KH: 1, KW: 1, IC: 16, OC: 16, SH: 1, SW: 1,
			DH: 1, DW: 1, Group: 1}, OC4: 0, OCTB: 16, SRAMInputBits: 4},
		{Layer: Layer{Name: "dw", Kind: KindGrouped, IH: 4, IW: 8, KH: 3, KW: 3, IC: 16, OC: 16, SH: 1, SW: 1,
			PadT: 1, PadL: 1, PadB: 1, PadR: 1, DH: 1, DW: 1, Group: 16}, OC4: 16, SRAMWeightBits: 8, SRAMInputBits: 8},
		{Layer: Layer{Name: "fc", Kind: KindFC, IH: 1, IW: 1, KH: 1, KW: 1, IC: 96, OC: 10}, OC4: 10, SRAMInputBits: 4},
	}
	if len(ls) != len(want) || len(ns) != len(want) {
		t.Fatalf("got %d layers (%d nodes), want %d: %+v", len(ls), len(ns), len(want), ls)
	}
	for i := range want {
		if ls[i] != want[i] {
			t.Errorf("layer %d:\n got  %+v\n want %+v", i, ls[i], want[i])
		}
		if ns[i].Name != want[i].Layer.Name {
			t.Errorf("node %d is %q, want %q", i, ns[i].Name, want[i].Layer.Name)
		}
		// Every adapted layer is one the mapper accepts, and its output
		// size is the IR's.
		nl, err := ls[i].Layer.Normalized()
		if err != nil {
			t.Errorf("layer %d: %v", i, err)
			continue
		}
		os := ns[i].Out(0).Type.Shape
		if nl.Kind != KindFC && (int64(nl.OH()) != os[2] || int64(nl.OW()) != os[3]) {
			t.Errorf("layer %d: mapper output %dx%d, IR %v", i, nl.OH(), nl.OW(), os)
		}
	}
	if _, err := MapDual(ls, hw.Default(), Options{}); err != nil {
		t.Errorf("MapDual on adapted layers: %v", err)
	}
}

func TestLayerOfGemmRowsAnd1D(t *testing.T) {
	src := `module "g" level quantized
input %x: u8[4,64]
input %s: u8[1,64,9]
const %g_w: i8[5,64] = splat<1>
const %g_rq: i64[5,4] = splat<0>
const %c_w: i8[6,64,3] = splat<1>
const %c_rq: i64[6,4] = splat<0>
%y = QGemm(%x, %g_w, %g_rq) {out_bits=8, out_signed=1, w_bits=4, x_bits=4} : i8[4,5] @"gemm"
%z = QConv(%s, %c_w, %c_rq) {kernel_shape=[3], pads=[1,0], strides=[2], out_bits=4, out_signed=0, w_bits=8, x_bits=8} : u8[1,6,4] @"conv1d"
output %y: i8[4,5]
output %z: u8[1,6,4]
`
	m, err := ir.Parse("g.ir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ls, _, err := FromIR(m)
	if err != nil {
		t.Fatal(err)
	}
	want := []DualLayer{
		{Layer: Layer{Name: "gemm", Kind: KindConv, IH: 4, IW: 1, KH: 1, KW: 1, IC: 64, OC: 5}, OC4: 5, SRAMWeightBits: 4, SRAMInputBits: 4},
		{Layer: Layer{Name: "conv1d", Kind: KindConv, IH: 1, IW: 9, KH: 1, KW: 3, IC: 64, OC: 6, SH: 1, SW: 2,
			PadL: 1, DH: 1, DW: 1, Group: 1}, OC4: 6, SRAMWeightBits: 8, SRAMInputBits: 8},
	}
	if len(ls) != 2 || ls[0] != want[0] || ls[1] != want[1] {
		t.Fatalf("got %+v\nwant %+v", ls, want)
	}
	nl, _ := ls[1].Layer.Normalized()
	if nl.OW() != 4 || nl.OH() != 1 {
		t.Errorf("1-D conv maps to %dx%d outputs, want 1x4", nl.OH(), nl.OW())
	}
}

func TestLayerOfErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"float conv", `module "f"
input %x: f32[1,3,8,8]
const %w: f32[4,3,3,3] = splat<0.5>
%y = Conv(%x, %w) : f32[1,4,6,6] @"stem"
output %y: f32[1,4,6,6]
`, `node "stem" (Conv): not lowered to pimc's quantized layer ops`},
		{"float matmul", `module "f"
input %x: f32[1,8]
const %w: f32[8,2] = splat<0.5>
%y = MatMul(%x, %w) : f32[1,2] @"head"
output %y: f32[1,2]
`, `node "head" (MatMul): not lowered`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ir.Parse(tc.name, []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = FromIR(m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("FromIR error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestFromIRBatch: a batch-N conv maps as one image's layer (the backend
// runs its tiles over every image's windows) and BatchOf reports N.
func TestFromIRBatch(t *testing.T) {
	src := func(n int) string {
		return fmt.Sprintf(`module "b" level quantized
input %%x: u8[%d,4,8,8]
const %%w: i8[4,4,1,1] = splat<1>
const %%rq: i64[4,4] = splat<0>
%%y = QConv(%%x, %%w, %%rq) {out_bits=4, out_signed=0, w_bits=8, x_bits=8} : u8[%d,4,8,8] @"c"
output %%y: u8[%d,4,8,8]
`, n, n, n)
	}
	var one DualLayer
	for _, n := range []int{1, 2, 10} {
		m, err := ir.Parse("b", []byte(src(n)))
		if err != nil {
			t.Fatal(err)
		}
		ls, ns, err := FromIR(m)
		if err != nil {
			t.Fatalf("batch %d: %v", n, err)
		}
		if n == 1 {
			one = ls[0]
		} else if ls[0] != one {
			t.Errorf("batch %d: layer %+v, want the one-image layer %+v", n, ls[0], one)
		}
		if got := BatchOf(ns[0]); got != int64(n) {
			t.Errorf("BatchOf = %d, want %d", got, n)
		}
	}
}
