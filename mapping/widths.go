package mapping

import "pimc/ir"

// ValueWidths gives every activation's stored width in bits per element
// (docs/cost.md, "Activation widths"): graph inputs and float values by
// dtype; codes by the producer's out_bits (bits for QuantizeInput); ops
// that keep their input's dtype (QRelu, QMaxPool, QConcat, reshapes) keep
// its width; anything else by dtype. The cost model counts buffer traffic
// with these widths and the backend lays activations out with them, so
// both take them from here.
func ValueWidths(m *ir.Module) map[*ir.Value]int64 {
	w := map[*ir.Value]int64{}
	for _, v := range m.Graph.Inputs {
		w[v] = DTypeBits(v.Type.DType)
	}
	for _, n := range m.Graph.Nodes {
		for k, o := range n.Outputs {
			if o == nil {
				continue
			}
			w[o] = DTypeBits(o.Type.DType)
			if k != 0 || o.Type.DType.IsFloat() {
				continue
			}
			in := n.In(0)
			switch {
			case n.Int("out_bits", 0) > 0:
				w[o] = n.Int("out_bits", 0)
			case n.Op == ir.OpQuantizeInput:
				w[o] = n.Int("bits", 8)
			case in != nil && !in.IsConst() && in.Type.DType == o.Type.DType && w[in] > 0:
				w[o] = w[in]
			}
		}
	}
	return w
}

// DTypeBits is the stored width of one element of dt.
func DTypeBits(dt ir.DType) int64 {
	switch dt {
	case ir.Bool, ir.Uint8, ir.Int8:
		return 8
	case ir.Uint16, ir.Int16, ir.Float16:
		return 16
	case ir.Int64, ir.Uint64, ir.Float64:
		return 64
	}
	return 32
}
