package dualnet

import (
	"math"
	"sort"
	"sync"
)

// This file holds the pure quantizer arithmetic: weight quantizers (INT4 /
// INT8 per-channel with MSE-chosen scales, TWN ternary), the fixed-point
// requantization rule, and the float→code rounding of QuantizeInput.
// docs/quantization.md states each rule; tests pin them.

// quantizeSym quantizes v with scale s to the symmetric range [−q, q],
// rounding half to even.
func quantizeSym(v, s float64, q int) int {
	if s <= 0 {
		return 0
	}
	r := math.RoundToEven(v / s)
	if r > float64(q) {
		return q
	}
	if r < -float64(q) {
		return -q
	}
	return int(r)
}

// mseScaleSteps is the number of candidate clipping levels the weight-scale
// search tries, from max|w| down to 20% of it.
const mseScaleSteps = 100

// MSEScale returns the scale s minimising Σ (w − s·Q(w/s))² for symmetric
// quantization to [−q, q]. Candidates are clip = max|w|·(1 − 0.008·i), i =
// 0..99, s = clip/q; the first (largest) minimum wins. All-zero input gives 0.
//
// The result is bit for bit that of the plain search, each candidate's
// error summed in index order (TestMSEScaleMatchesReference). For narrow
// codes (q < 32, INT4) it is found faster: mseCandidates computes every
// candidate's error from a histogram of |w| up to a bounded rounding
// slack, in O(q) bins plus the few values near rounding boundaries per
// candidate, and only the candidates within that slack of the best —
// nearly always just one — need the exact sum.
func MSEScale(w []float32, q int) float32 {
	maxAbs := 0.0
	for _, v := range w {
		// math.Max's call costs more than the search itself on INT4;
		// the comparison gives the same maximum (NaN sticks, as there).
		if a := math.Abs(float64(v)); a > maxAbs || a != a {
			maxAbs = a
		}
		if maxAbs != maxAbs {
			break
		}
	}
	if maxAbs == 0 {
		return 0
	}
	qf := float64(q)
	scale := func(i int) float64 { return maxAbs * (1 - 0.008*float64(i)) / qf }
	var maybe []int
	if q < 32 {
		maybe = mseCandidates(w, q, maxAbs, scale)
	}
	if maybe == nil {
		return float32(msePlain(w, q, maxAbs, scale))
	}
	if len(maybe) == 1 {
		return float32(scale(maybe[0]))
	}
	best, bestErr := maxAbs/qf, math.Inf(1)
	for _, i := range maybe {
		s := scale(i)
		if e := mseErrExact(w, s, qf); e < bestErr {
			best, bestErr = s, e
		}
	}
	return float32(best)
}

// msePlain is the plain search; a candidate is abandoned once its running
// sum (which only grows) reaches the best error, with the same result.
func msePlain(w []float32, q int, maxAbs float64, scale func(int) float64) float64 {
	qf := float64(q)
	best, bestErr := maxAbs/qf, math.Inf(1)
	for i := 0; i < mseScaleSteps; i++ {
		s := scale(i)
		e := 0.0
		pruned := false
		for j := 0; j < len(w); j++ {
			v := float64(w[j])
			r := math.RoundToEven(v / s)
			if r > qf {
				r = qf
			} else if r < -qf {
				r = -qf
			}
			d := v - s*r
			e += d * d
			if e >= bestErr {
				pruned = true
				break
			}
		}
		if !pruned && e < bestErr {
			best, bestErr = s, e
		}
	}
	return best
}

// mseErrExact is Σ (v − s·quantizeSym(v, s, q))² summed in index order.
// round(v/s) is computed as round(v·(1/s)), which is the same unless
// v·(1/s) lies within 1e-6 of a rounding boundary (the two quotients
// differ by a few ulps, |v/s| ≤ 5q): there v/s is divided out.
func mseErrExact(w []float32, s, qf float64) float64 {
	e := 0.0
	inv := 1 / s
	for _, x := range w {
		v := float64(x)
		t := v * inv
		r := math.RoundToEven(t)
		if math.Abs(t-r) > 0.5-1e-6 {
			r = math.RoundToEven(v / s)
		}
		if r > qf {
			r = qf
		} else if r < -qf {
			r = -qf
		}
		d := v - s*r
		e += d * d
	}
	return e
}

// mseScratch holds mseCandidates' per-call buffers (it runs once per
// channel: allocating them each time would churn the GC).
var mseScratch = sync.Pool{New: func() any { return new(mseBuf) }}

type mseBuf struct {
	p0, p1, p2 []float64 // prefix sums over bins: count, Σ|v|, Σv²
	abs        []float64 // |w| grouped by bin (counting sort)
	at         []int
}

// mseCandidates returns, in ascending order, the candidates i whose exact
// error may be the smallest, or nil when the bounds are not usable.
//
// |w| is binned into nb equal bins over [0, max|w|] (nb ≈ k/4, a power of
// two in 256…1024) with each bin's count, Σ|v| and Σv². A value |v| in
// rounding cell m (|v|/s within ½ of m, or ≥ q − ½ for m = q) contributes
// (|v| − m·s)², so a run of bins lying inside one cell contributes
// Σv² − 2ms·Σ|v| + n·(ms)², from prefix sums. The values in the bins
// within one bin of a cell boundary lie within two bin widths of it: a
// first round bounds their error, which leaves a few candidates; for those
// a second round rounds these values one by one, exactly as quantizeSym
// does. Floating-point error is bounded generously by 8·(k + nb)·2^−53
// times the sum of the magnitudes involved. A candidate whose lower bound
// exceeds another's upper bound cannot win, so the winner is among those
// returned — nearly always one, whose error then need not be summed at all.
func mseCandidates(w []float32, q int, maxAbs float64, scale func(int) float64) []int {
	nb := 256
	for nb < len(w)/4 && nb < 1024 {
		nb *= 2
	}
	buf := mseScratch.Get().(*mseBuf)
	defer mseScratch.Put(buf)
	grow := func(s []float64, n int) []float64 {
		if cap(s) < n {
			return make([]float64, n)
		}
		s = s[:n]
		clear(s)
		return s
	}
	p0, p1, p2 := grow(buf.p0, nb+1), grow(buf.p1, nb+1), grow(buf.p2, nb+1)
	abs := grow(buf.abs, len(w))
	if cap(buf.at) < nb {
		buf.at = make([]int, nb)
	}
	at := buf.at[:nb]
	buf.p0, buf.p1, buf.p2, buf.abs = p0, p1, p2, abs
	inv := float64(nb) / maxAbs
	bin := func(a float64) int { return min(int(a*inv), nb-1) }
	for _, x := range w {
		a := math.Abs(float64(x))
		b := bin(a)
		p0[b+1]++
		p1[b+1] += a
		p2[b+1] += a * a
	}
	for b := 1; b <= nb; b++ {
		p0[b] += p0[b-1]
		p1[b] += p1[b-1]
		p2[b] += p2[b-1]
	}
	sorted := false
	sortByBin := func() {
		// Counting sort of |w| by bin, for the exact round only.
		for b := range at {
			at[b] = int(p0[b])
		}
		for _, x := range w {
			a := math.Abs(float64(x))
			b := bin(a)
			abs[at[b]] = a
			at[b]++
		}
		sorted = true
	}
	bw := maxAbs / float64(nb)
	k := float64(len(w))
	qf := float64(q)
	const u = 1.0 / (1 << 53)
	// errAt brackets candidate i's error: the interior runs from prefix
	// sums, the values in the bins next to each cell boundary either
	// bounded ([(s/2 − 2.01·bw)², (s/2)²] each: they lie within two bin
	// widths of the boundary) or, when exact is set, rounded one by one.
	errAt := func(i int, exact bool) (lo, hi float64) {
		s := scale(i)
		var sum, near0, near1 float64
		first := 0 // first bin of the current cell's interior
		for m := 0; m <= q; m++ {
			last := nb - 1 // last bin of cell m's interior
			bnd := -1
			if m < q {
				bnd = int((float64(m) + 0.5) * s * inv)
				last = bnd - 2
			}
			if last >= first && first < nb {
				last = min(last, nb-1)
				ms := float64(m) * s
				n := p0[last+1] - p0[first]
				s1 := p1[last+1] - p1[first]
				s2 := p2[last+1] - p2[first]
				sum += s2 - 2*ms*s1 + n*ms*ms
			}
			if m < q {
				a, b := max(bnd-1, 0), min(bnd+1, nb-1)
				if exact {
					for _, v := range abs[int(p0[a]):int(p0[b+1])] {
						r := math.RoundToEven(v / s)
						if r > qf {
							r = qf
						}
						d := v - s*r
						sum += d * d
					}
				} else {
					n := p0[b+1] - p0[a]
					d := math.Max(s/2-2.01*bw, 0)
					near0 += n * d * d
					near1 += n * (s / 2) * (s / 2)
				}
				first = bnd + 2
			}
		}
		qs := qf * s
		slack := 8 * (k + float64(nb)) * u * (p2[nb] + 2*qs*p1[nb] + k*qs*qs)
		return sum - slack + near0, sum + slack + near1
	}
	var lo, hi [mseScaleSteps]float64
	for i := 0; i < mseScaleSteps; i++ {
		if scale(i) < 8*bw {
			return nil // cells too narrow for the bins to separate them
		}
		lo[i], hi[i] = errAt(i, false)
	}
	// Two rounds: the cheap bounds leave a few candidates, whose values
	// near the boundaries are then rounded exactly.
	for round := 0; round < 2; round++ {
		best := math.Inf(1)
		for i := range hi {
			best = math.Min(best, hi[i])
		}
		var maybe []int
		for i := range lo {
			if lo[i] <= best {
				maybe = append(maybe, i)
			}
		}
		if round == 1 || len(maybe) == 1 {
			return maybe
		}
		for i := range lo {
			lo[i], hi[i] = math.Inf(1), math.Inf(1)
		}
		if !sorted {
			sortByBin()
		}
		for _, i := range maybe {
			lo[i], hi[i] = errAt(i, true)
		}
	}
	return nil
}

// QuantizeChannel quantizes one output channel's weights to [−q, q] with an
// MSE-chosen scale (q = 7 for INT4, 127 for INT8).
func QuantizeChannel(w []float32, q int) (codes []int8, scale float32) {
	scale = MSEScale(w, q)
	codes = make([]int8, len(w))
	for i, v := range w {
		codes[i] = int8(quantizeSym(float64(v), float64(scale), q))
	}
	return codes, scale
}

// TWN ternarizes one output channel (Li & Liu, Ternary Weight Networks):
// Δ = 0.7·mean|W|, t = sign(W)·[|W| > Δ], α = mean |W| over |W| > Δ.
// An all-zero channel gives t = 0, α = 0.
func TWN(w []float32) (t []int8, alpha, delta float32) {
	t = make([]int8, len(w))
	if len(w) == 0 {
		return t, 0, 0
	}
	sum := 0.0
	for _, v := range w {
		sum += math.Abs(float64(v))
	}
	d := 0.7 * sum / float64(len(w))
	a, n := 0.0, 0
	if math.IsInf(sum, 0) || sum != sum {
		// Infinite or NaN weights: 0·|w| would not be 0.
		for i, v := range w {
			if av := math.Abs(float64(v)); av > d {
				a += av
				n++
				t[i] = 1
				if v <= 0 {
					t[i] = -1
				}
			}
		}
		if n > 0 {
			a /= float64(n)
		}
		return t, float32(a), float32(d)
	}
	for i, v := range w {
		// Branch-free (about half the weights pass, at random): adding
		// 0·|w| leaves the sum bit for bit as adding only the passing ones.
		av := math.Abs(float64(v))
		var in, neg int8
		if av > d {
			in = 1
		}
		if v <= 0 {
			neg = 1
		}
		a += av * float64(in)
		n += int(in)
		t[i] = in - 2*in*neg
	}
	if n > 0 {
		a /= float64(n)
	}
	return t, float32(a), float32(d)
}

// TernaryError is the relative L2 error ‖W − α·t‖ / ‖W‖ of the TWN
// approximation of one channel (0 for an all-zero channel). dual-split
// sends the channels with the largest error to the INT4 path.
func TernaryError(w []float32) float64 {
	t, a, _ := TWN(w)
	return ternaryErrorOf(w, t, a)
}

// ternaryErrorOf is TernaryError given w's TWN codes t and scale a.
func ternaryErrorOf(w []float32, t []int8, a float32) float64 {
	num, den := 0.0, 0.0
	for i, v := range w {
		d := float64(v) - float64(a)*float64(t[i])
		num += d * d
		den += float64(v) * float64(v)
	}
	if den == 0 {
		return 0
	}
	return math.Sqrt(num / den)
}

// SelectINT4 returns the indices of the n4 channels with the largest
// ternarization error (ties: lower channel index first), in ascending
// channel order.
func SelectINT4(errs []float64, n4 int) []int {
	idx := make([]int, len(errs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return errs[idx[a]] > errs[idx[b]] })
	sel := append([]int{}, idx[:n4]...)
	sort.Ints(sel)
	return sel
}

// RoundShift is the PPU's one rounding rule: ⌊(x + 2^(s−1)) / 2^s⌋ for
// s ≥ 1 (round half toward +∞, arithmetic shift), x for s = 0.
func RoundShift(x int64, s uint) int64 {
	if s == 0 {
		return x
	}
	return (x + int64(1)<<(s-1)) >> s
}

// Saturate clamps x to [lo, hi].
func Saturate(x, lo, hi int64) int64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// Requant is one row of a requantization table: y = sat(RoundShift(acc·M +
// res·R + B, S)).
type Requant struct {
	M, B, S, R int64
}

// Apply evaluates the requantization (without saturation).
func (q Requant) Apply(acc, res int64) int64 {
	return RoundShift(acc*q.M+res*q.R+q.B, uint(q.S))
}

const maxMult = 1<<31 - 1

// FixedPoint derives a Requant for real multipliers m (accumulator → output
// code), mr (residual code → output code) and real offset b (in output code
// units), given bounds on |acc| and |res| that keep every intermediate
// inside int64. S is the largest shift in 1..62 for which M and R fit in 31
// bits and accMax·|M| + resMax·|R| + |B| + 2^S ≤ 2^62.
func FixedPoint(m, mr, b, accMax, resMax float64) Requant {
	for s := 62; s >= 1; s-- {
		p := math.Ldexp(1, s)
		M, R, B := math.Round(m*p), math.Round(mr*p), math.Round(b*p)
		if math.Abs(M) > maxMult || math.Abs(R) > maxMult {
			continue
		}
		if accMax*math.Abs(M)+resMax*math.Abs(R)+math.Abs(B)+p > math.Ldexp(1, 62) {
			continue
		}
		return Requant{M: int64(M), B: int64(B), S: int64(s), R: int64(R)}
	}
	// Multipliers this large (> 2^30) mean a degenerate output scale; keep
	// S = 0 and saturate the multiplier rather than overflow.
	clampM := func(v float64) int64 { return int64(math.Max(-maxMult, math.Min(maxMult, math.Round(v)))) }
	return Requant{M: clampM(m), B: int64(math.Round(math.Max(-1<<40, math.Min(1<<40, b)))), S: 0, R: clampM(mr)}
}

// QuantizeValue is QuantizeInput's rule: the float32 x is widened to
// float64, divided by the float32 scale in float64, rounded half to even
// and saturated to [lo, hi]; NaN gives 0.
func QuantizeValue(x, scale float32, lo, hi int64) int64 {
	r := math.RoundToEven(float64(x) / float64(scale))
	switch {
	case r != r:
		return 0
	case r < float64(lo):
		return lo
	case r > float64(hi):
		return hi
	}
	return int64(r)
}

// codeRange mirrors ir.CodeRange for plain ints.
func codeRange(bits int, signed bool) (lo, hi int64) {
	if signed {
		return -(int64(1) << (bits - 1)), int64(1)<<(bits-1) - 1
	}
	return 0, int64(1)<<bits - 1
}
