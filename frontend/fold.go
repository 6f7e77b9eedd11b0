package frontend

import "pimc/ir"

// Import-time folding of shape computations.
//
// The IR needs static shapes, and shape inference needs the shape inputs
// of Reshape, Expand, Tile, ... to be constants. PyTorch exports compute
// them at run time (Shape → Gather → Unsqueeze → Concat → Reshape). Once
// the graph inputs' symbolic dims are bound every shape is known, so each
// such node is evaluated here, as it is emitted, and replaced by a
// constant; the nodes after it then infer normally.
//
// Only integer data is folded (shape arithmetic is int64; folding float
// arithmetic would pre-empt the passes, which own numerics), plus Shape,
// whose input may be anything, and ConstantOfShape, which only fills.
// Results are capped at foldMaxElements so that folding stays cheap.

const foldMaxElements = 1 << 16

type folder func(n *ir.Node, in []*ir.Tensor) (*ir.Tensor, error)

var folders = map[ir.Op]folder{
	ir.OpShape:           foldShape,
	ir.OpIdentity:        foldReshapeLike,
	ir.OpReshape:         foldReshapeLike,
	ir.OpFlatten:         foldReshapeLike,
	ir.OpSqueeze:         foldReshapeLike,
	ir.OpUnsqueeze:       foldReshapeLike,
	ir.OpGather:          foldGather,
	ir.OpConcat:          foldConcat,
	ir.OpSlice:           foldSlice,
	ir.OpCast:            foldCast,
	ir.OpAdd:             foldArith,
	ir.OpSub:             foldArith,
	ir.OpMul:             foldArith,
	ir.OpDiv:             foldArith,
	ir.OpConstantOfShape: foldConstantOfShape,
}

// foldNode returns n's output values when n can be evaluated now, nil
// when it stays a node.
func foldNode(n *ir.Node) ([]*ir.Tensor, error) {
	f, ok := folders[n.Op]
	if !ok || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return nil, nil
	}
	if n.Outputs[0].Type.Len() > foldMaxElements {
		return nil, nil
	}
	in := make([]*ir.Tensor, len(n.Inputs))
	for i, v := range n.Inputs {
		switch {
		case v == nil:
		case n.Op == ir.OpShape:
			// Shape reads only the (static) type of its input.
		case !v.IsConst() || !v.Type.DType.IsInt() || v.Const.Len() > foldMaxElements:
			return nil, nil
		default:
			in[i] = v.Const
		}
	}
	t, err := f(n, in)
	if err != nil || t == nil {
		return nil, err
	}
	return []*ir.Tensor{t}, nil
}

func outType(n *ir.Node) ir.Type { return n.Outputs[0].Type }

func foldShape(n *ir.Node, _ []*ir.Tensor) (*ir.Tensor, error) {
	shape := n.Inputs[0].Type.Shape
	s, e := ir.ShapeRange(n, len(shape))
	return int64Tensor(shape[s:e]...), nil
}

// foldReshapeLike covers the ops that only relabel the shape: the data
// are unchanged, the shape is the inferred one.
func foldReshapeLike(n *ir.Node, in []*ir.Tensor) (*ir.Tensor, error) {
	t := outType(n)
	return ir.IntTensor(t.DType, append([]int64{}, in[0].I...), t.Shape...), nil
}

// split3 views shape as [outer, shape[axis], inner].
func split3(shape []int64, axis int) (outer, mid, inner int64) {
	return ir.NumElems(shape[:axis]), shape[axis], ir.NumElems(shape[axis+1:])
}

func normAxis(axis int64, rank int) int {
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis) // inference has checked the range
}

func foldGather(n *ir.Node, in []*ir.Tensor) (*ir.Tensor, error) {
	x, idx := in[0], in[1]
	axis := normAxis(n.Int("axis", 0), x.Rank())
	outer, mid, inner := split3(x.Shape, axis)
	t := outType(n)
	out := make([]int64, 0, t.Len())
	for o := int64(0); o < outer; o++ {
		for _, k := range idx.I {
			if k < 0 {
				k += mid
			}
			if k < 0 || k >= mid {
				return nil, n.Errorf("index %d is out of range for a dim of size %d", k, mid)
			}
			base := (o*mid + k) * inner
			out = append(out, x.I[base:base+inner]...)
		}
	}
	return ir.IntTensor(t.DType, out, t.Shape...), nil
}

func foldConcat(n *ir.Node, in []*ir.Tensor) (*ir.Tensor, error) {
	t := outType(n)
	axis := normAxis(n.Int("axis", 0), t.Rank())
	outer, _, inner := split3(t.Shape, axis)
	out := make([]int64, 0, t.Len())
	for o := int64(0); o < outer; o++ {
		for _, x := range in {
			chunk := x.Shape[axis] * inner
			out = append(out, x.I[o*chunk:(o+1)*chunk]...)
		}
	}
	return ir.IntTensor(t.DType, out, t.Shape...), nil
}

func foldSlice(n *ir.Node, in []*ir.Tensor) (*ir.Tensor, error) {
	x := in[0]
	p, err := ir.ResolveSlice(n, x.Shape)
	if err != nil {
		return nil, n.Errorf("%v", err)
	}
	t := outType(n)
	strides := stridesOf(x.Shape)
	out := make([]int64, 0, t.Len())
	inside := true
	forEachIndex(p.Count, func(idx []int64) {
		off := int64(0)
		for d, i := range idx {
			k := p.Start[d] + i*p.Step[d]
			if k < 0 || k >= x.Shape[d] {
				inside = false
				return
			}
			off += k * strides[d]
		}
		out = append(out, x.I[off])
	})
	if !inside {
		// ir.ResolveSlice can count one element on an empty axis with a
		// negative step; leave such a node to run time.
		return nil, nil
	}
	return ir.IntTensor(t.DType, out, t.Shape...), nil
}

func foldCast(n *ir.Node, in []*ir.Tensor) (*ir.Tensor, error) {
	t := outType(n)
	out := ir.NewTensor(t.DType, t.Shape...)
	for i, v := range in[0].I {
		if t.DType.IsFloat() {
			out.F[i] = float32(v)
		} else {
			out.I[i] = t.DType.Wrap(v)
		}
	}
	return out, nil
}

// foldArith evaluates integer Add/Sub/Mul/Div with numpy broadcasting,
// wrapping to the dtype's width; Div truncates toward zero as integer
// division does in ONNX runtimes. A division by zero is left to run time.
func foldArith(n *ir.Node, in []*ir.Tensor) (*ir.Tensor, error) {
	t := outType(n)
	if t.DType == ir.Bool {
		return nil, nil
	}
	a, b := in[0], in[1]
	ia, ib := broadcastIndex(t.Shape, a.Shape), broadcastIndex(t.Shape, b.Shape)
	out := make([]int64, len(ia))
	for i := range out {
		x, y := a.I[ia[i]], b.I[ib[i]]
		var v int64
		switch n.Op {
		case ir.OpAdd:
			v = x + y
		case ir.OpSub:
			v = x - y
		case ir.OpMul:
			v = x * y
		case ir.OpDiv:
			if y == 0 {
				return nil, nil
			}
			v = x / y
		}
		out[i] = t.DType.Wrap(v)
	}
	return ir.IntTensor(t.DType, out, t.Shape...), nil
}

func foldConstantOfShape(n *ir.Node, _ []*ir.Tensor) (*ir.Tensor, error) {
	t := outType(n)
	out := ir.NewTensor(t.DType, t.Shape...)
	a, ok := n.Attrs["value"]
	if !ok {
		return out, nil // default: float32 zeros
	}
	if a.Tensor == nil || a.Tensor.Len() != 1 {
		return nil, n.Errorf("value must hold exactly one element")
	}
	if t.DType.IsFloat() {
		for i := range out.F {
			out.F[i] = a.Tensor.F[0]
		}
	} else {
		for i := range out.I {
			out.I[i] = a.Tensor.I[0]
		}
	}
	return out, nil
}

func stridesOf(shape []int64) []int64 {
	s := make([]int64, len(shape))
	acc := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// forEachIndex calls f with every multi-index of shape in row-major order.
func forEachIndex(shape []int64, f func(idx []int64)) {
	if ir.NumElems(shape) == 0 {
		return
	}
	idx := make([]int64, len(shape))
	for {
		f(idx)
		d := len(shape) - 1
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// broadcastIndex maps each element of out to the element of an input of
// shape in that numpy broadcasting reads.
func broadcastIndex(out, in []int64) []int64 {
	off := len(out) - len(in)
	strides := stridesOf(in)
	res := make([]int64, 0, ir.NumElems(out))
	forEachIndex(out, func(idx []int64) {
		k := int64(0)
		for d := range in {
			if in[d] != 1 {
				k += idx[off+d] * strides[d]
			}
		}
		res = append(res, k)
	})
	return res
}
