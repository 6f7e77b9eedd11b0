package passes

import (
	"fmt"
	"testing"

	"pimc/ir"
)

func TestResolveAutoPad(t *testing.T) { runTxtar(t, "resolve-auto-pad") }

// TestResolveAutoPadNumerics: Conv and pools with random auto_pad modes
// compute the same before and after the pads are made explicit.
func TestResolveAutoPadNumerics(t *testing.T) {
	needKernels(t, ir.OpConv, ir.OpMaxPool, ir.OpAveragePool)
	modes := []string{"SAME_UPPER", "SAME_LOWER", "VALID"}
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			b := newBuilder(t, seed)
			x := b.input("x", 1, 2, b.intn(3, 8), b.intn(3, 8))
			ap := &ir.Attr{Kind: ir.AttrString, Str: modes[seed%3]}
			strides := ints(b.intn(1, 3), b.intn(1, 3))
			var y *ir.Value
			switch seed % 5 {
			case 0, 1:
				y = b.node(ir.OpConv, ir.Attrs{"auto_pad": ap, "strides": strides}, x, b.rand("w", -1, 1, 3, 2, b.intn(1, 3), b.intn(1, 3)))
			case 2, 3:
				y = b.node(ir.OpMaxPool, ir.Attrs{"auto_pad": ap, "strides": strides, "kernel_shape": ints(b.intn(1, 3), b.intn(1, 3)), "ceil_mode": intAttr(b.intn(0, 1))}, x)
			case 4:
				y = b.node(ir.OpAveragePool, ir.Attrs{"auto_pad": ap, "strides": strides, "kernel_shape": ints(b.intn(1, 3), b.intn(1, 3))}, x)
			}
			b.checkPass(ResolveAutoPad, 0, y)
			for _, n := range b.m.Graph.Nodes {
				if n.Has("auto_pad") {
					t.Errorf("%s keeps auto_pad", n.Where())
				}
			}
		})
	}
}
