package isa

import "fmt"

// FloatOp identifies the float32 operation a `fop` instruction applies
// (the `op` field of its `fop` descriptor). The numbers are part of the
// instruction set: never renumber one, only append.
type FloatOp uint8

// The float operations, in numeric order. They are the float ops a
// quantized module may leave between a Dequantize and a quantization:
// elementwise activations and LRN.
const (
	FopLRN         FloatOp = 1
	FopRelu        FloatOp = 2
	FopLeakyRelu   FloatOp = 3
	FopElu         FloatOp = 4
	FopSelu        FloatOp = 5
	FopSigmoid     FloatOp = 6
	FopHardSigmoid FloatOp = 7
	FopHardSwish   FloatOp = 8
	FopTanh        FloatOp = 9
	FopSoftplus    FloatOp = 10
	FopSoftsign    FloatOp = 11
	FopMish        FloatOp = 12
	FopGelu        FloatOp = 13
	FopExp         FloatOp = 14
	FopLog         FloatOp = 15
	FopNeg         FloatOp = 16
	FopAbs         FloatOp = 17
	FopSqrt        FloatOp = 18
	FopReciprocal  FloatOp = 19
	FopCeil        FloatOp = 20
	FopFloor       FloatOp = 21
	FopRound       FloatOp = 22
	FopErf         FloatOp = 23
	FopSign        FloatOp = 24
	FopClip        FloatOp = 25
)

// FopInfo is one row of the float-operation table.
type FopInfo struct {
	Name   string    // the ONNX operator it implements
	Size   bool      // uses the descriptor's size field (LRN window, ≥ 1)
	Mode   int64     // largest value of the mode field (0: unused, must be 0)
	Floats [3]string // what f0, f1, f2 hold ("" : unused, must be 0)
	Doc    string    // the arithmetic, for docs/isa.md
}

// Float64 arithmetic below means: the float32 input widened to float64,
// the function evaluated in float64 (Go's math package), the result
// rounded once to float32 — exactly as pimc's FP32 interpreter does.
var fopTable = map[FloatOp]*FopInfo{
	FopLRN: {Name: "LRN", Size: true, Floats: [3]string{"alpha", "beta", "bias"},
		Doc: "x / (bias + alpha/size · Σ x²)^beta in float64 (math.Pow), the sum over the channels " +
			"ch − ⌊(size−1)/2⌋ … ch + ⌈(size−1)/2⌉ of the same batch and position, clipped to 0..c−1, in increasing channel order"},
	FopRelu:        {Name: "Relu", Doc: "max(x, 0) in float32"},
	FopLeakyRelu:   {Name: "LeakyRelu", Floats: [3]string{"alpha"}, Doc: "x < 0 ? alpha·x : x in float32"},
	FopElu:         {Name: "Elu", Floats: [3]string{"alpha"}, Doc: "x < 0 ? alpha·expm1(x) : x in float64"},
	FopSelu:        {Name: "Selu", Floats: [3]string{"alpha", "gamma"}, Doc: "x ≤ 0 ? gamma·alpha·expm1(x) : gamma·x in float64"},
	FopSigmoid:     {Name: "Sigmoid", Doc: "x ≥ 0 ? 1/(1+exp(−x)) : exp(x)/(1+exp(x)) in float64"},
	FopHardSigmoid: {Name: "HardSigmoid", Floats: [3]string{"alpha", "beta"}, Doc: "max(0, min(1, alpha·x + beta)) in float32"},
	FopHardSwish:   {Name: "HardSwish", Doc: "x · max(0, min(1, x/6 + 0.5)) in float32"},
	FopTanh:        {Name: "Tanh", Doc: "tanh(x) in float64"},
	FopSoftplus:    {Name: "Softplus", Doc: "x > 0 ? x + log1p(exp(−x)) : log1p(exp(x)) in float64"},
	FopSoftsign:    {Name: "Softsign", Doc: "x / (1 + abs(x)) in float32"},
	FopMish:        {Name: "Mish", Doc: "x · tanh(softplus(x)) in float64"},
	FopGelu: {Name: "Gelu", Mode: 1,
		Doc: "mode 0: 0.5·x·(1 + erf(x/√2)); mode 1 (approximate=tanh): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); in float64"},
	FopExp:        {Name: "Exp", Doc: "exp(x) in float64"},
	FopLog:        {Name: "Log", Doc: "log(x) in float64"},
	FopNeg:        {Name: "Neg", Doc: "−x"},
	FopAbs:        {Name: "Abs", Doc: "abs(x)"},
	FopSqrt:       {Name: "Sqrt", Doc: "sqrt(x) in float64"},
	FopReciprocal: {Name: "Reciprocal", Doc: "1/x in float32"},
	FopCeil:       {Name: "Ceil", Doc: "ceil(x)"},
	FopFloor:      {Name: "Floor", Doc: "floor(x)"},
	FopRound:      {Name: "Round", Doc: "round half to even"},
	FopErf:        {Name: "Erf", Doc: "erf(x) in float64"},
	FopSign:       {Name: "Sign", Doc: "1 if x > 0, −1 if x < 0, else x (±0 and NaN stay)"},
	FopClip:       {Name: "Clip", Floats: [3]string{"lo", "hi"}, Doc: "min(max(x, lo), hi) in float32 (lo > hi gives hi); NaN stays. An absent bound is ∓Inf"},
}

// Info returns the operation's table entry, or nil for an unknown one.
func (f FloatOp) Info() *FopInfo { return fopTable[f] }

func (f FloatOp) String() string {
	if i := fopTable[f]; i != nil {
		return i.Name
	}
	return fmt.Sprintf("fop(%d)", int(f))
}

// FloatOps lists every float operation in numeric order.
func FloatOps() []FloatOp {
	var out []FloatOp
	for i := 0; i < 256; i++ {
		if fopTable[FloatOp(i)] != nil {
			out = append(out, FloatOp(i))
		}
	}
	return out
}

// LookupFloatOp finds a float operation by its ONNX operator name.
func LookupFloatOp(name string) (FloatOp, bool) {
	for f, info := range fopTable {
		if info.Name == name {
			return f, true
		}
	}
	return 0, false
}

// FopElemOps is the PPU element operations a `fop` costs per element:
// size + 2 for LRN (size multiply-adds of the squares' sum, the power, the
// division), 1 for the elementwise operations. The cost model counts the
// same (docs/cost.md).
func FopElemOps(f FloatOp, size int64) int64 {
	if f == FopLRN {
		return size + 2
	}
	return 1
}
