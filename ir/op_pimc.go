package ir

import (
	byteorder "encoding/binary"
	"fmt"
	"slices"
	"unsafe"
)

// pimc-domain quantized ops: the DualNet IR that the quantize pass emits and
// the quantized reference executor (package dualnet) runs. Activations are
// integer codes (real value = code·scale, zero point 0) held in Tensor.I.
// docs/quantization.md defines every op's arithmetic bit for bit; the
// one-line summaries below only name the operands.
//
// Common attributes: x_bits / w_bits are the input-code and weight widths the
// layer reads; out_bits / out_signed give the output code range
// ([0, 2^b−1] unsigned, [−2^(b−1), 2^(b−1)−1] signed); scale is the output
// code's real scale (informative for every op but Dequantize and
// QuantizeInput); relu=1 records that a ReLU was folded into the op.
//
// A requantization table rq is an int64 constant of shape [C, 4] whose row c
// holds (M, B, S, R): y = sat((acc·M + res·R + B + 2^(S−1)) >> S).

const pimcOutAttrs = "out_bits:i! out_signed:i! scale:f relu:i"
const pimcConvAttrs = "dilations:is group:i kernel_shape:is pads:is strides:is"

var (
	// OpQuantizeInput turns float values into codes:
	// %q = pimc.QuantizeInput(%x) {scale, bits, signed}.
	OpQuantizeInput = defOp("pimc", "QuantizeInput", 1, 1, 1, 1, "scale:f! bits:i! signed:i!", inferQuantizeInput,
		"%q = QuantizeInput(%x) {scale, bits, signed}")
	// OpDequantize turns codes into float values: %y = pimc.Dequantize(%q) {scale}.
	OpDequantize = defOp("pimc", "Dequantize", 1, 1, 1, 1, "scale:f!", inferDequantizeCodes,
		"%y = Dequantize(%q) {scale}")
	// OpQConv is an unsplit (INT8, or depthwise/grouped) convolution on codes:
	// %y = pimc.QConv(%x, %w, %rq[, %res]).
	OpQConv = defOp("pimc", "QConv", 3, 4, 1, 1, pimcConvAttrs+" x_bits:i! w_bits:i! "+pimcOutAttrs, inferQConv,
		"%y = QConv(%x, %w, %rq[, %res]) {x_bits, w_bits, out_bits, ...}")
	// OpDualConv is a split convolution: INT4 weight codes %w4 for n4 output
	// channels, ternary codes %wt for the rest, %chan mapping path rows to
	// output channels: %y = pimc.DualConv(%x, %w4, %wt, %rq, %chan[, %res]).
	OpDualConv = defOp("pimc", "DualConv", 5, 6, 1, 1, pimcConvAttrs+" x_bits:i! tb_threshold:i! "+pimcOutAttrs, inferDualConv,
		"%y = DualConv(%x, %w4, %wt, %rq, %chan[, %res]) {tb_threshold, ...}")
	// OpQGemm is an unsplit fully-connected layer, weights [N, K]:
	// %y = pimc.QGemm(%x, %w, %rq[, %res]).
	OpQGemm = defOp("pimc", "QGemm", 3, 4, 1, 1, "x_bits:i! w_bits:i! "+pimcOutAttrs, inferQGemm,
		"%y = QGemm(%x, %w, %rq[, %res])")
	// OpDualGemm is a split fully-connected layer:
	// %y = pimc.DualGemm(%x, %w4, %wt, %rq, %chan[, %res]).
	OpDualGemm = defOp("pimc", "DualGemm", 5, 6, 1, 1, "x_bits:i! tb_threshold:i! "+pimcOutAttrs, inferDualGemm,
		"%y = DualGemm(%x, %w4, %wt, %rq, %chan[, %res]) {tb_threshold, ...}")
	// OpQAdd adds two code tensors of the same shape with rescaling:
	// %y = pimc.QAdd(%a, %b) {mult_a, mult_b, shift}.
	OpQAdd = defOp("pimc", "QAdd", 2, 2, 1, 1, "mult_a:i! mult_b:i! shift:i! "+pimcOutAttrs, inferQAdd,
		"%y = QAdd(%a, %b) {mult_a, mult_b, shift, ...}")
	// OpQRescale converts codes to another scale or width:
	// %y = pimc.QRescale(%x) {mult, shift}.
	OpQRescale = defOp("pimc", "QRescale", 1, 1, 1, 1, "mult:i! shift:i! "+pimcOutAttrs, inferQCodesSameShape,
		"%y = QRescale(%x) {mult, shift, ...}")
	// OpQRelu clamps codes below 0 to 0: %y = pimc.QRelu(%x).
	OpQRelu = defOp("pimc", "QRelu", 1, 1, 1, 1, "", inferQRelu, "%y = QRelu(%x)")
	// OpQMaxPool is MaxPool on codes (padding never wins): %y = pimc.QMaxPool(%x).
	OpQMaxPool = defOp("pimc", "QMaxPool", 1, 1, 1, 1, "ceil_mode:i dilations:is kernel_shape:is! pads:is strides:is", inferQPool,
		"%y = QMaxPool(%x) {kernel_shape, ...}")
	// OpQAvgPool is AveragePool on codes; mults[d−1] is the multiplier for a
	// window divisor d: %y = pimc.QAvgPool(%x) {mults, shift}.
	OpQAvgPool = defOp("pimc", "QAvgPool", 1, 1, 1, 1, "ceil_mode:i count_include_pad:i kernel_shape:is! pads:is strides:is mults:is! shift:i! "+pimcOutAttrs, inferQAvgPool,
		"%y = QAvgPool(%x) {kernel_shape, mults, shift, ...}")
	// OpQGlobalAvgPool averages each channel's codes:
	// %y = pimc.QGlobalAvgPool(%x) {mult, shift}.
	OpQGlobalAvgPool = defOp("pimc", "QGlobalAvgPool", 1, 1, 1, 1, "mult:i! shift:i! "+pimcOutAttrs, inferQGlobalPool,
		"%y = QGlobalAvgPool(%x) {mult, shift, ...}")
	// OpQConcat joins code tensors that share one scale and width:
	// %y = pimc.QConcat(%a, ...) {axis}.
	OpQConcat = defOp("pimc", "QConcat", 1, -1, 1, 1, "axis:i!", inferQConcat, "%y = QConcat(%a, ...) {axis}")
)

// CodeDType is the storage dtype of a code of the given width and sign.
func CodeDType(bits int64, signed bool) DType {
	switch {
	case bits <= 8 && signed:
		return Int8
	case bits <= 8:
		return Uint8
	case bits <= 16 && signed:
		return Int16
	case bits <= 16:
		return Uint16
	}
	return Int32
}

// CodeRange is the saturation range of a code of the given width and sign.
func CodeRange(bits int64, signed bool) (lo, hi int64) {
	if signed {
		return -(int64(1) << (bits - 1)), int64(1)<<(bits-1) - 1
	}
	return 0, int64(1)<<bits - 1
}

func codeBits(n *Node, name string, lo, hi int64) (int64, error) {
	b := n.Int(name, 0)
	if b < lo || b > hi {
		return 0, fmt.Errorf("%s=%d, want %d..%d", name, b, lo, hi)
	}
	return b, nil
}

func outCodeType(n *Node) (DType, error) {
	b, err := codeBits(n, "out_bits", 2, 31)
	if err != nil {
		return Undefined, err
	}
	return CodeDType(b, n.Int("out_signed", 0) != 0), nil
}

func wantCodes(n *Node, i int) error {
	v := n.In(i)
	if v == nil {
		return nil
	}
	if dt := v.Type.DType; !dt.IsInt() || dt == Bool || dt == Int64 {
		return fmt.Errorf("input %d (%q) is %s, want integer codes", i, v.Name, dt)
	}
	return nil
}

func wantConst(n *Node, i int, dt DType, what string) (*Tensor, error) {
	v := n.In(i)
	if v == nil || v.Const == nil {
		return nil, fmt.Errorf("%s (input %d) must be a constant", what, i)
	}
	if v.Const.DType != dt {
		return nil, fmt.Errorf("%s (input %d) is %s, want %s", what, i, v.Const.DType, dt)
	}
	return v.Const, nil
}

// wantRQ checks a requantization table for c channels.
func wantRQ(n *Node, i int, c int64) error {
	rq, err := wantConst(n, i, Int64, "requantization table")
	if err != nil {
		return err
	}
	if rq.Rank() != 2 || rq.Shape[0] != c || rq.Shape[1] != 4 {
		return fmt.Errorf("requantization table %v, want [%d,4]", rq.Shape, c)
	}
	for r := int64(0); r < c; r++ {
		if s := rq.I[r*4+2]; s < 0 || s > 62 {
			return fmt.Errorf("requantization shift %d of channel %d outside 0..62", s, r)
		}
	}
	return nil
}

func inferQuantizeInput(n *Node) error {
	x := n.In(0).Type
	if !x.DType.IsFloat() {
		return fmt.Errorf("input is %s, want float", x.DType)
	}
	b, err := codeBits(n, "bits", 2, 16)
	if err != nil {
		return err
	}
	if !(n.Float("scale", 0) > 0) {
		return fmt.Errorf("scale %g must be positive", n.Float("scale", 0))
	}
	setOut(n, 0, CodeDType(b, n.Int("signed", 0) != 0), append([]int64{}, x.Shape...))
	return nil
}

func inferDequantizeCodes(n *Node) error {
	if err := wantCodes(n, 0); err != nil {
		return err
	}
	if !(n.Float("scale", 0) > 0) {
		return fmt.Errorf("scale %g must be positive", n.Float("scale", 0))
	}
	setOut(n, 0, Float32, append([]int64{}, n.In(0).Type.Shape...))
	return nil
}

func inferQCodesSameShape(n *Node) error {
	if err := wantCodes(n, 0); err != nil {
		return err
	}
	dt, err := outCodeType(n)
	if err != nil {
		return err
	}
	setOut(n, 0, dt, append([]int64{}, n.In(0).Type.Shape...))
	return nil
}

func inferQRelu(n *Node) error {
	if err := wantCodes(n, 0); err != nil {
		return err
	}
	return inferSameAsFirst(n)
}

// qResidual checks the optional residual input i against the output shape.
func qResidual(n *Node, i int, shape []int64) error {
	r := n.In(i)
	if r == nil {
		return nil
	}
	if err := wantCodes(n, i); err != nil {
		return err
	}
	if !slices.Equal(r.Type.Shape, shape) {
		return fmt.Errorf("residual %v, output %v", r.Type.Shape, shape)
	}
	return nil
}

func inferQConv(n *Node) error {
	if err := wantCodes(n, 0); err != nil {
		return err
	}
	if _, err := codeBits(n, "x_bits", 1, 16); err != nil {
		return err
	}
	if _, err := codeBits(n, "w_bits", 2, 16); err != nil {
		return err
	}
	if _, err := wantConst(n, 1, Int8, "weight codes"); err != nil {
		return err
	}
	w := n.In(1).Type
	s, err := convShape(n, n.In(0).Type, w)
	if err != nil {
		return err
	}
	if err := wantRQ(n, 2, w.Shape[0]); err != nil {
		return err
	}
	return setLayerOut(n, 3, s)
}

// setLayerOut checks a layer's optional residual input res against the
// output shape s and types the output with the layer's code width.
func setLayerOut(n *Node, res int, s []int64) error {
	if err := qResidual(n, res, s); err != nil {
		return err
	}
	dt, err := outCodeType(n)
	if err != nil {
		return err
	}
	setOut(n, 0, dt, s)
	return nil
}

// dualWeights checks the INT4 and ternary weight tensors and the channel map
// of a DualConv/DualGemm and returns the total output channel count.
func dualWeights(n *Node) (int64, error) {
	w4, err := wantConst(n, 1, Int8, "INT4 weight codes")
	if err != nil {
		return 0, err
	}
	wt, err := wantConst(n, 2, Int8, "ternary weight codes")
	if err != nil {
		return 0, err
	}
	if w4.Rank() != wt.Rank() || w4.Rank() < 2 || !slices.Equal(w4.Shape[1:], wt.Shape[1:]) {
		return 0, fmt.Errorf("INT4 weights %v and ternary weights %v differ beyond dim 0", w4.Shape, wt.Shape)
	}
	c := w4.Shape[0] + wt.Shape[0]
	ch, err := wantConst(n, 4, Int64, "channel map")
	if err != nil {
		return 0, err
	}
	if ch.Rank() != 1 || ch.Shape[0] != c {
		return 0, fmt.Errorf("channel map %v, want [%d]", ch.Shape, c)
	}
	seen := make([]bool, c)
	for _, v := range ch.I {
		if v < 0 || v >= c || seen[v] {
			return 0, fmt.Errorf("channel map is not a permutation of 0..%d", c-1)
		}
		seen[v] = true
	}
	if t := n.Int("tb_threshold", 0); t < 1 {
		return 0, fmt.Errorf("tb_threshold=%d, want >= 1", t)
	}
	return c, wantRQ(n, 3, c)
}

// checkDualCodes checks that every weight code of a DualConv/DualGemm is
// in its path's range. Verify runs it; type inference, which the lowering
// runs on every node it creates, does not: the codes are most of a
// quantized module's bytes and do not change its types.
func checkDualCodes(n *Node) error {
	if n.Op != OpDualConv && n.Op != OpDualGemm {
		return nil
	}
	w4, wt := n.In(1), n.In(2)
	if w4 == nil || wt == nil || w4.Const == nil || wt.Const == nil {
		return nil // type inference reports it
	}
	if v, ok := tensorCodesWithin(w4.Const, 7); !ok {
		return fmt.Errorf("INT4 weight code %d outside -7..7", v)
	}
	if v, ok := tensorCodesWithin(wt.Const, 1); !ok {
		return fmt.Errorf("ternary weight code %d outside -1..1", v)
	}
	return nil
}

func inferDualConv(n *Node) error {
	if err := wantCodes(n, 0); err != nil {
		return err
	}
	if _, err := codeBits(n, "x_bits", 1, 16); err != nil {
		return err
	}
	c, err := dualWeights(n)
	if err != nil {
		return err
	}
	if n.Int("group", 1) != 1 {
		return fmt.Errorf("group=%d: split layers have group 1", n.Int("group", 1))
	}
	w := n.In(1).Type
	wfull := Type{DType: w.DType, Shape: append([]int64{c}, w.Shape[1:]...)}
	s, err := convShape(n, n.In(0).Type, wfull)
	if err != nil {
		return err
	}
	return setLayerOut(n, 5, s)
}

func gemmShape(x Type, k, c int64) ([]int64, error) {
	if x.Rank() != 2 || x.Shape[1] != k {
		return nil, fmt.Errorf("input %v, want [M,%d]", x.Shape, k)
	}
	return []int64{x.Shape[0], c}, nil
}

func inferQGemm(n *Node) error {
	if err := wantCodes(n, 0); err != nil {
		return err
	}
	if _, err := codeBits(n, "x_bits", 1, 16); err != nil {
		return err
	}
	if _, err := codeBits(n, "w_bits", 2, 16); err != nil {
		return err
	}
	w, err := wantConst(n, 1, Int8, "weight codes")
	if err != nil {
		return err
	}
	if w.Rank() != 2 {
		return fmt.Errorf("weights %v, want [N,K]", w.Shape)
	}
	s, err := gemmShape(n.In(0).Type, w.Shape[1], w.Shape[0])
	if err != nil {
		return err
	}
	if err := wantRQ(n, 2, w.Shape[0]); err != nil {
		return err
	}
	return setLayerOut(n, 3, s)
}

func inferDualGemm(n *Node) error {
	if err := wantCodes(n, 0); err != nil {
		return err
	}
	if _, err := codeBits(n, "x_bits", 1, 16); err != nil {
		return err
	}
	c, err := dualWeights(n)
	if err != nil {
		return err
	}
	w := n.In(1).Type
	if w.Rank() != 2 {
		return fmt.Errorf("weights %v, want [N,K]", w.Shape)
	}
	s, err := gemmShape(n.In(0).Type, w.Shape[1], c)
	if err != nil {
		return err
	}
	return setLayerOut(n, 5, s)
}

func inferQAdd(n *Node) error {
	for i := 0; i < 2; i++ {
		if err := wantCodes(n, i); err != nil {
			return err
		}
	}
	a, b := n.In(0).Type, n.In(1).Type
	if !slices.Equal(a.Shape, b.Shape) {
		return fmt.Errorf("operands %v and %v differ in shape", a.Shape, b.Shape)
	}
	if s := n.Int("shift", -1); s < 0 || s > 62 {
		return fmt.Errorf("shift=%d outside 0..62", s)
	}
	dt, err := outCodeType(n)
	if err != nil {
		return err
	}
	setOut(n, 0, dt, append([]int64{}, a.Shape...))
	return nil
}

func inferQPool(n *Node) error { return qPool(n, false) }

func inferQAvgPool(n *Node) error { return qPool(n, true) }

func qPool(n *Node, avg bool) error {
	if err := wantCodes(n, 0); err != nil {
		return err
	}
	x := n.In(0).Type
	if x.Rank() < 3 {
		return fmt.Errorf("input rank %d, want >= 3", x.Rank())
	}
	k := n.IntList("kernel_shape", nil)
	g, err := ResolveConv(n, x.Shape[2:], k, n.Int("ceil_mode", 0) != 0)
	if err != nil {
		return err
	}
	s := append([]int64{x.Shape[0], x.Shape[1]}, g.Out...)
	dt := x.DType
	if avg {
		area := NumElems(k)
		if int64(len(n.IntList("mults", nil))) != area {
			return fmt.Errorf("%d mults for a %d-element window", len(n.IntList("mults", nil)), area)
		}
		if dt, err = outCodeType(n); err != nil {
			return err
		}
	}
	setOut(n, 0, dt, s)
	return nil
}

func inferQGlobalPool(n *Node) error {
	if err := wantCodes(n, 0); err != nil {
		return err
	}
	x := n.In(0).Type
	if x.Rank() < 3 {
		return fmt.Errorf("input rank %d, want >= 3", x.Rank())
	}
	s := append([]int64{}, x.Shape...)
	for i := 2; i < len(s); i++ {
		s[i] = 1
	}
	dt, err := outCodeType(n)
	if err != nil {
		return err
	}
	setOut(n, 0, dt, s)
	return nil
}

func inferQConcat(n *Node) error {
	for i := range n.Inputs {
		if err := wantCodes(n, i); err != nil {
			return err
		}
	}
	return inferConcat(n)
}

// codesWithin reports whether every v is in -m..m, else the first that is
// not. Type inference and verification check every weight code of every
// dual layer several times per compile, so the scan is branch-free: x+m
// and 2m−(x+m) are both non-negative exactly when x is in range (an
// overflow near the int64 limits turns one negative too).
// tensorCodesWithin is codesWithin over either integer storage of t.
func tensorCodesWithin(t *Tensor, m int64) (int64, bool) {
	if t.I8 != nil {
		return codes8Within(t.I8, int8(m))
	}
	return codesWithin(t.I, m)
}

// codes8Within is codesWithin for int8 codes. Type inference and the
// verifier scan every weight code after each quantize-stage pass, so for
// m < 64 it tests eight codes per step as one 64-bit word (SWAR): a code
// c is in range iff the byte y = c+m (mod 256) is at most 2m, i.e. y has
// bit 7 clear and (y&0x7f) + 127−2m does not carry into bit 7.
func codes8Within(v []int8, m int8) (int64, bool) {
	i := 0
	if m >= 0 && m < 64 && len(v) >= 8 {
		b := unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v))
		const lo7, hi = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
		rep := func(x byte) uint64 { return uint64(x) * 0x0101010101010101 }
		mr, tr := rep(byte(m)), rep(byte(127-2*m))
		var bad uint64
		for ; i+8 <= len(b); i += 8 {
			x := byteorder.LittleEndian.Uint64(b[i:])
			y := ((x & lo7) + mr) ^ (x & hi) // bytewise x+m, no carries across bytes
			bad |= ((y & lo7) + tr) | y
		}
		if bad&hi != 0 {
			i = 0 // find the culprit below
		}
	}
	for ; i < len(v); i++ {
		if x := v[i]; x < -m || x > m {
			return int64(x), false
		}
	}
	return 0, true
}

func codesWithin(v []int64, m int64) (int64, bool) {
	var acc int64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		a, b, c, d := v[i]+m, v[i+1]+m, v[i+2]+m, v[i+3]+m
		acc |= a | (2*m - a) | b | (2*m - b) | c | (2*m - c) | d | (2*m - d)
	}
	for ; i < len(v); i++ {
		a := v[i] + m
		acc |= a | (2*m - a)
	}
	if acc >= 0 {
		return 0, true
	}
	for _, x := range v {
		if x < -m || x > m {
			return x, false
		}
	}
	return 0, true // unreachable
}
