package cost

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"pimc/hw"
	"pimc/ir"
	"pimc/mapping"
)

func parse(t testing.TB, src string) *ir.Module {
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

func evaluate(t testing.TB, m *ir.Module, h *hw.Hardware) *Report {
	t.Helper()
	r, err := Evaluate(m, h, Options{Label: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// oneLayer is a single dual conv: 8 input channels on a 4×4 map, 3×3
// kernel, no padding (2×2 outputs), 8 INT4 and 8 ternary output channels.
const oneLayer = `module "one" level quantized
input %x: u8[1,8,4,4]
const %w4: i8[8,8,3,3] = splat<1>
const %wt: i8[8,8,3,3] = splat<-1>
const %rq: i64[16,4] = splat<0>
const %ch: i64[16] = iota<0,1>
%y = DualConv(%x, %w4, %wt, %rq, %ch) {kernel_shape=[3,3], out_bits=4, out_signed=0, tb_threshold=2, x_bits=4} : u8[1,16,2,2] @"conv"
output %y: u8[1,16,2,2]
`

// TestOneLayerByHand checks every count and energy of oneLayer on the
// default chip against numbers derived by hand (docs/cost.md formulas).
//
// Mapping (docs/mapping.md). SRAM: b = 4, Ceff = 32. The 2×2-output SDK
// window spans 4×4 pixels × 8 channels = 128 rows (one row tile) and
// 4 copies × 8 channels = 32 weight columns (one column tile): 1 tile, 1
// window, so SDK beats im2col (1 tile, 4 windows) and VW-SDK finds the
// same 4x4x8x8 window (deduplicated, SDK is kept). The allocator keeps it
// resident on 1 array. eDRAM: b = 2, Ceff = 64: the same window, 1 tile,
// 1 window, 1 array.
//
//	SRAM  clk/vector = 4 input bit-cycles × 1 row group × 8 cols/ADC = 32;
//	      compute = 1 window × 32 = 32 clk
//	eDRAM clk/vector = 1 × 1 × 8 = 8; compute = 8 clk
//	MACs per path = OH·OW·KH·KW·IC·OC = 2·2·9·8·8 = 2304
//	ADC = windows·row_tiles·out_h·out_w·OC·b·input_cycles·row_groups
//	      SRAM 1·1·2·2·8·4·4·1 = 512; eDRAM 1·1·2·2·8·2·1·1 = 64
//	drivers = windows·rows_written·input_cycles
//	      SRAM 1·128·4 = 512; eDRAM 1·128·1 = 128
//	buffer reads per path = windows·(4·4 pixels)·8 channels·4 bits = 512
//	PPU = 64 outputs × 1 requantization (1 row tile: no partial sums) = 64
//	      ops → ⌈64/16⌉ = 4 clk
//	buffer writes = 64 outputs × 4 bits = 256, plus the graph input the DMA
//	      deposits, 128 × 8 bits (u8) = 1024 → 1280
//	DMA = input 1024 bits = 128 B + output 64 × 4 bits = 32 B → 160 B;
//	      sending the output out reads its 256 bits from the buffer, so
//	      the layer reads 512 + 512 + 256 = 1280 bits
//	latency = max(SRAM 32, eDRAM 8, PPU 4) = 32 clk = 0.32 µs (the PPU
//	      overlaps the arrays); 36 clk without overlap
//
// Energies (fJ): SRAM MAC 2304·29 = 66816, ADC 512·60 = 30720, drivers
// 512·20 = 10240, reads 512·100 = 51200 → 158976. eDRAM MAC 2304·4.2 =
// 9676.8, ADC 64·60 = 3840, drivers 128·20 = 2560, reads 51200 → 67276.8.
// PPU part: 64·250 = 16000, output read 256·100 = 25600, writes 1280·120
// = 153600, DMA 160·32000 = 5120000 → 5315200. Layer total 5541452.8. No reloads; refresh 128 rows ×
// ⌊32/20000⌋ = 0.
//
// Memory: 576 INT4 weights × 4 + 576 ternary × 2 = 3456 bits; packed
// 2304 + ⌈576·log2 3⌉ = 2304 + 913 = 3217. Activations: the input (1024
// bits) and the output (256), both live at conv: total and peak 1280. One-time load per pool: 128 rows, max(128·1,
// ⌈128·16/16⌉) = 128 clk, 128·(1280 + 16·32000) = 65699840 fJ.
func TestOneLayerByHand(t *testing.T) {
	r := evaluate(t, parse(t, oneLayer), testHW())
	if len(r.Layers) != 1 || len(r.PPUOps) != 0 {
		t.Fatalf("%d layers, %d PPU ops", len(r.Layers), len(r.PPUOps))
	}
	l := r.Layers[0]
	ints := []struct {
		name      string
		got, want int64
	}{
		{"sram tiles", l.SRAM.Tiles, 1}, {"sram copies", l.SRAM.Copies, 1}, {"sram arrays", l.SRAM.Arrays, 1},
		{"sram windows", l.SRAM.Windows, 1}, {"sram cycles", l.SRAM.Cycles, 1},
		{"sram compute clk", l.SRAM.ComputeClk, 32}, {"sram latency clk", l.SRAM.LatencyClk, 32},
		{"edram tiles", l.EDRAM.Tiles, 1}, {"edram windows", l.EDRAM.Windows, 1},
		{"edram latency clk", l.EDRAM.LatencyClk, 8},
		{"sram macs", l.SRAM.Counts.MACs, 2304}, {"edram macs", l.EDRAM.Counts.MACs, 2304},
		{"sram adc", l.SRAM.Counts.ADCConversions, 512}, {"edram adc", l.EDRAM.Counts.ADCConversions, 64},
		{"sram drivers", l.SRAM.Counts.DriverRowCycles, 512}, {"edram drivers", l.EDRAM.Counts.DriverRowCycles, 128},
		{"sram reads", l.SRAM.Counts.BufferReadBits, 512}, {"edram reads", l.EDRAM.Counts.BufferReadBits, 512},
		{"layer ppu ops", l.Counts.PPUOps, 64}, {"layer ppu clk", l.PPUClk, 4},
		{"layer writes", l.Counts.BufferWriteBits, 1280}, {"layer dma", l.Counts.DMABytes, 160},
		{"layer reads", l.Counts.BufferReadBits, 1280},
		{"array clk", l.ArrayClk, 32}, {"layer latency", l.LatencyClk, 32},
		{"refreshes", l.Counts.Refreshes, 0}, {"weight rows written", l.Counts.WeightRowsWritten, 0},
		{"total latency", r.Totals.LatencyClk, 32}, {"no-overlap latency", r.Totals.NoOverlapLatencyClk, 36},
		{"weight bits", r.Totals.Memory.WeightBits, 3456}, {"packed", r.Totals.Memory.WeightPackedBits, 3217},
		{"int4 weights", r.Totals.Memory.INT4Weights, 576}, {"ternary weights", r.Totals.Memory.TernaryWeights, 576},
		{"activation bits", r.Totals.Memory.ActivationBits, 1280}, {"peak", r.Totals.Memory.PeakActivationBits, 1280},
		{"sram load clk", r.SRAM.LoadClk, 128}, {"load clk", r.Totals.LoadClk, 256},
		{"sram used arrays", r.SRAM.UsedArrays, 1}, {"edram used arrays", r.EDRAM.UsedArrays, 1},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	floats := []struct {
		name      string
		got, want float64
	}{
		{"sram mac fJ", l.SRAM.Energy.MAC, 66816}, {"sram adc fJ", l.SRAM.Energy.ADC, 30720},
		{"sram driver fJ", l.SRAM.Energy.Driver, 10240}, {"sram read fJ", l.SRAM.Energy.BufferRead, 51200},
		{"sram total fJ", l.SRAM.Energy.Total, 158976},
		{"edram mac fJ", l.EDRAM.Energy.MAC, 9676.8}, {"edram adc fJ", l.EDRAM.Energy.ADC, 3840},
		{"edram driver fJ", l.EDRAM.Energy.Driver, 2560}, {"edram total fJ", l.EDRAM.Energy.Total, 67276.8},
		{"ppu fJ", l.Energy.PPU, 16000}, {"write fJ", l.Energy.BufferWrite, 153600}, {"dma fJ", l.Energy.DMA, 5120000},
		{"refresh fJ", l.Energy.Refresh, 0}, {"weight write fJ", l.Energy.WeightWrite, 0},
		{"layer fJ", l.Energy.Total, 5541452.8}, {"total fJ", r.Totals.Energy.Total, 5541452.8},
		{"total uJ", r.Totals.EnergyUJ, 5541452.8e-9},
		{"latency us", r.Totals.LatencyUS, 0.32},
		{"load fJ", r.Totals.LoadEnergyFJ, 2 * 65699840},
		{"sram util", l.SRAM.Utilisation, 9216.0 / 16384}, {"edram util", l.EDRAM.Utilisation, 4608.0 / 16384},
		{"sram busy", r.SRAM.Busy, 1}, {"edram busy", r.EDRAM.Busy, 8.0 / 32}, {"ratio", r.Ratio.Channels, 0.5},
	}
	for _, c := range floats {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	strs := []struct{ name, got, want string }{
		{"sram scheme", l.SRAM.Scheme, "sdk"}, {"sram window", l.SRAM.Window, "4x4x8x8"},
		{"sram mode", l.SRAM.Mode, "resident"}, {"edram mode", l.EDRAM.Mode, "resident"},
		{"engine", l.Engine, "dual"}, {"bound", l.Bound, "sram"}, {"peak at", r.Totals.Memory.PeakAt, "conv"},
		{"placement 0", r.SRAM.Placement[0].Use + " " + r.SRAM.Placement[0].Layer, "resident conv"},
		{"placement 1", r.SRAM.Placement[1].Use, "free"},
	}
	for _, c := range strs {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if len(r.SRAM.Placement) != 64 || len(r.EDRAM.Placement) != 32 {
		t.Errorf("placement covers %d/%d arrays", len(r.SRAM.Placement), len(r.EDRAM.Placement))
	}
}

// ppuChain has no array layer: only PPU ops, to check the op table, the
// buffer traffic, the DMA and the activation liveness by hand.
const ppuChain = `module "chain" level quantized
input %x: f32[1,4,4,4]
%q = QuantizeInput(%x) {bits=4, scale=0.1, signed=0} : u8[1,4,4,4] @"q"
%p = QMaxPool(%q) {kernel_shape=[2,2], strides=[2,2]} : u8[1,4,2,2] @"pool"
%a = QAdd(%p, %p) {mult_a=1, mult_b=1, shift=1, out_bits=8, out_signed=0} : u8[1,4,2,2] @"add"
%v = QAvgPool(%a) {kernel_shape=[2,2], mults=[1,1,1,1], shift=0, out_bits=4, out_signed=0} : u8[1,4,1,1] @"avg"
%g = QGlobalAvgPool(%a) {mult=1, shift=2, out_bits=4, out_signed=0} : u8[1,4,1,1] @"gap"
%c = QConcat(%v, %g) {axis=1} : u8[1,8,1,1] @"cat"
%f = Flatten(%c) : u8[1,8] @"flat"
%d = Dequantize(%f) {scale=0.1} : f32[1,8] @"dq"
%s = Softmax(%d) {axis=1} : f32[1,8] @"sm"
output %s: f32[1,8]
`

// TestPPUChainByHand (docs/cost.md, PPU table):
//
//	node  ops              clk  reads (bits)       writes (bits)
//	q     64·1 = 64        4    64·32 = 2048 (x)   256 + 2048 (the DMA
//	                                               deposits x: 256 B)
//	pool  16·(4−1) = 48    3    256                16·4 = 64
//	add   16·2 = 32        2    64+64 = 128        16·8 = 128
//	avg   4·4 = 16         1    128                4·4 = 16
//	gap   16 (input elems) 1    128                16
//	cat   8·1 = 8          1    16+16 = 32         8·4 = 32
//	flat  view: 0          0    0                  0
//	dq    8                1    8·4 = 32           8·32 = 256
//	sm    8·3 = 24         2    256 + 256 (the     256 (DMA out: 32 B)
//	                            DMA reads the output)
//	sum   216              15   3264               3072
//
// Energy: 216·250 + 3264·100 + 3072·120 + 288 B·32000 = 54000 + 326400 +
// 368640 + 9216000 = 9965040 fJ.
//
// Liveness (bits live after each node, before freeing): x 2048 from the
// start; q 2048+256 = 2304 (x dies), pool 256+64 = 320 (q dies), add
// 64+128 → 192 (pool dies), avg 144, gap 160 (add dies), cat 64, flat
// (shares cat's storage), dq 32+256 = 288 (cat dies), sm 256+256 = 512:
// peak 2304 at q; all stored values total 3072 bits.
func TestPPUChainByHand(t *testing.T) {
	r := evaluate(t, parse(t, ppuChain), testHW())
	want := map[string][4]int64{ // ops, clk, read bits, write bits
		"q": {64, 4, 2048, 2304}, "pool": {48, 3, 256, 64}, "add": {32, 2, 128, 128}, "avg": {16, 1, 128, 16},
		"gap": {16, 1, 128, 16}, "cat": {8, 1, 32, 32}, "flat": {0, 0, 0, 0}, "dq": {8, 1, 32, 256}, "sm": {24, 2, 512, 256},
	}
	if len(r.PPUOps) != len(want) {
		t.Fatalf("%d PPU ops", len(r.PPUOps))
	}
	for _, p := range r.PPUOps {
		w := want[p.Name]
		got := [4]int64{p.Counts.PPUOps, p.Clk, p.Counts.BufferReadBits, p.Counts.BufferWriteBits}
		if got != w {
			t.Errorf("%s: ops/clk/read/write %v, want %v", p.Name, got, w)
		}
	}
	tt := r.Totals
	if tt.LatencyClk != 15 || tt.PPUOpClk != 15 || tt.ArrayClk != 0 {
		t.Errorf("latency %d (PPU ops %d, arrays %d), want 15", tt.LatencyClk, tt.PPUOpClk, tt.ArrayClk)
	}
	if tt.Counts.DMABytes != 288 || tt.Counts.PPUOps != 216 {
		t.Errorf("DMA %d B, PPU ops %d; want 288, 216", tt.Counts.DMABytes, tt.Counts.PPUOps)
	}
	if tt.Counts.BufferReadBits != 3264 || tt.Counts.BufferWriteBits != 3072 {
		t.Errorf("buffer %d bits read, %d written; want 3264, 3072", tt.Counts.BufferReadBits, tt.Counts.BufferWriteBits)
	}
	if !near(tt.Energy.Total, 9965040) {
		t.Errorf("energy %v fJ, want 9965040", tt.Energy.Total)
	}
	mem := tt.Memory
	if mem.ActivationBits != 3072 || mem.PeakActivationBits != 2304 || mem.PeakAt != "q" {
		t.Errorf("activations %d total, peak %d at %q; want 3072, 2304 at q", mem.ActivationBits, mem.PeakActivationBits, mem.PeakAt)
	}
	prec := map[string]string{}
	for _, p := range r.PPUOps {
		prec[p.Name] = p.Precision
	}
	if prec["q"] != "int4" || prec["add"] != "int8" || prec["flat"] != "int4" || prec["sm"] != "fp32" {
		t.Errorf("precisions %v", prec)
	}
	if r.SRAM.UsedArrays != 0 || len(r.SRAM.Placement) != 64 || r.SRAM.Placement[0].Use != UseFree {
		t.Errorf("an empty SRAM pool: %+v", r.SRAM)
	}
}

// TestResidualAndPartialSums: a residual input adds one PPU op per output
// and its read; a layer split over 2 row tiles adds one partial-sum
// addition per output.
func TestResidualAndPartialSums(t *testing.T) {
	// 1×1 conv, 200 input channels, 32 INT4 output channels: ⌈200/128⌉ = 2
	// row tiles × 1 column tile on every scheme (a 1×1 kernel at stride 1
	// has no window that beats im2col).
	m := parse(t, `module "res" level quantized
input %x: u8[1,200,2,2]
input %r: u8[1,32,2,2]
const %w: i8[32,200,1,1] = splat<1>
const %rq: i64[32,4] = splat<0>
%y = QConv(%x, %w, %rq, %r) {out_bits=4, out_signed=0, w_bits=4, x_bits=4} : u8[1,32,2,2] @"c"
output %y: u8[1,32,2,2]
`)
	r := evaluate(t, m, testHW())
	l := r.Layers[0]
	if l.SRAM.Tiles != 2 || l.SRAM.Windows != 4 {
		t.Fatalf("setup: %d tiles, %d windows, want 2 and 4 (scheme %s)", l.SRAM.Tiles, l.SRAM.Windows, l.SRAM.Scheme)
	}
	// 128 outputs: 128 requantizations + 128 residual terms + 128·(2−1)
	// partial sums = 384 ops, 24 clk.
	if l.Counts.PPUOps != 384 || l.PPUClk != 24 {
		t.Errorf("PPU ops %d (%d clk), want 384 (24)", l.Counts.PPUOps, l.PPUClk)
	}
	// Reads: the residual 128 × 8 bits (u8) + 4 windows × 1 pixel × 200
	// channels × 4 bits + the graph output's 128 × 4 bits, which the DMA
	// reads to send out.
	if got, want := l.Counts.BufferReadBits, int64(128*8+4*200*4+128*4); got != want {
		t.Errorf("reads %d bits, want %d", got, want)
	}
	// Writes: the output 128 × 4 bits + both graph inputs as the DMA
	// deposits them (800 + 128 elements × 8 bits). DMA: 800 + 128 bytes in,
	// 64 out.
	if got, want := l.Counts.BufferWriteBits, int64(128*4+928*8); got != want {
		t.Errorf("writes %d bits, want %d", got, want)
	}
	if got, want := l.Counts.DMABytes, int64(800+128+64); got != want {
		t.Errorf("DMA %d B, want %d", got, want)
	}
}

// TestRefreshOverWholeInference: a TB layer resident on eDRAM is refreshed
// once per retention period of the whole inference (arrays and PPU), here
// dominated by a slow SRAM layer.
func TestRefreshOverWholeInference(t *testing.T) {
	m := parse(t, `module "refresh" level quantized
input %a: u8[1,64,112,112]
input %b: u8[1,64,8,8]
const %w: i8[64,64,3,3] = splat<1>
const %rq: i64[64,4] = splat<0>
const %w4: i8[0,64,1,1] = []
const %wt: i8[64,64,1,1] = splat<1>
const %ch: i64[64] = iota<0,1>
%y = QConv(%a, %w, %rq) {kernel_shape=[3,3], pads=[1,1,1,1], out_bits=4, out_signed=0, w_bits=4, x_bits=4} : u8[1,64,112,112] @"slow"
%z = DualConv(%b, %w4, %wt, %rq, %ch) {out_bits=4, out_signed=0, tb_threshold=1, x_bits=4} : u8[1,64,8,8] @"tb"
output %y: u8[1,64,112,112]
output %z: u8[1,64,8,8]
`)
	h := testHW()
	r := evaluate(t, m, h)
	tb := r.Layers[1].EDRAM
	ret := h.RetentionCycles(&h.EDRAM)
	if tb.Mode != mapping.ModeResident || r.Totals.LatencyClk < ret {
		t.Fatalf("setup: mode %s, latency %d", tb.Mode, r.Totals.LatencyClk)
	}
	// The inputs' loads and the outputs' stores at the DMA's bytes per
	// cycle: 1×64×112×112 + 1×64×8×8 u8 inputs (a byte each), the same
	// number of 4-bit output codes.
	bpc := int64(h.DMA.BytesPerCycle)
	cdiv := func(a, b int64) int64 { return (a + b - 1) / b }
	io := cdiv(64*112*112, bpc) + cdiv(64*8*8, bpc) + cdiv(64*112*112/2, bpc) + cdiv(64*8*8/2, bpc)
	if r.Totals.DMAIOClk != io {
		t.Errorf("dma_io_clk %d, want %d", r.Totals.DMAIOClk, io)
	}
	want := tb.ResidentRows * ((r.Totals.LatencyClk + io) / ret)
	if tb.Counts.Refreshes != want || want == 0 {
		t.Errorf("refreshes %d, want %d rows × ⌊(%d + %d)/%d⌋", tb.Counts.Refreshes, tb.ResidentRows, r.Totals.LatencyClk, io, ret)
	}
	if !near(tb.Energy.Refresh, float64(want)*1920) || !near(r.EDRAM.Energy.Refresh, float64(want)*1920) {
		t.Errorf("refresh energy %v, want %v", tb.Energy.Refresh, float64(want)*1920)
	}
	if r.Layers[0].SRAM.Counts.Refreshes != 0 {
		t.Error("SRAM is static: no refresh")
	}
	if r.Layers[1].Engine != "edram" || r.Layers[1].Precision != "tb" {
		t.Errorf("TB-only layer: engine %s precision %s", r.Layers[1].Engine, r.Layers[1].Precision)
	}
}

// TestStreamedWeights: a layer too big for the SRAM pool is streamed; its
// weight writes and DMA traffic come from mapping's reload counts and add
// up to mapping's reload energy.
func TestStreamedWeights(t *testing.T) {
	// 256·256·9 INT8 weights need ⌈2304/128⌉·⌈256/16⌉ = 288 tiles: more
	// than the 64 SRAM arrays.
	m := parse(t, `module "big" level quantized
input %x: u8[1,256,6,6]
const %w: i8[256,256,3,3] = splat<1>
const %rq: i64[256,4] = splat<0>
%y = QConv(%x, %w, %rq) {kernel_shape=[3,3], out_bits=4, out_signed=0, w_bits=8, x_bits=8} : u8[1,256,4,4] @"big"
output %y: u8[1,256,4,4]
`)
	h := testHW()
	r := evaluate(t, m, h)
	layers, _, err := mapping.FromIR(m)
	if err != nil {
		t.Fatal(err)
	}
	res, err := mapping.MapDual(layers, h, mapping.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mr := res.Layers[0].SRAM
	p := r.Layers[0].SRAM
	if p.Mode != mapping.ModeStreamed || mr.ReloadRows == 0 {
		t.Fatalf("setup: mode %s, reload rows %d", p.Mode, mr.ReloadRows)
	}
	if p.Counts.WeightRowsWritten != mr.ReloadRows || p.Counts.DMABytes != mr.ReloadBytes {
		t.Errorf("rows %d / bytes %d, mapping %d / %d", p.Counts.WeightRowsWritten, p.Counts.DMABytes, mr.ReloadRows, mr.ReloadBytes)
	}
	if !near(p.Energy.WeightWrite+p.Energy.DMA, mr.ReloadEnergyFJ) {
		t.Errorf("write %v + DMA %v, mapping's reload energy %v", p.Energy.WeightWrite, p.Energy.DMA, mr.ReloadEnergyFJ)
	}
	if p.WeightBits != 8 || p.InputBits != 8 || r.Totals.Memory.INT8Weights != 256*256*9 {
		t.Errorf("INT8 layer: %d-bit weights, %d-bit inputs, %d INT8 weights", p.WeightBits, p.InputBits, r.Totals.Memory.INT8Weights)
	}
	if len(r.SRAM.StreamLayers) != 1 || r.SRAM.StreamArrays == 0 || r.SRAM.Placement[0].Use != UseStream {
		t.Errorf("streaming region: %v, %d arrays, first array %+v", r.SRAM.StreamLayers, r.SRAM.StreamArrays, r.SRAM.Placement[0])
	}
}

func TestEvaluateErrors(t *testing.T) {
	m := parse(t, `module "f"
input %x: f32[1,3,8,8]
const %w: f32[4,3,3,3] = splat<0.5>
%y = Conv(%x, %w) : f32[1,4,6,6] @"stem"
output %y: f32[1,4,6,6]
`)
	if _, err := Evaluate(m, testHW(), Options{}); err == nil || !strings.Contains(err.Error(), `node "stem" (Conv)`) {
		t.Errorf("float module: %v", err)
	}
	h := testHW()
	h.SRAM.DriverEnergyPerRowFJ = -1
	if _, err := Evaluate(parse(t, oneLayer), h, Options{}); err == nil || !strings.Contains(err.Error(), "driver_energy_per_row_fj") {
		t.Errorf("bad hardware: %v", err)
	}
}

// TestDeterministic: equal inputs give equal bytes in every output form.
func TestDeterministic(t *testing.T) {
	out := func() []byte {
		m := resnet50Like(0.5)
		r, err := Evaluate(m, testHW(), Options{Label: LabelChosen})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := WriteJSON(&b, NewReportFile(r, r, r)); err != nil {
			t.Fatal(err)
		}
		if err := WriteTable(&b, r, Compare(r, r, r)); err != nil {
			t.Fatal(err)
		}
		if err := WriteUtilisationSVG(&b, r); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b := out(), out()
	if !bytes.Equal(a, b) {
		t.Error("two evaluations of the same module differ")
	}
}

// TestIm2colADCMatchesQuantizationRule: under im2col (the backend's
// layout), the ADC count is exactly the conversions of docs/quantization.md
// §8: one per output position, row tile of R rows, output channel, weight
// column and input bit.
func TestIm2colADCMatchesQuantizationRule(t *testing.T) {
	h := testHW()
	m := resnet50Like(0.5)
	r, err := Evaluate(m, h, Options{Mapping: mapping.Options{Schemes: []mapping.Scheme{mapping.Im2col}}})
	if err != nil {
		t.Fatal(err)
	}
	ds, _, err := mapping.FromIR(m)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		l, _ := d.Layer.Normalized()
		k := int64(l.KH * l.KW * l.IC / l.Group)
		pos := int64(l.OH() * l.OW())
		for _, c := range []struct {
			p           PathCost
			oc          int
			rows, b, in int64
		}{
			{r.Layers[i].SRAM, d.OC4, int64(h.SRAM.Rows), int64(max(d.SRAMWeightBits, 4)), int64(d.SRAMInputBits)},
			{r.Layers[i].EDRAM, d.OCTB, int64(h.EDRAM.Rows), 2, 1},
		} {
			if c.oc == 0 {
				continue
			}
			want := pos * ceilDiv(k, c.rows) * int64(c.oc) * c.b * c.in
			if c.p.Scheme != "im2col" || c.p.Counts.ADCConversions != want {
				t.Errorf("%s %s: %s, %d conversions, want %d", d.Layer.Name, c.p.Pool, c.p.Scheme, c.p.Counts.ADCConversions, want)
			}
		}
	}
}

// testHW is the default chip with the 16-lane PPU the hand-computed
// expectations in these tests were derived with.
func testHW() *hw.Hardware {
	h := hw.Default()
	h.PPU.OpsPerCycle = 16
	return h
}

// TestBatchScaling: a batch-N conv is allocated as one image's layer (as
// the backend does) and every tile then runs the windows of all N images:
// the per-window counts, the layer's PPU work and the input/output DMA
// scale by N; cycles are ⌈N·windows/copies⌉ (resident) or rounds·N·windows
// (time-multiplexed); tiles, copies, rounds, weights and weight writes do
// not change.
func TestBatchScaling(t *testing.T) {
	const n = 3
	big := `module "big" level quantized
input %x: u8[1,256,6,6]
const %w: i8[256,256,3,3] = splat<1>
const %rq: i64[256,4] = splat<0>
%y = QConv(%x, %w, %rq) {kernel_shape=[3,3], out_bits=4, out_signed=0, w_bits=8, x_bits=8} : u8[1,256,4,4] @"big"
output %y: u8[1,256,4,4]
`
	for _, tc := range []struct {
		name, src string
		mode      string
	}{{"resident", oneLayer, mapping.ModeResident}, {"streamed", big, mapping.ModeStreamed}} {
		t.Run(tc.name, func(t *testing.T) {
			h := testHW()
			r1 := evaluate(t, parse(t, tc.src), h)
			rn := evaluate(t, parse(t, strings.ReplaceAll(tc.src, "u8[1,", "u8[3,")), h)
			l1, ln := r1.Layers[0], rn.Layers[0]
			if l1.SRAM.Mode != tc.mode {
				t.Fatalf("setup: SRAM mode %s, want %s", l1.SRAM.Mode, tc.mode)
			}
			paths := [][2]PathCost{{l1.SRAM, ln.SRAM}, {l1.EDRAM, ln.EDRAM}}
			for _, pp := range paths {
				p1, pn := pp[0], pp[1]
				if p1.Mode == mapping.ModeIdle {
					continue
				}
				cycles := ceilDiv(n*p1.Windows, p1.Copies)
				if p1.Rounds > 1 {
					cycles = p1.Rounds * n * p1.Windows
				}
				cpv := p1.ComputeClk / p1.Cycles
				reload := p1.ReloadClk
				if p1.Rounds > 1 {
					// Time-multiplexed: longer windows hide more of the
					// writes (mapping times the tiles one by one).
					pool, _ := mapping.PoolFromHW(h, mapping.PoolKind(p1.Pool))
					l := mapping.Layer{Name: "big", IH: 6, IW: 6, KH: 3, KW: 3, IC: 256, OC: 256}
					pool.Array.WeightCols = 8
					mp, err := mapping.Map(l, pool.Array, mapping.Scheme(p1.Scheme))
					if err != nil {
						t.Fatal(err)
					}
					reload = pool.TimeMultiplexedClk(mp, p1.Arrays, n*p1.Windows*cpv) - cycles*cpv
					if reload >= p1.ReloadClk {
						t.Errorf("%s: batch reload %d not below one image's %d", p1.Pool, reload, p1.ReloadClk)
					}
				}
				for _, c := range []struct {
					what      string
					got, want int64
				}{
					{"tiles", pn.Tiles, p1.Tiles}, {"copies", pn.Copies, p1.Copies}, {"rounds", pn.Rounds, p1.Rounds},
					{"arrays", pn.Arrays, p1.Arrays}, {"weights", pn.Weights, p1.Weights},
					{"windows", pn.Windows, n * p1.Windows}, {"cycles", pn.Cycles, cycles},
					{"compute clk", pn.ComputeClk, cycles * cpv}, {"reload clk", pn.ReloadClk, reload},
					{"latency clk", pn.LatencyClk, cycles*cpv + reload},
					{"macs", pn.Counts.MACs, n * p1.Counts.MACs},
					{"adc", pn.Counts.ADCConversions, n * p1.Counts.ADCConversions},
					{"drivers", pn.Counts.DriverRowCycles, n * p1.Counts.DriverRowCycles},
					{"buffer reads", pn.Counts.BufferReadBits, n * p1.Counts.BufferReadBits},
					{"weight rows written", pn.Counts.WeightRowsWritten, p1.Counts.WeightRowsWritten},
					{"reload dma", pn.Counts.DMABytes, p1.Counts.DMABytes},
				} {
					if c.got != c.want {
						t.Errorf("%s %s = %d, want %d", p1.Pool, c.what, c.got, c.want)
					}
				}
			}
			// The layer's own part: PPU ops (requantization and partial
			// sums), output writes, input and output DMA all scale by n.
			own := func(l LayerReport) Counts {
				c := l.Counts
				for _, p := range []PathCost{l.SRAM, l.EDRAM} {
					c.DMABytes -= p.Counts.DMABytes
					c.BufferReadBits -= p.Counts.BufferReadBits
					c.BufferWriteBits -= p.Counts.BufferWriteBits
				}
				return c
			}
			o1, on := own(l1), own(ln)
			for _, c := range []struct {
				what      string
				got, want int64
			}{
				{"ppu ops", on.PPUOps, n * o1.PPUOps}, {"buffer writes", on.BufferWriteBits, n * o1.BufferWriteBits},
				{"buffer reads", on.BufferReadBits, n * o1.BufferReadBits}, {"io dma", on.DMABytes, n * o1.DMABytes},
				{"layer latency", ln.LatencyClk, layerLatency(ln)},
				{"total latency", rn.Totals.LatencyClk, ln.LatencyClk},
				{"weight bits", rn.Totals.Memory.WeightBits, r1.Totals.Memory.WeightBits},
				{"activation bits", rn.Totals.Memory.ActivationBits, n * r1.Totals.Memory.ActivationBits},
				{"load clk", rn.Totals.LoadClk, r1.Totals.LoadClk},
			} {
				if c.got != c.want {
					t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
				}
			}
			if tc.mode == mapping.ModeResident && ln.LatencyClk <= l1.LatencyClk {
				t.Errorf("batch %d latency %d not above one image's %d", n, ln.LatencyClk, l1.LatencyClk)
			}
		})
	}
}

// layerLatency is docs/cost.md's rule: the PPU overlaps the arrays, unless
// a part is time-multiplexed and has its sums only at the end.
func layerLatency(l LayerReport) int64 {
	if l.SRAM.Rounds > 1 || l.EDRAM.Rounds > 1 {
		return l.ArrayClk + l.PPUClk
	}
	return max(l.ArrayClk, l.PPUClk)
}
