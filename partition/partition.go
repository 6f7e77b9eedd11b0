package partition

import (
	"errors"
	"fmt"

	"pimc/ir"
)

// Engines, as ir.EngineColors names them.
const (
	EngineSRAM  = "sram"  // SRAM-PIM pool: INT4 path and INT8 layers
	EngineEDRAM = "edram" // eDRAM-PIM pool: ternary-weight / binary-activation path
	EngineDual  = "dual"  // a split layer: both pools at once
	EnginePPU   = "ppu"   // digital post-processing unit
)

// Doc is the one-line description for the pipeline's pass table.
const Doc = "assign every op an engine: INT4/INT8 layers to SRAM-PIM, ternary to eDRAM-PIM, split layers to both, the rest to the PPU"

// Assign is the partition pass: it sets Engine and Precision on every node
// of a quantized module (see the package comment for the rules). A float
// or ONNX-integer Conv/Gemm/MatMul still in the graph is an error naming
// the node, since no engine can run it: the quantize pass must run first.
// Every such node is reported, not just the first. Assign is idempotent.
func Assign(m *ir.Module) error {
	if m == nil || m.Graph == nil {
		return errors.New("partition: module has no graph")
	}
	var errs []error
	// format records each value's number format as it is produced, for
	// the precision of the PPU ops that read it.
	format := map[*ir.Value]string{}
	for _, n := range m.Graph.Nodes {
		f := valueFormat(n, format)
		eng, prec, err := decide(n, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n.Engine, n.Precision = eng, prec
		if o := n.Out(0); o != nil {
			format[o] = f
		}
	}
	return errors.Join(errs...)
}

// decide applies the rules of the package comment; out is the format of
// the node's output, the precision of a PPU op.
func decide(n *ir.Node, out string) (engine, precision string, err error) {
	switch n.Op {
	case ir.OpDualConv, ir.OpDualGemm:
		n4, nt := rows(n.In(1)), rows(n.In(2))
		switch {
		case n4 > 0 && nt > 0:
			return EngineDual, "dual", nil
		case n4 > 0:
			return EngineSRAM, "int4", nil
		case nt > 0:
			return EngineEDRAM, "tb", nil
		}
		return "", "", n.Errorf("split layer has neither INT4 nor ternary output channels")
	case ir.OpQConv, ir.OpQGemm:
		return EngineSRAM, fmt.Sprintf("int%d", n.Int("w_bits", 8)), nil
	case ir.OpConv, ir.OpGemm, ir.OpMatMul, ir.OpConvInteger, ir.OpQLinearConv, ir.OpMatMulInteger, ir.OpQLinearMatMul:
		return "", "", n.Errorf("float layer left in the graph: no engine runs it (run the quantize pass before partition)")
	}
	return EnginePPU, out, nil
}

// rows is the leading dimension of a weight operand (its output channels).
func rows(v *ir.Value) int64 {
	if v == nil || len(v.Type.Shape) == 0 {
		return 0
	}
	return v.Type.Shape[0]
}

// valueFormat names the number format of n's first output: "fp32" (or
// fp16/fp64) for float values; for codes the width from out_bits (bits
// for QuantizeInput); otherwise the format of input 0, which ops such as
// QRelu, QMaxPool, QConcat and Reshape/Flatten of codes keep; else the
// dtype's width.
func valueFormat(n *ir.Node, format map[*ir.Value]string) string {
	o := n.Out(0)
	if o == nil {
		return ""
	}
	switch o.Type.DType {
	case ir.Float32:
		return "fp32"
	case ir.Float16:
		return "fp16"
	case ir.Float64:
		return "fp64"
	}
	if b := n.Int("out_bits", 0); b > 0 {
		return fmt.Sprintf("int%d", b)
	}
	if n.Op == ir.OpQuantizeInput {
		return fmt.Sprintf("int%d", n.Int("bits", 8))
	}
	if f, ok := format[n.In(0)]; ok && n.In(0) != nil {
		return f
	}
	return fmt.Sprintf("int%d", dtypeBits(o.Type.DType))
}

func dtypeBits(dt ir.DType) int {
	switch dt {
	case ir.Bool, ir.Uint8, ir.Int8:
		return 8
	case ir.Uint16, ir.Int16:
		return 16
	case ir.Int64, ir.Uint64:
		return 64
	}
	return 32
}
