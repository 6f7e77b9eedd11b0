package mapping

import (
	"fmt"
	"testing"

	"pimc/hw"
)

// dualResNet18 is torchvision's ResNet-18 on a 224×224 image as `pimc
// compile` hands it to MapDual: the stem and the classifier stay INT8 on
// SRAM, every other layer is split at r (the INT4 path reading 4-bit
// codes), in graph order (conv1, conv2, downsample).
func dualResNet18(r float64) []DualLayer {
	conv := func(name string, hw, k, ic, oc, s int) Layer {
		p := k / 2
		return Layer{Name: name, Kind: KindConv, IH: hw, IW: hw, KH: k, KW: k, IC: ic, OC: oc, SH: s, SW: s, PadT: p, PadL: p, PadB: p, PadR: p}
	}
	ls := []Layer{conv("conv1", 224, 7, 3, 64, 2)}
	in, size := 64, 56
	for st, c := range []int{64, 128, 256, 512} {
		for b := range 2 {
			s := 1
			if b == 0 && st > 0 {
				s = 2
			}
			n := fmt.Sprintf("layer%d.%d", st+1, b)
			ls = append(ls, conv(n+".conv1", size, 3, in, c, s))
			out := (size+2-3)/s + 1
			ls = append(ls, conv(n+".conv2", out, 3, c, c, 1))
			if s != 1 || in != c {
				ls = append(ls, conv(n+".downsample", size, 1, in, c, s))
			}
			in, size = c, out
		}
	}
	ls = append(ls, Layer{Name: "fc", Kind: KindFC, IC: 512, OC: 1000})
	ds := make([]DualLayer, len(ls))
	for i, l := range ls {
		d := DualLayer{Layer: l}
		if i == 0 || l.Kind == KindFC {
			d.OC4, d.SRAMWeightBits, d.SRAMInputBits = l.OC, 8, 8
		} else {
			d.OC4 = int(r*float64(l.OC)+0.5) / 8 * 8
			d.OCTB, d.SRAMInputBits = l.OC-d.OC4, 4
		}
		ds[i] = d
	}
	return ds
}

// BenchmarkMapDualResNet18 is MapDual's search as `pimc compile` runs it
// for ResNet-18 (im2col only, the default chip), for each objective and
// the chosen (r = 0.5), INT4-only (r = 1) and TB-only (r = 0) splits. The
// result memo is emptied before every call, so each iteration searches.
func BenchmarkMapDualResNet18(b *testing.B) {
	h := hw.Default()
	o := Options{Schemes: []Scheme{Im2col}}
	for _, obj := range Objectives {
		for _, r := range []float64{0, 0.5, 1} {
			ds := dualResNet18(r)
			o.Objective = obj
			b.Run(fmt.Sprintf("%s/r=%g", obj, r), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					dualCache.reset()
					if _, err := MapDual(ds, h, o); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func TestDualResNet18Layers(t *testing.T) {
	ds := dualResNet18(0.5)
	if len(ds) != 21 {
		t.Fatalf("%d layers, want 21 (20 convolutions and the classifier)", len(ds))
	}
	var macs int64
	for _, d := range ds {
		l, err := d.Layer.Normalized()
		if err != nil {
			t.Fatal(err)
		}
		macs += l.MACs()
	}
	// ResNet-18 is about 1.8 GMACs.
	if macs < 1.7e9 || macs > 1.9e9 {
		t.Errorf("%d MACs, want about 1.8e9", macs)
	}
}

// reset empties the memo (benchmarks and the reference test search every
// time).
func (m *dualMemo) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = nil
}

// BenchmarkMapDualResNet20 is the same for CIFAR-10 ResNet-20, whose
// small layers give the searches many more options (weight copies) per
// layer than ResNet-18's.
func BenchmarkMapDualResNet20(b *testing.B) {
	h := hw.Default()
	for _, obj := range Objectives {
		for _, r := range []float64{0, 0.5, 1} {
			ds := dualResNet20(r)
			o := Options{Schemes: []Scheme{Im2col}, Objective: obj}
			b.Run(fmt.Sprintf("%s/r=%g", obj, r), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					dualCache.reset()
					if _, err := MapDual(ds, h, o); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestDualMemo: MapDual's memo answers a repeated call with the same
// hardware description while other calls come between (`pimc compile`
// costs its baselines while it emits the chosen variant), as a copy the
// caller owns; a description loaded anew (the next compile) starts cold.
func TestDualMemo(t *testing.T) {
	dualCache.reset()
	h := hw.Default()
	o := Options{Schemes: []Scheme{Im2col}, Objective: ObjectiveEDP}
	lookup := func(ds []DualLayer, h *hw.Hardware) *DualResult {
		_, _, sj, ej, err := dualJobs(ds, h, o.Schemes)
		if err != nil {
			t.Fatal(err)
		}
		k, ok := newDualKey(sj, ej, h, o.Schemes, o.Objective)
		if !ok {
			t.Fatal("no key")
		}
		return dualCache.get(k)
	}
	chosen := dualResNet20(0.5)
	first, err := MapDual(chosen, h, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []float64{1, 0} { // the baselines
		if _, err := MapDual(dualResNet20(r), h, o); err != nil {
			t.Fatal(err)
		}
	}
	hit := lookup(chosen, h)
	if hit == nil {
		t.Fatal("the chosen variant's result was evicted by the baselines")
	}
	if !sameJSON(hit, first) {
		t.Fatal("the memo's result differs from the search's")
	}
	hit.Layers[0].SRAM.Places = append(hit.Layers[0].SRAM.Places, Place{Array: 99})
	hit.LatencyClk = -1
	if again := lookup(chosen, h); !sameJSON(again, first) {
		t.Fatal("a caller's changes reached the memo")
	}
	if lookup(chosen, hw.Default()) != nil {
		t.Error("a new hardware description (the next compile) hit the memo")
	}
}
