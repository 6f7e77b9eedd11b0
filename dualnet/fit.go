package dualnet

import (
	"math"
	"sort"

	"pimc/hw"
	"pimc/ir"
)

// fitPixels caps the output positions per image a conv layer's fit uses
// (a fixed stride through the output map).
const fitPixels = 64

// fit measures, on the calibration fit samples, each layer's float output
// y_c = W_c·x and its quantized accumulator z_c (exact integer arithmetic,
// no ADC effects) and then
//   - for TB channels, replaces the TWN scale α_c·β by the least-squares
//     γ_c = cov(z, y) / var(z) when that is positive (QuantOptions.NoFit
//     turns this off);
//   - for every channel, adds the mean residual E[y] − γ_c·E[z] to the
//     bias (bias correction; QuantOptions.NoBiasCorrection turns it off).
//
// The sums come from the calibration's fit cache (qcache.go), measured
// once per layer for both paths of every channel. Samples are processed in
// order and each layer's sums are accumulated by one goroutine, so the
// result is deterministic.
func (l *lowering) fit() error {
	if (l.o.NoFit && l.o.NoBiasCorrection) || len(l.cal.Fit) == 0 {
		return nil
	}
	var plans []*layerPlan
	for _, p := range l.layers {
		plans = append(plans, p)
	}
	sort.Slice(plans, func(i, j int) bool { return l.index[plans[i].n] < l.index[plans[j].n] })
	entries, err := l.fitStats(plans)
	if err != nil {
		return err
	}
	for i, p := range plans {
		e := entries[i]
		// Shared with the cache: read only.
		p.floatSum, p.floatSq, p.floatN = e.floatSum, e.floatSq, e.floatN
		kind, _ := p.channelCodes()
		for ch := 0; ch < p.c; ch++ {
			st := e.stat(kind[ch], ch)
			if st.n == 0 {
				continue
			}
			mz, my := st.sz/st.n, st.sy/st.n
			vz := st.szz/st.n - mz*mz
			cov := st.szy/st.n - mz*my
			g := p.accScale[ch]
			if kind[ch] == 't' && !l.o.NoFit && vz > 1e-12 && cov > 0 {
				g = cov / vz
				p.accScale[ch] = g
			}
			if !l.o.NoBiasCorrection {
				p.bias[ch] += my - g*mz
			}
		}
	}
	return nil
}

func (st *lsStat) add(z int64, y float64) {
	zf := float64(z)
	st.n++
	st.sz += zf
	st.sy += y
	st.szz += zf * zf
	st.szy += zf * y
}

// accumulateAll adds one sample's statistics for every output channel to
// e: against the INT8 codes (p.w8) for INT8 layers, else against both the
// INT4 codes c4 and the ternary codes ct of every channel.
func (p *layerPlan) accumulateAll(x *ir.Tensor, e *fitEntry, c4, ct [][]int8) {
	lo, hi := codeRange(p.in.bits, p.in.signed)
	tau := int64(p.tau)
	xf := make([]float32, p.k)
	xa := make([]int64, p.k)
	xb := make([]int64, p.k)
	dot := func(codes []int8, src []int64) int64 {
		var z int64
		for i, c := range codes {
			z += int64(c) * src[i]
		}
		return z
	}
	use := func() {
		for i, v := range xf {
			a := QuantizeValue(v, p.in.scale, lo, hi)
			xa[i] = a
			xb[i] = 0
			if a >= tau {
				xb[i] = 1
			}
		}
		for ch := 0; ch < p.c; ch++ {
			w := p.w[ch*p.k : (ch+1)*p.k]
			y := 0.0
			for i, v := range xf {
				y += float64(w[i]) * float64(v)
			}
			if p.w8 != nil {
				e.st8[ch].add(dot(p.w8[ch], xa), y)
				continue
			}
			e.st4[ch].add(dot(c4[ch], xa), y)
			e.stT[ch].add(dot(ct[ch], xb), y)
		}
	}
	p.fitWindows(x, xf, use)
}

// accumulateOut adds one sample's float layer output (pre-activation,
// bias included) to the per-channel sums.
func (e *fitEntry) accumulateOut(y *ir.Tensor, c int) {
	e.floatN += channelMoments(y, c, e.floatSum, e.floatSq)
}

// channelMoments adds each channel's sum and sum of squares of y (N, c,
// ...) to sum and sq, in memory order, and returns the values counted per
// channel (0 for a nil y).
func channelMoments(y *ir.Tensor, c int, sum, sq []float64) float64 {
	if y == nil {
		return 0
	}
	n := int(y.Shape[0])
	per := int(y.Len()) / (n * c)
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			s, q := 0.0, 0.0
			for _, v := range y.F[(b*c+ch)*per : (b*c+ch+1)*per] {
				s += float64(v)
				q += float64(v) * float64(v)
			}
			sum[ch] += s
			sq[ch] += q
		}
	}
	return float64(n * per)
}

// seqCorrect is the second, sequential correction ("moment matching"):
// layer by layer in graph order, the quantized network (exact ADC) runs on
// the fit samples, and each INT4/INT8 channel's multiplier M and offset B
// are rescaled so that the mean and standard deviation of its
// pre-activation match the float network's (scale factor clamped to
// [0.5, 2]). Running on the quantized network's own inputs, it absorbs the
// error of the layers before, notably the attenuation that clipping 4-bit
// inputs causes; matching the mean alone moves the bias the wrong way when
// the scale is off (SqueezeNet: −8 points). Deterministic: runs are
// sequential and sums are in sample order.
//
// Layer k's statistics depend only on the layers before it, so the fit
// samples advance through the network once (tapRun): each corrected layer
// runs with the tap and, when its table changed, again with the corrected
// table, instead of the whole network running once per layer. The sums are
// the ones a full run per layer would take, in the same order.
func (l *lowering) seqCorrect() error {
	if l.o.NoBiasCorrection || len(l.cal.Fit) == 0 {
		return nil
	}
	var plans []*layerPlan
	for _, p := range l.layers {
		if p.emitted != nil && p.floatN > 0 {
			plans = append(plans, p)
		}
	}
	if len(plans) == 0 {
		return nil
	}
	sort.Slice(plans, func(i, j int) bool { return l.index[plans[i].n] < l.index[plans[j].n] })
	inputs := make([][]*ir.Tensor, len(l.cal.Fit))
	for i, s := range l.cal.Fit {
		inputs[i] = []*ir.Tensor{s}
	}
	ideal := hw.Default()
	ideal.SRAM.ADCIdeal, ideal.EDRAM.ADCIdeal = true, true
	tr, err := newTapRun(l.m, ideal, inputs)
	if err != nil {
		return err
	}
	for _, p := range plans {
		i := tr.stepOf(p.emitted.Name)
		if i < 0 {
			continue
		}
		if err := tr.advance(i); err != nil {
			return err
		}
		mq, ok, err := tr.tap(i, p.emitted.Name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		changed := false
		rqIn := 2
		if p.emitted.Op == ir.OpDualConv || p.emitted.Op == ir.OpDualGemm {
			rqIn = 3
		}
		rq := p.emitted.In(rqIn).Const
		kind, _ := p.channelCodes()
		so := float64(p.out.scale)
		for c := 0; c < p.c; c++ {
			if kind[c] == 't' {
				// Measured on ResNet-20 at r = 0.5: matching the TB
				// channels' means too drops top-1 from 44% to 21% (their
				// noise dominates, not their offset or scale); they keep
				// the local least-squares fit.
				continue
			}
			mf := p.floatSum[c] / p.floatN / so
			vf := p.floatSq[c]/p.floatN/(so*so) - mf*mf
			m, v := mq[0][c], mq[1][c]-mq[0][c]*mq[0][c]
			// Match mean and standard deviation: y ≈ a·ŷ + b.
			a := 1.0
			if v > 1e-9 && vf > 1e-9 {
				a = math.Min(2, math.Max(0.5, math.Sqrt(vf/v)))
			}
			row := rq.I[c*4 : c*4+4]
			p2 := math.Ldexp(1, int(row[2]))
			nm := math.Round(a * float64(row[0]))
			nb := math.Round(a*float64(row[1]) + (mf-a*m)*p2)
			if math.Abs(nm) > maxMult {
				continue
			}
			bound := p.accMax[c]*math.Abs(nm) + p.resMax*math.Abs(float64(row[3])) + math.Abs(nb) + p2
			if bound <= math.Ldexp(1, 62) {
				changed = changed || row[0] != int64(nm) || row[1] != int64(nb)
				row[0], row[1] = int64(nm), int64(nb)
			}
		}
		if changed {
			if err := tr.recompile(i, p.emitted); err != nil {
				return err
			}
		}
	}
	return nil
}

// fitWindows fills xf with each sampled input vector of x the fits use (a
// Gemm's rows; a conv's windows at every step-th output pixel, zero in
// the padding, in (c, ky, kx) order) and calls use after each one.
func (p *layerPlan) fitWindows(x *ir.Tensor, xf []float32, use func()) {
	if !p.conv {
		rows := int(x.Shape[0])
		for r := 0; r < rows; r++ {
			copy(xf, x.F[r*p.k:(r+1)*p.k])
			use()
		}
		return
	}
	n := p.n
	if n.Int("group", 1) != 1 {
		return
	}
	xs := x.Shape
	ws := n.In(1).Type.Shape
	geo, err := ir.ResolveConv(n, xs[2:], ws[2:], false)
	if err != nil {
		return
	}
	cin, h, w := int(xs[1]), int(xs[2]), int(xs[3])
	kh, kw := int(ws[2]), int(ws[3])
	oh, ow := int(geo.Out[0]), int(geo.Out[1])
	step := max(1, oh*ow/fitPixels)
	for b := 0; b < int(xs[0]); b++ {
		img := x.F[b*cin*h*w : (b+1)*cin*h*w]
		for pix := 0; pix < oh*ow; pix += step {
			oy, ox := pix/ow, pix%ow
			i := 0
			for c := 0; c < cin; c++ {
				for ky := 0; ky < kh; ky++ {
					iy := oy*int(geo.Strides[0]) - int(geo.Pads[0]) + ky*int(geo.Dilations[0])
					for kx := 0; kx < kw; kx++ {
						ix := ox*int(geo.Strides[1]) - int(geo.Pads[1]) + kx*int(geo.Dilations[1])
						v := float32(0)
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							v = img[(c*h+iy)*w+ix]
						}
						xf[i] = v
						i++
					}
				}
			}
			use()
		}
	}
}
