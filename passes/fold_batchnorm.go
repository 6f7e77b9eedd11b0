package passes

import (
	"cmp"
	"math"
	"slices"
	"unsafe"

	"pimc/ir"
)

// FoldBatchNorm ("fold-batchnorm") folds an inference-mode
// BatchNormalization into the layer that produces its input, when that
// layer is a Conv, a Gemm or a 2-D MatMul with constant weights (and
// constant bias, if any) whose output nothing else reads. With
// f[c] = γ[c]/√(var[c]+ε):
//
//	w'[c,...] = w[c,...]·f[c]        b'[c] = (b[c]−mean[c])·f[c] + β[c]
//
// computed in float64 and rounded to float32 once. For Gemm, column c of
// the (possibly transposed) B is scaled and β_gemm·C is folded into the new
// bias (beta becomes 1); a MatMul becomes a Gemm with that bias.
//
// The BN may also sit behind an Unsqueeze that only appends unit dims (the
// BatchNorm1d of PyTorch's LeNet exports, Gemm→Unsqueeze→BN→Squeeze): the
// channel axis is still 1, so the BN folds into the Gemm, and a Squeeze
// that undoes the Unsqueeze disappears too.
//
// When the producer cannot take the BN (PyTorch's lenet5_bn1d has
// Gemm→Relu→Unsqueeze→BN→Squeeze→Gemm), the BN folds forward into the
// fully-connected layer that reads it instead, if that is a Gemm (transA=0)
// or 2-D MatMul with constant weights and the BN output's only reader:
// X·B = (x·f + shift)·B, so row k of B is scaled by f[k] and the bias gains
// α·shift·B. Forward folding into a Conv is not done: its zero padding
// would not be shifted.
//
// A BN that cannot be folded is left alone; the interpreter runs it and
// calibration can still read its statistics. Folding never changes the
// names of values that remain: the producer takes over the BN's output.
//
// Prerequisites: fold-constants (weights generated in the graph must be
// constants), remove-identity (an Identity or Dropout between the layer and
// the BN hides the pattern), fuse-matmul-add (MatMul→Add→BN folds only once
// the Add is the Gemm's bias).
func FoldBatchNorm(m *ir.Module) error {
	return foldBatchNorm(m, false)
}

// FoldBatchNormInPlace is fold-batchnorm for a module that owns its
// constant tensors: the caller guarantees that no other module (a Clone
// shares tensors) and nothing outside the module refers to them or to
// their storage. It then scales weights where they are instead of
// allocating scaled copies, for each weight that only the folded layer
// reads and whose storage no other constant of the module overlaps (two
// values may share a tensor, and a folded Reshape may share its input's
// elements). The result is the same as FoldBatchNorm's.
func FoldBatchNormInPlace(m *ir.Module) error {
	return foldBatchNorm(m, true)
}

func foldBatchNorm(m *ir.Module, inPlace bool) error {
	g := m.Graph
	fx := &bnFolder{m: m, dead: map[*ir.Node]bool{}}
	if inPlace {
		fx.own = exclusiveFloatConsts(g)
	}
	for _, bn := range append([]*ir.Node{}, g.Nodes...) {
		if bn.Op != ir.OpBatchNorm {
			continue
		}
		// Users are recomputed per BN since each fold rewires values.
		fx.users = g.Users()
		fx.foldBN(bn)
	}
	removeNodes(g, fx.dead)
	dropUnusedConsts(g)
	return nil
}

// bnFolder is one run of fold-batchnorm.
type bnFolder struct {
	m     *ir.Module
	users map[*ir.Value][]*ir.Node
	dead  map[*ir.Node]bool
	// own holds the tensors that may be scaled in place (nil: none).
	// Folding never adds a tensor that overlaps another, so what held
	// when the pass started holds throughout.
	own map[*ir.Tensor]bool
}

// weightsFor returns the tensor that the folded weights of v, a constant
// operand of layer, go to: v's own tensor when layer is v's only reader
// and the tensor is not shared, else a new tensor of v's shape. Writing
// element i after reading it is all a fold does, so source and
// destination may be the same.
func (fx *bnFolder) weightsFor(v *ir.Value, layer *ir.Node) *ir.Tensor {
	if fx.own[v.Const] && soleUser(fx.m.Graph, fx.users, v) == layer {
		return v.Const
	}
	return ir.NewTensor(ir.Float32, v.Const.Shape...)
}

// exclusiveFloatConsts returns the float32 constant tensors of g that
// exactly one value holds and whose elements no other constant's overlap.
func exclusiveFloatConsts(g *ir.Graph) map[*ir.Tensor]bool {
	holders := map[*ir.Tensor]map[*ir.Value]bool{}
	note := func(v *ir.Value) {
		if !v.IsConst() {
			return
		}
		if holders[v.Const] == nil {
			holders[v.Const] = map[*ir.Value]bool{}
		}
		holders[v.Const][v] = true
	}
	for _, v := range g.Consts {
		note(v)
	}
	for _, v := range g.Inputs {
		note(v)
	}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			note(v)
		}
		for _, v := range n.Outputs {
			note(v)
		}
	}
	for _, v := range g.Outputs {
		note(v)
	}
	type span struct {
		lo, hi uintptr
		t      *ir.Tensor
	}
	var spans []span
	for t := range holders {
		if len(t.F) > 0 {
			lo := uintptr(unsafe.Pointer(unsafe.SliceData(t.F)))
			spans = append(spans, span{lo, lo + uintptr(len(t.F))*4, t})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	// Sorted by start, the spans fall into runs that each start before
	// the furthest end so far in the run; in a run of two or more every
	// span overlaps another, and spans in different runs do not overlap.
	shared := map[*ir.Tensor]bool{}
	for start, i := 0, 0; start < len(spans); start = i {
		hi := spans[start].hi
		for i = start + 1; i < len(spans) && spans[i].lo < hi; i++ {
			hi = max(hi, spans[i].hi)
		}
		if i-start > 1 {
			for _, s := range spans[start:i] {
				shared[s.t] = true
			}
		}
	}
	own := map[*ir.Tensor]bool{}
	for _, s := range spans {
		if s.t.DType == ir.Float32 && len(holders[s.t]) == 1 && !shared[s.t] {
			own[s.t] = true
		}
	}
	return own
}

// bnFold is one matched pattern: producer [→ unsq] → bn [→ sq].
type bnFold struct {
	prod, unsq, bn, sq *ir.Node
	f, shift           []float64 // y = x·f + shift per channel
}

func (fx *bnFolder) foldBN(bn *ir.Node) {
	m, users, dead := fx.m, fx.users, fx.dead
	g := m.Graph
	f, shift := bnAffine(bn)
	if f == nil {
		return
	}
	p := matchBN(g, users, bn)
	if p == nil {
		fx.foldForward(bn, f, shift)
		return
	}
	p.f, p.shift = f, shift
	switch p.prod.Op {
	case ir.OpConv:
		fx.foldIntoConv(p)
	case ir.OpGemm, ir.OpMatMul:
		fx.foldIntoGemm(p)
	default:
		panic("BUG: fold-batchnorm matched " + p.prod.Op.String())
	}
	dead[bn] = true
	// Rewire: the surviving node takes over the last removed value, so
	// every reader (and a graph output's name) is unchanged.
	switch {
	case p.sq != nil:
		y := p.sq.Out(0)
		p.prod.Outputs[0], y.Def = y, p.prod
		dead[p.unsq], dead[p.sq] = true, true
	case p.unsq != nil:
		y := bn.Out(0)
		p.unsq.Outputs[0], y.Def = y, p.unsq
	default:
		y := bn.Out(0)
		p.prod.Outputs[0], y.Def = y, p.prod
	}
}

// bnAffine returns the per-channel map y = x·f + shift of an inference
// BN with constant parameters, in float64; nil when there is none.
func bnAffine(bn *ir.Node) (f, shift []float64) {
	if bn.Int("training_mode", 0) != 0 || len(bn.Outputs) != 1 || bn.In(0).Type.DType != ir.Float32 {
		return nil, nil
	}
	scale, bias, mean, vr := floatConst(bn.In(1)), floatConst(bn.In(2)), floatConst(bn.In(3)), floatConst(bn.In(4))
	c := len(scale)
	x := bn.In(0).Type
	if scale == nil || bias == nil || mean == nil || vr == nil || len(bias) != c || len(mean) != c || len(vr) != c || x.Rank() < 2 || x.Shape[1] != int64(c) {
		return nil, nil
	}
	eps := float64(bn.Float("epsilon", 1e-5))
	f, shift = make([]float64, c), make([]float64, c)
	for i := range c {
		f[i] = float64(scale[i]) / math.Sqrt(float64(vr[i])+eps)
		shift[i] = float64(bias[i]) - float64(mean[i])*f[i]
	}
	return f, shift
}

// matchBN checks the backward pattern (producer [→ Unsqueeze] → BN), or
// returns nil when this BN cannot fold into its producer.
func matchBN(g *ir.Graph, users map[*ir.Value][]*ir.Node, bn *ir.Node) *bnFold {
	c := int(bn.In(1).Type.Len())
	x := bn.In(0)
	if x.Def == nil || soleUser(g, users, x) != bn {
		return nil
	}
	p := &bnFold{bn: bn, prod: x.Def}
	if p.prod.Op == ir.OpUnsqueeze {
		p.unsq = p.prod
		ux := p.unsq.In(0)
		if ux.Def == nil || soleUser(g, users, ux) != p.unsq || !appendsUnitDims(ux.Type.Shape, x.Type.Shape) {
			return nil
		}
		p.prod = ux.Def
		if sq := soleUser(g, users, bn.Out(0)); sq != nil && sq.Op == ir.OpSqueeze && sq.Out(0).Type.Equal(ux.Type) {
			p.sq = sq
		}
	}
	if len(p.prod.Outputs) != 1 || p.prod.Out(0).Type.Rank() < 2 || p.prod.Out(0).Type.Shape[1] != int64(c) {
		return nil
	}
	switch p.prod.Op {
	case ir.OpConv:
		if floatConst(p.prod.In(1)) == nil || (p.prod.In(2) != nil && floatConst(p.prod.In(2)) == nil) {
			return nil
		}
	case ir.OpGemm:
		if floatConst(p.prod.In(1)) == nil || (p.prod.In(2) != nil && floatConst(p.prod.In(2)) == nil) {
			return nil
		}
	case ir.OpMatMul:
		// Only [M,K]×[K,N]: for higher ranks BN's channel axis 1 is
		// not the MatMul's output feature axis.
		if p.prod.In(0).Type.Rank() != 2 || p.prod.In(1).Type.Rank() != 2 || floatConst(p.prod.In(1)) == nil {
			return nil
		}
	default:
		return nil
	}
	return p
}

// appendsUnitDims reports whether out is in followed by 1s only, so the
// channel axis 1 is the same in both.
func appendsUnitDims(in, out []int64) bool {
	if len(in) < 2 || len(out) < len(in) {
		return false
	}
	for i, d := range out {
		if i < len(in) && d != in[i] || i >= len(in) && d != 1 {
			return false
		}
	}
	return true
}

func (fx *bnFolder) foldIntoConv(p *bnFold) {
	m, users := fx.m, fx.users
	conv := p.prod
	wv := conv.In(1)
	w := wv.Const
	c := len(p.f)
	nw := fx.weightsFor(wv, conv)
	per := len(w.F) / c
	for ch := range c {
		f := p.f[ch]
		src, dst := w.F[ch*per:(ch+1)*per], nw.F[ch*per:(ch+1)*per]
		for i, v := range src {
			dst[i] = float32(float64(v) * f)
		}
	}
	nb := ir.NewTensor(ir.Float32, int64(c))
	old := floatConst(conv.In(2))
	for i := range c {
		b := 0.0
		if old != nil {
			b = float64(old[i])
		}
		nb.F[i] = float32(b*p.f[i] + p.shift[i])
	}
	x, wNew, bNew := conv.In(0), setConst(m, users, wv, conv, nw), newBias(m, users, p, conv.In(2), nb)
	conv.Inputs = []*ir.Value{x, wNew, bNew}
}

// newBias stores the folded bias: in the layer's old bias when only that
// layer reads it, else in the BN's β when only the BN reads that (β's
// name is the natural one), else in a fresh constant.
func newBias(m *ir.Module, users map[*ir.Value][]*ir.Node, p *bnFold, old *ir.Value, t *ir.Tensor) *ir.Value {
	if old != nil {
		return setConst(m, users, old, p.prod, t)
	}
	return setConst(m, users, p.bn.In(2), p.bn, t)
}

func (fx *bnFolder) foldIntoGemm(p *bnFold) {
	m, users := fx.m, fx.users
	n := p.prod
	bv := n.In(1)
	b := bv.Const
	transB := n.Op == ir.OpGemm && n.Int("transB", 0) != 0
	c := len(p.f)
	nb := fx.weightsFor(bv, n)
	for i, v := range b.F {
		col := i % c // B is [K,N]: column index is the fast one
		if transB {
			col = i / int(b.Shape[1]) // B is [N,K]
		}
		nb.F[i] = float32(float64(v) * p.f[col])
	}
	// The bias: C' = (beta·C)·f + shift, over C's shape broadcast with [N].
	beta := 1.0
	if n.Op == ir.OpGemm {
		beta = float64(n.Float("beta", 1))
	}
	var oldC *ir.Value
	if n.Op == ir.OpGemm {
		oldC = n.In(2)
	}
	shape := []int64{int64(c)}
	var cdata []float32
	var cshape []int64
	if oldC != nil {
		cdata, cshape = oldC.Const.F, oldC.Const.Shape
		s, err := ir.BroadcastShapes(cshape, shape)
		if err != nil {
			panic("BUG: fold-batchnorm: Gemm bias " + ir.ShapeString(cshape) + " does not broadcast with its output")
		}
		shape = s
	}
	nc := ir.NewTensor(ir.Float32, shape...)
	idx := broadcastIndex(shape, cshape)
	for i := range nc.F {
		col := i % c
		v := 0.0
		if cdata != nil {
			v = beta * float64(cdata[idx[i]])
		}
		nc.F[i] = float32(v*p.f[col] + p.shift[col])
	}
	a := n.In(0)
	wv := setConst(m, users, bv, n, nb)
	cv := newBias(m, users, p, oldC, nc)
	if n.Op == ir.OpMatMul {
		n.Op = ir.OpGemm
		n.Attrs = nil
	}
	delete(n.Attrs, "beta")
	n.Inputs = []*ir.Value{a, wv, cv}
}

// broadcastIndex maps each flat index of shape out to the flat index of
// the element of a tensor of shape in that numpy broadcasting reads.
func broadcastIndex(out, in []int64) []int {
	total := int(ir.NumElems(out))
	idx := make([]int, total)
	if len(in) == 0 {
		return idx
	}
	off := len(out) - len(in)
	for i := range total {
		rem, j, stride := i, 0, 1
		for d := len(out) - 1; d >= off; d-- {
			coord := rem % int(out[d])
			rem /= int(out[d])
			if in[d-off] != 1 {
				j += coord * stride
			}
			stride *= int(in[d-off])
		}
		idx[i] = j
	}
	return idx
}

// foldForward folds bn into the fully-connected layer that reads it:
// [Unsqueeze →] BN [→ Squeeze] → Gemm/MatMul.
func (fx *bnFolder) foldForward(bn *ir.Node, f, shift []float64) {
	m, users, dead := fx.m, fx.users, fx.dead
	g := m.Graph
	src, y := bn.In(0), bn.Out(0)
	var unsq, sq *ir.Node
	if d := src.Def; d != nil && d.Op == ir.OpUnsqueeze && soleUser(g, users, src) == bn {
		unsq = d
		if !appendsUnitDims(unsq.In(0).Type.Shape, src.Type.Shape) {
			return
		}
		sq = soleUser(g, users, y)
		if sq == nil || sq.Op != ir.OpSqueeze || !sq.Out(0).Type.Equal(unsq.In(0).Type) {
			return
		}
		src, y = unsq.In(0), sq.Out(0)
	}
	fc := soleUser(g, users, y)
	if fc == nil || fc.In(0) != y || fc.In(1) == y || src.Type.Rank() != 2 || src.Type.Shape[1] != int64(len(f)) || floatConst(fc.In(1)) == nil {
		return
	}
	switch fc.Op {
	case ir.OpGemm:
		if fc.Int("transA", 0) != 0 || fc.In(2) != nil && floatConst(fc.In(2)) == nil {
			return
		}
	case ir.OpMatMul:
		if fc.In(1).Type.Rank() != 2 {
			return
		}
	default:
		return
	}
	bv := fc.In(1)
	b := bv.Const
	transB := fc.Op == ir.OpGemm && fc.Int("transB", 0) != 0
	k := len(f)
	n := int(b.Len()) / k
	// B as [K,N] (or [N,K] when transB): scale input row k by f[k] and
	// collect s[n] = Σ_k shift[k]·B[k,n].
	nb := fx.weightsFor(bv, fc)
	s := make([]float64, n)
	for i, v := range b.F {
		row, col := i/n, i%n
		if transB {
			row, col = i%k, i/k
		}
		nb.F[i] = float32(float64(v) * f[row])
		s[col] += shift[row] * float64(v)
	}
	alpha, beta := 1.0, 1.0
	var oldC *ir.Value
	if fc.Op == ir.OpGemm {
		alpha, beta = float64(fc.Float("alpha", 1)), float64(fc.Float("beta", 1))
		oldC = fc.In(2)
	}
	shape := []int64{int64(n)}
	var cdata []float32
	var cshape []int64
	if oldC != nil {
		cdata, cshape = oldC.Const.F, oldC.Const.Shape
		bs, err := ir.BroadcastShapes(cshape, shape)
		if err != nil {
			panic("BUG: fold-batchnorm: Gemm bias " + ir.ShapeString(cshape) + " does not broadcast with its output")
		}
		shape = bs
	}
	nc := ir.NewTensor(ir.Float32, shape...)
	idx := broadcastIndex(shape, cshape)
	for i := range nc.F {
		v := alpha * s[i%n]
		if cdata != nil {
			v += beta * float64(cdata[idx[i]])
		}
		nc.F[i] = float32(v)
	}
	wNew := setConst(m, users, bv, fc, nb)
	var cNew *ir.Value
	if oldC != nil {
		cNew = setConst(m, users, oldC, fc, nc)
	} else {
		cNew = setConst(m, users, bn.In(2), bn, nc)
	}
	if fc.Op == ir.OpMatMul {
		fc.Op, fc.Attrs = ir.OpGemm, nil
	}
	delete(fc.Attrs, "beta")
	fc.Inputs = []*ir.Value{src, wNew, cNew}
	dead[bn] = true
	if unsq != nil {
		dead[unsq], dead[sq] = true, true
	}
}
