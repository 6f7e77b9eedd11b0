package frontend

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

// maxElements caps the element count of any tensor or value type the
// importer accepts, so that a corrupt dim cannot trigger a giant
// allocation downstream.
const maxElements = 1 << 31

// ONNX data types that have no ir.DType of their own.
const (
	onnxBFloat16 = 16
)

// elemSize is the little-endian width of one element in raw_data.
func elemSize(dt int32) int {
	switch dt {
	case int32(ir.Uint8), int32(ir.Int8), int32(ir.Bool):
		return 1
	case int32(ir.Uint16), int32(ir.Int16), int32(ir.Float16), onnxBFloat16:
		return 2
	case int32(ir.Float32), int32(ir.Int32), int32(ir.Uint32):
		return 4
	case int32(ir.Int64), int32(ir.Float64), int32(ir.Uint64):
		return 8
	}
	return 0
}

// dtypeName spells an ONNX data type the way onnx.proto does, for errors.
func dtypeName(dt int32) string {
	if s, ok := onnxpb.TensorProto_DataType_name[dt]; ok {
		return s
	}
	return fmt.Sprintf("data type %d", dt)
}

// numElems multiplies dims, failing on negative dims and on products above
// maxElements (which also rules out int64 overflow).
func numElems(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dim in shape %v", dims)
		}
		if d != 0 && n > maxElements/d {
			return 0, fmt.Errorf("shape %v has more than %d elements", dims, int64(maxElements))
		}
		n *= d
	}
	if n > maxElements {
		return 0, fmt.Errorf("shape %v has more than %d elements", dims, int64(maxElements))
	}
	return n, nil
}

// decodeOptions controls how a TensorProto becomes an ir.Tensor.
type decodeOptions struct {
	// narrow converts float16, bfloat16 and float64 to Float32 tensors:
	// inside an imported graph everything floating-point is float32,
	// because the IR computes in float32. DecodeTensor keeps Float16 and
	// Float64 so that a tensor file round-trips with its dtype.
	narrow bool
	// baseDir is where external data lives; "" means external data is
	// not available.
	baseDir string
	// alias lets a float32 tensor take over the raw bytes it is decoded
	// from instead of copying them, so that an importer's weights are not
	// held twice. Only for bytes nothing else uses, decoded once: a graph
	// initializer's raw_data in protobuf's copy, or in the file buffer
	// that Import owns (see importModel). Two tensors must never share
	// storage: passes may write into a tensor a module owns.
	alias bool
}

// decodeTensor converts one TensorProto. Errors do not name the tensor;
// callers add that context.
func decodeTensor(tp *onnxpb.TensorProto, o decodeOptions) (*ir.Tensor, error) {
	if tp == nil {
		return nil, errors.New("missing tensor")
	}
	dt := tp.GetDataType()
	size := elemSize(dt)
	if size == 0 {
		if dt == int32(ir.Undefined) {
			return nil, errors.New("tensor has no data type")
		}
		return nil, fmt.Errorf("unsupported tensor data type %s", dtypeName(dt))
	}
	if tp.Segment != nil {
		return nil, errors.New("segmented tensors are not supported")
	}
	dims := tp.GetDims()
	n, err := numElems(dims)
	if err != nil {
		return nil, err
	}
	out := &ir.Tensor{DType: ir.DType(dt), Shape: append([]int64{}, dims...)}
	if dt == onnxBFloat16 {
		out.DType = ir.Float32 // the IR has no bfloat16
	}
	if o.narrow && (out.DType == ir.Float16 || out.DType == ir.Float64) {
		out.DType = ir.Float32
	}

	var raw []byte
	switch {
	case tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL:
		raw, err = readExternal(tp, o.baseDir, n*int64(size))
		if err != nil {
			return nil, err
		}
	case tp.RawData != nil:
		raw = tp.RawData
	}
	if raw != nil {
		if int64(len(raw)) != n*int64(size) {
			return nil, fmt.Errorf("%s tensor of shape %v needs %d bytes of raw data, has %d", dtypeName(dt), dims, n*int64(size), len(raw))
		}
		if o.alias && dt == int32(ir.Float32) && n > 0 {
			if f := floatsInPlace(raw); f != nil {
				out.F = f
				return out, nil
			}
		}
		decodeRaw(out, dt, raw, int(n))
		return out, nil
	}
	if err := decodeTyped(out, tp, dt, int(n)); err != nil {
		return nil, err
	}
	return out, nil
}

// littleEndian reports whether the host stores numbers as ONNX's raw_data
// does.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// floatsInPlace reinterprets little-endian float32 bytes as []float32
// without copying, or returns nil when the host is big-endian or raw is not
// 4-byte aligned (then decodeRaw copies). Heap byte slices of 4 bytes or
// more are in practice 4-aligned; raw_data in a file buffer is wherever the
// file puts it, which alignRaw mends.
func floatsInPlace(raw []byte) []float32 {
	p := unsafe.Pointer(unsafe.SliceData(raw))
	if !littleEndian || uintptr(p)%4 != 0 || len(raw)%4 != 0 {
		return nil
	}
	return unsafe.Slice((*float32)(p), len(raw)/4)
}

// decodeRaw fills out from little-endian bytes; len(raw) is checked.
func decodeRaw(out *ir.Tensor, dt int32, raw []byte, n int) {
	le := binary.LittleEndian
	switch dt {
	case int32(ir.Float32):
		out.F = make([]float32, n)
		for i := range out.F {
			out.F[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case int32(ir.Float16):
		out.F = make([]float32, n)
		for i := range out.F {
			out.F[i] = f16ToF32(le.Uint16(raw[2*i:]))
		}
	case onnxBFloat16:
		out.F = make([]float32, n)
		for i := range out.F {
			out.F[i] = math.Float32frombits(uint32(le.Uint16(raw[2*i:])) << 16)
		}
	case int32(ir.Float64):
		out.F = make([]float32, n)
		for i := range out.F {
			out.F[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
	default:
		out.I = make([]int64, n)
		for i := range out.I {
			var v int64
			switch dt {
			case int32(ir.Uint8):
				v = int64(raw[i])
			case int32(ir.Int8):
				v = int64(int8(raw[i]))
			case int32(ir.Bool):
				if raw[i] != 0 {
					v = 1
				}
			case int32(ir.Uint16):
				v = int64(le.Uint16(raw[2*i:]))
			case int32(ir.Int16):
				v = int64(int16(le.Uint16(raw[2*i:])))
			case int32(ir.Int32):
				v = int64(int32(le.Uint32(raw[4*i:])))
			case int32(ir.Uint32):
				v = int64(le.Uint32(raw[4*i:]))
			case int32(ir.Int64), int32(ir.Uint64):
				v = int64(le.Uint64(raw[8*i:]))
			}
			out.I[i] = v
		}
	}
}

// decodeTyped fills out from the typed repeated field that ONNX assigns
// to dt: float_data, double_data, int64_data, uint64_data, or int32_data,
// which also carries the 8- and 16-bit types, bool and the bit patterns of
// float16 and bfloat16.
func decodeTyped(out *ir.Tensor, tp *onnxpb.TensorProto, dt int32, n int) error {
	field, have := typedField(tp, dt)
	if have != n {
		// A tensor stored in the wrong field would otherwise read as empty.
		if other := otherTypedField(tp, field); n > 0 && have == 0 && other != "" {
			return fmt.Errorf("%s tensor stores its data in %s, want %s", dtypeName(dt), other, field)
		}
		return fmt.Errorf("%s tensor of shape %v needs %d elements in %s, has %d", dtypeName(dt), tp.GetDims(), n, field, have)
	}
	switch dt {
	case int32(ir.Float32):
		out.F = append(make([]float32, 0, n), tp.FloatData...)
	case int32(ir.Float64):
		out.F = make([]float32, n)
		for i, v := range tp.DoubleData {
			out.F[i] = float32(v)
		}
	case int32(ir.Float16):
		out.F = make([]float32, n)
		for i, v := range tp.Int32Data {
			out.F[i] = f16ToF32(uint16(v))
		}
	case onnxBFloat16:
		out.F = make([]float32, n)
		for i, v := range tp.Int32Data {
			out.F[i] = math.Float32frombits(uint32(uint16(v)) << 16)
		}
	case int32(ir.Int64):
		out.I = append(make([]int64, 0, n), tp.Int64Data...)
	case int32(ir.Uint32), int32(ir.Uint64):
		out.I = make([]int64, n)
		for i, v := range tp.Uint64Data {
			out.I[i] = ir.DType(dt).Wrap(int64(v))
		}
	default:
		out.I = make([]int64, n)
		for i, v := range tp.Int32Data {
			out.I[i] = ir.DType(dt).Wrap(int64(v))
		}
	}
	return nil
}

func typedField(tp *onnxpb.TensorProto, dt int32) (string, int) {
	switch dt {
	case int32(ir.Float32):
		return "float_data", len(tp.FloatData)
	case int32(ir.Float64):
		return "double_data", len(tp.DoubleData)
	case int32(ir.Int64):
		return "int64_data", len(tp.Int64Data)
	case int32(ir.Uint32), int32(ir.Uint64):
		return "uint64_data", len(tp.Uint64Data)
	}
	return "int32_data", len(tp.Int32Data)
}

func otherTypedField(tp *onnxpb.TensorProto, want string) string {
	for _, f := range []struct {
		name string
		n    int
	}{
		{"float_data", len(tp.FloatData)}, {"double_data", len(tp.DoubleData)},
		{"int64_data", len(tp.Int64Data)}, {"uint64_data", len(tp.Uint64Data)},
		{"int32_data", len(tp.Int32Data)}, {"string_data", len(tp.StringData)},
	} {
		if f.name != want && f.n > 0 {
			return f.name
		}
	}
	return ""
}

// readExternal reads want bytes of a tensor stored beside the model. The
// location must stay inside baseDir: it is opened through os.Root, which
// also refuses symlinks that lead out of the directory.
func readExternal(tp *onnxpb.TensorProto, baseDir string, want int64) ([]byte, error) {
	var loc string
	offset, length := int64(0), int64(-1)
	for _, kv := range tp.GetExternalData() {
		var err error
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			offset, err = parseNonNeg(kv.GetValue())
		case "length":
			length, err = parseNonNeg(kv.GetValue())
		}
		if err != nil {
			return nil, fmt.Errorf("external data %s: %w", kv.GetKey(), err)
		}
	}
	if loc == "" {
		return nil, errors.New("external data has no location")
	}
	if baseDir == "" {
		return nil, fmt.Errorf("tensor data is in external file %q, but the model's directory is unknown (set Options.BaseDir)", loc)
	}
	if !filepath.IsLocal(filepath.FromSlash(loc)) {
		return nil, fmt.Errorf("external data location %q is outside the model's directory", loc)
	}
	f, err := os.OpenInRoot(baseDir, filepath.FromSlash(loc))
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("external data location %q is not a regular file", loc)
	}
	if offset > st.Size() {
		return nil, fmt.Errorf("external data offset %d is beyond the end of %q (%d bytes)", offset, loc, st.Size())
	}
	if length < 0 {
		length = st.Size() - offset
	}
	if length > st.Size()-offset {
		return nil, fmt.Errorf("external data range [%d, %d) is beyond the end of %q (%d bytes)", offset, offset+length, loc, st.Size())
	}
	if length != want {
		return nil, fmt.Errorf("external data in %q has %d bytes, tensor needs %d", loc, length, want)
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil && !(errors.Is(err, io.EOF) && length == 0) {
		return nil, fmt.Errorf("external data: %w", err)
	}
	return buf, nil
}

func parseNonNeg(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return v, nil
}

// f16ToF32 widens an IEEE 754 half-precision bit pattern exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN; keep the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: renormalise into float32's wider exponent
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// f32ToF16 rounds to the nearest half-precision value, ties to even,
// overflowing to infinity; NaN stays NaN.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		m := uint16(mant >> 13)
		if m == 0 {
			m = 0x200
		}
		return sign | 0x7c00 | m
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		full := mant | 0x800000
		shift := uint32(14 - e)
		r := full >> shift
		rem := full & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // a carry into the exponent is the correct rounding
	}
	return sign | uint16(r)
}
