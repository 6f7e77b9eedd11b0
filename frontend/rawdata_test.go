package frontend

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

// viaSplit unmarshals data as the importer does (unmarshalModel) and puts
// each initializer's raw_data back, copied, so that the result can be
// compared with proto.Unmarshal's.
func viaSplit(data []byte) (*onnxpb.ModelProto, error) {
	mp, raws, err := unmarshalModel(data)
	if err != nil {
		return nil, err
	}
	for i, r := range raws {
		if r.present {
			mp.GetGraph().GetInitializer()[i].RawData = append([]byte{}, data[r.off:r.off+r.n]...)
		}
	}
	return mp, nil
}

// checkSplitMatchesProto requires unmarshalModel to give what
// proto.Unmarshal gives, or both to fail.
func checkSplitMatchesProto(t *testing.T, data []byte) {
	t.Helper()
	want := &onnxpb.ModelProto{}
	wantErr := proto.Unmarshal(data, want)
	got, err := viaSplit(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("unmarshalModel error %v, proto.Unmarshal error %v", err, wantErr)
	}
	if err == nil && !proto.Equal(got, want) {
		t.Fatalf("unmarshalModel gives\n%v\nproto.Unmarshal gives\n%v", got, want)
	}
	// And it got there without falling back to unmarshalling data whole
	// (which copies every raw_data).
	if _, raws, err := unmarshalModel(data); err == nil && raws == nil && len(want.GetGraph().GetInitializer()) > 0 {
		t.Fatal("unmarshalModel fell back to proto.Unmarshal on valid bytes")
	}
}

// wireModel builds model bytes field by field, for layouts a marshaller
// never writes.
type wire []byte

func (w wire) bytes(num protowire.Number, v []byte) wire {
	w = protowire.AppendTag(w, num, protowire.BytesType)
	return protowire.AppendBytes(w, v)
}

func (w wire) varint(num protowire.Number, v uint64) wire {
	w = protowire.AppendTag(w, num, protowire.VarintType)
	return protowire.AppendVarint(w, v)
}

func f32raw(vals ...float32) []byte {
	return tf("", nil, vals...).RawData
}

// splitCases are model bytes that exercise every branch of splitRawData.
func splitCases(t testing.TB) map[string][]byte {
	g := mkGraph(
		[]*onnxpb.NodeProto{mkNode("Add", "add", []string{"x", "w"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{vi("x", ir.Float32, 2)},
		[]*onnxpb.ValueInfoProto{vi("y", ir.Float32, 2)},
		tf("w", []int64{2}, 1, 2), ti("shape", []int64{1}, 2))
	plain := marshal(t, mkModel(13, g))
	// Clipped, so that every append to it copies.
	tensorHead := slices.Clip(wire(nil).bytes(8, []byte("w")).varint(2, uint64(ir.Float32)).varint(1, 2))
	graphRest := marshal(t, mkGraph(g.Node, g.Input, g.Output))
	// model is a ModelProto whose graph has one initializer, tensor,
	// followed by the fields extra.
	model := func(tensor, extra wire) []byte {
		gb := append(wire(graphRest).bytes(fieldGraphInitializer, tensor), extra...)
		m := marshal(t, &onnxpb.ModelProto{IrVersion: proto.Int64(7),
			OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(13)}}})
		return wire(m).bytes(fieldModelGraph, gb)
	}
	cases := map[string][]byte{
		"marshalled": plain,
		// The last raw_data counts.
		"raw_data twice": model(tensorHead.bytes(fieldTensorRawData, f32raw(9, 9, 9)).bytes(fieldTensorRawData, f32raw(3, 4)), nil),
		// A present but empty raw_data is not an absent one.
		"empty raw_data": model(wire(nil).bytes(8, []byte("w")).varint(2, uint64(ir.Float32)).bytes(fieldTensorRawData, nil), nil),
		// raw_data with the wrong wire type is an unknown field.
		"raw_data varint": model(tensorHead.varint(fieldTensorRawData, 5).bytes(fieldTensorRawData, f32raw(3, 4)).varint(fieldTensorRawData, 6), nil),
		// So is an initializer that is not length-delimited.
		"initializer varint": model(tensorHead.bytes(fieldTensorRawData, f32raw(3, 4)), wire(nil).varint(fieldGraphInitializer, 1)),
		// Unknown fields at every level are kept.
		"unknown fields": model(tensorHead.bytes(fieldTensorRawData, f32raw(3, 4)).varint(999, 1), wire(nil).bytes(998, []byte("x"))),
		// Two graph fields merge, initializers in order.
		"graph twice": wire(model(tensorHead.bytes(fieldTensorRawData, f32raw(3, 4)), nil)).bytes(fieldModelGraph,
			wire(nil).bytes(fieldGraphInitializer, wire(nil).bytes(8, []byte("v")).varint(2, uint64(ir.Float32)).varint(1, 1).bytes(fieldTensorRawData, f32raw(7)))),
		"graph varint": wire(nil).varint(fieldModelGraph, 3),
		"no graph":     marshal(t, &onnxpb.ModelProto{IrVersion: proto.Int64(7)}),
		"empty":        {},
	}
	for _, cut := range []int{1, len(plain) / 3, len(plain) / 2, len(plain) - 3, len(plain) - 1} {
		cases[fmt.Sprintf("cut at %d", cut)] = plain[:cut]
	}
	return cases
}

// TestSplitRawDataMatchesProto: the importer's raw_data-free unmarshal is
// protobuf's, field for field, on odd but valid layouts and on broken ones.
func TestSplitRawDataMatchesProto(t *testing.T) {
	for name, data := range splitCases(t) {
		t.Run(name, func(t *testing.T) { checkSplitMatchesProto(t, data) })
	}
	// The cases reach both of unmarshalModel's outcomes.
	if _, raws, err := unmarshalModel(splitCases(t)["raw_data twice"]); err != nil || len(raws) != 1 || !raws[0].present || raws[0].n != 8 {
		t.Errorf("raw_data twice: raws %+v, err %v; want one present 8-byte raw_data", raws, err)
	}
	if _, _, err := unmarshalModel(splitCases(t)["cut at 1"]); err == nil {
		t.Error("a one-byte model unmarshalled")
	}
}

// FuzzSplitRawData: for any bytes, the importer's unmarshal agrees with
// protobuf's, and importing the bytes as the importer's own buffer (where
// weights are aliased and moved into alignment) gives what importing a
// caller's bytes gives, without touching the caller's.
func FuzzSplitRawData(f *testing.F) {
	for _, data := range splitCases(f) {
		f.Add(data)
	}
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	f.Add(alignedModel(f, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			t.Skip("input over 1 MiB")
		}
		checkSplitMatchesProto(t, data)
		orig := bytes.Clone(data)
		want, wantErr := ImportBytes(data, "fuzz.onnx", Options{})
		if !bytes.Equal(data, orig) {
			t.Fatal("ImportBytes modified its input")
		}
		got, err := importModel(bytes.Clone(data), true, "fuzz.onnx", "fuzz.onnx", Options{})
		if (err != nil) != (wantErr != nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("own buffer: error %v; caller's: %v", err, wantErr)
		}
		if err == nil && got.String() != want.String() {
			t.Fatalf("own buffer:\n%s\ncaller's:\n%s", got, want)
		}
	})
}

// alignedModel returns a model with float initializers whose raw_data
// start at every offset modulo 4 in the returned bytes, big ones (whose
// tag and length take at least 3 bytes) and small ones (2 bytes), plus an
// int64 one. pad lengthens the producer name to move everything.
func alignedModel(t testing.TB, pad int) []byte {
	var inits []*onnxpb.TensorProto
	var nodes []*onnxpb.NodeProto
	prev := "x"
	for i := range 8 {
		n := 3
		if i < 4 {
			n = 40 // 160 bytes: a 2-byte length
		}
		vals := make([]float32, n)
		for j := range vals {
			vals[j] = float32(i*100 + j)
		}
		name := "w" + strings.Repeat("_", i) // moves the next raw_data by one
		inits = append(inits, tf(name, []int64{int64(n)}, vals...))
		out := fmt.Sprintf("y%d", i)
		nodes = append(nodes, mkNode("Mul", "", []string{prev, name}, []string{"m" + out}))
		nodes = append(nodes, mkNode("ReduceSum", "", []string{"m" + out}, []string{out}, attrInt("keepdims", 1)))
		prev = out
	}
	inits = append(inits, ti("shape", []int64{2}, 1, 1))
	g := mkGraph(nodes, []*onnxpb.ValueInfoProto{vi("x", ir.Float32, 1)}, []*onnxpb.ValueInfoProto{vi(prev, ir.Float32, 1)}, inits...)
	m := mkModel(11, g)
	m.ProducerName = proto.String("p" + strings.Repeat("_", pad))
	return marshal(t, m)
}

// inBuffer reports whether f's elements lie in data.
func inBuffer(f []float32, data []byte) bool {
	if len(f) == 0 || len(data) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(&f[0]))
	lo := uintptr(unsafe.Pointer(&data[0]))
	return p >= lo && p+uintptr(4*len(f)) <= lo+uintptr(len(data))
}

// TestImportAliasesAlignedWeights: in the importer's own buffer, float32
// raw_data at any offset ends up aligned and in place (moved down over its
// own tag and length when misaligned) when the tag and length leave room,
// and copied otherwise; from a caller's bytes, or on a big-endian host,
// everything is copied and the bytes are left alone. The values are the
// same in every case.
func TestImportAliasesAlignedWeights(t *testing.T) {
	seen := map[int]bool{} // misalignments of big tensors met
	for pad := range 4 {
		data := alignedModel(t, pad)
		want, err := ImportBytes(bytes.Clone(data), "want.onnx", Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, raws, err := unmarshalModel(data)
		if err != nil || raws == nil {
			t.Fatalf("unmarshalModel: raws %v, err %v", raws, err)
		}
		own := bytes.Clone(data)
		misalign := map[string]int{}
		hdr := map[string]int{}
		mp := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(data, mp); err != nil {
			t.Fatal(err)
		}
		for i, tp := range mp.GetGraph().GetInitializer() {
			misalign[tp.GetName()] = int(uintptr(unsafe.Pointer(&own[raws[i].off])) % 4)
			hdr[tp.GetName()] = raws[i].hdr
		}
		got, err := importModel(own, true, "own.onnx", "own", Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range got.Graph.Consts {
			w := findConst(want, v.Name)
			if w == nil || !sameTensor(v.Const, w.Const) {
				t.Errorf("%s: %v, want %v", v.Name, v.Const, w)
				continue
			}
			if v.Const.DType != ir.Float32 {
				continue
			}
			mis := misalign[v.Name]
			aliased := mis == 0 || mis <= hdr[v.Name]
			if hdr[v.Name] >= 3 {
				seen[mis] = true
			}
			if inBuffer(v.Const.F, own) != aliased {
				t.Errorf("%s (misaligned by %d, tag and length %d bytes): in the buffer %v, want %v", v.Name, mis, hdr[v.Name], !aliased, aliased)
			}
		}

		caller := bytes.Clone(data)
		m, err := ImportBytes(caller, "caller.onnx", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(caller, data) {
			t.Error("ImportBytes modified the caller's bytes")
		}
		for _, v := range m.Graph.Consts {
			if inBuffer(v.Const.F, caller) {
				t.Errorf("ImportBytes: %s refers to the caller's bytes", v.Name)
			}
		}
	}
	for mis := range 4 {
		if !seen[mis] {
			t.Errorf("no big tensor misaligned by %d: the test does not cover it", mis)
		}
	}
}

// TestImportBigEndianGuard: where the host's byte order is not raw_data's,
// nothing is aliased or moved and values are still decoded right.
func TestImportBigEndianGuard(t *testing.T) {
	data := alignedModel(t, 0)
	want, err := ImportBytes(bytes.Clone(data), "want.onnx", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func(le bool) { littleEndian = le }(littleEndian)
	littleEndian = false
	own := bytes.Clone(data)
	got, err := importModel(own, true, "own.onnx", "own", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(own, data) {
		t.Error("bytes moved although the host is taken to be big-endian")
	}
	for _, v := range got.Graph.Consts {
		if inBuffer(v.Const.F, own) {
			t.Errorf("%s aliases little-endian bytes on a big-endian host", v.Name)
		}
		if w := findConst(want, v.Name); w == nil || !sameTensor(v.Const, w.Const) {
			t.Errorf("%s: %v, want %v", v.Name, v.Const, w)
		}
	}
}

// TestImportFileTruncated: a model file cut anywhere gives an error that
// names the file (or, cut between fields, a module), never a panic; cut
// inside a weight's bytes it is protobuf's parse error.
func TestImportFileTruncated(t *testing.T) {
	data := alignedModel(t, 0)
	_, raws, err := unmarshalModel(data)
	if err != nil || len(raws) == 0 {
		t.Fatal(raws, err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cut.onnx")
	insideRaw := raws[0].off + raws[0].n/2
	for cut := range len(data) {
		if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Import(path, Options{})
		if err == nil {
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, path+": ") || strings.Contains(msg, "internal error") {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if cut == insideRaw && !strings.Contains(msg, "not an ONNX model") {
			t.Errorf("cut inside raw_data: %v, want a parse error", err)
		}
	}
	if err := os.WriteFile(path, data[:insideRaw], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(path, Options{}); err == nil {
		t.Error("a model cut inside a weight imported")
	}
}

// TestImportFileRawDataSize: from a file, a raw_data whose length does
// not match the dims is still reported with the file and initializer.
func TestImportFileRawDataSize(t *testing.T) {
	g := mkGraph(
		[]*onnxpb.NodeProto{mkNode("Add", "add", []string{"x", "w"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{vi("x", ir.Float32, 2)},
		[]*onnxpb.ValueInfoProto{vi("y", ir.Float32, 2)},
		tf("w", []int64{2}, 1, 2, 3))
	path := filepath.Join(t.TempDir(), "bad.onnx")
	if err := os.WriteFile(path, marshal(t, mkModel(13, g)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Import(path, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), path+": initializer \"w\": ") || !strings.Contains(err.Error(), "needs 8 bytes of raw data, has 12") {
		t.Fatalf("error %v", err)
	}
}
