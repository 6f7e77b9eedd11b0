package passes

import "pimc/ir"

// FuseMatMulAdd ("fuse-matmul-add") rewrites MatMul(x[M,K], W[K,N]) whose
// only reader is an Add of a constant bias into Gemm(x, W, bias), so that
// later passes (BatchNorm folding, the DualNet split) see one
// fully-connected layer with its bias. W must be a constant; the bias may
// be either Add operand and must broadcast to the MatMul output without
// changing its shape and have rank ≤ 2 ([N], [1,N], [M,N] or a scalar), as
// Gemm's C requires. The Gemm takes over the Add's output value.
//
// Prerequisites: fold-constants (weights and bias must be constants).
func FuseMatMulAdd(m *ir.Module) error {
	g := m.Graph
	users := g.Users()
	dead := map[*ir.Node]bool{}
	for _, mm := range g.Nodes {
		if mm.Op != ir.OpMatMul {
			continue
		}
		x, w, y := mm.In(0), mm.In(1), mm.Out(0)
		if x.Type.Rank() != 2 || w.Type.Rank() != 2 || floatConst(w) == nil || x.Type.DType != ir.Float32 {
			continue
		}
		add := soleUser(g, users, y)
		if add == nil || add.Op != ir.OpAdd || add.In(0) == add.In(1) {
			continue
		}
		bias := add.In(1)
		if bias == y {
			bias = add.In(0)
		}
		if floatConst(bias) == nil || bias.Type.Rank() > 2 || !add.Out(0).Type.Equal(y.Type) {
			continue
		}
		z := add.Out(0)
		mm.Op = ir.OpGemm
		mm.Inputs = []*ir.Value{x, w, bias}
		mm.Outputs[0], z.Def = z, mm
		dead[add] = true
	}
	removeNodes(g, dead)
	return nil
}
