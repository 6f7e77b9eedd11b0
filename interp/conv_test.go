package interp

import (
	"math/rand"
	"runtime"
	"testing"
	"time"

	"pimc/ir"
)

// naiveConv is the textbook N-D convolution (float64 sums) on the
// geometry resolved by ir.ResolveConv.
func naiveConv(t *testing.T, n *ir.Node, x, w, b *ir.Tensor) []float32 {
	g, err := resolveGeom(n, x.Shape[2:], w.Shape[2:], false)
	if err != nil {
		t.Fatal(err)
	}
	group := int(n.Int("group", 1))
	N, C, M := int(x.Shape[0]), int(x.Shape[1]), int(w.Shape[0])
	cg, mg := C/group, M/group
	out := make([]float32, N*M*g.outSize())
	j := 0
	for bi := 0; bi < N; bi++ {
		for oc := 0; oc < M; oc++ {
			gi := oc / mg
			for oz := 0; oz < g.out[0]; oz++ {
				for oy := 0; oy < g.out[1]; oy++ {
					for ox := 0; ox < g.out[2]; ox++ {
						var s float64
						if b != nil {
							s = float64(b.F[oc])
						}
						for c := 0; c < cg; c++ {
							for kz := 0; kz < g.k[0]; kz++ {
								for ky := 0; ky < g.k[1]; ky++ {
									for kx := 0; kx < g.k[2]; kx++ {
										iz := oz*g.s[0] - g.p[0] + kz*g.d[0]
										iy := oy*g.s[1] - g.p[1] + ky*g.d[1]
										ix := ox*g.s[2] - g.p[2] + kx*g.d[2]
										if iz < 0 || iy < 0 || ix < 0 || iz >= g.in[0] || iy >= g.in[1] || ix >= g.in[2] {
											continue
										}
										xv := x.F[((bi*C+gi*cg+c)*g.in[0]+iz)*g.in[1]*g.in[2]+iy*g.in[2]+ix]
										wv := w.F[(((oc*cg+c)*g.k[0]+kz)*g.k[1]+ky)*g.k[2]+kx]
										s += float64(xv) * float64(wv)
									}
								}
							}
						}
						out[j] = float32(s)
						j++
					}
				}
			}
		}
	}
	return out
}

type convCase struct {
	spatial, kernel []int64
	n, c, m, group  int64
	attrs           ir.Attrs
	bias            bool
}

func randomConvCases(r *rand.Rand) []convCase {
	cases := []convCase{
		{spatial: sh(7, 7), kernel: sh(1, 1), n: 1, c: 5, m: 7, group: 1},
		{spatial: sh(8, 8), kernel: sh(1, 1), n: 2, c: 4, m: 8, group: 1, attrs: ir.Attrs{"strides": ais(2, 2)}},
		{spatial: sh(9, 9), kernel: sh(3, 3), n: 1, c: 6, m: 6, group: 6, attrs: ir.Attrs{"pads": ais(1, 1, 1, 1)}, bias: true},
		{spatial: sh(9, 9), kernel: sh(3, 3), n: 1, c: 3, m: 6, group: 3, attrs: ir.Attrs{"strides": ais(2, 2), "pads": ais(0, 1, 2, 1)}},
		{spatial: sh(10, 11), kernel: sh(3, 2), n: 1, c: 4, m: 8, group: 2, attrs: ir.Attrs{"dilations": ais(2, 3), "pads": ais(2, 1, 0, 3)}, bias: true},
		{spatial: sh(13), kernel: sh(4), n: 2, c: 3, m: 5, group: 1, attrs: ir.Attrs{"auto_pad": as("SAME_LOWER"), "strides": ais(3)}},
		{spatial: sh(5, 6, 7), kernel: sh(2, 3, 2), n: 1, c: 2, m: 3, group: 1, attrs: ir.Attrs{"pads": ais(1, 0, 1, 0, 1, 1)}, bias: true},
		{spatial: sh(12, 12), kernel: sh(7, 7), n: 1, c: 3, m: 16, group: 1, attrs: ir.Attrs{"strides": ais(2, 2), "pads": ais(3, 3, 3, 3)}},
		{spatial: sh(6, 6), kernel: sh(3, 3), n: 1, c: 2, m: 4, group: 1, attrs: ir.Attrs{"auto_pad": as("VALID")}},
	}
	for i := 0; i < 25; i++ {
		k := int64(1 + r.Intn(4))
		g := int64(1 + r.Intn(3))
		if r.Intn(4) == 0 {
			g = int64(2 + r.Intn(4)) // depthwise-like
			cases = append(cases, convCase{spatial: sh(int64(k+2+int64(r.Intn(20))), int64(k+2+int64(r.Intn(20)))), kernel: sh(k, k), n: 1, c: g, m: g * int64(1+r.Intn(2)), group: g,
				attrs: ir.Attrs{"strides": ais(int64(1+r.Intn(2)), 1), "pads": ais(int64(r.Intn(2)), 0, int64(r.Intn(2)), 1)}, bias: r.Intn(2) == 0})
			continue
		}
		cases = append(cases, convCase{spatial: sh(int64(k+int64(r.Intn(30))), int64(k+int64(r.Intn(30)))), kernel: sh(k, int64(1+r.Intn(4))), n: int64(1 + r.Intn(2)), c: g * int64(1+r.Intn(20)), m: g * int64(1+r.Intn(40)), group: g,
			attrs: ir.Attrs{"strides": ais(int64(1+r.Intn(2)), int64(1+r.Intn(3))), "dilations": ais(int64(1+r.Intn(2)), 1), "pads": ais(int64(r.Intn(3)), int64(r.Intn(2)), int64(r.Intn(3)), int64(r.Intn(2)))}, bias: r.Intn(2) == 0})
	}
	return cases
}

func (cc convCase) tensors(r *rand.Rand) (x, w, b *ir.Tensor) {
	xs := append([]int64{cc.n, cc.c}, cc.spatial...)
	ws := append([]int64{cc.m, cc.c / cc.group}, cc.kernel...)
	x = ft(xs, randFloats(r, int(ir.NumElems(xs)))...)
	w = ft(ws, randFloats(r, int(ir.NumElems(ws)))...)
	if cc.bias {
		b = ft(sh(cc.m), randFloats(r, int(cc.m))...)
	}
	return
}

func (cc convCase) node() *ir.Node {
	attrs := ir.Attrs{"group": ai(cc.group)}
	for k, v := range cc.attrs {
		attrs[k] = v
	}
	return mk(ir.OpConv, 1, attrs)
}

func TestConvRandom(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for i, cc := range randomConvCases(r) {
		x, w, b := cc.tensors(r)
		n := cc.node()
		out := eval(t, n, x, w, b)
		want := naiveConv(t, n, x, w, b)
		k := int(w.Len() / cc.m)
		if j, ok := closeTo(out[0].F, want, k); !ok {
			t.Fatalf("case %d %+v: y[%d]=%g, want %g", i, cc, j, out[0].F[j], want[j])
		}
	}
}

// Results are bit-identical whatever the number of workers.
func TestConvDeterministic(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	cc := convCase{spatial: sh(30, 30), kernel: sh(3, 3), n: 1, c: 40, m: 70, group: 1, attrs: ir.Attrs{"pads": ais(1, 1, 1, 1)}, bias: true}
	x, w, b := cc.tensors(r)
	run := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		return eval(t, cc.node(), x, w, b)[0].F
	}
	a, b1, c := run(1), run(2), run(5)
	for i := range a {
		if a[i] != b1[i] || a[i] != c[i] {
			t.Fatalf("y[%d] differs with worker count: %g %g %g", i, a[i], b1[i], c[i])
		}
	}
}

func benchConv(b *testing.B, c, hw, m, k, stride int64) {
	r := rand.New(rand.NewSource(7))
	p := k / 2
	cc := convCase{spatial: sh(hw, hw), kernel: sh(k, k), n: 1, c: c, m: m, group: 1, attrs: ir.Attrs{"pads": ais(p, p, p, p), "strides": ais(stride, stride)}, bias: true}
	x, w, bias := cc.tensors(r)
	n := cc.node()
	for _, t := range []*ir.Tensor{x, w, bias} {
		n.Inputs = append(n.Inputs, &ir.Value{Name: "x", Type: t.Type()})
	}
	in := []*ir.Tensor{x, w, bias}
	out, _ := EvalNode(n, in)
	flops := 2 * float64(out[0].Len()) * float64(w.Len()/m)
	var start time.Duration
	for b.Loop() {
		if start == 0 {
			start = processCPU()
		}
		if _, err := EvalNode(n, in); err != nil {
			b.Fatal(err)
		}
	}
	ReportCPU(b, start)
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

func BenchmarkConv3x3_64x56x56(b *testing.B)    { benchConv(b, 64, 56, 64, 3, 1) }
func BenchmarkConv1x1_256x56x56(b *testing.B)   { benchConv(b, 256, 56, 64, 1, 1) }
func BenchmarkConv7x7s2_3x224x224(b *testing.B) { benchConv(b, 3, 224, 64, 7, 2) }
func BenchmarkConv3x3_512x7x7(b *testing.B)     { benchConv(b, 512, 7, 512, 3, 1) }
