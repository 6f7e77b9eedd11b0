package interp

import (
	"fmt"
	"math"

	"pimc/ir"
)

// ONNX's linear quantization ops. Quantization divides in float32, rounds
// half to even and saturates to the output dtype; integer convolutions and
// matrix products accumulate exactly in int64 (every ONNX-sized int32
// accumulator fits) and then wrap to int32 like the C type would.

func init() {
	register(ir.OpQuantizeLinear, quantizeKernel)
	register(ir.OpDequantizeLinear, dequantizeKernel)
	register(ir.OpConvInteger, convIntegerKernel)
	register(ir.OpMatMulInteger, matMulIntegerKernel)
	register(ir.OpQLinearConv, qlinearConvKernel)
	register(ir.OpQLinearMatMul, qlinearMatMulKernel)
}

// paramIndex maps an element of a tensor of shape shape to its entry in a
// scale/zero-point tensor: one value per tensor, one per index along axis
// (1-D parameters), or one per block of blockSize along axis (parameters
// of the input's rank, blocked quantization).
type paramIndex struct {
	mode        int // 0 per tensor, 1 per axis, 2 blocked
	inner, axis int // elements after the axis; axis length
	block       int
	pshape      []int64 // the parameter's shape (blocked mode)
	axisIdx     int
}

func newParamIndex(shape []int64, p *ir.Tensor, axis int64, block int64) (paramIndex, error) {
	pi := paramIndex{pshape: p.Shape}
	if p.Len() == 1 && p.Rank() <= 1 && block == 0 {
		return pi, nil
	}
	r := int64(len(shape))
	if axis < -r || axis >= r {
		return pi, fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	pi.axisIdx = int(axis)
	pi.axis = int(shape[axis])
	pi.inner = blockLen(shape[axis+1:])
	if p.Rank() == 1 && block == 0 {
		if p.Len() != shape[axis] {
			return pi, fmt.Errorf("per-axis parameter of length %d for axis %d of size %d", p.Len(), axis, shape[axis])
		}
		pi.mode = 1
		return pi, nil
	}
	if block <= 0 || p.Rank() != len(shape) {
		return pi, fmt.Errorf("parameter shape %v does not fit input %v (block_size %d)", p.Shape, shape, block)
	}
	for i := range shape {
		want := shape[i]
		if i == int(axis) {
			want = (shape[i] + block - 1) / block
		}
		if p.Shape[i] != want {
			return pi, fmt.Errorf("blocked parameter shape %v does not fit input %v with block_size %d", p.Shape, shape, block)
		}
	}
	pi.mode, pi.block = 2, int(block)
	return pi, nil
}

func (pi *paramIndex) at(i int) int {
	switch pi.mode {
	case 1:
		return i / pi.inner % pi.axis
	case 2:
		outer := i / (pi.inner * pi.axis)
		a := i / pi.inner % pi.axis
		in := i % pi.inner
		return (outer*int(pi.pshape[pi.axisIdx])+a/pi.block)*pi.inner + in
	}
	return 0
}

// saturate rounds v half to even and clamps it to dt's range.
func saturate(v float64, dt ir.DType) int64 {
	lo, hi := dt.Range()
	r := math.RoundToEven(v)
	if r != r {
		return 0
	}
	return int64(max(float64(lo), min(float64(hi), r)))
}

func quantizeKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x, scale, zp := in[0], in[1], in[2]
	y := newOut(n, 0)
	axis, block := n.Int("axis", 1), n.Int("block_size", 0)
	if n.Int("saturate", 1) == 0 {
		return nil, fmt.Errorf("saturate=0 applies to float8 outputs, which are not supported")
	}
	sp, err := newParamIndex(x.Shape, scale, axis, block)
	if err != nil {
		return nil, err
	}
	zpi := sp
	if zp != nil {
		if zpi, err = newParamIndex(x.Shape, zp, axis, block); err != nil {
			return nil, err
		}
	}
	for i := range y.I {
		// x / scale in float32, as the ONNX reference computes it.
		q := float32(x.Float(i)) / scale.F[sp.at(i)]
		var z int64
		if zp != nil {
			z = zp.I[zpi.at(i)]
		}
		lo, hi := y.DType.Range()
		v := math.RoundToEven(float64(q)) + float64(z)
		if v != v {
			y.I[i] = z
			continue
		}
		y.I[i] = int64(max(float64(lo), min(float64(hi), v)))
	}
	return []*ir.Tensor{y}, nil
}

func dequantizeKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x, scale, zp := in[0], in[1], in[2]
	y := newOut(n, 0)
	axis, block := n.Int("axis", 1), n.Int("block_size", 0)
	sp, err := newParamIndex(x.Shape, scale, axis, block)
	if err != nil {
		return nil, err
	}
	zpi := sp
	if zp != nil {
		if zpi, err = newParamIndex(x.Shape, zp, axis, block); err != nil {
			return nil, err
		}
	}
	for i, q := range x.I {
		if zp != nil {
			q -= zp.I[zpi.at(i)]
		}
		y.F[i] = float32(q) * scale.F[sp.at(i)]
	}
	return []*ir.Tensor{y}, nil
}

// zeroPoint reads an optional scalar zero point (0 when absent).
func zeroPoint(t *ir.Tensor, what string) (int64, error) {
	if t == nil {
		return 0, nil
	}
	if t.Len() != 1 {
		return 0, fmt.Errorf("%s has shape %v, want a scalar", what, t.Shape)
	}
	return t.I[0], nil
}

// channelZeroPoints reads an optional per-tensor or per-channel zero point
// of length c.
func channelZeroPoints(t *ir.Tensor, c int, what string) ([]int64, error) {
	if t == nil {
		return []int64{0}, nil
	}
	if t.Len() != 1 && t.Len() != int64(c) {
		return nil, fmt.Errorf("%s has shape %v, want a scalar or %d values", what, t.Shape, c)
	}
	return t.I, nil
}

func convIntegerKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x, w := in[0], in[1]
	xzp, err := zeroPoint(in[2], "x_zero_point")
	if err != nil {
		return nil, err
	}
	wzp, err := channelZeroPoints(in[3], int(w.Shape[0]), "w_zero_point")
	if err != nil {
		return nil, err
	}
	acc, _, err := convInt(n, x, w, xzp, wzp)
	if err != nil {
		return nil, err
	}
	y := newOut(n, 0)
	for i, v := range acc {
		y.I[i] = ir.Int32.Wrap(v)
	}
	return []*ir.Tensor{y}, nil
}

// qlinearConvKernel: y = sat(round(acc · x_scale·w_scale[oc] / y_scale) +
// y_zp) where acc = Σ (x − x_zp)(w − w_zp) + bias[oc], rescaled in
// float64 from the float32 scales.
func qlinearConvKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x, xs, xz, w, ws, wz, ys, yz, bias := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8]
	cout := int(w.Shape[0])
	xzp, err := zeroPoint(xz, "x_zero_point")
	if err != nil {
		return nil, err
	}
	wzp, err := channelZeroPoints(wz, cout, "w_zero_point")
	if err != nil {
		return nil, err
	}
	yzp, err := zeroPoint(yz, "y_zero_point")
	if err != nil {
		return nil, err
	}
	if xs.Len() != 1 || ys.Len() != 1 || (ws.Len() != 1 && ws.Len() != int64(cout)) {
		return nil, fmt.Errorf("scales %v, %v, %v: want scalars (w_scale may be per output channel)", xs.Shape, ws.Shape, ys.Shape)
	}
	if bias != nil && bias.Len() != int64(cout) {
		return nil, fmt.Errorf("bias shape %v, want [%d]", bias.Shape, cout)
	}
	acc, g, err := convInt(n, x, w, xzp, wzp)
	if err != nil {
		return nil, err
	}
	y := newOut(n, 0)
	osz := g.outSize()
	for i, v := range acc {
		oc := i / osz % cout
		if bias != nil {
			v += bias.I[oc]
		}
		mult := float64(xs.F[0]) * float64(ws.F[oc%int(ws.Len())]) / float64(ys.F[0])
		y.I[i] = saturate(float64(v)*mult+float64(yzp), y.DType)
	}
	return []*ir.Tensor{y}, nil
}

// intMatMul computes Σ_k (a − azp[row])·(b − bzp[col]) per batch with
// numpy matmul shape rules; zero points are per tensor, per row of A or
// per column of B.
func intMatMul(a, b *ir.Tensor, azp, bzp []int64, out []int64) error {
	as, bs := a.Shape, b.Shape
	if len(as) == 1 {
		as = []int64{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int64{bs[0], 1}
	}
	m, k, nn := int(as[len(as)-2]), int(as[len(as)-1]), int(bs[len(bs)-1])
	if len(azp) != 1 && len(azp) != m {
		return fmt.Errorf("a_zero_point has %d values, want 1 or %d", len(azp), m)
	}
	if len(bzp) != 1 && len(bzp) != nn {
		return fmt.Errorf("b_zero_point has %d values, want 1 or %d", len(bzp), nn)
	}
	abatch, bbatch := as[:len(as)-2], bs[:len(bs)-2]
	batch, err := ir.BroadcastShapes(abatch, bbatch)
	if err != nil {
		return err
	}
	aoff, boff := batchOffsets(abatch, batch, m*k), batchOffsets(bbatch, batch, k*nn)
	for bi := range aoff {
		for i := 0; i < m; i++ {
			az := azp[i%len(azp)]
			for j := 0; j < nn; j++ {
				bz := bzp[j%len(bzp)]
				var s int64
				for p := 0; p < k; p++ {
					s += (a.I[aoff[bi]+i*k+p] - az) * (b.I[boff[bi]+p*nn+j] - bz)
				}
				out[(bi*m+i)*nn+j] = s
			}
		}
	}
	return nil
}

func matMulIntegerKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	y := newOut(n, 0)
	azp, bzp := []int64{0}, []int64{0}
	if in[2] != nil {
		azp = in[2].I
	}
	if in[3] != nil {
		bzp = in[3].I
	}
	if err := intMatMul(in[0], in[1], azp, bzp, y.I); err != nil {
		return nil, err
	}
	wrapAll(ir.Int32, y.I)
	return []*ir.Tensor{y}, nil
}

// qlinearMatMulKernel: y = sat(round(acc · a_scale·b_scale / y_scale) +
// y_zp), acc the exact integer product of the zero-point-shifted inputs.
func qlinearMatMulKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	a, as, az, b, bs, bz, ys, yz := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]
	for i, t := range []*ir.Tensor{as, az, bs, bz, ys, yz} {
		if t.Len() != 1 {
			return nil, fmt.Errorf("input %d has shape %v: only per-tensor scales and zero points are supported", []int{1, 2, 4, 5, 6, 7}[i], t.Shape)
		}
	}
	y := newOut(n, 0)
	acc := make([]int64, len(y.I))
	if err := intMatMul(a, b, az.I, bz.I, acc); err != nil {
		return nil, err
	}
	mult := float64(as.F[0]) * float64(bs.F[0]) / float64(ys.F[0])
	for i, v := range acc {
		y.I[i] = saturate(float64(v)*mult+float64(yz.I[0]), y.DType)
	}
	return []*ir.Tensor{y}, nil
}
