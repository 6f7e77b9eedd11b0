package interp

import (
	"fmt"
	"math"

	"pimc/ir"
)

// Data-movement ops: they only copy elements, so they work on every
// dtype; each is written once as a generic function over the two storage
// classes (float32 for float dtypes, int64 for integer and bool).

func init() {
	for _, op := range []ir.Op{ir.OpIdentity, ir.OpReshape, ir.OpFlatten, ir.OpSqueeze, ir.OpUnsqueeze} {
		register(op, copyKernel)
	}
	register(ir.OpDropout, dropoutKernel)
	register(ir.OpTranspose, transposeKernel)
	register(ir.OpConcat, concatKernel)
	register(ir.OpSplit, splitKernel)
	register(ir.OpSlice, sliceKernel)
	register(ir.OpGather, gatherKernel)
	register(ir.OpTile, tileKernel)
	register(ir.OpExpand, expandKernel)
	register(ir.OpShape, shapeKernel)
	register(ir.OpConstantOfShape, constantOfShapeKernel)
	register(ir.OpPad, padKernel)
	register(ir.OpDepthToSpace, depthToSpaceKernel)
	register(ir.OpSpaceToDepth, spaceToDepthKernel)
	register(ir.OpCast, castKernel)
}

// copyKernel serves ops that keep the elements in order and only change
// the shape (which inference has already computed).
func copyKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	y := newOut(n, 0)
	copy(y.F, in[0].F)
	copy(y.I, in[0].I)
	return []*ir.Tensor{y}, nil
}

// dropoutKernel is inference-mode Dropout: y = x, mask all true. Training
// mode with a nonzero ratio would need a random mask, which a reference
// interpreter must not invent.
func dropoutKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	if t := in[2]; t != nil && t.Len() > 0 && t.Float(0) != 0 {
		if r := in[1]; r == nil || r.Len() == 0 || r.Float(0) != 0 {
			return nil, fmt.Errorf("training-mode Dropout is not supported")
		}
	}
	y := newOut(n, 0)
	copy(y.F, in[0].F)
	copy(y.I, in[0].I)
	out := []*ir.Tensor{y}
	if len(n.Outputs) > 1 && n.Outputs[1] != nil {
		m := newOut(n, 1)
		for i := range m.I {
			m.I[i] = 1
		}
		out = append(out, m)
	}
	return out, nil
}

func strides(shape []int64) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= int(shape[i])
	}
	return s
}

// gatherAxes fills dst (shape out) with src (shape in, same rank) where,
// along every axis a, output index o reads input index maps[a][o], or the
// fill value when that is negative. Slice, Pad, Tile and Expand are all
// this one loop with different index maps.
func gatherAxes[T float32 | int64](dst, src []T, in, out []int64, maps [][]int, fill T) {
	if len(dst) == 0 {
		return
	}
	r := len(out)
	if r == 0 {
		dst[0] = src[0]
		return
	}
	is := strides(in)
	var rec func(a, sOff, dOff int) int
	rec = func(a, sOff, dOff int) int {
		m := maps[a]
		if a == r-1 {
			// Copy maximal runs of consecutive source indices at once: Slice
			// with step 1, Tile and Pad are runs, and weight generators
			// tile tens of millions of elements.
			for o := 0; o < len(m); {
				s := m[o]
				if s < 0 {
					dst[dOff+o] = fill
					o++
					continue
				}
				e := o + 1
				for e < len(m) && m[e] == s+(e-o) {
					e++
				}
				copy(dst[dOff+o:dOff+e], src[sOff+s:sOff+s+(e-o)])
				o = e
			}
			return dOff + len(m)
		}
		for _, s := range m {
			if s < 0 {
				// The whole sub-block is padding.
				end := dOff + blockLen(out[a+1:])
				for i := dOff; i < end; i++ {
					dst[i] = fill
				}
				dOff = end
				continue
			}
			dOff = rec(a+1, sOff+s*is[a], dOff)
		}
		return dOff
	}
	rec(0, 0, 0)
}

func blockLen(s []int64) int { return int(ir.NumElems(s)) }

func gatherAxesT(y, x *ir.Tensor, maps [][]int, fill float64) {
	if y.DType.IsFloat() {
		gatherAxes(y.F, x.F, x.Shape, y.Shape, maps, float32(fill))
	} else {
		gatherAxes(y.I, x.I, x.Shape, y.Shape, maps, int64(fill))
	}
}

func sliceKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	p, err := ir.ResolveSlice(n, x.Shape)
	if err != nil {
		return nil, err
	}
	y := newOut(n, 0)
	if unitSteps(p.Step) && y.Len() > 0 {
		// Step-1 slices (weight generators, channel splits) are contiguous
		// runs along the last axis: copy them without per-element index maps.
		if y.DType.IsFloat() {
			sliceRuns(y.F, x.F, x.Shape, p.Start, p.Count)
		} else {
			sliceRuns(y.I, x.I, x.Shape, p.Start, p.Count)
		}
		return []*ir.Tensor{y}, nil
	}
	maps := make([][]int, x.Rank())
	for a := range maps {
		m := make([]int, p.Count[a])
		for o := range m {
			m[o] = int(p.Start[a] + int64(o)*p.Step[a])
		}
		maps[a] = m
	}
	gatherAxesT(y, x, maps, 0)
	return []*ir.Tensor{y}, nil
}

func unitSteps(steps []int64) bool {
	for _, s := range steps {
		if s != 1 {
			return false
		}
	}
	return true
}

// sliceRuns copies the box start..start+count of src (shape in) into dst.
func sliceRuns[T float32 | int64](dst, src []T, in, start, count []int64) {
	r := len(in)
	if r == 0 {
		dst[0] = src[0]
		return
	}
	is := strides(in)
	d := 0
	var rec func(a, sOff int)
	rec = func(a, sOff int) {
		if a == r-1 {
			n := int(count[a])
			s := sOff + int(start[a])
			d += copy(dst[d:d+n], src[s:s+n])
			return
		}
		for i := 0; i < int(count[a]); i++ {
			rec(a+1, sOff+(int(start[a])+i)*is[a])
		}
	}
	rec(0, 0)
}

func tileKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	y := newOut(n, 0)
	if y.Len() == 0 {
		return []*ir.Tensor{y}, nil
	}
	if y.DType.IsFloat() {
		tileInto(y.F, x.F, x.Shape, y.Shape)
	} else {
		tileInto(y.I, x.I, x.Shape, y.Shape)
	}
	return []*ir.Tensor{y}, nil
}

// tileInto writes each axis's first repetition once and then duplicates
// the finished block with copy, so the cost is a few memmoves rather than
// an index computation per element (weight generators tile tens of
// millions of elements).
func tileInto[T float32 | int64](dst, src []T, in, out []int64) {
	r := len(in)
	if r == 0 {
		dst[0] = src[0]
		return
	}
	is, ost := strides(in), strides(out)
	var rec func(a, sOff, dOff int)
	rec = func(a, sOff, dOff int) {
		n := int(in[a])
		if a == r-1 {
			copy(dst[dOff:dOff+n], src[sOff:sOff+n])
		} else {
			for i := 0; i < n; i++ {
				rec(a+1, sOff+i*is[a], dOff+i*ost[a])
			}
		}
		block, total := n*ost[a], int(out[a])*ost[a]
		for done := block; done < total; {
			done += copy(dst[dOff+done:dOff+total], dst[dOff:dOff+done])
		}
	}
	rec(0, 0, 0)
}

func expandKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	y := newOut(n, 0)
	if y.DType.IsFloat() {
		expandTo(y.F, x.F, x.Shape, y.Shape)
	} else {
		expandTo(y.I, x.I, x.Shape, y.Shape)
	}
	return []*ir.Tensor{y}, nil
}

// padKernel maps each output index along each axis to its source index:
// constant mode reads the fill value outside the input, reflect mirrors
// without repeating the edge, edge clamps, wrap is periodic. Negative pads
// crop.
func padKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	r := x.Rank()
	pads, err := ir.PadAmounts(n, r)
	if err != nil {
		return nil, err
	}
	mode := n.Str("mode", "constant")
	fill := 0.0
	if v := in[2]; v != nil && v.Len() > 0 {
		fill = v.Float(0)
	}
	y := newOut(n, 0)
	maps := make([][]int, r)
	for a := range maps {
		dim := int(x.Shape[a])
		m := make([]int, y.Shape[a])
		for o := range m {
			s := o - int(pads[a])
			if s < 0 || s >= dim {
				if dim == 0 && mode != "constant" {
					return nil, fmt.Errorf("%s padding of an empty axis %d", mode, a)
				}
				switch mode {
				case "constant":
					s = -1
				case "edge":
					s = min(max(s, 0), dim-1)
				case "wrap":
					s = ((s % dim) + dim) % dim
				case "reflect":
					if dim == 1 {
						s = 0
						break
					}
					period := 2 * (dim - 1)
					s = ((s % period) + period) % period
					if s >= dim {
						s = period - s
					}
				}
			}
			m[o] = s
		}
		maps[a] = m
	}
	gatherAxesT(y, x, maps, fill)
	return []*ir.Tensor{y}, nil
}

func transposeKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	r := x.Rank()
	perm := n.IntList("perm", nil)
	if perm == nil {
		perm = make([]int64, r)
		for i := range perm {
			perm[i] = int64(r - 1 - i)
		}
	}
	y := newOut(n, 0)
	// Output axis i walks input axis perm[i].
	is := strides(x.Shape)
	ps := make([]int, r)
	for i, p := range perm {
		ps[i] = is[p]
	}
	if y.DType.IsFloat() {
		permute(y.F, x.F, y.Shape, ps)
	} else {
		permute(y.I, x.I, y.Shape, ps)
	}
	return []*ir.Tensor{y}, nil
}

// permute writes dst in row-major order of shape, reading src at the sum
// of index×stride.
func permute[T float32 | int64](dst, src []T, shape []int64, st []int) {
	if len(dst) == 0 {
		return
	}
	r := len(shape)
	if r == 0 {
		dst[0] = src[0]
		return
	}
	idx := make([]int, r)
	off := 0
	last, ls := int(shape[r-1]), st[r-1]
	for d := 0; d < len(dst); d += last {
		row := dst[d : d+last]
		for i := range row {
			row[i] = src[off+i*ls]
		}
		i := r - 2
		for ; i >= 0; i-- {
			idx[i]++
			off += st[i]
			if idx[i] < int(shape[i]) {
				break
			}
			off -= st[i] * int(shape[i])
			idx[i] = 0
		}
	}
}

func concatKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	y := newOut(n, 0)
	axis := int(n.Int("axis", 0))
	if axis < 0 {
		axis += y.Rank()
	}
	outer := blockLen(y.Shape[:axis])
	inner := blockLen(y.Shape[axis+1:])
	off := 0
	for _, x := range in {
		w := int(x.Shape[axis]) * inner
		for o := 0; o < outer; o++ {
			dst := o*int(y.Shape[axis])*inner + off
			if y.DType.IsFloat() {
				copy(y.F[dst:dst+w], x.F[o*w:])
			} else {
				copy(y.I[dst:dst+w], x.I[o*w:])
			}
		}
		off += w
	}
	return []*ir.Tensor{y}, nil
}

func splitKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	axis, sizes, err := ir.SplitSizes(n)
	if err != nil {
		return nil, err
	}
	outer := blockLen(x.Shape[:axis])
	inner := blockLen(x.Shape[axis+1:])
	out := make([]*ir.Tensor, len(n.Outputs))
	off := 0
	for i := range n.Outputs {
		w := int(sizes[i]) * inner
		if n.Outputs[i] != nil {
			y := newOut(n, i)
			for o := 0; o < outer; o++ {
				src := o*int(x.Shape[axis])*inner + off
				if y.DType.IsFloat() {
					copy(y.F[o*w:(o+1)*w], x.F[src:])
				} else {
					copy(y.I[o*w:(o+1)*w], x.I[src:])
				}
			}
			out[i] = y
		}
		off += w
	}
	return out, nil
}

// gatherKernel takes slices of x along axis at the given indices; a
// negative index counts from the end, as in ONNX.
func gatherKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x, idx := in[0], in[1]
	axis := int(n.Int("axis", 0))
	if axis < 0 {
		axis += x.Rank()
	}
	y := newOut(n, 0)
	dim := x.Shape[axis]
	outer := blockLen(x.Shape[:axis])
	inner := blockLen(x.Shape[axis+1:])
	k := len(idx.I)
	for j, v := range idx.I {
		if v < 0 {
			v += dim
		}
		if v < 0 || v >= dim {
			return nil, fmt.Errorf("index %d out of range for axis %d of size %d", idx.I[j], axis, dim)
		}
		for o := 0; o < outer; o++ {
			src := (o*int(dim) + int(v)) * inner
			dst := (o*k + j) * inner
			if y.DType.IsFloat() {
				copy(y.F[dst:dst+inner], x.F[src:])
			} else {
				copy(y.I[dst:dst+inner], x.I[src:])
			}
		}
	}
	return []*ir.Tensor{y}, nil
}

func shapeKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	s, e := ir.ShapeRange(n, in[0].Rank())
	y := newOut(n, 0)
	copy(y.I, in[0].Shape[s:e])
	return []*ir.Tensor{y}, nil
}

func constantOfShapeKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	y := newOut(n, 0)
	if a, ok := n.Attrs["value"]; ok && a.Kind == ir.AttrTensor && a.Tensor != nil {
		v := a.Tensor
		if v.Len() != 1 {
			return nil, fmt.Errorf("value has %d elements, want 1", v.Len())
		}
		if y.DType.IsFloat() {
			for i := range y.F {
				y.F[i] = v.F[0]
			}
		} else {
			for i := range y.I {
				y.I[i] = v.I[0]
			}
		}
	}
	return []*ir.Tensor{y}, nil
}

// depthToSpaceKernel: DCR reads channel (by·b + bx)·C' + c, CRD reads
// c·b² + by·b + bx, for output (c, h·b+by, w·b+bx).
func depthToSpaceKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	b := int(n.Int("blocksize", 0))
	crd := false
	switch m := n.Str("mode", "DCR"); m {
	case "DCR":
	case "CRD":
		crd = true
	default:
		return nil, fmt.Errorf("unknown mode %q", m)
	}
	y := newOut(n, 0)
	N, C, H, W := int(x.Shape[0]), int(x.Shape[1]), int(x.Shape[2]), int(x.Shape[3])
	c2 := C / (b * b)
	idx := make([]int, 0, N*C*H*W)
	for nn := 0; nn < N; nn++ {
		for c := 0; c < c2; c++ {
			for h := 0; h < H*b; h++ {
				for w := 0; w < W*b; w++ {
					by, bx := h%b, w%b
					ic := (by*b+bx)*c2 + c
					if crd {
						ic = c*b*b + by*b + bx
					}
					idx = append(idx, ((nn*C+ic)*H+h/b)*W+w/b)
				}
			}
		}
	}
	gatherFlat(y, x, idx)
	return []*ir.Tensor{y}, nil
}

// spaceToDepthKernel is DCR DepthToSpace inverted: output channel
// (by·b + bx)·C + c at (h, w) reads (c, h·b+by, w·b+bx).
func spaceToDepthKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	b := int(n.Int("blocksize", 0))
	y := newOut(n, 0)
	N, C, H, W := int(x.Shape[0]), int(x.Shape[1]), int(x.Shape[2]), int(x.Shape[3])
	idx := make([]int, 0, N*C*H*W)
	for nn := 0; nn < N; nn++ {
		for oc := 0; oc < C*b*b; oc++ {
			blk, c := oc/C, oc%C
			by, bx := blk/b, blk%b
			for h := 0; h < H/b; h++ {
				for w := 0; w < W/b; w++ {
					idx = append(idx, ((nn*C+c)*H+h*b+by)*W+w*b+bx)
				}
			}
		}
	}
	gatherFlat(y, x, idx)
	return []*ir.Tensor{y}, nil
}

func gatherFlat(y, x *ir.Tensor, idx []int) {
	if y.DType.IsFloat() {
		for i, s := range idx {
			y.F[i] = x.F[s]
		}
	} else {
		for i, s := range idx {
			y.I[i] = x.I[s]
		}
	}
}

// castKernel converts between dtypes. Float to integer truncates toward
// zero and then wraps like a C conversion through int64 (NaN becomes 0);
// to bool is "nonzero"; to float16 rounds to the nearest half (ties to
// even) though it is stored widened in float32.
func castKernel(n *ir.Node, in []*ir.Tensor) ([]*ir.Tensor, error) {
	x := in[0]
	y := newOut(n, 0)
	to := y.DType
	switch {
	case x.DType.IsFloat() && to.IsFloat():
		copy(y.F, x.F)
		if to == ir.Float16 {
			for i, v := range y.F {
				y.F[i] = roundHalf(v)
			}
		}
	case x.DType.IsFloat():
		for i, v := range x.F {
			switch {
			case to == ir.Bool:
				y.I[i] = 0
				if v != 0 {
					y.I[i] = 1
				}
			case v != v:
				y.I[i] = 0
			case float64(v) >= math.MaxInt64:
				// Out of int64 range: saturate (Go's conversion is
				// implementation-defined here).
				y.I[i] = to.Wrap(math.MaxInt64)
			case float64(v) <= math.MinInt64:
				y.I[i] = to.Wrap(math.MinInt64)
			default:
				y.I[i] = to.Wrap(int64(v))
			}
		}
	case to.IsFloat():
		for i, v := range x.I {
			if x.DType == ir.Uint64 {
				y.F[i] = float32(uint64(v))
			} else {
				y.F[i] = float32(v)
			}
		}
		if to == ir.Float16 {
			for i, v := range y.F {
				y.F[i] = roundHalf(v)
			}
		}
	default:
		for i, v := range x.I {
			y.I[i] = to.Wrap(v)
		}
	}
	return []*ir.Tensor{y}, nil
}

// roundHalf rounds a float32 to the nearest IEEE half-precision value
// (ties to even), overflowing to ±Inf past 65504.
func roundHalf(v float32) float32 {
	if v != v || math.IsInf(float64(v), 0) {
		return v
	}
	a := math.Abs(float64(v))
	if a >= 65520 { // halfway between max half 65504 and 2^16 rounds up
		return float32(math.Copysign(math.Inf(1), float64(v)))
	}
	// Quantum: 2^(e-10) for normal halves (e = exponent of a), 2^-24 for
	// subnormals.
	_, e := math.Frexp(a) // a = m·2^e, m in [0.5,1)
	q := math.Ldexp(1, max(e-1-10, -24))
	return float32(math.Copysign(math.RoundToEven(a/q)*q, float64(v)))
}
