package frontend

import (
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// protobuf-go copies every bytes field it decodes (it has no way to alias
// the input), so unmarshalling a model would hold every weight twice: in
// the file's bytes and in each TensorProto.raw_data. splitRawData takes the
// initializers' raw_data out of the bytes before protobuf sees them, and
// the importer reads the weights from the file's bytes where they are.

// Field numbers in onnx.proto of the path to an initializer's bytes.
const (
	fieldModelGraph       = 7 // ModelProto.graph
	fieldGraphInitializer = 5 // GraphProto.initializer (repeated)
	fieldTensorRawData    = 9 // TensorProto.raw_data
)

// rawField is where one initializer's raw_data is in the model's bytes.
type rawField struct {
	present bool
	off     int // data[off : off+n] is the value
	n       int
	hdr     int // data[off-hdr : off] is the field's tag and length
}

// splitRawData returns a copy of the serialized ModelProto data without the
// raw_data fields of its graph initializers, and for each initializer, in
// the order protobuf will list them, where its raw_data is in data (when a
// TensorProto repeats raw_data, the last one counts, as in protobuf). Every
// other byte is copied unchanged, lengths of the rewritten graph and
// initializer messages aside, so unmarshalling the copy gives the message
// unmarshalling data gives, minus those raw_data fields. A field at any of
// the three levels whose wire type does not match its declaration is an
// unknown field to protobuf and copied as such. ok is false when data does
// not parse at those levels; the caller then unmarshals data itself, which
// reports the error as before.
func splitRawData(data []byte) (stripped []byte, raws []rawField, ok bool) {
	var s rawSplitter
	out, ok := s.model(data)
	if !ok {
		return nil, nil, false
	}
	return out, s.raws, true
}

type rawSplitter struct {
	raws    []rawField
	scratch []byte // one initializer being rewritten
}

// field reads the field at b[i:]: its number, wire type, the end of its tag,
// and its end; ok false when it does not parse.
func field(b []byte, i int) (num protowire.Number, typ protowire.Type, tagEnd, end int, ok bool) {
	num, typ, n := protowire.ConsumeTag(b[i:])
	if n < 0 {
		return 0, 0, 0, 0, false
	}
	m := protowire.ConsumeFieldValue(num, typ, b[i+n:])
	if m < 0 {
		return 0, 0, 0, 0, false
	}
	return num, typ, i + n, i + n + m, true
}

// bytesValue returns where the value of a length-delimited field whose tag
// ends at tagEnd starts (after its length).
func bytesValue(b []byte, tagEnd int) int {
	_, n := protowire.ConsumeVarint(b[tagEnd:])
	return tagEnd + n // n > 0: field already parsed the same bytes
}

func (s *rawSplitter) model(b []byte) ([]byte, bool) {
	out := make([]byte, 0, 4096)
	for i := 0; i < len(b); {
		num, typ, tagEnd, end, ok := field(b, i)
		if !ok {
			return nil, false
		}
		if num == fieldModelGraph && typ == protowire.BytesType {
			v := bytesValue(b, tagEnd)
			g, ok := s.graph(b[v:end], v)
			if !ok {
				return nil, false
			}
			out = protowire.AppendTag(out, num, typ)
			out = protowire.AppendBytes(out, g)
		} else {
			out = append(out, b[i:end]...)
		}
		i = end
	}
	return out, true
}

// graph rewrites a GraphProto found at data[base:].
func (s *rawSplitter) graph(b []byte, base int) ([]byte, bool) {
	out := make([]byte, 0, len(b)/64+256)
	for i := 0; i < len(b); {
		num, typ, tagEnd, end, ok := field(b, i)
		if !ok {
			return nil, false
		}
		if num == fieldGraphInitializer && typ == protowire.BytesType {
			v := bytesValue(b, tagEnd)
			t, raw, ok := s.tensor(b[v:end], base+v)
			if !ok {
				return nil, false
			}
			s.raws = append(s.raws, raw)
			out = protowire.AppendTag(out, num, typ)
			out = protowire.AppendBytes(out, t)
		} else {
			out = append(out, b[i:end]...)
		}
		i = end
	}
	return out, true
}

// tensor rewrites a TensorProto found at data[base:] without raw_data. The
// result is in s.scratch, valid until the next call.
func (s *rawSplitter) tensor(b []byte, base int) ([]byte, rawField, bool) {
	out := s.scratch[:0]
	var raw rawField
	for i := 0; i < len(b); {
		num, typ, tagEnd, end, ok := field(b, i)
		if !ok {
			return nil, rawField{}, false
		}
		if num == fieldTensorRawData && typ == protowire.BytesType {
			v := bytesValue(b, tagEnd)
			raw = rawField{present: true, off: base + v, n: end - v, hdr: v - i}
		} else {
			out = append(out, b[i:end]...)
		}
		i = end
	}
	s.scratch = out
	return out, raw, true
}

// alignRaw returns the bytes of r, moved down inside data by up to 3 bytes
// when that makes them 4-byte aligned for floatsInPlace, or in place when
// they are aligned already or the move does not fit (the caller then
// copies). The move only overwrites r's own tag and length, which the
// stripped copy made by splitRawData no longer needs; so data must be the
// importer's own buffer, never a caller's, and r is moved at most once.
func alignRaw(data []byte, r rawField) []byte {
	raw := data[r.off : r.off+r.n]
	if r.n == 0 {
		return raw
	}
	mis := int(uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % 4)
	if mis == 0 || mis > r.hdr {
		return raw
	}
	dst := data[r.off-mis : r.off-mis+r.n]
	copy(dst, raw)
	return dst
}
