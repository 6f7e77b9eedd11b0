package ir

import "fmt"

// AttrKind is the kind of an attribute value.
type AttrKind uint8

// Attribute kinds (the subset of ONNX's that CNN operators use).
const (
	AttrNone AttrKind = iota
	AttrInt
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
	AttrStrings
	AttrTensor
)

var attrKindNames = []string{"none", "int", "float", "string", "ints", "floats", "strings", "tensor"}

func (k AttrKind) String() string {
	if int(k) < len(attrKindNames) {
		return attrKindNames[k]
	}
	return fmt.Sprintf("attrkind(%d)", int(k))
}

// Attr is one attribute value; Kind says which field is meaningful.
type Attr struct {
	Kind    AttrKind
	Int     int64
	Float   float32
	Str     string
	Ints    []int64
	Floats  []float32
	Strings []string
	Tensor  *Tensor
}

// Attrs maps attribute names to values.
type Attrs map[string]*Attr

// Has reports whether the attribute is set.
func (n *Node) Has(name string) bool { _, ok := n.Attrs[name]; return ok }

// Int returns an int attribute or def.
func (n *Node) Int(name string, def int64) int64 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrInt {
		return a.Int
	}
	return def
}

// Float returns a float attribute or def.
func (n *Node) Float(name string, def float32) float32 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrFloat {
		return a.Float
	}
	return def
}

// Str returns a string attribute or def.
func (n *Node) Str(name, def string) string {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrString {
		return a.Str
	}
	return def
}

// IntList returns an ints attribute or def.
func (n *Node) IntList(name string, def []int64) []int64 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrInts {
		return a.Ints
	}
	return def
}

// FloatList returns a floats attribute or def.
func (n *Node) FloatList(name string, def []float32) []float32 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrFloats {
		return a.Floats
	}
	return def
}

// SetInt sets an int attribute.
func (n *Node) SetInt(name string, v int64) { n.set(name, &Attr{Kind: AttrInt, Int: v}) }

// SetFloat sets a float attribute.
func (n *Node) SetFloat(name string, v float32) { n.set(name, &Attr{Kind: AttrFloat, Float: v}) }

// SetStr sets a string attribute.
func (n *Node) SetStr(name, v string) { n.set(name, &Attr{Kind: AttrString, Str: v}) }

// SetInts sets an ints attribute.
func (n *Node) SetInts(name string, v []int64) { n.set(name, &Attr{Kind: AttrInts, Ints: v}) }

func (n *Node) set(name string, a *Attr) {
	if n.Attrs == nil {
		n.Attrs = Attrs{}
	}
	n.Attrs[name] = a
}
