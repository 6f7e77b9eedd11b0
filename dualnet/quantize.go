package dualnet

import (
	"fmt"
	"math"
	"slices"

	"pimc/internal/par"
	"pimc/ir"
)

// QuantOptions controls the quantize pass.
type QuantOptions struct {
	// NoFit disables the least-squares fit of the TB path's per-channel
	// scale α·β on calibration data (the TWN α times the threshold fit's β
	// is used instead).
	NoFit bool
	// NoBiasCorrection disables the correction of each channel's bias by
	// the mean quantization error measured on calibration data.
	NoBiasCorrection bool
}

type nodeKind uint8

const (
	kFloat nodeKind = iota
	kLayer
	kAdd
	kMaxPool
	kAvgPool
	kGAP
	kRelu
	kMove
	kConcat
)

func classify(n *ir.Node) nodeKind {
	floatIn := func(i int) bool { v := n.In(i); return v != nil && !v.IsConst() && v.Type.DType.IsFloat() }
	switch n.Op {
	case ir.OpConv, ir.OpGemm:
		if isLayer(n) && floatIn(0) {
			return kLayer
		}
	case ir.OpAdd:
		if floatIn(0) && floatIn(1) && slices.Equal(n.In(0).Type.Shape, n.In(1).Type.Shape) {
			return kAdd
		}
	case ir.OpMaxPool:
		if floatIn(0) && (n.Out(1) == nil) && n.Out(0).Type.Rank() == 4 && n.Int("storage_order", 0) == 0 {
			return kMaxPool
		}
	case ir.OpAveragePool:
		if floatIn(0) && n.Out(0).Type.Rank() == 4 {
			return kAvgPool
		}
	case ir.OpGlobalAvgPool:
		if floatIn(0) && n.Out(0).Type.Rank() == 4 {
			return kGAP
		}
	case ir.OpRelu:
		if floatIn(0) {
			return kRelu
		}
	case ir.OpReshape, ir.OpFlatten, ir.OpSqueeze, ir.OpUnsqueeze, ir.OpTranspose:
		if floatIn(0) {
			for i := 1; i < len(n.Inputs); i++ {
				if n.In(i) != nil && !n.In(i).IsConst() {
					return kFloat
				}
			}
			return kMove
		}
	case ir.OpConcat:
		for i := range n.Inputs {
			if !floatIn(i) {
				return kFloat
			}
		}
		return kConcat
	}
	return kFloat
}

// qparams is the code format of one group of activations.
type qparams struct {
	scale  float32
	bits   int
	signed bool
	hist   *Hist
}

func (q qparams) lo() int64 { l, _ := codeRange(q.bits, q.signed); return l }
func (q qparams) hi() int64 { _, h := codeRange(q.bits, q.signed); return h }

// maxCode is the largest code magnitude.
func (q qparams) maxCode() float64 { return math.Max(float64(-q.lo()), float64(q.hi())) }

type lowering struct {
	m     *ir.Module
	cal   *Calibration
	plan  SplitPlan
	o     QuantOptions
	users map[*ir.Value][]*ir.Node
	kind  map[*ir.Node]nodeKind
	skip  map[*ir.Node]bool
	index map[*ir.Node]int
	res   map[*ir.Node]*ir.Value // fused residual operand per layer
	mat   map[*ir.Node]*ir.Value // materialized output per producer
	relu  map[*ir.Node]bool
	// groups
	parent map[*ir.Value]*ir.Value
	qgroup map[*ir.Value]bool     // root → quantized
	params map[*ir.Value]*qparams // root → code format
	// emission
	nodes    []*ir.Node
	consts   []*ir.Value
	code     map[*ir.Value]*ir.Value
	isFlt    map[*ir.Value]bool // values computed in float in the new graph
	code4    map[*ir.Value]*ir.Value
	flt      map[*ir.Value]*ir.Value
	used     map[string]bool
	usedNode map[string]bool
	layers   map[*ir.Node]*layerPlan
	reports  []LayerReport
}

// Quantize is the quantize pass: it lowers the float graph, using the
// calibration and dual-split's plan (both recorded on the module by the
// calibrate and dual-split passes, or passed here), to the pimc-domain
// integer ops defined in ir/op_pimc.go. docs/quantization.md is the
// specification of every rule applied here.
func Quantize(m *ir.Module, c *Calibration, o QuantOptions) error {
	if err := prepare(m); err != nil {
		return err
	}
	if c == nil {
		c, _ = m.Meta[metaCalib].(*Calibration)
		if c == nil {
			return errorf("no calibration: run the calibrate pass first")
		}
	}
	plan, _ := m.Meta[metaSplit].(SplitPlan)
	if plan == nil {
		return errorf("no split plan: run the dual-split pass first")
	}
	l := &lowering{m: m, cal: c, plan: plan, o: o}
	if err := l.analyse(); err != nil {
		return err
	}
	if err := l.planLayers(); err != nil {
		return err
	}
	if err := l.fit(); err != nil {
		return err
	}
	if err := l.emit(); err != nil {
		return err
	}
	if err := l.seqCorrect(); err != nil {
		return err
	}
	m.Level = ir.LevelQuantized
	m.Meta[metaReport] = l.reports
	return nil
}

const (
	metaCalib  = "dualnet.calibration"
	metaReport = "dualnet.report"
)

func (l *lowering) find(v *ir.Value) *ir.Value {
	for {
		p, ok := l.parent[v]
		if !ok || p == v {
			return v
		}
		v = p
	}
}

func (l *lowering) union(a, b *ir.Value) {
	ra, rb := l.find(a), l.find(b)
	if ra == rb {
		return
	}
	// Deterministic: the earlier-defined root wins.
	if l.order(rb) < l.order(ra) {
		ra, rb = rb, ra
	}
	l.parent[rb] = ra
}

func (l *lowering) order(v *ir.Value) int {
	if v.Def == nil {
		return -1
	}
	return l.index[v.Def]
}

func (l *lowering) analyse() error {
	g := l.m.Graph
	l.users = g.Users()
	l.kind, l.skip, l.index = map[*ir.Node]nodeKind{}, map[*ir.Node]bool{}, map[*ir.Node]int{}
	l.res, l.mat, l.relu = map[*ir.Node]*ir.Value{}, map[*ir.Node]*ir.Value{}, map[*ir.Node]bool{}
	for i, n := range g.Nodes {
		l.index[n] = i
		l.kind[n] = classify(n)
	}
	single := func(v *ir.Value) *ir.Node {
		if us := l.users[v]; len(us) == 1 && !g.IsOutput(v) {
			return us[0]
		}
		return nil
	}
	for _, n := range g.Nodes {
		switch l.kind[n] {
		case kLayer, kAdd, kAvgPool, kGAP:
			l.mat[n] = n.Out(0)
		}
	}
	// Residual fusion: Add(layer output, r) → the layer adds r before
	// requantizing. The later-defined layer operand is fused, so r is
	// always computed before it.
	for _, n := range g.Nodes {
		if l.kind[n] != kAdd {
			continue
		}
		best := -1
		for i := 0; i < 2; i++ {
			p := n.In(i).Def
			if p == nil || l.kind[p] != kLayer || single(n.In(i)) != n || l.res[p] != nil {
				continue
			}
			if best < 0 || l.index[p] > l.index[n.In(best).Def] {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		p := n.In(best).Def
		l.res[p] = n.In(1 - best)
		l.mat[p] = n.Out(0)
		l.skip[n] = true
		delete(l.mat, n)
	}
	// ReLU folding into the producer's requantization.
	for _, n := range g.Nodes {
		out, ok := l.mat[n]
		if !ok {
			continue
		}
		if u := single(out); u != nil && u.Op == ir.OpRelu && l.kind[u] == kRelu {
			l.mat[n] = u.Out(0)
			l.relu[n] = true
			l.skip[u] = true
		}
	}
	// Groups of values sharing one code format.
	l.parent = map[*ir.Value]*ir.Value{}
	for _, n := range g.Nodes {
		if l.skip[n] {
			continue
		}
		switch l.kind[n] {
		case kRelu, kMove, kMaxPool:
			l.union(n.In(0), n.Out(0))
		case kConcat:
			for _, in := range n.Inputs {
				l.union(in, n.Out(0))
			}
		}
	}
	l.qgroup = map[*ir.Value]bool{}
	for _, n := range g.Nodes {
		if l.skip[n] {
			continue
		}
		switch l.kind[n] {
		case kLayer, kAvgPool, kGAP:
			l.qgroup[l.find(n.In(0))] = true
			l.qgroup[l.find(l.mat[n])] = true
			if r := l.res[n]; r != nil {
				l.qgroup[l.find(r)] = true
			}
		case kAdd:
			l.qgroup[l.find(n.In(0))] = true
			l.qgroup[l.find(n.In(1))] = true
			l.qgroup[l.find(l.mat[n])] = true
		}
	}
	// Code formats.
	members := map[*ir.Value][]*ir.Value{}
	var roots []*ir.Value
	addMember := func(v *ir.Value) {
		r := l.find(v)
		if !l.qgroup[r] {
			return
		}
		if _, ok := members[r]; !ok {
			roots = append(roots, r)
		}
		for _, x := range members[r] {
			if x == v {
				return
			}
		}
		members[r] = append(members[r], v)
	}
	for _, v := range g.Inputs {
		addMember(v)
	}
	for _, n := range g.Nodes {
		if l.skip[n] {
			continue
		}
		for _, in := range n.Inputs {
			if in != nil && !in.IsConst() && in.Type.DType.IsFloat() {
				addMember(in)
			}
		}
		if v, ok := l.mat[n]; ok {
			addMember(v)
		} else if l.kind[n] != kFloat {
			addMember(n.Out(0))
		}
	}
	for _, o := range g.Outputs {
		addMember(o)
	}
	qat, _ := l.m.Meta[metaQAT].(map[string]QATScale)
	l.params = map[*ir.Value]*qparams{}
	var search []*qparams // scales left to the calibration's search
	for _, r := range roots {
		h := NewHist()
		int8c, quantc := false, false
		var forced *QATScale
		for _, v := range members[r] {
			hv, ok := l.cal.Hists[v.Name]
			if !ok {
				return errorf("no calibration statistics for activation %q (calibrate before quantize, on the same graph)", v.Name)
			}
			h.Merge(hv)
			if q, ok := qat[v.Name]; ok && forced == nil {
				forced = &q
			}
			for _, u := range l.users[v] {
				if l.skip[u] {
					// A fused Add/ReLU: its reader is the fused layer.
					if l.kind[u] == kAdd {
						quantc = true
					}
					continue
				}
				switch l.kind[u] {
				case kLayer:
					quantc = true
					if u.In(0) == v && l.plan[u.Name] != nil && l.plan[u.Name].Precision == "int8" {
						int8c = true
					}
				case kAdd, kAvgPool, kGAP:
					quantc = true
				}
			}
			for _, u := range g.Nodes {
				if l.res[u] == v {
					quantc = true
				}
			}
		}
		p := &qparams{bits: 4, hist: h, signed: h.Signed()}
		switch {
		case int8c:
			p.bits = 8
		case !quantc:
			p.bits = 16
			p.signed = true
		}
		if forced != nil {
			_, hi := codeRange(p.bits, p.signed)
			p.scale = float32(float64(forced.Scale) * float64(max(forced.Hi, -forced.Lo)) / float64(hi))
			if forced.Lo < 0 {
				p.signed = true
			}
		} else {
			search = append(search, p)
		}
		l.params[r] = p
	}
	// The scale searches are independent (each one group's histogram) and
	// a few ms each on a large net: run them on every core.
	par.For(len(search), func(i int) {
		p := search[i]
		p.scale = l.cal.Scale(p.hist, p.bits, p.signed)
	})
	for _, r := range roots {
		if p := l.params[r]; !(p.scale > 0) || math.IsInf(float64(p.scale), 0) {
			p.scale = 1
		}
	}
	return nil
}

func (l *lowering) qp(v *ir.Value) *qparams { return l.params[l.find(v)] }

// layerPlan is everything the quantizer decides for one conv/FC layer.
type layerPlan struct {
	n       *ir.Node
	split   *LayerSplit
	conv    bool
	c, k    int
	w       []float32 // [c][k]
	bias    []float64
	in      qparams // the input codes the layer reads (after any rescale)
	rescale bool    // input needs a QRescale to 4 bits
	out     *qparams
	res     *qparams
	w8      [][]int8 // int8 layers: codes per channel
	w4      [][]int8 // INT4 channels (split.INT4 order)
	wt      [][]int8 // ternary channels (split.TB order)
	// The memo's [c][k] arrays when w8, w4 or wt is every channel in
	// order: the weight tensor then shares them instead of a copy.
	w8All, w4All, wtAll []int8
	accScale            []float64
	tau                 int
	beta                float64
	alpha               []float64
	// Sequential bias correction: the float pre-activation's mean per
	// channel over the fit samples, and the emitted node and bounds.
	floatSum []float64
	floatSq  []float64
	floatN   float64
	emitted  *ir.Node
	accMax   []float64
	resMax   float64
}

type lsStat struct{ n, sz, sy, szz, szy float64 }

func (l *lowering) planLayers() error {
	l.layers = map[*ir.Node]*layerPlan{}
	for _, n := range l.m.Graph.Nodes {
		if l.kind[n] != kLayer || l.skip[n] {
			continue
		}
		sp := l.plan[n.Name]
		if sp == nil {
			return errorf("%s has no split decision: run dual-split after the last graph rewrite", n.Where())
		}
		p := &layerPlan{n: n, split: sp, conv: n.Op == ir.OpConv}
		var w *ir.Tensor
		var bias []float32
		if p.conv {
			var err error
			if w, bias, err = convWeights(n); err != nil {
				return err
			}
		} else {
			gw, err := gemmWeights(n)
			if err != nil {
				return err
			}
			w, bias = gw.Tensor, gw.bias
		}
		p.c = int(w.Shape[0])
		p.k = int(w.Len()) / p.c
		p.w = w.F
		p.bias = make([]float64, p.c)
		for i, b := range bias {
			p.bias[i] = float64(b)
		}
		in := *l.qp(n.In(0))
		if sp.Precision != "int8" && in.bits > 4 {
			p.rescale = true
			in.bits = 4
			in.scale = l.cal.Scale(in.hist, 4, in.signed)
		}
		p.in = in
		p.out = l.qp(l.mat[n])
		if r := l.res[n]; r != nil {
			p.res = l.qp(r)
		}
		p.accScale = make([]float64, p.c)
		if sp.Precision == "int8" {
			all := make([]int, p.c)
			for ch := range all {
				all[ch] = ch
			}
			codes, scales, whole := quantizeChannels(l.cal, p.w, p.k, all, 127)
			p.w8, p.w8All = codes, whole
			for ch, s := range scales {
				p.accScale[ch] = float64(in.scale) * float64(s)
			}
		} else {
			codes, scales, whole := quantizeChannels(l.cal, p.w, p.k, sp.INT4, 7)
			p.w4All = whole
			for i, ch := range sp.INT4 {
				p.w4 = append(p.w4, codes[i])
				p.accScale[ch] = float64(in.scale) * float64(scales[i])
			}
			_, qmax := codeRange(in.bits, in.signed)
			p.tau, p.beta = in.hist.ThresholdFit(float64(in.scale), int(qmax))
			p.alpha = make([]float64, p.c)
			var tw *teEntry
			if len(sp.TB) > 0 {
				tw = ternary(l.cal, p.w, p.k, p.c)
			}
			if len(sp.TB) == p.c && slices.IsSorted(sp.TB) {
				p.wtAll = tw.all // TB is then 0..c−1
			}
			for _, ch := range sp.TB {
				t, a := tw.t[ch], tw.alpha[ch]
				p.wt = append(p.wt, t)
				p.alpha[ch] = float64(a)
				p.accScale[ch] = float64(a) * p.beta
			}
		}
		l.layers[n] = p
	}
	return nil
}

// channelCodes returns, for each output channel, its path ('8', '4' or
// 't') and weight codes.
func (p *layerPlan) channelCodes() ([]byte, [][]int8) {
	kind := make([]byte, p.c)
	codes := make([][]int8, p.c)
	if p.w8 != nil {
		for ch := range kind {
			kind[ch], codes[ch] = '8', p.w8[ch]
		}
		return kind, codes
	}
	for i, ch := range p.split.INT4 {
		kind[ch], codes[ch] = '4', p.w4[i]
	}
	for i, ch := range p.split.TB {
		kind[ch], codes[ch] = 't', p.wt[i]
	}
	return kind, codes
}

func (l *lowering) emit() error {
	g := l.m.Graph
	l.code, l.code4, l.flt = map[*ir.Value]*ir.Value{}, map[*ir.Value]*ir.Value{}, map[*ir.Value]*ir.Value{}
	l.used = map[string]bool{}
	l.isFlt = map[*ir.Value]bool{}
	for _, v := range g.Inputs {
		l.used[v.Name] = true
		l.isFlt[v] = true
	}
	for _, v := range g.Consts {
		l.used[v.Name] = true
	}
	l.usedNode = map[string]bool{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				l.used[o.Name] = true
			}
		}
	}
	for _, n := range g.Nodes {
		if l.skip[n] {
			continue
		}
		quant := l.kind[n] != kFloat && l.qgroup[l.find(n.In(0))]
		if l.kind[n] == kLayer || l.kind[n] == kAdd || l.kind[n] == kAvgPool || l.kind[n] == kGAP {
			quant = true
		}
		if !quant {
			l.emitFloat(n)
			continue
		}
		if err := l.emitQuant(n); err != nil {
			return err
		}
	}
	outs := make([]*ir.Value, len(g.Outputs))
	for i, o := range g.Outputs {
		outs[i] = l.float(o)
	}
	ng := &ir.Graph{Inputs: g.Inputs, Outputs: outs, Nodes: l.nodes}
	ng.Consts = append(append([]*ir.Value{}, g.Consts...), l.consts...)
	l.m.Graph = ng
	ng.RemoveDead()
	return ir.InferTypes(l.m)
}

func (l *lowering) fresh(base string) string {
	if !l.used[base] {
		l.used[base] = true
		return base
	}
	for i := 1; ; i++ {
		s := fmt.Sprintf("%s_%d", base, i)
		if !l.used[s] {
			l.used[s] = true
			return s
		}
	}
}

func (l *lowering) addConst(base string, t *ir.Tensor) *ir.Value {
	v := &ir.Value{Name: l.fresh(base), Type: t.Type(), Const: t}
	l.consts = append(l.consts, v)
	return v
}

func (l *lowering) nodeName(base string) string {
	name := base
	for i := 1; l.usedNode[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	l.usedNode[name] = true
	return name
}

func (l *lowering) node(op ir.Op, name string, ins []*ir.Value, outName string) *ir.Node {
	n := &ir.Node{Name: l.nodeName(name), Op: op, Inputs: ins, Attrs: ir.Attrs{}}
	o := &ir.Value{Name: outName, Def: n}
	n.Outputs = []*ir.Value{o}
	l.nodes = append(l.nodes, n)
	return n
}

// codeName names the code value standing for original value v.
func (l *lowering) codeName(v *ir.Value) string {
	if l.m.Graph.IsOutput(v) || v.Def == nil || l.isFlt[v] {
		return l.fresh(v.Name + "_q")
	}
	// v itself disappears from the new graph: its code takes its name.
	return v.Name
}

func setOutAttrs(n *ir.Node, q *qparams, relu bool) {
	n.SetInt("out_bits", int64(q.bits))
	n.SetInt("out_signed", b2i(q.signed))
	n.SetFloat("scale", q.scale)
	if relu {
		n.SetInt("relu", 1)
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// codeOf returns the code value of original activation v, emitting a
// QuantizeInput when v enters the quantized domain here.
func (l *lowering) codeOf(v *ir.Value) (*ir.Value, error) {
	if c, ok := l.code[v]; ok {
		return c, nil
	}
	q := l.qp(v)
	if q == nil {
		return nil, errorf("BUG: activation %q has no code format", v.Name)
	}
	n := l.node(ir.OpQuantizeInput, "quantize_"+v.Name, []*ir.Value{l.float(v)}, l.codeName(v))
	n.SetFloat("scale", q.scale)
	n.SetInt("bits", int64(q.bits))
	n.SetInt("signed", b2i(q.signed))
	l.code[v] = n.Out(0)
	return n.Out(0), nil
}

// float returns the float value of original activation v, emitting a
// Dequantize when v lives in the quantized domain.
func (l *lowering) float(v *ir.Value) *ir.Value {
	if f, ok := l.flt[v]; ok {
		return f
	}
	if !l.qgroup[l.find(v)] || v.IsConst() || !v.Type.DType.IsFloat() || l.isFlt[v] {
		return v
	}
	c := l.code[v]
	if c == nil {
		// A float producer in a quantized group (e.g. a graph input read
		// only by float ops): the value itself is float.
		return v
	}
	name := v.Name + "_dq"
	if l.m.Graph.IsOutput(v) {
		name = v.Name
		l.used[name] = true
	} else {
		name = l.fresh(name)
	}
	n := l.node(ir.OpDequantize, "dequantize_"+v.Name, []*ir.Value{c}, name)
	n.SetFloat("scale", l.qp(v).scale)
	l.flt[v] = n.Out(0)
	return n.Out(0)
}

func (l *lowering) emitFloat(n *ir.Node) {
	c := *n
	c.Name = l.nodeName(n.Name)
	c.Inputs = make([]*ir.Value, len(n.Inputs))
	for i, in := range n.Inputs {
		if in != nil {
			c.Inputs[i] = l.float(in)
		}
	}
	for _, o := range c.Outputs {
		if o != nil {
			o.Def = &c
			l.isFlt[o] = true
		}
	}
	l.nodes = append(l.nodes, &c)
}

func (l *lowering) emitQuant(n *ir.Node) error {
	out := n.Out(0)
	if v, ok := l.mat[n]; ok {
		out = v
	}
	q := l.qp(out)
	switch l.kind[n] {
	case kLayer:
		return l.emitLayer(n)
	case kAdd:
		a, err := l.codeOf(n.In(0))
		if err != nil {
			return err
		}
		b, err := l.codeOf(n.In(1))
		if err != nil {
			return err
		}
		qa, qb := l.qp(n.In(0)), l.qp(n.In(1))
		rq := FixedPoint(float64(qa.scale)/float64(q.scale), float64(qb.scale)/float64(q.scale), 0, qa.maxCode(), qb.maxCode())
		nn := l.node(ir.OpQAdd, n.Name, []*ir.Value{a, b}, l.codeName(out))
		nn.SetInt("mult_a", rq.M)
		nn.SetInt("mult_b", rq.R)
		nn.SetInt("shift", rq.S)
		setOutAttrs(nn, q, l.relu[n])
		l.code[out] = nn.Out(0)
	case kMaxPool, kAvgPool:
		x, err := l.codeOf(n.In(0))
		if err != nil {
			return err
		}
		xs := n.In(0).Type.Shape
		k := n.IntList("kernel_shape", nil)
		geo, err := ir.ResolveConv(n, xs[2:], k, n.Int("ceil_mode", 0) != 0)
		if err != nil {
			return n.Errorf("%v", err)
		}
		op := ir.OpQMaxPool
		if l.kind[n] == kAvgPool {
			op = ir.OpQAvgPool
		}
		nn := l.node(op, n.Name, []*ir.Value{x}, l.codeName(out))
		nn.SetInts("kernel_shape", k)
		nn.SetInts("pads", geo.Pads)
		nn.SetInts("strides", geo.Strides)
		if n.Int("ceil_mode", 0) != 0 {
			nn.SetInt("ceil_mode", 1)
		}
		if l.kind[n] == kMaxPool {
			nn.SetInts("dilations", geo.Dilations)
		} else {
			if n.Int("count_include_pad", 0) != 0 {
				nn.SetInt("count_include_pad", 1)
			}
			qi := l.qp(n.In(0))
			area := ir.NumElems(k)
			ms := make([]float64, area)
			for d := range ms {
				ms[d] = float64(qi.scale) / (float64(q.scale) * float64(d+1))
			}
			mults, s := sharedShift(ms, float64(area)*qi.maxCode())
			nn.SetInts("mults", mults)
			nn.SetInt("shift", s)
			setOutAttrs(nn, q, l.relu[n])
		}
		l.code[out] = nn.Out(0)
	case kGAP:
		x, err := l.codeOf(n.In(0))
		if err != nil {
			return err
		}
		qi := l.qp(n.In(0))
		xs := n.In(0).Type.Shape
		hw := ir.NumElems(xs[2:])
		rq := FixedPoint(float64(qi.scale)/(float64(q.scale)*float64(hw)), 0, 0, float64(hw)*qi.maxCode(), 0)
		nn := l.node(ir.OpQGlobalAvgPool, n.Name, []*ir.Value{x}, l.codeName(out))
		nn.SetInt("mult", rq.M)
		nn.SetInt("shift", rq.S)
		setOutAttrs(nn, q, l.relu[n])
		l.code[out] = nn.Out(0)
	case kRelu:
		x, err := l.codeOf(n.In(0))
		if err != nil {
			return err
		}
		nn := l.node(ir.OpQRelu, n.Name, []*ir.Value{x}, l.codeName(out))
		l.code[out] = nn.Out(0)
	case kMove:
		x, err := l.codeOf(n.In(0))
		if err != nil {
			return err
		}
		ins := append([]*ir.Value{x}, n.Inputs[1:]...)
		nn := l.node(n.Op, n.Name, ins, l.codeName(out))
		for k, a := range n.Attrs {
			nn.Attrs[k] = a
		}
		l.code[out] = nn.Out(0)
	case kConcat:
		ins := make([]*ir.Value, len(n.Inputs))
		for i, in := range n.Inputs {
			c, err := l.codeOf(in)
			if err != nil {
				return err
			}
			ins[i] = c
		}
		nn := l.node(ir.OpQConcat, n.Name, ins, l.codeName(out))
		ax := n.Int("axis", 0)
		if ax < 0 {
			ax += int64(out.Type.Rank())
		}
		nn.SetInt("axis", ax)
		l.code[out] = nn.Out(0)
	default:
		return errorf("BUG: no quantized lowering for %s", n.Where())
	}
	return nil
}

// sharedShift converts real multipliers to integers sharing one shift
// (the largest in 1..62 keeping every multiplier within 31 bits and
// accMax·M + 2^S within 2^62).
func sharedShift(ms []float64, accMax float64) ([]int64, int64) {
	mx := 0.0
	for _, m := range ms {
		mx = math.Max(mx, math.Abs(m))
	}
	rq := FixedPoint(mx, 0, 0, accMax, 0)
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = int64(math.Round(m * math.Ldexp(1, int(rq.S))))
	}
	return out, rq.S
}

func (l *lowering) input4(v *ir.Value, p *layerPlan) (*ir.Value, error) {
	c, err := l.codeOf(v)
	if err != nil || !p.rescale {
		return c, err
	}
	if r, ok := l.code4[v]; ok {
		return r, nil
	}
	src := l.qp(v)
	rq := FixedPoint(float64(src.scale)/float64(p.in.scale), 0, 0, src.maxCode(), 0)
	n := l.node(ir.OpQRescale, "rescale4_"+v.Name, []*ir.Value{c}, l.fresh(v.Name+"_4b"))
	n.SetInt("mult", rq.M)
	n.SetInt("shift", rq.S)
	q := p.in
	setOutAttrs(n, &q, false)
	l.code4[v] = n.Out(0)
	return n.Out(0), nil
}

func (l *lowering) emitLayer(n *ir.Node) error {
	p := l.layers[n]
	x, err := l.input4(n.In(0), p)
	if err != nil {
		return err
	}
	var res *ir.Value
	if r := l.res[n]; r != nil {
		if res, err = l.codeOf(r); err != nil {
			return err
		}
	}
	out := l.mat[n]
	kind, codes := p.channelCodes()
	// Requantization table.
	rq := ir.NewTensor(ir.Int64, int64(p.c), 4)
	maxIn := p.in.maxCode()
	for ch := 0; ch < p.c; ch++ {
		var accMax float64
		switch kind[ch] {
		case '8':
			accMax = float64(p.k) * maxIn * 128
		case '4':
			accMax = float64(p.k) * maxIn * 8
		default:
			accMax = float64(p.k)
		}
		mr, resMax := 0.0, 0.0
		if p.res != nil {
			mr = float64(p.res.scale) / float64(p.out.scale)
			resMax = p.res.maxCode()
		}
		r := FixedPoint(p.accScale[ch]/float64(p.out.scale), mr, p.bias[ch]/float64(p.out.scale), accMax, resMax)
		p.accMax = append(p.accMax, accMax)
		p.resMax = resMax
		copy(rq.I[ch*4:], []int64{r.M, r.B, r.S, r.R})
	}
	wshape := func(rows int) []int64 {
		if p.conv {
			s := append([]int64{}, n.In(1).Type.Shape...)
			s[0] = int64(rows)
			return s
		}
		return []int64{int64(rows), int64(p.k)}
	}
	packW := func(rows [][]int8, whole []int8) *ir.Tensor {
		if whole != nil {
			// Shared with the calibration's memo and the other
			// variants: constants are never modified.
			return &ir.Tensor{DType: ir.Int8, Shape: wshape(len(rows)), I8: whole}
		}
		t := ir.NewInt8Tensor(wshape(len(rows))...)
		for i, r := range rows {
			copy(t.I8[i*p.k:(i+1)*p.k], r)
		}
		return t
	}
	var nn *ir.Node
	var ins []*ir.Value
	if p.split.Precision == "int8" {
		op := ir.OpQGemm
		if p.conv {
			op = ir.OpQConv
		}
		ins = []*ir.Value{x, l.addConst(n.Name+"_w8", packW(codes, p.w8All)), l.addConst(n.Name+"_rq", rq)}
		if res != nil {
			ins = append(ins, res)
		}
		nn = l.node(op, n.Name, ins, l.codeName(out))
		nn.SetInt("w_bits", 8)
	} else {
		op := ir.OpDualGemm
		if p.conv {
			op = ir.OpDualConv
		}
		chmap := ir.NewTensor(ir.Int64, int64(p.c))
		for i, ch := range p.split.INT4 {
			chmap.I[i] = int64(ch)
		}
		for i, ch := range p.split.TB {
			chmap.I[len(p.split.INT4)+i] = int64(ch)
		}
		ins = []*ir.Value{x, l.addConst(n.Name+"_w4", packW(p.w4, p.w4All)), l.addConst(n.Name+"_wt", packW(p.wt, p.wtAll)),
			l.addConst(n.Name+"_rq", rq), l.addConst(n.Name+"_chan", chmap)}
		if res != nil {
			ins = append(ins, res)
		}
		nn = l.node(op, n.Name, ins, l.codeName(out))
		nn.SetInt("tb_threshold", int64(p.tau))
	}
	nn.Precision = p.split.Precision
	nn.SetInt("x_bits", int64(p.in.bits))
	if p.conv {
		xs := n.In(0).Type.Shape
		geo, err := ir.ResolveConv(n, xs[2:], n.In(1).Type.Shape[2:], false)
		if err != nil {
			return n.Errorf("%v", err)
		}
		nn.SetInts("pads", geo.Pads)
		nn.SetInts("strides", geo.Strides)
		nn.SetInts("dilations", geo.Dilations)
		nn.SetInts("kernel_shape", n.In(1).Type.Shape[2:])
		if gr := n.Int("group", 1); gr != 1 {
			nn.SetInt("group", gr)
		}
	}
	setOutAttrs(nn, p.out, l.relu[n])
	l.code[out] = nn.Out(0)
	p.emitted = nn
	l.reports = append(l.reports, p.report())
	return nil
}

// LayerReport summarises one quantized layer (for eval --json).
type LayerReport struct {
	Name       string  `json:"name"`
	Op         string  `json:"op"`
	Precision  string  `json:"precision"`
	Ratio      float64 `json:"ratio"`
	Channels   int     `json:"channels"`
	INT4       int     `json:"int4_channels"`
	TB         int     `json:"tb_channels"`
	K          int     `json:"k"`
	InBits     int     `json:"in_bits"`
	InScale    float32 `json:"in_scale"`
	OutBits    int     `json:"out_bits"`
	OutScale   float32 `json:"out_scale"`
	Threshold  int     `json:"tb_threshold,omitempty"`
	Beta       float64 `json:"tb_beta,omitempty"`
	Residual   bool    `json:"residual,omitempty"`
	MeanTWNErr float64 `json:"mean_ternary_error,omitempty"`
}

func (p *layerPlan) report() LayerReport {
	r := LayerReport{Name: p.n.Name, Op: p.n.Op.String(), Precision: p.split.Precision, Ratio: p.split.Ratio,
		Channels: p.c, INT4: len(p.w4), TB: len(p.wt), K: p.k, InBits: p.in.bits, InScale: p.in.scale,
		OutBits: p.out.bits, OutScale: p.out.scale, Residual: p.res != nil}
	if p.split.Precision == "int8" {
		r.Ratio = 0
	}
	if len(p.wt) > 0 {
		r.Threshold, r.Beta = p.tau, p.beta
	}
	if len(p.split.Errors) > 0 {
		s := 0.0
		for _, e := range p.split.Errors {
			s += e
		}
		r.MeanTWNErr = s / float64(len(p.split.Errors))
	}
	return r
}

// Report returns the per-layer summary the quantize pass recorded.
func Report(m *ir.Module) []LayerReport {
	r, _ := m.Meta[metaReport].([]LayerReport)
	return append([]LayerReport{}, r...)
}
