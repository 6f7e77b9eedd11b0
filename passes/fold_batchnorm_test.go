package passes

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pimc/ir"
)

func TestFoldBatchNorm(t *testing.T) { runTxtar(t, "fold-batchnorm") }

// TestFoldBatchNormInPlaceCases: on every fold-batchnorm case the in-place
// variant gives exactly the IR the copying pass gives (the same want).
func TestFoldBatchNormInPlaceCases(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fold-batchnorm", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatal("no fold-batchnorm cases")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			runCase(t, file, FoldBatchNormInPlace)
		})
	}
}

// TestFoldBatchNormNumerics: on random Conv→BN→Relu, Gemm→BN,
// MatMul→BN, Gemm→Unsqueeze→BN→Squeeze and forward (Relu→BN→Gemm) graphs
// the interpreter gives the same outputs before and after folding.
func TestFoldBatchNormNumerics(t *testing.T) {
	needKernels(t, ir.OpConv, ir.OpBatchNorm, ir.OpRelu, ir.OpGemm, ir.OpMatMul, ir.OpUnsqueeze, ir.OpSqueeze)
	for seed := range uint64(50) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			b := newBuilder(t, seed)
			var y *ir.Value
			switch seed % 5 {
			case 0: // Conv (maybe grouped, maybe without bias) → BN → Relu
				group := b.intn(1, 2)
				cin, cout := group*b.intn(1, 3), group*b.intn(1, 3)
				k := b.intn(1, 3)
				x := b.input("x", 2, cin, b.intn(int(k), 7), b.intn(int(k), 7))
				ins := []*ir.Value{x, b.rand("w", -1, 1, cout, cin/group, k, k)}
				if b.rng.IntN(2) == 0 {
					ins = append(ins, b.rand("b", -1, 1, cout))
				}
				c := b.node(ir.OpConv, ir.Attrs{"group": intAttr(group), "pads": ints(1, 0, 1, 0), "strides": ints(b.intn(1, 2), 1)}, ins...)
				y = b.node(ir.OpRelu, nil, b.bn(c))
			case 1: // Gemm with transB, alpha, beta and various biases → BN
				m, k, n := b.intn(1, 4), b.intn(1, 5), b.intn(1, 6)
				x := b.input("x", m, k)
				transB := b.intn(0, 1)
				w := b.rand("B", -1, 1, k, n)
				if transB == 1 {
					w = b.rand("B", -1, 1, n, k)
				}
				ins := []*ir.Value{x, w}
				switch b.rng.IntN(4) {
				case 1:
					ins = append(ins, b.rand("C", -1, 1, n))
				case 2:
					ins = append(ins, b.rand("C", -1, 1, m, n))
				case 3:
					ins = append(ins, b.rand("C", -1, 1, m, 1))
				}
				attrs := ir.Attrs{"transB": intAttr(transB), "alpha": floatAttr(float32(0.5 + b.rng.Float64())), "beta": floatAttr(float32(0.5 + b.rng.Float64()))}
				y = b.bn(b.node(ir.OpGemm, attrs, ins...))
			case 2: // MatMul → BN
				m, k, n := b.intn(1, 4), b.intn(1, 5), b.intn(1, 6)
				y = b.bn(b.node(ir.OpMatMul, nil, b.input("x", m, k), b.rand("W", -1, 1, k, n)))
			case 3: // PyTorch BatchNorm1d: Gemm → Unsqueeze → BN → Squeeze
				m, k, n := b.intn(1, 4), b.intn(1, 5), b.intn(1, 6)
				g := b.node(ir.OpGemm, ir.Attrs{"transB": intAttr(1)}, b.input("x", m, k), b.rand("B", -1, 1, n, k), b.rand("C", -1, 1, n))
				ax := b.ints("axes", 2)
				y = b.node(ir.OpSqueeze, nil, b.bn(b.node(ir.OpUnsqueeze, nil, g, ax)), ax)
			case 4: // forward: Relu → [Unsqueeze →] BN [→ Squeeze] → Gemm or MatMul
				m, k, n := b.intn(1, 4), b.intn(1, 5), b.intn(1, 6)
				r := b.node(ir.OpRelu, nil, b.input("x", m, k))
				var z *ir.Value
				if b.rng.IntN(2) == 0 {
					ax := b.ints("axes", 2)
					z = b.node(ir.OpSqueeze, nil, b.bn(b.node(ir.OpUnsqueeze, nil, r, ax)), ax)
				} else {
					z = b.bn(r)
				}
				if b.rng.IntN(2) == 0 {
					y = b.node(ir.OpMatMul, nil, z, b.rand("W", -1, 1, k, n))
				} else {
					attrs := ir.Attrs{"transB": intAttr(1), "alpha": floatAttr(float32(0.5 + b.rng.Float64())), "beta": floatAttr(float32(0.5 + b.rng.Float64()))}
					y = b.node(ir.OpGemm, attrs, z, b.rand("B", -1, 1, n, k), b.rand("C", -1, 1, 1, n))
				}
			}
			pass := FoldBatchNorm
			if seed%2 == 1 {
				pass = FoldBatchNormInPlace
			}
			b.checkPass(pass, ir.OpBatchNorm, y)
		})
	}
}

// inPlaceSrc is Conv → BN (f = [2, 3]) → Relu with a 2-channel weight, and
// Gemm → BN (f = [2, 3]) → MatMul, then BN (f = [2, 3]) forward into the
// MatMul's weight.
const inPlaceSrc = `module "m" opset ai.onnx=13 level imported
input %x: f32[1,1,2,2]
input %a: f32[1,3]
const %w: f32[2,1,1,1] = [1,2]
const %gamma: f32[2] = [4,1.5]
const %beta: f32[2] = [0.1,0.2]
const %mean: f32[2] = [1,-1]
const %var: f32[2] = [3.75,0]
const %B: f32[3,2] = [1,2,3,4,5,6]
const %gamma2: f32[2] = [4,1.5]
const %beta2: f32[2] = [0.1,0.2]
const %mean2: f32[2] = [1,-1]
const %var2: f32[2] = [3.75,0]
const %W: f32[2,2] = [1,2,3,4]
const %gamma3: f32[2] = [4,1.5]
const %beta3: f32[2] = [0.1,0.2]
const %mean3: f32[2] = [1,-1]
const %var3: f32[2] = [3.75,0]
%c = Conv(%x, %w) : f32[1,2,2,2] @"conv"
%n = BatchNormalization(%c, %gamma, %beta, %mean, %var) {epsilon=0.25} : f32[1,2,2,2] @"bn"
%y = Relu(%n) : f32[1,2,2,2] @"relu"
%g = Gemm(%a, %B) : f32[1,2] @"gemm"
%gn = BatchNormalization(%g, %gamma2, %beta2, %mean2, %var2) {epsilon=0.25} : f32[1,2] @"bn2"
%r = Relu(%gn) : f32[1,2] @"relu2"
%rn = BatchNormalization(%r, %gamma3, %beta3, %mean3, %var3) {epsilon=0.25} : f32[1,2] @"bn3"
%z = MatMul(%rn, %W) : f32[1,2] @"mm"
output %y: f32[1,2,2,2]
output %z: f32[1,2]
`

func parseInPlace(t *testing.T) *ir.Module {
	t.Helper()
	m, err := ir.Parse("inplace", []byte(inPlaceSrc))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func constByName(t *testing.T, m *ir.Module, name string) *ir.Value {
	t.Helper()
	for _, v := range m.Graph.Consts {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no constant %q in\n%s", name, m)
	return nil
}

// TestFoldBatchNormInPlaceWrites: FoldBatchNormInPlace scales an exclusive
// weight where it is (the value keeps its tensor, whose elements change),
// FoldBatchNorm never writes into a tensor, and both give the same IR.
func TestFoldBatchNormInPlaceWrites(t *testing.T) {
	ref := parseInPlace(t)
	refW := map[string]*ir.Tensor{}
	for _, name := range []string{"w", "B", "W"} {
		refW[name] = constByName(t, ref, name).Const
	}
	refData := map[string][]float32{}
	for name, w := range refW {
		refData[name] = slices.Clone(w.F)
	}
	if err := FoldBatchNorm(ref); err != nil {
		t.Fatal(err)
	}
	for name, w := range refW {
		if !slices.Equal(w.F, refData[name]) {
			t.Errorf("FoldBatchNorm wrote into %%%s's tensor: %v, was %v", name, w.F, refData[name])
		}
		if constByName(t, ref, name).Const == w {
			t.Errorf("FoldBatchNorm kept %%%s's tensor", name)
		}
	}

	m := parseInPlace(t)
	before := map[string]*ir.Tensor{}
	for _, name := range []string{"w", "B", "W"} {
		before[name] = constByName(t, m, name).Const
	}
	if err := FoldBatchNormInPlace(m); err != nil {
		t.Fatal(err)
	}
	if got, want := m.String(), ref.String(); got != want {
		t.Fatalf("in place:\n%s\ncopying:\n%s", got, want)
	}
	for name, w := range before {
		if got := constByName(t, m, name).Const; got != w {
			t.Errorf("%%%s: the folded weight is a new tensor, want the old one scaled in place", name)
		}
		if !slices.Equal(w.F, constByName(t, ref, name).Const.F) {
			t.Errorf("%%%s = %v in place, %v copying", name, w.F, constByName(t, ref, name).Const.F)
		}
	}
	// Conv weight [1,2]·f, f = [2,3]: a check on the check.
	if !slices.Equal(before["w"].F, []float32{2, 6}) {
		t.Errorf("conv weight %v, want [2 6]", before["w"].F)
	}
}

// TestFoldBatchNormInPlaceShared: a weight whose tensor or storage
// something else also holds is never written; the fold still happens and
// matches the copying pass.
func TestFoldBatchNormInPlaceShared(t *testing.T) {
	for _, tc := range []struct {
		name  string
		share func(m *ir.Module, w *ir.Value) // makes w's tensor shared
	}{
		{"tensor held by a second value", func(m *ir.Module, w *ir.Value) {
			v := m.AddConst("alias", w.Const)
			m.Graph.Outputs = append(m.Graph.Outputs, v)
		}},
		{"storage overlapped by another tensor", func(m *ir.Module, w *ir.Value) {
			v := m.AddConst("view", ir.FloatTensor(w.Const.F[1:], 1))
			m.Graph.Outputs = append(m.Graph.Outputs, v)
		}},
		{"storage inside a larger tensor", func(m *ir.Module, w *ir.Value) {
			big := ir.FloatTensor([]float32{9, 1, 2, 9}, 4)
			w.Const.F = big.F[1:3]
			m.Graph.Outputs = append(m.Graph.Outputs, m.AddConst("big", big))
		}},
		{"weight is a graph output", func(m *ir.Module, w *ir.Value) {
			m.Graph.Outputs = append(m.Graph.Outputs, w)
		}},
		{"weight read by a second node", func(m *ir.Module, w *ir.Value) {
			n := &ir.Node{Name: "neg", Op: ir.OpNeg, Inputs: []*ir.Value{w}}
			n.Outputs = []*ir.Value{{Name: "negw", Def: n, Type: w.Type}}
			m.Graph.Nodes = append(m.Graph.Nodes, n)
			m.Graph.Outputs = append(m.Graph.Outputs, n.Outputs[0])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			build := func() (*ir.Module, *ir.Tensor) {
				m := parseInPlace(t)
				w := constByName(t, m, "w")
				tc.share(m, w)
				if err := ir.Verify(m); err != nil {
					t.Fatalf("test module invalid: %v\n%s", err, m)
				}
				return m, w.Const
			}
			ref, _ := build()
			if err := FoldBatchNorm(ref); err != nil {
				t.Fatal(err)
			}
			m, w := build()
			old := slices.Clone(w.F)
			if err := FoldBatchNormInPlace(m); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(w.F, old) {
				t.Errorf("shared weight written: %v, was %v", w.F, old)
			}
			if got, want := m.String(), ref.String(); got != want {
				t.Errorf("in place:\n%s\ncopying:\n%s", got, want)
			}
			for _, n := range m.Graph.Nodes {
				if n.Op == ir.OpBatchNorm && n.Name == "bn" {
					t.Errorf("bn not folded:\n%s", m)
				}
			}
		})
	}
}

// TestExclusiveFloatConsts: tensors whose elements overlap are shared
// however the overlapping spans chain, and distinct ones are not.
func TestExclusiveFloatConsts(t *testing.T) {
	m := ir.NewModule("spans")
	back := make([]float32, 200)
	add := func(name string, f []float32) *ir.Tensor {
		tt := ir.FloatTensor(f, int64(len(f)))
		m.Graph.Outputs = append(m.Graph.Outputs, m.AddConst(name, tt))
		return tt
	}
	a := add("a", back[0:100])   // contains b and c, which do not meet
	b := add("b", back[10:20])   //
	c := add("c", back[30:40])   //
	d := add("d", back[100:110]) // adjacent to a: no overlap
	e := add("e", back[150:160]) // meets f only
	f := add("f", back[155:170]) //
	g := add("g", back[170:180]) // adjacent to f
	h := add("h", make([]float32, 4))
	shared := m.AddConst("h2", h) // a second value holding h
	m.Graph.Outputs = append(m.Graph.Outputs, shared)
	i := ir.IntTensor(ir.Int64, []int64{1}, 1)
	m.Graph.Outputs = append(m.Graph.Outputs, m.AddConst("i", i))
	own := exclusiveFloatConsts(m.Graph)
	for _, tc := range []struct {
		name string
		t    *ir.Tensor
		want bool
	}{{"a", a, false}, {"b", b, false}, {"c", c, false}, {"d", d, true}, {"e", e, false}, {"f", f, false}, {"g", g, true}, {"h", h, false}, {"i", i, false}} {
		if own[tc.t] != tc.want {
			t.Errorf("%s: exclusive %v, want %v", tc.name, own[tc.t], tc.want)
		}
	}
}
