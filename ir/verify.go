package ir

import (
	"errors"
	"fmt"
	"sort"
)

// Verify checks the module's structural invariants: every value has
// exactly one definition, every use points at a value defined earlier
// (topological order), names are unique, each node's arity and attributes
// match the op table, constants match their types, and re-running shape
// inference reproduces every recorded type. Higher levels add checks.
func Verify(m *Module) error {
	if m == nil || m.Graph == nil {
		return errors.New("module has no graph")
	}
	g := m.Graph
	var errs []error
	fail := func(format string, args ...any) {
		if len(errs) < 20 {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	defined := map[*Value]string{}
	names := map[string]string{}
	define := func(v *Value, what string) {
		if v == nil {
			return
		}
		if prev, ok := defined[v]; ok {
			fail("value %q defined twice (%s and %s)", v.Name, prev, what)
			return
		}
		defined[v] = what
		if v.Name == "" {
			fail("value defined by %s has no name", what)
		} else if prev, ok := names[v.Name]; ok {
			fail("name %q used by two values (%s and %s)", v.Name, prev, what)
		}
		names[v.Name] = what
		if v.Type.DType == Undefined {
			fail("value %q (%s) has no dtype", v.Name, what)
		}
		for _, d := range v.Type.Shape {
			if d < 0 {
				fail("value %q (%s) has negative dim in %s", v.Name, what, v.Type)
			}
		}
	}
	for _, v := range g.Inputs {
		if v.Const != nil || v.Def != nil {
			fail("graph input %q is a constant or has a producer", v.Name)
		}
		define(v, "graph input")
	}
	for _, v := range g.Consts {
		if v.Const == nil {
			fail("constant %q has no data", v.Name)
			continue
		}
		if err := v.Const.Check(); err != nil {
			fail("constant %q: %v", v.Name, err)
		} else if !v.Type.Equal(v.Const.Type()) {
			fail("constant %q has type %s but holds %s", v.Name, v.Type, v.Const.Type())
		}
		define(v, "constant")
	}
	for _, n := range g.Nodes {
		if !n.Op.Valid() {
			fail("node %q has an invalid op", n.Name)
			continue
		}
		info := n.Op.Info()
		where := n.Where()
		for i, in := range n.Inputs {
			if in == nil {
				if i < info.MinIn {
					fail("%s: required input %d is missing", where, i)
				}
				continue
			}
			if _, ok := defined[in]; !ok {
				fail("%s: input %d (%q) is not defined before use", where, i, in.Name)
			}
		}
		if len(n.Inputs) < info.MinIn || (info.MaxIn >= 0 && len(n.Inputs) > info.MaxIn) {
			fail("%s: %d inputs, op takes %s", where, len(n.Inputs), arity(info.MinIn, info.MaxIn))
		}
		if len(n.Outputs) < info.MinOut || (info.MaxOut >= 0 && len(n.Outputs) > info.MaxOut) {
			fail("%s: %d outputs, op gives %s", where, len(n.Outputs), arity(info.MinOut, info.MaxOut))
		}
		for _, name := range sortedKeys(n.Attrs) {
			a := n.Attrs[name]
			spec, ok := info.Attrs[name]
			switch {
			case !ok:
				fail("%s: unknown attribute %q", where, name)
			case spec.Kind != a.Kind:
				fail("%s: attribute %q is %s, want %s", where, name, a.Kind, spec.Kind)
			}
		}
		for _, name := range sortedKeys(info.Attrs) {
			if info.Attrs[name].Required && !n.Has(name) {
				fail("%s: required attribute %q is missing", where, name)
			}
		}
		// Re-infer into scratch values and compare with the recorded types.
		saved := make([]Type, len(n.Outputs))
		for i, o := range n.Outputs {
			if o != nil {
				saved[i] = o.Type
			}
		}
		err := InferNode(n)
		for i, o := range n.Outputs {
			if o == nil {
				continue
			}
			if err == nil && !o.Type.Equal(saved[i]) {
				fail("%s: output %q recorded as %s, inference gives %s", where, o.Name, saved[i], o.Type)
			}
			o.Type = saved[i]
		}
		if err != nil {
			fail("%v", err)
		} else if err := checkDualCodes(n); err != nil {
			fail("%s: %v", where, err)
		}
		for _, o := range n.Outputs {
			if o != nil && o.Def != n {
				fail("%s: output %q does not point back at its node", where, o.Name)
			}
			define(o, where)
		}
		if m.Level >= LevelPartitioned && n.Engine == "" {
			fail("%s: no engine assigned after partitioning", where)
		}
	}
	if len(g.Outputs) == 0 {
		fail("graph has no outputs")
	}
	for _, o := range g.Outputs {
		if _, ok := defined[o]; !ok {
			fail("graph output %q is not defined", o.Name)
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func arity(lo, hi int) string {
	switch {
	case hi < 0:
		return fmt.Sprintf("at least %d", lo)
	case lo == hi:
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}
