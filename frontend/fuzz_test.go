package frontend

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

// FuzzImport: any input must give an error or a module that verifies,
// and never a panic (an "internal error" is a recovered panic).
func FuzzImport(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
		for _, cut := range []int{len(data) / 2, len(data) - 1, 17} {
			if cut > 0 && cut < len(data) {
				f.Add(data[:cut])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			t.Skip("input over 1 MiB")
		}
		m, err := ImportBytes(data, "fuzz.onnx", Options{})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") || !strings.HasPrefix(err.Error(), "fuzz.onnx: ") {
				t.Fatalf("bad error: %v", err)
			}
			return
		}
		if err := ir.Verify(m); err != nil {
			t.Fatalf("imported module does not verify: %v\n%s", err, m)
		}
		_ = m.String()
		if err := ir.WriteDOT(io.Discard, m); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecodeTensor: decoding never panics, and a decoded tensor encodes
// and decodes back to itself.
func FuzzDecodeTensor(f *testing.F) {
	for _, tt := range []*ir.Tensor{
		ir.FloatTensor([]float32{1, 2, 3}, 3),
		ir.IntTensor(ir.Int64, []int64{-1, 1 << 40}, 2),
		ir.IntTensor(ir.Int8, []int64{-128, 127}, 1, 2),
		ir.IntTensor(ir.Bool, []int64{1}),
		{DType: ir.Float16, Shape: []int64{2}, F: []float32{0.5, -1}},
		{DType: ir.Float64, Shape: []int64{1}, F: []float32{3}},
	} {
		data, err := EncodeTensor(tt, "seed")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	if conf := conformanceDir(); conf != "" {
		files, _ := filepath.Glob(filepath.Join(conf, "node", "test_*_example", "test_data_set_0", "*.pb"))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeTensor(data)
		if err != nil {
			return
		}
		if err := got.Check(); err != nil {
			t.Fatalf("decoded tensor is inconsistent: %v", err)
		}
		enc, err := EncodeTensor(got, "x")
		if err != nil {
			t.Fatalf("decoded tensor does not encode: %v", err)
		}
		again, err := DecodeTensor(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !sameTensor(got, again) {
			t.Fatalf("round trip changed %s %v %v into %s %v %v", got.Type(), got.F, got.I, again.Type(), again.F, again.I)
		}
	})
}

// fuzzSeeds are the fixtures plus the small shared models.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	paths, _ := filepath.Glob(filepath.Join(fixtureDir, "*.onnx"))
	if conf := conformanceDir(); conf != "" {
		for _, c := range []string{"pytorch-converted/test_PixelShuffle", "pytorch-operator/test_operator_chunk",
			"pytorch-converted/test_BatchNorm2d_momentum_eval", "node/test_softmax_axis_1", "node/test_constant_pad_axes"} {
			paths = append(paths, filepath.Join(conf, c, "model.onnx"))
		}
	}
	if d := firstDir("../testdata/models", "../../shared/data/models"); d != "" {
		paths = append(paths, filepath.Join(d, "mnist", "mnist-8_onnxzoo_cntk.onnx"))
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err == nil && len(data) < 64<<10 && !bytes.Contains([]byte(p), []byte("external")) {
			seeds = append(seeds, data)
		}
	}
	if len(seeds) == 0 {
		f.Log("no seed models found")
	}
	return seeds
}

// FuzzNode builds single-operator models from fuzzed parameters (operator,
// opset, input shape, constant inputs, attribute values), reaching the
// canonicalisation, folding and shape-inference code far more often than
// mutating protobuf bytes does. The same contract as FuzzImport holds.
func FuzzNode(f *testing.F) {
	f.Add(uint16(0), uint8(13), []byte{1, 3, 4, 4}, []byte{0xff, 1, 2, 3}, []byte{1, 1, 2, 2})
	f.Add(uint16(5), uint8(6), []byte{2, 3}, []byte{1, 0, 7}, []byte{0, 1})
	f.Fuzz(func(t *testing.T, opIndex uint16, opset uint8, shape, attrBytes, ints []byte) {
		m := fuzzNodeModel(opIndex, opset, shape, attrBytes, ints)
		if m == nil {
			return
		}
		mod, err := ImportBytes(marshal(t, m), "fuzz.onnx", Options{})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%v", err)
			}
			return
		}
		if err := ir.Verify(mod); err != nil {
			t.Fatalf("imported module does not verify: %v\n%s", err, mod)
		}
	})
}

var fuzzStrings = []string{"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "constant", "reflect", "edge", "wrap", "DCR", "CRD", "tanh", "none", ""}

func fuzzNodeModel(opIndex uint16, opset uint8, shape, attrBytes, ints []byte) *onnxpb.ModelProto {
	names := []string{"Constant"}
	for _, op := range ir.Ops() {
		if op.Info().Domain == "" {
			names = append(names, op.String())
		}
	}
	name := names[int(opIndex)%len(names)]
	op, _ := ir.LookupOp("", name)
	if len(shape) > 6 {
		shape = shape[:6]
	}
	dims := make([]any, len(shape))
	xdims := make([]int64, len(shape))
	for i, b := range shape {
		dims[i] = int(b % 8)
		xdims[i] = int64(b % 8)
	}
	next := func() byte {
		if len(attrBytes) == 0 {
			return 0
		}
		b := attrBytes[0]
		attrBytes = attrBytes[1:]
		return b
	}
	intList := func() []int64 {
		n := int(next() % 9)
		out := make([]int64, 0, n)
		for i := 0; i < n && i < len(ints); i++ {
			out = append(out, int64(int8(ints[i])))
		}
		return out
	}
	node := &onnxpb.NodeProto{OpType: strp(name), Name: strp("n")}
	var inits []*onnxpb.TensorProto
	inputs := []*onnxpb.ValueInfoProto{vi("x", ir.Float32, dims...)}
	minIn, maxIn, minOut := 0, 0, 1
	if op.Valid() {
		info := op.Info()
		minIn, maxIn, minOut = info.MinIn, info.MaxIn, info.MinOut
		if maxIn < 0 {
			maxIn = minIn + 2
		}
		var keys []string
		for k := range info.Attrs {
			keys = append(keys, k)
		}
		sortStrings(keys)
		for _, k := range keys {
			sel := next()
			if sel&1 == 0 {
				continue
			}
			switch info.Attrs[k].Kind {
			case ir.AttrInt:
				node.Attribute = append(node.Attribute, attrInt(k, int64(int8(next()))))
			case ir.AttrFloat:
				node.Attribute = append(node.Attribute, attrFloat(k, float32(int8(next()))/16))
			case ir.AttrString:
				node.Attribute = append(node.Attribute, attrStr(k, fuzzStrings[int(next())%len(fuzzStrings)]))
			case ir.AttrInts:
				node.Attribute = append(node.Attribute, attrInts(k, intList()...))
			case ir.AttrTensor:
				node.Attribute = append(node.Attribute, attrTensor(k, tf("", []int64{1}, float32(next()))))
			}
		}
	} else {
		node.Attribute = append(node.Attribute, attrInts("value_ints", intList()...))
	}
	// Legacy attributes the canonicaliser consumes at old opsets.
	for _, k := range []string{"axes", "split", "starts", "ends", "pads", "shape"} {
		if next()&3 == 1 {
			node.Attribute = append(node.Attribute, attrInts(k, intList()...))
		}
	}
	for _, k := range []string{"min", "max", "value", "ratio"} {
		if next()&3 == 1 {
			node.Attribute = append(node.Attribute, attrFloat(k, float32(int8(next()))))
		}
	}
	for _, k := range []string{"axis", "broadcast", "spatial", "is_test"} {
		if next()&3 == 1 {
			node.Attribute = append(node.Attribute, attrInt(k, int64(int8(next()))))
		}
	}
	nIn := minIn
	if maxIn > minIn {
		nIn += int(next()) % (maxIn - minIn + 1)
	}
	for i := 0; i < nIn; i++ {
		if i == 0 {
			node.Input = append(node.Input, "x")
			continue
		}
		in := "c" + string(rune('0'+i))
		node.Input = append(node.Input, in)
		switch next() % 3 {
		case 0: // int64 vector
			v := intList()
			inits = append(inits, ti(in, []int64{int64(len(v))}, v...))
		case 1: // float tensor shaped like x
			n := ir.NumElems(xdims)
			if n > 4096 {
				return nil
			}
			inits = append(inits, tf(in, xdims, lcg(int(n), uint32(i))...))
		default: // float scalar
			inits = append(inits, tf(in, nil, float32(int8(next()))/8))
		}
	}
	nOut := minOut + int(next()%3)
	for i := 0; i < nOut; i++ {
		node.Output = append(node.Output, "y"+string(rune('0'+i)))
	}
	outputs := []*onnxpb.ValueInfoProto{vi("y0", ir.Float32)}
	return mkModel(int64(opset%25)+1, mkGraph([]*onnxpb.NodeProto{node}, inputs, outputs, inits...))
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
