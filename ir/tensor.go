package ir

import (
	"fmt"
	"math"
	"strings"
)

// DType is an element type. The numbering follows ONNX's
// TensorProto.DataType so that the importer maps it one to one.
type DType uint8

// Element types.
const (
	Undefined DType = 0
	Float32   DType = 1
	Uint8     DType = 2
	Int8      DType = 3
	Uint16    DType = 4
	Int16     DType = 5
	Int32     DType = 6
	Int64     DType = 7
	String    DType = 8
	Bool      DType = 9
	Float16   DType = 10
	Float64   DType = 11
	Uint32    DType = 12
	Uint64    DType = 13
)

var dtypeNames = map[DType]string{
	Undefined: "undef", Float32: "f32", Uint8: "u8", Int8: "i8", Uint16: "u16",
	Int16: "i16", Int32: "i32", Int64: "i64", String: "str", Bool: "bool",
	Float16: "f16", Float64: "f64", Uint32: "u32", Uint64: "u64",
}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// ParseDType is the inverse of DType.String.
func ParseDType(s string) (DType, bool) {
	for d, n := range dtypeNames {
		if n == s {
			return d, true
		}
	}
	return Undefined, false
}

// IsFloat reports whether values of d are stored in Tensor.F.
func (d DType) IsFloat() bool { return d == Float32 || d == Float16 || d == Float64 }

// IsInt reports whether values of d are stored in Tensor.I (bool included).
func (d DType) IsInt() bool {
	switch d {
	case Uint8, Int8, Uint16, Int16, Int32, Int64, Bool, Uint32, Uint64:
		return true
	}
	return false
}

// Range returns the representable range of an integer dtype.
func (d DType) Range() (lo, hi int64) {
	switch d {
	case Uint8:
		return 0, math.MaxUint8
	case Int8:
		return math.MinInt8, math.MaxInt8
	case Uint16:
		return 0, math.MaxUint16
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Int32:
		return math.MinInt32, math.MaxInt32
	case Uint32:
		return 0, math.MaxUint32
	case Bool:
		return 0, 1
	}
	return math.MinInt64, math.MaxInt64
}

// Wrap reduces v to the width of integer dtype d the way a C cast does
// (two's complement; bool becomes 0 or 1), so that every integer element
// is a value of its dtype. Other dtypes return v unchanged.
func (d DType) Wrap(v int64) int64 {
	switch d {
	case Int8:
		return int64(int8(v))
	case Uint8:
		return int64(uint8(v))
	case Int16:
		return int64(int16(v))
	case Uint16:
		return int64(uint16(v))
	case Int32:
		return int64(int32(v))
	case Uint32:
		return int64(uint32(v))
	case Bool:
		if v != 0 {
			return 1
		}
		return 0
	}
	return v
}

// Tensor is a dense constant or runtime value in row-major order. Float
// dtypes keep their elements in F (float16 widened, float64 narrowed: pimc
// computes in float32), every integer dtype and bool in I. An Int8 tensor
// may keep them in I8 instead: the quantizer's weight codes (most of a
// quantized module's bytes) are stored that way, an eighth of the memory.
// Exactly one of the slices is used; Check enforces it. Code that reads
// integer elements of any tensor uses Int, Ints or Int8s (or checks I8).
type Tensor struct {
	DType DType
	Shape []int64
	F     []float32
	I     []int64
	I8    []int8
}

// NewTensor allocates a zero tensor.
func NewTensor(dt DType, shape ...int64) *Tensor {
	t := &Tensor{DType: dt, Shape: append([]int64{}, shape...)}
	n := NumElems(shape)
	if dt.IsFloat() {
		t.F = make([]float32, n)
	} else {
		t.I = make([]int64, n)
	}
	return t
}

// NewInt8Tensor allocates a zero Int8 tensor with compact (I8) storage.
func NewInt8Tensor(shape ...int64) *Tensor {
	return &Tensor{DType: Int8, Shape: append([]int64{}, shape...), I8: make([]int8, NumElems(shape))}
}

// FloatTensor wraps data (not copied).
func FloatTensor(data []float32, shape ...int64) *Tensor {
	return &Tensor{DType: Float32, Shape: append([]int64{}, shape...), F: data}
}

// IntTensor wraps data (not copied).
func IntTensor(dt DType, data []int64, shape ...int64) *Tensor {
	return &Tensor{DType: dt, Shape: append([]int64{}, shape...), I: data}
}

// NumElems is the product of the dims (1 for a scalar).
func NumElems(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len is the number of elements.
func (t *Tensor) Len() int64 { return NumElems(t.Shape) }

// Rank is the number of dims.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Clone deep-copies t.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{DType: t.DType, Shape: append([]int64{}, t.Shape...)}
	if t.F != nil {
		c.F = append([]float32{}, t.F...)
	}
	if t.I != nil {
		c.I = append([]int64{}, t.I...)
	}
	if t.I8 != nil {
		c.I8 = append([]int8{}, t.I8...)
	}
	return c
}

// Type returns the static type of t.
func (t *Tensor) Type() Type { return Type{DType: t.DType, Shape: append([]int64{}, t.Shape...)} }

// Float returns element i as float64 whatever the storage class.
func (t *Tensor) Float(i int) float64 {
	if t.DType.IsFloat() {
		return float64(t.F[i])
	}
	return float64(t.Int(i))
}

// Int returns integer element i whatever the integer storage.
func (t *Tensor) Int(i int) int64 {
	if t.I8 != nil {
		return int64(t.I8[i])
	}
	return t.I[i]
}

// Ints returns the elements as int64 (floats truncated); for shape-like
// constants such as Reshape's shape or Slice's starts. For I storage it
// is I itself, otherwise a copy.
func (t *Tensor) Ints() []int64 {
	if t.I8 != nil {
		out := make([]int64, len(t.I8))
		for i, v := range t.I8 {
			out[i] = int64(v)
		}
		return out
	}
	if !t.DType.IsFloat() {
		return t.I
	}
	out := make([]int64, len(t.F))
	for i, v := range t.F {
		out[i] = int64(v)
	}
	return out
}

// Int8s returns the elements of an integer tensor as int8: I8 itself, or
// a copy of I with each element truncated to 8 bits (callers check the
// dtype first).
func (t *Tensor) Int8s() []int8 {
	if t.I8 != nil || t.I == nil {
		return t.I8
	}
	out := make([]int8, len(t.I))
	for i, v := range t.I {
		out[i] = int8(v)
	}
	return out
}

// Check reports whether the storage matches dtype and shape.
func (t *Tensor) Check() error {
	n := t.Len()
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("negative dim in shape %v", t.Shape)
		}
	}
	if t.DType.IsFloat() {
		if int64(len(t.F)) != n || t.I != nil || t.I8 != nil {
			return fmt.Errorf("%s tensor of shape %v holds %d float elements, want %d", t.DType, t.Shape, len(t.F), n)
		}
		return nil
	}
	if t.I8 != nil {
		if t.DType != Int8 || int64(len(t.I8)) != n || t.I != nil || t.F != nil {
			return fmt.Errorf("%s tensor of shape %v holds %d int8 elements, want %d and dtype i8", t.DType, t.Shape, len(t.I8), n)
		}
		return nil
	}
	if t.DType.IsInt() {
		if int64(len(t.I)) != n || t.F != nil {
			return fmt.Errorf("%s tensor of shape %v holds %d integer elements, want %d", t.DType, t.Shape, len(t.I), n)
		}
		return nil
	}
	return fmt.Errorf("unsupported tensor dtype %s", t.DType)
}

// Type is the static type of a value: dtype and shape. Dims[i], when
// non-empty, names the symbolic dimension that Shape[i] was bound from
// (e.g. a batch "N" bound to 1), so printouts keep the symbol.
type Type struct {
	DType DType
	Shape []int64
	Dims  []string
}

// Rank is the number of dims.
func (t Type) Rank() int { return len(t.Shape) }

// Len is the number of elements.
func (t Type) Len() int64 { return NumElems(t.Shape) }

// Equal compares dtype and shape (not symbol names).
func (t Type) Equal(u Type) bool {
	if t.DType != u.DType || len(t.Shape) != len(u.Shape) {
		return false
	}
	for i := range t.Shape {
		if t.Shape[i] != u.Shape[i] {
			return false
		}
	}
	return true
}

func (t Type) String() string {
	var b strings.Builder
	b.WriteString(t.DType.String())
	b.WriteByte('[')
	for i, d := range t.Shape {
		if i > 0 {
			b.WriteByte(',')
		}
		if i < len(t.Dims) && t.Dims[i] != "" {
			fmt.Fprintf(&b, "%s=%d", t.Dims[i], d)
		} else {
			fmt.Fprintf(&b, "%d", d)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// ShapeString formats a shape as 1x3x224x224.
func ShapeString(s []int64) string {
	if len(s) == 0 {
		return "scalar"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}
