package dualnet

import (
	"math"
	"math/bits"
	"runtime"
	"sync"
)

// weightCache memoises per-channel weight quantization (QuantizeChannel)
// on a Calibration. pimc compile quantizes the same calibrated module three
// times (chosen ratios, r = 1 and r = 0 baselines, each on an ir.Module
// Clone sharing the constant tensors and the Calibration); the INT4 and
// INT8 codes and MSE scales of a channel depend only on its weights and q,
// not on the split ratio, so each is searched once. Entries are keyed by a
// hash of the weights and verified bit for bit, so a hit returns exactly
// what QuantizeChannel would.
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
	m     map[wqKey][]*wqEntry
	fc    fitCache // fit statistics (qcache.go)
	hs    map[hsKey][]*hsEntry
	te    map[wqKey][]*teEntry
	byPtr map[ptrKey]*wqEntry
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
	w     []float32 // not copied
	errs  []float64
	t     [][]int8 // TWN codes per channel (shared: callers must not modify)
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
// codes are shared and must not be modified.
func ternary(cal *Calibration, w []float32, k, c int) *teEntry {
	var wc *weightCache
	var key wqKey
	pk, byID := keyOf(w, c)
	if cal != nil {
		wc = cal.weights()
		wc.mu.Lock()
		if e := wc.tePtr[pk]; byID && e != nil {
			wc.mu.Unlock()
			return e
		}
		wc.mu.Unlock()
		key = wqKey{h: hashWeights(w), n: k, q: c}
		wc.mu.Lock()
		for _, e := range wc.te[key] {
			if sameBits(e.w, w) {
				if byID {
					wc.tePtr[pk] = e
				}
				wc.mu.Unlock()
				return e
			}
		}
		wc.mu.Unlock()
	}
	e := &teEntry{w: w, errs: make([]float64, c), t: make([][]int8, c), alpha: make([]float32, c)}
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
				e.t[ch], e.alpha[ch] = t, a
				e.errs[ch] = ternaryErrorOf(wch, t, a)
			}
		}()
	}
	wg.Wait()
	if wc != nil {
		wc.mu.Lock()
		wc.te[key] = append(wc.te[key], e)
		if byID {
			wc.tePtr[pk] = e
		}
		wc.mu.Unlock()
	}
	return e
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

type wqEntry struct {
	w     []float32 // the weights the entry was computed from (not copied)
	codes []int8    // shared: callers must not modify
	scale float32
}

var wcacheMu sync.Mutex

func (c *Calibration) weights() *weightCache {
	wcacheMu.Lock()
	defer wcacheMu.Unlock()
	if c.wq == nil {
		c.wq = &weightCache{m: map[wqKey][]*wqEntry{}, hs: map[hsKey][]*hsEntry{}, te: map[wqKey][]*teEntry{},
			byPtr: map[ptrKey]*wqEntry{}, tePtr: map[ptrKey]*teEntry{}}
	}
	return c.wq
}

// hashWeights keys the memos by weight content. It runs over every weight
// several times per compile (each variant's dual-split and quantize look
// layers up), so it hashes 8 weights per step in four independent
// multiply-rotate lanes rather than one serial FNV chain; a hit is still
// verified bit for bit (sameBits).
func hashWeights(w []float32) uint64 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	h0, h1, h2, h3 := uint64(m1), uint64(m2), uint64(len(w)), uint64(m1^m2)
	b := func(i int) uint64 { return uint64(math.Float32bits(w[i])) }
	i := 0
	for ; i+8 <= len(w); i += 8 {
		h0 = bits.RotateLeft64((h0^(b(i)|b(i+1)<<32))*m1, 31)
		h1 = bits.RotateLeft64((h1^(b(i+2)|b(i+3)<<32))*m1, 31)
		h2 = bits.RotateLeft64((h2^(b(i+4)|b(i+5)<<32))*m1, 31)
		h3 = bits.RotateLeft64((h3^(b(i+6)|b(i+7)<<32))*m1, 31)
	}
	for ; i < len(w); i++ {
		h0 = bits.RotateLeft64((h0^b(i))*m1, 31)
	}
	h := h0 ^ bits.RotateLeft64(h1, 17) ^ bits.RotateLeft64(h2, 29) ^ bits.RotateLeft64(h3, 43)
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

// quantizeChannels returns QuantizeChannel(w[ch*k:(ch+1)*k], q) for each
// channel in chans (in chans order). Results come from c's cache when c is
// not nil; misses are computed in parallel, each channel independently, so
// the result does not depend on scheduling. The returned codes are shared
// with the cache and must not be modified.
func quantizeChannels(c *Calibration, w []float32, k int, chans []int, q int) ([][]int8, []float32) {
	codes := make([][]int8, len(chans))
	scales := make([]float32, len(chans))
	var wc *weightCache
	keys := make([]wqKey, len(chans))
	var miss []int
	if c != nil {
		wc = c.weights()
		var unknown []int // not found by identity
		wc.mu.Lock()
		for i, ch := range chans {
			pk, ok := keyOf(w[ch*k:(ch+1)*k], q)
			if e := wc.byPtr[pk]; ok && e != nil {
				codes[i], scales[i] = e.codes, e.scale
			} else {
				unknown = append(unknown, i)
			}
		}
		wc.mu.Unlock()
		for _, i := range unknown {
			ch := chans[i]
			keys[i] = wqKey{h: hashWeights(w[ch*k : (ch+1)*k]), n: k, q: q}
		}
		wc.mu.Lock()
		for _, i := range unknown {
			ch := chans[i]
			hit := false
			for _, e := range wc.m[keys[i]] {
				if sameBits(e.w, w[ch*k:(ch+1)*k]) {
					codes[i], scales[i], hit = e.codes, e.scale, true
					if pk, ok := keyOf(w[ch*k:(ch+1)*k], q); ok {
						wc.byPtr[pk] = e
					}
					break
				}
			}
			if !hit {
				miss = append(miss, i)
			}
		}
		wc.mu.Unlock()
	} else {
		miss = make([]int, len(chans))
		for i := range miss {
			miss[i] = i
		}
	}
	if len(miss) == 0 {
		return codes, scales
	}
	workers := min(runtime.GOMAXPROCS(0), len(miss))
	if len(miss)*k < 1<<14 {
		workers = 1
	}
	var wg sync.WaitGroup
	var next int64
	var nmu sync.Mutex
	take := func() int {
		nmu.Lock()
		defer nmu.Unlock()
		i := next
		next++
		return int(i)
	}
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := take(); j < len(miss); j = take() {
				i := miss[j]
				ch := chans[i]
				codes[i], scales[i] = QuantizeChannel(w[ch*k:(ch+1)*k], q)
			}
		}()
	}
	wg.Wait()
	if wc != nil {
		wc.mu.Lock()
		for _, i := range miss {
			ch := chans[i]
			e := &wqEntry{w: w[ch*k : (ch+1)*k], codes: codes[i], scale: scales[i]}
			wc.m[keys[i]] = append(wc.m[keys[i]], e)
			if pk, ok := keyOf(e.w, q); ok {
				wc.byPtr[pk] = e
			}
		}
		wc.mu.Unlock()
	}
	return codes, scales
}
