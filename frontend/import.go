package frontend

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

// Options controls Import.
type Options struct {
	// Bindings gives values to symbolic dimensions (ONNX dim_param names,
	// or the generated names of dims that have neither a value nor a
	// name, see docs/frontend.md). Every symbol not listed is bound to 1.
	// Naming a symbol the model does not have is an error.
	Bindings map[string]int64
	// Constants gives fixed values to graph inputs, which then become
	// constants instead of runtime inputs. pimc needs static shapes, so a
	// graph input that feeds a shape (Reshape's shape, Slice's starts,
	// Squeeze's axes, ...) must be given here. Each tensor must match the
	// input's declared dtype (float16/float64 are accepted for a float
	// input) and its shape after binding. Naming a value that is not a
	// graph input is an error.
	Constants map[string]*ir.Tensor
	// BaseDir is the directory that external tensor data is read from.
	// Import defaults it to the model file's directory; ImportBytes has
	// none unless it is set, and then rejects external data.
	BaseDir string
}

// MetaIODTypes is the ir.Module.Meta key under which Import records, as a
// map[string]ir.DType, the declared dtype of every graph input and output
// that the IR narrowed to float32 (ONNX float16, bfloat16 and double), so
// that a runner can convert tensors at the model's boundary.
const MetaIODTypes = "frontend.io-dtypes"

// Import reads an ONNX model file and converts it to a verified module.
// Errors are prefixed with path.
func Import(path string, o Options) (*ir.Module, error) {
	// The float weights of the module keep their values in data (see
	// importModel), so this one read is all the fresh memory they take.
	// Measured on a 45 MB ResNet-18 and rejected: mmap (reading a private
	// mapping is nearly free, but fold-batchnorm scales the weights in
	// place and each written page is then copied on a fault of its own,
	// which costs what reading costs, and a mapping has no safe time to
	// be unmapped while tensors may point into it); madvise(MADV_HUGEPAGE)
	// on the buffer (twice as fast to fill, but stalls of ~100 ms for
	// compaction in a third of the runs); MADV_POPULATE_WRITE (~10%).
	// Reading parts of the file in parallel does help (readFile).
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("frontend: %w", err)
	}
	if o.BaseDir == "" {
		o.BaseDir = filepath.Dir(path)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	// data is this call's own buffer: float32 weights may live in it.
	return importModel(data, true, path, name, o)
}

// ImportBytes converts an ONNX model held in memory; name is used as the
// module name and to prefix errors. data is only read, and the module
// does not refer to it.
func ImportBytes(data []byte, name string, o Options) (*ir.Module, error) {
	return importModel(data, false, name, name, o)
}

// importModel converts data. When owned, nothing else uses data: the
// module's float32 initializers may keep their values in it (the tensors
// then keep it alive) and alignRaw may move bytes in it.
func importModel(data []byte, owned bool, file, name string, o Options) (m *ir.Module, err error) {
	// The importer validates its input rather than relying on recover;
	// this is the last line of defence so that a bug shows up as an error
	// that names itself instead of crashing the caller.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%s: internal error (BUG) while importing: %v\n%s", file, r, debug.Stack())
		}
	}()
	im := &importer{
		owned:      owned,
		opt:        o,
		dec:        decodeOptions{narrow: true, baseDir: o.BaseDir},
		values:     map[string]*ir.Value{},
		valueNames: map[string]bool{},
		nodeNames:  map[string]bool{},
		symbols:    map[string]bool{},
		ioDTypes:   map[string]ir.DType{},
	}
	m, err = im.run(data, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

type importer struct {
	owned bool // see importModel
	opt   Options
	dec   decodeOptions
	m     *ir.Module

	opsets     map[string]int64     // domain ("" = ai.onnx) → version
	values     map[string]*ir.Value // ONNX value name → value
	valueNames map[string]bool      // every value name in use or reserved
	nodeNames  map[string]bool      // every node name in use or reserved
	symbols    map[string]bool      // symbolic dims of the graph inputs
	ioDTypes   map[string]ir.DType  // narrowed interface dtypes
	names      []string             // IR node name of each ONNX node
}

func (im *importer) run(data []byte, name string) (*ir.Module, error) {
	mp, raws, err := unmarshalModel(data)
	if err != nil {
		return nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	g := mp.GetGraph()
	if g == nil {
		return nil, errors.New("not an ONNX model: no graph")
	}
	im.m = ir.NewModule(name)
	im.m.Producer = strings.TrimSpace(mp.GetProducerName() + " " + mp.GetProducerVersion())
	if err := im.readOpsets(mp); err != nil {
		return nil, err
	}
	if len(g.GetSparseInitializer()) > 0 {
		return nil, fmt.Errorf("sparse initializer %q is not supported", g.GetSparseInitializer()[0].GetValues().GetName())
	}
	im.reserveNames(g)
	if err := im.checkOps(g); err != nil {
		return nil, err
	}
	inits, err := im.readInitializers(g, data, raws)
	if err != nil {
		return nil, err
	}
	if err := im.readInputs(g, inits); err != nil {
		return nil, err
	}
	order, err := im.nodeOrder(g, inits)
	if err != nil {
		return nil, err
	}
	for _, i := range order {
		if err := im.lowerNode(i, g.GetNode()[i]); err != nil {
			return nil, err
		}
	}
	if err := im.readOutputs(g); err != nil {
		return nil, err
	}
	im.pruneConsts()
	if len(im.ioDTypes) > 0 {
		im.m.Meta = map[string]any{MetaIODTypes: im.ioDTypes}
	}
	if err := ir.InferTypes(im.m); err != nil {
		return nil, err
	}
	if err := ir.Verify(im.m); err != nil {
		return nil, fmt.Errorf("imported IR is invalid: %w", err)
	}
	return im.m, nil
}

// readOpsets records the opset of each domain. Several entries for one
// domain resolve to the highest, as ONNX specifies. Models older than IR
// version 3 have no opset_import; their operators are opset 1.
func (im *importer) readOpsets(mp *onnxpb.ModelProto) error {
	im.opsets = map[string]int64{}
	for _, imp := range mp.GetOpsetImport() {
		d := canonDomain(imp.GetDomain())
		v := imp.GetVersion()
		if v < 1 {
			return fmt.Errorf("opset_import gives domain %q version %d", imp.GetDomain(), v)
		}
		if v > im.opsets[d] {
			im.opsets[d] = v
		}
	}
	if len(mp.GetOpsetImport()) == 0 {
		im.opsets[""] = 1
	}
	for d, v := range im.opsets {
		im.m.Opsets[d] = v
	}
	return nil
}

func canonDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// reserveNames claims every name the model uses before any is generated,
// so generated names can never collide with a later ONNX name, then
// gives each node its IR name: its ONNX name, or <OpType>_<index> when the
// name is empty or already taken by an earlier node.
func (im *importer) reserveNames(g *onnxpb.GraphProto) {
	for _, t := range g.GetInitializer() {
		im.valueNames[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		im.valueNames[v.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			im.valueNames[o] = true
		}
		if n.GetName() != "" {
			im.nodeNames[n.GetName()] = true
		}
	}
	claimed := map[string]bool{}
	im.names = make([]string, len(g.GetNode()))
	for i, n := range g.GetNode() {
		name := n.GetName()
		if name == "" || claimed[name] {
			name = freshName(im.nodeNames, fmt.Sprintf("%s_%d", n.GetOpType(), i))
		}
		claimed[name] = true
		im.names[i] = name
	}
}

// freshName returns base, or base_1, base_2, ... when taken, and claims it.
func freshName(used map[string]bool, base string) string {
	name := base
	for k := 1; used[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	used[name] = true
	return name
}

func (im *importer) freshValue(base string) string { return freshName(im.valueNames, base) }
func (im *importer) freshNode(base string) string  { return freshName(im.nodeNames, base) }

// frontendOps are operators the importer handles itself instead of
// mapping them to an IR op.
var frontendOps = map[string]bool{"Constant": true}

// checkOps scans the whole graph before converting anything, so that all
// unsupported operators are reported together.
func (im *importer) checkOps(g *onnxpb.GraphProto) error {
	type miss struct {
		op    string
		nodes []string
	}
	var misses []*miss
	byOp := map[string]*miss{}
	for i, n := range g.GetNode() {
		op, dom := n.GetOpType(), canonDomain(n.GetDomain())
		if op == "" {
			return fmt.Errorf("node %q has no op_type", im.names[i])
		}
		if _, ok := im.opsets[dom]; !ok && dom == "" {
			return fmt.Errorf("node %q (%s) uses the default ONNX domain, which the model does not import (opset_import)", im.names[i], op)
		}
		if dom == "" && frontendOps[op] {
			continue
		}
		if _, ok := ir.LookupOp(dom, op); ok {
			continue
		}
		key := op
		if dom != "" {
			key = dom + ":" + op
		}
		if byOp[key] == nil {
			byOp[key] = &miss{op: key}
			misses = append(misses, byOp[key])
		}
		byOp[key].nodes = append(byOp[key].nodes, im.names[i])
	}
	if len(misses) == 0 {
		return nil
	}
	// Most frequent first, then by name: a stable order that puts what
	// matters most at the front of a long list.
	sort.SliceStable(misses, func(a, b int) bool {
		if len(misses[a].nodes) != len(misses[b].nodes) {
			return len(misses[a].nodes) > len(misses[b].nodes)
		}
		return misses[a].op < misses[b].op
	})
	parts := make([]string, len(misses))
	for i, ms := range misses {
		q := make([]string, len(ms.nodes))
		for j, n := range ms.nodes {
			q[j] = fmt.Sprintf("%q", n)
		}
		word := "node"
		if len(q) > 1 {
			word = "nodes"
		}
		parts[i] = fmt.Sprintf("%s (%s %s)", ms.op, word, strings.Join(q, ", "))
	}
	word := "operator"
	if len(misses) > 1 {
		word = "operators"
	}
	return fmt.Errorf("%d unsupported %s: %s", len(misses), word, strings.Join(parts, ", "))
}

// unmarshalModel decodes a ModelProto without copying the initializers'
// raw_data: raws[i], when present, is where initializer i's raw_data is in
// data (see splitRawData), and its TensorProto has no RawData. raws is nil
// when data has been unmarshalled as it is.
func unmarshalModel(data []byte) (*onnxpb.ModelProto, []rawField, error) {
	mp := &onnxpb.ModelProto{}
	if stripped, raws, ok := splitRawData(data); ok {
		if err := proto.Unmarshal(stripped, mp); err == nil && len(raws) == len(mp.GetGraph().GetInitializer()) {
			return mp, raws, nil
		}
		// Not expected: the copy differs from data only in raw_data.
		// data itself gives the error, or the model.
		mp = &onnxpb.ModelProto{}
	}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, nil, err
	}
	return mp, nil, nil
}

// readInitializers decodes the graph's initializers, taking raw_data from
// data where raws says (see unmarshalModel).
func (im *importer) readInitializers(g *onnxpb.GraphProto, data []byte, raws []rawField) (map[string]bool, error) {
	inits := map[string]bool{}
	for i, tp := range g.GetInitializer() {
		name := tp.GetName()
		if name == "" {
			return nil, fmt.Errorf("initializer %d has no name", i)
		}
		if inits[name] {
			return nil, fmt.Errorf("initializer %q is defined twice", name)
		}
		inits[name] = true
		dec := im.dec
		if raws != nil && raws[i].present {
			r := raws[i]
			if im.owned && littleEndian && tp.GetDataType() == int32(ir.Float32) && tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
				tp.RawData = alignRaw(data, r)
			} else {
				tp.RawData = data[r.off : r.off+r.n : r.off+r.n]
			}
			// The values may stay in data only if it is the importer's
			// own; each raw_data is a separate part of it.
			dec.alias = im.owned
		} else {
			// Any raw_data is protobuf's copy, decoded exactly once
			// (names are unique).
			dec.alias = true
		}
		t, err := decodeTensor(tp, dec)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", name, err)
		}
		v := &ir.Value{Name: name, Type: t.Type(), Const: t}
		im.values[name] = v
		im.m.Graph.Consts = append(im.m.Graph.Consts, v)
	}
	return inits, nil
}

// readInputs turns graph inputs into IR inputs. An input that an
// initializer also defines is a constant (IR version < 4 lists every
// initializer among the inputs), not a runtime input.
func (im *importer) readInputs(g *onnxpb.GraphProto, inits map[string]bool) error {
	seen := map[string]bool{}
	for i, vi := range g.GetInput() {
		name := vi.GetName()
		if name == "" {
			return fmt.Errorf("graph input %d has no name", i)
		}
		if seen[name] {
			return fmt.Errorf("graph input %q is listed twice", name)
		}
		seen[name] = true
		if inits[name] {
			continue
		}
		t, err := im.inputType(vi)
		if err != nil {
			return fmt.Errorf("graph input %q: %w", name, err)
		}
		v := &ir.Value{Name: name, Type: t}
		if c, ok := im.opt.Constants[name]; ok {
			if v.Const, err = constantFor(t, c); err != nil {
				return fmt.Errorf("graph input %q: constant value: %w", name, err)
			}
			v.Type = v.Const.Type()
			delete(im.ioDTypes, name) // no longer part of the interface
			im.values[name] = v
			im.m.Graph.Consts = append(im.m.Graph.Consts, v)
			continue
		}
		im.values[name] = v
		im.m.Graph.Inputs = append(im.m.Graph.Inputs, v)
	}
	var extra []string
	for _, name := range sortedKeys(im.opt.Constants) {
		if !seen[name] || inits[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("constant values given for %s, which is not a graph input", strings.Join(extra, ", "))
	}
	var unknown []string
	for _, s := range sortedKeys(im.opt.Bindings) {
		if v := im.opt.Bindings[s]; v < 1 {
			return fmt.Errorf("binding %s=%d: a dimension must be at least 1", s, v)
		}
		if !im.symbols[s] {
			unknown = append(unknown, s)
		}
	}
	if len(unknown) > 0 {
		have := make([]string, 0, len(im.symbols))
		for s := range im.symbols {
			have = append(have, s)
		}
		sort.Strings(have)
		list := "none"
		if len(have) > 0 {
			list = strings.Join(have, ", ")
		}
		return fmt.Errorf("binding %s names no symbolic dimension of the model's inputs (they have: %s)", strings.Join(unknown, ", "), list)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// inputType converts a graph input's declared type, binding symbolic dims.
func (im *importer) inputType(vi *onnxpb.ValueInfoProto) (ir.Type, error) {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return ir.Type{}, errors.New("not a tensor (sequence, map and optional types are not supported)")
	}
	dt, err := im.ioDType(vi.GetName(), tt.GetElemType())
	if err != nil {
		return ir.Type{}, err
	}
	if tt.GetShape() == nil {
		return ir.Type{}, errors.New("has no shape: pimc needs inputs of known rank")
	}
	t := ir.Type{DType: dt}
	dims := tt.GetShape().GetDim()
	t.Shape = make([]int64, len(dims))
	var syms []string
	for i, d := range dims {
		var sym string
		switch v := d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			if v.DimValue < 0 {
				return ir.Type{}, fmt.Errorf("dim %d is %d", i, v.DimValue)
			}
			t.Shape[i] = v.DimValue
			continue
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			sym = v.DimParam
		}
		if sym == "" {
			// An unknown dim without a name gets one, so that it can be
			// bound like any other symbol.
			sym = fmt.Sprintf("%s_d%d", vi.GetName(), i)
		}
		if syms == nil {
			syms = make([]string, len(dims))
		}
		syms[i] = sym
		val := int64(1)
		if b, ok := im.opt.Bindings[sym]; ok {
			val = b
		}
		im.symbols[sym] = true
		im.m.Bindings[sym] = val
		t.Shape[i] = val
	}
	t.Dims = syms
	if _, err := numElems(t.Shape); err != nil {
		return ir.Type{}, err
	}
	return t, nil
}

// constantFor checks a caller-supplied value for a graph input of type t
// and returns it as the input's constant, floats narrowed to float32.
func constantFor(t ir.Type, c *ir.Tensor) (*ir.Tensor, error) {
	if c == nil {
		return nil, errors.New("nil tensor")
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	c = c.Clone()
	if c.DType.IsFloat() {
		c.DType = ir.Float32
	}
	if !t.Equal(c.Type()) {
		return nil, fmt.Errorf("value is %s, input is %s", c.Type(), t)
	}
	return c, nil
}

// ioDType maps a declared element type, narrowing floats to float32 and
// remembering the declared type.
func (im *importer) ioDType(name string, et int32) (ir.DType, error) {
	if elemSize(et) == 0 {
		return 0, fmt.Errorf("unsupported element type %s", dtypeName(et))
	}
	switch et {
	case int32(ir.Float16), int32(ir.Float64):
		im.ioDTypes[name] = ir.DType(et)
		return ir.Float32, nil
	case onnxBFloat16:
		return ir.Float32, nil // no ir.DType to record it as
	}
	return ir.DType(et), nil
}

// nodeOrder checks that every value is defined exactly once and every
// use refers to a definition, and returns the nodes in a topological
// order (the file's own order where it is already valid; ONNX requires
// sorted nodes but some exporters do not comply).
func (im *importer) nodeOrder(g *onnxpb.GraphProto, inits map[string]bool) ([]int, error) {
	nodes := g.GetNode()
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if _, ok := im.values[o]; ok || inits[o] {
				return nil, fmt.Errorf("node %q (%s): output %q redefines a graph input or initializer", im.names[i], n.GetOpType(), o)
			}
			if p, ok := producer[o]; ok {
				return nil, fmt.Errorf("value %q is produced by two nodes, %q and %q", o, im.names[p], im.names[i])
			}
			producer[o] = i
		}
	}
	indeg := make([]int, len(nodes))
	succ := make([][]int, len(nodes))
	for i, n := range nodes {
		seen := map[int]bool{}
		for _, in := range n.GetInput() {
			if in == "" {
				continue
			}
			if p, ok := producer[in]; ok {
				if !seen[p] {
					seen[p] = true
					indeg[i]++
					succ[p] = append(succ[p], i)
				}
				continue
			}
			if _, ok := im.values[in]; !ok {
				return nil, fmt.Errorf("node %q (%s): input %q is not produced by any node, graph input or initializer", im.names[i], n.GetOpType(), in)
			}
		}
	}
	// Kahn's algorithm taking the lowest index first keeps the file's
	// order when it is valid and makes the result deterministic.
	var ready intHeap
	for i := range nodes {
		if indeg[i] == 0 {
			ready.push(i)
		}
	}
	order := make([]int, 0, len(nodes))
	for ready.len() > 0 {
		i := ready.pop()
		order = append(order, i)
		for _, s := range succ[i] {
			if indeg[s]--; indeg[s] == 0 {
				ready.push(s)
			}
		}
	}
	if len(order) != len(nodes) {
		for i, d := range indeg {
			if d > 0 {
				return nil, fmt.Errorf("graph has a cycle through node %q (%s)", im.names[i], nodes[i].GetOpType())
			}
		}
	}
	return order, nil
}

func (im *importer) readOutputs(g *onnxpb.GraphProto) error {
	if len(g.GetOutput()) == 0 {
		return errors.New("graph has no outputs")
	}
	for i, vi := range g.GetOutput() {
		name := vi.GetName()
		v, ok := im.values[name]
		if !ok || name == "" {
			return fmt.Errorf("graph output %d (%q) is not produced by any node, graph input or initializer", i, name)
		}
		// The declared type is not checked against the inferred one:
		// exporters leave stale shapes there (see docs/frontend.md); only
		// a narrowed float dtype is remembered.
		if tt := vi.GetType().GetTensorType(); tt != nil {
			switch et := tt.GetElemType(); et {
			case int32(ir.Float16), int32(ir.Float64):
				im.ioDTypes[name] = ir.DType(et)
			}
		}
		im.m.Graph.Outputs = append(im.m.Graph.Outputs, v)
	}
	return nil
}

// pruneConsts drops constants that nothing reads any more: initializers
// consumed only by folded shape computations, and the folded
// intermediates themselves.
func (im *importer) pruneConsts() {
	g := im.m.Graph
	used := map[*ir.Value]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	for _, o := range g.Outputs {
		used[o] = true
	}
	kept := g.Consts[:0]
	for _, c := range g.Consts {
		if used[c] {
			kept = append(kept, c)
		}
	}
	g.Consts = kept
}

// intHeap is a min-heap of node indices.
type intHeap struct{ a []int }

func (h *intHeap) len() int { return len(h.a) }

func (h *intHeap) push(x int) {
	h.a = append(h.a, x)
	for i := len(h.a) - 1; i > 0; {
		p := (i - 1) / 2
		if h.a[p] <= h.a[i] {
			break
		}
		h.a[p], h.a[i] = h.a[i], h.a[p]
		i = p
	}
}

func (h *intHeap) pop() int {
	top := h.a[0]
	last := len(h.a) - 1
	h.a[0] = h.a[last]
	h.a = h.a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.a) && h.a[l] < h.a[m] {
			m = l
		}
		if r < len(h.a) && h.a[r] < h.a[m] {
			m = r
		}
		if m == i {
			break
		}
		h.a[i], h.a[m] = h.a[m], h.a[i]
		i = m
	}
	return top
}

// InputNames lists a model's runtime graph inputs (initializers excluded)
// in graph-input order, without importing the model; callers use it to
// name the inputs they pass as Options.Constants.
func InputNames(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("frontend: %w", err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("%s: not an ONNX model: %w", path, err)
	}
	g := mp.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("%s: not an ONNX model: no graph", path)
	}
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	var names []string
	for _, in := range g.GetInput() {
		if !inits[in.GetName()] {
			names = append(names, in.GetName())
		}
	}
	return names, nil
}
