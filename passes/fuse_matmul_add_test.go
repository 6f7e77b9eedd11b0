package passes

import (
	"fmt"
	"testing"

	"pimc/ir"
)

func TestFuseMatMulAdd(t *testing.T) { runTxtar(t, "fuse-matmul-add") }

func TestFuseMatMulAddNumerics(t *testing.T) {
	needKernels(t, ir.OpMatMul, ir.OpAdd, ir.OpGemm)
	for seed := range uint64(10) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			b := newBuilder(t, seed)
			m, k, n := b.intn(1, 4), b.intn(1, 5), b.intn(1, 6)
			mm := b.node(ir.OpMatMul, nil, b.input("x", m, k), b.rand("W", -1, 1, k, n))
			bias := [][]int64{{n}, {1, n}, {m, n}, {m, 1}}[seed%4]
			y := b.node(ir.OpAdd, nil, b.rand("bias", -1, 1, bias...), mm)
			b.checkPass(FuseMatMulAdd, ir.OpMatMul, y)
		})
	}
}
