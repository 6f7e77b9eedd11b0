package interp

import (
	"fmt"

	"pimc/ir"
)

func init() {
	register(ir.OpConv, convKernel)
	runKernels[ir.OpConv] = conv
	register(ir.OpGemm, gemmKernel)
	register(ir.OpMatMul, matMulKernel)
}

// gemmKernel: Y = alpha·A'·B' + beta·C, with C broadcast to [M, N]. The
// product is accumulated onto beta·C, so each element is beta·c + Σ in
// SGEMM's fixed order.
func gemmKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	a, b, c := in[0], in[1], in[2]
	if !a.DType.IsFloat() || !b.DType.IsFloat() || (c != nil && !c.DType.IsFloat()) {
		return nil, fmt.Errorf("Gemm of %s, %s and %s is not supported (float only)", a.DType, b.DType, dtypeOf(c))
	}
	y := newOut(n, 0)
	m, nn := int(y.Shape[0]), int(y.Shape[1])
	k := int(a.Shape[1])
	am := matrix{a.F, k, 1}
	if n.Int("transA", 0) != 0 {
		k = int(a.Shape[0])
		am = matrix{a.F, 1, m}
	}
	bm := matrix{b.F, nn, 1}
	if n.Int("transB", 0) != 0 {
		bm = matrix{b.F, 1, k}
	}
	alpha, beta := n.Float("alpha", 1), n.Float("beta", 1)
	acc := false
	if c != nil && !broadcastsTo(c.Shape, y.Shape) {
		return nil, fmt.Errorf("bias %v does not broadcast to %v", c.Shape, y.Shape)
	}
	if c != nil && beta != 0 {
		expandTo(y.F, c.F, c.Shape, y.Shape)
		if beta != 1 {
			for i := range y.F {
				y.F[i] *= beta
			}
		}
		acc = true
	}
	sgemm(m, nn, k, alpha, am, bm, y.F, nn, acc)
	return []*ir.Tensor{y}, nil
}

// matMulKernel is numpy matmul: 1-D operands are promoted to a row
// (first) or column (second) and the promoted dim dropped; leading dims
// broadcast. Each batch is one SGEMM.
func matMulKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	a, b := in[0], in[1]
	if !a.DType.IsFloat() || !b.DType.IsFloat() {
		return nil, fmt.Errorf("MatMul of %s and %s is not supported", a.DType, b.DType)
	}
	y := newOut(n, 0)
	as, bs := a.Shape, b.Shape
	if len(as) == 1 {
		as = []int64{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int64{bs[0], 1}
	}
	m, k, nn := int(as[len(as)-2]), int(as[len(as)-1]), int(bs[len(bs)-1])
	abatch, bbatch := as[:len(as)-2], bs[:len(bs)-2]
	batch, err := ir.BroadcastShapes(abatch, bbatch)
	if err != nil {
		return nil, err
	}
	aoff, boff := batchOffsets(abatch, batch, m*k), batchOffsets(bbatch, batch, k*nn)
	for i := range aoff {
		sgemm(m, nn, k, 1, matrix{a.F[aoff[i]:], k, 1}, matrix{b.F[boff[i]:], nn, 1}, y.F[i*m*nn:], nn, false)
	}
	return []*ir.Tensor{y}, nil
}

// batchOffsets returns, for each index of the broadcast batch shape, the
// element offset of the matching matrix of an operand with batch shape s.
func batchOffsets(s, batch []int64, mat int) []int {
	total := blockLen(batch)
	offs := make([]int, 0, total)
	if total == 0 {
		return offs
	}
	bc := newBcast(batch, s)
	bc.rows(func(_ int, off, inner []int, cnt int) {
		for i := 0; i < cnt; i++ {
			offs = append(offs, (off[0]+i*inner[0])*mat)
		}
	})
	return offs
}

func dtypeOf(t *ir.Tensor) ir.DType {
	if t == nil {
		return ir.Undefined
	}
	return t.DType
}
