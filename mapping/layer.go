package mapping

import (
	"fmt"
	"math"
)

// Kind says what a layer is. It is descriptive: the geometry alone decides
// the mapping, and Validate checks that Kind and geometry agree.
type Kind string

const (
	// KindConv is a dense convolution (Group = 1).
	KindConv Kind = "conv"
	// KindGrouped is a grouped convolution (Group > 1); depthwise is the case
	// Group = IC.
	KindGrouped Kind = "grouped"
	// KindFC is a fully-connected layer: a 1×1 convolution on a 1×1 map.
	KindFC Kind = "fc"
)

// Layer is the geometry of one convolution or fully-connected layer. Zero
// strides, dilations and group mean 1; an empty Kind is inferred. For KindFC
// the map and kernel sizes may be left zero (they are 1).
type Layer struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`

	IH int `json:"ih"` // input map height, before padding
	IW int `json:"iw"` // input map width, before padding
	KH int `json:"kh"` // kernel height
	KW int `json:"kw"` // kernel width
	IC int `json:"ic"` // input channels
	OC int `json:"oc"` // output channels

	SH int `json:"sh"` // stride, vertical
	SW int `json:"sw"` // stride, horizontal

	PadT int `json:"pad_top"`
	PadL int `json:"pad_left"`
	PadB int `json:"pad_bottom"`
	PadR int `json:"pad_right"`

	DH int `json:"dh"` // dilation, vertical
	DW int `json:"dw"` // dilation, horizontal

	Group int `json:"group"`
}

// Limits keep every count the package forms inside int64 (see docs/mapping.md).
const (
	maxMapDim = 1 << 16 // IH, IW, kernel, stride, dilation, padding
	maxChan   = 1 << 20 // IC, OC
	maxMACs   = 1 << 50 // OH·OW·KH·KW·IC/G·OC
	maxWeight = 1 << 36 // KH·KW·IC/G·OC
)

// Normalized returns the layer with defaults filled in (stride, dilation,
// group 1; Kind inferred; FC sizes 1) and checks it. Errors name the layer.
func (l Layer) Normalized() (Layer, error) {
	one := func(p *int) {
		if *p == 0 {
			*p = 1
		}
	}
	one(&l.SH)
	one(&l.SW)
	one(&l.DH)
	one(&l.DW)
	one(&l.Group)
	if l.Kind == KindFC {
		one(&l.IH)
		one(&l.IW)
		one(&l.KH)
		one(&l.KW)
	}
	if l.Kind == "" {
		switch {
		case l.Group > 1:
			l.Kind = KindGrouped
		default:
			l.Kind = KindConv
		}
	}
	if err := l.check(); err != nil {
		return l, err
	}
	return l, nil
}

// Validate checks a layer as Normalized would.
func (l Layer) Validate() error {
	_, err := l.Normalized()
	return err
}

func (l Layer) errorf(format string, args ...any) error {
	name := l.Name
	if name == "" {
		name = "(unnamed)"
	}
	return fmt.Errorf("mapping: layer %q: %s", name, fmt.Sprintf(format, args...))
}

func (l Layer) check() error {
	type field struct {
		name      string
		v, lo, hi int
	}
	for _, f := range []field{
		{"ih", l.IH, 1, maxMapDim}, {"iw", l.IW, 1, maxMapDim},
		{"kh", l.KH, 1, maxMapDim}, {"kw", l.KW, 1, maxMapDim},
		{"ic", l.IC, 1, maxChan}, {"oc", l.OC, 1, maxChan},
		{"sh", l.SH, 1, maxMapDim}, {"sw", l.SW, 1, maxMapDim},
		{"dh", l.DH, 1, maxMapDim}, {"dw", l.DW, 1, maxMapDim},
		{"pad_top", l.PadT, 0, maxMapDim}, {"pad_left", l.PadL, 0, maxMapDim},
		{"pad_bottom", l.PadB, 0, maxMapDim}, {"pad_right", l.PadR, 0, maxMapDim},
		{"group", l.Group, 1, maxChan},
	} {
		if f.v < f.lo || f.v > f.hi {
			return l.errorf("%s=%d out of range [%d, %d]", f.name, f.v, f.lo, f.hi)
		}
	}
	if l.IC%l.Group != 0 || l.OC%l.Group != 0 {
		return l.errorf("ic=%d and oc=%d must both be divisible by group=%d", l.IC, l.OC, l.Group)
	}
	switch l.Kind {
	case KindConv:
		if l.Group != 1 {
			return l.errorf("kind %q needs group=1, got %d (use %q)", l.Kind, l.Group, KindGrouped)
		}
	case KindGrouped:
		if l.Group < 2 {
			return l.errorf("kind %q needs group>1, got %d", l.Kind, l.Group)
		}
	case KindFC:
		if l.IH != 1 || l.IW != 1 || l.KH != 1 || l.KW != 1 || l.Group != 1 ||
			l.PadT+l.PadL+l.PadB+l.PadR != 0 {
			return l.errorf("kind %q must be a 1x1 kernel on a 1x1 map, group 1, no padding", l.Kind)
		}
	default:
		return l.errorf("unknown kind %q (want %q, %q or %q)", l.Kind, KindConv, KindGrouped, KindFC)
	}
	if l.OH() < 1 || l.OW() < 1 {
		return l.errorf("kernel %dx%d (dilation %dx%d) does not fit the padded %dx%d map",
			l.KH, l.KW, l.DH, l.DW, l.IH+l.PadT+l.PadB, l.IW+l.PadL+l.PadR)
	}
	icg := l.IC / l.Group
	if w := float64(l.KH) * float64(l.KW) * float64(icg) * float64(l.OC); w > maxWeight {
		return l.errorf("%.3g weights exceed the supported %d", w, int64(maxWeight))
	}
	if m := float64(l.OH()) * float64(l.OW()) * float64(l.KH) * float64(l.KW) * float64(icg) * float64(l.OC); m > maxMACs {
		return l.errorf("%.3g MACs exceed the supported %d", m, int64(maxMACs))
	}
	return nil
}

// EffKH is the dilated kernel height DH·(KH−1)+1.
func (l Layer) EffKH() int { return l.DH*(l.KH-1) + 1 }

// EffKW is the dilated kernel width DW·(KW−1)+1.
func (l Layer) EffKW() int { return l.DW*(l.KW-1) + 1 }

// OH is the output height ⌊(IH+pt+pb−EffKH)/SH⌋+1 (≤ 0 if the kernel does not
// fit). Call on a normalized layer.
func (l Layer) OH() int { return outDim(l.IH+l.PadT+l.PadB, l.EffKH(), l.SH) }

// OW is the output width, as OH.
func (l Layer) OW() int { return outDim(l.IW+l.PadL+l.PadR, l.EffKW(), l.SW) }

func outDim(in, k, s int) int {
	if s <= 0 || in < k {
		return 0
	}
	return (in-k)/s + 1
}

// MACs is the multiply-accumulate count of the layer.
func (l Layer) MACs() int64 {
	return int64(l.OH()) * int64(l.OW()) * int64(l.KH) * int64(l.KW) * int64(l.IC/max(l.Group, 1)) * int64(l.OC)
}

// ceilDiv is ⌈a/b⌉ for a ≥ 0, b > 0.
func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// satMul and satAdd saturate at MaxInt64 so that extreme hardware numbers
// give a huge but ordered cost instead of a wrapped negative one.
func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
