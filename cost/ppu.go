package cost

import (
	"fmt"

	"pimc/ir"
)

// isView reports ops that only reinterpret a tensor's shape: the PPU does
// no work and copies nothing, and the output shares its input's storage.
func isView(op ir.Op) bool {
	switch op {
	case ir.OpReshape, ir.OpFlatten, ir.OpSqueeze, ir.OpUnsqueeze, ir.OpIdentity, ir.OpDropout:
		return true
	}
	return false
}

// ppuOps is the PPU's element operations for a node that runs on it alone
// (docs/cost.md has the table): one per output element unless the op
// combines several inputs per output.
func ppuOps(n *ir.Node, elems int64) int64 {
	switch n.Op {
	case ir.OpQAdd:
		// Two rescaling multiply-adds per element (the shift, rounding and
		// clamp go with them).
		return 2 * elems
	case ir.OpQMaxPool:
		// k−1 comparisons per output (a 1-element window still copies).
		return max(1, ir.NumElems(n.IntList("kernel_shape", nil))-1) * elems
	case ir.OpQAvgPool:
		// k−1 additions and one requantization per output.
		return ir.NumElems(n.IntList("kernel_shape", nil)) * elems
	case ir.OpQGlobalAvgPool:
		// H·W−1 additions and one requantization per output: H·W per
		// output, i.e. one per input element.
		return n.In(0).Type.Len()
	case ir.OpSoftmax, ir.OpLogSoftmax:
		// exp, sum, divide (or subtract the log).
		return 3 * elems
	case ir.OpLRN:
		// The fop instruction: size multiply-adds of the squares' sum
		// (the nominal window, also at the edges), the power and the
		// division per element (isa.FopElemOps).
		return (n.Int("size", 0) + 2) * elems
	}
	// QuantizeInput, Dequantize, QRescale, QRelu: one arithmetic step;
	// QConcat, Transpose and other movements: one copy; any other op
	// (float ops the quantizer left, e.g. the elementwise activations of
	// the fop instruction): one op per output element.
	return elems
}

// ppuNode costs a node that runs on the PPU alone.
func (e *evaluator) ppuNode(n *ir.Node) PPUReport {
	p := PPUReport{Name: n.Name, Op: n.Op.String(), Precision: n.Precision}
	for _, o := range n.Outputs {
		if o != nil {
			p.Elements += o.Type.Len()
		}
	}
	if o := n.Out(0); p.Precision == "" && o != nil {
		p.Precision = formatName(o, e.width[o])
	}
	c := &p.Counts
	if !isView(n.Op) {
		c.PPUOps = ppuOps(n, p.Elements)
		for _, in := range n.Inputs {
			// Constants (shape operands, tables) are not activations.
			if in == nil || in.IsConst() {
				continue
			}
			c.BufferReadBits += in.Type.Len() * e.width[in]
		}
		for _, o := range n.Outputs {
			if o != nil {
				c.BufferWriteBits += o.Type.Len() * e.width[o]
			}
		}
	}
	e.streamIn(n, c)
	for _, o := range n.Outputs {
		e.streamOut(o, c)
	}
	p.Clk = ceilDiv(c.PPUOps, int64(e.h.PPU.OpsPerCycle))
	p.Energy = e.charge(*c, nil)
	return p
}

func formatName(v *ir.Value, bits int64) string {
	if v.Type.DType.IsFloat() {
		return fmt.Sprintf("fp%d", bits)
	}
	return fmt.Sprintf("int%d", bits)
}

// activations measures activation memory: every value a non-view node
// produces, and every graph input (the DMA writes it into the buffer), is
// stored once at its width; a view shares its input's storage. total sums
// them all; peak is the most bits live at once when the nodes run in graph
// order, a value living from its producer (graph inputs: from the start)
// to its last reader (graph outputs: to the end), and at names the node
// where the peak is reached.
func (e *evaluator) activations() (total, peak int64, at string) {
	g := e.m.Graph
	root := map[*ir.Value]*ir.Value{}
	rootOf := func(v *ir.Value) *ir.Value {
		if r, ok := root[v]; ok {
			return r
		}
		return v
	}
	last := map[*ir.Value]int{}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil && !in.IsConst() {
				last[rootOf(in)] = i
			}
		}
		if isView(n.Op) && n.In(0) != nil && !n.In(0).IsConst() {
			for _, o := range n.Outputs {
				if o != nil {
					root[o] = rootOf(n.In(0))
				}
			}
		}
	}
	for _, o := range g.Outputs {
		last[rootOf(o)] = len(g.Nodes)
	}
	bits := func(v *ir.Value) int64 { return v.Type.Len() * e.width[v] }
	freed := make([]int64, len(g.Nodes)+1)
	store := func(v *ir.Value, i int) {
		total += bits(v)
		l, ok := last[v]
		if !ok {
			l = i // never read: written, then dead
		}
		freed[max(l, 0)] += bits(v)
	}
	var live int64
	for _, v := range g.Inputs {
		if _, read := last[v]; read {
			store(v, -1)
			live += bits(v)
		}
	}
	for i, n := range g.Nodes {
		if !isView(n.Op) {
			for _, o := range n.Outputs {
				if o != nil {
					store(o, i)
					live += bits(o)
				}
			}
		}
		if live > peak {
			peak, at = live, n.Name
		}
		live -= freed[i]
	}
	return total, peak, at
}
