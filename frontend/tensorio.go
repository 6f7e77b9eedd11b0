package frontend

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

// DecodeTensor decodes a serialized ONNX TensorProto, the format of the
// input_N.pb / output_N.pb files of ONNX test cases. The dtype is kept:
// float16 and float64 tensors come back as ir.Float16 / ir.Float64 with
// their values in F (bfloat16 becomes Float32, which the IR lacks).
// External data is not available here; use ReadTensor.
func DecodeTensor(data []byte) (*ir.Tensor, error) {
	return decodeTensorBytes(data, "")
}

// ReadTensor reads a TensorProto file; external data is looked up beside it.
func ReadTensor(path string) (*ir.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("frontend: %w", err)
	}
	t, err := decodeTensorBytes(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func decodeTensorBytes(data []byte, baseDir string) (*ir.Tensor, error) {
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		return nil, fmt.Errorf("not a TensorProto: %w", err)
	}
	t, err := decodeTensor(&tp, decodeOptions{baseDir: baseDir})
	if err != nil {
		if tp.GetName() != "" {
			return nil, fmt.Errorf("tensor %q: %w", tp.GetName(), err)
		}
		return nil, err
	}
	return t, nil
}

// EncodeTensor serializes t as a TensorProto named name, with its elements
// in raw_data (little-endian, ONNX's fixed-width layout) and its dtype
// unchanged: Int64 is written as INT64, Float32 as FLOAT, Float16 as
// FLOAT16 (rounded to nearest even), int8/uint8/bool as one byte each.
// Integer elements outside their dtype's range are an error, not wrapped.
func EncodeTensor(t *ir.Tensor, name string) ([]byte, error) {
	if t == nil {
		return nil, fmt.Errorf("tensor %q: nil tensor", name)
	}
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	size := elemSize(int32(t.DType))
	if size == 0 {
		return nil, fmt.Errorf("tensor %q: cannot encode dtype %s", name, t.DType)
	}
	n := int(t.Len())
	raw := make([]byte, n*size)
	le := binary.LittleEndian
	switch t.DType {
	case ir.Float32:
		for i, v := range t.F {
			le.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	case ir.Float16:
		for i, v := range t.F {
			le.PutUint16(raw[2*i:], f32ToF16(v))
		}
	case ir.Float64:
		for i, v := range t.F {
			le.PutUint64(raw[8*i:], math.Float64bits(float64(v)))
		}
	default:
		lo, hi := t.DType.Range()
		if t.DType == ir.Uint64 {
			lo = math.MinInt64 // uint64 bit patterns are stored as int64
		}
		for i, v := range t.I {
			if v < lo || v > hi {
				return nil, fmt.Errorf("tensor %q: element %d = %d is out of range for %s", name, i, v, t.DType)
			}
			switch size {
			case 1:
				raw[i] = byte(v)
			case 2:
				le.PutUint16(raw[2*i:], uint16(v))
			case 4:
				le.PutUint32(raw[4*i:], uint32(v))
			case 8:
				le.PutUint64(raw[8*i:], uint64(v))
			}
		}
	}
	tp := &onnxpb.TensorProto{
		Dims:     append([]int64{}, t.Shape...),
		DataType: proto.Int32(int32(t.DType)),
		RawData:  raw,
	}
	if name != "" {
		tp.Name = proto.String(name)
	}
	// Deterministic so that the same tensor always gives the same bytes.
	return proto.MarshalOptions{Deterministic: true}.Marshal(tp)
}

// WriteTensor writes t as a TensorProto file (see EncodeTensor).
func WriteTensor(path string, t *ir.Tensor, name string) error {
	data, err := EncodeTensor(t, name)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("frontend: %w", err)
	}
	return nil
}
