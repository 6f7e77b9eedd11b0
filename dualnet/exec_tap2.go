package dualnet

import (
	"pimc/hw"
	"pimc/ir"
)

// tapRun advances a set of inputs through a quantized module's executor
// one step at a time, so that sequential bias correction (seqCorrect) runs
// the network once in total instead of once per corrected layer: the
// inputs' states stop before the layer being corrected, the layer runs
// with the tap on, its requantization table is corrected, and, if the table
// changed, the layer runs again with it before moving on. Each input has its own
// codes; the step scratch buffers are shared, as between successive
// Executor.Run calls, since steps run one input at a time.
type tapRun struct {
	e    *Executor
	sts  []*state
	next int // first step not run yet
}

func newTapRun(m *ir.Module, h *hw.Hardware, inputs [][]*ir.Tensor) (*tapRun, error) {
	r := &tapRun{}
	e, err := NewExecutor(m, ExecOptions{HW: h, tap: true})
	if err != nil {
		return nil, err
	}
	r.e = e
	scratch := map[int]any{}
	for _, in := range inputs {
		st := e.newState()
		st.scratch = scratch
		for i, s := range e.ins {
			st.floats[s] = in[i]
		}
		r.sts = append(r.sts, st)
	}
	return r, nil
}

// stepOf returns the index of the step computing layer node name, or -1.
func (r *tapRun) stepOf(name string) int {
	for i, s := range r.e.steps {
		if mm, ok := s.(*mmStep); ok && mm.name == name {
			return i
		}
	}
	return -1
}

// advance runs steps [next, to) on every input.
func (r *tapRun) advance(to int) error {
	if to <= r.next {
		return nil
	}
	for _, st := range r.sts {
		for _, s := range r.e.steps[r.next:to] {
			if err := s.run(st); err != nil {
				return err
			}
		}
	}
	r.next = to
	return nil
}

// tap runs step i (the next one) on every input in order with the tap on
// and returns the mean and mean square of layer name's pre-activation per
// output channel, as Executor.runTap does for the whole network (the same
// sums, in the same order). The step's outputs are kept: recompile sets
// it to run again if the layer's table changes.
func (r *tapRun) tap(i int, name string) ([2][]float64, bool, error) {
	if i != r.next {
		return [2][]float64{}, false, errorf("BUG: tap on step %d, next is %d", i, r.next)
	}
	taps := map[string]*tapSum{}
	for _, st := range r.sts {
		st.tap = taps
		err := r.e.steps[i].run(st)
		st.tap = nil
		if err != nil {
			return [2][]float64{}, false, err
		}
	}
	r.next = i + 1
	t, ok := taps[name]
	if !ok {
		return [2][]float64{}, false, nil
	}
	m, q := make([]float64, len(t.sum)), make([]float64, len(t.sum))
	for c := range t.sum {
		m[c], q[c] = t.sum[c]/t.n, t.sq[c]/t.n
	}
	return [2][]float64{m, q}, true, nil
}

// recompile recompiles step i (layer node n) after its requantization
// table changed. Only that step depends on the table; the slots, stores and
// the other steps stay as they are, so the inputs' states stay valid. The
// step keeps its scratch key, its scratch is renewed, and it runs again on
// the next advance.
func (r *tapRun) recompile(i int, n *ir.Node) error {
	if i >= r.next {
		return errorf("BUG: recompiling step %d, which has not run", i)
	}
	old, ok := r.e.steps[i].(*mmStep)
	if !ok || old.name != n.Name {
		return errorf("BUG: step %d is not layer %s", i, n.Name)
	}
	y, ok := r.e.ids[n.Out(0)]
	if !ok {
		return errorf("BUG: layer %s has no output slot", n.Name)
	}
	st, err := r.e.compileMM(n, r.e.ids, func() int { return y })
	if err != nil {
		return err
	}
	mm, ok := st.(*mmStep)
	if !ok {
		return errorf("BUG: layer %s did not compile to a matrix step", n.Name)
	}
	mm.idx = old.idx
	r.e.steps[i] = mm
	if len(r.sts) > 0 {
		delete(r.sts[0].scratch, old.idx) // shared by every state
	}
	r.next = i
	return nil
}
