package ir

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNotConstant marks a shape operand (Reshape's shape, Slice's starts,
// ...) that is not a constant yet, so its output shape is unknown until
// constant folding has run.
var ErrNotConstant = errors.New("must be a constant: pimc needs static shapes (run fold-constants first)")

// InferTypes recomputes the type of every node output in graph order. It
// is the single source of shape and dtype rules: importer, passes and the
// verifier all rely on it.
func InferTypes(m *Module) error {
	for _, n := range m.Graph.Nodes {
		if err := InferNode(n); err != nil {
			return err
		}
	}
	return nil
}

// InferNode sets the types of n's outputs from its inputs and attributes.
func InferNode(n *Node) error {
	if !n.Op.Valid() {
		return fmt.Errorf("node %q: invalid op", n.Name)
	}
	info := n.Op.Info()
	if len(n.Inputs) < info.MinIn || (info.MaxIn >= 0 && len(n.Inputs) > info.MaxIn) {
		return n.Errorf("%d inputs, op takes %s", len(n.Inputs), arity(info.MinIn, info.MaxIn))
	}
	for i := 0; i < info.MinIn; i++ {
		if n.Inputs[i] == nil && !(info.MaxIn < 0 && i > 0) {
			return n.Errorf("required input %d is missing", i)
		}
	}
	for i, in := range n.Inputs {
		if in != nil && in.Type.DType == Undefined {
			return n.Errorf("input %d (%q) has no type", i, in.Name)
		}
	}
	if err := n.Op.Info().Infer(n); err != nil {
		return fmt.Errorf("%s: %w", n.Where(), err)
	}
	return nil
}

func setOut(n *Node, i int, dt DType, shape []int64) {
	if i >= len(n.Outputs) || n.Outputs[i] == nil {
		return
	}
	v := n.Outputs[i]
	v.Type = Type{DType: dt, Shape: shape}
}

// constInts returns the integer contents of a constant input, or an error
// if it is not constant (pimc needs static shapes).
func constInts(n *Node, i int, what string) ([]int64, error) {
	v := n.In(i)
	if v == nil {
		return nil, nil
	}
	if v.Const == nil {
		return nil, fmt.Errorf("%s (input %d, %q) %w", what, i, v.Name, ErrNotConstant)
	}
	return v.Const.Ints(), nil
}

func normAxis(axis int64, rank int) (int, error) {
	if axis < -int64(rank) || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), nil
}

func inferSameAsFirst(n *Node) error {
	t := n.In(0).Type
	setOut(n, 0, t.DType, append([]int64{}, t.Shape...))
	return nil
}

func inferBatchNorm(n *Node) error {
	x := n.In(0).Type
	if x.Rank() < 2 {
		return fmt.Errorf("input rank %d, want >= 2", x.Rank())
	}
	for i := 1; i < 5; i++ {
		p := n.In(i).Type
		if p.Rank() != 1 || p.Shape[0] != x.Shape[1] {
			return fmt.Errorf("parameter %d (%q) has shape %v, want [%d]", i, n.In(i).Name, p.Shape, x.Shape[1])
		}
	}
	return inferSameAsFirst(n)
}

func inferDropout(n *Node) error {
	t := n.In(0).Type
	setOut(n, 0, t.DType, append([]int64{}, t.Shape...))
	setOut(n, 1, Bool, append([]int64{}, t.Shape...))
	return nil
}

func inferCast(n *Node) error {
	to := DType(n.Int("to", 0))
	if !to.IsFloat() && !to.IsInt() {
		return fmt.Errorf("unsupported Cast target dtype %d", n.Int("to", 0))
	}
	setOut(n, 0, to, append([]int64{}, n.In(0).Type.Shape...))
	return nil
}

// BroadcastShapes applies numpy-style multidirectional broadcasting.
func BroadcastShapes(shapes ...[]int64) ([]int64, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int64, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			switch {
			case out[off+i] == d || d == 1:
			case out[off+i] == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("shapes %v are not broadcast-compatible", shapes)
			}
		}
	}
	return out, nil
}

func inferBroadcast(n *Node) error {
	var shapes [][]int64
	dt := n.In(0).Type.DType
	for i, in := range n.Inputs {
		if in == nil {
			continue
		}
		if in.Type.DType != dt {
			return fmt.Errorf("input %d has dtype %s, input 0 has %s", i, in.Type.DType, dt)
		}
		shapes = append(shapes, in.Type.Shape)
	}
	s, err := BroadcastShapes(shapes...)
	if err != nil {
		return err
	}
	setOut(n, 0, dt, s)
	return nil
}

func inferBroadcastFirstType(n *Node) error {
	s, err := BroadcastShapes(n.In(0).Type.Shape, n.In(1).Type.Shape)
	if err != nil {
		return err
	}
	setOut(n, 0, n.In(0).Type.DType, s)
	return nil
}

// ConvGeometry is the resolved spatial geometry of a Conv or pooling node.
type ConvGeometry struct {
	Kernel, Strides, Dilations []int64
	Pads                       []int64 // begin..., end...
	Out                        []int64 // spatial output dims
}

// ResolveConv computes a conv/pool's geometry from its attributes, input
// spatial dims and kernel dims, applying auto_pad and ceil_mode.
func ResolveConv(n *Node, in, kernel []int64, ceil bool) (ConvGeometry, error) {
	r := len(in)
	g := ConvGeometry{Kernel: kernel}
	g.Strides = n.IntList("strides", nil)
	if g.Strides == nil {
		g.Strides = ones(r)
	}
	g.Dilations = n.IntList("dilations", nil)
	if g.Dilations == nil {
		g.Dilations = ones(r)
	}
	g.Pads = n.IntList("pads", nil)
	if g.Pads == nil {
		g.Pads = make([]int64, 2*r)
	}
	if len(g.Strides) != r || len(g.Dilations) != r || len(g.Pads) != 2*r || len(kernel) != r {
		return g, fmt.Errorf("strides %v, dilations %v, pads %v or kernel %v do not match %d spatial dims", g.Strides, g.Dilations, g.Pads, kernel, r)
	}
	for i := 0; i < r; i++ {
		if g.Strides[i] <= 0 || g.Dilations[i] <= 0 || kernel[i] <= 0 {
			return g, fmt.Errorf("strides %v, dilations %v and kernel %v must be positive", g.Strides, g.Dilations, kernel)
		}
		if g.Pads[i] < 0 || g.Pads[i+r] < 0 {
			return g, fmt.Errorf("negative pads %v", g.Pads)
		}
	}
	g.Pads = append([]int64{}, g.Pads...)
	g.Out = make([]int64, r)
	ap := n.Str("auto_pad", "NOTSET")
	for i := 0; i < r; i++ {
		ek := (kernel[i]-1)*g.Dilations[i] + 1
		switch ap {
		case "SAME_UPPER", "SAME_LOWER":
			out := (in[i] + g.Strides[i] - 1) / g.Strides[i]
			total := max(0, (out-1)*g.Strides[i]+ek-in[i])
			if ap == "SAME_UPPER" {
				g.Pads[i], g.Pads[i+r] = total/2, total-total/2
			} else {
				g.Pads[i], g.Pads[i+r] = total-total/2, total/2
			}
			g.Out[i] = out
		case "VALID":
			g.Pads[i], g.Pads[i+r] = 0, 0
			g.Out[i] = (in[i]-ek)/g.Strides[i] + 1
		case "NOTSET", "":
			span := in[i] + g.Pads[i] + g.Pads[i+r] - ek
			if ceil {
				o := (span+g.Strides[i]-1)/g.Strides[i] + 1
				// The last window must start inside the input or left pad.
				if (o-1)*g.Strides[i] >= in[i]+g.Pads[i] {
					o--
				}
				g.Out[i] = o
			} else {
				g.Out[i] = span/g.Strides[i] + 1
			}
		default:
			return g, fmt.Errorf("unknown auto_pad %q", ap)
		}
		if g.Out[i] <= 0 {
			return g, fmt.Errorf("kernel %v (dilations %v) does not fit input %v with pads %v", kernel, g.Dilations, in, g.Pads)
		}
	}
	return g, nil
}

func ones(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

func convShape(n *Node, x, w Type) ([]int64, error) {
	if x.Rank() < 3 || w.Rank() != x.Rank() {
		return nil, fmt.Errorf("input rank %d and weight rank %d: want equal ranks >= 3", x.Rank(), w.Rank())
	}
	group := n.Int("group", 1)
	if group <= 0 || x.Shape[1]%group != 0 || w.Shape[0]%group != 0 {
		return nil, fmt.Errorf("group=%d does not divide input channels %d and output channels %d", group, x.Shape[1], w.Shape[0])
	}
	if w.Shape[1]*group != x.Shape[1] {
		return nil, fmt.Errorf("weight %v expects %d input channels per group, input has %d channels in %d groups", w.Shape, w.Shape[1], x.Shape[1], group)
	}
	k := w.Shape[2:]
	if ks := n.IntList("kernel_shape", nil); ks != nil && !slices.Equal(ks, k) {
		return nil, fmt.Errorf("kernel_shape %v does not match weight %v", ks, w.Shape)
	}
	g, err := ResolveConv(n, x.Shape[2:], k, false)
	if err != nil {
		return nil, err
	}
	return append([]int64{x.Shape[0], w.Shape[0]}, g.Out...), nil
}

func inferConv(n *Node) error {
	x, w := n.In(0).Type, n.In(1).Type
	if x.DType != w.DType || !x.DType.IsFloat() {
		return fmt.Errorf("input %s and weight %s must be the same float type", x.DType, w.DType)
	}
	s, err := convShape(n, x, w)
	if err != nil {
		return err
	}
	if b := n.In(2); b != nil && (b.Type.Rank() != 1 || b.Type.Shape[0] != w.Shape[0]) {
		return fmt.Errorf("bias shape %v, want [%d]", b.Type.Shape, w.Shape[0])
	}
	setOut(n, 0, x.DType, s)
	return nil
}

func inferConvInteger(n *Node) error {
	s, err := convShape(n, n.In(0).Type, n.In(1).Type)
	if err != nil {
		return err
	}
	setOut(n, 0, Int32, s)
	return nil
}

func inferQLinearConv(n *Node) error {
	s, err := convShape(n, n.In(0).Type, n.In(3).Type)
	if err != nil {
		return err
	}
	setOut(n, 0, n.In(7).Type.DType, s)
	return nil
}

func inferPool(n *Node) error {
	x := n.In(0).Type
	if x.Rank() < 3 {
		return fmt.Errorf("input rank %d, want >= 3", x.Rank())
	}
	g, err := ResolveConv(n, x.Shape[2:], n.IntList("kernel_shape", nil), n.Int("ceil_mode", 0) != 0)
	if err != nil {
		return err
	}
	s := append([]int64{x.Shape[0], x.Shape[1]}, g.Out...)
	setOut(n, 0, x.DType, s)
	setOut(n, 1, Int64, append([]int64{}, s...))
	return nil
}

func inferGlobalPool(n *Node) error {
	x := n.In(0).Type
	if x.Rank() < 3 {
		return fmt.Errorf("input rank %d, want >= 3", x.Rank())
	}
	s := append([]int64{}, x.Shape...)
	for i := 2; i < len(s); i++ {
		s[i] = 1
	}
	setOut(n, 0, x.DType, s)
	return nil
}

func inferGemm(n *Node) error {
	a, b := n.In(0).Type, n.In(1).Type
	if a.Rank() != 2 || b.Rank() != 2 {
		return fmt.Errorf("Gemm wants 2-D inputs, got %v and %v", a.Shape, b.Shape)
	}
	m, k := a.Shape[0], a.Shape[1]
	if n.Int("transA", 0) != 0 {
		m, k = k, m
	}
	k2, nn := b.Shape[0], b.Shape[1]
	if n.Int("transB", 0) != 0 {
		k2, nn = nn, k2
	}
	if k != k2 {
		return fmt.Errorf("inner dims differ: A %v, B %v", a.Shape, b.Shape)
	}
	if c := n.In(2); c != nil {
		if _, err := BroadcastShapes(c.Type.Shape, []int64{m, nn}); err != nil || c.Type.Rank() > 2 {
			return fmt.Errorf("bias %v does not broadcast to [%d,%d]", c.Type.Shape, m, nn)
		}
	}
	setOut(n, 0, a.DType, []int64{m, nn})
	return nil
}

func matmulShape(a, b []int64) ([]int64, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("MatMul of a scalar")
	}
	a1, b1 := a, b
	if len(a) == 1 {
		a1 = []int64{1, a[0]}
	}
	if len(b) == 1 {
		b1 = []int64{b[0], 1}
	}
	if a1[len(a1)-1] != b1[len(b1)-2] {
		return nil, fmt.Errorf("inner dims differ: %v and %v", a, b)
	}
	batch, err := BroadcastShapes(a1[:len(a1)-2], b1[:len(b1)-2])
	if err != nil {
		return nil, err
	}
	out := append(batch, a1[len(a1)-2], b1[len(b1)-1])
	if len(a) == 1 {
		out = append(out[:len(out)-2], out[len(out)-1])
	}
	if len(b) == 1 {
		out = out[:len(out)-1]
	}
	return out, nil
}

func inferMatMul(n *Node) error {
	s, err := matmulShape(n.In(0).Type.Shape, n.In(1).Type.Shape)
	if err != nil {
		return err
	}
	setOut(n, 0, n.In(0).Type.DType, s)
	return nil
}

func inferMatMulInteger(n *Node) error {
	s, err := matmulShape(n.In(0).Type.Shape, n.In(1).Type.Shape)
	if err != nil {
		return err
	}
	setOut(n, 0, Int32, s)
	return nil
}

func inferQLinearMatMul(n *Node) error {
	s, err := matmulShape(n.In(0).Type.Shape, n.In(3).Type.Shape)
	if err != nil {
		return err
	}
	setOut(n, 0, n.In(7).Type.DType, s)
	return nil
}

func inferQuantize(n *Node) error {
	dt := Uint8
	if zp := n.In(2); zp != nil {
		dt = zp.Type.DType
	} else if od := n.Int("output_dtype", 0); od != 0 {
		dt = DType(od)
	}
	if dt != Uint8 && dt != Int8 && dt != Int16 && dt != Uint16 {
		return fmt.Errorf("unsupported quantized dtype %s", dt)
	}
	setOut(n, 0, dt, append([]int64{}, n.In(0).Type.Shape...))
	return nil
}

func inferDequantize(n *Node) error {
	setOut(n, 0, n.In(1).Type.DType, append([]int64{}, n.In(0).Type.Shape...))
	return nil
}

func inferReshape(n *Node) error {
	x := n.In(0).Type
	shape, err := constInts(n, 1, "shape")
	if err != nil {
		return err
	}
	out, err := ReshapeTarget(x.Shape, shape, n.Int("allowzero", 0) != 0)
	if err != nil {
		return err
	}
	setOut(n, 0, x.DType, out)
	return nil
}

// ReshapeTarget resolves a Reshape shape (0 = copy, -1 = infer).
func ReshapeTarget(in, shape []int64, allowZero bool) ([]int64, error) {
	out := make([]int64, len(shape))
	neg := -1
	known := int64(1)
	for i, d := range shape {
		switch {
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dim %d of a rank-%d input", shape, i, len(in))
			}
			out[i] = in[i]
		case d == -1:
			if neg >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", shape)
			}
			neg = i
			continue
		case d < 0:
			return nil, fmt.Errorf("shape %v has a negative dim", shape)
		default:
			out[i] = d
		}
		known *= out[i]
	}
	total := NumElems(in)
	if neg >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, shape)
		}
		out[neg] = total / known
	} else if known != total {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, shape)
	}
	return out, nil
}

func inferFlatten(n *Node) error {
	x := n.In(0).Type
	axis := n.Int("axis", 1)
	if axis < 0 {
		axis += int64(x.Rank())
	}
	if axis < 0 || axis > int64(x.Rank()) {
		return fmt.Errorf("axis %d out of range for rank %d", n.Int("axis", 1), x.Rank())
	}
	setOut(n, 0, x.DType, []int64{NumElems(x.Shape[:axis]), NumElems(x.Shape[axis:])})
	return nil
}

func inferTranspose(n *Node) error {
	x := n.In(0).Type
	perm := n.IntList("perm", nil)
	if perm == nil {
		perm = make([]int64, x.Rank())
		for i := range perm {
			perm[i] = int64(x.Rank() - 1 - i)
		}
	}
	if len(perm) != x.Rank() {
		return fmt.Errorf("perm %v for rank %d", perm, x.Rank())
	}
	seen := make([]bool, len(perm))
	out := make([]int64, len(perm))
	for i, p := range perm {
		if p < 0 || p >= int64(len(perm)) || seen[p] {
			return fmt.Errorf("perm %v is not a permutation", perm)
		}
		seen[p] = true
		out[i] = x.Shape[p]
	}
	setOut(n, 0, x.DType, out)
	return nil
}

func inferSqueeze(n *Node) error {
	x := n.In(0).Type
	axes, err := constInts(n, 1, "axes")
	if err != nil {
		return err
	}
	drop := make([]bool, x.Rank())
	if axes == nil {
		for i, d := range x.Shape {
			drop[i] = d == 1
		}
	}
	for _, a := range axes {
		ax, err := normAxis(a, x.Rank())
		if err != nil {
			return err
		}
		if x.Shape[ax] != 1 {
			return fmt.Errorf("cannot squeeze axis %d of size %d", a, x.Shape[ax])
		}
		drop[ax] = true
	}
	var out []int64
	for i, d := range x.Shape {
		if !drop[i] {
			out = append(out, d)
		}
	}
	setOut(n, 0, x.DType, out)
	return nil
}

func inferUnsqueeze(n *Node) error {
	x := n.In(0).Type
	axes, err := constInts(n, 1, "axes")
	if err != nil {
		return err
	}
	r := x.Rank() + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		ax, err := normAxis(a, r)
		if err != nil {
			return err
		}
		if ins[ax] {
			return fmt.Errorf("axes %v repeat an axis", axes)
		}
		ins[ax] = true
	}
	out := make([]int64, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, 1)
		} else {
			out = append(out, x.Shape[j])
			j++
		}
	}
	setOut(n, 0, x.DType, out)
	return nil
}

func inferConcat(n *Node) error {
	x := n.In(0).Type
	axis, err := normAxis(n.Int("axis", 0), x.Rank())
	if err != nil {
		return err
	}
	out := append([]int64{}, x.Shape...)
	out[axis] = 0
	for i, in := range n.Inputs {
		if in == nil {
			return fmt.Errorf("input %d is omitted", i)
		}
		t := in.Type
		if t.Rank() != x.Rank() || t.DType != x.DType {
			return fmt.Errorf("input %d is %s, input 0 is %s", i, t, x)
		}
		for d := range t.Shape {
			if d != axis && t.Shape[d] != x.Shape[d] {
				return fmt.Errorf("input %d shape %v differs from %v outside axis %d", i, t.Shape, x.Shape, axis)
			}
		}
		out[axis] += t.Shape[axis]
	}
	setOut(n, 0, x.DType, out)
	return nil
}

// SplitSizes resolves a Split node's output sizes along its axis.
func SplitSizes(n *Node) (axis int, sizes []int64, err error) {
	x := n.In(0).Type
	axis, err = normAxis(n.Int("axis", 0), x.Rank())
	if err != nil {
		return 0, nil, err
	}
	split, err := constInts(n, 1, "split")
	if err != nil {
		return 0, nil, err
	}
	dim := x.Shape[axis]
	if split != nil {
		var sum int64
		for _, s := range split {
			if s < 0 {
				return 0, nil, fmt.Errorf("negative split %v", split)
			}
			sum += s
		}
		if sum != dim || len(split) != len(n.Outputs) {
			return 0, nil, fmt.Errorf("split %v does not cover dim %d in %d outputs", split, dim, len(n.Outputs))
		}
		return axis, split, nil
	}
	k := int64(len(n.Outputs))
	if no := n.Int("num_outputs", 0); no > 0 {
		k = no
	}
	if k <= 0 {
		return 0, nil, fmt.Errorf("no outputs")
	}
	chunk := (dim + k - 1) / k
	for i := int64(0); i < k; i++ {
		s := min(chunk, dim-i*chunk)
		if s < 0 {
			s = 0
		}
		sizes = append(sizes, s)
	}
	if len(sizes) != len(n.Outputs) {
		return 0, nil, fmt.Errorf("num_outputs %d but %d outputs", k, len(n.Outputs))
	}
	return axis, sizes, nil
}

func inferSplit(n *Node) error {
	axis, sizes, err := SplitSizes(n)
	if err != nil {
		return err
	}
	x := n.In(0).Type
	for i := range n.Outputs {
		s := append([]int64{}, x.Shape...)
		s[axis] = sizes[i]
		setOut(n, i, x.DType, s)
	}
	return nil
}

// SliceParams holds a Slice node resolved against its input shape.
type SliceParams struct {
	Start, Step, Count []int64 // per input axis
}

// ResolveSlice clamps a Slice's starts/ends per ONNX's rules.
func ResolveSlice(n *Node, shape []int64) (SliceParams, error) {
	r := len(shape)
	p := SliceParams{Start: make([]int64, r), Step: ones(r), Count: append([]int64{}, shape...)}
	starts, err := constInts(n, 1, "starts")
	if err != nil {
		return p, err
	}
	ends, err := constInts(n, 2, "ends")
	if err != nil {
		return p, err
	}
	axes, err := constInts(n, 3, "axes")
	if err != nil {
		return p, err
	}
	steps, err := constInts(n, 4, "steps")
	if err != nil {
		return p, err
	}
	if len(starts) != len(ends) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return p, fmt.Errorf("starts %v, ends %v, axes %v, steps %v differ in length", starts, ends, axes, steps)
	}
	seen := make([]bool, r)
	for i := range starts {
		ax := int64(i)
		if axes != nil {
			ax = axes[i]
		}
		a, err := normAxis(ax, r)
		if err != nil {
			return p, err
		}
		if seen[a] {
			return p, fmt.Errorf("axes %v repeat an axis", axes)
		}
		seen[a] = true
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return p, fmt.Errorf("slice step 0")
		}
		dim := shape[a]
		s, e := starts[i], ends[i]
		if s < 0 {
			s += dim
		}
		if e < 0 {
			e += dim
		}
		if dim == 0 {
			s, e = 0, 0
		} else if step > 0 {
			s = clamp(s, 0, dim)
			e = clamp(e, 0, dim)
		} else {
			s = clamp(s, 0, dim-1)
			e = clamp(e, -1, dim-1)
		}
		var cnt int64
		if step > 0 && e > s {
			cnt = (e - s + step - 1) / step
		} else if step < 0 && s > e {
			cnt = (s - e + (-step) - 1) / (-step)
		}
		p.Start[a], p.Step[a], p.Count[a] = s, step, cnt
	}
	return p, nil
}

func clamp(v, lo, hi int64) int64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func inferSlice(n *Node) error {
	x := n.In(0).Type
	p, err := ResolveSlice(n, x.Shape)
	if err != nil {
		return err
	}
	setOut(n, 0, x.DType, p.Count)
	return nil
}

func inferGather(n *Node) error {
	x, idx := n.In(0).Type, n.In(1).Type
	axis, err := normAxis(n.Int("axis", 0), x.Rank())
	if err != nil {
		return err
	}
	if !idx.DType.IsInt() || idx.DType == Bool {
		return fmt.Errorf("indices must be integers, got %s", idx.DType)
	}
	out := append([]int64{}, x.Shape[:axis]...)
	out = append(out, idx.Shape...)
	out = append(out, x.Shape[axis+1:]...)
	setOut(n, 0, x.DType, out)
	return nil
}

func inferTile(n *Node) error {
	x := n.In(0).Type
	reps, err := constInts(n, 1, "repeats")
	if err != nil {
		return err
	}
	if len(reps) != x.Rank() {
		return fmt.Errorf("repeats %v for rank %d", reps, x.Rank())
	}
	out := make([]int64, x.Rank())
	for i := range out {
		if reps[i] < 0 {
			return fmt.Errorf("negative repeats %v", reps)
		}
		out[i] = x.Shape[i] * reps[i]
	}
	setOut(n, 0, x.DType, out)
	return nil
}

func inferExpand(n *Node) error {
	x := n.In(0).Type
	shape, err := constInts(n, 1, "shape")
	if err != nil {
		return err
	}
	out, err := BroadcastShapes(x.Shape, shape)
	if err != nil {
		return err
	}
	setOut(n, 0, x.DType, out)
	return nil
}

// ShapeRange resolves Shape's start/end attributes.
func ShapeRange(n *Node, rank int) (int, int) {
	r := int64(rank)
	s, e := n.Int("start", 0), n.Int("end", r)
	if s < 0 {
		s += r
	}
	if e < 0 {
		e += r
	}
	s, e = clamp(s, 0, r), clamp(e, 0, r)
	if e < s {
		e = s
	}
	return int(s), int(e)
}

func inferShape(n *Node) error {
	s, e := ShapeRange(n, n.In(0).Type.Rank())
	setOut(n, 0, Int64, []int64{int64(e - s)})
	return nil
}

func inferConstantOfShape(n *Node) error {
	shape, err := constInts(n, 0, "shape")
	if err != nil {
		return err
	}
	dt := Float32
	if a, ok := n.Attrs["value"]; ok && a.Kind == AttrTensor && a.Tensor != nil {
		dt = a.Tensor.DType
	}
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative dim in shape %v", shape)
		}
	}
	setOut(n, 0, dt, append([]int64{}, shape...))
	return nil
}

// PadAmounts resolves a Pad node's pads per axis (begin..., end...).
func PadAmounts(n *Node, rank int) ([]int64, error) {
	pads, err := constInts(n, 1, "pads")
	if err != nil {
		return nil, err
	}
	axes, err := constInts(n, 3, "axes")
	if err != nil {
		return nil, err
	}
	if axes == nil {
		if len(pads) != 2*rank {
			return nil, fmt.Errorf("pads %v for rank %d", pads, rank)
		}
		return pads, nil
	}
	if len(pads) != 2*len(axes) {
		return nil, fmt.Errorf("pads %v for axes %v", pads, axes)
	}
	full := make([]int64, 2*rank)
	for i, a := range axes {
		ax, err := normAxis(a, rank)
		if err != nil {
			return nil, err
		}
		full[ax], full[ax+rank] = pads[i], pads[i+len(axes)]
	}
	return full, nil
}

func inferPad(n *Node) error {
	x := n.In(0).Type
	pads, err := PadAmounts(n, x.Rank())
	if err != nil {
		return err
	}
	out := make([]int64, x.Rank())
	for i := range out {
		out[i] = x.Shape[i] + pads[i] + pads[i+x.Rank()]
		if out[i] < 0 {
			return fmt.Errorf("pads %v make axis %d negative", pads, i)
		}
	}
	switch m := n.Str("mode", "constant"); m {
	case "constant", "reflect", "edge", "wrap":
	default:
		return fmt.Errorf("unknown pad mode %q", m)
	}
	setOut(n, 0, x.DType, out)
	return nil
}

func inferDepthToSpace(n *Node) error {
	x := n.In(0).Type
	b := n.Int("blocksize", 0)
	if x.Rank() != 4 || b <= 0 || b > 1<<16 || x.Shape[1]%(b*b) != 0 {
		return fmt.Errorf("blocksize %d does not divide channels of %v", b, x.Shape)
	}
	setOut(n, 0, x.DType, []int64{x.Shape[0], x.Shape[1] / (b * b), x.Shape[2] * b, x.Shape[3] * b})
	return nil
}

func inferSpaceToDepth(n *Node) error {
	x := n.In(0).Type
	b := n.Int("blocksize", 0)
	if x.Rank() != 4 || b <= 0 || b > 1<<16 || x.Shape[2]%b != 0 || x.Shape[3]%b != 0 {
		return fmt.Errorf("blocksize %d does not divide spatial dims of %v", b, x.Shape)
	}
	setOut(n, 0, x.DType, []int64{x.Shape[0], x.Shape[1] * b * b, x.Shape[2] / b, x.Shape[3] / b})
	return nil
}

// ReduceAxes resolves a Reduce* node's axes (nil result = reduce nothing).
func ReduceAxes(n *Node, rank int) ([]bool, error) {
	axes, err := constInts(n, 1, "axes")
	if err != nil {
		return nil, err
	}
	red := make([]bool, rank)
	if len(axes) == 0 {
		if n.Int("noop_with_empty_axes", 0) != 0 {
			return red, nil
		}
		for i := range red {
			red[i] = true
		}
		return red, nil
	}
	for _, a := range axes {
		ax, err := normAxis(a, rank)
		if err != nil {
			return nil, err
		}
		red[ax] = true
	}
	return red, nil
}

func inferReduce(n *Node) error {
	x := n.In(0).Type
	red, err := ReduceAxes(n, x.Rank())
	if err != nil {
		return err
	}
	keep := n.Int("keepdims", 1) != 0
	var out []int64
	for i, d := range x.Shape {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
	}
	setOut(n, 0, x.DType, out)
	return nil
}
