package dualnet

import (
	"math"
	"testing"

	"pimc/hw"
	"pimc/interp"
	"pimc/ir"
)

// refRun is a deliberately naive interpreter of the quantized IR written
// straight from docs/quantization.md: accumulators are formed bit plane by
// bit plane and tile by tile exactly as the ADC rule states (no packing, no
// shortcut), requantization by explicit floor division. The optimized
// executor must agree with it bit for bit.
func refRun(t *testing.T, m *ir.Module, inputs []*ir.Tensor, sram, edram ADC) []*ir.Tensor {
	t.Helper()
	env := refEnv(t, m, inputs, sram, edram)
	var outs []*ir.Tensor
	for _, o := range m.Graph.Outputs {
		outs = append(outs, env[o])
	}
	return outs
}

// refEnv is refRun returning every value.
func refEnv(t *testing.T, m *ir.Module, inputs []*ir.Tensor, sram, edram ADC) map[*ir.Value]*ir.Tensor {
	t.Helper()
	env := map[*ir.Value]*ir.Tensor{}
	for i, v := range m.Graph.Inputs {
		env[v] = inputs[i]
	}
	for _, v := range m.Graph.Consts {
		env[v] = v.Const
	}
	for _, n := range m.Graph.Nodes {
		in := make([]*ir.Tensor, len(n.Inputs))
		for i, v := range n.Inputs {
			if v != nil {
				in[i] = env[v]
			}
		}
		y := ir.NewTensor(n.Out(0).Type.DType, n.Out(0).Type.Shape...)
		lo, hi := codeRange(int(n.Int("out_bits", 8)), n.Int("out_signed", 0) != 0)
		if n.Int("relu", 0) != 0 {
			lo = max(lo, 0)
		}
		sat := func(v int64) int64 { return min(max(v, lo), hi) }
		switch n.Op {
		case ir.OpQuantizeInput:
			l, h := codeRange(int(n.Int("bits", 0)), n.Int("signed", 0) != 0)
			for i, v := range in[0].F {
				r := math.RoundToEven(float64(v) / float64(n.Float("scale", 0)))
				y.I[i] = int64(math.Min(math.Max(r, float64(l)), float64(h)))
			}
		case ir.OpDequantize:
			for i, v := range in[0].I {
				y.F[i] = float32(v) * n.Float("scale", 0)
			}
		case ir.OpQConv, ir.OpDualConv, ir.OpQGemm, ir.OpDualGemm:
			refLayer(n, in, y, sram, edram, sat)
		case ir.OpQAdd:
			for i := range y.I {
				y.I[i] = sat(floorShift(in[0].I[i]*n.Int("mult_a", 0)+in[1].I[i]*n.Int("mult_b", 0), n.Int("shift", 0)))
			}
		case ir.OpQRescale:
			for i := range y.I {
				y.I[i] = sat(floorShift(in[0].I[i]*n.Int("mult", 0), n.Int("shift", 0)))
			}
		case ir.OpQRelu:
			for i, v := range in[0].I {
				y.I[i] = max(v, 0)
			}
		case ir.OpQGlobalAvgPool:
			hw := int(ir.NumElems(in[0].Shape[2:]))
			for c := range y.I {
				var s int64
				for _, v := range in[0].I[c*hw : (c+1)*hw] {
					s += v
				}
				y.I[c] = sat(floorShift(s*n.Int("mult", 0), n.Int("shift", 0)))
			}
		case ir.OpQMaxPool, ir.OpQAvgPool:
			refPool(n, in[0], y, sat)
		case ir.OpFlatten, ir.OpReshape:
			copy(y.I, in[0].I)
		default:
			out, err := interp.EvalNode(n, in)
			if err != nil {
				t.Fatal(err)
			}
			y = out[0]
		}
		env[n.Out(0)] = y
	}
	return env
}

// checkAllCodes runs the executor on one input and compares every integer
// tensor it forms with the reference's (the network's output alone can
// hide differences: a small random network's logits may not depend on
// its input at all).
func checkAllCodes(t *testing.T, e *Executor, m *ir.Module, in *ir.Tensor, sram, edram ADC) {
	t.Helper()
	env := refEnv(t, m, []*ir.Tensor{in}, sram, edram)
	st := e.newState()
	st.floats[e.ins[0]] = in
	for _, s := range e.steps {
		if err := s.run(st); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for v, i := range e.ids {
		sl := e.slots[i]
		want, ok := env[v]
		if sl.kind != slotCode || !ok {
			continue
		}
		got := st.codes[sl.store][:sl.size]
		for k, w := range want.I {
			if int64(got[k]) != w {
				t.Fatalf("%s[%d]: executor %d, reference %d", v.Name, k, got[k], w)
			}
		}
		n++
	}
	if n == 0 {
		t.Fatal("no integer tensors compared")
	}
}

// floorShift is ⌊(v + 2^(s−1)) / 2^s⌋ by division, not by shifting.
func floorShift(v, s int64) int64 {
	if s == 0 {
		return v
	}
	d := int64(1) << s
	q := (v + d/2) / d
	if (v+d/2)%d < 0 {
		q--
	}
	return q
}

func bit(v int64, i, width int) int64 { return (v & (1<<width - 1)) >> i & 1 }

func refLayer(n *ir.Node, in []*ir.Tensor, y *ir.Tensor, sram, edram ADC, sat func(int64) int64) {
	dual := n.Op == ir.OpDualConv || n.Op == ir.OpDualGemm
	gemm := n.Op == ir.OpQGemm || n.Op == ir.OpDualGemm
	x := in[0]
	var rq, res *ir.Tensor
	kind := map[int]byte{}
	wrow := map[int][]int64{}
	var k int
	if dual {
		w4, wt, ch := in[1], in[2], in[4]
		rq = in[3]
		if len(in) > 5 {
			res = in[5]
		}
		k = int(w4.Shape[1])
		if !gemm {
			k = int(ir.NumElems(w4.Shape[1:]))
		}
		w4i, wti := w4.Ints(), wt.Ints()
		for i := 0; i < int(w4.Shape[0]); i++ {
			kind[int(ch.I[i])], wrow[int(ch.I[i])] = '4', w4i[i*k:(i+1)*k]
		}
		for i := 0; i < int(wt.Shape[0]); i++ {
			c := int(ch.I[int(w4.Shape[0])+i])
			kind[c], wrow[c] = 't', wti[i*k:(i+1)*k]
		}
	} else {
		w := in[1]
		rq = in[2]
		if len(in) > 3 {
			res = in[3]
		}
		k = int(ir.NumElems(w.Shape[1:]))
		wi := w.Ints()
		for c := 0; c < int(w.Shape[0]); c++ {
			kind[c], wrow[c] = '8', wi[c*k:(c+1)*k]
		}
	}
	xbits := int(n.Int("x_bits", 8))
	signed := x.DType == ir.Int8 || x.DType == ir.Int16
	tau := n.Int("tb_threshold", 1)
	cout := int(rq.Shape[0])
	// window(b, c, p) returns the im2col vector of output position p.
	var window func(b, p int) []int64
	var P int
	if gemm {
		P = 1
		window = func(b, _ int) []int64 { return x.I[b*k : (b+1)*k] }
	} else {
		xs := x.Shape
		geo, _ := ir.ResolveConv(n, xs[2:], n.IntList("kernel_shape", nil), false)
		kh, kw := int(n.IntList("kernel_shape", nil)[0]), int(n.IntList("kernel_shape", nil)[1])
		cin, h, w := int(xs[1]), int(xs[2]), int(xs[3])
		ow := int(geo.Out[1])
		P = int(geo.Out[0]) * ow
		window = func(b, p int) []int64 {
			oy, ox := p/ow, p%ow
			v := make([]int64, 0, k)
			for ky := 0; ky < kh; ky++ {
				for kx := 0; kx < kw; kx++ {
					for c := 0; c < cin; c++ {
						iy := oy*int(geo.Strides[0]) - int(geo.Pads[0]) + ky*int(geo.Dilations[0])
						ix := ox*int(geo.Strides[1]) - int(geo.Pads[1]) + kx*int(geo.Dilations[1])
						var code int64
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							code = x.I[((b*cin+c)*h+iy)*w+ix]
						}
						v = append(v, code)
					}
				}
			}
			return v
		}
	}
	if !gemm {
		// Canonical row order (ky, kx, c) for weights too.
		ks := n.IntList("kernel_shape", nil)
		kh, kw := int(ks[0]), int(ks[1])
		cg := k / (kh * kw)
		for c, w := range wrow {
			p := make([]int64, k)
			for ci := 0; ci < cg; ci++ {
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						p[(ky*kw+kx)*cg+ci] = w[(ci*kh+ky)*kw+kx]
					}
				}
			}
			wrow[c] = p
		}
	}
	batch := int(x.Shape[0])
	for b := 0; b < batch; b++ {
		for p := 0; p < P; p++ {
			xv := window(b, p)
			for c := 0; c < cout; c++ {
				w := wrow[c]
				var acc int64
				switch kind[c] {
				case 't':
					for t0 := 0; t0 < k; t0 += edram.Rows {
						var pp, pm int64
						for j := t0; j < min(t0+edram.Rows, k); j++ {
							if xv[j] >= tau {
								pp += b2i(w[j] == 1)
								pm += b2i(w[j] == -1)
							}
						}
						if !edram.Ideal {
							pp, pm = min(pp, int64(edram.Sat())), min(pm, int64(edram.Sat()))
						}
						acc += pp - pm
					}
				default:
					wbits := 4
					if kind[c] == '8' {
						wbits = 8
					}
					for t0 := 0; t0 < k; t0 += sram.Rows {
						for i := 0; i < xbits; i++ {
							for jb := 0; jb < wbits; jb++ {
								var cnt int64
								for j := t0; j < min(t0+sram.Rows, k); j++ {
									cnt += bit(xv[j], i, xbits) * bit(w[j], jb, wbits)
								}
								if !sram.Ideal {
									cnt = min(cnt, int64(sram.Sat()))
								}
								wt := int64(1) << (i + jb)
								if jb == wbits-1 {
									wt = -wt
								}
								if signed && i == xbits-1 {
									wt = -wt
								}
								acc += wt * cnt
							}
						}
					}
				}
				r := rq.I[c*4 : c*4+4]
				v := acc*r[0] + r[1]
				if res != nil {
					v += res.I[(b*cout+c)*P+p] * r[3]
				}
				y.I[(b*cout+c)*P+p] = sat(floorShift(v, r[2]))
			}
		}
	}
}

func refPool(n *ir.Node, x, y *ir.Tensor, sat func(int64) int64) {
	xs := x.Shape
	k := n.IntList("kernel_shape", nil)
	geo, _ := ir.ResolveConv(n, xs[2:], k, n.Int("ceil_mode", 0) != 0)
	h, w := int(xs[2]), int(xs[3])
	oh, ow := int(geo.Out[0]), int(geo.Out[1])
	for c := 0; c < int(xs[0]*xs[1]); c++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				best, sum, cnt, all := int64(math.MinInt64), int64(0), int64(0), int64(0)
				for ky := 0; ky < int(k[0]); ky++ {
					for kx := 0; kx < int(k[1]); kx++ {
						iy := oy*int(geo.Strides[0]) - int(geo.Pads[0]) + ky
						ix := ox*int(geo.Strides[1]) - int(geo.Pads[1]) + kx
						if iy >= -int(geo.Pads[0]) && iy < h+int(geo.Pads[2]) && ix >= -int(geo.Pads[1]) && ix < w+int(geo.Pads[3]) {
							all++
						}
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							v := x.I[(c*h+iy)*w+ix]
							best = max(best, v)
							sum += v
							cnt++
						}
					}
				}
				o := (c*oh+oy)*ow + ox
				if n.Op == ir.OpQMaxPool {
					y.I[o] = best
					continue
				}
				d := cnt
				if n.Int("count_include_pad", 0) != 0 {
					d = all
				}
				y.I[o] = sat(floorShift(sum*n.IntList("mults", nil)[d-1], n.Int("shift", 0)))
			}
		}
	}
}

func TestExecutorMatchesReference(t *testing.T) {
	cases := []struct {
		name         string
		ratio        float64
		sram, edram  ADC
		rows, adcBit int
		ideal        bool
	}{
		{name: "r0.5-ideal", ratio: 0.5, rows: 128, ideal: true},
		{name: "r0.5-adc5", ratio: 0.5, rows: 128, adcBit: 5},
		{name: "r0.25-rows16-adc3", ratio: 0.25, rows: 16, adcBit: 3},
		{name: "r1-rows32-adc2", ratio: 1, rows: 32, adcBit: 2},
		{name: "r0-rows8-adc2", ratio: 0, rows: 8, adcBit: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := testNet(t)
			q := quantizeNet(t, m, tc.ratio, randInputs(m, 8, 1))
			h := hw.Default()
			for _, p := range []*hw.Pool{&h.SRAM, &h.EDRAM} {
				p.RowsActivePerCycle, p.ADCBits, p.ADCIdeal = tc.rows, tc.adcBit, tc.ideal
			}
			sram, edram := ADCs(h)
			e, err := NewExecutor(q, ExecOptions{HW: h})
			if err != nil {
				t.Fatal(err)
			}
			ins := randInputs(q, 4, 5)
			var batch [][]*ir.Tensor
			for _, in := range ins {
				batch = append(batch, []*ir.Tensor{in})
			}
			got, err := e.RunBatch(batch)
			if err != nil {
				t.Fatal(err)
			}
			// The final Softmax is float: compare the logits' codes
			// through the dequantized values before it, i.e. run the
			// reference to the end and compare bit for bit.
			for i, in := range ins {
				checkAllCodes(t, e, q, in, sram, edram)
				want := refRun(t, q, []*ir.Tensor{in}, sram, edram)
				for j := range want[0].F {
					if math.Float32bits(got[i][0].F[j]) != math.Float32bits(want[0].F[j]) {
						t.Fatalf("input %d output %d: executor %v, reference %v", i, j, got[i][0].F, want[0].F)
					}
				}
			}
		})
	}
}
