package ir

import (
	"fmt"
	"strings"
)

// Op identifies an operator; OpInfo(op) gives its table entry.
type Op uint16

// OpInfo is one row of the op table shared by the importer, the printer,
// the verifier and shape inference.
type OpInfo struct {
	Name   string
	Domain string // "" = ai.onnx; "pimc" for pimc's own ops
	MinIn  int
	MaxIn  int // -1 = variadic
	MinOut int
	MaxOut int
	Attrs  map[string]AttrSpec
	Infer  func(n *Node) error
	Doc    string
}

// AttrSpec declares one attribute an op accepts.
type AttrSpec struct {
	Kind     AttrKind
	Required bool
}

func (o Op) String() string {
	if int(o) < len(opTable) {
		return opTable[o].Name
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// Info returns the op's table entry.
func (o Op) Info() *OpInfo { return &opTable[o] }

// Valid reports whether o is a known op.
func (o Op) Valid() bool { return o > 0 && int(o) < len(opTable) }

// LookupOp finds an op by domain and name. ONNX's default domain may be
// written "" or "ai.onnx".
func LookupOp(domain, name string) (Op, bool) {
	if domain == "ai.onnx" {
		domain = ""
	}
	op, ok := opByName[domain+"::"+name]
	return op, ok
}

// Ops lists every op (for documentation and tests).
func Ops() []Op {
	out := make([]Op, 0, len(opTable)-1)
	for i := 1; i < len(opTable); i++ {
		out = append(out, Op(i))
	}
	return out
}

var (
	opTable  = []OpInfo{{Name: "invalid"}}
	opByName = map[string]Op{}
)

// defOp registers an op. attrs is a compact spec: "name:kind[!]" separated
// by spaces, kind one of i f s is fs ss t; "!" marks a required attribute.
func defOp(domain, name string, minIn, maxIn, minOut, maxOut int, attrs string, infer func(*Node) error, doc string) Op {
	spec := map[string]AttrSpec{}
	for _, f := range strings.Fields(attrs) {
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			panic("BUG: bad attr spec " + f)
		}
		req := strings.HasSuffix(v, "!")
		v = strings.TrimSuffix(v, "!")
		kind := map[string]AttrKind{"i": AttrInt, "f": AttrFloat, "s": AttrString, "is": AttrInts, "fs": AttrFloats, "ss": AttrStrings, "t": AttrTensor}[v]
		if kind == AttrNone {
			panic("BUG: bad attr kind " + f)
		}
		spec[k] = AttrSpec{Kind: kind, Required: req}
	}
	op := Op(len(opTable))
	opTable = append(opTable, OpInfo{Name: name, Domain: domain, MinIn: minIn, MaxIn: maxIn, MinOut: minOut, MaxOut: maxOut, Attrs: spec, Infer: infer, Doc: doc})
	opByName[domain+"::"+name] = op
	return op
}

const convAttrs = "auto_pad:s dilations:is group:i kernel_shape:is pads:is strides:is"
const poolAttrs = "auto_pad:s ceil_mode:i dilations:is kernel_shape:is! pads:is strides:is"

// The canonical IR uses each ONNX operator in its newest form (opset 13+
// inputs instead of attributes: Clip min/max, Pad pads, Squeeze/Unsqueeze
// and Reduce* axes, Split sizes, Slice starts/ends); the importer rewrites
// older opsets into it.
var (
	OpConv          = defOp("", "Conv", 2, 3, 1, 1, convAttrs, inferConv, "%y = Conv(%x, %w[, %b])")
	OpGemm          = defOp("", "Gemm", 2, 3, 1, 1, "alpha:f beta:f transA:i transB:i", inferGemm, "%y = Gemm(%a, %b[, %c])")
	OpMatMul        = defOp("", "MatMul", 2, 2, 1, 1, "", inferMatMul, "%y = MatMul(%a, %b)")
	OpMaxPool       = defOp("", "MaxPool", 1, 1, 1, 2, poolAttrs+" storage_order:i", inferPool, "%y[, %idx] = MaxPool(%x)")
	OpAveragePool   = defOp("", "AveragePool", 1, 1, 1, 1, poolAttrs+" count_include_pad:i", inferPool, "%y = AveragePool(%x)")
	OpGlobalAvgPool = defOp("", "GlobalAveragePool", 1, 1, 1, 1, "", inferGlobalPool, "%y = GlobalAveragePool(%x)")
	OpGlobalMaxPool = defOp("", "GlobalMaxPool", 1, 1, 1, 1, "", inferGlobalPool, "%y = GlobalMaxPool(%x)")
	OpBatchNorm     = defOp("", "BatchNormalization", 5, 5, 1, 1, "epsilon:f momentum:f training_mode:i", inferBatchNorm, "%y = BatchNormalization(%x, %scale, %bias, %mean, %var)")
	OpInstanceNorm  = defOp("", "InstanceNormalization", 3, 3, 1, 1, "epsilon:f", inferSameAsFirst, "%y = InstanceNormalization(%x, %scale, %bias)")
	OpLRN           = defOp("", "LRN", 1, 1, 1, 1, "alpha:f beta:f bias:f size:i!", inferSameAsFirst, "%y = LRN(%x)")

	OpRelu        = unary("Relu", "")
	OpLeakyRelu   = unary("LeakyRelu", "alpha:f")
	OpElu         = unary("Elu", "alpha:f")
	OpSelu        = unary("Selu", "alpha:f gamma:f")
	OpSigmoid     = unary("Sigmoid", "")
	OpHardSigmoid = unary("HardSigmoid", "alpha:f beta:f")
	OpHardSwish   = unary("HardSwish", "")
	OpTanh        = unary("Tanh", "")
	OpSoftplus    = unary("Softplus", "")
	OpSoftsign    = unary("Softsign", "")
	OpMish        = unary("Mish", "")
	OpGelu        = unary("Gelu", "approximate:s")
	OpExp         = unary("Exp", "")
	OpLog         = unary("Log", "")
	OpNeg         = unary("Neg", "")
	OpAbs         = unary("Abs", "")
	OpSqrt        = unary("Sqrt", "")
	OpReciprocal  = unary("Reciprocal", "")
	OpCeil        = unary("Ceil", "")
	OpFloor       = unary("Floor", "")
	OpRound       = unary("Round", "")
	OpErf         = unary("Erf", "")
	OpSign        = unary("Sign", "")
	OpIdentity    = unary("Identity", "")
	OpPRelu       = defOp("", "PRelu", 2, 2, 1, 1, "", inferBroadcast, "%y = PRelu(%x, %slope)")
	OpClip        = defOp("", "Clip", 1, 3, 1, 1, "", inferSameAsFirst, "%y = Clip(%x[, %min[, %max]])")
	OpDropout     = defOp("", "Dropout", 1, 3, 1, 2, "seed:i", inferDropout, "%y[, %mask] = Dropout(%x[, %ratio[, %training]])")
	OpCast        = defOp("", "Cast", 1, 1, 1, 1, "to:i! saturate:i", inferCast, "%y = Cast(%x) {to}")
	OpSoftmax     = defOp("", "Softmax", 1, 1, 1, 1, "axis:i", inferSameAsFirst, "%y = Softmax(%x) {axis}")
	OpLogSoftmax  = defOp("", "LogSoftmax", 1, 1, 1, 1, "axis:i", inferSameAsFirst, "%y = LogSoftmax(%x) {axis}")

	OpAdd  = binary("Add")
	OpSub  = binary("Sub")
	OpMul  = binary("Mul")
	OpDiv  = binary("Div")
	OpPow  = defOp("", "Pow", 2, 2, 1, 1, "", inferBroadcastFirstType, "%y = Pow(%x, %e)")
	OpMax  = defOp("", "Max", 1, -1, 1, 1, "", inferBroadcast, "%y = Max(%a, ...)")
	OpMin  = defOp("", "Min", 1, -1, 1, 1, "", inferBroadcast, "%y = Min(%a, ...)")
	OpSum  = defOp("", "Sum", 1, -1, 1, 1, "", inferBroadcast, "%y = Sum(%a, ...)")
	OpMean = defOp("", "Mean", 1, -1, 1, 1, "", inferBroadcast, "%y = Mean(%a, ...)")

	OpReshape         = defOp("", "Reshape", 2, 2, 1, 1, "allowzero:i", inferReshape, "%y = Reshape(%x, %shape)")
	OpFlatten         = defOp("", "Flatten", 1, 1, 1, 1, "axis:i", inferFlatten, "%y = Flatten(%x) {axis}")
	OpTranspose       = defOp("", "Transpose", 1, 1, 1, 1, "perm:is", inferTranspose, "%y = Transpose(%x) {perm}")
	OpSqueeze         = defOp("", "Squeeze", 1, 2, 1, 1, "", inferSqueeze, "%y = Squeeze(%x[, %axes])")
	OpUnsqueeze       = defOp("", "Unsqueeze", 2, 2, 1, 1, "", inferUnsqueeze, "%y = Unsqueeze(%x, %axes)")
	OpConcat          = defOp("", "Concat", 1, -1, 1, 1, "axis:i!", inferConcat, "%y = Concat(%a, ...) {axis}")
	OpSplit           = defOp("", "Split", 1, 2, 1, -1, "axis:i num_outputs:i", inferSplit, "%y0, ... = Split(%x[, %split]) {axis}")
	OpSlice           = defOp("", "Slice", 3, 5, 1, 1, "", inferSlice, "%y = Slice(%x, %starts, %ends[, %axes[, %steps]])")
	OpGather          = defOp("", "Gather", 2, 2, 1, 1, "axis:i", inferGather, "%y = Gather(%x, %indices) {axis}")
	OpTile            = defOp("", "Tile", 2, 2, 1, 1, "", inferTile, "%y = Tile(%x, %repeats)")
	OpExpand          = defOp("", "Expand", 2, 2, 1, 1, "", inferExpand, "%y = Expand(%x, %shape)")
	OpShape           = defOp("", "Shape", 1, 1, 1, 1, "start:i end:i", inferShape, "%y = Shape(%x) {start, end}")
	OpConstantOfShape = defOp("", "ConstantOfShape", 1, 1, 1, 1, "value:t", inferConstantOfShape, "%y = ConstantOfShape(%shape) {value}")
	OpPad             = defOp("", "Pad", 2, 4, 1, 1, "mode:s", inferPad, "%y = Pad(%x, %pads[, %value[, %axes]]) {mode}")
	OpDepthToSpace    = defOp("", "DepthToSpace", 1, 1, 1, 1, "blocksize:i! mode:s", inferDepthToSpace, "%y = DepthToSpace(%x) {blocksize, mode}")
	OpSpaceToDepth    = defOp("", "SpaceToDepth", 1, 1, 1, 1, "blocksize:i!", inferSpaceToDepth, "%y = SpaceToDepth(%x) {blocksize}")
	OpReduceMean      = reduce("ReduceMean")
	OpReduceMax       = reduce("ReduceMax")
	OpReduceMin       = reduce("ReduceMin")
	OpReduceSum       = reduce("ReduceSum")

	OpQuantizeLinear   = defOp("", "QuantizeLinear", 2, 3, 1, 1, "axis:i saturate:i block_size:i output_dtype:i", inferQuantize, "%q = QuantizeLinear(%x, %scale[, %zp])")
	OpDequantizeLinear = defOp("", "DequantizeLinear", 2, 3, 1, 1, "axis:i block_size:i", inferDequantize, "%y = DequantizeLinear(%q, %scale[, %zp])")
	OpQLinearConv      = defOp("", "QLinearConv", 8, 9, 1, 1, convAttrs, inferQLinearConv, "%y = QLinearConv(%x, %xs, %xzp, %w, %ws, %wzp, %ys, %yzp[, %b])")
	OpQLinearMatMul    = defOp("", "QLinearMatMul", 8, 8, 1, 1, "", inferQLinearMatMul, "%y = QLinearMatMul(%a, %as, %azp, %b, %bs, %bzp, %ys, %yzp)")
	OpConvInteger      = defOp("", "ConvInteger", 2, 4, 1, 1, convAttrs, inferConvInteger, "%y = ConvInteger(%x, %w[, %xzp[, %wzp]])")
	OpMatMulInteger    = defOp("", "MatMulInteger", 2, 4, 1, 1, "", inferMatMulInteger, "%y = MatMulInteger(%a, %b[, %azp[, %bzp]])")
)

func unary(name, attrs string) Op {
	return defOp("", name, 1, 1, 1, 1, attrs, inferSameAsFirst, "%y = "+name+"(%x)")
}

func binary(name string) Op {
	return defOp("", name, 2, 2, 1, 1, "", inferBroadcast, "%y = "+name+"(%a, %b)")
}

func reduce(name string) Op {
	return defOp("", name, 1, 2, 1, 1, "keepdims:i noop_with_empty_axes:i", inferReduce, "%y = "+name+"(%x[, %axes]) {keepdims}")
}
