package mapping

import (
	"fmt"

	"pimc/ir"
)

// maxIRDim bounds every size LayerOf converts from int64, far above
// Normalized's own limits, so the conversion to int can never wrap.
const maxIRDim = 1 << 30

// LayerOf describes one array layer of a quantized module for the mapper.
//
//   - DualConv / DualGemm: OC4 = rows of the INT4 weights (input 1), OCTB =
//     rows of the ternary weights (input 2); the SRAM part reads x_bits-wide
//     inputs and stores native-width weights.
//   - QConv / QGemm (unsplit INT8 or INT4, grouped and depthwise included):
//     every channel on SRAM, SRAMWeightBits = w_bits, SRAMInputBits = x_bits.
//
// A Gemm with M input rows is M vectors: a 1×1 conv on an M×1 map (an FC
// layer when M = 1). ok is false for every other op, which runs on the
// PPU. A float or ONNX-integer Conv/Gemm/MatMul is an error naming the node:
// the arrays run only the quantized layer ops, so the module was not
// quantized.
func LayerOf(n *ir.Node) (d DualLayer, ok bool, err error) {
	var conv, dual bool
	switch n.Op {
	case ir.OpDualConv:
		conv, dual = true, true
	case ir.OpQConv:
		conv = true
	case ir.OpDualGemm:
		dual = true
	case ir.OpQGemm:
	case ir.OpConv, ir.OpGemm, ir.OpMatMul, ir.OpConvInteger, ir.OpQLinearConv, ir.OpMatMulInteger, ir.OpQLinearMatMul:
		return d, false, n.Errorf("not lowered to pimc's quantized layer ops (run the quantize pass first): the PIM arrays run only QConv, DualConv, QGemm and DualGemm")
	default:
		return d, false, nil
	}
	x, w := n.In(0), n.In(1)
	if x == nil || w == nil || (dual && n.In(2) == nil) {
		return d, false, n.Errorf("missing input or weight operand")
	}
	wshape := w.Type.Shape
	if len(wshape) < 2 {
		return d, false, n.Errorf("weights %v, want rank >= 2", wshape)
	}
	oc4, octb := wshape[0], int64(0)
	if dual {
		octb = n.In(2).Type.Shape[0]
	}
	l := Layer{Name: n.Name}
	xs := x.Type.Shape
	if conv {
		if err := convGeometry(n, xs, wshape, &l); err != nil {
			return d, false, err
		}
	} else {
		if len(xs) != 2 {
			return d, false, n.Errorf("input %v, want [M,K]", xs)
		}
		l.IH, l.IW, l.KH, l.KW = 1, 1, 1, 1
		l.Kind = KindFC
		if xs[0] != 1 {
			// M rows are M input vectors: a 1×1 conv on an M×1 map
			// (docs/mapping.md, "Fully-connected layers").
			l.Kind = KindConv
			if l.IH, err = irInt(n, "rows", xs[0]); err != nil {
				return d, false, err
			}
		}
		if l.IC, err = irInt(n, "input features", xs[1]); err != nil {
			return d, false, err
		}
	}
	if d.OC4, err = irInt(n, "INT4 channels", oc4); err != nil {
		return d, false, err
	}
	if d.OCTB, err = irInt(n, "ternary channels", octb); err != nil {
		return d, false, err
	}
	l.OC = d.OC4 + d.OCTB
	if l.OC == 0 {
		return d, false, n.Errorf("layer has no output channels")
	}
	d.Layer = l
	xb := n.Int("x_bits", 0)
	if dual {
		// The INT4 path reads the x_bits codes; its weights have the pool's
		// native width. The TB path always reads 1-bit inputs.
		d.SRAMInputBits = int(xb)
	} else {
		d.SRAMWeightBits, d.SRAMInputBits = int(n.Int("w_bits", 0)), int(xb)
	}
	if d.SRAMInputBits < 1 || d.SRAMInputBits > 16 || (!dual && (d.SRAMWeightBits < 2 || d.SRAMWeightBits > 16)) {
		return d, false, n.Errorf("x_bits=%d, w_bits=%d outside the arrays' 1..16 / 2..16", xb, n.Int("w_bits", 0))
	}
	return d, true, nil
}

// convGeometry fills the map, kernel, stride, padding, dilation and group
// of a QConv/DualConv from its input shape, weight shape and attributes.
func convGeometry(n *ir.Node, xs, ws []int64, l *Layer) error {
	if len(xs) != len(ws) || (len(xs) != 3 && len(xs) != 4) {
		return n.Errorf("input %v and weights %v: the arrays map 1-D and 2-D convolutions", xs, ws)
	}
	// The layer is one image's: a batch of N runs the same tiles over
	// every image's windows (BatchOf, docs/cost.md "Batch").
	if xs[0] < 1 || xs[0] > maxIRDim {
		return n.Errorf("batch %d out of range [1, %d]", xs[0], maxIRDim)
	}
	geo, err := ir.ResolveConv(n, xs[2:], ws[2:], false)
	if err != nil {
		return n.Errorf("%v", err)
	}
	// A 1-D conv is a 2-D conv on a 1×L map.
	in, k := xs[2:], ws[2:]
	s, dl := geo.Strides, geo.Dilations
	pb, pe := geo.Pads[:len(in)], geo.Pads[len(in):]
	if len(in) == 1 {
		in, k, s, dl = []int64{1, in[0]}, []int64{1, k[0]}, []int64{1, s[0]}, []int64{1, dl[0]}
		pb, pe = []int64{0, pb[0]}, []int64{0, pe[0]}
	}
	for _, f := range []struct {
		dst  *int
		what string
		v    int64
	}{
		{&l.IH, "input height", in[0]}, {&l.IW, "input width", in[1]},
		{&l.KH, "kernel height", k[0]}, {&l.KW, "kernel width", k[1]},
		{&l.IC, "input channels", xs[1]},
		{&l.SH, "stride", s[0]}, {&l.SW, "stride", s[1]},
		{&l.DH, "dilation", dl[0]}, {&l.DW, "dilation", dl[1]},
		{&l.PadT, "padding", pb[0]}, {&l.PadL, "padding", pb[1]},
		{&l.PadB, "padding", pe[0]}, {&l.PadR, "padding", pe[1]},
		{&l.Group, "group", n.Int("group", 1)},
	} {
		v, err := irInt(n, f.what, f.v)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	l.Kind = KindConv
	if l.Group > 1 {
		l.Kind = KindGrouped
	}
	return nil
}

// BatchOf is the number of images a QConv/DualConv layer of LayerOf runs
// its one-image Layer over: the input's batch dimension. It is 1 for a
// QGemm/DualGemm, whose M input rows are already the rows of its map, and
// for any op LayerOf does not map. The backend applies every tile to the
// windows of all N images, so the windows (and every per-window count)
// scale by N while the tiles and weights do not.
func BatchOf(n *ir.Node) int64 {
	if n == nil || (n.Op != ir.OpQConv && n.Op != ir.OpDualConv) {
		return 1
	}
	x := n.In(0)
	if x == nil || len(x.Type.Shape) == 0 || x.Type.Shape[0] < 1 {
		return 1
	}
	return x.Type.Shape[0]
}

func irInt(n *ir.Node, what string, v int64) (int, error) {
	if v < 0 || v > maxIRDim {
		return 0, n.Errorf("%s %d out of range [0, %d]", what, v, maxIRDim)
	}
	return int(v), nil
}

// FromIR returns the array layers of a quantized module in graph order,
// with the node each came from (LayerOf says which ops count). The result
// is what MapDual takes; a module with a float layer left is an error.
func FromIR(m *ir.Module) ([]DualLayer, []*ir.Node, error) {
	if m == nil || m.Graph == nil {
		return nil, nil, fmt.Errorf("mapping: module has no graph")
	}
	var ls []DualLayer
	var ns []*ir.Node
	for _, n := range m.Graph.Nodes {
		d, ok, err := LayerOf(n)
		if err != nil {
			return nil, nil, fmt.Errorf("mapping: %w", err)
		}
		if ok {
			ls, ns = append(ls, d), append(ns, n)
		}
	}
	return ls, ns, nil
}
