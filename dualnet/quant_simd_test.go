package dualnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The SIMD kernels of quantizeCodes, sumAbs and twnExact against the
// pure-Go loops (useQuantSIMD cleared), which stay the reference: codes,
// sums, counts and flags must agree bit for bit.

// withQuantSIMD runs f with useQuantSIMD set to on, restoring it after.
func withQuantSIMD(on bool, f func()) {
	old := useQuantSIMD
	useQuantSIMD = on
	defer func() { useQuantSIMD = old }()
	f()
}

func skipNoQuantSIMD(t *testing.T) {
	t.Helper()
	if !useQuantSIMD {
		t.Skip("no SIMD quantizer kernels on this CPU / architecture")
	}
}

// simdLengths are the channel lengths tried: every length to 100, then
// some large ones (blocks of 16 plus every tail).
func simdLengths() []int {
	var ls []int
	for n := 0; n <= 100; n++ {
		ls = append(ls, n)
	}
	return append(ls, 255, 256, 257, 1023, 2304, 4111)
}

// oddScale is a float32 scale with a random (odd) mantissa over a wide
// range of exponents, now and then subnormal, tiny or huge.
func oddScale(rng *rand.Rand) float32 {
	switch rng.IntN(12) {
	case 3, 4: // a short odd mantissa: ties (m + ½)·s are float32s, and
		// v·(1/s) can round the other way (49·2^−10: 1.5·s·(1/s) < 1.5)
		return float32(math.Ldexp(float64(2*rng.IntN(2048)+1), rng.IntN(40)-30))
	case 0:
		return math.Float32frombits(uint32(rng.IntN(1<<23)) | 1) // subnormal
	case 1:
		return math.Float32frombits(0x7f000000 | uint32(rng.IntN(1<<23)) | 1) // huge
	case 2:
		return []float32{1, 0.5, 0.1, 3, float32(1.0 / 7), 49.0 / 1024}[rng.IntN(6)]
	}
	e := 127 - 30 + rng.IntN(40)
	return math.Float32frombits(uint32(e)<<23 | uint32(rng.IntN(1<<23)) | 1)
}

// quantWeight is one weight for scale s and range q: plain, on a rounding
// boundary or a few float32 steps off it, at the clamping threshold,
// clamped, ±0, subnormal, huge or non-finite.
func quantWeight(rng *rand.Rand, s float64, q int) float32 {
	nudge := func(x float32) float32 {
		for k := rng.IntN(5) - 2; k != 0; {
			if k > 0 {
				x = math.Nextafter32(x, float32(math.Inf(1)))
				k--
			} else {
				x = math.Nextafter32(x, float32(math.Inf(-1)))
				k++
			}
		}
		return x
	}
	sign := float64(1 - 2*rng.IntN(2))
	switch rng.IntN(14) {
	case 0, 1, 2: // a tie (m + ½)·s, as float32, or next to it
		m := float64(rng.IntN(q+2)) + 0.5
		return nudge(float32(sign * m * s))
	case 3: // at (q + 0.499)·s or (q + ½)·s: the fast path's limit, the clamp
		return nudge(float32(sign * (float64(q) + []float64{0.499, 0.5}[rng.IntN(2)]) * s))
	case 4: // clamped
		return float32(sign * (float64(q) + 1 + rng.Float64()*10) * s)
	case 5:
		return float32(math.Copysign(0, sign))
	case 6:
		return float32(sign) * math.Float32frombits(uint32(rng.IntN(1<<23)))
	case 7:
		return float32(sign) * math.Float32frombits(0x7f000000|uint32(rng.IntN(1<<23)))
	case 8:
		if rng.IntN(4) == 0 {
			return []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0xffc00001)}[rng.IntN(4)]
		}
	case 9: // an integer code exactly, or off it
		return nudge(float32(sign * float64(rng.IntN(q+1)) * s))
	}
	return float32(rng.NormFloat64() * float64(q) * s / 2.5)
}

func TestQuantizeCodesSIMDMatchesGo(t *testing.T) {
	skipNoQuantSIMD(t)
	rng := rand.New(rand.NewPCG(41, 42))
	qs := []int{1, 7, 127, 100, 300, 1 << 20}
	for trial := 0; trial < 150; trial++ {
		for _, n := range simdLengths() {
			q := qs[rng.IntN(len(qs))]
			if trial%3 == 0 {
				q = []int{1, 7, 127}[trial/3%3]
			}
			scale := oddScale(rng)
			if trial == 149 {
				scale = []float32{0, -1, float32(math.NaN()), float32(math.Inf(1))}[n%4]
			}
			s := float64(scale)
			off := rng.IntN(4) // unaligned starts: w[off:], codes[off:]
			buf := make([]float32, n+off)
			w := buf[off:]
			clean := trial%5 == 1 // plain weights only
			for i := range w {
				if clean {
					w[i] = float32(rng.NormFloat64() * float64(q) * s / 3)
				} else {
					w[i] = quantWeight(rng, s, q)
				}
			}
			got := make([]int8, n+off+1)[off : off+n]
			want := make([]int8, n)
			withQuantSIMD(true, func() { quantizeCodes(got, w, scale, q) })
			withQuantSIMD(false, func() { quantizeCodes(want, w, scale, q) })
			for i, v := range w {
				if got[i] != want[i] || want[i] != int8(quantizeSym(float64(v), s, q)) {
					t.Fatalf("trial %d n=%d off=%d q=%d scale=%v (%#x): w[%d]=%v (%#x): SIMD %d, Go %d, quantizeSym %d",
						trial, n, off, q, scale, math.Float32bits(scale), i, v, math.Float32bits(v), got[i], want[i], quantizeSym(float64(v), s, q))
				}
			}
		}
	}
}

// TestQuantCodesKernelFastPath: the kernel writes the codes of the blocks
// it passes and stops only at blocks holding a weight that quantizeCodes
// gives to quantizeSym (rare in typical channels).
func TestQuantCodesKernelFastPath(t *testing.T) {
	skipNoQuantSIMD(t)
	stops, total := 0, 0
	for _, c := range []struct{ k, q int }{{2304, 7}, {512, 127}, {4608, 1}} {
		for _, w := range benchChannels(8, c.k) {
			scale := MSEScale(w, c.q)
			s := float64(scale)
			inv := 1 / s
			thr := (float64(c.q) + 0.499) * s
			got := make([]int8, c.k)
			n := c.k &^ 15
			total += n
			for i := 0; i < n; {
				d := quantCodesAVX2(&got[i], &w[i], n-i, inv, thr, float64(c.q), quantNearSq)
				for j := i; j < i+d; j++ {
					if want := int8(quantizeSym(float64(w[j]), s, c.q)); got[j] != want {
						t.Fatalf("k=%d q=%d: code[%d] %d, want %d", c.k, c.q, j, got[j], want)
					}
				}
				i += d
				if i == n {
					break
				}
				stops++
				slow := false
				for j := i; j < i+16; j++ {
					v := float64(w[j])
					f := v*inv - rne(v*inv)
					slow = slow || !(math.Abs(v) < thr) && v != v || math.Abs(v) < thr && f*f > quantNearSq
				}
				if !slow {
					t.Fatalf("k=%d q=%d: kernel stopped at block %d, which needs no quantizeSym", c.k, c.q, i)
				}
				i += 16
			}
		}
	}
	if stops*1000 > total {
		t.Fatalf("kernel stopped %d times in %d weights", stops, total)
	}
	// A block with a weight near a boundary, or NaN, is left to Go.
	w := make([]float32, 64)
	for i := range w {
		w[i] = 0.1
	}
	for _, bad := range []float32{2.5, float32(math.NaN())} {
		w[37] = bad
		codes := make([]int8, 64)
		if d := quantCodesAVX2(&codes[0], &w[0], 64, 1, 7.499, 7, quantNearSq); d != 32 {
			t.Fatalf("w[37]=%v: kernel stopped at %d, want 32", bad, d)
		}
	}
}

// twnChannel is a channel for the TWN kernels: adversarialChannel's kinds
// and weights from quantWeight (ties, huge, subnormal, ±0, non-finite).
func twnChannel(rng *rand.Rand, n int) []float32 {
	if rng.IntN(2) == 0 {
		return adversarialChannel(rng, rng.IntN(adversarialKinds), max(n, 1), 7)[:n]
	}
	w := make([]float32, n)
	s := float64(oddScale(rng))
	nonFinite := rng.IntN(4) == 0
	for i := range w {
		for {
			w[i] = quantWeight(rng, s, 7)
			if nonFinite || !math.IsNaN(float64(w[i])) && !math.IsInf(float64(w[i]), 0) {
				break
			}
		}
	}
	return w
}

func TestTWNSIMDMatchesGo(t *testing.T) {
	skipNoQuantSIMD(t)
	rng := rand.New(rand.NewPCG(43, 44))
	nExact := 0
	for trial := 0; trial < 40; trial++ {
		for _, n := range simdLengths() {
			off := rng.IntN(4)
			w := append(make([]float32, off), twnChannel(rng, n)...)[off:]
			var gt, wt []int8
			var ga, gd, wa, wd float32
			var gs, ws float64
			var gx, wx bool
			withQuantSIMD(true, func() { gt, ga, gd = TWN(w); gs, gx = sumAbs(w) })
			withQuantSIMD(false, func() { wt, wa, wd = TWN(w); ws, wx = sumAbs(w) })
			if math.Float32bits(ga) != math.Float32bits(wa) || math.Float32bits(gd) != math.Float32bits(wd) ||
				string(int8Bytes(gt)) != string(int8Bytes(wt)) {
				t.Fatalf("trial %d n=%d: TWN SIMD α, Δ %v %v, Go %v %v (codes equal: %v)",
					trial, n, ga, gd, wa, wd, string(int8Bytes(gt)) == string(int8Bytes(wt)))
			}
			if gx != wx || gx && math.Float64bits(gs) != math.Float64bits(ws) {
				t.Fatalf("trial %d n=%d: sumAbs SIMD %v %v, Go %v %v", trial, n, gs, gx, ws, wx)
			}
			if gx {
				nExact++
			}
			if n == 0 {
				continue
			}
			// twnExact alone, d on a weight, next to one, and off any.
			v := math.Abs(float64(w[rng.IntN(n)]))
			for _, d := range []float64{v, math.Nextafter(v, 0), math.Nextafter(v, 1), float64(math.Nextafter32(float32(v), 0)), v * (1 + 1e-12), 0, 0.7 * ws / float64(n)} {
				if d < 0 || math.IsInf(d, 0) || d != d {
					continue
				}
				gc, wc := make([]int8, n+off)[off:], make([]int8, n)
				var a1, a2 float64
				var c1, c2 int
				withQuantSIMD(true, func() { a1, c1 = twnExact(w, gc, d) })
				withQuantSIMD(false, func() { a2, c2 = twnExact(w, wc, d) })
				if string(int8Bytes(gc)) != string(int8Bytes(wc)) || c1 != c2 || wx && math.Float64bits(a1) != math.Float64bits(a2) {
					t.Fatalf("trial %d n=%d d=%v: twnExact SIMD %v %d, Go %v %d", trial, n, d, a1, c1, a2, c2)
				}
			}
		}
	}
	if nExact < 100 {
		t.Fatalf("only %d exact sums", nExact)
	}
}

// TestMSEBinsSIMDMatchesGo: mseCandidates (and MSEScale) with the bins
// from the AVX2 kernel give the pure-Go results, and the kernel's bins
// equal min(int(|v|·inv), nb − 1) for weights on bin edges and off them.
func TestMSEBinsSIMDMatchesGo(t *testing.T) {
	skipNoQuantSIMD(t)
	rng := rand.New(rand.NewPCG(45, 46))
	for trial := 0; trial < 30; trial++ {
		for _, n := range append(simdLengths()[64:], 600, 3001) {
			q := []int{1, 2, 3, 7, 15, 31}[rng.IntN(6)]
			off := rng.IntN(4)
			var w []float32
			if rng.IntN(2) == 0 {
				w = adversarialChannel(rng, rng.IntN(adversarialKinds), n, q)
			} else {
				w = make([]float32, n)
				s := float64(oddScale(rng))
				for i := range w {
					for w[i] = quantWeight(rng, s, q); math.IsNaN(float64(w[i])) || math.IsInf(float64(w[i]), 0); {
						w[i] = quantWeight(rng, s, q)
					}
				}
			}
			w = append(make([]float32, off), w...)[off:]
			maxAbs := 0.0
			for _, v := range w {
				maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
			}
			var g, h []int
			var gs, hs float32
			if maxAbs > 0 && !math.IsInf(maxAbs, 0) {
				scale := func(i int) float64 { return maxAbs * (1 - 0.008*float64(i)) / float64(q) }
				withQuantSIMD(true, func() { g = mseCandidates(w, q, maxAbs, scale) })
				withQuantSIMD(false, func() { h = mseCandidates(w, q, maxAbs, scale) })
			}
			withQuantSIMD(true, func() { gs = MSEScale(w, q) })
			withQuantSIMD(false, func() { hs = MSEScale(w, q) })
			if fmt.Sprint(g) != fmt.Sprint(h) || math.Float32bits(gs) != math.Float32bits(hs) {
				t.Fatalf("trial %d n=%d q=%d: SIMD candidates %v scale %v, Go %v %v", trial, n, q, g, gs, h, hs)
			}
		}
	}
	// The kernel alone, weights on bin edges k·max|w|/nb and a few float32
	// steps off them, ±0, subnormals, max|w| itself.
	for trial := 0; trial < 200; trial++ {
		nb := 256 << rng.IntN(4)
		maxAbs := float64(oddScale(rng))
		inv := float64(nb) / maxAbs
		n := 8 * (1 + rng.IntN(40))
		off := rng.IntN(4)
		w := make([]float32, n+off)[off:]
		for i := range w {
			switch rng.IntN(6) {
			case 0:
				w[i] = float32(maxAbs)
			case 1:
				w[i] = float32(math.Copysign(0, float64(1-2*rng.IntN(2))))
			case 2:
				w[i] = math.Float32frombits(uint32(rng.IntN(1 << 23)))
			default:
				w[i] = float32(float64(rng.IntN(nb+1)) * maxAbs / float64(nb))
				for k := rng.IntN(5) - 2; k != 0; k -= k / max(1, absInt(k)) {
					w[i] = math.Nextafter32(w[i], float32(k))
				}
				if math.Abs(float64(w[i])) > maxAbs {
					w[i] = float32(maxAbs)
				}
			}
			if rng.IntN(2) == 0 {
				w[i] = -w[i]
			}
		}
		out := make([]int32, n)
		mseBinsAVX2(&w[0], n, inv, int32(nb-1), &out[0])
		for i, v := range w {
			if want := min(int(math.Abs(float64(v))*inv), nb-1); int(out[i]) != want {
				t.Fatalf("nb=%d max|w|=%v: w=%v (%#x): bin %d, want %d", nb, maxAbs, v, math.Float32bits(v), out[i], want)
			}
		}
	}
}

func absInt(k int) int {
	if k < 0 {
		return -k
	}
	return k
}
