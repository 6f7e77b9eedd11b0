package interp

import (
	"sync"

	"pimc/ir"
)

// weightCache holds prepared (packed) forms of a session's constant
// tensors. Only tensors that are graph constants of the session's module
// are cached: anything else may be a fresh tensor on every run.
type weightCache struct {
	consts map[*ir.Tensor]bool // read-only after NewSession

	mu     sync.Mutex
	packed map[packKey][]float32
}

// packKey names one packing of a tensor (a tensor could in principle be
// read by nodes that pack it differently).
type packKey struct {
	t          *ir.Tensor
	rows, cols int
	groups     int
}

// packedWeights returns the packA form of t viewed as groups row-major
// [rows × cols] matrices, one after another, building it on first use.
// The bool reports whether the slice is owned by the cache (the caller
// must then not recycle it).
func (wc *weightCache) packedWeights(t *ir.Tensor, groups, rows, cols int) ([]float32, bool) {
	if wc == nil || !wc.consts[t] {
		pa := getFloats(groups * packedALen(rows, cols))
		packGroups(*pa, t.F, groups, rows, cols)
		return *pa, false
	}
	key := packKey{t, rows, cols, groups}
	wc.mu.Lock()
	p, ok := wc.packed[key]
	wc.mu.Unlock()
	if ok {
		return p, true
	}
	p = make([]float32, groups*packedALen(rows, cols))
	packGroups(p, t.F, groups, rows, cols)
	wc.mu.Lock()
	wc.packed[key] = p
	wc.mu.Unlock()
	return p, true
}

func packGroups(dst, w []float32, groups, rows, cols int) {
	for gi := 0; gi < groups; gi++ {
		packA(dst[gi*packedALen(rows, cols):], matrix{w[gi*rows*cols:], cols, 1}, rows, cols, 1)
	}
}
