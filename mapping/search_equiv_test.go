package mapping

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"pimc/hw"
)

// randomHW is the default chip with random pool sizes, array shapes,
// cycle counts, retention, DMA and energies; always valid.
func randomHW(r *rand.Rand) *hw.Hardware {
	for {
		h := hw.Default()
		for _, p := range []*hw.Pool{&h.SRAM, &h.EDRAM} {
			p.Arrays = []int{1, 2, 3, 5, 8, 16, 32, 64, 100}[r.IntN(9)]
			p.Rows = []int{16, 32, 64, 128, 256}[r.IntN(5)]
			p.Cols = []int{16, 32, 64, 128, 256}[r.IntN(5)]
			p.RowsActivePerCycle = []int{p.Rows, p.Rows / 2, 24, 48}[r.IntN(4)]
			p.InputBitsPerCycle = 1 + r.IntN(2)
			p.ColsPerADC = []int{1, 4, 8}[r.IntN(3)]
			p.WriteCyclesPerRow = r.IntN(4)
			p.RetentionUS = []float64{0, 0.5, 5, 50, 200}[r.IntN(5)]
			p.RefreshEnergyPerRowFJ = []float64{0, 1920, 5e5}[r.IntN(3)]
			p.WriteEnergyPerRowFJ = []float64{0, 1280, 1e5}[r.IntN(3)]
			p.MACEnergyFJ = []float64{0, 4.2, 29}[r.IntN(3)]
			p.ADCEnergyFJ = []float64{0, 60, 600}[r.IntN(3)]
		}
		h.SRAM.WeightBitsPerCell = []int{1, 2}[r.IntN(2)]
		h.SRAM.CellsPerWeight = 4 / h.SRAM.WeightBitsPerCell
		h.DMA.BytesPerCycle = []int{1, 4, 16, 64, 1024}[r.IntN(5)]
		h.DMA.EnergyPerByteFJ = []float64{0, 32000}[r.IntN(2)]
		h.ClockMHz = []float64{50, 100, 1000}[r.IntN(3)]
		if h.Validate() == nil {
			return h
		}
	}
}

// randomDual is 1..8 random layers split at random between the pools
// (whole groups on each), some of them kept at INT8 on SRAM.
func randomDual(r *rand.Rand) []DualLayer {
	var ds []DualLayer
	for _, l := range randomLayers(r) {
		nl, _ := l.Normalized()
		g := nl.Group
		d := DualLayer{Layer: l}
		switch r.IntN(6) {
		case 0:
			d.OC4, d.SRAMWeightBits, d.SRAMInputBits = l.OC, 8, 8
		case 1:
			d.OCTB = l.OC
		default:
			d.OC4 = r.IntN(l.OC/g+1) * g
			d.OCTB, d.SRAMInputBits = l.OC-d.OC4, 4
		}
		ds = append(ds, d)
	}
	return ds
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var equivSchemes = [][]Scheme{nil, {Im2col}, {SDK}, {VWSDK}, {VWSDK, Im2col}}

// checkDualSame runs MapDual (its memo emptied) and the frozen reference
// search (search_ref_test.go) and wants byte-identical JSON.
func checkDualSame(t *testing.T, name string, ds []DualLayer, h *hw.Hardware, o Options) {
	t.Helper()
	want, werr := refMapDual(ds, h, o)
	dualCache.reset()
	got, gerr := MapDual(ds, h, o)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%s: error %v, reference %v", name, gerr, werr)
	}
	if werr != nil {
		return
	}
	if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
		t.Fatalf("%s: MapDual differs from the reference search\n got %.600s\nwant %.600s", name, g, w)
	}
}

// TestSearchMatchesReference: the allocation search gives exactly the
// results of the search as it was before it was made faster (frozen in
// search_ref_test.go), for MapDual and Allocate, every objective, on
// random layer sets, splits, schemes and chips, and on the ResNets.
func TestSearchMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	cases := 150
	if testing.Short() {
		cases = 40
	}
	for n := range cases {
		ds := randomDual(r)
		h := randomHW(r)
		schemes := equivSchemes[r.IntN(len(equivSchemes))]
		for _, obj := range Objectives {
			name := fmt.Sprintf("dual case %d (%d/%d arrays %dx%d/%dx%d, schemes %v, %s)", n,
				h.SRAM.Arrays, h.EDRAM.Arrays, h.SRAM.Rows, h.SRAM.Cols, h.EDRAM.Rows, h.EDRAM.Cols, schemes, obj)
			checkDualSame(t, name, ds, h, Options{Schemes: schemes, Objective: obj})
		}
		ls := randomLayers(r)
		p, _ := PoolFromHW(h, []PoolKind{PoolSRAM, PoolEDRAM}[r.IntN(2)])
		for _, obj := range Objectives {
			o := Options{Schemes: schemes, Objective: obj}
			name := fmt.Sprintf("allocate case %d (%s, %d arrays %dx%d, schemes %v, %s)", n, p.Name, p.Arrays, p.Array.Rows, p.Array.Cols, schemes, obj)
			want, werr := refAllocateLayers(ls, p, o)
			got, gerr := Allocate(ls, p, o)
			if (werr != nil) != (gerr != nil) {
				t.Fatalf("%s: error %v, reference %v", name, gerr, werr)
			}
			if werr == nil && jsonOf(t, got) != jsonOf(t, want) {
				t.Fatalf("%s: Allocate differs from the reference search", name)
			}
		}
	}
	// The networks `pimc compile` maps (im2col), on the default chip, the
	// custom one and a larger one: the chosen split and both baselines.
	chips := []*hw.Hardware{hw.Default()}
	c, err := hw.Load(filepath.Join("..", "hw", "testdata", "custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	chips = append(chips, c)
	big := hw.Default()
	big.SRAM.Arrays, big.EDRAM.Arrays = 128, 64
	chips = append(chips, big)
	ratios := []float64{0, 0.5, 1}
	if testing.Short() {
		chips, ratios = chips[:1], ratios[1:2]
	}
	for _, net := range []struct {
		name string
		mk   func(float64) []DualLayer
	}{{"resnet18", dualResNet18}, {"resnet20", dualResNet20}, {"resnet50", dualResNet50}} {
		for ci, h := range chips {
			for _, ratio := range ratios {
				for _, obj := range Objectives {
					name := fmt.Sprintf("%s r=%g chip %d %s", net.name, ratio, ci, obj)
					checkDualSame(t, name, net.mk(ratio), h, Options{Schemes: []Scheme{Im2col}, Objective: obj})
				}
			}
		}
	}
	// All schemes, as `pimc map` and the tests use them.
	for _, obj := range Objectives {
		checkDualSame(t, "resnet18 r=0.5 all schemes "+string(obj), dualResNet18(0.5), hw.Default(), Options{Objective: obj})
	}
}
