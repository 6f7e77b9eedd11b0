package backend

import (
	"math/rand/v2"
	"strings"
	"testing"

	"pimc/backend/isa"
	"pimc/dualnet"
	"pimc/hw"
	"pimc/ir"
)

func TestAllocator(t *testing.T) {
	var a allocator
	x := a.get(10) // 0..10
	y := a.get(5)  // 10..15
	z := a.get(7)  // 15..22
	if x != 0 || y != 10 || z != 15 || a.top != 22 {
		t.Fatalf("got %d %d %d top %d", x, y, z, a.top)
	}
	a.put(y, 5)
	if got := a.get(3); got != 10 {
		t.Fatalf("first fit: got %d, want 10", got)
	}
	a.put(x, 10)
	a.put(10, 3) // coalesces 0..15
	if len(a.free) != 1 || a.free[0] != (span{0, 15}) {
		t.Fatalf("free list %v, want [{0 15}]", a.free)
	}
	a.put(z, 7) // coalesces with the top: 0..22
	if got := a.get(30); got != 0 || a.top != 30 {
		t.Fatalf("grow over the free top: got %d top %d", got, a.top)
	}
}

// tinyNet builds conv → relu → gemm → tail op and quantizes it.
func tinyNet(t *testing.T, tail ir.Op) *ir.Module {
	t.Helper()
	m := ir.NewModule("tiny")
	rng := rand.New(rand.NewPCG(1, 2))
	c := func(name string, shape ...int64) *ir.Value {
		tt := ir.NewTensor(ir.Float32, shape...)
		for i := range tt.F {
			tt.F[i] = float32(rng.NormFloat64() * 0.3)
		}
		return m.AddConst(name, tt)
	}
	node := func(op ir.Op, name string, ins []*ir.Value, set func(n *ir.Node)) *ir.Value {
		n := &ir.Node{Name: name, Op: op, Inputs: ins}
		o := &ir.Value{Name: name + "_out", Def: n}
		n.Outputs = []*ir.Value{o}
		if set != nil {
			set(n)
		}
		if err := ir.InferNode(n); err != nil {
			t.Fatal(err)
		}
		m.Graph.Nodes = append(m.Graph.Nodes, n)
		return o
	}
	x := &ir.Value{Name: "x", Type: ir.Type{DType: ir.Float32, Shape: []int64{1, 2, 6, 6}}}
	m.Graph.Inputs = []*ir.Value{x}
	h := node(ir.OpConv, "conv1", []*ir.Value{x, c("w1", 8, 2, 3, 3), c("b1", 8)}, func(n *ir.Node) { n.SetInts("kernel_shape", []int64{3, 3}) })
	h = node(ir.OpRelu, "relu1", []*ir.Value{h}, nil)
	h = node(ir.OpConv, "conv2", []*ir.Value{h, c("w2", 8, 8, 3, 3), c("b2", 8)}, func(n *ir.Node) { n.SetInts("kernel_shape", []int64{3, 3}) })
	h = node(ir.OpRelu, "relu2", []*ir.Value{h}, nil)
	h = node(ir.OpFlatten, "flat", []*ir.Value{h}, nil)
	h = node(ir.OpGemm, "fc", []*ir.Value{h, c("w3", 4, 32), c("b3", 4)}, func(n *ir.Node) { n.SetInt("transB", 1) })
	h = node(tail, "tail", []*ir.Value{h}, nil)
	m.Graph.Outputs = []*ir.Value{h}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	if err := dualnet.Compile(m, dualnet.Options{Ratios: dualnet.Uniform(0.5), Split: dualnet.SplitOptions{}}); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEmitSymbolsAndSync(t *testing.T) {
	q := tinyNet(t, ir.OpSoftmax)
	p, err := Emit(q, hw.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Every layer has instructions on both pools (r = 0.5, no layer kept
	// at INT8 here) and on the PPU, named by the symbol table.
	for _, name := range []string{"conv2"} {
		for _, e := range []isa.Engine{isa.SRAM, isa.EDRAM, isa.PPU} {
			found := false
			for _, s := range p.Syms {
				found = found || s.Name == name && s.Engine == e && s.End > s.Start
			}
			if !found {
				t.Errorf("no %s symbol for %s", e, name)
			}
		}
	}
	// Signals and waits balance per (sender, receiver).
	var sig, wait [isa.NumEngines][isa.NumEngines]int
	for e := isa.Engine(0); e < isa.NumEngines; e++ {
		for _, in := range p.Streams[e].Code {
			switch in.Op {
			case isa.OpSIGNAL:
				sig[e][in.Args[0]]++
			case isa.OpWAIT:
				wait[in.Args[0]][e]++
			}
		}
	}
	if sig != wait {
		t.Fatalf("signals %v, waits %v", sig, wait)
	}
	if !strings.Contains(isa.Disassemble(p), "softmax") {
		t.Error("listing lacks the softmax")
	}
}

func TestEmitRejectsUnsupportedOps(t *testing.T) {
	q := tinyNet(t, ir.OpReduceMean)
	_, err := Emit(q, hw.Default(), Options{})
	if err == nil || !strings.Contains(err.Error(), `node "tail" (ReduceMean): not supported by the chip`) {
		t.Fatalf("got %v", err)
	}
}

// TestEmitFloatOps: every float op of the fop table is emitted as one fop
// with its interpreter defaults (here: a float tail after the last
// Dequantize).
func TestEmitFloatOps(t *testing.T) {
	for op, f := range floatOps {
		if op == ir.OpLRN || op == ir.OpClip || op == ir.OpRelu {
			// LRN needs rank ≥ 3 and Clip its bounds (runtime.TestBitExactFloatOps
			// has both); the quantizer fuses a Relu after a Gemm.
			continue
		}
		q := tinyNet(t, op)
		p, err := Emit(q, hw.Default(), Options{})
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		var got []isa.Const
		for _, c := range p.Consts {
			if c.Kind == isa.KFop {
				got = append(got, c)
			}
		}
		if len(got) != 1 || isa.FloatOp(got[0].Get("op")) != f || got[0].Get("batch") != 1 || got[0].Get("c") != 4 || got[0].Get("inner") != 1 {
			t.Fatalf("%s: fop descriptors %v", op, got)
		}
		switch op {
		case ir.OpLeakyRelu:
			if got[0].F32("f0") != 0.01 {
				t.Errorf("LeakyRelu alpha %v", got[0].F32("f0"))
			}
		case ir.OpHardSigmoid:
			if got[0].F32("f0") != 0.2 || got[0].F32("f1") != 0.5 {
				t.Errorf("HardSigmoid alpha, beta %v %v", got[0].F32("f0"), got[0].F32("f1"))
			}
		}
		if !strings.Contains(isa.Disassemble(p), "fop dst=") {
			t.Errorf("%s: listing lacks the fop", op)
		}
	}
}
