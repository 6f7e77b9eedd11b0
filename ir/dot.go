package ir

import (
	"fmt"
	"io"

	"github.com/emicklei/dot"
)

// EngineColors fills DOT nodes by the engine partitioning assigned.
var EngineColors = map[string]string{
	"sram":  "#9ecae1", // INT4 / INT8 path, SRAM-PIM
	"edram": "#fdae6b", // ternary-binary path, eDRAM-PIM
	"dual":  "#c7e9c0", // a split layer: both pools
	"ppu":   "#e0e0e0", // digital post-processing unit
}

// WriteDOT draws the graph: one box per op labelled with its op type,
// node name and output shape; inputs and outputs as ellipses; constant
// inputs summarised on the consuming node (name and size) rather than
// drawn, so large nets stay readable. After partitioning nodes are
// coloured by engine and carry their precision.
func WriteDOT(w io.Writer, m *Module) error {
	g := dot.NewGraph(dot.Directed)
	g.Attr("rankdir", "TB")
	g.Attr("label", m.Name)
	g.Attr("fontname", "Helvetica")
	nodeOf := map[*Value]dot.Node{}
	for i, v := range m.Graph.Inputs {
		d := g.Node(fmt.Sprintf("in%d", i)).Label(fmt.Sprintf("%s\n%s", v.Name, v.Type)).Attr("shape", "ellipse")
		nodeOf[v] = d
	}
	for i, n := range m.Graph.Nodes {
		label := fmt.Sprintf("%s\n%s", n.Op, n.Name)
		for _, o := range n.Outputs {
			if o != nil {
				label += "\n" + ShapeString(o.Type.Shape)
			}
		}
		var consts []string
		for _, in := range n.Inputs {
			if in.IsConst() {
				consts = append(consts, fmt.Sprintf("%s %s (%s)", in.Name, ShapeString(in.Type.Shape), byteSize(in.Type)))
			}
		}
		for _, c := range consts {
			label += "\n" + c
		}
		if n.Precision != "" {
			label += "\n[" + n.Engine + " " + n.Precision + "]"
		}
		d := g.Node(fmt.Sprintf("n%d", i)).Label(label).Box()
		if c, ok := EngineColors[n.Engine]; ok {
			d.Attr("style", "filled").Attr("fillcolor", c)
		}
		for _, in := range n.Inputs {
			if src, ok := nodeOf[in]; ok {
				g.Edge(src, d)
			}
		}
		for _, o := range n.Outputs {
			if o != nil {
				nodeOf[o] = d
			}
		}
	}
	for i, v := range m.Graph.Outputs {
		d := g.Node(fmt.Sprintf("out%d", i)).Label(fmt.Sprintf("%s\n%s", v.Name, v.Type)).Attr("shape", "ellipse")
		if src, ok := nodeOf[v]; ok {
			g.Edge(src, d)
		}
	}
	_, err := io.WriteString(w, g.String())
	return err
}

func byteSize(t Type) string {
	bits := int64(32)
	switch t.DType {
	case Uint8, Int8, Bool:
		bits = 8
	case Int16, Uint16, Float16:
		bits = 16
	case Int64, Uint64, Float64:
		bits = 64
	}
	b := t.Len() * bits / 8
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
