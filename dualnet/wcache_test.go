package dualnet

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestLayerQuantMemo checks quantizeChannels against QuantizeChannel for
// subsets in any order (repeats included), the whole-layer array it returns
// only for every channel in order, concurrent callers, and no calibration.
func TestLayerQuantMemo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const c, k = 40, 600 // ≥ 1<<14 weights: the parallel path
	w := make([]float32, c*k)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	check := func(label string, chans []int, codes [][]int8, scales []float32, q int) {
		t.Helper()
		for i, ch := range chans {
			wc, ws := QuantizeChannel(w[ch*k:(ch+1)*k], q)
			if math.Float32bits(ws) != math.Float32bits(scales[i]) || !slices.Equal(wc, codes[i]) {
				t.Fatalf("%s: channel %d differs", label, ch)
			}
		}
	}
	all := make([]int, c)
	for i := range all {
		all[i] = i
	}
	for _, cal := range []*Calibration{nil, {}} {
		for _, q := range []int{7, 127} {
			sub := []int{31, 2, 2, 17, 0}
			codes, scales, whole := quantizeChannels(cal, w, k, sub, q)
			check("subset", sub, codes, scales, q)
			if whole != nil {
				t.Fatal("a subset returned the whole-layer array")
			}
			rev := slices.Clone(all)
			slices.Reverse(rev)
			codes, scales, whole = quantizeChannels(cal, w, k, rev, q)
			check("reversed", rev, codes, scales, q)
			if whole != nil {
				t.Fatal("channels out of order returned the whole-layer array")
			}
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes, scales, whole := quantizeChannels(cal, w, k, all, q)
					check("all", all, codes, scales, q)
					for ch := range all {
						if !slices.Equal(whole[ch*k:(ch+1)*k], codes[ch]) {
							t.Errorf("whole-layer array differs at channel %d", ch)
						}
					}
				}()
			}
			wg.Wait()
		}
	}
	// Same content at another address: found by content, same entry.
	cal := &Calibration{}
	_, _, a := quantizeChannels(cal, w, k, all, 7)
	_, _, b := quantizeChannels(cal, slices.Clone(w), k, all, 7)
	if &a[0] != &b[0] {
		t.Error("equal weights at another address were quantized again")
	}
	// Weights that differ only where the content key does not look get the
	// same key: the bit-for-bit check must still tell them apart.
	w3 := slices.Clone(w)
	at := 20*k + 301 // not on the key's sampling stride
	if at%max(1, len(w)/1024) == 0 {
		t.Fatal("test weight change falls on a sampled index")
	}
	w3[at] += 0.5
	if hashWeights(w3) != hashWeights(w) {
		t.Fatal("test expects the change to be invisible to the key")
	}
	codes3, scales3, _ := quantizeChannels(cal, w3, k, all, 7)
	wc3, ws3 := QuantizeChannel(w3[20*k:21*k], 7)
	if !slices.Equal(codes3[20], wc3) || scales3[20] != ws3 {
		t.Error("a key collision returned another layer's codes")
	}
	ternary(cal, w, k, c)
	if e3 := ternary(cal, w3, k, c); e3.errs[20] != TernaryError(w3[20*k:21*k]) {
		t.Error("a key collision returned another layer's ternary codes")
	}
	// Concurrent callers share one entry, computed once.
	tes := make([]*teEntry, 4)
	var wg sync.WaitGroup
	for g := range tes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tes[g] = ternary(cal, w, k, c)
		}()
	}
	wg.Wait()
	for _, e := range tes[1:] {
		if e != tes[0] {
			t.Fatal("concurrent ternary calls made separate entries")
		}
	}
	if ternary(cal, slices.Clone(w), k, c) != tes[0] {
		t.Error("equal weights at another address got another ternary entry")
	}
	te := ternary(cal, w, k, c)
	for ch := 0; ch < c; ch++ {
		codes, alpha, _ := TWN(w[ch*k : (ch+1)*k])
		if !slices.Equal(codes, te.t[ch]) || !slices.Equal(codes, te.all[ch*k:(ch+1)*k]) || alpha != te.alpha[ch] {
			t.Fatalf("ternary channel %d differs from TWN", ch)
		}
	}
}
