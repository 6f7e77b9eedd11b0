package dualnet

import (
	"math"
	"slices"
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
// The result is bit for bit that of the plain search (msePlain), each
// candidate's error summed in index order (TestMSEScaleMatchesReference,
// TestMSEScaleAdversarial). It is found faster: for narrow codes (q < 32,
// INT4) mseCandidates brackets every candidate's error from a histogram
// of |w|, in O(q) bins per candidate plus, if needed, the few values near
// rounding boundaries, and only the candidates within the brackets of the
// best — nearly always just one — need the exact sum; for wide codes
// (INT8) and short channels mseBounded sums exactly only the candidates a
// clipping bound cannot rule out. NaN or infinite weights take msePlain.
func MSEScale(w []float32, q int) float32 {
	// max|w| from the float32 bit patterns, which order non-negative
	// values as integers (branch-free); a NaN's pattern exceeds +Inf's,
	// and then the first NaN, as math.Max would keep it, is looked up.
	const absMask = 1<<31 - 1
	var mb, mb1, mb2, mb3 uint32
	i := 0
	for ; i+4 <= len(w); i += 4 { // four chains: the max's latency bound
		mb = max(mb, math.Float32bits(w[i])&absMask)
		mb1 = max(mb1, math.Float32bits(w[i+1])&absMask)
		mb2 = max(mb2, math.Float32bits(w[i+2])&absMask)
		mb3 = max(mb3, math.Float32bits(w[i+3])&absMask)
	}
	for ; i < len(w); i++ {
		mb = max(mb, math.Float32bits(w[i])&absMask)
	}
	mb = max(mb, mb1, mb2, mb3)
	maxAbs := float64(math.Float32frombits(mb))
	if mb > 0x7f800000 {
		for _, v := range w {
			if v != v {
				maxAbs = math.Abs(float64(v))
				break
			}
		}
	}
	if maxAbs == 0 {
		return 0
	}
	qf := float64(q)
	scale := func(i int) float64 { return maxAbs * (1 - 0.008*float64(i)) / qf }
	if math.IsInf(maxAbs, 0) || maxAbs != maxAbs || q < 1 || q > mseMaxQ {
		// A NaN or infinite weight makes every candidate's error NaN, and
		// the plain search then keeps max|w|/q.
		return float32(msePlain(w, q, maxAbs, scale))
	}
	var maybe []int
	if q < 32 && len(w) >= mseHistMinK {
		maybe = mseCandidates(w, q, maxAbs, scale)
	}
	if maybe == nil {
		return float32(mseBounded(w, q, maxAbs, scale))
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

// mseHistMinK is the channel length from which mseCandidates' histogram
// search beats mseBounded on narrow codes.
const mseHistMinK = 64

// mseMaxQ bounds q for mseBounded and mseErrExact: |v/s| ≤ 4.81·q keeps
// v·(1/s) within 1e-8 of v/s.
const mseMaxQ = 1 << 20

// mseBounded returns msePlain's result (finite max|w| > 0, 1 ≤ q ≤
// mseMaxQ) with fewer exact sums. Every candidate either gets its exact
// error — summed in index order as msePlain sums it, four candidates per
// pass over w — or is shown to exceed an exact error already found: by a
// lower bound from the clipped largest |w| alone (each |w| ≥ (q−½)·s has
// code ±q, error (|w| − q·s)², and the other terms are ≥ 0), or by its
// partial sum, which only grows, passing that error. The first strict
// minimum among the exact errors is then msePlain's choice: every other
// candidate's error is strictly larger than one of them.
func mseBounded(w []float32, q int, maxAbs float64, scale func(int) float64) float64 {
	const u = 1.0 / (1 << 53)
	qf := float64(q)
	var sc, errs [mseScaleSteps]float64
	var known [mseScaleSteps]bool
	for i := range sc {
		sc[i] = scale(i)
	}
	// The largest |w| (any subset gives a valid bound), descending.
	var topBuf [256]float64
	top := topBuf[:0]
	theta := math.Max(0.6*maxAbs, (qf-0.5)*sc[mseScaleSteps-1])
	for _, x := range w {
		if a := math.Abs(float64(x)); a >= theta && len(top) < len(topBuf) {
			top = append(top, a)
		}
	}
	slices.Sort(top)
	slices.Reverse(top)
	// clipLB is a lower bound on candidate i's error: each |v| ≥ T has
	// fl(|v|/s) > q − ½, so code ±q, and its term is (|v| − fl(s·q))² as
	// msePlain computes it, which d below does not exceed (the two
	// computations differ by ≤ 4u·(|v| + q·s)); the float sum of those
	// terms is at most the index-order sum of all k terms, and the factor
	// covers this sum's own rounding.
	clipLB := func(i int, limit float64) bool {
		s := sc[i]
		qs := s * qf
		t := (qf - 0.5) * s * (1 + 1e-9)
		sum, n := 0.0, 0
		for _, a := range top {
			if a < t {
				break
			}
			if d := math.Abs(a-qs) - 8*u*(a+qs); d > 0 {
				sum += d * d
			}
			n++
			if sum*(1-4*float64(n+4)*u) > limit {
				return true
			}
		}
		return false
	}
	best := math.Inf(1) // the smallest exact error so far
	var batch [4]int
	nb := 0
	flush := func() {
		var s4, inv4 [4]float64
		for j := 0; j < 4; j++ {
			i := batch[min(j, nb-1)]
			s4[j], inv4[j] = sc[i], 1/sc[i]
		}
		var e [4]float64
		var done bool
		if nb <= 2 {
			s2, inv2 := [2]float64{s4[0], s4[1]}, [2]float64{inv4[0], inv4[1]}
			var e2 [2]float64
			e2, done = mseErr2(w, &s2, &inv2, qf, best)
			e[0], e[1] = e2[0], e2[1]
		} else {
			e, done = mseErr4(w, &s4, &inv4, qf, best)
		}
		if done {
			for j := 0; j < nb; j++ {
				errs[batch[j]], known[batch[j]] = e[j], true
				best = math.Min(best, e[j])
			}
		}
		nb = 0
	}
	for i := 0; i < mseScaleSteps; i++ {
		if i >= 4 && clipLB(i, best) {
			continue
		}
		batch[nb] = i
		nb++
		if nb == 4 {
			flush()
		}
	}
	if nb > 0 {
		flush()
	}
	res, resErr := maxAbs/qf, math.Inf(1)
	for i := range errs {
		if known[i] && errs[i] < resErr {
			res, resErr = sc[i], errs[i]
		}
	}
	return res
}

// mseErr4 returns, for the four scales s (inv their reciprocals), each
// Σ (v − s·quantizeSym(v, s, q))² over w, summed in index order as msePlain
// sums it, with done set; or, with done false, partial sums that all
// exceed limit. Values below (q + 0.499)·min(s) cannot clamp; for them
// the code is rounded from v·(1/s) as in mseErrExact, unless that is
// within 1e-6 of a rounding boundary ((t−r)² > ¼ − 1e-6 holds from
// |t−r| > ½ − 1e-6 on): those and the larger values take mseCode, v/s as
// msePlain computes it.
func mseErr4(w []float32, s, inv *[4]float64, qf, limit float64) (e [4]float64, done bool) {
	const nearSq = 0.25 - 1e-6
	s0, s1, s2, s3 := s[0], s[1], s[2], s[3]
	i0, i1, i2, i3 := inv[0], inv[1], inv[2], inv[3]
	thr := (qf + 0.499) * min(s0, s1, s2, s3)
	var e0, e1, e2, e3 float64
	for len(w) > 0 {
		blk := w[:min(len(w), 64)]
		w = w[len(blk):]
		for _, x := range blk {
			v := float64(x)
			var r0, r1, r2, r3 float64
			if math.Abs(v) < thr {
				t0, t1, t2, t3 := v*i0, v*i1, v*i2, v*i3
				r0, r1, r2, r3 = rne(t0), rne(t1), rne(t2), rne(t3)
				f0, f1, f2, f3 := t0-r0, t1-r1, t2-r2, t3-r3
				if f0*f0 > nearSq || f1*f1 > nearSq || f2*f2 > nearSq || f3*f3 > nearSq {
					r0, r1, r2, r3 = mseCode(v, s0, qf), mseCode(v, s1, qf), mseCode(v, s2, qf), mseCode(v, s3, qf)
				}
			} else {
				r0, r1, r2, r3 = mseCode(v, s0, qf), mseCode(v, s1, qf), mseCode(v, s2, qf), mseCode(v, s3, qf)
			}
			d0 := v - s0*r0
			e0 += d0 * d0
			d1 := v - s1*r1
			e1 += d1 * d1
			d2 := v - s2*r2
			e2 += d2 * d2
			d3 := v - s3*r3
			e3 += d3 * d3
		}
		if e0 > limit && e1 > limit && e2 > limit && e3 > limit {
			return [4]float64{e0, e1, e2, e3}, false
		}
	}
	return [4]float64{e0, e1, e2, e3}, true
}

// mseErr2 is mseErr4 for two scales.
func mseErr2(w []float32, s, inv *[2]float64, qf, limit float64) (e [2]float64, done bool) {
	const nearSq = 0.25 - 1e-6
	s0, s1 := s[0], s[1]
	i0, i1 := inv[0], inv[1]
	thr := (qf + 0.499) * min(s0, s1)
	var e0, e1 float64
	for len(w) > 0 {
		blk := w[:min(len(w), 64)]
		w = w[len(blk):]
		for _, x := range blk {
			v := float64(x)
			var r0, r1 float64
			if math.Abs(v) < thr {
				t0, t1 := v*i0, v*i1
				r0, r1 = rne(t0), rne(t1)
				f0, f1 := t0-r0, t1-r1
				if f0*f0 > nearSq || f1*f1 > nearSq {
					r0, r1 = mseCode(v, s0, qf), mseCode(v, s1, qf)
				}
			} else {
				r0, r1 = mseCode(v, s0, qf), mseCode(v, s1, qf)
			}
			d0 := v - s0*r0
			e0 += d0 * d0
			d1 := v - s1*r1
			e1 += d1 * d1
		}
		if e0 > limit && e1 > limit {
			return [2]float64{e0, e1}, false
		}
	}
	return [2]float64{e0, e1}, true
}

// mseCode is quantizeSym's code for v, s, q as a float64 (|v/s| < 2^51).
// Out of line: mseErr4 calls it rarely, and inlined it costs that loop
// registers.
//
//go:noinline
func mseCode(v, s, qf float64) float64 {
	r := rne(v / s)
	if r > qf {
		return qf
	}
	if r < -qf {
		return -qf
	}
	return r
}

// rneMagic is 1.5·2^52: for |x| < 2^51, x + rneMagic lands where the
// float64 spacing is 1, so the addition rounds x half to even.
const rneMagic = 1.5 * (1 << 52)

// rne is math.RoundToEven(x) for |x| < 2^51 (except that it may return +0
// for −0, which no caller tells apart: v − s·(±0) and int(±0) agree), without
// the call and CPU-feature test GOAMD64=v1 compiles RoundToEven to. The
// conversion stops the addition from fusing with a multiply producing x.
func rne(x float64) float64 {
	return (float64(x) + rneMagic) - rneMagic
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
	hist       []mseBin
	p0, p1, p2 []float64 // prefix sums over bins: count, Σ|v|, Σv²
	mark       []bool    // second round: boundary bins
	near       []mseNear // second round: the values in them
}

// mseNear is a weight magnitude and its bin.
type mseNear struct {
	a float64
	b int32
}

// mseBin is one histogram bin: count, Σ|v|, Σv² (one cache line's reach).
type mseBin struct {
	n      uint32
	s1, s2 float64
}

// mseCandidates returns, in ascending order, the candidates i whose exact
// error may be the smallest, or nil when the bounds are not usable.
//
// |w| is binned into nb equal bins over [0, max|w|] (nb ≈ k/4, a power of
// two in 256…1024, more if q needs them: every cell must span 8 bins)
// with each bin's count, Σ|v| and Σv². A value |v| in rounding cell m
// (|v|/s within ½ of m, or ≥ q − ½ for m = q) contributes (|v| − m·s)²,
// so a run of bins lying inside one cell contributes
// Σv² − 2ms·Σ|v| + n·(ms)², from prefix sums. Bins are assigned by
// fl(|v|·nb/max|w|) and each boundary B = (m+½)·s is located the same
// way, so a bin other than B's own lies on one side of B, but for values
// within a few ulps of B, whose error either way differs by far less than
// the slack. The first round brackets the error of the values in B's
// bin, each (s/2 − |v−B|)² with |v−B| ≤ hb (the bin's reach from B):
// their sum is n·(s/2)² + Σ(v−B)² − s·Σ|v−B| with |Σ(v−B)| ≤ Σ|v−B| ≤
// n·hb, and each term lies in [(s/2 − hb)², (s/2)²]. That usually leaves
// one candidate; else a second round gathers the values in the boundary
// bins of those left (one pass over w) and rounds them one by one, as
// quantizeSym does, which leaves only the slack. Floating-point error is
// bounded generously by 16·(k + nb)·2^−53 times the sum of the
// magnitudes involved (bins and runs are disjoint: their sums' rounding
// errors add up to at most (k + nb)·2^−53 times the totals; the formulas
// add a few ulps of their terms). A candidate whose lower bound exceeds
// another's upper bound cannot win, so the winner is among those returned
// — nearly always one, whose error then need not be summed at all. In the
// first round a candidate is dropped as soon as its partial lower bound
// (the clipping cell first) passes the best upper bound so far, every 8th
// candidate having been bracketed first.
func mseCandidates(w []float32, q int, maxAbs float64, scale func(int) float64) []int {
	nb := 256
	for nb < len(w)/4 && nb < 1024 {
		nb *= 2
	}
	// The smallest candidate cell, max|w|·0.208/q, must span 8 bins.
	for float64(nb)*0.208 < 8.5*float64(q) {
		nb *= 2
	}
	bw := maxAbs / float64(nb)
	for i := 0; i < mseScaleSteps; i++ {
		if scale(i) < 8*bw {
			return nil // cells too narrow for the bins to separate them
		}
	}
	buf := mseScratch.Get().(*mseBuf)
	defer mseScratch.Put(buf)
	grow := func(s []float64, n int) []float64 {
		if cap(s) < n {
			return make([]float64, n)
		}
		return s[:n]
	}
	p0, p1, p2 := grow(buf.p0, nb+1), grow(buf.p1, nb+1), grow(buf.p2, nb+1)
	buf.p0, buf.p1, buf.p2 = p0, p1, p2
	if cap(buf.hist) < nb {
		buf.hist = make([]mseBin, nb)
	}
	hist := buf.hist[:nb]
	clear(hist)
	inv := float64(nb) / maxAbs
	bin := func(a float64) int { return min(int(a*inv), nb-1) }
	if useQuantSIMD {
		// The bins from the AVX2 kernel, 256 weights at a time; the sums
		// still in index order.
		var bins [256]int32
		for i := 0; i < len(w); i += len(bins) {
			c := w[i:min(i+len(bins), len(w))]
			m := len(c) &^ 7
			if m > 0 {
				mseBinsAVX2(&c[0], m, inv, int32(nb-1), &bins[0])
			}
			for j := m; j < len(c); j++ {
				bins[j] = int32(bin(math.Abs(float64(c[j]))))
			}
			for j, x := range c {
				a := math.Abs(float64(x))
				h := &hist[bins[j]]
				h.n++
				h.s1 += a
				h.s2 += a * a
			}
		}
	} else {
		for _, x := range w {
			a := math.Abs(float64(x))
			h := &hist[bin(a)]
			h.n++
			h.s1 += a
			h.s2 += a * a
		}
	}
	var c0, c1, c2 float64 // running sums: no store-to-load round trip
	p0[0], p1[0], p2[0] = 0, 0, 0
	for b, h := range hist {
		c0 += float64(h.n)
		c1 += h.s1
		c2 += h.s2
		p0[b+1], p1[b+1], p2[b+1] = c0, c1, c2
	}
	k := float64(len(w))
	qf := float64(q)
	const u = 1.0 / (1 << 53)
	// bndBin is the bin of boundary m of scale s (errAt and the gathering
	// of the second round must agree on it).
	bndBin := func(m int, s float64) int { return int((float64(m) + 0.5) * s * inv) }
	near := buf.near[:0] // second round: |v| and bin of the gathered values
	// errAt brackets candidate i's error: the runs between boundary bins
	// from prefix sums, the boundary bins' values bounded or, when exact
	// is set, rounded one by one from near. With limit finite it may stop
	// early, returning a lower bound above limit and hi = +Inf.
	errAt := func(i int, exact bool, limit float64) (lo, hi float64) {
		s := scale(i)
		qs := qf * s
		slack := 16 * (k + float64(nb)) * u * (p2[nb] + 2*qs*p1[nb] + k*qs*qs)
		var sum, near0, near1 float64
		// The clipping cell first (it grows fastest with i): once the
		// terms so far — the others are ≥ 0, up to rounding, which the
		// slack covers — pass limit, the candidate is out.
		if f := bndBin(q-1, s) + 1; f < nb {
			n := p0[nb] - p0[f]
			s1 := p1[nb] - p1[f]
			s2 := p2[nb] - p2[f]
			sum += s2 - 2*qs*s1 + n*qs*qs
		}
		if sum-slack > limit {
			return sum - slack, math.Inf(1)
		}
		first := 0 // first bin of cell m's run
		for m := 0; m < q; m++ {
			bnd := bndBin(m, s)
			if last := min(bnd-1, nb-1); last >= first {
				ms := float64(m) * s
				n := p0[last+1] - p0[first]
				s1 := p1[last+1] - p1[first]
				s2 := p2[last+1] - p2[first]
				sum += s2 - 2*ms*s1 + n*ms*ms
			}
			if m > 0 && sum-slack+near0 > limit {
				return sum - slack + near0, math.Inf(1)
			}
			first = bnd + 1
			if exact {
				for _, e := range near {
					if e.b == int32(bnd) {
						r := math.RoundToEven(e.a / s)
						if r > qf {
							r = qf
						}
						d := e.a - s*r
						sum += d * d
					}
				}
				continue
			}
			// Bin bnd holds the boundary B = (m+½)·s; its n values a lie
			// within hb of B, each with error (s/2 − |a−B|)², so their sum
			// is n·(s/2)² + Σ(a−B)² − s·Σ|a−B|, Σ|a−B| in [|Σ(a−B)|, n·hb]
			// (and each term in [(s/2 − hb)², (s/2)²]).
			if n := p0[bnd+1] - p0[bnd]; n > 0 {
				b := (float64(m) + 0.5) * s
				s1 := p1[bnd+1] - p1[bnd]
				s2 := p2[bnd+1] - p2[bnd]
				hb := max(b-float64(bnd)*bw, float64(bnd+1)*bw-b) + 0.01*bw
				h2 := n * (s / 2) * (s / 2)
				dev := s2 - 2*b*s1 + n*b*b
				d := s/2 - hb
				l, h := h2+dev-s*n*hb, h2+dev-s*math.Abs(s1-n*b)
				if l < n*d*d { // (builtin min and max cost more: NaN rules)
					l = n * d * d
				}
				if h > h2 {
					h = h2
				}
				near0 += l
				near1 += h
			}
		}
		return sum - slack + near0, sum + slack + near1
	}
	var lo, hi [mseScaleSteps]float64
	// Every 8th candidate in full, then the others against the best upper
	// bound so far: one stopped early keeps a lower bound above it (and
	// hi = +Inf), which rules it out.
	limit := math.Inf(1)
	for i := 0; i < mseScaleSteps; i += 8 {
		lo[i], hi[i] = errAt(i, false, math.Inf(1))
		limit = min(limit, hi[i])
	}
	for i := 0; i < mseScaleSteps; i++ {
		if i%8 != 0 {
			lo[i], hi[i] = errAt(i, false, limit)
			if hi[i] < limit {
				limit = hi[i]
			}
		}
	}
	survivors := func() []int {
		best := math.Inf(1)
		for i := range hi {
			if hi[i] < best {
				best = hi[i]
			}
		}
		var maybe []int
		for i := range lo {
			if lo[i] <= best {
				maybe = append(maybe, i)
			}
		}
		return maybe
	}
	maybe := survivors()
	if len(maybe) <= 1 {
		return maybe
	}
	// Second round: gather the values in the boundary bins of the
	// candidates left, and bracket those candidates again with these
	// values rounded exactly.
	if cap(buf.mark) < nb {
		buf.mark = make([]bool, nb)
	}
	mark := buf.mark[:nb]
	for _, i := range maybe {
		s := scale(i)
		for m := 0; m < q; m++ {
			mark[bndBin(m, s)] = true
		}
	}
	for _, x := range w {
		a := math.Abs(float64(x))
		if b := bin(a); mark[b] {
			near = append(near, mseNear{a, int32(b)})
		}
	}
	clear(mark)
	buf.near = near
	for i := range lo {
		lo[i], hi[i] = math.Inf(1), math.Inf(1)
	}
	for _, i := range maybe {
		lo[i], hi[i] = errAt(i, true, math.Inf(1))
	}
	return survivors()
}

// QuantizeChannel quantizes one output channel's weights to [−q, q] with an
// MSE-chosen scale (q = 7 for INT4, 127 for INT8).
func QuantizeChannel(w []float32, q int) (codes []int8, scale float32) {
	scale = MSEScale(w, q)
	codes = make([]int8, len(w))
	quantizeCodes(codes, w, scale, q)
	return codes, scale
}

// quantizeCodes sets codes[i] = int8(quantizeSym(w[i], scale, q)). A
// weight below (q + 0.499)·scale in magnitude cannot clamp, and its code
// is rounded from v·(1/s) — the same as from v/s unless v·(1/s) lies
// within 1e-6 of a rounding boundary (see mseErrExact; here |v/s| < q +
// ½); the others, and those near a boundary, take quantizeSym.
func quantizeCodes(codes []int8, w []float32, scale float32, q int) {
	s := float64(scale)
	codes = codes[:len(w)]
	if !(s > 0) || math.IsInf(s, 0) || q < 1 || q > mseMaxQ {
		for i, v := range w {
			codes[i] = int8(quantizeSym(float64(v), s, q))
		}
		return
	}
	inv := 1 / s
	thr := (float64(q) + 0.499) * s
	i := 0
	// The AVX2 kernel takes blocks of 16 and stops at one holding a weight
	// for quantizeSym (near a boundary, or NaN), which the loop below
	// does; the tail too.
	for useQuantSIMD && len(w)-i >= 16 {
		n := (len(w) - i) &^ 15
		d := quantCodesAVX2(&codes[i], &w[i], n, inv, thr, float64(q), quantNearSq)
		i += d
		if d == n {
			break
		}
		quantCodesGo(codes[i:i+16], w[i:i+16], s, inv, thr, q)
		i += 16
	}
	quantCodesGo(codes[i:], w[i:], s, inv, thr, q)
}

// quantNearSq bounds (v·(1/s) − r)² for quantizeCodes' fast rounding.
const quantNearSq = 0.25 - 1e-6

// quantCodesGo is quantizeCodes' loop (positive finite s, inv = 1/s, thr
// = (q + 0.499)·s), and its kernel's reference.
func quantCodesGo(codes []int8, w []float32, s, inv, thr float64, q int) {
	codes = codes[:len(w)]
	for i, x := range w {
		v := float64(x)
		t := v * inv
		r := rne(t)
		if f := t - r; !(math.Abs(v) < thr) || f*f > quantNearSq {
			codes[i] = int8(quantizeSym(v, s, q))
			continue
		}
		codes[i] = int8(int(r))
	}
}

// TWN ternarizes one output channel (Li & Liu, Ternary Weight Networks):
// Δ = 0.7·mean|W|, t = sign(W)·[|W| > Δ], α = mean |W| over |W| > Δ.
// An all-zero channel gives t = 0, α = 0.
//
// Σ|W| and Σ|W| over |W| > Δ are defined as float64 sums in index order.
// When sumAbs shows every such sum exact, they are summed in any order
// (several accumulators, which a single running sum's latency would
// otherwise bound), and the threshold compares float32 bit patterns.
func TWN(w []float32) (t []int8, alpha, delta float32) {
	t = make([]int8, len(w))
	if len(w) == 0 {
		return t, 0, 0
	}
	sum, exact := sumAbs(w)
	if !exact {
		sum = 0
		for _, v := range w {
			sum += math.Abs(float64(v))
		}
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
	if exact {
		a, n = twnExact(w, t, d)
	} else {
		for i, v := range w {
			// Branch-free (about half the weights pass, at random): adding
			// 0·|w| leaves the sum bit for bit as adding only the passing
			// ones.
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
	}
	if n > 0 {
		a /= float64(n)
	}
	return t, float32(a), float32(d)
}

// sumAbs returns Σ float64(|v|) over w, and whether every float64 sum of a
// subset of those terms, in any order, is exact — and so equal to the sum
// in index order. Every |v| is an integer multiple of 2^L, 2^L the unit in
// the last place of the smallest nonzero |v| (2^−149 for subnormals): all
// partial sums, being ≤ the total, are then exact while the total is below
// 2^(L+53). (If the total is not, some partial sum reaches 2^(L+53), and
// rounding, monotone, keeps the computed total there too: the test below
// fails whenever exactness does.) NaN or infinite weights report false.
func sumAbs(w []float32) (sum float64, exact bool) {
	const absMask = 1<<31 - 1
	// m0, m1 track min(|v|'s bits − 1): zeros wrap to the maximum, so the
	// minimum comes from the smallest nonzero |v| (bits order as values).
	var s0, s1, s2, s3 float64
	m0, m1 := ^uint32(0), ^uint32(0)
	i := 0
	if useQuantSIMD && len(w) >= 16 {
		// The AVX2 kernel adds in another order. The flag does not depend
		// on the order (the argument above holds for any), nor does the
		// sum when the flag is set; when it is clear TWN sums again in
		// index order.
		i = len(w) &^ 15
		s0, m0 = sumAbsAVX2(&w[0], i)
	}
	for ; i+4 <= len(w); i += 4 {
		b0 := math.Float32bits(w[i]) & absMask
		b1 := math.Float32bits(w[i+1]) & absMask
		b2 := math.Float32bits(w[i+2]) & absMask
		b3 := math.Float32bits(w[i+3]) & absMask
		s0 += float64(math.Float32frombits(b0))
		s1 += float64(math.Float32frombits(b1))
		s2 += float64(math.Float32frombits(b2))
		s3 += float64(math.Float32frombits(b3))
		m0 = min(m0, b0-1, b1-1)
		m1 = min(m1, b2-1, b3-1)
	}
	for ; i < len(w); i++ {
		b := math.Float32bits(w[i]) & absMask
		s0 += float64(math.Float32frombits(b))
		m0 = min(m0, b-1)
	}
	sum = (s0 + s1) + (s2 + s3)
	m := min(m0, m1) + 1    // the smallest nonzero |v|'s bits (0: all zero)
	e := int(max(m>>23, 1)) // biased exponent; subnormals share 1's spacing
	return sum, sum < math.Ldexp(1, e-150+53)
}

// twnExact is TWN's second pass when sumAbs reported exact sums: it sets
// t and returns Σ|v| over |v| > d and the count. For float32 |v| and float64
// d ≥ 0, |v| > d exactly when |v| exceeds the largest float32 ≤ d, which
// for non-negative floats is an integer comparison of the bit patterns.
func twnExact(w []float32, t []int8, d float64) (a float64, n int) {
	const absMask = 1<<31 - 1
	dd := float32(d)
	if float64(dd) > d {
		dd = math.Nextafter32(dd, 0)
	}
	db := math.Float32bits(dd)
	t = t[:len(w)]
	// code returns b's code and 1 when |b| > d, else 0 and 0 (the
	// float32 whose bits give the term: |b| or +0).
	code := func(b uint32) (c int8, in, term uint32) {
		ab := b & absMask
		in = (db - ab) >> 31 // 1 when ab > db
		return int8(((int32(b) >> 31) | 1) & -int32(in)), in, ab & -in
	}
	var a0, a1, a2, a3 float64
	var cnt uint32
	i := 0
	if useQuantSIMD && len(w) >= 16 {
		// The AVX2 kernel sums in another order: the same sum, as TWN
		// calls twnExact only when sumAbs showed every such sum exact.
		i = len(w) &^ 15
		a0, cnt = twnAVX2(&w[0], &t[0], i, db)
	}
	for ; i+4 <= len(w); i += 4 {
		c0, n0, x0 := code(math.Float32bits(w[i]))
		c1, n1, x1 := code(math.Float32bits(w[i+1]))
		c2, n2, x2 := code(math.Float32bits(w[i+2]))
		c3, n3, x3 := code(math.Float32bits(w[i+3]))
		a0 += float64(math.Float32frombits(x0))
		a1 += float64(math.Float32frombits(x1))
		a2 += float64(math.Float32frombits(x2))
		a3 += float64(math.Float32frombits(x3))
		cnt += n0 + n1 + n2 + n3
		t[i], t[i+1], t[i+2], t[i+3] = c0, c1, c2, c3
	}
	for ; i < len(w); i++ {
		c, n, x := code(math.Float32bits(w[i]))
		a0 += float64(math.Float32frombits(x))
		cnt += n
		t[i] = c
	}
	return (a0 + a1) + (a2 + a3), int(cnt)
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
	t = t[:len(w)]
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
