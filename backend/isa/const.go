package isa

import (
	"fmt"
	"math"
)

// ConstKind is the type of a constant descriptor.
type ConstKind uint16

// The descriptor kinds.
const (
	KWin     ConstKind = 1  // window geometry of an MVM
	KReq     ConstKind = 2  // requantization table
	KQuant   ConstKind = 3  // float → code
	KDeq     ConstKind = 4  // code → float
	KAdd     ConstKind = 5  // residual add
	KRescale ConstKind = 6  // code rescale
	KPool    ConstKind = 7  // max/average pooling
	KGap     ConstKind = 8  // global average pooling
	KCopy    ConstKind = 9  // strided copy
	KPerm    ConstKind = 10 // transpose
	KSoftmax ConstKind = 11 // (log-)softmax
	KFop     ConstKind = 12 // float operation (fop)
)

// CField is one fixed field of a descriptor. Float fields hold the bits of
// a float32.
type CField struct {
	Name  string
	Float bool
	Doc   string
}

// ConstInfo is one row of the descriptor table.
type ConstInfo struct {
	Name   string
	Fields []CField
	// Tail names the variable-length list after the fixed fields, and
	// TailLen computes its length from them (nil: no tail).
	Tail    string
	TailDoc string
	TailLen func(v []int64) (int64, bool)
	// Check validates the fixed fields and the tail (hardware-independent).
	Check func(v []int64) error
	Doc   string
}

// Const is one descriptor: Vals holds the fixed fields then the tail.
type Const struct {
	Kind ConstKind
	Vals []int64
}

// Get returns the named fixed field.
func (c Const) Get(name string) int64 {
	info := kindInfo(c.Kind)
	for i, f := range info.Fields {
		if f.Name == name {
			return c.Vals[i]
		}
	}
	panic("BUG: descriptor " + info.Name + " has no field " + name)
}

// Tail returns the variable-length part.
func (c Const) Tail() []int64 { return c.Vals[len(kindInfo(c.Kind).Fields):] }

// F32 returns a float field.
func (c Const) F32(name string) float32 { return math.Float32frombits(uint32(c.Get(name))) }

// F32Bits stores a float32 in a descriptor value.
func F32Bits(f float32) int64 { return int64(math.Float32bits(f)) }

func (k ConstKind) Info() *ConstInfo { return kindInfo(k) }

func (k ConstKind) String() string {
	if i := kindInfo(k); i != nil {
		return i.Name
	}
	return fmt.Sprintf("const(%d)", int(k))
}

func fields(names ...string) []CField {
	out := make([]CField, len(names))
	for i, n := range names {
		out[i] = CField{Name: n}
	}
	return out
}

// Limits of descriptor values (hardware-independent sanity bounds that
// also keep every derived product inside int64).
const (
	maxDim   = 1 << 24 // one dimension
	maxElems = 1 << 31 // elements of one tensor
	maxBits  = 31      // code widths
	maxShift = 62
)

type checker struct {
	v   []int64
	f   []CField
	err error
}

func (c *checker) in(name string, lo, hi int64) int64 {
	for i, f := range c.f {
		if f.Name == name {
			x := c.v[i]
			if c.err == nil && (x < lo || x > hi) {
				c.err = fmt.Errorf("%s=%d outside %d..%d", name, x, lo, hi)
			}
			return x
		}
	}
	panic("BUG: no field " + name)
}

func (c *checker) elems(names ...string) {
	p := int64(1)
	for _, n := range names {
		p *= c.in(n, 0, maxDim)
		if p > maxElems {
			if c.err == nil {
				c.err = fmt.Errorf("%v spans more than %d elements", names, int64(maxElems))
			}
			return
		}
	}
}

func (c *checker) rangeLoHi() {
	lo := c.in("lo", math.MinInt32, math.MaxInt32)
	hi := c.in("hi", math.MinInt32, math.MaxInt32)
	if c.err == nil && lo > hi {
		c.err = fmt.Errorf("lo=%d above hi=%d", lo, hi)
	}
}

func (c *checker) mult(name string) { c.in(name, -(1 << 40), 1<<40) }

func check(info func() *ConstInfo, f func(c *checker)) func(v []int64) error {
	return func(v []int64) error {
		c := &checker{v: v, f: info().Fields}
		f(c)
		return c.err
	}
}

var constTable [64]*ConstInfo

// kindInfo is the table entry of a kind, nil for an unknown one.
func kindInfo(k ConstKind) *ConstInfo {
	if int(k) < len(constTable) {
		return constTable[k]
	}
	return nil
}

func init() {
	def := func(k ConstKind, info *ConstInfo, chk func(c *checker)) {
		info.Check = check(func() *ConstInfo { return constTable[k] }, chk)
		constTable[k] = info
	}
	def(KWin, &ConstInfo{Name: "win",
		Doc: "Window geometry of a convolution or fully-connected layer: which activation-buffer words form the canonical input vector of each window, " +
			"and where its partial sums go. Row k = (ky·kw + kx)·cg + c of window w = (b·oh + oy)·ow + ox reads channel c0+c of image b at " +
			"(oy·sh − pt + ky·dh, ox·sw − pl + kx·dw); outside the h×w image it reads 0. The accumulator of output channel ch of window w goes to " +
			"psum + (b·cout + ch)·oh·ow + oy·ow + ox. A fully-connected layer is h = w = kh = kw = 1 with the rows of its input as b.",
		Fields: []CField{{Name: "in", Doc: "activation-buffer address of the NCHW input"}, {Name: "n", Doc: "images (batch)"},
			{Name: "c", Doc: "input channels"}, {Name: "h"}, {Name: "w"},
			{Name: "c0", Doc: "first input channel of the group"}, {Name: "cg", Doc: "channels per group"},
			{Name: "kh"}, {Name: "kw"}, {Name: "sh"}, {Name: "sw"}, {Name: "dh"}, {Name: "dw"},
			{Name: "pt", Doc: "padding at the top"}, {Name: "pl", Doc: "padding at the left"},
			{Name: "oh"}, {Name: "ow"},
			{Name: "xbits", Doc: "input code width: bit planes applied on SRAM"}, {Name: "signed", Doc: "1 if the input codes are two's complement"},
			{Name: "thr", Doc: "eDRAM binary input: 1 iff code ≥ thr"},
			{Name: "psum", Doc: "partial-sum buffer address of the layer's accumulators"}, {Name: "cout", Doc: "output channels (partial-sum channel stride count)"}},
	}, func(c *checker) {
		c.in("in", 0, 1<<addrBits-1)
		c.elems("n", "c", "h", "w")
		c.elems("n", "cout", "oh", "ow")
		for _, f := range []string{"n", "c", "h", "w", "cg", "kh", "kw", "sh", "sw", "dh", "dw", "oh", "ow", "cout"} {
			c.in(f, 1, maxDim)
		}
		c0, cg, ch := c.in("c0", 0, maxDim), c.in("cg", 1, maxDim), c.in("c", 1, maxDim)
		if c.err == nil && c0+cg > ch {
			c.err = fmt.Errorf("group channels c0=%d + cg=%d exceed c=%d", c0, cg, ch)
		}
		c.in("pt", 0, maxDim)
		c.in("pl", 0, maxDim)
		c.in("xbits", 1, 16)
		c.in("signed", 0, 1)
		c.in("thr", math.MinInt32, math.MaxInt32)
		c.in("psum", 0, 1<<addrBits-1)
		c.elems("kh", "kw", "cg")
	})
	def(KReq, &ConstInfo{Name: "req",
		Doc: "Requantization of n × cout × p accumulators (NCHW order) into codes.",
		Fields: []CField{{Name: "n"}, {Name: "cout"}, {Name: "p", Doc: "positions per channel"}, {Name: "lo"}, {Name: "hi"},
			{Name: "psum", Doc: "partial-sum buffer address of the accumulators"},
			{Name: "hasres", Doc: "1: add res·R from the residual codes at res"}, {Name: "res", Doc: "activation-buffer address of the residual codes"},
			{Name: "obits", Doc: "stored width of the output codes"}, {Name: "rbits", Doc: "stored width of the residual codes (0 without)"},
			{Name: "psums", Doc: "row-tile partial sums the PPU adds per window (Σ over paths of channels × (row tiles − 1))"}},
		Tail: "rq", TailDoc: "cout rows of (M, B, S, R)",
		TailLen: func(v []int64) (int64, bool) {
			if v[1] < 0 || v[1] > maxDim {
				return 0, false
			}
			return 4 * v[1], true
		},
	}, func(c *checker) {
		c.elems("n", "cout", "p")
		c.rangeLoHi()
		c.in("hasres", 0, 1)
		c.in("psum", 0, 1<<addrBits-1)
		c.in("res", 0, 1<<addrBits-1)
		c.in("obits", 1, 64)
		c.in("rbits", 0, 64)
		c.in("psums", 0, maxElems)
		fixed := len(c.f)
		for i := fixed; i+3 < len(c.v) && c.err == nil; i += 4 {
			if s := c.v[i+2]; s < 0 || s > maxShift {
				c.err = fmt.Errorf("rq row %d: shift %d outside 0..%d", (i-fixed)/4, s, maxShift)
			}
		}
	})
	def(KQuant, &ConstInfo{Name: "quant", Doc: "Input quantization.",
		Fields: []CField{{Name: "scale", Float: true}, {Name: "lo"}, {Name: "hi"}, {Name: "obits"}}},
		func(c *checker) {
			c.rangeLoHi()
			c.in("obits", 1, 64)
			if c.err == nil {
				if s := math.Float32frombits(uint32(c.v[0])); !(s > 0) || math.IsInf(float64(s), 0) || c.v[0] < 0 || c.v[0] > math.MaxUint32 {
					c.err = fmt.Errorf("scale must be a positive finite float32")
				}
			}
		})
	def(KDeq, &ConstInfo{Name: "deq", Doc: "Output dequantization.", Fields: []CField{{Name: "scale", Float: true}, {Name: "ibits"}}},
		func(c *checker) {
			c.in("scale", 0, math.MaxUint32)
			c.in("ibits", 1, 64)
		})
	def(KAdd, &ConstInfo{Name: "add", Doc: "Residual add.", Fields: fields("n", "ma", "mb", "shift", "lo", "hi", "abits", "bbits", "obits")},
		func(c *checker) {
			c.in("n", 0, maxElems)
			c.in("abits", 1, 64)
			c.in("bbits", 1, 64)
			c.in("obits", 1, 64)
			c.mult("ma")
			c.mult("mb")
			c.in("shift", 0, maxShift)
			c.rangeLoHi()
		})
	def(KRescale, &ConstInfo{Name: "rescale", Doc: "Code rescale.", Fields: fields("m", "shift", "lo", "hi", "ibits", "obits")},
		func(c *checker) {
			c.mult("m")
			c.in("ibits", 1, 64)
			c.in("obits", 1, 64)
			c.in("shift", 0, maxShift)
			c.rangeLoHi()
		})
	def(KPool, &ConstInfo{Name: "pool", Doc: "2-D pooling geometry over nc planes of h×w codes; avg=1 for avgpool, which also uses incpad, mults, shift, lo, hi.",
		Fields: fields("nc", "h", "w", "oh", "ow", "kh", "kw", "sh", "sw", "pt", "pl", "pb", "pr", "dh", "dw", "avg", "incpad", "shift", "lo", "hi", "ibits", "obits"),
		Tail:   "mults", TailDoc: "kh·kw multipliers, one per window divisor d (mults[d−1]); empty for maxpool",
		TailLen: func(v []int64) (int64, bool) {
			if v[5] < 0 || v[6] < 0 || v[5] > 64 || v[6] > 64 {
				return 0, false
			}
			if v[15] != 1 { // maxpool: no multipliers
				return 0, true
			}
			return v[5] * v[6], true
		},
	}, func(c *checker) {
		c.elems("nc", "h", "w")
		c.elems("nc", "oh", "ow")
		for _, f := range []string{"nc", "h", "w", "oh", "ow", "sh", "sw", "dh", "dw"} {
			c.in(f, 1, maxDim)
		}
		c.in("kh", 1, 64)
		c.in("kw", 1, 64)
		for _, f := range []string{"pt", "pl", "pb", "pr"} {
			c.in(f, 0, maxDim)
		}
		c.in("avg", 0, 1)
		c.in("incpad", 0, 1)
		c.in("ibits", 1, 64)
		c.in("obits", 1, 64)
		c.in("shift", 0, maxShift)
		c.rangeLoHi()
		for _, m := range c.v[len(c.f):] {
			if c.err == nil && (m < -(1<<40) || m > 1<<40) {
				c.err = fmt.Errorf("multiplier %d outside ±2^40", m)
			}
		}
	})
	def(KGap, &ConstInfo{Name: "gap", Doc: "Global average pooling of nc channels of hw codes each.", Fields: fields("nc", "hw", "m", "shift", "lo", "hi", "ibits", "obits")},
		func(c *checker) {
			c.in("ibits", 1, 64)
			c.in("obits", 1, 64)
			c.elems("nc", "hw")
			c.in("nc", 1, maxDim)
			c.in("hw", 1, maxDim)
			c.mult("m")
			c.in("shift", 0, maxShift)
			c.rangeLoHi()
		})
	def(KCopy, &ConstInfo{Name: "copy", Doc: "Strided copy geometry.", Fields: fields("rows", "len", "sstride", "dstride", "bits")},
		func(c *checker) {
			c.in("bits", 1, 64)
			c.elems("rows", "len")
			c.elems("rows", "sstride")
			c.elems("rows", "dstride")
		})
	def(KPerm, &ConstInfo{Name: "perm", Doc: "Transpose of a dense tensor.", Fields: fields("rank", "bits"),
		Tail: "shape_perm", TailDoc: "rank dimensions of the input, then the rank-element permutation (output axis i is input axis perm[i])",
		TailLen: func(v []int64) (int64, bool) {
			if v[0] < 1 || v[0] > 8 {
				return 0, false
			}
			return 2 * v[0], true
		},
	}, func(c *checker) {
		r := int(c.in("rank", 1, 8))
		c.in("bits", 1, 64)
		if c.err != nil {
			return
		}
		t := c.v[len(c.f):]
		p := int64(1)
		seen := make([]bool, r)
		for i := 0; i < r; i++ {
			if t[i] < 1 || t[i] > maxDim {
				c.err = fmt.Errorf("dimension %d is %d", i, t[i])
				return
			}
			if p *= t[i]; p > maxElems {
				c.err = fmt.Errorf("transpose of more than %d elements", int64(maxElems))
				return
			}
			q := t[r+i]
			if q < 0 || q >= int64(r) || seen[q] {
				c.err = fmt.Errorf("perm is not a permutation of 0..%d", r-1)
				return
			}
			seen[q] = true
		}
	})
	def(KSoftmax, &ConstInfo{Name: "softmax", Doc: "(Log-)softmax geometry: outer × dim × inner float32 words, normalised along dim.",
		Fields: fields("outer", "dim", "inner", "log")},
		func(c *checker) {
			c.elems("outer", "dim", "inner")
			c.in("outer", 1, maxDim)
			c.in("dim", 1, maxDim)
			c.in("inner", 1, maxDim)
			c.in("log", 0, 1)
		})
	def(KFop, &ConstInfo{Name: "fop",
		Doc: "Float operation of a `fop` instruction on batch × c × inner float32 words (the tensor's shape as N, C, the rest; " +
			"elementwise operations ignore the split). `op` is a float-operation number of the table below; size, mode and the float " +
			"parameters an operation does not use must be 0.",
		Fields: []CField{{Name: "op", Doc: "float operation (table \"Float operations\")"}, {Name: "batch", Doc: "N"},
			{Name: "c", Doc: "channels (LRN sums across them)"}, {Name: "inner", Doc: "elements per channel"},
			{Name: "size", Doc: "LRN window (1..2^24); 0 otherwise"}, {Name: "mode", Doc: "Gelu: 0 exact, 1 tanh approximation; 0 otherwise"},
			{Name: "f0", Float: true, Doc: "first float parameter"}, {Name: "f1", Float: true, Doc: "second float parameter"},
			{Name: "f2", Float: true, Doc: "third float parameter"}},
	}, func(c *checker) {
		op := FloatOp(c.in("op", 1, 255))
		info := op.Info()
		if c.err == nil && info == nil {
			c.err = fmt.Errorf("unknown float operation %d", int64(op))
		}
		c.elems("batch", "c", "inner")
		c.in("batch", 1, maxDim)
		c.in("c", 1, maxDim)
		c.in("inner", 1, maxDim)
		if c.err != nil {
			return
		}
		if info.Size {
			c.in("size", 1, maxDim)
		} else {
			c.in("size", 0, 0)
		}
		c.in("mode", 0, info.Mode)
		for i, name := range info.Floats {
			if name == "" && c.err == nil && c.v[6+i] != 0 {
				c.err = fmt.Errorf("%s does not use f%d, which must be 0", info.Name, i)
			}
		}
	})
}

// ConstKinds lists every descriptor kind in numeric order.
func ConstKinds() []ConstKind {
	var out []ConstKind
	for k := ConstKind(0); int(k) < len(constTable); k++ {
		if constTable[k] != nil {
			out = append(out, k)
		}
	}
	return out
}

func lookupConstKind(name string) (ConstKind, bool) {
	for k, info := range constTable {
		if info != nil && info.Name == name {
			return ConstKind(k), true
		}
	}
	return 0, false
}

// validate checks a descriptor's length and values.
func (c Const) validate() error {
	info := kindInfo(c.Kind)
	if info == nil {
		return fmt.Errorf("unknown descriptor kind %d", c.Kind)
	}
	nf := len(info.Fields)
	if len(c.Vals) < nf {
		return fmt.Errorf("%s: %d values, want at least %d", info.Name, len(c.Vals), nf)
	}
	var tail int64
	if info.TailLen != nil {
		n, ok := info.TailLen(c.Vals[:nf])
		if !ok {
			return fmt.Errorf("%s: fields do not give a valid %s length", info.Name, info.Tail)
		}
		tail = n
	}
	if int64(len(c.Vals)-nf) != tail {
		return fmt.Errorf("%s: %d values after the fixed fields, want %d", info.Name, len(c.Vals)-nf, tail)
	}
	for i, f := range info.Fields {
		if f.Float && (c.Vals[i] < 0 || c.Vals[i] > math.MaxUint32) {
			return fmt.Errorf("%s: %s=%d is not a float32 bit pattern", info.Name, f.Name, c.Vals[i])
		}
	}
	if err := info.Check(c.Vals); err != nil {
		return fmt.Errorf("%s: %w", info.Name, err)
	}
	return nil
}
