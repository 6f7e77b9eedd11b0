package interp

import (
	"sync"

	"pimc/ir"
)

// arena recycles the float buffers of intermediate tensors once their last
// reader has run, for the outputs of later nodes of the same size. A
// Session keeps its arena across runs, so a network's activations reuse
// the same memory every run: no page faults, no zeroing by the allocator,
// less garbage. Only kernels that write every output element take
// recycled buffers (dirtyOut); the others allocate zeroed tensors.
type arena struct {
	mu   sync.Mutex
	free map[int][][]float32 // by length
	held int                 // floats held, bounded by arenaMax
}

// arenaMax bounds the memory an arena keeps (4 GiB of floats).
const arenaMax = 1 << 30

func newArena() *arena { return &arena{free: map[int][][]float32{}} }

// get returns a buffer of length n with undefined contents, or nil.
func (a *arena) get(n int) []float32 {
	if a == nil || n == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.free[n]
	if len(l) == 0 {
		return nil
	}
	s := l[len(l)-1]
	a.free[n] = l[:len(l)-1]
	a.held -= n
	return s
}

// put hands a dead tensor's buffer back. The caller guarantees nothing
// else refers to it.
func (a *arena) put(s []float32) {
	if a == nil || len(s) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.held+len(s) > arenaMax {
		return
	}
	a.free[len(s)] = append(a.free[len(s)], s[:len(s):len(s)])
	a.held += len(s)
}

// dirtyOut allocates output i of a bound node like newOut, but may hand
// out a recycled buffer whose contents are undefined: only for kernels
// that overwrite every element.
func (o runOpts) dirtyOut(n *ir.Node, i int) *ir.Tensor {
	t := n.Outputs[i].Type
	if t.DType == ir.Float32 {
		if s := o.ar.get(int(t.Len())); s != nil {
			return &ir.Tensor{DType: t.DType, Shape: append([]int64{}, t.Shape...), F: s}
		}
	}
	return ir.NewTensor(t.DType, t.Shape...)
}
