package ir

import (
	"fmt"
	"sort"
)

// Value is an edge of the graph: a graph input, a constant (Const != nil)
// or the output of exactly one node (Def != nil).
type Value struct {
	Name  string
	Type  Type
	Const *Tensor
	Def   *Node
}

// IsConst reports whether v is a compile-time constant.
func (v *Value) IsConst() bool { return v != nil && v.Const != nil }

// Node is one operation.
type Node struct {
	Name    string
	Op      Op
	Inputs  []*Value // a nil entry is an omitted optional input
	Outputs []*Value
	Attrs   Attrs

	// Engine and Precision are set by partitioning ("sram", "edram",
	// "ppu"; "int4", "tb", "dual", "int8", "fp32"); empty before.
	Engine    string
	Precision string
}

// In returns input i, or nil when it is absent or omitted.
func (n *Node) In(i int) *Value {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return nil
}

// Out returns output i (nil when absent).
func (n *Node) Out(i int) *Value {
	if i < len(n.Outputs) {
		return n.Outputs[i]
	}
	return nil
}

// Where names the node for error messages: node "conv1" (Conv).
func (n *Node) Where() string {
	return fmt.Sprintf("node %q (%s)", n.Name, n.Op)
}

// Errorf returns an error prefixed with the node's location.
func (n *Node) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", n.Where(), fmt.Sprintf(format, args...))
}

// Graph is a dataflow graph whose Nodes are kept in topological order.
type Graph struct {
	Inputs  []*Value
	Outputs []*Value
	Consts  []*Value // initializers and folded constants, in creation order
	Nodes   []*Node
}

// Module is the unit every pass works on. Later stages record their
// results here (as Go's SSA passes leave results on Func) so that packages
// talk only through the IR.
type Module struct {
	Name     string
	Producer string
	Opsets   map[string]int64 // domain ("" = ai.onnx) → version
	Graph    *Graph
	// Bindings records the value bound to each symbolic dimension.
	Bindings map[string]int64
	// Level is the IR level the last pass left behind.
	Level Level

	// Meta carries per-stage results keyed by stage name, for stages
	// whose types ir must not know (e.g. mapping results). Printing
	// ignores it.
	Meta map[string]any

	nameSeq   int
	nameCache map[string]bool
	cacheKey  [3]int
}

// Level says which invariants hold; the verifier checks more at higher levels.
type Level int

// IR levels.
const (
	LevelImported Level = iota
	LevelCanonical
	LevelQuantized
	LevelPartitioned
	LevelMapped
)

var levelNames = []string{"imported", "canonical", "quantized", "partitioned", "mapped"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// NewModule returns an empty module.
func NewModule(name string) *Module {
	return &Module{Name: name, Graph: &Graph{}, Opsets: map[string]int64{}, Bindings: map[string]int64{}}
}

// Opset returns the opset version of the default domain.
func (m *Module) Opset() int64 { return m.Opsets[""] }

// FreshName returns a value or node name not used in the graph, derived
// from base. Deterministic: it depends only on the graph's contents.
func (m *Module) FreshName(base string) string {
	// Rescanning the graph on every call made passes that add many names
	// quadratic; the cache is rebuilt whenever the graph's size changed.
	g := m.Graph
	key := [3]int{len(g.Inputs), len(g.Consts), len(g.Nodes)}
	if m.nameCache == nil || key != m.cacheKey {
		m.nameCache, m.cacheKey = m.names(), key
	}
	for {
		m.nameSeq++
		name := fmt.Sprintf("%s_%d", base, m.nameSeq)
		if !m.nameCache[name] {
			m.nameCache[name] = true
			return name
		}
	}
}

func (m *Module) names() map[string]bool {
	g := m.Graph
	used := map[string]bool{}
	for _, v := range g.Inputs {
		used[v.Name] = true
	}
	for _, v := range g.Consts {
		used[v.Name] = true
	}
	for _, n := range g.Nodes {
		used[n.Name] = true
		for _, v := range n.Outputs {
			if v != nil {
				used[v.Name] = true
			}
		}
	}
	return used
}

// AddConst adds a constant value named after base.
func (m *Module) AddConst(base string, t *Tensor) *Value {
	v := &Value{Name: m.FreshName(base), Type: t.Type(), Const: t}
	m.Graph.Consts = append(m.Graph.Consts, v)
	return v
}

// Users maps each value to the nodes that read it, in node order; graph
// outputs are not included (see IsOutput).
func (g *Graph) Users() map[*Value][]*Node {
	u := map[*Value][]*Node{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil {
				u[in] = append(u[in], n)
			}
		}
	}
	return u
}

// IsOutput reports whether v is a graph output.
func (g *Graph) IsOutput(v *Value) bool {
	for _, o := range g.Outputs {
		if o == v {
			return true
		}
	}
	return false
}

// Replace makes every reader of old (nodes and graph outputs) read repl
// instead. If old is a graph output, repl takes over old's name so the
// model's interface is unchanged.
func (g *Graph) Replace(old, repl *Value) {
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == old {
				n.Inputs[i] = repl
			}
		}
	}
	for i, o := range g.Outputs {
		if o == old {
			g.Outputs[i] = repl
			repl.Name = old.Name
		}
	}
}

// RemoveDead deletes nodes none of whose outputs are used, and unused
// constants, repeating until nothing changes.
func (g *Graph) RemoveDead() int {
	removed := 0
	for {
		used := map[*Value]bool{}
		for _, o := range g.Outputs {
			used[o] = true
		}
		for _, n := range g.Nodes {
			for _, in := range n.Inputs {
				used[in] = true
			}
		}
		kept := g.Nodes[:0]
		changed := false
		for _, n := range g.Nodes {
			live := false
			for _, o := range n.Outputs {
				if o != nil && used[o] {
					live = true
				}
			}
			if live {
				kept = append(kept, n)
			} else {
				changed = true
				removed++
			}
		}
		for i := len(kept); i < len(g.Nodes); i++ {
			g.Nodes[i] = nil
		}
		g.Nodes = kept
		if changed {
			continue
		}
		consts := g.Consts[:0]
		for _, c := range g.Consts {
			if used[c] {
				consts = append(consts, c)
			}
		}
		for i := len(consts); i < len(g.Consts); i++ {
			g.Consts[i] = nil
		}
		g.Consts = consts
		return removed
	}
}

// TopoSort reorders Nodes topologically, keeping the existing order where
// it is already valid (stable), and fails on a cycle.
func (g *Graph) TopoSort() error {
	producer := map[*Value]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				producer[o] = i
			}
		}
	}
	indeg := make([]int, len(g.Nodes))
	succ := make([][]int, len(g.Nodes))
	for i, n := range g.Nodes {
		seen := map[int]bool{}
		for _, in := range n.Inputs {
			if p, ok := producer[in]; ok && in != nil && !seen[p] {
				seen[p] = true
				indeg[i]++
				succ[p] = append(succ[p], i)
			}
		}
	}
	// Kahn's algorithm with the smallest original index first keeps the
	// order stable, which keeps output deterministic.
	ready := []int{}
	for i := range g.Nodes {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	out := make([]*Node, 0, len(g.Nodes))
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		out = append(out, g.Nodes[i])
		for _, s := range succ[i] {
			indeg[s]--
			if indeg[s] == 0 {
				ready = append(ready, s)
			}
		}
	}
	if len(out) != len(g.Nodes) {
		for i, d := range indeg {
			if d > 0 {
				return fmt.Errorf("graph has a cycle through %s", g.Nodes[i].Where())
			}
		}
	}
	g.Nodes = out
	return nil
}
