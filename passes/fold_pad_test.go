package passes

import (
	"fmt"
	"math"
	"testing"

	"pimc/ir"
)

func TestFoldPad(t *testing.T) { runTxtar(t, "fold-pad") }

// TestFoldPadNumerics: random Pad→Conv, zero Pad→AveragePool
// (count_include_pad=1) and -inf Pad→MaxPool graphs give the same outputs
// before and after folding.
func TestFoldPadNumerics(t *testing.T) {
	needKernels(t, ir.OpPad, ir.OpConv, ir.OpAveragePool, ir.OpMaxPool)
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			b := newBuilder(t, seed)
			c := b.intn(1, 3)
			x := b.input("x", 1, c, b.intn(3, 6), b.intn(3, 6))
			pads := b.ints("pads", 0, 0, b.intn(0, 2), b.intn(0, 2), 0, 0, b.intn(0, 2), b.intn(0, 2))
			own := ints(b.intn(0, 1), b.intn(0, 1), b.intn(0, 1), b.intn(0, 1))
			strides := ints(b.intn(1, 2), b.intn(1, 2))
			var y *ir.Value
			switch seed % 3 {
			case 0:
				p := b.node(ir.OpPad, nil, x, pads)
				y = b.node(ir.OpConv, ir.Attrs{"pads": own, "strides": strides}, p, b.rand("w", -1, 1, 2, c, 3, 2))
			case 1:
				p := b.node(ir.OpPad, nil, x, pads, b.scalar("zero", 0))
				y = b.node(ir.OpAveragePool, ir.Attrs{"count_include_pad": intAttr(1), "kernel_shape": ints(2, 3), "pads": own, "strides": strides}, p)
			case 2:
				// Pads stay below the kernel extent (3×2), else
				// FoldPad rightly declines.
				pads := b.ints("pads", 0, 0, b.intn(0, 1), 0, 0, 0, b.intn(0, 1), b.intn(0, 1))
				p := b.node(ir.OpPad, nil, x, pads, b.scalar("ninf", float32(math.Inf(-1))))
				y = b.node(ir.OpMaxPool, ir.Attrs{"kernel_shape": ints(3, 2), "pads": ints(b.intn(0, 1), 0, b.intn(0, 1), 0), "strides": strides}, p)
			}
			b.checkPass(FoldPad, ir.OpPad, y)
		})
	}
}
