package passes

import "pimc/ir"

// ResolveAutoPad ("resolve-auto-pad") turns auto_pad SAME_UPPER,
// SAME_LOWER and VALID on Conv, ConvInteger, QLinearConv, MaxPool and
// AveragePool into explicit pads (as ir.ResolveConv computes them) and
// drops the auto_pad attribute, NOTSET included, so later stages see one
// form. For pools it also drops ceil_mode: ONNX sizes SAME and VALID
// outputs without it, and with the explicit pads floor rounding gives
// exactly those sizes. Output types never change; the pass checks that.
//
// Prerequisites: none.
func ResolveAutoPad(m *ir.Module) error {
	for _, n := range m.Graph.Nodes {
		if !n.Has("auto_pad") {
			continue
		}
		switch ap := n.Str("auto_pad", "NOTSET"); ap {
		case "NOTSET", "":
			delete(n.Attrs, "auto_pad")
		case "SAME_UPPER", "SAME_LOWER", "VALID":
			if err := resolveAutoPad(n); err != nil {
				return err
			}
		default:
			return n.Errorf("unknown auto_pad %q", ap)
		}
	}
	return nil
}

func resolveAutoPad(n *ir.Node) error {
	var kernel []int64
	switch n.Op {
	case ir.OpConv, ir.OpConvInteger:
		kernel = n.In(1).Type.Shape[2:]
	case ir.OpQLinearConv:
		kernel = n.In(3).Type.Shape[2:]
	case ir.OpMaxPool, ir.OpAveragePool:
		kernel = n.IntList("kernel_shape", nil)
	default:
		panic("BUG: resolve-auto-pad does not know where " + n.Op.String() + " keeps its kernel")
	}
	in := n.In(0).Type.Shape
	if len(in) < 3 {
		return n.Errorf("input %s has no spatial dims", n.In(0).Type)
	}
	geo, err := ir.ResolveConv(n, in[2:], kernel, false)
	if err != nil {
		return n.Errorf("%v", err)
	}
	before := make([]ir.Type, len(n.Outputs))
	for i, o := range n.Outputs {
		if o != nil {
			before[i] = o.Type
		}
	}
	n.SetInts("pads", geo.Pads)
	delete(n.Attrs, "ceil_mode")
	delete(n.Attrs, "auto_pad")
	err = ir.InferNode(n)
	for i, o := range n.Outputs {
		if o == nil {
			continue
		}
		if err == nil && !o.Type.Equal(before[i]) {
			err = n.Errorf("output %q changed from %s to %s", o.Name, before[i], o.Type)
		}
		o.Type = before[i] // keep symbolic dim names
	}
	if err != nil {
		panic("BUG: resolve-auto-pad: " + err.Error())
	}
	return nil
}
