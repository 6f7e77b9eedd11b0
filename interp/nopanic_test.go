package interp

import (
	"fmt"
	"math/rand"
	"runtime/debug"
	"testing"

	"pimc/ir"
)

// randomTensor makes a small tensor of a random dtype and shape; integer
// contents are small (they often end up as axes, pads or shapes).
func randomTensor(r *rand.Rand) *ir.Tensor {
	dts := []ir.DType{ir.Float32, ir.Float32, ir.Int64, ir.Int64, ir.Uint8, ir.Int8, ir.Int32, ir.Bool}
	dt := dts[r.Intn(len(dts))]
	rank := r.Intn(5)
	shape := make([]int64, rank)
	for i := range shape {
		shape[i] = int64(r.Intn(4))
		if r.Intn(6) > 0 {
			shape[i] = max(shape[i], 1)
		}
	}
	t := ir.NewTensor(dt, shape...)
	for i := range t.F {
		t.F[i] = float32(r.NormFloat64() * 3)
	}
	lo, hi := dt.Range()
	for i := range t.I {
		v := int64(r.Intn(9) - 4)
		t.I[i] = min(max(v, lo), hi)
	}
	return t
}

func randomAttr(r *rand.Rand, name string, k ir.AttrKind) *ir.Attr {
	small := func() int64 { return int64(r.Intn(7) - 2) }
	switch k {
	case ir.AttrInt:
		if name == "to" || name == "output_dtype" {
			return ai(int64([]ir.DType{ir.Float32, ir.Int64, ir.Uint8, ir.Int8, ir.Bool, ir.Float16, 0, 8}[r.Intn(8)]))
		}
		return ai(small())
	case ir.AttrFloat:
		return af(float32(r.NormFloat64()))
	case ir.AttrString:
		opts := []string{"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "constant", "reflect", "edge", "wrap", "DCR", "CRD", "none", "tanh", "bogus"}
		return as(opts[r.Intn(len(opts))])
	case ir.AttrInts:
		v := make([]int64, r.Intn(7))
		for i := range v {
			v[i] = small()
		}
		return &ir.Attr{Kind: ir.AttrInts, Ints: v}
	case ir.AttrFloats:
		return &ir.Attr{Kind: ir.AttrFloats, Floats: []float32{float32(r.NormFloat64())}}
	case ir.AttrTensor:
		return at(randomTensor(r))
	}
	return &ir.Attr{Kind: k}
}

// Whatever the inputs and attributes, a kernel returns a result or an
// error; it never panics.
func TestKernelsNeverPanic(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	trials := 3000
	if testing.Short() {
		trials = 300
	}
	for _, op := range ir.Ops() {
		info := op.Info()
		if info.Domain != "" {
			continue
		}
		for trial := 0; trial < trials; trial++ {
			nin := info.MinIn + r.Intn(max(info.MaxIn, info.MinIn+2)-info.MinIn+1)
			in := make([]*ir.Tensor, nin)
			for i := range in {
				if i >= info.MinIn && r.Intn(4) == 0 {
					continue // omitted optional input
				}
				in[i] = randomTensor(r)
				if i > 0 && r.Intn(2) == 0 && in[0] != nil {
					in[i] = in[0].Clone() // same type as the first: gets past checks
				}
			}
			attrs := ir.Attrs{}
			for name, spec := range info.Attrs {
				if spec.Required || r.Intn(2) == 0 {
					attrs[name] = randomAttr(r, name, spec.Kind)
				}
			}
			nout := info.MinOut + r.Intn(max(info.MaxOut, info.MinOut)-info.MinOut+1)
			n := mk(op, nout, attrs)
			for _, x := range in {
				v := &ir.Value{Name: "x"}
				if x == nil {
					v = nil
				} else {
					v.Type = x.Type()
				}
				n.Inputs = append(n.Inputs, v)
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s panicked: %v\ninputs: %s\nattrs: %s\n%s", op, p, describe(in), describeAttrs(attrs), debug.Stack())
					}
				}()
				_, _ = EvalNode(n, in)
			}()
		}
	}
}

func describe(in []*ir.Tensor) string {
	s := ""
	for _, t := range in {
		if t == nil {
			s += "nil "
			continue
		}
		s += fmt.Sprintf("%s%v ", t.Type(), append(append([]float32{}, t.F...), func() []float32 {
			var f []float32
			for _, v := range t.I {
				f = append(f, float32(v))
			}
			return f
		}()...))
	}
	return s
}

func describeAttrs(a ir.Attrs) string {
	s := ""
	for k, v := range a {
		switch v.Kind {
		case ir.AttrInt:
			s += fmt.Sprintf("%s=%d ", k, v.Int)
		case ir.AttrInts:
			s += fmt.Sprintf("%s=%v ", k, v.Ints)
		case ir.AttrString:
			s += fmt.Sprintf("%s=%q ", k, v.Str)
		case ir.AttrFloat:
			s += fmt.Sprintf("%s=%g ", k, v.Float)
		default:
			s += k + "=… "
		}
	}
	return s
}
