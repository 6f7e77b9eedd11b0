package dualnet

import (
	"math"
	"math/rand/v2"
	"testing"
)

// mseScaleRef is the straightforward MSEScale search MSEScale must match
// bit for bit.
func mseScaleRef(w []float32, q int) float32 {
	maxAbs := 0.0
	for _, v := range w {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	if maxAbs == 0 {
		return 0
	}
	best, bestErr := maxAbs/float64(q), math.Inf(1)
	for i := 0; i < mseScaleSteps; i++ {
		s := maxAbs * (1 - 0.008*float64(i)) / float64(q)
		e := 0.0
		for _, v := range w {
			d := float64(v) - s*float64(quantizeSym(float64(v), s, q))
			e += d * d
		}
		if e < bestErr {
			best, bestErr = s, e
		}
	}
	return float32(best)
}

func TestMSEScaleMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	bad := 0
	for trial := 0; trial < 3000; trial++ {
		n := 1 + rng.IntN(600)
		w := make([]float32, n)
		for i := range w {
			switch trial % 3 {
			case 0:
				w[i] = float32(rng.NormFloat64() * 0.05)
			case 1:
				w[i] = float32(rng.Float64()*2 - 1)
			default:
				w[i] = float32(math.Round(rng.NormFloat64()*4) / 16)
			}
		}
		for _, q := range []int{7, 127} {
			if got, want := MSEScale(w, q), mseScaleRef(w, q); math.Float32bits(got) != math.Float32bits(want) {
				bad++
				if bad < 5 {
					t.Errorf("trial %d n=%d q=%d: MSEScale %v, reference %v", trial, n, q, got, want)
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d mismatches", bad)
	}
}

func TestHistAddTableMatchesSlow(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(1), math.Float32frombits(1<<18 - 1), math.Float32frombits(1 << 18), math.Float32frombits(1<<31 | 5),
		math.MaxFloat32, -math.MaxFloat32, 1e-30, -1e-30, 1e30}
	for trial := 0; trial < 20; trial++ {
		n := addTableMin + rng.IntN(3*addTableMin)
		xs := make([]float32, n)
		for i := range xs {
			switch rng.IntN(6) {
			case 0:
				xs[i] = special[rng.IntN(len(special))]
			case 1:
				xs[i] = 0
			default:
				xs[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4)))
			}
		}
		if trial%5 == 0 {
			for i := range xs {
				xs[i] = float32(math.Abs(float64(xs[i])))
			}
		}
		a, b := NewHist(), NewHist()
		a.Add(xs[:100]) // non-empty starting state
		b.addSlow(xs[:100])
		a.Add(xs)
		b.addSlow(xs)
		if a.Zero != b.Zero || a.N != b.N || math.Float32bits(a.Min) != math.Float32bits(b.Min) || math.Float32bits(a.Max) != math.Float32bits(b.Max) {
			t.Fatalf("trial %d: zero/n/min/max %d %d %v %v, want %d %d %v %v", trial, a.Zero, a.N, a.Min, a.Max, b.Zero, b.N, b.Min, b.Max)
		}
		for i := range a.Pos {
			if a.Pos[i] != b.Pos[i] || a.Neg[i] != b.Neg[i] {
				t.Fatalf("trial %d bin %d: %d/%d, want %d/%d", trial, i, a.Pos[i], a.Neg[i], b.Pos[i], b.Neg[i])
			}
		}
	}
}

// histMSEScaleRef is the straightforward activation-scale search
// Hist.MSEScale must match bit for bit.
func histMSEScaleRef(h *Hist, bits int, signed bool) float32 {
	lo, hi := codeRange(bits, signed)
	qp, qn := int(hi), int(-lo)
	m := h.MaxAbs()
	if m == 0 {
		return 1
	}
	best, bestErr := m/float64(qp), math.Inf(1)
	s := m / float64(qp)
	for i := 0; i < actScaleSteps; i++ {
		e := 0.0
		for b, c := range h.Pos {
			if c == 0 {
				continue
			}
			l, u := binEdges(b)
			u = math.Min(u, math.Max(l, float64(h.Max)))
			e += float64(c) * binErr(l, u, s, qp)
		}
		for b, c := range h.Neg {
			if c == 0 {
				continue
			}
			l, u := binEdges(b)
			u = math.Min(u, math.Max(l, -float64(h.Min)))
			if qn == 0 {
				e += float64(c) * ((l+u)/2*(l+u)/2 + (u-l)*(u-l)/12)
			} else {
				e += float64(c) * binErr(l, u, s, qn)
			}
		}
		if e < bestErr {
			best, bestErr = s, e
		}
		s *= actScaleRatio
	}
	return float32(best)
}

func TestHistMSEScaleMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 60; trial++ {
		h := NewHist()
		n := 1 + rng.IntN(5000)
		xs := make([]float32, n)
		for i := range xs {
			v := rng.NormFloat64()*math.Pow(10, float64(rng.IntN(5)-2)) + float64(trial%3-1)
			if trial%4 == 0 && v < 0 {
				v = 0
			}
			xs[i] = float32(v)
		}
		h.Add(xs)
		for _, bits := range []int{4, 8} {
			for _, signed := range []bool{false, true} {
				if got, want := h.MSEScale(bits, signed), histMSEScaleRef(h, bits, signed); math.Float32bits(got) != math.Float32bits(want) {
					t.Errorf("trial %d bits %d signed %v: %v, reference %v", trial, bits, signed, got, want)
				}
			}
		}
	}
}

func TestWeightCacheMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const c, k = 24, 37
	w := make([]float32, c*k)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	copy(w[5*k:6*k], w[2*k:3*k]) // a duplicate channel: same key, same entry
	cal := &Calibration{}
	chans := []int{0, 2, 5, 7, 23}
	for pass := 0; pass < 2; pass++ { // cold, then warm
		for _, q := range []int{7, 127} {
			codes, scales, _ := quantizeChannels(cal, w, k, chans, q)
			for i, ch := range chans {
				wc, ws := QuantizeChannel(w[ch*k:(ch+1)*k], q)
				if math.Float32bits(ws) != math.Float32bits(scales[i]) || string(int8Bytes(wc)) != string(int8Bytes(codes[i])) {
					t.Fatalf("pass %d q %d channel %d: cached result differs", pass, q, ch)
				}
			}
		}
		errs := ternaryErrors(cal, w, k, c)
		for ch := range errs {
			if want := TernaryError(w[ch*k : (ch+1)*k]); math.Float64bits(errs[ch]) != math.Float64bits(want) {
				t.Fatalf("pass %d channel %d: ternary error %v, want %v", pass, ch, errs[ch], want)
			}
		}
	}
	// Different weights of the same shape must not hit.
	w2 := append([]float32(nil), w...)
	w2[0] += 1
	codes, scales, _ := quantizeChannels(cal, w2, k, []int{0}, 7)
	wc, ws := QuantizeChannel(w2[:k], 7)
	if scales[0] != ws || string(int8Bytes(wc)) != string(int8Bytes(codes[0])) {
		t.Fatal("changed weights returned a stale cache entry")
	}
	if e := ternaryErrors(cal, w2, k, c); e[0] != TernaryError(w2[:k]) {
		t.Fatal("changed weights returned stale ternary errors")
	}
	// Histogram scales.
	h := NewHist()
	h.Add([]float32{0.1, 0.5, -0.2, 3, 0})
	for pass := 0; pass < 2; pass++ {
		if got, want := cal.Scale(h, 4, true), h.MSEScale(4, true); got != want {
			t.Fatalf("pass %d: Scale %v, want %v", pass, got, want)
		}
	}
	h.Add([]float32{7})
	if got, want := cal.Scale(h, 4, true), h.MSEScale(4, true); got != want {
		t.Fatalf("changed histogram: Scale %v, want %v", got, want)
	}
}

func int8Bytes(x []int8) []byte {
	b := make([]byte, len(x))
	for i, v := range x {
		b[i] = byte(v)
	}
	return b
}
