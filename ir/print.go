package ir

import (
	byteorder "encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unsafe"
)

// Print writes the canonical text form of m. The form is deterministic
// (attributes sorted, constants summarised by a CRC of their contents)
// and is what `-dump-after` and ir.txt show.
func Print(w io.Writer, m *Module) error {
	p := &printer{w: w}
	p.module(m)
	return p.err
}

// String returns the text form of m.
func (m *Module) String() string {
	var b strings.Builder
	_ = Print(&b, m)
	return b.String()
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *printer) module(m *Module) {
	p.printf("module %s", strconv.Quote(m.Name))
	if m.Producer != "" {
		p.printf(" producer %s", strconv.Quote(m.Producer))
	}
	doms := make([]string, 0, len(m.Opsets))
	for d := range m.Opsets {
		doms = append(doms, d)
	}
	sort.Strings(doms)
	for _, d := range doms {
		name := d
		if name == "" {
			name = "ai.onnx"
		}
		p.printf(" opset %s=%d", name, m.Opsets[d])
	}
	p.printf(" level %s\n", m.Level)
	g := m.Graph
	for _, v := range g.Inputs {
		p.printf("input %s: %s\n", ValueRef(v), v.Type)
	}
	for _, v := range g.Consts {
		p.printf("const %s: %s = %s\n", ValueRef(v), v.Type, TensorSummary(v.Const))
	}
	for _, n := range g.Nodes {
		p.node(n)
	}
	for _, v := range g.Outputs {
		p.printf("output %s: %s\n", ValueRef(v), v.Type)
	}
}

func (p *printer) node(n *Node) {
	outs := make([]string, len(n.Outputs))
	for i, o := range n.Outputs {
		outs[i] = ValueRef(o)
	}
	ins := make([]string, len(n.Inputs))
	for i, in := range n.Inputs {
		ins[i] = ValueRef(in)
	}
	p.printf("%s = %s(%s)", strings.Join(outs, ", "), n.Op, strings.Join(ins, ", "))
	if len(n.Attrs) > 0 {
		p.printf(" {%s}", FormatAttrs(n.Attrs))
	}
	types := make([]string, 0, len(n.Outputs))
	for _, o := range n.Outputs {
		if o != nil {
			types = append(types, o.Type.String())
		}
	}
	p.printf(" : %s @%s", strings.Join(types, ", "), strconv.Quote(n.Name))
	if n.Engine != "" || n.Precision != "" {
		p.printf(" [%s %s]", n.Engine, n.Precision)
	}
	p.printf("\n")
}

// ValueRef prints a value reference: %name, quoted when the name is not
// a plain identifier; "_" for an omitted optional input.
func ValueRef(v *Value) string {
	if v == nil {
		return "_"
	}
	if plainName(v.Name) {
		return "%" + v.Name
	}
	return "%" + strconv.Quote(v.Name)
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r == '/' || r == ':' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// FormatAttrs prints attributes sorted by name.
func FormatAttrs(a Attrs) string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + FormatAttr(a[k])
	}
	return strings.Join(parts, ", ")
}

// FormatAttr prints one attribute value.
func FormatAttr(a *Attr) string {
	switch a.Kind {
	case AttrInt:
		return strconv.FormatInt(a.Int, 10)
	case AttrFloat:
		return formatFloat(a.Float)
	case AttrString:
		return strconv.Quote(a.Str)
	case AttrInts:
		s := make([]string, len(a.Ints))
		for i, v := range a.Ints {
			s[i] = strconv.FormatInt(v, 10)
		}
		return "[" + strings.Join(s, ",") + "]"
	case AttrFloats:
		s := make([]string, len(a.Floats))
		for i, v := range a.Floats {
			s[i] = formatFloat(v)
		}
		return "[" + strings.Join(s, ",") + "]"
	case AttrStrings:
		s := make([]string, len(a.Strings))
		for i, v := range a.Strings {
			s[i] = strconv.Quote(v)
		}
		return "[" + strings.Join(s, ",") + "]"
	case AttrTensor:
		return "tensor<" + a.Tensor.Type().String() + " " + TensorSummary(a.Tensor) + ">"
	}
	return "?"
}

func formatFloat(f float32) string {
	if math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
		return fmt.Sprint(f)
	}
	return strconv.FormatFloat(float64(f), 'g', -1, 32)
}

// TensorSummary prints small tensors in full and large ones as a CRC-32
// of their elements, so dumps stay short yet change when data changes.
func TensorSummary(t *Tensor) string {
	if t == nil {
		return "<nil>"
	}
	n := t.Len()
	if n <= 8 {
		s := make([]string, 0, n)
		for i := 0; i < int(n); i++ {
			if t.DType.IsFloat() {
				s = append(s, formatFloat(t.F[i]))
			} else {
				s = append(s, strconv.FormatInt(t.Int(i), 10))
			}
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	// The checksum is over the little-endian bytes of the elements (4 per
	// float, 1 per int8 — most of a quantized module — and 8 per other
	// integer), fed in chunks: crc32 is slow on tiny writes.
	h := crc32.NewIEEE()
	buf := make([]byte, 0, 32<<10)
	flush := func() {
		h.Write(buf)
		buf = buf[:0]
	}
	switch {
	case t.DType.IsFloat():
		for _, v := range t.F {
			if len(buf)+4 > cap(buf) {
				flush()
			}
			buf = byteorder.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	case t.I8 != nil:
		h.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.I8))), len(t.I8)))
	case t.DType == Int8:
		for _, v := range t.I {
			if len(buf)+1 > cap(buf) {
				flush()
			}
			buf = append(buf, byte(v))
		}
	default:
		for _, v := range t.I {
			if len(buf)+8 > cap(buf) {
				flush()
			}
			buf = byteorder.LittleEndian.AppendUint64(buf, uint64(v))
		}
	}
	flush()
	return fmt.Sprintf("dense<%d elems crc32=%08x>", n, h.Sum32())
}
