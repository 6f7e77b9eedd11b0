package runtime_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"pimc/backend"
	"pimc/backend/isa"
	"pimc/dualnet"
	"pimc/hw"
	"pimc/ir"
	"pimc/runtime"
)

// gb builds small float graphs by hand.
type gb struct {
	t   testing.TB
	m   *ir.Module
	rng *rand.Rand
}

func newGB(t testing.TB, name string) *gb {
	return &gb{t: t, m: ir.NewModule(name), rng: rand.New(rand.NewPCG(7, 11))}
}

func (b *gb) input(name string, shape ...int64) *ir.Value {
	v := &ir.Value{Name: name, Type: ir.Type{DType: ir.Float32, Shape: shape}}
	b.m.Graph.Inputs = append(b.m.Graph.Inputs, v)
	return v
}

func (b *gb) randConst(name string, scale float64, shape ...int64) *ir.Value {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.F {
		t.F[i] = float32(b.rng.NormFloat64() * scale)
	}
	return b.m.AddConst(name, t)
}

func (b *gb) node(op ir.Op, name string, ins []*ir.Value, set func(n *ir.Node)) *ir.Value {
	n := &ir.Node{Name: name, Op: op, Inputs: ins}
	o := &ir.Value{Name: name + "_out", Def: n}
	n.Outputs = []*ir.Value{o}
	if set != nil {
		set(n)
	}
	if err := ir.InferNode(n); err != nil {
		b.t.Fatal(err)
	}
	b.m.Graph.Nodes = append(b.m.Graph.Nodes, n)
	return o
}

func (b *gb) convG(name string, x *ir.Value, cout, k, pad, stride, group int64) *ir.Value {
	cin := x.Type.Shape[1]
	w := b.randConst(name+"_w", 1/math.Sqrt(float64(cin/group*k*k)), cout, cin/group, k, k)
	bias := b.randConst(name+"_b", 0.1, cout)
	return b.node(ir.OpConv, name, []*ir.Value{x, w, bias}, func(n *ir.Node) {
		n.SetInts("pads", []int64{pad, pad, pad, pad})
		n.SetInts("kernel_shape", []int64{k, k})
		n.SetInts("strides", []int64{stride, stride})
		if group > 1 {
			n.SetInt("group", group)
		}
	})
}

func (b *gb) conv(name string, x *ir.Value, cout, k, pad int64) *ir.Value {
	return b.convG(name, x, cout, k, pad, 1, 1)
}

func (b *gb) relu(name string, x *ir.Value) *ir.Value {
	return b.node(ir.OpRelu, name, []*ir.Value{x}, nil)
}

func (b *gb) gemm(name string, x *ir.Value, cout int64) *ir.Value {
	k := x.Type.Shape[1]
	w := b.randConst(name+"_w", 1/math.Sqrt(float64(k)), cout, k)
	bias := b.randConst(name+"_b", 0.1, cout)
	return b.node(ir.OpGemm, name, []*ir.Value{x, w, bias}, func(n *ir.Node) { n.SetInt("transB", 1) })
}

func (b *gb) output(v *ir.Value) {
	b.m.Graph.Outputs = append(b.m.Graph.Outputs, v)
	if err := ir.Verify(b.m); err != nil {
		b.t.Fatal(err)
	}
}

// resNet is a small residual CNN: INT8 first and last layers, split convs,
// a fused residual, a signed-input split conv, max and average pooling,
// global pooling, a split FC layer, a final Softmax in float.
func resNet(t testing.TB) *ir.Module {
	b := newGB(t, "resnet")
	x := b.input("x", 1, 3, 10, 10)
	c1 := b.relu("relu1", b.conv("conv1", x, 8, 3, 1))
	c2 := b.relu("relu2", b.conv("conv2", c1, 16, 3, 1))
	c3 := b.conv("conv3", c2, 16, 3, 1)
	a := b.relu("relu3", b.node(ir.OpAdd, "add", []*ir.Value{c3, c2}, nil))
	p := b.node(ir.OpMaxPool, "pool", []*ir.Value{a}, func(n *ir.Node) {
		n.SetInts("kernel_shape", []int64{2, 2})
		n.SetInts("strides", []int64{2, 2})
	})
	c4 := b.conv("conv4", p, 16, 1, 0) // no ReLU: signed output
	c5 := b.relu("relu5", b.conv("conv5", c4, 24, 3, 1))
	ap := b.node(ir.OpAveragePool, "avg", []*ir.Value{c5}, func(n *ir.Node) {
		n.SetInts("kernel_shape", []int64{3, 3})
		n.SetInts("pads", []int64{1, 1, 1, 1})
	})
	g := b.node(ir.OpGlobalAvgPool, "gap", []*ir.Value{ap}, nil)
	f := b.node(ir.OpFlatten, "flat", []*ir.Value{g}, nil)
	h := b.relu("relu6", b.gemm("fc1", f, 20))
	o := b.gemm("fc2", h, 10)
	s := b.node(ir.OpSoftmax, "softmax", []*ir.Value{o}, func(n *ir.Node) { n.SetInt("axis", 1) })
	b.output(s)
	return b.m
}

// wideNet has layers wider than one array in both directions (several row
// and column tiles), a strided conv, a depthwise conv, a concat, a batch
// of 2 and a LogSoftmax.
func wideNet(t testing.TB) *ir.Module {
	b := newGB(t, "wide")
	x := b.input("x", 2, 4, 12, 12)
	c1 := b.relu("relu1", b.conv("conv1", x, 40, 3, 1))
	c2 := b.relu("relu2", b.conv("conv2", c1, 72, 3, 1)) // K = 360: 3 row tiles
	d := b.relu("relu_dw", b.convG("dw", c2, 72, 3, 1, 2, 72))
	c3 := b.relu("relu3", b.conv("conv3", d, 80, 1, 0))
	c4 := b.relu("relu4", b.convG("conv4", d, 48, 3, 1, 1, 1))
	cat := b.node(ir.OpConcat, "cat", []*ir.Value{c3, c4}, func(n *ir.Node) { n.SetInt("axis", 1) })
	c5 := b.relu("relu5", b.conv("conv5", cat, 150, 3, 0)) // 150 outputs: several column tiles
	g := b.node(ir.OpGlobalAvgPool, "gap", []*ir.Value{c5}, nil)
	f := b.node(ir.OpFlatten, "flat", []*ir.Value{g}, nil)
	h := b.relu("relu6", b.gemm("fc1", f, 100))
	o := b.gemm("fc2", h, 10)
	s := b.node(ir.OpLogSoftmax, "lsm", []*ir.Value{o}, func(n *ir.Node) { n.SetInt("axis", 1) })
	b.output(s)
	return b.m
}

func randInputs(m *ir.Module, n int, seed uint64) []*ir.Tensor {
	rng := rand.New(rand.NewPCG(seed, 3))
	in := m.Graph.Inputs[0]
	out := make([]*ir.Tensor, n)
	for i := range out {
		t := ir.NewTensor(ir.Float32, in.Type.Shape...)
		for j := range t.F {
			t.F[j] = float32(rng.NormFloat64())
		}
		out[i] = t
	}
	return out
}

func quantizeNet(t testing.TB, m *ir.Module, ratio float64, samples []*ir.Tensor) *ir.Module {
	t.Helper()
	o := dualnet.DefaultOptions()
	o.Ratios = dualnet.Uniform(ratio)
	o.Samples = samples
	if err := dualnet.Compile(m, o); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatalf("%v\n%s", err, m)
	}
	return m
}

// compile emits q for h (latency allocation), checks the listing round
// trip and loads it.
func compile(t testing.TB, q *ir.Module, h *hw.Hardware) (*runtime.Program, []byte) {
	t.Helper()
	return compileWith(t, q, h, backend.Options{})
}

// compileWith is compile with the backend's options.
func compileWith(t testing.TB, q *ir.Module, h *hw.Hardware, o backend.Options) (*runtime.Program, []byte) {
	t.Helper()
	bin, err := backend.Emit(q, h, o)
	if err != nil {
		t.Fatal(err)
	}
	data := isa.Encode(bin)
	again, err := backend.Emit(q, h, o)
	if err != nil || !bytes.Equal(isa.Encode(again), data) {
		t.Fatalf("emission is not deterministic (%v)", err)
	}
	asm, err := isa.Assemble(isa.Disassemble(bin))
	if err != nil {
		t.Fatalf("listing does not assemble: %v", err)
	}
	if !bytes.Equal(isa.Encode(asm), data) {
		t.Fatal("assembled listing differs from the emitted bytes")
	}
	p, err := runtime.Load(data, h)
	if err != nil {
		t.Fatal(err)
	}
	return p, data
}

func toRT(t *ir.Tensor) runtime.Tensor {
	return runtime.Tensor{Shape: append([]int64{}, t.Shape...), Data: t.F}
}

// sameBits compares the simulator's outputs with the reference executor's.
func sameBits(t testing.TB, got []runtime.Tensor, want []*ir.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d outputs, reference has %d", len(got), len(want))
	}
	for i := range want {
		for j, w := range want[i].F {
			if math.Float32bits(got[i].Data[j]) != math.Float32bits(w) {
				t.Fatalf("output %d element %d: simulator %v, reference %v", i, j, got[i].Data[j], w)
			}
		}
	}
}

type hwVariant struct {
	name string
	edit func(h *hw.Hardware)
}

var variants = []hwVariant{
	{"default", func(h *hw.Hardware) {}},
	{"ideal", func(h *hw.Hardware) { h.SRAM.ADCIdeal, h.EDRAM.ADCIdeal = true, true }},
	{"rows48-adc3", func(h *hw.Hardware) {
		for _, p := range []*hw.Pool{&h.SRAM, &h.EDRAM} {
			p.RowsActivePerCycle, p.ADCBits = 48, 3
		}
	}},
	{"few-arrays", func(h *hw.Hardware) { h.SRAM.Arrays, h.EDRAM.Arrays = 3, 2 }},
	{"custom.json", func(h *hw.Hardware) {
		// hw/testdata/custom.json: 256×256 arrays, 2-bit cells, 2 input
		// bits per cycle, 64 rows active, ideal SRAM ADC, 6-bit eDRAM ADC.
		c, err := hw.Load("../hw/testdata/custom.json")
		if err != nil {
			panic(err)
		}
		*h = *c
	}},
	{"small-arrays", func(h *hw.Hardware) {
		for _, p := range []*hw.Pool{&h.SRAM, &h.EDRAM} {
			p.Rows, p.Cols, p.RowsActivePerCycle, p.ColsPerADC, p.Arrays = 64, 64, 64, 8, 7
		}
	}},
}

func TestBitExactHandBuilt(t *testing.T) {
	nets := []struct {
		name  string
		build func(testing.TB) *ir.Module
	}{{"resnet", resNet}, {"wide", wideNet}}
	for _, net := range nets {
		for _, r := range []float64{0, 0.5, 1} {
			for _, v := range variants {
				t.Run(fmt.Sprintf("%s/r=%g/%s", net.name, r, v.name), func(t *testing.T) {
					h := hw.Default()
					v.edit(h)
					m := net.build(t)
					q := quantizeNet(t, m, r, randInputs(m, 8, 1))
					ex, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: h, Workers: 1})
					if err != nil {
						t.Fatal(err)
					}
					p, _ := compile(t, q, h)
					mach := p.NewMachine()
					for _, in := range randInputs(q, 3, 5) {
						want, err := ex.Run([]*ir.Tensor{in})
						if err != nil {
							t.Fatal(err)
						}
						got, st, err := mach.Run([]runtime.Tensor{toRT(in)})
						if err != nil {
							t.Fatal(err)
						}
						sameBits(t, got, want)
						if st.Inference.LatencyClk <= 0 {
							t.Fatalf("latency %d", st.Inference.LatencyClk)
						}
					}
				})
			}
		}
	}
}

// floatNet has the float ops the quantizer leaves between a Dequantize
// and a quantization, which the PPU runs with fop: LRN (as in AlexNet,
// with a window wider than the edge channels allow), Sigmoid, LeakyRelu,
// Tanh, Clip with one bound, Elu, Gelu (tanh approximation),
// HardSigmoid and Exp.
func floatNet(t testing.TB) *ir.Module {
	b := newGB(t, "floatops")
	x := b.input("x", 1, 3, 10, 10)
	c1 := b.relu("relu1", b.conv("conv1", x, 8, 3, 1))
	l := b.node(ir.OpLRN, "lrn", []*ir.Value{c1}, func(n *ir.Node) {
		n.SetInt("size", 5)
		n.SetFloat("alpha", 0.0001)
		n.SetFloat("beta", 0.75)
		n.SetFloat("bias", 2)
	})
	s := b.node(ir.OpSigmoid, "sig", []*ir.Value{b.conv("conv2", l, 12, 3, 1)}, nil)
	lr := b.node(ir.OpLeakyRelu, "leaky", []*ir.Value{b.conv("conv3", s, 12, 3, 1)}, func(n *ir.Node) { n.SetFloat("alpha", 0.1) })
	th := b.node(ir.OpTanh, "tanh", []*ir.Value{b.conv("conv4", lr, 16, 3, 1)}, nil)
	hi := b.m.AddConst("clip_hi", ir.FloatTensor([]float32{0.5}))
	cl := b.node(ir.OpClip, "clip", []*ir.Value{b.conv("conv5", th, 16, 1, 0), nil, hi}, nil)
	el := b.node(ir.OpElu, "elu", []*ir.Value{cl}, func(n *ir.Node) { n.SetFloat("alpha", 0.7) })
	gl := b.node(ir.OpGelu, "gelu", []*ir.Value{b.conv("conv6", el, 16, 3, 1)}, func(n *ir.Node) { n.SetStr("approximate", "tanh") })
	g := b.node(ir.OpGlobalAvgPool, "gap", []*ir.Value{gl}, nil)
	f := b.node(ir.OpFlatten, "flat", []*ir.Value{g}, nil)
	hs := b.node(ir.OpHardSigmoid, "hsig", []*ir.Value{b.gemm("fc1", f, 20)}, nil)
	o := b.node(ir.OpExp, "exp", []*ir.Value{b.gemm("fc2", hs, 10)}, nil)
	b.output(o)
	return b.m
}

// TestBitExactFloatOps: the float ops of floatNet run on the PPU (fop)
// bit for bit as the reference executor runs them (interp.EvalNode), on
// every ratio and chip variant; the listing names each float op.
func TestBitExactFloatOps(t *testing.T) {
	for _, r := range []float64{0, 0.5, 1} {
		for _, v := range variants {
			t.Run(fmt.Sprintf("r=%g/%s", r, v.name), func(t *testing.T) {
				h := hw.Default()
				v.edit(h)
				m := floatNet(t)
				q := quantizeNet(t, m, r, randInputs(m, 8, 1))
				ex, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: h, Workers: 1})
				if err != nil {
					t.Fatal(err)
				}
				p, data := compile(t, q, h)
				bin, err := isa.Decode(data)
				if err != nil {
					t.Fatal(err)
				}
				ops := map[isa.FloatOp]bool{}
				for _, c := range bin.Consts {
					if c.Kind == isa.KFop {
						ops[isa.FloatOp(c.Get("op"))] = true
					}
				}
				for _, f := range []isa.FloatOp{isa.FopLRN, isa.FopSigmoid, isa.FopLeakyRelu, isa.FopTanh, isa.FopClip, isa.FopElu, isa.FopGelu, isa.FopHardSigmoid, isa.FopExp} {
					if !ops[f] {
						t.Errorf("program has no fop %s (has %v)", f, ops)
					}
				}
				mach := p.NewMachine()
				for _, in := range randInputs(q, 3, 5) {
					want, err := ex.Run([]*ir.Tensor{in})
					if err != nil {
						t.Fatal(err)
					}
					got, _, err := mach.Run([]runtime.Tensor{toRT(in)})
					if err != nil {
						t.Fatal(err)
					}
					sameBits(t, got, want)
				}
			})
		}
	}
}
