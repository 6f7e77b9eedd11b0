package dualnet

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBinErrRecip: the reciprocal form of binErr gives the same bits,
// notably when a quadrature point sits on (or next to) a rounding tie.
func TestBinErrRecip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	check := func(lo, hi, s float64, q int) {
		t.Helper()
		if got, want := binErrRecip(lo, hi, s, 1/s, q), binErr(lo, hi, s, q); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("lo=%v hi=%v s=%v q=%d: %v, binErr %v", lo, hi, s, q, got, want)
		}
	}
	for i := 0; i < 200000; i++ {
		q := []int{1, 7, 15, 127, 255, 32767}[rng.IntN(6)]
		s := math.Exp(rng.Float64()*40 - 20)
		lo := rng.Float64() * float64(q+2) * s
		hi := lo * (1 + rng.Float64()*0.1)
		check(lo, hi, s, q)
		// A point on a tie: lo + 0.125·(hi − lo) = (m + 0.5)·s.
		m := float64(rng.IntN(q + 1))
		v := (m + 0.5) * s
		w := s * rng.Float64() * 0.3
		check(v-0.125*w, v+0.875*w, s, q)
		for _, d := range []float64{-1, 1} {
			vv := math.Nextafter(v, v+d)
			check(vv-0.125*w, vv+0.875*w, s, q)
		}
	}
	for _, s := range []float64{5e-324, 1e-310, math.SmallestNonzeroFloat64 * 3} {
		check(0.1, 0.2, s, 15)
	}
}

// binErr is the plain form of binErrRecip (the expected squared error of
// quantizing a value uniformly spread over [lo, hi) with step s and
// largest level q·s): the reference the activation-scale search matches.
func binErr(lo, hi, s float64, q int) float64 {
	lim := float64(q) * s
	if lo >= lim {
		d := (lo+hi)/2 - lim
		return d*d + (hi-lo)*(hi-lo)/12
	}
	if hi-lo >= s && hi <= lim {
		return s * s / 12
	}
	e := 0.0
	for j := 0; j < 4; j++ {
		v := lo + (float64(j)+0.5)/4*(hi-lo)
		r := math.Min(math.Round(v/s), float64(q)) * s
		e += (v - r) * (v - r)
	}
	return e / 4
}
