package frontend

import (
	"errors"
	"fmt"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

type attrType = onnxpb.AttributeProto_AttributeType

// decodeAttrs converts a node's attributes. Tensor attributes are decoded
// like initializers (float16/float64 narrowed to float32).
func decodeAttrs(list []*onnxpb.AttributeProto, o decodeOptions) (ir.Attrs, error) {
	attrs := ir.Attrs{}
	for _, a := range list {
		name := a.GetName()
		if name == "" {
			return nil, errors.New("attribute without a name")
		}
		if _, dup := attrs[name]; dup {
			return nil, fmt.Errorf("attribute %q given twice", name)
		}
		v, err := decodeAttr(a, o)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		attrs[name] = v
	}
	return attrs, nil
}

func decodeAttr(a *onnxpb.AttributeProto, o decodeOptions) (*ir.Attr, error) {
	if a.GetRefAttrName() != "" {
		return nil, fmt.Errorf("refers to function attribute %q; functions are not supported", a.GetRefAttrName())
	}
	kind := a.GetType()
	if kind == onnxpb.AttributeProto_UNDEFINED {
		// IR version 1 files have no type discriminator: use the field
		// that is set.
		kind = guessAttrType(a)
	}
	switch kind {
	case onnxpb.AttributeProto_FLOAT:
		return &ir.Attr{Kind: ir.AttrFloat, Float: a.GetF()}, nil
	case onnxpb.AttributeProto_INT:
		return &ir.Attr{Kind: ir.AttrInt, Int: a.GetI()}, nil
	case onnxpb.AttributeProto_STRING:
		return &ir.Attr{Kind: ir.AttrString, Str: string(a.GetS())}, nil
	case onnxpb.AttributeProto_FLOATS:
		return &ir.Attr{Kind: ir.AttrFloats, Floats: append([]float32{}, a.GetFloats()...)}, nil
	case onnxpb.AttributeProto_INTS:
		return &ir.Attr{Kind: ir.AttrInts, Ints: append([]int64{}, a.GetInts()...)}, nil
	case onnxpb.AttributeProto_STRINGS:
		s := make([]string, len(a.GetStrings()))
		for i, b := range a.GetStrings() {
			s[i] = string(b)
		}
		return &ir.Attr{Kind: ir.AttrStrings, Strings: s}, nil
	case onnxpb.AttributeProto_TENSOR:
		t, err := decodeTensor(a.GetT(), o)
		if err != nil {
			return nil, err
		}
		return &ir.Attr{Kind: ir.AttrTensor, Tensor: t}, nil
	case onnxpb.AttributeProto_UNDEFINED:
		return nil, errors.New("has no value")
	}
	return nil, fmt.Errorf("has kind %s, which pimc does not support", attrKindName(kind))
}

func attrKindName(k attrType) string {
	if s, ok := onnxpb.AttributeProto_AttributeType_name[int32(k)]; ok {
		return s
	}
	return fmt.Sprintf("%d", int32(k))
}

func guessAttrType(a *onnxpb.AttributeProto) attrType {
	switch {
	case a.F != nil:
		return onnxpb.AttributeProto_FLOAT
	case a.I != nil:
		return onnxpb.AttributeProto_INT
	case a.S != nil:
		return onnxpb.AttributeProto_STRING
	case a.T != nil:
		return onnxpb.AttributeProto_TENSOR
	case a.G != nil:
		return onnxpb.AttributeProto_GRAPH
	case len(a.Floats) > 0:
		return onnxpb.AttributeProto_FLOATS
	case len(a.Ints) > 0:
		return onnxpb.AttributeProto_INTS
	case len(a.Strings) > 0:
		return onnxpb.AttributeProto_STRINGS
	case len(a.Tensors) > 0:
		return onnxpb.AttributeProto_TENSORS
	case len(a.Graphs) > 0:
		return onnxpb.AttributeProto_GRAPHS
	}
	return onnxpb.AttributeProto_UNDEFINED
}
