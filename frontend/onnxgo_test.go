package frontend

// Differential test against github.com/owulveryck/onnx-go, an independent
// ONNX decoder with its own generated protobuf code (golang/protobuf) and
// its own tensor decoding. It checks our onnxpb bindings and tensor
// decoding, and that the imported module keeps every operator and weight.

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	onnx "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"gorgonia.org/tensor"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

// ogBackend records the operations onnx-go's decoder applies, one per ONNX
// node in file order. Its nodes deliberately do not carry tensors
// (onnx.DataCarrier): onnx-go then skips building tensors for graph inputs
// and outputs, which panics on scalars; initializers are compared through
// onnx.NewTensor instead.
type ogBackend struct {
	*simple.WeightedDirectedGraph
	ops []onnx.Operation
}

type ogNode struct {
	id   int64
	name string
	t    tensor.Tensor
}

func (n *ogNode) ID() int64                       { return n.id }
func (n *ogNode) SetName(s string)                { n.name = s }
func (n *ogNode) GetName() string                 { return n.name }
func (n *ogNode) SetTensor(t tensor.Tensor) error { n.t = t; return nil }
func (n *ogNode) GetTensor() tensor.Tensor        { return n.t }
func (b *ogBackend) NewNode() graph.Node          { return &ogNode{id: b.WeightedDirectedGraph.NewNode().ID()} }
func (b *ogBackend) ApplyOperation(op onnx.Operation, _ ...graph.Node) error {
	b.ops = append(b.ops, op)
	return nil
}

func TestOnnxGoDifferential(t *testing.T) {
	var modelFails []string
	tensorsCompared, tensorsSkipped := 0, 0
	for _, path := range sharedModels(t) {
		name := caseName(path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var mp onnxpb.ModelProto
		if err := proto.Unmarshal(data, &mp); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g := mp.GetGraph()

		// Initializers: decode each one's bytes, cut straight out of the
		// file, with onnx-go, and compare with our decoding.
		raws := initializerBytes(t, data)
		if len(raws) != len(g.GetInitializer()) {
			t.Fatalf("%s: %d initializers in the wire data, onnxpb decoded %d", name, len(raws), len(g.GetInitializer()))
		}
		ours := map[string]*ir.Tensor{}
		for i, tp := range g.GetInitializer() {
			mine, err := decodeTensor(tp, decodeOptions{narrow: true})
			if err != nil {
				t.Errorf("%s: initializer %q: %v", name, tp.GetName(), err)
				continue
			}
			ours[tp.GetName()] = mine
			theirs, err := ogNewTensor(raws[i])
			if err != nil {
				tensorsSkipped++
				t.Logf("%s: onnx-go cannot decode initializer %q (%s): %v", name, tp.GetName(), dtypeName(tp.GetDataType()), err)
				continue
			}
			tensorsCompared++
			if err := compareTensor(mine, theirs); err != nil {
				t.Errorf("%s: initializer %q: %v", name, tp.GetName(), err)
			}
		}

		// The whole model: operators in order with their attributes.
		b := &ogBackend{WeightedDirectedGraph: simple.NewWeightedDirectedGraph(math.MaxFloat64, -1)}
		if err := ogUnmarshal(b, data); err != nil {
			modelFails = append(modelFails, fmt.Sprintf("%s (%v)", name, err))
			continue
		}
		nodes := g.GetNode()
		if len(b.ops) != len(nodes) {
			t.Errorf("%s: onnx-go saw %d operations, onnxpb %d nodes", name, len(b.ops), len(nodes))
			continue
		}
		for i, op := range b.ops {
			if op.Name != nodes[i].GetOpType() {
				t.Errorf("%s: node %d is %s for onnx-go, %s for onnxpb", name, i, op.Name, nodes[i].GetOpType())
			}
			attrs, err := decodeAttrs(nodes[i].GetAttribute(), decodeOptions{narrow: true})
			if err != nil {
				t.Errorf("%s: node %d: %v", name, i, err)
				continue
			}
			if err := compareAttrs(attrs, op.Attributes); err != nil {
				t.Errorf("%s: node %d (%s): %v", name, i, op.Name, err)
			}
		}

		// The imported module keeps every operator onnx-go saw, except
		// Constant nodes (now constants) and the shape computations folded
		// at import; canonicalisation only adds Flatten, Reshape and
		// Unsqueeze. Every surviving initializer keeps onnx-go's values.
		m, _, err := importCase(path)
		if err != nil {
			continue // reported by TestSharedModels
		}
		if err := compareOps(b.ops, m); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, c := range m.Graph.Consts {
			if want, ok := ours[c.Name]; ok && !sameTensor(c.Const, want) {
				t.Errorf("%s: constant %q differs from the initializer", name, c.Name)
			}
		}
		for _, n := range m.Graph.Nodes {
			for _, in := range n.Inputs {
				if in != nil && in.Const != nil {
					if want, ok := ours[in.Name]; ok && !sameTensor(in.Const, want) {
						t.Errorf("%s: %s reads %q with values other than the initializer's", name, n.Where(), in.Name)
					}
				}
			}
		}
	}
	t.Logf("initializers compared with onnx-go: %d; skipped (dtypes onnx-go cannot decode): %d", tensorsCompared, tensorsSkipped)
	if len(modelFails) > 0 {
		t.Logf("onnx-go could not decode %d models (its limits, see docs/frontend.md):\n  %s", len(modelFails), strings.Join(modelFails, "\n  "))
	}
}

// ogNewTensor and ogUnmarshal call onnx-go, turning its panics (it
// indexes empty slices for some empty and scalar tensors) into errors.
func ogNewTensor(b []byte) (t tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("onnx-go panicked: %v", r)
		}
	}()
	return onnx.NewTensor(b)
}

func ogUnmarshal(b *ogBackend, data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("onnx-go panicked: %v", r)
		}
	}()
	return onnx.NewModel(b).UnmarshalBinary(data)
}

// initializerBytes returns the serialized TensorProtos of
// ModelProto.graph.initializer, read with the bare wire-format parser.
func initializerBytes(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, graph := range wireFields(t, data, 7) {
		out = append(out, wireFields(t, graph, 5)...)
	}
	return out
}

// wireFields returns every length-delimited field number num of msg.
func wireFields(t *testing.T, msg []byte, num protowire.Number) [][]byte {
	t.Helper()
	var out [][]byte
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			t.Fatal(protowire.ParseError(l))
		}
		msg = msg[l:]
		if typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(msg)
			if l < 0 {
				t.Fatal(protowire.ParseError(l))
			}
			if n == num {
				out = append(out, v)
			}
			msg = msg[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, msg)
		if l < 0 {
			t.Fatal(protowire.ParseError(l))
		}
		msg = msg[l:]
	}
	return out
}

// compareTensor compares our tensor with onnx-go's (gorgonia) tensor.
func compareTensor(mine *ir.Tensor, theirs tensor.Tensor) error {
	var vals []float64
	switch d := theirs.Data().(type) {
	case []float32:
		for _, v := range d {
			vals = append(vals, float64(v))
		}
	case []float64:
		for _, v := range d {
			vals = append(vals, float64(float32(v)))
		}
	case []int64:
		for _, v := range d {
			vals = append(vals, float64(v))
		}
	case []int32:
		for _, v := range d {
			vals = append(vals, float64(v))
		}
	case float32:
		vals = []float64{float64(d)}
	case float64:
		vals = []float64{float64(float32(d))}
	case int64:
		vals = []float64{float64(d)}
	case int32:
		vals = []float64{float64(d)}
	default:
		return fmt.Errorf("onnx-go gave %T", d)
	}
	if int64(len(vals)) != mine.Len() {
		return fmt.Errorf("%d elements, onnx-go has %d", mine.Len(), len(vals))
	}
	if ts := theirs.Shape(); len(ts) > 0 || len(mine.Shape) > 1 {
		// gorgonia reports scalars and 1-element vectors alike; compare
		// shapes where it keeps them.
		for i := range mine.Shape {
			if i >= len(ts) || int64(ts[i]) != mine.Shape[i] {
				if !(mine.Len() == 1 && len(ts) <= 1) {
					return fmt.Errorf("shape %v, onnx-go has %v", mine.Shape, ts)
				}
			}
		}
	}
	for i, v := range vals {
		got := mine.Float(i)
		if got != v && !(math.IsNaN(got) && math.IsNaN(v)) {
			return fmt.Errorf("element %d is %v, onnx-go has %v", i, got, v)
		}
	}
	return nil
}

func compareAttrs(mine ir.Attrs, theirs map[string]interface{}) error {
	if len(mine) != len(theirs) {
		return fmt.Errorf("attributes %s, onnx-go has %v", ir.FormatAttrs(mine), theirs)
	}
	for k, a := range mine {
		v, ok := theirs[k]
		if !ok {
			return fmt.Errorf("attribute %q missing in onnx-go's decoding", k)
		}
		var same bool
		switch a.Kind {
		case ir.AttrInt:
			same = v == a.Int
		case ir.AttrFloat:
			same = v == a.Float
		case ir.AttrString:
			same = v == a.Str
		case ir.AttrInts:
			same = reflect.DeepEqual(v, a.Ints) || (len(a.Ints) == 0 && reflect.ValueOf(v).Len() == 0)
		case ir.AttrFloats:
			same = reflect.DeepEqual(v, a.Floats) || (len(a.Floats) == 0 && reflect.ValueOf(v).Len() == 0)
		case ir.AttrStrings:
			same = reflect.DeepEqual(v, a.Strings)
		case ir.AttrTensor:
			tt, ok := v.(tensor.Tensor)
			if !ok {
				return fmt.Errorf("attribute %q: onnx-go gave %T", k, v)
			}
			if err := compareTensor(a.Tensor, tt); err != nil {
				return fmt.Errorf("attribute %q: %w", k, err)
			}
			same = true
		}
		if !same {
			return fmt.Errorf("attribute %q = %s, onnx-go has %v", k, ir.FormatAttr(a), v)
		}
	}
	return nil
}

// canonInserted are the ops canonicalisation may add.
var canonInserted = map[string]bool{"Flatten": true, "Reshape": true, "Unsqueeze": true}

func compareOps(ops []onnx.Operation, m *ir.Module) error {
	want := map[string]int{}
	for _, op := range ops {
		want[op.Name]++
	}
	got := map[string]int{}
	for _, n := range m.Graph.Nodes {
		got[n.Op.String()]++
	}
	foldable := map[string]bool{}
	for op := range folders {
		foldable[op.String()] = true
	}
	var diffs []string
	for op := range union(want, got) {
		switch {
		case op == "Constant":
			if got[op] != 0 {
				diffs = append(diffs, "Constant nodes left in the module")
			}
		case foldable[op] || canonInserted[op]:
			// May be folded away or added by canonicalisation.
			if got[op] > 0 && want[op] == 0 && !canonInserted[op] {
				diffs = append(diffs, fmt.Sprintf("%s ×%d appeared", op, got[op]))
			}
		case got[op] != want[op]:
			diffs = append(diffs, fmt.Sprintf("%s ×%d, onnx-go ×%d", op, got[op], want[op]))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		return fmt.Errorf("operator counts differ: %s", strings.Join(diffs, "; "))
	}
	return nil
}

func union(a, b map[string]int) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}
