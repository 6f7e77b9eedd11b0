package frontend

import (
	"strings"

	"pimc/ir"
)

// A normalizer rewrites one ONNX node, as written for the model's opset,
// into the IR's canonical form: each operator in its newest ONNX version
// (see the comment on the op table in ir/op.go). It consumes the legacy
// attributes it understands and emits IR nodes through the nodeCtx; an
// attribute it leaves behind must be one the IR op declares, or emitting
// fails with an error naming it. Ops without an entry map one to one.
type normalizer func(c *nodeCtx) error

var normalizers = map[string]normalizer{
	"Constant":           lowerConstant,
	"Clip":               normClip,
	"Pad":                normPad,
	"Squeeze":            axesToInput(13),
	"Unsqueeze":          axesToInput(13),
	"ReduceSum":          axesToInput(13),
	"ReduceMean":         axesToInput(18),
	"ReduceMax":          axesToInput(18),
	"ReduceMin":          axesToInput(18),
	"Split":              normSplit,
	"Slice":              normSlice,
	"Dropout":            normDropout,
	"BatchNormalization": normBatchNorm,
	"Softmax":            normSoftmax,
	"LogSoftmax":         normSoftmax,
	"Add":                normLegacyBroadcast,
	"Sub":                normLegacyBroadcast,
	"Mul":                normLegacyBroadcast,
	"Div":                normLegacyBroadcast,
	"Pow":                normLegacyBroadcast,
	"Gemm":               normGemm,
	"PRelu":              normPRelu,
	"Reshape":            normReshape,
	"Concat":             normConcat,
	"Cast":               normCast,
	"Tile":               normTile,
}

// lowerConstant turns a Constant node into a constant value carrying the
// node's output name; no IR node remains.
func lowerConstant(c *nodeCtx) error {
	if len(c.inputs) != 0 || len(c.outputs) != 1 || c.outputs[0] == "" {
		return c.errorf("want no inputs and one output, have %d and %d", len(c.inputs), len(c.outputs))
	}
	if len(c.attrs) != 1 {
		return c.errorf("want exactly one value attribute, have %d", len(c.attrs))
	}
	var t *ir.Tensor
	for name, a := range c.attrs {
		switch {
		case name == "value" && a.Kind == ir.AttrTensor:
			t = a.Tensor
		case name == "value_float" && a.Kind == ir.AttrFloat:
			t = ir.FloatTensor([]float32{a.Float})
		case name == "value_floats" && a.Kind == ir.AttrFloats:
			t = ir.FloatTensor(append([]float32{}, a.Floats...), int64(len(a.Floats)))
		case name == "value_int" && a.Kind == ir.AttrInt:
			t = ir.IntTensor(ir.Int64, []int64{a.Int})
		case name == "value_ints" && a.Kind == ir.AttrInts:
			t = int64Tensor(a.Ints...)
		default:
			return c.errorf("attribute %q (%s) is not supported", name, a.Kind)
		}
	}
	v := &ir.Value{Name: c.outputs[0], Type: t.Type(), Const: t}
	c.im.m.Graph.Consts = append(c.im.m.Graph.Consts, v)
	c.im.values[v.Name] = v
	return nil
}

// normClip: before opset 11 the bounds were the float attributes min and
// max; now they are optional inputs.
func normClip(c *nodeCtx) error {
	if c.opset >= 11 {
		return c.emitSelf()
	}
	x, err := c.need(0)
	if err != nil {
		return err
	}
	inputs := []*ir.Value{x, nil, nil}
	for i, name := range []string{"min", "max"} {
		v, ok, err := c.takeFloat(name)
		if err != nil {
			return err
		}
		if ok {
			inputs[1+i] = c.newConst(name, scalarLike(x, float64(v)))
		}
	}
	c.inputs = inputs
	return c.emitSelf()
}

// scalarLike is a rank-0 constant of x's dtype.
func scalarLike(x *ir.Value, v float64) *ir.Tensor {
	t := ir.NewTensor(x.Type.DType)
	if t.DType.IsFloat() {
		t.F[0] = float32(v)
	} else {
		t.I[0] = int64(v)
	}
	return t
}

// normPad: before opset 11 the pads (opset 1: paddings) and the fill value
// were attributes; now they are inputs.
func normPad(c *nodeCtx) error {
	if c.opset >= 11 {
		return c.emitSelf()
	}
	x, err := c.need(0)
	if err != nil {
		return err
	}
	pads, ok, err := c.takeInts("pads")
	if err != nil {
		return err
	}
	if !ok {
		if pads, ok, err = c.takeInts("paddings"); err != nil {
			return err
		}
	}
	if !ok {
		return c.errorf("attribute \"pads\" is missing")
	}
	c.inputs = []*ir.Value{x, c.newConst("pads", int64Tensor(pads...))}
	val, ok, err := c.takeFloat("value")
	if err != nil {
		return err
	}
	if ok && val != 0 {
		c.inputs = append(c.inputs, c.newConst("value", scalarLike(x, float64(val))))
	}
	return c.emitSelf()
}

// axesToInput handles ops whose axes moved from an attribute to the
// second input at opset since (Squeeze, Unsqueeze, ReduceSum: 13; the
// other reductions: 18).
func axesToInput(since int64) normalizer {
	return func(c *nodeCtx) error {
		if c.opset >= since {
			return c.emitSelf()
		}
		axes, ok, err := c.takeInts("axes")
		if err != nil {
			return err
		}
		if ok {
			x, err := c.need(0)
			if err != nil {
				return err
			}
			if len(c.inputs) > 1 {
				return c.errorf("axes given both as attribute and input")
			}
			c.inputs = []*ir.Value{x, c.newConst("axes", int64Tensor(axes...))}
		} else if c.op == "Unsqueeze" {
			return c.errorf("attribute \"axes\" is missing")
		}
		return c.emitSelf()
	}
}

// normSplit: before opset 13 the sizes were the split attribute (opset 1
// also allowed them as an input).
func normSplit(c *nodeCtx) error {
	if c.opset >= 13 {
		return c.emitSelf()
	}
	split, ok, err := c.takeInts("split")
	if err != nil {
		return err
	}
	if ok {
		if len(c.inputs) > 1 {
			return c.errorf("split given both as attribute and input")
		}
		x, err := c.need(0)
		if err != nil {
			return err
		}
		c.inputs = []*ir.Value{x, c.newConst("split", int64Tensor(split...))}
	}
	return c.emitSelf()
}

// normSlice: before opset 10 starts, ends and axes were attributes.
func normSlice(c *nodeCtx) error {
	if c.opset >= 10 {
		return c.emitSelf()
	}
	x, err := c.need(0)
	if err != nil {
		return err
	}
	inputs := []*ir.Value{x}
	for _, name := range []string{"starts", "ends", "axes"} {
		v, ok, err := c.takeInts(name)
		if err != nil {
			return err
		}
		if !ok {
			if name == "axes" {
				break
			}
			return c.errorf("attribute %q is missing", name)
		}
		inputs = append(inputs, c.newConst(name, int64Tensor(v...)))
	}
	c.inputs = inputs
	return c.emitSelf()
}

// normDropout: ratio was an attribute before opset 12 and is_test existed
// before opset 7. Both only matter in training, which pimc does not
// compile, so they are dropped.
func normDropout(c *nodeCtx) error {
	if c.opset < 12 {
		if _, _, err := c.takeFloat("ratio"); err != nil {
			return err
		}
	}
	if c.opset < 7 {
		if _, _, err := c.takeInt("is_test"); err != nil {
			return err
		}
	}
	return c.emitSelf()
}

// normBatchNorm drops the legacy is_test (opset < 7) and spatial
// (opset < 9) attributes; spatial=0 (per-element statistics) has no
// counterpart in newer opsets and is rejected.
func normBatchNorm(c *nodeCtx) error {
	if c.opset < 7 {
		if _, _, err := c.takeInt("is_test"); err != nil {
			return err
		}
	}
	if c.opset < 9 {
		sp, ok, err := c.takeInt("spatial")
		if err != nil {
			return err
		}
		if ok && sp == 0 {
			return c.errorf("spatial=0 is not supported")
		}
	}
	if len(c.outputs) > 1 {
		for _, o := range c.outputs[1:] {
			if o != "" {
				return c.errorf("training-mode outputs (running and saved statistics) are not supported")
			}
		}
	}
	return c.emitSelf()
}

// normSoftmax: before opset 13, Softmax and LogSoftmax coerced the input
// to 2-D at axis (default 1) and normalised over everything from axis on.
// That equals the new per-axis form when axis is the last dim (or every
// dim after it is 1); otherwise the node becomes Flatten(axis) →
// op(axis=1) → Reshape back to the input's shape.
func normSoftmax(c *nodeCtx) error {
	if c.opset >= 13 {
		return c.emitSelf()
	}
	x, err := c.need(0)
	if err != nil {
		return err
	}
	axis, ok, err := c.takeInt("axis")
	if err != nil {
		return err
	}
	if !ok {
		axis = 1
	}
	r := int64(x.Type.Rank())
	a := axis
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return c.errorf("axis %d is out of range for rank %d", axis, r)
	}
	op, _ := ir.LookupOp("", c.op)
	shape := x.Type.Shape
	if ir.NumElems(shape[a+1:]) == 1 {
		c.attrs["axis"] = intAttr(a)
		_, err := c.emit(op, c.name, []*ir.Value{x}, c.attrs, c.outputs)
		return err
	}
	flat, err := c.helper(ir.OpFlatten, "flatten", []*ir.Value{x}, ir.Attrs{"axis": intAttr(a)})
	if err != nil {
		return err
	}
	c.attrs["axis"] = intAttr(1)
	outs, err := c.emit(op, c.name, []*ir.Value{flat}, c.attrs, []string{c.im.freshValue(c.name + "/2d")})
	if err != nil {
		return err
	}
	back := c.newConst("shape", int64Tensor(shape...))
	_, err = c.emit(ir.OpReshape, c.im.freshNode(c.name+"/reshape"), []*ir.Value{outs[0], back}, nil, c.outputs)
	return err
}

// normLegacyBroadcast: before opset 7 the arithmetic ops broadcast only
// with broadcast=1, aligning B with A starting at dim axis (default: the
// trailing dims). Numpy-style broadcasting aligns trailing dims, so B gets
// trailing 1-dims appended when axis puts it elsewhere.
func normLegacyBroadcast(c *nodeCtx) error {
	if c.opset >= 7 {
		return c.emitSelf()
	}
	bc, _, err := c.takeInt("broadcast")
	if err != nil {
		return err
	}
	axis, hasAxis, err := c.takeInt("axis")
	if err != nil {
		return err
	}
	if bc == 0 || !hasAxis {
		return c.emitSelf()
	}
	a, err := c.need(0)
	if err != nil {
		return err
	}
	b, err := c.need(1)
	if err != nil {
		return err
	}
	ra, rb := int64(a.Type.Rank()), int64(b.Type.Rank())
	if axis < 0 {
		axis += ra
	}
	k := ra - axis - rb
	if axis < 0 || k < 0 {
		return c.errorf("broadcast axis %d does not fit B of shape %v inside A of shape %v", axis, b.Type.Shape, a.Type.Shape)
	}
	if k > 0 {
		if c.inputs[1], err = c.trailingOnes(b, k, "b"); err != nil {
			return err
		}
	}
	return c.emitSelf()
}

// trailingOnes appends k dims of size 1 to v: a reshaped copy when v is a
// constant, an Unsqueeze otherwise.
func (c *nodeCtx) trailingOnes(v *ir.Value, k int64, role string) (*ir.Value, error) {
	r := int64(v.Type.Rank())
	if v.IsConst() {
		t := v.Const.Clone()
		for i := int64(0); i < k; i++ {
			t.Shape = append(t.Shape, 1)
		}
		return c.newConst(role, t), nil
	}
	axes := make([]int64, k)
	for i := range axes {
		axes[i] = r + int64(i)
	}
	return c.helper(ir.OpUnsqueeze, role+"_unsqueeze", []*ir.Value{v, c.newConst(role+"_axes", int64Tensor(axes...))}, nil)
}

// normGemm drops the broadcast attribute of opset < 7: C broadcast to
// [M, N] either way, which numpy-style broadcasting reproduces.
func normGemm(c *nodeCtx) error {
	if c.opset < 7 {
		if _, _, err := c.takeInt("broadcast"); err != nil {
			return err
		}
	}
	return c.emitSelf()
}

// normPRelu: before opset 7 a slope of shape [C] applied per channel
// (dim 1); numpy-style broadcasting would align it with the last dim, so
// it becomes [C, 1, ..., 1].
func normPRelu(c *nodeCtx) error {
	if c.opset >= 7 {
		return c.emitSelf()
	}
	x, err := c.need(0)
	if err != nil {
		return err
	}
	slope, err := c.need(1)
	if err != nil {
		return err
	}
	xs, ss := x.Type.Shape, slope.Type.Shape
	if len(xs) >= 3 && len(ss) == 1 && ss[0] != 1 && ss[0] == xs[1] {
		if c.inputs[1], err = c.trailingOnes(slope, int64(len(xs)-2), "slope"); err != nil {
			return err
		}
	}
	return c.emitSelf()
}

// normReshape: before opset 5 the target shape was an attribute.
func normReshape(c *nodeCtx) error {
	if c.opset >= 5 {
		return c.emitSelf()
	}
	shape, ok, err := c.takeInts("shape")
	if err != nil {
		return err
	}
	if !ok {
		return c.errorf("attribute \"shape\" is missing")
	}
	x, err := c.need(0)
	if err != nil {
		return err
	}
	c.inputs = []*ir.Value{x, c.newConst("shape", int64Tensor(shape...))}
	return c.emitSelf()
}

// normConcat: before opset 4 axis was optional and defaulted to 1.
func normConcat(c *nodeCtx) error {
	if _, has := c.attrs["axis"]; c.opset < 4 && !has {
		c.attrs["axis"] = intAttr(1)
	}
	return c.emitSelf()
}

// onnxTypeNames maps the type names Cast-1 used for its to attribute.
var onnxTypeNames = map[string]ir.DType{
	"FLOAT": ir.Float32, "FLOAT16": ir.Float16, "DOUBLE": ir.Float64, "BFLOAT16": ir.Float32,
	"UINT8": ir.Uint8, "INT8": ir.Int8, "UINT16": ir.Uint16, "INT16": ir.Int16,
	"INT32": ir.Int32, "INT64": ir.Int64, "UINT32": ir.Uint32, "UINT64": ir.Uint64, "BOOL": ir.Bool,
}

// normCast: Cast-1 named the target type as a string; every float target
// becomes float32, the IR's only float compute type.
func normCast(c *nodeCtx) error {
	if a, ok := c.attrs["to"]; ok && a.Kind == ir.AttrString {
		dt, ok := onnxTypeNames[strings.ToUpper(a.Str)]
		if !ok {
			return c.errorf("cannot cast to %q", a.Str)
		}
		c.attrs["to"] = intAttr(int64(dt))
	}
	if a, ok := c.attrs["to"]; ok && a.Kind == ir.AttrInt {
		switch a.Int {
		case int64(ir.Float16), int64(ir.Float64), onnxBFloat16:
			c.attrs["to"] = intAttr(int64(ir.Float32))
		}
	}
	return c.emitSelf()
}

// normTile: Tile-1 took a scalar count and an axis as inputs; opset 6
// takes one repeat count per dim.
func normTile(c *nodeCtx) error {
	if c.opset >= 6 {
		return c.emitSelf()
	}
	x, err := c.need(0)
	if err != nil {
		return err
	}
	tiles, axis := c.in(1), c.in(2)
	if !tiles.IsConst() || !axis.IsConst() || tiles.Const.Len() != 1 || axis.Const.Len() != 1 {
		return c.errorf("tiles and axis must be constant scalars")
	}
	r := int64(x.Type.Rank())
	a := axis.Const.Ints()[0]
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return c.errorf("axis %d is out of range for rank %d", axis.Const.Ints()[0], r)
	}
	reps := make([]int64, r)
	for i := range reps {
		reps[i] = 1
	}
	reps[a] = tiles.Const.Ints()[0]
	c.inputs = []*ir.Value{x, c.newConst("repeats", int64Tensor(reps...))}
	return c.emitSelf()
}
