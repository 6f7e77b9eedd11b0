package cost

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"pimc/hw"
	"pimc/ir"
)

// netBuilder builds a quantized module in code, the way the quantize pass
// would emit it. Weight constants carry their shape but no data: Evaluate
// reads shapes only, and ResNet-50's 25 M weights as int64 would make the
// benchmark measure allocation. (Such a module does not pass ir.Verify.)
type netBuilder struct {
	m *ir.Module
	r float64
}

func (b *netBuilder) value(name string, dt ir.DType, shape ...int64) *ir.Value {
	return &ir.Value{Name: name, Type: ir.Type{DType: dt, Shape: shape}}
}

func (b *netBuilder) konst(name string, dt ir.DType, shape ...int64) *ir.Value {
	v := b.value(name, dt, shape...)
	v.Const = &ir.Tensor{DType: dt, Shape: shape}
	b.m.Graph.Consts = append(b.m.Graph.Consts, v)
	return v
}

func (b *netBuilder) node(op ir.Op, name string, ins []*ir.Value, out *ir.Value, set func(n *ir.Node)) *ir.Value {
	n := &ir.Node{Name: name, Op: op, Inputs: ins, Outputs: []*ir.Value{out}, Attrs: ir.Attrs{}}
	out.Def = n
	if set != nil {
		set(n)
	}
	b.m.Graph.Nodes = append(b.m.Graph.Nodes, n)
	return out
}

func convOut(x int64, k, s, p int64) int64 { return (x+2*p-k)/s + 1 }

// conv adds a split DualConv with n4 = round(r·oc) INT4 channels.
func (b *netBuilder) conv(name string, x *ir.Value, oc, k, s, p int64, res *ir.Value) *ir.Value {
	ic, h, w := x.Type.Shape[1], x.Type.Shape[2], x.Type.Shape[3]
	n4 := int64(math.Floor(b.r*float64(oc) + 0.5))
	ins := []*ir.Value{x, b.konst(name+"_w4", ir.Int8, n4, ic, k, k), b.konst(name+"_wt", ir.Int8, oc-n4, ic, k, k),
		b.konst(name+"_rq", ir.Int64, oc, 4), b.konst(name+"_chan", ir.Int64, oc)}
	if res != nil {
		ins = append(ins, res)
	}
	out := b.value(name+"_out", ir.Uint8, 1, oc, convOut(h, k, s, p), convOut(w, k, s, p))
	return b.node(ir.OpDualConv, name, ins, out, func(n *ir.Node) {
		n.SetInts("kernel_shape", []int64{k, k})
		n.SetInts("strides", []int64{s, s})
		n.SetInts("pads", []int64{p, p, p, p})
		n.SetInt("x_bits", 4)
		n.SetInt("tb_threshold", 2)
		n.SetInt("out_bits", 4)
		n.SetInt("out_signed", 0)
		n.SetInt("relu", 1)
	})
}

// resnet50Like is ResNet-50's 54 conv/FC layers (stem and classifier at
// INT8, the 53 others split at ratio r), with max pooling, fused residuals,
// global pooling, a rescale, dequantize and softmax around them.
func resnet50Like(r float64) *ir.Module {
	b := &netBuilder{m: ir.NewModule(fmt.Sprintf("resnet50-like-r%g", r)), r: r}
	g := b.m.Graph
	x := b.value("input", ir.Float32, 1, 3, 224, 224)
	g.Inputs = append(g.Inputs, x)
	q := b.node(ir.OpQuantizeInput, "quantize_input", []*ir.Value{x}, b.value("input_q", ir.Int8, 1, 3, 224, 224), func(n *ir.Node) {
		n.SetInt("bits", 8)
		n.SetInt("signed", 1)
		n.SetFloat("scale", 0.02)
	})
	stem := b.node(ir.OpQConv, "conv1", []*ir.Value{q, b.konst("conv1_w", ir.Int8, 64, 3, 7, 7), b.konst("conv1_rq", ir.Int64, 64, 4)},
		b.value("conv1_out", ir.Uint8, 1, 64, 112, 112), func(n *ir.Node) {
			n.SetInts("kernel_shape", []int64{7, 7})
			n.SetInts("strides", []int64{2, 2})
			n.SetInts("pads", []int64{3, 3, 3, 3})
			n.SetInt("x_bits", 8)
			n.SetInt("w_bits", 8)
			n.SetInt("out_bits", 4)
			n.SetInt("out_signed", 0)
		})
	cur := b.node(ir.OpQMaxPool, "maxpool", []*ir.Value{stem}, b.value("pool_out", ir.Uint8, 1, 64, 56, 56), func(n *ir.Node) {
		n.SetInts("kernel_shape", []int64{3, 3})
		n.SetInts("strides", []int64{2, 2})
		n.SetInts("pads", []int64{1, 1, 1, 1})
	})
	for si, st := range []struct{ blocks, width, stride int64 }{{3, 64, 1}, {4, 128, 2}, {6, 256, 2}, {3, 512, 2}} {
		for bi := int64(0); bi < st.blocks; bi++ {
			name := fmt.Sprintf("layer%d.%d", si+1, bi)
			s := int64(1)
			if bi == 0 {
				s = st.stride
			}
			res := cur
			if bi == 0 {
				res = b.conv(name+".downsample", cur, 4*st.width, 1, s, 0, nil)
			}
			y := b.conv(name+".conv1", cur, st.width, 1, 1, 0, nil)
			y = b.conv(name+".conv2", y, st.width, 3, s, 1, nil)
			cur = b.conv(name+".conv3", y, 4*st.width, 1, 1, 0, res)
		}
	}
	gap := b.node(ir.OpQGlobalAvgPool, "gap", []*ir.Value{cur}, b.value("gap_out", ir.Uint8, 1, 2048, 1, 1), func(n *ir.Node) {
		n.SetInt("mult", 1)
		n.SetInt("shift", 6)
		n.SetInt("out_bits", 8)
		n.SetInt("out_signed", 0)
	})
	flat := b.node(ir.OpFlatten, "flatten", []*ir.Value{gap}, b.value("flat_out", ir.Uint8, 1, 2048), nil)
	fc := b.node(ir.OpQGemm, "fc", []*ir.Value{flat, b.konst("fc_w", ir.Int8, 1000, 2048), b.konst("fc_rq", ir.Int64, 1000, 4)},
		b.value("fc_out", ir.Int16, 1, 1000), func(n *ir.Node) {
			n.SetInt("x_bits", 8)
			n.SetInt("w_bits", 8)
			n.SetInt("out_bits", 16)
			n.SetInt("out_signed", 1)
		})
	dq := b.node(ir.OpDequantize, "dequantize", []*ir.Value{fc}, b.value("logits", ir.Float32, 1, 1000), func(n *ir.Node) {
		n.SetFloat("scale", 0.001)
	})
	sm := b.node(ir.OpSoftmax, "softmax", []*ir.Value{dq}, b.value("prob", ir.Float32, 1, 1000), func(n *ir.Node) {
		n.SetInt("axis", 1)
	})
	g.Outputs = append(g.Outputs, sm)
	return b.m
}

// TestResNet50Like runs the three compilations the report compares and
// checks what follows from the formulas alone.
func TestResNet50Like(t *testing.T) {
	h := hw.Default()
	eval := func(r float64, label string) *Report {
		rep, err := Evaluate(resnet50Like(r), h, Options{Label: label})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	chosen, i4, tb := eval(0.5, LabelChosen), eval(1, LabelINT4Only), eval(0, LabelTBOnly)
	if len(chosen.Layers) != 54 {
		t.Fatalf("%d layers, want 54", len(chosen.Layers))
	}
	// The same MACs whatever the split; only where they run changes.
	if chosen.Totals.Counts.MACs != i4.Totals.Counts.MACs || i4.Totals.Counts.MACs != tb.Totals.Counts.MACs {
		t.Errorf("MACs differ: %d %d %d", chosen.Totals.Counts.MACs, i4.Totals.Counts.MACs, tb.Totals.Counts.MACs)
	}
	// Weight bits: split layers at 4 (INT4), 2 (TB) or 3 on average
	// (r = 0.5, every channel count here is even); unsplit INT8 layers the
	// same in all three.
	var split, int8w int64
	for _, l := range i4.Layers {
		if l.Op == "DualConv" {
			split += l.SRAM.Weights
		} else {
			int8w += l.SRAM.Weights
		}
	}
	for _, c := range []struct {
		r    *Report
		want int64
	}{{i4, 4*split + 8*int8w}, {tb, 2*split + 8*int8w}, {chosen, 3*split + 8*int8w}} {
		if c.r.Totals.Memory.WeightBits != c.want {
			t.Errorf("%s: %d weight bits, want %d", c.r.Label, c.r.Totals.Memory.WeightBits, c.want)
		}
	}
	if tb.Ratio.Channels != 0 || i4.Ratio.Channels != 1 || chosen.Ratio.Channels != 0.5 || chosen.Ratio.SplitLayers != 52 {
		t.Errorf("ratios %v %v %v", tb.Ratio, i4.Ratio, chosen.Ratio)
	}
	c := Compare(chosen, i4, tb)
	if len(c.Baselines) != 2 {
		t.Fatalf("%d baselines", len(c.Baselines))
	}
	vs4, vsTB := c.Baselines[0], c.Baselines[1]
	if !(vs4.MemorySaved > 0 && vsTB.MemorySaved < 0) {
		t.Errorf("memory saved %v vs INT4-only, %v vs TB-only", vs4.MemorySaved, vsTB.MemorySaved)
	}
	// A ternary MAC (4.2 fJ, 1 input bit-cycle) is far cheaper than an INT4
	// one (29 fJ, 4 bit-cycles), so moving channels to TB saves energy.
	if !(vs4.EnergySaved > 0 && vsTB.EnergySaved < 0) {
		t.Errorf("energy saved %v vs INT4-only, %v vs TB-only", vs4.EnergySaved, vsTB.EnergySaved)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, chosen, c); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", b.String())
}

func BenchmarkEvaluateResNet50Like(b *testing.B) {
	h := hw.Default()
	m := resnet50Like(0.5)
	b.Run("evaluate", func(b *testing.B) {
		for b.Loop() {
			if _, err := Evaluate(m, h, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What `pimc compile` adds to the pipeline: three evaluations, the
	// comparison, report.json, the table and the picture.
	ms := []*ir.Module{m, resnet50Like(1), resnet50Like(0)}
	b.Run("report", func(b *testing.B) {
		for b.Loop() {
			var rs [3]*Report
			for i, mm := range ms {
				r, err := Evaluate(mm, h, Options{})
				if err != nil {
					b.Fatal(err)
				}
				rs[i] = r
			}
			f := NewReportFile(rs[0], rs[1], rs[2])
			var w bytes.Buffer
			if err := WriteJSON(&w, f); err != nil {
				b.Fatal(err)
			}
			if err := WriteTable(&w, rs[0], f.Comparison); err != nil {
				b.Fatal(err)
			}
			if err := WriteUtilisationSVG(&w, rs[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
