package passes

import (
	"fmt"
	"testing"

	"pimc/ir"
)

func TestFoldBatchNorm(t *testing.T) { runTxtar(t, "fold-batchnorm") }

// TestFoldBatchNormNumerics: on random Conv→BN→Relu, Gemm→BN,
// MatMul→BN, Gemm→Unsqueeze→BN→Squeeze and forward (Relu→BN→Gemm) graphs
// the interpreter gives the same outputs before and after folding.
func TestFoldBatchNormNumerics(t *testing.T) {
	needKernels(t, ir.OpConv, ir.OpBatchNorm, ir.OpRelu, ir.OpGemm, ir.OpMatMul, ir.OpUnsqueeze, ir.OpSqueeze)
	for seed := range uint64(50) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			b := newBuilder(t, seed)
			var y *ir.Value
			switch seed % 5 {
			case 0: // Conv (maybe grouped, maybe without bias) → BN → Relu
				group := b.intn(1, 2)
				cin, cout := group*b.intn(1, 3), group*b.intn(1, 3)
				k := b.intn(1, 3)
				x := b.input("x", 2, cin, b.intn(int(k), 7), b.intn(int(k), 7))
				ins := []*ir.Value{x, b.rand("w", -1, 1, cout, cin/group, k, k)}
				if b.rng.IntN(2) == 0 {
					ins = append(ins, b.rand("b", -1, 1, cout))
				}
				c := b.node(ir.OpConv, ir.Attrs{"group": intAttr(group), "pads": ints(1, 0, 1, 0), "strides": ints(b.intn(1, 2), 1)}, ins...)
				y = b.node(ir.OpRelu, nil, b.bn(c))
			case 1: // Gemm with transB, alpha, beta and various biases → BN
				m, k, n := b.intn(1, 4), b.intn(1, 5), b.intn(1, 6)
				x := b.input("x", m, k)
				transB := b.intn(0, 1)
				w := b.rand("B", -1, 1, k, n)
				if transB == 1 {
					w = b.rand("B", -1, 1, n, k)
				}
				ins := []*ir.Value{x, w}
				switch b.rng.IntN(4) {
				case 1:
					ins = append(ins, b.rand("C", -1, 1, n))
				case 2:
					ins = append(ins, b.rand("C", -1, 1, m, n))
				case 3:
					ins = append(ins, b.rand("C", -1, 1, m, 1))
				}
				attrs := ir.Attrs{"transB": intAttr(transB), "alpha": floatAttr(float32(0.5 + b.rng.Float64())), "beta": floatAttr(float32(0.5 + b.rng.Float64()))}
				y = b.bn(b.node(ir.OpGemm, attrs, ins...))
			case 2: // MatMul → BN
				m, k, n := b.intn(1, 4), b.intn(1, 5), b.intn(1, 6)
				y = b.bn(b.node(ir.OpMatMul, nil, b.input("x", m, k), b.rand("W", -1, 1, k, n)))
			case 3: // PyTorch BatchNorm1d: Gemm → Unsqueeze → BN → Squeeze
				m, k, n := b.intn(1, 4), b.intn(1, 5), b.intn(1, 6)
				g := b.node(ir.OpGemm, ir.Attrs{"transB": intAttr(1)}, b.input("x", m, k), b.rand("B", -1, 1, n, k), b.rand("C", -1, 1, n))
				ax := b.ints("axes", 2)
				y = b.node(ir.OpSqueeze, nil, b.bn(b.node(ir.OpUnsqueeze, nil, g, ax)), ax)
			case 4: // forward: Relu → [Unsqueeze →] BN [→ Squeeze] → Gemm or MatMul
				m, k, n := b.intn(1, 4), b.intn(1, 5), b.intn(1, 6)
				r := b.node(ir.OpRelu, nil, b.input("x", m, k))
				var z *ir.Value
				if b.rng.IntN(2) == 0 {
					ax := b.ints("axes", 2)
					z = b.node(ir.OpSqueeze, nil, b.bn(b.node(ir.OpUnsqueeze, nil, r, ax)), ax)
				} else {
					z = b.bn(r)
				}
				if b.rng.IntN(2) == 0 {
					y = b.node(ir.OpMatMul, nil, z, b.rand("W", -1, 1, k, n))
				} else {
					attrs := ir.Attrs{"transB": intAttr(1), "alpha": floatAttr(float32(0.5 + b.rng.Float64())), "beta": floatAttr(float32(0.5 + b.rng.Float64()))}
					y = b.node(ir.OpGemm, attrs, z, b.rand("B", -1, 1, n, k), b.rand("C", -1, 1, 1, n))
				}
			}
			b.checkPass(FoldBatchNorm, ir.OpBatchNorm, y)
		})
	}
}
