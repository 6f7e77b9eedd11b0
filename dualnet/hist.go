package dualnet

import (
	"math"
)

// Hist is a histogram of one activation tensor's values over calibration
// data. Bins are logarithmic and data-independent: a positive float32 v
// falls in bin (bits(v)>>18) − histKeyLo, i.e. 32 bins per octave keyed by
// the exponent and the top five mantissa bits, covering 2^−40 .. 2^41
// (values outside are clamped into the end bins). Negative values go to Neg
// by |v|, exact zeros to Zero. Fixed bins make histograms of different
// images mergeable by adding integer counts, so calibration is
// deterministic whatever the order in which workers finish.
type Hist struct {
	Pos, Neg []uint64
	Zero     uint64
	N        uint64
	Min, Max float32
}

const (
	histKeyLo = (127 - 40) << 5
	histKeyHi = (127 + 41) << 5
	histBins  = histKeyHi - histKeyLo
)

// NewHist returns an empty histogram.
func NewHist() *Hist {
	return &Hist{Pos: make([]uint64, histBins), Neg: make([]uint64, histBins), Min: float32(math.Inf(1)), Max: float32(math.Inf(-1))}
}

func histBin(a float32) int {
	k := int(math.Float32bits(a)>>18) - histKeyLo
	if k < 0 {
		return 0
	}
	if k >= histBins {
		return histBins - 1
	}
	return k
}

// binEdges returns the value range [lo, hi) of bin i.
func binEdges(i int) (lo, hi float64) {
	return float64(math.Float32frombits(uint32(i+histKeyLo) << 18)), float64(math.Float32frombits(uint32(i+histKeyLo+1) << 18))
}

// Add records values; NaNs are ignored.
func (h *Hist) Add(xs []float32) {
	if len(xs) >= addTableMin {
		h.addTable(xs)
		return
	}
	h.addSlow(xs)
}

func (h *Hist) addSlow(xs []float32) {
	for _, v := range xs {
		switch {
		case v > 0:
			h.Pos[histBin(v)]++
		case v < 0:
			h.Neg[histBin(-v)]++
		case v == 0:
			h.Zero++
		default:
			continue
		}
		h.N++
		if v < h.Min {
			h.Min = v
		}
		if v > h.Max {
			h.Max = v
		}
	}
}

// addTableMin is the length from which Add counts into a local table
// indexed by sign and raw key (no sign or zero branches, no clamping in the
// loop) and folds it into the bins afterwards; the counts are the same.
const addTableMin = 1 << 12

func (h *Hist) addTable(xs []float32) {
	// t[s<<13 | key] counts values of sign s whose |v| has bits a, key =
	// a>>18 (≤ 0x1fe0 for non-NaN a). Key 0 mixes exact zeros with the
	// tiny subnormals below 2^18 ulps; those are counted apart in den.
	var t [2 << 13]uint32
	var den [2]uint64
	var nan uint64
	mn, mx := h.Min, h.Max
	for _, v := range xs {
		b := math.Float32bits(v)
		a := b &^ (1 << 31)
		if a > 0x7f800000 {
			nan++
			continue
		}
		sg := b >> 31
		t[sg<<13|a>>18]++
		if a-1 < 1<<18-1 {
			den[sg]++
		}
		if v < mn {
			mn = v
		}
		if v > mx {
			mx = v
		}
	}
	h.Min, h.Max = mn, mx
	h.N += uint64(len(xs)) - nan
	for sg, bins := range [2][]uint64{h.Pos, h.Neg} {
		row := t[sg<<13 : (sg+1)<<13]
		h.Zero += uint64(row[0]) - den[sg]
		bins[0] += den[sg]
		for key := 1; key < len(row); key++ {
			c := row[key]
			if c == 0 {
				continue
			}
			k := key - histKeyLo
			if k < 0 {
				k = 0
			} else if k >= histBins {
				k = histBins - 1
			}
			bins[k] += uint64(c)
		}
	}
}

// AddWeighted records value v with count c.
func (h *Hist) AddWeighted(v float32, c uint64) {
	switch {
	case v > 0:
		h.Pos[histBin(v)] += c
	case v < 0:
		h.Neg[histBin(-v)] += c
	case v == 0:
		h.Zero += c
	default:
		return
	}
	h.N += c
	h.Min = min(h.Min, v)
	h.Max = max(h.Max, v)
}

// Merge adds o's counts to h.
func (h *Hist) Merge(o *Hist) {
	for i := range h.Pos {
		h.Pos[i] += o.Pos[i]
		h.Neg[i] += o.Neg[i]
	}
	h.Zero += o.Zero
	h.N += o.N
	h.Min = min(h.Min, o.Min)
	h.Max = max(h.Max, o.Max)
}

// MaxAbs is the largest magnitude seen (0 for an empty histogram).
func (h *Hist) MaxAbs() float64 {
	if h.N == 0 {
		return 0
	}
	return math.Max(math.Abs(float64(h.Max)), math.Abs(float64(h.Min)))
}

// Signed reports whether negative values were seen.
func (h *Hist) Signed() bool { return h.N > 0 && h.Min < 0 }

// binErrRecip is the expected squared error of quantizing a value
// uniformly spread over [lo, hi) with step s and largest level q·s, by a
// four-point quadrature: the plain form (binErr, in the tests, which this
// must match bit for bit) with v/s formed as v·inv (inv = 1/s) wherever
// that provably rounds alike: v·inv and the quotient differ by a few
// units in the last place (~1e-15 relative; |v/s| stays below ~2^16 here),
// so when v·inv is more than 1e-7 from a half-integer both round to the
// same code; nearer (or infinite), it divides as binErr does. The sums are
// binErr's, term for term, so the result has the same bits.
func binErrRecip(lo, hi, s, inv float64, q int) float64 {
	lim := float64(q) * s
	if lo >= lim {
		d := (lo+hi)/2 - lim
		return d*d + (hi-lo)*(hi-lo)/12
	}
	if hi-lo >= s && hi <= lim {
		return s * s / 12
	}
	qf := float64(q)
	e := 0.0
	for j := 0; j < 4; j++ {
		v := lo + (float64(j)+0.5)/4*(hi-lo)
		x := v * inv
		t := math.Round(x)
		if d := x - t; !(d < 0.4999999 && d > -0.4999999) {
			t = math.Round(v / s)
		}
		if t > qf { // t is not NaN: v is finite, s > 0
			t = qf
		}
		r := t * s
		e += (v - r) * (v - r)
	}
	return e / 4
}

// actScaleSteps and actScaleRatio define the activation-scale search grid:
// s_i = maxAbs/qpos · 0.98^i, i = 0..149 (down to about 5% of the range).
const (
	actScaleSteps = 150
	actScaleRatio = 0.98
)

// MSEScale returns the activation scale minimising the expected squared
// quantization error (rounding plus clipping) of the recorded values for
// codes of the given width: unsigned [0, 2^b−1] or signed [−2^(b−1),
// 2^(b−1)−1]. The first (largest) minimum of the grid wins.
func (h *Hist) MSEScale(bits int, signed bool) float32 {
	lo, hi := codeRange(bits, signed)
	qp, qn := int(hi), int(-lo)
	m := h.MaxAbs()
	if m == 0 {
		return 1
	}
	top := float64(h.Max)
	if signed && -float64(h.Min) > top {
		top = -float64(h.Min)
	}
	best, bestErr := m/float64(qp), math.Inf(1)
	// The occupied bins with their clipped edges, in the order the error
	// is summed (Pos ascending, then Neg ascending); they do not depend on
	// the candidate scale.
	type bin struct {
		l, u, c float64
		neg     bool
		z       float64 // binErrRecip(l, u, s, 1/s, q) for any s with every point rounding to 0
	}
	// zeroErr is binErr's four-point sum when every point rounds to code
	// 0 (then v − r is v exactly): the same operations in the same order,
	// so the same bits, without a division per point and candidate.
	zeroErr := func(l, u float64) float64 {
		e := 0.0
		for j := 0; j < 4; j++ {
			v := l + (float64(j)+0.5)/4*(u-l)
			e += v * v
		}
		return e / 4
	}
	var bins []bin
	for b, c := range h.Pos {
		if c == 0 {
			continue
		}
		l, u := binEdges(b)
		u = math.Min(u, math.Max(l, float64(h.Max)))
		bins = append(bins, bin{l, u, float64(c), false, zeroErr(l, u)})
	}
	for b, c := range h.Neg {
		if c == 0 {
			continue
		}
		l, u := binEdges(b)
		u = math.Min(u, math.Max(l, -float64(h.Min)))
		bins = append(bins, bin{l, u, float64(c), true, zeroErr(l, u)})
	}
	s := m / float64(qp)
	for i := 0; i < actScaleSteps; i++ {
		// Every term is ≥ 0, so once the running sum reaches bestErr this
		// candidate cannot win: it is abandoned, with the same result.
		e := 0.0
		// Below zeroBelow every point of a bin rounds to 0 (v/s < 0.5 with
		// room for the division's rounding) and no branch of binErr before
		// its four-point sum applies (u − l < s, u < q·s).
		zeroBelow := 0.499 * s
		inv := 1 / s
		for _, b := range bins {
			l, u := b.l, b.u
			switch {
			case b.neg && qn == 0:
				e += b.c * ((l+u)/2*(l+u)/2 + (u-l)*(u-l)/12)
			case u < zeroBelow:
				e += b.c * b.z
			case !b.neg:
				e += b.c * binErrRecip(l, u, s, inv, qp)
			default:
				e += b.c * binErrRecip(l, u, s, inv, qn)
			}
			if e >= bestErr {
				break
			}
		}
		if e < bestErr {
			best, bestErr = s, e
		}
		s *= actScaleRatio
	}
	return float32(best)
}

// PercentileScale returns the scale whose largest code covers the given
// percentile (e.g. 99.99) of |x|.
func (h *Hist) PercentileScale(bits int, signed bool, pct float64) float32 {
	_, hi := codeRange(bits, signed)
	if h.N == 0 {
		return 1
	}
	target := uint64(math.Ceil(float64(h.N) * pct / 100))
	acc := h.Zero
	for b := 0; b < histBins; b++ {
		acc += h.Pos[b] + h.Neg[b]
		if acc >= target {
			_, u := binEdges(b)
			u = math.Min(u, h.MaxAbs())
			if u <= 0 {
				return 1
			}
			return float32(u / float64(hi))
		}
	}
	return float32(h.MaxAbs() / float64(hi))
}

// ThresholdFit chooses the TB path's binarization of codes x = round(v/s):
// b = [x ≥ τ], approximating v by β·b. For each τ in 1..qmax it computes
// β = E[v | code ≥ τ] and the squared error Σ(v − β·b)² from the bins (a bin
// is assigned by its midpoint), and returns the τ with the least error and
// its β.
func (h *Hist) ThresholdFit(s float64, qmax int) (tau int, beta float64) {
	tau, beta = 1, s
	bestErr := math.Inf(1)
	type bin struct{ mid, c float64 }
	var bins []bin
	for b, c := range h.Pos {
		if c == 0 {
			continue
		}
		l, u := binEdges(b)
		u = math.Min(u, math.Max(l, float64(h.Max)))
		bins = append(bins, bin{(l + u) / 2, float64(c)})
	}
	for t := 1; t <= qmax; t++ {
		th := (float64(t) - 0.5) * s
		var n, sum, sq, below float64
		for _, b := range bins {
			if b.mid >= th {
				n += b.c
				sum += b.c * b.mid
				sq += b.c * b.mid * b.mid
			} else {
				below += b.c * b.mid * b.mid
			}
		}
		if n == 0 {
			break
		}
		bt := sum / n
		e := below + sq - 2*bt*sum + bt*bt*n
		if e < bestErr {
			tau, beta, bestErr = t, bt, e
		}
	}
	return tau, beta
}
