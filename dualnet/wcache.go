package dualnet

import (
	"math"
	"math/bits"
	"runtime"
	"sync"

	"pimc/internal/par"
)

// weightCache memoises per-channel weight quantization (QuantizeChannel)
// on a Calibration. pimc compile quantizes the same calibrated module three
// times (chosen ratios, r = 1 and r = 0 baselines, each on an ir.Module
// Clone sharing the constant tensors and the Calibration); the INT4 and
// INT8 codes and MSE scales of a channel depend only on its weights and q,
// not on the split ratio, so each is searched once. Entries (a layer's
// layerQuant, its TWN codes) are keyed by a hash of the layer's weights and
// verified bit for bit, so a hit returns exactly what QuantizeChannel and
// TWN would.
//
// It also memoises Hist.MSEScale: the activation groups and their merged
// histograms are the same in every variant, so are their scales.
//
// Every variant reads the same constant tensors (Clone shares them, and
// constants are never modified once a module is calibrated), so lookups
// first try the weights' identity — address, length and q — which costs
// nothing, and only hash the content (every weight read) on a miss.
type weightCache struct {
	mu    sync.Mutex
	m     map[wqKey][]*layerQuant
	fc    fitCache // fit statistics (qcache.go)
	hs    map[hsKey][]*hsEntry
	te    map[wqKey][]*teEntry
	byPtr map[ptrKey]*layerQuant
	tePtr map[ptrKey]*teEntry
}

// ptrKey names a weight slice by identity.
type ptrKey struct {
	p    *float32
	n, q int
}

func keyOf(w []float32, q int) (ptrKey, bool) {
	if len(w) == 0 {
		return ptrKey{}, false
	}
	return ptrKey{&w[0], len(w), q}, true
}

type teEntry struct {
	once  sync.Once // computes the fields below
	w     []float32 // not copied
	errs  []float64
	all   []int8   // TWN codes of every channel, [c][k] (shared: callers must not modify)
	t     [][]int8 // channel ch's codes, all[ch*k:(ch+1)*k]
	alpha []float32
}

// ternaryErrors returns TernaryError of each of the c channels of w
// ([c][k]), memoised on cal (when not nil) by the weights' content: the
// error ranking dual-split uses does not depend on the ratio. Channels are
// computed in parallel, each independently.
func ternaryErrors(cal *Calibration, w []float32, k, c int) []float64 {
	return append([]float64(nil), ternary(cal, w, k, c).errs...)
}

// ternary returns TWN's codes and α and TernaryError for each of the c
// channels of w, memoised as ternaryErrors describes (dual-split usually
// fills the memo; every variant's quantize pass then reuses the codes). The
// codes are shared and must not be modified. Concurrent callers for the
// same weights wait for one computation.
func ternary(cal *Calibration, w []float32, k, c int) *teEntry {
	var e *teEntry
	if cal == nil {
		e = &teEntry{w: w}
	} else {
		wc := cal.weights()
		pk, byID := keyOf(w, c)
		wc.mu.Lock()
		e = wc.tePtr[pk]
		wc.mu.Unlock()
		if !byID || e == nil {
			key := wqKey{h: hashWeights(w), n: k, q: c}
			wc.mu.Lock()
			for _, x := range wc.te[key] {
				if sameBits(x.w, w) {
					e = x
					break
				}
			}
			if e == nil {
				e = &teEntry{w: w}
				wc.te[key] = append(wc.te[key], e)
			}
			if byID {
				wc.tePtr[pk] = e
			}
			wc.mu.Unlock()
		}
	}
	e.once.Do(func() { e.compute(k, c) })
	return e
}

// compute fills e from e.w ([c][k]); channels run in parallel, each
// independently.
func (e *teEntry) compute(k, c int) {
	w := e.w
	e.errs, e.all, e.t, e.alpha = make([]float64, c), make([]int8, c*k), make([][]int8, c), make([]float32, c)
	for ch := range e.t {
		e.t[ch] = e.all[ch*k : (ch+1)*k : (ch+1)*k]
	}
	workers := runtime.GOMAXPROCS(0)
	if len(w) < 1<<14 {
		workers = 1
	}
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := g; ch < c; ch += workers {
				wch := w[ch*k : (ch+1)*k]
				t, a, _ := TWN(wch)
				copy(e.t[ch], t)
				e.alpha[ch] = a
				e.errs[ch] = ternaryErrorOf(wch, t, a)
			}
		}()
	}
	wg.Wait()
}

type hsKey struct {
	h      uint64
	bits   int
	signed bool
}

type hsEntry struct {
	h     *Hist // a private copy
	scale float32
}

func hashHist(h *Hist) uint64 {
	x := uint64(14695981039346656037)
	mix := func(v uint64) { x ^= v; x *= 1099511628211 }
	for i := range h.Pos {
		mix(h.Pos[i])
		mix(h.Neg[i])
	}
	mix(h.Zero)
	mix(h.N)
	mix(uint64(math.Float32bits(h.Min)))
	mix(uint64(math.Float32bits(h.Max)))
	return x
}

func sameHist(a, b *Hist) bool {
	if a.Zero != b.Zero || a.N != b.N || math.Float32bits(a.Min) != math.Float32bits(b.Min) ||
		math.Float32bits(a.Max) != math.Float32bits(b.Max) || len(a.Pos) != len(b.Pos) || len(a.Neg) != len(b.Neg) {
		return false
	}
	for i := range a.Pos {
		if a.Pos[i] != b.Pos[i] {
			return false
		}
	}
	for i := range a.Neg {
		if a.Neg[i] != b.Neg[i] {
			return false
		}
	}
	return true
}

// histScale is h.MSEScale(bits, signed), memoised by histogram content.
func (wc *weightCache) histScale(h *Hist, bits int, signed bool) float32 {
	k := hsKey{hashHist(h), bits, signed}
	wc.mu.Lock()
	for _, e := range wc.hs[k] {
		if sameHist(e.h, h) {
			wc.mu.Unlock()
			return e.scale
		}
	}
	wc.mu.Unlock()
	s := h.MSEScale(bits, signed)
	cp := &Hist{Pos: append([]uint64(nil), h.Pos...), Neg: append([]uint64(nil), h.Neg...), Zero: h.Zero, N: h.N, Min: h.Min, Max: h.Max}
	wc.mu.Lock()
	wc.hs[k] = append(wc.hs[k], &hsEntry{cp, s})
	wc.mu.Unlock()
	return s
}

type wqKey struct {
	h    uint64
	n, q int
}

var wcacheMu sync.Mutex

func (c *Calibration) weights() *weightCache {
	wcacheMu.Lock()
	defer wcacheMu.Unlock()
	if c.wq == nil {
		c.wq = &weightCache{m: map[wqKey][]*layerQuant{}, hs: map[hsKey][]*hsEntry{}, te: map[wqKey][]*teEntry{},
			byPtr: map[ptrKey]*layerQuant{}, tePtr: map[ptrKey]*teEntry{}}
	}
	return c.wq
}

// hashWeights keys the memos by weight content. Every hit is verified bit
// for bit (sameBits), so the key only has to separate different weights
// well, not prove equality: it mixes the length and at most 1024 weights
// spread evenly over w (all of them when w is short). A miss — the first
// request for each layer's weights — then costs a few hundred loads
// instead of a pass over every weight.
func hashWeights(w []float32) uint64 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	const samples = 1024
	h0, h1 := uint64(m1), uint64(len(w))
	step := max(1, len(w)/samples)
	for i := 0; i < len(w); i += step {
		h0 = bits.RotateLeft64((h0^uint64(math.Float32bits(w[i])))*m1, 31)
	}
	if n := len(w); n > 0 {
		h1 = bits.RotateLeft64((h1^uint64(math.Float32bits(w[n-1])))*m1, 31)
	}
	h := h0 ^ bits.RotateLeft64(h1, 29)
	h ^= h >> 33
	h *= m2
	h ^= h >> 29
	return h
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// layerQuant is the per-channel quantization (QuantizeChannel) of one
// layer's weights w ([c][k]) to [−q, q], filled channel by channel as
// variants ask for them. The codes of all channels sit in one [c][k]
// array, so that a variant that quantizes every channel in order (INT4-only,
// INT8 layers) uses it as its weight tensor without a copy.
type layerQuant struct {
	mu     sync.Mutex // held while missing channels are computed
	w      []float32  // not copied
	k, q   int
	codes  []int8
	scales []float32
	done   []bool
}

// layerQuantOf returns w's layerQuant on c (a fresh one when c is nil),
// found by identity, else by content.
func layerQuantOf(c *Calibration, w []float32, k, q int) *layerQuant {
	fresh := func() *layerQuant {
		n := 0
		if k > 0 {
			n = len(w) / k
		}
		return &layerQuant{w: w, k: k, q: q, codes: make([]int8, n*k), scales: make([]float32, n), done: make([]bool, n)}
	}
	if c == nil {
		return fresh()
	}
	wc := c.weights()
	pk, byID := keyOf(w, q)
	wc.mu.Lock()
	if e := wc.byPtr[pk]; byID && e != nil && e.k == k {
		wc.mu.Unlock()
		return e
	}
	wc.mu.Unlock()
	key := wqKey{h: hashWeights(w), n: k, q: q}
	wc.mu.Lock()
	defer wc.mu.Unlock()
	for _, e := range wc.m[key] {
		if sameBits(e.w, w) {
			if byID {
				wc.byPtr[pk] = e
			}
			return e
		}
	}
	e := fresh()
	wc.m[key] = append(wc.m[key], e)
	if byID {
		wc.byPtr[pk] = e
	}
	return e
}

// quantizeChannels returns QuantizeChannel(w[ch*k:(ch+1)*k], q) for each
// channel in chans (in chans order), and, when chans is every channel in
// order, the codes of all of them as one [c][k] array. Results come from
// c's memo when c is not nil; missing channels are computed in parallel,
// each independently, so the result does not depend on scheduling. The
// returned codes are shared with the memo and must not be modified.
func quantizeChannels(c *Calibration, w []float32, k int, chans []int, q int) ([][]int8, []float32, []int8) {
	codes := make([][]int8, len(chans))
	scales := make([]float32, len(chans))
	if k == 0 {
		for i := range codes {
			codes[i] = []int8{}
		}
		return codes, scales, nil
	}
	lq := layerQuantOf(c, w, k, q)
	lq.mu.Lock()
	defer lq.mu.Unlock()
	var miss []int
	for _, ch := range chans {
		if !lq.done[ch] {
			miss = append(miss, ch)
			lq.done[ch] = true // chans may repeat a channel
		}
	}
	if len(miss) > 0 {
		workers := min(runtime.GOMAXPROCS(0), len(miss))
		if len(miss)*k < 1<<14 {
			workers = 1
		}
		par.ForWorkers(workers, len(miss), func(j int) {
			ch := miss[j]
			cs, s := QuantizeChannel(w[ch*k:(ch+1)*k], q)
			copy(lq.codes[ch*k:(ch+1)*k], cs)
			lq.scales[ch] = s
		})
	}
	inOrder := len(chans) == len(lq.done)
	for i, ch := range chans {
		codes[i], scales[i] = lq.codes[ch*k:(ch+1)*k:(ch+1)*k], lq.scales[ch]
		inOrder = inOrder && ch == i
	}
	if inOrder {
		return codes, scales, lq.codes
	}
	return codes, scales, nil
}
