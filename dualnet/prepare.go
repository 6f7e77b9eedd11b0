package dualnet

import (
	"fmt"
	"math"
	"slices"

	"pimc/ir"
)

// prepare brings a canonical float graph into the exact form the DualNet
// passes expect. It is idempotent and runs at the start of each pass, so
// the passes work whether or not the canonicalisation passes already did
// the same rewrites:
//   - Identity and Dropout are bypassed;
//   - MatMul with a constant 2-D right operand becomes Gemm (transB=1);
//   - Add of a constant per-channel vector right after a Conv or Gemm whose
//     output has no other reader is folded into the layer's bias;
//   - Gemm → Unsqueeze → BatchNormalization → Squeeze (a BatchNorm1d over
//     features) is folded into the Gemm;
//   - QuantizeLinear → DequantizeLinear pairs on activations (QAT exports)
//     are removed and their scales recorded (see qatScales).
func prepare(m *ir.Module) error {
	g := m.Graph
	changed := true
	for changed {
		changed = false
		users := g.Users()
		for _, n := range g.Nodes {
			switch n.Op {
			case ir.OpIdentity, ir.OpDropout:
				if n.Op == ir.OpDropout && n.Out(1) != nil && len(users[n.Out(1)]) > 0 {
					continue
				}
				bypass(g, n.Out(0), n.In(0))
				changed = true
			case ir.OpMatMul:
				if matmulToGemm(m, n) {
					changed = true
				}
			case ir.OpAdd:
				if foldBiasAdd(m, n, users) {
					changed = true
				}
			case ir.OpSqueeze:
				if foldBN1d(m, n, users) {
					changed = true
				}
			case ir.OpDequantizeLinear:
				if foldQDQ(m, n, users) {
					changed = true
				}
			}
			if changed {
				break
			}
		}
		if changed {
			g.RemoveDead()
		}
	}
	return ir.InferTypes(m)
}

// bypass makes readers of out read in instead (out keeps its name if it is
// a graph output).
func bypass(g *ir.Graph, out, in *ir.Value) {
	if g.IsOutput(out) {
		// Keep the output's name: rename in, which is internal.
		name := out.Name
		g.Replace(out, in)
		in.Name = name
		return
	}
	g.Replace(out, in)
}

// replaceOutput makes node n produce v (taking over another node's output
// value) in place of its current output.
func replaceOutput(g *ir.Graph, n *ir.Node, v *ir.Value) {
	n.Outputs[0] = v
	v.Def = n
}

// removeNodes deletes nodes from the graph's node list.
func removeNodes(g *ir.Graph, del ...*ir.Node) {
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		drop := false
		for _, d := range del {
			if n == d {
				drop = true
			}
		}
		if !drop {
			kept = append(kept, n)
		}
	}
	g.Nodes = kept
}

func matmulToGemm(m *ir.Module, n *ir.Node) bool {
	a, b := n.In(0), n.In(1)
	if !b.IsConst() || b.Const.Rank() != 2 || a.Type.Rank() != 2 || !b.Const.DType.IsFloat() {
		return false
	}
	k, c := b.Const.Shape[0], b.Const.Shape[1]
	wt := ir.NewTensor(ir.Float32, c, k)
	for i := int64(0); i < k; i++ {
		for j := int64(0); j < c; j++ {
			wt.F[j*k+i] = b.Const.F[i*c+j]
		}
	}
	n.Op = ir.OpGemm
	n.Inputs = []*ir.Value{a, m.AddConst(n.Name+"_w", wt)}
	n.Attrs = ir.Attrs{}
	n.SetInt("transB", 1)
	return true
}

// channelVector returns the C-vector a constant broadcasts to along the
// channel axis of a rank-r layer output, or nil.
func channelVector(t *ir.Tensor, c int64, rank int) []float32 {
	if !t.DType.IsFloat() {
		return nil
	}
	s := t.Shape
	for len(s) > 0 && s[0] == 1 && len(s) > rank-1 {
		s = s[1:]
	}
	// After dropping leading ones the shape must be [C, 1, ...] with the
	// channel at axis 1 of the output (rank-1 dims remaining), or [C] for
	// a 2-D output, or a scalar/[1].
	switch {
	case t.Len() == 1:
		out := make([]float32, c)
		for i := range out {
			out[i] = t.F[0]
		}
		return out
	case len(s) == rank-1 && s[0] == c && ir.NumElems(s) == c:
		return t.F
	}
	return nil
}

func foldBiasAdd(m *ir.Module, add *ir.Node, users map[*ir.Value][]*ir.Node) bool {
	g := m.Graph
	for side := 0; side < 2; side++ {
		x, k := add.In(side), add.In(1-side)
		if !k.IsConst() || x.Def == nil || x.IsConst() {
			continue
		}
		l := x.Def
		if (l.Op != ir.OpConv && l.Op != ir.OpGemm) || len(users[x]) != 1 || g.IsOutput(x) {
			continue
		}
		if l.Op == ir.OpGemm && (l.Int("transA", 0) != 0 || l.In(2) != nil && l.In(2).Type.Len() != l.Out(0).Type.Shape[1] && l.In(2).Type.Len() != 1) {
			continue
		}
		c := x.Type.Shape[1]
		vec := channelVector(k.Const, c, x.Type.Rank())
		if vec == nil || !slices.Equal(add.Out(0).Type.Shape, x.Type.Shape) {
			continue
		}
		bias := make([]float32, c)
		if l.Op == ir.OpConv {
			if b := l.In(2); b != nil {
				if !b.IsConst() {
					continue
				}
				copy(bias, b.Const.F)
			}
		} else if b := l.In(2); b != nil {
			if !b.IsConst() {
				continue
			}
			beta := float64(l.Float("beta", 1))
			for i := range bias {
				bias[i] = float32(beta * float64(b.Const.F[int64(i)%b.Const.Len()]))
			}
			l.SetFloat("beta", 1)
		}
		for i := range bias {
			bias[i] += vec[i]
		}
		bv := m.AddConst(l.Name+"_b", ir.FloatTensor(bias, c))
		for len(l.Inputs) < 3 {
			l.Inputs = append(l.Inputs, nil)
		}
		l.Inputs[2] = bv
		replaceOutput(g, l, add.Out(0))
		removeNodes(g, add)
		return true
	}
	return false
}

// foldBN1d folds Gemm → Unsqueeze(axes=[2]) → BatchNormalization →
// Squeeze(axes=[2]) into the Gemm, recording the BN statistics.
func foldBN1d(m *ir.Module, sq *ir.Node, users map[*ir.Value][]*ir.Node) bool {
	g := m.Graph
	bnOut := sq.In(0)
	if bnOut.Def == nil || bnOut.Def.Op != ir.OpBatchNorm || len(users[bnOut]) != 1 {
		return false
	}
	bn := bnOut.Def
	us := bn.In(0)
	if us.Def == nil || us.Def.Op != ir.OpUnsqueeze || len(users[us]) != 1 {
		return false
	}
	y := us.Def.In(0)
	if y.Def == nil || y.Def.Op != ir.OpGemm || len(users[y]) != 1 || g.IsOutput(y) {
		return false
	}
	l := y.Def
	if l.Int("transA", 0) != 0 || !l.In(1).IsConst() || us.Type.Rank() != 3 || us.Type.Shape[2] != 1 || !slices.Equal(sq.Out(0).Type.Shape, y.Type.Shape) {
		return false
	}
	for i := 1; i < 5; i++ {
		if !bn.In(i).IsConst() {
			return false
		}
	}
	w, err := gemmWeights(l)
	if err != nil {
		return false
	}
	c, k := w.Shape[0], w.Shape[1]
	eps := float64(bn.Float("epsilon", 1e-5))
	sc, bb, mean, vr := bn.In(1).Const.F, bn.In(2).Const.F, bn.In(3).Const.F, bn.In(4).Const.F
	nw := ir.NewTensor(ir.Float32, c, k)
	nb := make([]float32, c)
	stat := BNStat{Mean: make([]float32, c), Std: make([]float32, c)}
	for j := int64(0); j < c; j++ {
		gm := float64(sc[j]) / math.Sqrt(float64(vr[j])+eps)
		for i := int64(0); i < k; i++ {
			nw.F[j*k+i] = float32(float64(w.F[j*k+i]) * gm)
		}
		nb[j] = float32((float64(w.bias[j])-float64(mean[j]))*gm + float64(bb[j]))
		stat.Mean[j], stat.Std[j] = bb[j], float32(math.Abs(float64(sc[j])))
	}
	l.Inputs = []*ir.Value{l.In(0), m.AddConst(l.Name+"_w", nw), m.AddConst(l.Name+"_b", ir.FloatTensor(nb, c))}
	l.Attrs = ir.Attrs{}
	l.SetInt("transB", 1)
	recordBN(m, l.Name, stat)
	replaceOutput(g, l, sq.Out(0))
	removeNodes(g, us.Def, bn, sq)
	return true
}

// foldQDQ removes an activation's QuantizeLinear → DequantizeLinear pair
// and records the trained scale and integer range under the activation's
// name. Weight DQs (constant input) are left to constant folding.
func foldQDQ(m *ir.Module, dq *ir.Node, users map[*ir.Value][]*ir.Node) bool {
	q := dq.In(0)
	if q.Def == nil || q.Def.Op != ir.OpQuantizeLinear || q.IsConst() {
		return false
	}
	qn := q.Def
	x := qn.In(0)
	if x.IsConst() || !qn.In(1).IsConst() || qn.In(1).Const.Len() != 1 || len(users[q]) != 1 {
		return false
	}
	s := qn.In(1).Const.Float(0)
	zp := int64(0)
	if z := qn.In(2); z != nil && z.IsConst() {
		zp = z.Const.Ints()[0]
	}
	lo, hi := q.Type.DType.Range()
	lo, hi = lo-zp, hi-zp
	recordQAT(m, x.Name, QATScale{Scale: float32(s), Lo: lo, Hi: hi})
	bypass(m.Graph, dq.Out(0), x)
	return true
}

// gemmW is a Gemm's weights normalised to [N, K] (alpha applied) plus its
// bias (beta applied) as an N-vector. The weights may be the node's own
// constant: callers must not modify them.
type gemmW struct {
	*ir.Tensor
	bias []float32
}

func gemmWeights(n *ir.Node) (gemmW, error) {
	b := n.In(1)
	if !b.IsConst() || b.Const.Rank() != 2 || !b.Const.DType.IsFloat() {
		return gemmW{}, n.Errorf("weights must be a constant 2-D float tensor")
	}
	if n.Int("transA", 0) != 0 {
		return gemmW{}, n.Errorf("transA=1 is not supported on a split layer")
	}
	alpha, beta := float64(n.Float("alpha", 1)), float64(n.Float("beta", 1))
	src := b.Const
	var k, c int64
	if n.Int("transB", 0) != 0 {
		c, k = src.Shape[0], src.Shape[1]
	} else {
		k, c = src.Shape[0], src.Shape[1]
	}
	transB := n.Int("transB", 0) != 0
	var w *ir.Tensor
	if transB && alpha == 1 && src.DType == ir.Float32 {
		// Already [N, K]: shared, not copied, so that the weight memos
		// (wcache.go) find it by identity in every variant.
		w = src
	} else {
		w = ir.NewTensor(ir.Float32, c, k)
		for j := int64(0); j < c; j++ {
			for i := int64(0); i < k; i++ {
				var v float32
				if transB {
					v = src.F[j*k+i]
				} else {
					v = src.F[i*c+j]
				}
				w.F[j*k+i] = float32(alpha * float64(v))
			}
		}
	}
	bias := make([]float32, c)
	if cb := n.In(2); cb != nil {
		if !cb.IsConst() {
			return gemmW{}, n.Errorf("bias must be constant")
		}
		t := cb.Const
		switch {
		case t.Len() == 1:
			for j := range bias {
				bias[j] = float32(beta * t.Float(0))
			}
		case t.Len() == c && (t.Rank() == 1 || t.Shape[0] == 1):
			for j := range bias {
				bias[j] = float32(beta * t.Float(j))
			}
		default:
			return gemmW{}, n.Errorf("bias %v is not a per-output vector", t.Shape)
		}
	}
	return gemmW{Tensor: w, bias: bias}, nil
}

// convWeights returns a Conv's weights and bias (zeros when absent).
func convWeights(n *ir.Node) (*ir.Tensor, []float32, error) {
	w := n.In(1)
	if !w.IsConst() || !w.Const.DType.IsFloat() {
		return nil, nil, n.Errorf("weights must be a constant float tensor")
	}
	c := w.Const.Shape[0]
	bias := make([]float32, c)
	if b := n.In(2); b != nil {
		if !b.IsConst() || b.Const.Len() != c {
			return nil, nil, n.Errorf("bias must be a constant of %d elements", c)
		}
		copy(bias, b.Const.F)
	}
	return w.Const, bias, nil
}

// BNStat is the per-channel distribution of a layer's pre-activation implied
// by the BatchNormalization folded into it: mean β, standard deviation |γ|.
type BNStat struct {
	Mean, Std []float32
}

// QATScale is a trained activation quantizer found in the model: scale and
// the integer range relative to the zero point.
type QATScale struct {
	Scale  float32
	Lo, Hi int64
}

const (
	metaBN  = "dualnet.bn"
	metaQAT = "dualnet.qat"
)

func recordBN(m *ir.Module, layer string, s BNStat) {
	if m.Meta == nil {
		m.Meta = map[string]any{}
	}
	mp, _ := m.Meta[metaBN].(map[string]BNStat)
	if mp == nil {
		mp = map[string]BNStat{}
		m.Meta[metaBN] = mp
	}
	mp[layer] = s
}

func recordQAT(m *ir.Module, value string, s QATScale) {
	if m.Meta == nil {
		m.Meta = map[string]any{}
	}
	mp, _ := m.Meta[metaQAT].(map[string]QATScale)
	if mp == nil {
		mp = map[string]QATScale{}
		m.Meta[metaQAT] = mp
	}
	mp[value] = s
}

// RecordBNStats is the `record-bn-stats` pass: it must run before
// BatchNorm folding. For every BatchNormalization that reads a Conv's or
// Gemm's output it records the channel statistics (mean β, std |γ|) under
// the layer's node name, for data-free calibration.
func RecordBNStats(m *ir.Module) error {
	for _, n := range m.Graph.Nodes {
		if n.Op != ir.OpBatchNorm {
			continue
		}
		src := n.In(0)
		for src != nil && src.Def != nil && src.Def.Op == ir.OpUnsqueeze {
			src = src.Def.In(0)
		}
		if src == nil || src.Def == nil || (src.Def.Op != ir.OpConv && src.Def.Op != ir.OpGemm && src.Def.Op != ir.OpMatMul) {
			continue
		}
		if !n.In(1).IsConst() || !n.In(2).IsConst() {
			continue
		}
		sc, bb := n.In(1).Const, n.In(2).Const
		if sc.Len() != bb.Len() || !sc.DType.IsFloat() {
			return n.Errorf("scale %v and bias %v differ", sc.Shape, bb.Shape)
		}
		st := BNStat{Mean: append([]float32{}, bb.F...), Std: make([]float32, sc.Len())}
		for i, v := range sc.F {
			st.Std[i] = float32(math.Abs(float64(v)))
		}
		recordBN(m, src.Def.Name, st)
	}
	return nil
}

// splittable reports whether n is a layer DualNet can split: a Conv with
// group 1 or a Gemm, with constant float weights.
func splittable(n *ir.Node) bool {
	switch n.Op {
	case ir.OpConv:
		return n.In(1).IsConst() && n.Int("group", 1) == 1 && n.In(1).Type.Rank() == 4
	case ir.OpGemm:
		return n.In(1).IsConst() && n.Int("transA", 0) == 0
	}
	return false
}

// isLayer reports whether n is a conv/FC layer the quantizer handles
// (split or kept at INT8).
func isLayer(n *ir.Node) bool {
	switch n.Op {
	case ir.OpConv:
		return n.In(1).IsConst() && n.In(1).Type.Rank() == 4 && (n.In(2) == nil || n.In(2).IsConst())
	case ir.OpGemm:
		return n.In(1).IsConst() && n.Int("transA", 0) == 0 && (n.In(2) == nil || n.In(2).IsConst())
	}
	return false
}

func errorf(format string, args ...any) error { return fmt.Errorf("dualnet: "+format, args...) }
