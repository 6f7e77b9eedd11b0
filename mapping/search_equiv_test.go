package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
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

// searchGolden holds SHA-256 sums of the allocation search's JSON results
// over the cases of TestSearchGolden, one per group. They were recorded
// from the search as it stood at commit b163bf8, before it was made ~4×
// faster: the faster search was then checked case by case against a
// frozen copy of that code (byte-identical JSON for every case), and the
// copy replaced by these sums. A change that alters any plan fails here;
// if the change is meant, re-record the sums the failure prints and say
// why in the commit.
var searchGolden = map[string]string{
	"dual":     "277939e6d4422228d6586e41070a312663ac8dead055b2568065f07e4f6ec9db",
	"allocate": "ac46f4e8ffe989228b315acce0022385490a09cf5af573ceb7debde6e8bb53b5",
	"nets":     "126f886d88b31aafd1860027302c965abdc3a5ad0e46851bdbbe9da7a12df119",
}

// TestSearchGolden runs MapDual (its memo emptied) and Allocate with every
// objective on random layer sets, splits, schemes and chips, and MapDual on
// the ResNets `pimc compile` maps on three chips, and compares the results
// with searchGolden.
func TestSearchGolden(t *testing.T) {
	sums := map[string]hash.Hash{"dual": sha256.New(), "allocate": sha256.New(), "nets": sha256.New()}
	record := func(group, name string, v any, err error) {
		h := sums[group]
		fmt.Fprintf(h, "%s\n", name)
		if err != nil {
			fmt.Fprintf(h, "error %v\n", err)
			return
		}
		fmt.Fprintf(h, "%s\n", jsonOf(t, v))
	}
	dual := func(group, name string, ds []DualLayer, h *hw.Hardware, o Options) {
		dualCache.reset()
		res, err := MapDual(ds, h, o)
		record(group, name, res, err)
	}
	r := rand.New(rand.NewPCG(31, 32))
	for n := range 150 {
		ds := randomDual(r)
		h := randomHW(r)
		schemes := equivSchemes[r.IntN(len(equivSchemes))]
		for _, obj := range Objectives {
			dual("dual", fmt.Sprintf("case %d %s", n, obj), ds, h, Options{Schemes: schemes, Objective: obj})
		}
		ls := randomLayers(r)
		p, _ := PoolFromHW(h, []PoolKind{PoolSRAM, PoolEDRAM}[r.IntN(2)])
		for _, obj := range Objectives {
			a, err := Allocate(ls, p, Options{Schemes: schemes, Objective: obj})
			record("allocate", fmt.Sprintf("case %d %s", n, obj), a, err)
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
	for _, net := range []struct {
		name string
		mk   func(float64) []DualLayer
	}{{"resnet18", dualResNet18}, {"resnet20", dualResNet20}, {"resnet50", dualResNet50}} {
		for ci, h := range chips {
			for _, ratio := range []float64{0, 0.5, 1} {
				for _, obj := range Objectives {
					dual("nets", fmt.Sprintf("%s r=%g chip %d %s", net.name, ratio, ci, obj), net.mk(ratio), h, Options{Schemes: []Scheme{Im2col}, Objective: obj})
				}
			}
		}
	}
	// All schemes, as `pimc map` and the tests use them.
	for _, obj := range Objectives {
		dual("nets", "resnet18 r=0.5 all schemes "+string(obj), dualResNet18(0.5), hw.Default(), Options{Objective: obj})
	}
	for _, g := range []string{"dual", "allocate", "nets"} {
		if got := hex.EncodeToString(sums[g].Sum(nil)); got != searchGolden[g] {
			t.Errorf("%s: allocation results changed: sha256 %s, recorded %s", g, got, searchGolden[g])
		}
	}
}
