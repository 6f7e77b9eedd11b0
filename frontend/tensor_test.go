package frontend

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	// weights.bin: 8 bytes of padding, then [1 2 3] as float32.
	data := make([]byte, 8+12)
	for i, v := range []float32{1, 2, 3} {
		binary.LittleEndian.PutUint32(data[8+4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "w.bin"), data[8:], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.bin"), data[8:], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.bin"), filepath.Join(dir, "link.bin")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tensor  *onnxpb.TensorProto
		wantErr string
	}{
		{"offset and length", externalTensor("w", "weights.bin", 3, "offset", "8", "length", "12"), ""},
		{"offset to the end", externalTensor("w", "weights.bin", 3, "offset", "8"), ""},
		{"subdirectory", externalTensor("w", "sub/w.bin", 3), ""},
		{"parent directory", externalTensor("w", "../secret.bin", 3), `external data location "../secret.bin" is outside the model's directory`},
		{"absolute path", externalTensor("w", filepath.Join(outside, "secret.bin"), 3), "is outside the model's directory"},
		{"symlink out of the directory", externalTensor("w", "link.bin", 3), "path escapes"},
		{"missing file", externalTensor("w", "nope.bin", 3), "external data"},
		{"offset beyond the end", externalTensor("w", "weights.bin", 3, "offset", "100"), "offset 100 is beyond the end"},
		{"length beyond the end", externalTensor("w", "weights.bin", 3, "offset", "8", "length", "16"), "range [8, 24) is beyond the end"},
		{"length does not match", externalTensor("w", "weights.bin", 3, "offset", "4"), "has 16 bytes, tensor needs 12"},
		{"bad offset", externalTensor("w", "weights.bin", 3, "offset", "-4"), `external data offset: "-4" is not a non-negative integer`},
		{"no location", &onnxpb.TensorProto{Name: strp("w"), Dims: []int64{3}, DataType: i32p(1), DataLocation: onnxpb.TensorProto_EXTERNAL.Enum()}, "external data has no location"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mkModel(13, mkGraph([]*onnxpb.NodeProto{mkNode("Add", "a", []string{"x", "w"}, []string{"y"})},
				[]*onnxpb.ValueInfoProto{vi("x", ir.Float32, 3)}, []*onnxpb.ValueInfoProto{vi("y", ir.Float32)}, tc.tensor))
			path := filepath.Join(dir, "model.onnx")
			if err := os.WriteFile(path, marshal(t, m), 0o644); err != nil {
				t.Fatal(err)
			}
			mod, err := Import(path, Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `initializer "w"`) {
					t.Fatalf("error %v, want one naming the initializer and containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantConstF(t, mod.Graph.Nodes[0].In(1), []float32{1, 2, 3}, []int64{3})
		})
	}
}

func TestFloat16(t *testing.T) {
	// Every half-precision bit pattern widens exactly and rounds back to
	// itself (NaNs stay NaN).
	for h := 0; h < 1<<16; h++ {
		f := f16ToF32(uint16(h))
		back := f32ToF16(f)
		isNaN := h&0x7c00 == 0x7c00 && h&0x3ff != 0
		if isNaN {
			if !math.IsNaN(float64(f)) || back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x → %v → %#04x", h, f, back)
			}
			continue
		}
		if back != uint16(h) {
			t.Fatalf("%#04x → %v → %#04x", h, f, back)
		}
	}
	tests := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e9, 0x7c00},
		{5.960464477539063e-08, 0x0001}, {2.98e-08, 0x0000}, {2.99e-08, 0x0001},
		{1.0009765625, 0x3c01}, {1.00048828125, 0x3c00}, {1.00146484375, 0x3c02}, // ties to even
		{float32(math.Inf(-1)), 0xfc00},
	}
	for _, tc := range tests {
		if got := f32ToF16(tc.in); got != tc.want {
			t.Errorf("f32ToF16(%v) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
}

func TestTensorRoundTrip(t *testing.T) {
	tests := []*ir.Tensor{
		ir.FloatTensor([]float32{1, -2.5, float32(math.Inf(1)), 0}, 2, 2),
		{DType: ir.Float16, Shape: []int64{3}, F: []float32{1, 0.5, -65504}},
		{DType: ir.Float64, Shape: []int64{2}, F: []float32{1.25, -3}},
		ir.IntTensor(ir.Int64, []int64{math.MinInt64, -1, 0, math.MaxInt64}, 4),
		ir.IntTensor(ir.Int32, []int64{math.MinInt32, 7}, 2),
		ir.IntTensor(ir.Int16, []int64{-32768, 32767}, 2),
		ir.IntTensor(ir.Uint16, []int64{0, 65535}, 2),
		ir.IntTensor(ir.Int8, []int64{-128, 0, 127}, 3),
		ir.IntTensor(ir.Uint8, []int64{0, 200, 255}, 1, 3),
		ir.IntTensor(ir.Bool, []int64{1, 0, 1}, 3),
		ir.IntTensor(ir.Uint32, []int64{0, math.MaxUint32}, 2),
		ir.IntTensor(ir.Uint64, []int64{-1, 5}, 2),
		ir.FloatTensor([]float32{42}), // scalar
		ir.FloatTensor([]float32{}, 0, 3),
	}
	for _, want := range tests {
		t.Run(want.Type().String(), func(t *testing.T) {
			data, err := EncodeTensor(want, "t")
			if err != nil {
				t.Fatal(err)
			}
			var tp onnxpb.TensorProto
			if err := proto.Unmarshal(data, &tp); err != nil {
				t.Fatal(err)
			}
			if tp.GetDataType() != int32(want.DType) || tp.GetName() != "t" || tp.RawData == nil {
				t.Errorf("encoded as %s %q raw=%v, want dtype %s in raw_data", dtypeName(tp.GetDataType()), tp.GetName(), tp.RawData != nil, want.DType)
			}
			got, err := DecodeTensor(data)
			if err != nil {
				t.Fatal(err)
			}
			if got.DType != want.DType || !reflect.DeepEqual(got.Shape, append([]int64{}, want.Shape...)) ||
				!reflect.DeepEqual(got.F, want.F) || !reflect.DeepEqual(got.I, want.I) {
				t.Errorf("round trip gave %s %v %v, want %s %v %v", got.Type(), got.F, got.I, want.Type(), want.F, want.I)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "t.pb")
	if err := WriteTensor(path, tests[0], "x"); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTensor(path)
	if err != nil || !reflect.DeepEqual(got.F, tests[0].F) {
		t.Errorf("ReadTensor = %v, %v", got, err)
	}
}

func TestEncodeTensorErrors(t *testing.T) {
	tests := []struct {
		t    *ir.Tensor
		want string
	}{
		{ir.IntTensor(ir.Int8, []int64{128}, 1), `tensor "t": element 0 = 128 is out of range for i8`},
		{ir.IntTensor(ir.Bool, []int64{2}, 1), "out of range for bool"},
		{ir.FloatTensor([]float32{1, 2}, 3), "holds 2 float elements, want 3"},
		{&ir.Tensor{DType: ir.String, Shape: []int64{}}, "unsupported tensor dtype"},
		{nil, "nil tensor"},
	}
	for _, tc := range tests {
		_, err := EncodeTensor(tc.t, "t")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("EncodeTensor error %v, want %q", err, tc.want)
		}
	}
}

func TestDecodeTensorTypedFields(t *testing.T) {
	tests := []struct {
		name string
		tp   *onnxpb.TensorProto
		want *ir.Tensor
	}{
		{"int8 in int32_data", &onnxpb.TensorProto{Dims: []int64{3}, DataType: i32p(3), Int32Data: []int32{-1, 127, -128}}, ir.IntTensor(ir.Int8, []int64{-1, 127, -128}, 3)},
		{"uint8 in int32_data", &onnxpb.TensorProto{Dims: []int64{2}, DataType: i32p(2), Int32Data: []int32{0, 255}}, ir.IntTensor(ir.Uint8, []int64{0, 255}, 2)},
		{"bool in int32_data", &onnxpb.TensorProto{Dims: []int64{2}, DataType: i32p(9), Int32Data: []int32{0, 1}}, ir.IntTensor(ir.Bool, []int64{0, 1}, 2)},
		{"int16 in int32_data", &onnxpb.TensorProto{Dims: []int64{1}, DataType: i32p(5), Int32Data: []int32{-300}}, ir.IntTensor(ir.Int16, []int64{-300}, 1)},
		{"double in double_data", &onnxpb.TensorProto{Dims: []int64{2}, DataType: i32p(11), DoubleData: []float64{0.5, 3}}, &ir.Tensor{DType: ir.Float64, Shape: []int64{2}, F: []float32{0.5, 3}}},
		{"uint64 in uint64_data", &onnxpb.TensorProto{Dims: []int64{1}, DataType: i32p(13), Uint64Data: []uint64{7}}, ir.IntTensor(ir.Uint64, []int64{7}, 1)},
		{"float16 in int32_data", &onnxpb.TensorProto{Dims: []int64{1}, DataType: i32p(10), Int32Data: []int32{0x3800}}, &ir.Tensor{DType: ir.Float16, Shape: []int64{1}, F: []float32{0.5}}},
		{"bfloat16 raw", &onnxpb.TensorProto{Dims: []int64{1}, DataType: i32p(16), RawData: []byte{0x80, 0x3f}}, ir.FloatTensor([]float32{1}, 1)},
		{"bool raw", &onnxpb.TensorProto{Dims: []int64{3}, DataType: i32p(9), RawData: []byte{0, 1, 7}}, ir.IntTensor(ir.Bool, []int64{0, 1, 1}, 3)},
		{"int8 raw", &onnxpb.TensorProto{Dims: []int64{2}, DataType: i32p(3), RawData: []byte{0xff, 0x7f}}, ir.IntTensor(ir.Int8, []int64{-1, 127}, 2)},
		{"empty", &onnxpb.TensorProto{Dims: []int64{0}, DataType: i32p(1)}, ir.FloatTensor([]float32{}, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeTensor(marshal(t, tc.tp))
			if err != nil {
				t.Fatal(err)
			}
			if got.DType != tc.want.DType || !reflect.DeepEqual(got.Shape, tc.want.Shape) || !reflect.DeepEqual(got.F, tc.want.F) || !reflect.DeepEqual(got.I, tc.want.I) {
				t.Errorf("got %s %v %v, want %s %v %v", got.Type(), got.F, got.I, tc.want.Type(), tc.want.F, tc.want.I)
			}
		})
	}
	if _, err := DecodeTensor([]byte{0xff}); err == nil || !strings.Contains(err.Error(), "not a TensorProto") {
		t.Errorf("garbage: error %v", err)
	}
	if _, err := DecodeTensor(marshal(t, &onnxpb.TensorProto{Name: strp("s"), Dims: []int64{1}, DataType: i32p(1), Segment: &onnxpb.TensorProto_Segment{}})); err == nil || !strings.Contains(err.Error(), `tensor "s": segmented`) {
		t.Errorf("segment: error %v", err)
	}
}

// TestConformanceTensors decodes every test-data TensorProto of the shared
// conformance cases and checks that encoding gives the same values back.
func TestConformanceTensors(t *testing.T) {
	conf := conformanceDir()
	if conf == "" {
		t.Skip("conformance data not present")
	}
	files, _ := filepath.Glob(filepath.Join(conf, "*", "*", "test_data_set_0", "*.pb"))
	if len(files) == 0 {
		t.Skip("no test data")
	}
	for _, f := range files {
		got, err := ReadTensor(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		data, err := EncodeTensor(got, "x")
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		again, err := DecodeTensor(data)
		if err != nil || !sameTensor(got, again) {
			t.Errorf("%s: round trip changed the tensor (%v)", f, err)
		}
	}
}

// sameTensor compares dtype, shape and elements; NaN equals NaN.
func sameTensor(a, b *ir.Tensor) bool {
	if a.DType != b.DType || !reflect.DeepEqual(append([]int64{}, a.Shape...), append([]int64{}, b.Shape...)) ||
		len(a.F) != len(b.F) || len(a.I) != len(b.I) {
		return false
	}
	for i := range a.F {
		x, y := a.F[i], b.F[i]
		if x != y && !(x != x && y != y) {
			return false
		}
	}
	return reflect.DeepEqual(a.I, b.I) || len(a.I) == 0
}
