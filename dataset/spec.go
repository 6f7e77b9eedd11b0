package dataset

import (
	"fmt"
	"math"
)

// Layout is the memory order of the model's input tensor.
type Layout int

// The zero Layout is NCHW, the ONNX default.
const (
	NCHW Layout = iota
	NHWC
)

func (l Layout) String() string {
	switch l {
	case NCHW:
		return "nchw"
	case NHWC:
		return "nhwc"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// ParseLayout reads "nchw" or "nhwc".
func ParseLayout(s string) (Layout, error) {
	switch s {
	case "nchw", "NCHW":
		return NCHW, nil
	case "nhwc", "NHWC":
		return NHWC, nil
	}
	return 0, fmt.Errorf("unknown layout %q (want nchw or nhwc)", s)
}

// Spec describes the model input and the preprocessing of a pixel p in
// 0..255 into input channel c:
//
//	x = (p*Scale - Mean[c]) / Std[c]
//
// computed in float32. Mean and Std index the model's channels, i.e. after
// the BGR swap, and may have one element (used for every channel) or C.
// The zero Spec means: geometry from the data, NCHW, RGB, Scale 1/255 (the
// MANIFEST convention; set Scale 1 for raw 0..255), Mean 0, Std 1.
type Spec struct {
	C, H, W   int // model input channels (1 or 3), height, width; 0 = from the data
	Layout    Layout
	Scale     float32
	Mean, Std []float32
	BGR       bool // feed channels as B, G, R
	Gray      bool // convert colour images to one luma channel
}

// DefaultScale is the Scale used when Spec.Scale is zero.
const DefaultScale = float32(1.0 / 255)

// check validates what can be checked before the data is seen.
func (sp Spec) check() error {
	if sp.C != 0 && sp.C != 1 && sp.C != 3 {
		return fmt.Errorf("spec: %d channels unsupported (want 1 or 3)", sp.C)
	}
	if sp.H < 0 || sp.W < 0 || (sp.H == 0) != (sp.W == 0) {
		return fmt.Errorf("spec: height %d and width %d must both be positive or both 0", sp.H, sp.W)
	}
	if sp.Gray && sp.C == 3 {
		return fmt.Errorf("spec: gray conversion asked for a 3-channel model")
	}
	if sp.BGR && sp.C == 1 {
		return fmt.Errorf("spec: bgr asked for a 1-channel model")
	}
	if sp.Layout != NCHW && sp.Layout != NHWC {
		return fmt.Errorf("spec: unknown layout %d", int(sp.Layout))
	}
	if bad(sp.Scale) || sp.Scale < 0 {
		return fmt.Errorf("spec: scale %g must be finite and not negative", sp.Scale)
	}
	for _, m := range sp.Mean {
		if bad(m) {
			return fmt.Errorf("spec: mean %g is not finite", m)
		}
	}
	for _, s := range sp.Std {
		if bad(s) || s == 0 {
			return fmt.Errorf("spec: std %g must be finite and non-zero", s)
		}
	}
	if len(sp.Mean) > 3 || len(sp.Std) > 3 {
		return fmt.Errorf("spec: %d means and %d stds for at most 3 channels", len(sp.Mean), len(sp.Std))
	}
	return nil
}

func bad(f float32) bool { return math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) }

// resolve fills in the geometry from the loaded data and checks that the
// data fits the model. Colour data for a 1-channel model is converted here
// (folder and tar loaders already did it per image).
func (sp Spec) resolve(st *store) (Spec, error) {
	if sp.H == 0 {
		sp.H, sp.W = st.h, st.w
	} else if sp.H != st.h || sp.W != st.w {
		return sp, fmt.Errorf("%s: images are %dx%d (HxW), the model wants %dx%d; resize the data, pimc does not",
			st.name, st.h, st.w, sp.H, sp.W)
	}
	if st.c == 3 && (sp.C == 1 || sp.Gray) {
		if err := grayify(st, sp.Gray); err != nil {
			return sp, err
		}
	}
	if sp.C == 0 {
		sp.C = st.c
	}
	if sp.BGR && sp.C == 1 {
		return sp, fmt.Errorf("%s: bgr asked for 1-channel images", st.name)
	}
	for _, v := range []struct {
		what string
		n    int
	}{{"mean", len(sp.Mean)}, {"std", len(sp.Std)}} {
		if v.n > 1 && v.n != sp.C {
			return sp, fmt.Errorf("%s: %d %s values for %d channels (give 1 or %d)", st.name, v.n, v.what, sp.C, sp.C)
		}
	}
	if sp.Scale == 0 {
		sp.Scale = DefaultScale
	}
	return sp, nil
}

// tables precomputes x for every pixel value and model channel, and which
// raw channel feeds each model channel (gray is replicated, BGR reversed).
func (sp Spec) tables(rawC int) ([][256]float32, []int) {
	lut := make([][256]float32, sp.C)
	src := make([]int, sp.C)
	for c := range sp.C {
		mean, std := pick(sp.Mean, c, 0), pick(sp.Std, c, 1)
		for p := range 256 {
			lut[c][p] = (float32(p)*sp.Scale - mean) / std
		}
		switch {
		case rawC == 1:
			src[c] = 0
		case sp.BGR:
			src[c] = 2 - c
		default:
			src[c] = c
		}
	}
	return lut, src
}

func pick(v []float32, c int, def float32) float32 {
	switch len(v) {
	case 0:
		return def
	case 1:
		return v[0]
	}
	return v[c]
}

// appendPixels writes one HWC uint8 image as model input.
func (sp Spec) appendPixels(dst []float32, raw []uint8, rawC int, lut [][256]float32, src []int) []float32 {
	hw := sp.H * sp.W
	n := len(dst)
	dst = grow(dst, hw*sp.C)
	out := dst[n:]
	if sp.Layout == NHWC {
		for p := range hw {
			px := raw[p*rawC : p*rawC+rawC]
			for c := range sp.C {
				out[p*sp.C+c] = lut[c][px[src[c]]]
			}
		}
		return dst
	}
	for c := range sp.C {
		t, o := &lut[c], out[c*hw:(c+1)*hw]
		for p := range o {
			o[p] = t[raw[p*rawC+src[c]]]
		}
	}
	return dst
}

func grow(s []float32, n int) []float32 {
	if cap(s)-len(s) >= n {
		return s[:len(s)+n]
	}
	t := make([]float32, len(s)+n, len(s)+n+(len(s)+n)/4)
	copy(t, s)
	return t
}

// grayify turns 3-channel pixels into 1 channel. Images whose channels are
// all equal are gray already and convert exactly; others need luma (--gray).
func grayify(st *store, luma bool) error {
	hw := st.h * st.w
	out := make([]uint8, len(st.pix)/3)
	for i := range st.len() {
		if err := toGray(out[i*hw:(i+1)*hw], st.pix[i*hw*3:(i+1)*hw*3], luma); err != nil {
			return fmt.Errorf("%s: %w", st.item(i), err)
		}
	}
	st.pix, st.c = out, 1
	return nil
}

// toGray converts one RGB image; luma is ITU-R BT.601 in 16-bit fixed point,
// the weights Go's color.GrayModel uses.
func toGray(dst, rgb []uint8, luma bool) error {
	for p := range dst {
		r, g, b := rgb[3*p], rgb[3*p+1], rgb[3*p+2]
		if r == g && g == b {
			dst[p] = r
			continue
		}
		if !luma {
			return errColour
		}
		dst[p] = uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
	}
	return nil
}

var errColour = fmt.Errorf("colour image for a 1-channel model (use --gray to convert to luma)")
