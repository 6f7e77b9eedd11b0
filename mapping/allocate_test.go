package mapping

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"pimc/hw"
)

// resnet50Layers is ResNet-50 v1.5 (torchvision): the stem, 16 bottleneck
// blocks with 4 projection shortcuts, and the classifier: 54 layers.
func resnet50Layers() []Layer {
	conv := func(name string, hw, k, ic, oc, s int) Layer {
		p := k / 2
		return Layer{Name: name, IH: hw, IW: hw, KH: k, KW: k, IC: ic, OC: oc, SH: s, SW: s, PadT: p, PadL: p, PadB: p, PadR: p}
	}
	ls := []Layer{conv("conv1", 224, 7, 3, 64, 2)}
	in, size := 64, 56
	for st, cfg := range []struct{ blocks, mid int }{{3, 64}, {4, 128}, {6, 256}, {3, 512}} {
		out := cfg.mid * 4
		for b := range cfg.blocks {
			s := 1
			if b == 0 && st > 0 {
				s = 2
			}
			n := fmt.Sprintf("layer%d.%d", st+1, b)
			ls = append(ls,
				conv(n+".conv1", size, 1, in, cfg.mid, 1),
				conv(n+".conv2", size, 3, cfg.mid, cfg.mid, s))
			if b == 0 {
				ls = append(ls, conv(n+".downsample", size, 1, in, out, s))
			}
			size = (size+2-3)/s + 1
			ls = append(ls, conv(n+".conv3", size, 1, cfg.mid, out, 1))
			in = out
		}
	}
	return append(ls, Layer{Name: "fc", Kind: KindFC, IC: 2048, OC: 1000})
}

func TestResNet50Layers(t *testing.T) {
	ls := resnet50Layers()
	if len(ls) != 54 {
		t.Fatalf("got %d layers, want 54", len(ls))
	}
	var macs int64
	for _, l := range ls {
		n, err := l.Normalized()
		if err != nil {
			t.Fatal(err)
		}
		macs += n.MACs()
	}
	// ResNet-50 is about 4.1 GMACs.
	if macs < 4.0e9 || macs > 4.2e9 {
		t.Errorf("%d MACs, want about 4.1e9", macs)
	}
}

// TestAutoSingleArrayNeverWorseThanVWSDK: on one array, auto is at most the
// VW-SDK count, on random layers of every kind (fixed seed), in the §4 model
// and under real hardware costs (against VW-SDK under the same costs).
func TestAutoSingleArrayNeverWorseThanVWSDK(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	h := hw.Default()
	for n := range 2000 {
		l := randomLayer(r, true)
		a := randomArray(r)
		if l.Validate() != nil {
			continue
		}
		vw, err := Map(l, a, VWSDK)
		if err != nil {
			t.Fatal(err)
		}
		auto, err := Allocate([]Layer{l}, IdealPool(1, a), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := auto.Layers[0].Cycles; got > vw.Cycles {
			t.Fatalf("case %d %+v on %+v: auto %d > vwsdk %d", n, l, a, got, vw.Cycles)
		}
		if auto.LatencyClk != auto.Cycles {
			t.Fatalf("case %d: ideal pool latency %d != cycles %d", n, auto.LatencyClk, auto.Cycles)
		}

		p, _ := PoolFromHW(h, PoolSRAM)
		p.Arrays, p.Array = 1, a
		auto, err = Allocate([]Layer{l}, p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		base, err := Allocate([]Layer{l}, p, Options{Schemes: []Scheme{VWSDK}})
		if err != nil {
			t.Fatal(err)
		}
		if auto.LatencyClk > base.LatencyClk {
			t.Fatalf("case %d %+v on %+v: auto latency %d > vwsdk %d", n, l, a, auto.LatencyClk, base.LatencyClk)
		}
	}
}

// TestAutoManyArraysNeverWorse: on random multi-layer models and pool sizes,
// auto beats or ties every single-scheme allocation under the same costs,
// and the allocation is internally consistent.
func TestAutoManyArraysNeverWorse(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	h := hw.Default()
	for n := range 300 {
		var ls []Layer
		for len(ls) < 1+r.IntN(8) {
			if l := randomLayer(r, true); l.Validate() == nil {
				l.Name = fmt.Sprintf("l%d", len(ls))
				ls = append(ls, l)
			}
		}
		kind := []PoolKind{PoolSRAM, PoolEDRAM}[r.IntN(2)]
		p, _ := PoolFromHW(h, kind)
		p.Arrays = []int{1, 2, 3, 8, 32, 64, 200}[r.IntN(7)]
		auto, err := Allocate(ls, p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkAllocation(t, fmt.Sprintf("case %d", n), auto, p)
		for _, s := range Schemes {
			one, err := Allocate(ls, p, Options{Schemes: []Scheme{s}})
			if err != nil {
				t.Fatal(err)
			}
			checkAllocation(t, fmt.Sprintf("case %d %s", n, s), one, p)
			if auto.LatencyClk > one.LatencyClk {
				t.Fatalf("case %d (%d arrays): auto %d > %s-only %d", n, p.Arrays, auto.LatencyClk, s, one.LatencyClk)
			}
		}
	}
}

func checkAllocation(t *testing.T, name string, a *Allocation, p Pool) {
	t.Helper()
	var resident, lat int64
	for _, r := range a.Layers {
		lat += r.LatencyClk
		if r.LatencyClk != r.ComputeClk+r.ReloadClk {
			t.Fatalf("%s %s: latency %d != compute %d + reload %d", name, r.Name, r.LatencyClk, r.ComputeClk, r.ReloadClk)
		}
		switch r.Mode {
		case ModeResident:
			resident += r.Arrays
			if r.Reloads != 0 || r.ReloadClk != 0 || r.Rounds != 1 {
				t.Fatalf("%s %s: resident layer reloads: %+v", name, r.Name, r)
			}
		case ModeStreamed:
			if r.Arrays > a.StreamArrays || r.Reloads < r.Tiles || r.Rounds < 1 {
				t.Fatalf("%s %s: streamed layer %+v in a %d-array region", name, r.Name, r, a.StreamArrays)
			}
			if r.Rounds > 1 && (r.Copies != 1 || r.Rounds != ceilDiv(r.Tiles, a.StreamArrays)) {
				t.Fatalf("%s %s: rounds %d for %d tiles on %d arrays", name, r.Name, r.Rounds, r.Tiles, a.StreamArrays)
			}
		default:
			t.Fatalf("%s %s: mode %q", name, r.Name, r.Mode)
		}
		if r.Utilisation <= 0 || r.Utilisation > 1 {
			t.Fatalf("%s %s: utilisation %g", name, r.Name, r.Utilisation)
		}
	}
	if resident < a.ResidentArrays || a.ResidentArrays+a.StreamArrays > int64(p.Arrays) {
		t.Fatalf("%s: resident %d (%d) + stream %d arrays > pool %d", name, resident, a.ResidentArrays, a.StreamArrays, p.Arrays)
	}
	checkPacking(t, name, a, p)
	if lat != a.LatencyClk {
		t.Fatalf("%s: latency %d != sum %d", name, a.LatencyClk, lat)
	}
}

func TestAllocateCases(t *testing.T) {
	small := Layer{Name: "small", IH: 10, IW: 10, KH: 3, KW: 3, IC: 8, OC: 16} // 1 tile, 64 windows on 128×128 b=4
	big := Layer{Name: "big", Kind: KindFC, IC: 128 * 5, OC: 32}               // 5 tiles, 1 window
	arr := Array{Rows: 128, Cols: 128, WeightCols: 4}
	costly := IdealPool(4, arr)
	costly.Name, costly.WriteCyclesPerRow, costly.WriteEnergyPerRowFJ = "costly", 10, 100

	t.Run("fits: resident copies", func(t *testing.T) {
		a, err := Allocate([]Layer{small}, IdealPool(4, arr), Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := a.Layers[0]
		// VW-SDK 2×1 outputs: 4×3 pixels × 8 channels = 96 rows, 2 × 16
		// channels = all 32 columns; 4×8 windows over 4 copies.
		if r.Mode != ModeResident || r.Scheme != VWSDK || r.Copies != 4 || r.Cycles != 8 || r.Reloads != 0 {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("too big: rounds with reloads", func(t *testing.T) {
		a, err := Allocate([]Layer{big}, costly, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := a.Layers[0]
		// 5 tiles of 128 rows on 4 arrays: rounds of 4 and 1 tile, each written
		// at 128 rows × 10 cycles, then 1 window each.
		if r.Mode != ModeStreamed || r.Rounds != 2 || r.Cycles != 2 || r.Reloads != 5 ||
			r.ReloadRows != 640 || r.ReloadClk != 2*1280 || r.ReloadEnergyFJ != 640*100 {
			t.Errorf("got %+v", r)
		}
		if r.LatencyClk != 2+2*1280 {
			t.Errorf("latency %d", r.LatencyClk)
		}
	})
	t.Run("two layers share the pool", func(t *testing.T) {
		a, err := Allocate([]Layer{small, big}, costly, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkAllocation(t, "shared", a, costly)
		if a.Reloads == 0 {
			t.Errorf("the 5-tile layer cannot stay resident on 4 arrays: %+v", a)
		}
	})
	t.Run("idle layer", func(t *testing.T) {
		l := small
		l.OC = 0
		a, err := Allocate([]Layer{l, small}, IdealPool(2, arr), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if a.Layers[0].Mode != ModeIdle || a.Layers[0].LatencyClk != 0 || a.Bottleneck != "small" || a.BottleneckIndex != 1 {
			t.Errorf("got %+v", a)
		}
	})
	t.Run("bad pool", func(t *testing.T) {
		if _, err := Allocate([]Layer{small}, IdealPool(0, arr), Options{}); err == nil {
			t.Error("zero arrays accepted")
		}
	})
	t.Run("bad layer", func(t *testing.T) {
		l := small
		l.IC = -1
		if _, err := Allocate([]Layer{l}, IdealPool(1, arr), Options{}); err == nil {
			t.Error("negative ic accepted")
		}
	})
	t.Run("empty", func(t *testing.T) {
		a, err := Allocate(nil, IdealPool(1, arr), Options{})
		if err != nil || a.LatencyClk != 0 || len(a.Layers) != 0 {
			t.Errorf("got %+v, %v", a, err)
		}
	})
}

// TestRefresh: a resident eDRAM layer is refreshed once per retention period
// of the inference; a streamed one during its own round.
func TestRefresh(t *testing.T) {
	arr := Array{Rows: 128, Cols: 128, WeightCols: 2}
	p := IdealPool(1, arr)
	p.Name, p.RetentionCycles, p.RefreshEnergyPerRowFJ = "edram", 1000, 10
	// 64 windows... make it long: 100×100 map, 1 tile (9 rows × 8 ch), 9604 windows.
	l := Layer{Name: "long", IH: 100, IW: 100, KH: 3, KW: 3, IC: 1, OC: 8}
	a, err := Allocate([]Layer{l}, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := a.Layers[0]
	if r.Mode != ModeResident {
		t.Fatalf("got %+v", r)
	}
	want := r.ResidentRows * (a.LatencyClk / 1000)
	if r.Refreshes != want || want == 0 || r.RefreshEnergyFJ != float64(want)*10 || a.Refreshes != want {
		t.Errorf("refreshes %d (energy %g), want %d", r.Refreshes, r.RefreshEnergyFJ, want)
	}
	p.RetentionCycles = 0
	a, _ = Allocate([]Layer{l}, p, Options{})
	if a.Refreshes != 0 {
		t.Errorf("static memory refreshed %d times", a.Refreshes)
	}
}

// TestSolverGreedyVsDP: the greedy solver stays within budget and is never
// better than the exact DP (which would mean the DP is wrong).
func TestSolverGreedyVsDP(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for n := range 500 {
		var opts [][]option
		for range 1 + r.IntN(6) {
			var os []option
			for range 1 + r.IntN(6) {
				os = append(os, option{cost: int64(r.IntN(10)), lat: int64(1 + r.IntN(1000))})
			}
			opts = append(opts, pareto(os))
		}
		budget := int64(r.IntN(30))
		dc, dt, _, ok := solve(opts, budget)
		if !ok {
			continue
		}
		gc, gt := solveGreedy(opts, budget)
		for _, c := range [][]int{dc, gc} {
			var cost, lat int64
			for i, k := range c {
				cost += opts[i][k].cost
				lat += opts[i][k].lat
			}
			if cost > budget {
				t.Fatalf("case %d: cost %d over budget %d", n, cost, budget)
			}
			if lat != dt && &c[0] == &dc[0] {
				t.Fatalf("case %d: dp total %d, recomputed %d", n, dt, lat)
			}
		}
		if gt < dt {
			t.Fatalf("case %d: greedy %d beat dp %d", n, gt, dt)
		}
	}
}

// TestGreedyPathLargePool forces the greedy solver with a big pool and checks
// auto still is no worse than VW-SDK.
func TestGreedyPathLargePool(t *testing.T) {
	ls := resnet50Layers()
	p := IdealPool(20000, Array{Rows: 128, Cols: 128, WeightCols: 4})
	p.WriteCyclesPerRow = 1
	a, err := Allocate(ls, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Allocate(ls, p, Options{Schemes: []Scheme{VWSDK}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Solver != solverGreedy {
		t.Logf("solver %q (the test wants the greedy path; raise the pool size if the DP limit grew)", a.Solver)
	}
	checkAllocation(t, "large", a, p)
	if a.LatencyClk > b.LatencyClk {
		t.Errorf("auto %d > vwsdk %d", a.LatencyClk, b.LatencyClk)
	}
}

func dualResNet50(r float64) []DualLayer {
	var ds []DualLayer
	for i, l := range resnet50Layers() {
		d := DualLayer{Layer: l}
		if i == 0 || l.Kind == KindFC {
			// First and last layers stay INT8 on SRAM (DESIGN.md §2).
			d.OC4, d.SRAMWeightBits, d.SRAMInputBits = l.OC, 8, 8
		} else {
			d.OC4 = int(r*float64(l.OC)+0.5) / 8 * 8
			d.OCTB = l.OC - d.OC4
		}
		ds = append(ds, d)
	}
	return ds
}

func TestMapDual(t *testing.T) {
	h := hw.Default()
	res, err := MapDual(dualResNet50(0.5), h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for i, l := range res.Layers {
		if l.LatencyClk != max(l.SRAM.LatencyClk, l.EDRAM.LatencyClk) {
			t.Errorf("layer %d: latency %d, pools %d/%d", i, l.LatencyClk, l.SRAM.LatencyClk, l.EDRAM.LatencyClk)
		}
		sum += l.LatencyClk
		if i == 0 && (l.EDRAM.Mode != ModeIdle || l.Bound != "sram") {
			t.Errorf("conv1 should run on SRAM only: %+v", l)
		}
	}
	if sum != res.LatencyClk || res.LatencyUS != float64(sum)/100 {
		t.Errorf("latency %d (%g us), sum %d", res.LatencyClk, res.LatencyUS, sum)
	}
	// ResNet-50 cannot be resident on 96 arrays: weights are streamed.
	if res.SRAM.Reloads == 0 || res.EDRAM.Reloads == 0 || res.EDRAM.Refreshes < 0 {
		t.Errorf("expected reloads on both pools: %+v %+v", res.SRAM, res.EDRAM)
	}
	// Determinism: the same input gives the same bytes.
	again, _ := MapDual(dualResNet50(0.5), h, Options{})
	b1, _ := json.Marshal(res)
	b2, _ := json.Marshal(again)
	if string(b1) != string(b2) {
		t.Error("MapDual is not deterministic")
	}

	bad := []struct {
		name string
		d    DualLayer
	}{
		{"split mismatch", DualLayer{Layer: Layer{Name: "x", IH: 8, IW: 8, KH: 3, KW: 3, IC: 4, OC: 8}, OC4: 4, OCTB: 2}},
		{"negative", DualLayer{Layer: Layer{Name: "x", IH: 8, IW: 8, KH: 3, KW: 3, IC: 4}, OC4: -4, OCTB: 8}},
		{"group", DualLayer{Layer: Layer{Name: "x", IH: 8, IW: 8, KH: 3, KW: 3, IC: 4, Group: 4}, OC4: 2, OCTB: 2}},
		{"bits", DualLayer{Layer: Layer{Name: "x", IH: 8, IW: 8, KH: 3, KW: 3, IC: 4, OC: 4}, OC4: 4, SRAMWeightBits: 99}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := MapDual([]DualLayer{tc.d}, h, Options{}); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestDualEDRAMRefresh: a small TB layer resident on eDRAM over a long dual
// inference (dominated by a slow SRAM layer) is refreshed.
func TestDualEDRAMRefresh(t *testing.T) {
	h := hw.Default()
	ls := []DualLayer{
		{Layer: Layer{Name: "slow", IH: 112, IW: 112, KH: 3, KW: 3, IC: 64, OC: 64}, OC4: 64},
		{Layer: Layer{Name: "tb", IH: 8, IW: 8, KH: 1, KW: 1, IC: 64, OC: 64}, OCTB: 64},
	}
	res, err := MapDual(ls, h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb := res.Layers[1].EDRAM
	ret := h.RetentionCycles(&h.EDRAM)
	if tb.Mode != ModeResident || res.LatencyClk < ret {
		t.Fatalf("setup: %+v, latency %d", tb, res.LatencyClk)
	}
	if want := tb.ResidentRows * (res.LatencyClk / ret); tb.Refreshes != want || res.EDRAM.Refreshes != want {
		t.Errorf("refreshes %d, want %d", tb.Refreshes, want)
	}
}

// TestJSONFieldsStable pins the JSON field names of the results: renaming one
// breaks users of `pimc map --json` and of the cost reports.
func TestJSONFieldsStable(t *testing.T) {
	keys := func(v any) []string {
		var out []string
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Anonymous {
				out = append(out, keysOf(f.Type)...)
				continue
			}
			if tag := f.Tag.Get("json"); tag != "" {
				out = append(out, tag)
			}
		}
		return out
	}
	want := map[string][]string{
		"Mapping": {"scheme", "window", "window_h", "window_w", "out_h", "out_w", "ict", "oct", "im2col_fallback",
			"groups", "groups_per_tile", "row_tiles", "col_tiles", "tiles", "windows", "cycles",
			"rows_written", "max_tile_rows", "used_cells", "allocated_cells", "utilisation"},
		"LayerResult": {"index", "name", "oc", "mode", "scheme", "window", "tiles", "copies", "rounds", "arrays",
			"cycles", "compute_clk", "reload_clk", "latency_clk", "reloads", "reload_rows", "reload_bytes",
			"reload_energy_fj", "resident_rows", "refresh_rows", "places", "refreshes", "refresh_energy_fj", "used_cells", "allocated_cells", "utilisation",
			"energy_fj"},
		"Allocation": {"pool", "arrays", "rows", "cols", "resident_arrays", "stream_arrays", "solver", "objective", "cycles",
			"compute_clk", "reload_clk", "latency_clk", "reloads", "reload_rows", "reload_bytes", "reload_energy_fj",
			"refreshes", "refresh_energy_fj", "load_clk", "load_energy_fj", "used_cells", "allocated_cells",
			"utilisation", "energy_fj", "bottleneck", "bottleneck_index", "bottleneck_clk", "layers"},
		"DualResult": {"hardware", "clock_mhz", "latency_clk", "latency_us", "objective", "energy_fj", "bottleneck", "bottleneck_index",
			"bottleneck_clk", "sram", "edram", "layers"},
		"DualLayerResult": {"index", "name", "sram", "edram", "latency_clk", "bound"},
	}
	got := map[string][]string{
		"Mapping": keys(Mapping{}), "LayerResult": keys(LayerResult{}), "Allocation": keys(Allocation{}),
		"DualResult": keys(DualResult{}), "DualLayerResult": keys(DualLayerResult{}),
	}
	for name, w := range want {
		if !reflect.DeepEqual(got[name], w) {
			t.Errorf("%s JSON fields:\n got  %q\n want %q", name, got[name], w)
		}
	}
}

func keysOf(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		if tag := typ.Field(i).Tag.Get("json"); tag != "" {
			out = append(out, tag)
		}
	}
	return out
}

func BenchmarkAutoResNet50Like(b *testing.B) {
	h := hw.Default()
	ds := dualResNet50(0.5)
	for _, obj := range Objectives {
		b.Run("dual-"+string(obj), func(b *testing.B) {
			for b.Loop() {
				dualCache.reset() // else every call after the first is a memo hit
				if _, err := MapDual(ds, h, Options{Objective: obj}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	ls := resnet50Layers()
	p, _ := PoolFromHW(h, PoolSRAM)
	b.Run("sram", func(b *testing.B) {
		for b.Loop() {
			if _, err := Allocate(ls, p, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ideal-1-array", func(b *testing.B) {
		for b.Loop() {
			if _, err := Allocate(ls, IdealPool(1, Array{128, 128, 4}), Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDocsListEveryField keeps docs/mapping.md in step with the result types.
func TestDocsListEveryField(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "mapping.md"))
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	for _, v := range []any{Mapping{}, LayerResult{}, PoolSummary{}, Allocation{}, DualResult{}, DualLayerResult{}} {
		for _, k := range keysOf(reflect.TypeOf(v)) {
			if !strings.Contains(string(doc), "`"+k+"`") && !strings.Contains(string(doc), "`layers[]."+k+"`") {
				t.Errorf("docs/mapping.md does not describe %T field %q", v, k)
			}
		}
	}
}

// TestSharedDMABus: both pools' weight writes pass through the one DMA
// bus, the SRAM part's first, so when both parts of a layer stream, the
// eDRAM part's reload waits for the SRAM part's last transfer.
func TestSharedDMABus(t *testing.T) {
	h := hw.Default()
	h.SRAM.Arrays, h.EDRAM.Arrays = 1, 1
	// Two row tiles per pool on one array each: both parts stream in two
	// rounds; one window.
	fc := DualLayer{Layer: Layer{Name: "fc", Kind: KindFC, IC: 256}, OC4: 8, OCTB: 8}
	r, err := MapDual([]DualLayer{fc}, h, Options{Schemes: []Scheme{Im2col}})
	if err != nil {
		t.Fatal(err)
	}
	s, e := r.Layers[0].SRAM, r.Layers[0].EDRAM
	if s.Mode != ModeStreamed || e.Mode != ModeStreamed || s.Rounds != 2 || e.Rounds != 2 {
		t.Fatalf("setup: sram %s %d rounds, edram %s %d rounds", s.Mode, s.Rounds, e.Mode, e.Rounds)
	}
	// The eDRAM part alone, with the bus to itself.
	ep, err := PoolFromHW(h, PoolEDRAM)
	if err != nil {
		t.Fatal(err)
	}
	l := fc.Layer
	l.OC = fc.OCTB
	alone, err := Allocate([]Layer{l}, ep, Options{Schemes: []Scheme{Im2col}})
	if err != nil {
		t.Fatal(err)
	}
	a := alone.Layers[0]
	// SRAM: a round writes one 128-row tile, 128 rows × 16 B over 16 B/clk
	// = 128 clk (and 128 array write cycles), then computes 1 window × 32
	// clk; its last transfer ends at (128 + 32) + 128 = 288. The eDRAM's
	// first round then ends at 288 + its own bus cycles instead of after
	// them alone: it waits 288 clk.
	const wait = 288
	if e.ReloadClk != a.ReloadClk+wait || e.LatencyClk != a.LatencyClk+wait {
		t.Errorf("edram reload %d, latency %d; want %d + %d and %d + %d", e.ReloadClk, e.LatencyClk, a.ReloadClk, wait, a.LatencyClk, wait)
	}
	if r.LatencyClk != max(s.LatencyClk, e.LatencyClk) || r.EDRAM.ReloadClk != e.ReloadClk || r.EDRAM.LatencyClk != e.LatencyClk {
		t.Errorf("sums: dual %d, edram pool reload %d latency %d; layer %d/%d", r.LatencyClk, r.EDRAM.ReloadClk, r.EDRAM.LatencyClk, e.ReloadClk, e.LatencyClk)
	}

	// A resident SRAM part does not hold up the bus.
	h.SRAM.Arrays = 4
	r, err = MapDual([]DualLayer{fc}, h, Options{Schemes: []Scheme{Im2col}})
	if err != nil {
		t.Fatal(err)
	}
	if e := r.Layers[0].EDRAM; r.Layers[0].SRAM.Mode != ModeResident || e.ReloadClk != a.ReloadClk {
		t.Errorf("resident sram: edram reload %d, want %d", e.ReloadClk, a.ReloadClk)
	}
}

// checkPacking checks the column packing of the resident images: every
// image inside its array and the resident arrays, no two images of one
// layer on one array, no two images overlapping, and the refresh rows of
// each array (its tallest image) charged exactly once.
func checkPacking(t *testing.T, name string, a *Allocation, p Pool) {
	t.Helper()
	type img struct {
		layer  int
		c0, c1 int64
		rows   int64
	}
	on := map[int64][]img{}
	var refresh, cols int64
	for li, r := range a.Layers {
		if r.Mode != ModeResident {
			if len(r.Places) != 0 {
				t.Fatalf("%s %s: %s layer has places", name, r.Name, r.Mode)
			}
			continue
		}
		if int64(len(r.Places)) != r.Arrays {
			t.Fatalf("%s %s: %d places for %d images", name, r.Name, len(r.Places), r.Arrays)
		}
		refresh += r.RefreshRows
		var lc int64
		for _, pl := range r.Places {
			if pl.Array < 0 || pl.Array >= a.ResidentArrays || pl.Col < 0 || pl.Cols < 1 || pl.Col+pl.Cols > int64(p.Array.Cols) {
				t.Fatalf("%s %s: image at %+v outside %d resident arrays of %d columns", name, r.Name, pl, a.ResidentArrays, p.Array.Cols)
			}
			for _, o := range on[pl.Array] {
				if o.layer == li {
					t.Fatalf("%s %s: two images of the layer on array %d", name, r.Name, pl.Array)
				}
				if o.c0 < pl.Col+pl.Cols && pl.Col < o.c1 {
					t.Fatalf("%s %s: image %+v overlaps layer %d's [%d,%d) on array %d", name, r.Name, pl, o.layer, o.c0, o.c1, pl.Array)
				}
			}
			on[pl.Array] = append(on[pl.Array], img{li, pl.Col, pl.Col + pl.Cols, pl.Rows})
			lc += pl.Cols
		}
		if r.AllocatedCells != lc*int64(p.Array.Rows) {
			t.Fatalf("%s %s: allocated %d cells, images occupy %d columns", name, r.Name, r.AllocatedCells, lc)
		}
		cols += lc
	}
	if int64(len(on)) != a.ResidentArrays {
		t.Fatalf("%s: images on %d arrays, %d resident", name, len(on), a.ResidentArrays)
	}
	var want int64
	for _, ims := range on {
		var m int64
		known := true
		for _, im := range ims {
			m = max(m, im.rows)
			known = known && im.rows > 0
		}
		if !known {
			return // whole-array layouts: rows not known tile by tile
		}
		want += m
	}
	if refresh != want {
		t.Fatalf("%s: refresh rows %d, the arrays' tallest images have %d", name, refresh, want)
	}
}
