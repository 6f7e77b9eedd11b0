package mapping

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestVWSDKPaperTable reproduces the VW-SDK authors' published table
// (512×512 array, 1-bit weights, stride 1, no padding), windows included.
func TestVWSDKPaperTable(t *testing.T) {
	tests := []struct {
		ifm, k, ic, oc     int
		im2col, sdk, vwsdk int64
		window             string
	}{
		{224, 3, 3, 64, 49284, 12321, 6216, "10x3x3x64"},
		{224, 3, 64, 64, 98568, 24642, 24642, "4x4x32x128"},
		{112, 3, 64, 128, 24200, 6050, 6050, "4x4x32x128"},
		{112, 3, 128, 128, 36300, 36300, 12100, "4x4x32x128"},
		{56, 3, 128, 256, 8748, 8748, 5832, "4x3x42x256"},
		{56, 3, 256, 256, 14580, 14580, 10206, "4x3x42x256"},
		{112, 7, 3, 64, 11236, 2809, 1431, "10x8x3x64"},
		{56, 3, 64, 64, 5832, 1458, 1458, "4x4x32x128"},
		{28, 3, 128, 128, 2028, 2028, 676, "4x4x32x128"},
		{14, 3, 256, 256, 720, 720, 504, "4x3x42x256"},
		{7, 3, 512, 512, 225, 225, 225, "3x3x512x512"},
	}
	arr := Array{Rows: 512, Cols: 512, WeightCols: 1}
	for _, tc := range tests {
		name := fmt.Sprintf("%d_%dx%dx%dx%d", tc.ifm, tc.k, tc.k, tc.ic, tc.oc)
		t.Run(name, func(t *testing.T) {
			l := Layer{Name: name, IH: tc.ifm, IW: tc.ifm, KH: tc.k, KW: tc.k, IC: tc.ic, OC: tc.oc}
			ms, err := MapAll(l, arr)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []int64{tc.im2col, tc.sdk, tc.vwsdk} {
				if ms[i].Cycles != want {
					t.Errorf("%s: cycles %d, want %d", ms[i].Scheme, ms[i].Cycles, want)
				}
				if ms[i].Cycles != ms[i].Windows*ms[i].Tiles {
					t.Errorf("%s: cycles %d != windows %d × tiles %d", ms[i].Scheme, ms[i].Cycles, ms[i].Windows, ms[i].Tiles)
				}
			}
			if ms[2].Window != tc.window {
				t.Errorf("vwsdk window %q, want %q", ms[2].Window, tc.window)
			}
		})
	}
}

// refCycles is a literal transcription of DESIGN.md §4 for square-or-not maps
// with group 1 and any stride/dilation: the cross-check for the optimised code.
func refCycles(l Layer, a Array) (im, sd, vw int64, win string) {
	l, _ = l.Normalized()
	cd := func(x, y int64) int64 { return (x + y - 1) / y }
	R, ce := int64(a.Rows), int64(a.Cols/a.WeightCols)
	oh, ow := int64(l.OH()), int64(l.OW())
	kk := int64(l.KH * l.KW)
	ic, oc := int64(l.IC), int64(l.OC)
	ur, uc := cd(kk*ic, R), cd(oc, ce)
	im = oh * ow * ur * uc
	n := int64(1)
	for m := int64(2); m <= max(oh, ow); m++ {
		h := int64(l.EffKH()) + (m-1)*int64(l.SH)
		w := int64(l.EffKW()) + (m-1)*int64(l.SW)
		if h*w*ic <= ur*R && m*m*oc <= uc*ce {
			n = m
		} else {
			break
		}
	}
	sd = cd(oh, n) * cd(ow, n) * ur * uc
	vw = -1
	for j := int64(1); j <= ow; j++ {
		for i := int64(1); i <= oh; i++ {
			h := int64(l.EffKH()) + (i-1)*int64(l.SH)
			w := int64(l.EffKW()) + (j-1)*int64(l.SW)
			ict := min(ic, R/(h*w))
			oct := ce / (i * j)
			if ict == 0 || oct == 0 {
				continue
			}
			c := cd(oh, i) * cd(ow, j) * cd(ic, ict) * cd(oc, oct)
			if vw < 0 || c < vw {
				vw, win = c, fmt.Sprintf("%dx%dx%dx%d", h, w, ict, oct)
			}
		}
	}
	if vw < 0 || vw >= im {
		vw, win = im, fmt.Sprintf("%dx%dx%dx%d", l.KH, l.KW, ic, oc)
	}
	return im, sd, vw, win
}

func randomLayer(r *rand.Rand, groups bool) Layer {
	k := []int{1, 1, 3, 3, 3, 5, 7, 11}[r.IntN(8)]
	kw := k
	if r.IntN(6) == 0 {
		kw = []int{1, 3, 5}[r.IntN(3)]
	}
	s := []int{1, 1, 1, 2, 2, 3, 4}[r.IntN(7)]
	d := 1
	if r.IntN(6) == 0 {
		d = 2
	}
	p := r.IntN(max(k/2, 1) + 1)
	h := max(k*d, 1) + r.IntN(60)
	w := h
	if r.IntN(4) == 0 {
		w = max(kw*d, 1) + r.IntN(60)
	}
	ic := []int{1, 3, 8, 16, 32, 64, 100, 128, 256, 512, 1000}[r.IntN(11)]
	oc := []int{1, 8, 10, 16, 32, 64, 96, 128, 256, 512, 1024}[r.IntN(11)]
	g := 1
	if groups && r.IntN(3) == 0 {
		g = []int{2, 4, 8}[r.IntN(3)]
		if r.IntN(2) == 0 {
			g = ic // depthwise
		}
		ic, oc = ic/g*g, oc/g*g
		if ic == 0 || oc == 0 {
			ic, oc = g, g
		}
	}
	return Layer{IH: h, IW: w, KH: k, KW: kw, IC: ic, OC: oc, SH: s, SW: s, DH: d, DW: d,
		PadT: p, PadL: p, PadB: p, PadR: p, Group: g}
}

func randomArray(r *rand.Rand) Array {
	a := Array{
		Rows:       []int{16, 32, 64, 100, 128, 256, 512, 1024}[r.IntN(8)],
		Cols:       []int{16, 32, 64, 128, 256, 512, 1024}[r.IntN(7)],
		WeightCols: []int{1, 2, 4, 8}[r.IntN(4)],
	}
	if a.WeightCols > a.Cols {
		a.WeightCols = 1
	}
	return a
}

// TestSchemesMatchReference checks the three schemes against the literal
// formulas on random group-1 layers (strides, padding, dilation, rectangular
// kernels and maps, array sizes, weight widths).
func TestSchemesMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 3000 {
		l := randomLayer(r, false)
		a := randomArray(r)
		if l.Validate() != nil {
			continue
		}
		ms, err := MapAll(l, a)
		if err != nil {
			t.Fatalf("case %d %+v: %v", n, l, err)
		}
		im, sd, vw, win := refCycles(l, a)
		if ms[0].Cycles != im || ms[1].Cycles != sd || ms[2].Cycles != vw || ms[2].Window != win {
			t.Fatalf("case %d layer %+v array %+v:\n got  %d %d %d %q\n want %d %d %d %q",
				n, l, a, ms[0].Cycles, ms[1].Cycles, ms[2].Cycles, ms[2].Window, im, sd, vw, win)
		}
		if ms[1].Cycles > ms[0].Cycles || ms[2].Cycles > ms[0].Cycles {
			t.Fatalf("case %d: a scheme is worse than im2col: %d %d %d", n, im, sd, vw)
		}
		if ms[1].Tiles > ms[0].Tiles {
			t.Fatalf("case %d: SDK uses %d tiles, im2col %d", n, ms[1].Tiles, ms[0].Tiles)
		}
	}
}

// TestMappingInvariants checks properties every mapping must have, grouped
// layers included: cycles = windows × tiles, utilisation in (0, 1], VW-SDK
// and SDK never worse than im2col.
func TestMappingInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 3000 {
		l := randomLayer(r, true)
		a := randomArray(r)
		if l.Validate() != nil {
			continue
		}
		ms, err := MapAll(l, a)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		for _, m := range ms {
			if m.Cycles != m.Windows*m.Tiles || m.Cycles <= 0 {
				t.Fatalf("case %d %s: cycles %d windows %d tiles %d", n, m.Scheme, m.Cycles, m.Windows, m.Tiles)
			}
			if m.Utilisation <= 0 || m.Utilisation > 1 {
				t.Fatalf("case %d %s %+v on %+v: utilisation %g", n, m.Scheme, l, a, m.Utilisation)
			}
			if m.MaxTileRows > int64(a.Rows) || m.MaxTileRows <= 0 {
				t.Fatalf("case %d %s: max tile rows %d on %d-row array", n, m.Scheme, m.MaxTileRows, a.Rows)
			}
		}
		if ms[2].Cycles > ms[0].Cycles {
			t.Fatalf("case %d: vwsdk %d worse than im2col %d", n, ms[2].Cycles, ms[0].Cycles)
		}
	}
}

func TestGeneralisations(t *testing.T) {
	arr128x4 := Array{Rows: 128, Cols: 128, WeightCols: 4}
	tests := []struct {
		name   string
		l      Layer
		a      Array
		scheme Scheme
		cycles int64
		tiles  int64
		window string
	}{
		// FC: rows = IC, cols = OC·b; one input vector per output.
		{"fc 2048->1000 int4", Layer{Kind: KindFC, IC: 2048, OC: 1000}, arr128x4, Im2col, 16 * 32, 16 * 32, "1x1x2048x1000"},
		{"fc vwsdk is im2col", Layer{Kind: KindFC, IC: 2048, OC: 1000}, arr128x4, VWSDK, 16 * 32, 16 * 32, "1x1x2048x1000"},
		{"fc sdk is im2col", Layer{Kind: KindFC, IC: 100, OC: 10}, arr128x4, SDK, 1, 1, "1x1x100x10"},
		// Padding: the padded map is the input map (34×34 → 32×32 outputs).
		{"pad 1", Layer{IH: 32, IW: 32, KH: 3, KW: 3, IC: 16, OC: 16, PadT: 1, PadL: 1, PadB: 1, PadR: 1},
			Array{512, 512, 1}, Im2col, 32 * 32, 1, "3x3x16x16"},
		// Stride 2: OH = ⌊(224+6−7)/2⌋+1 = 112; ⌈147/128⌉ = 2 row tiles, ⌈64/32⌉ = 2 column tiles.
		{"resnet stem im2col", Layer{IH: 224, IW: 224, KH: 7, KW: 7, IC: 3, OC: 64, SH: 2, SW: 2, PadT: 3, PadL: 3, PadB: 3, PadR: 3},
			arr128x4, Im2col, 112 * 112 * 4, 4, "7x7x3x64"},
		// On 128×128 b=4 no window beats im2col (e.g. 1×2 outputs: 7×9 pixels,
		// ICt 2, OCt 16: 8 tiles × 112·56 windows = im2col), so VW-SDK is im2col.
		{"resnet stem vwsdk fallback", Layer{IH: 224, IW: 224, KH: 7, KW: 7, IC: 3, OC: 64, SH: 2, SW: 2, PadT: 3, PadL: 3, PadB: 3, PadR: 3},
			arr128x4, VWSDK, 112 * 112 * 4, 4, "7x7x3x64"},
		// On 512×512 b=1: 8×1 outputs with stride 2 span (7+7·2)×7 = 21×7 pixels
		// (147 rows × 3 channels ≤ 512), 8 copies × 64 channels = 512 columns.
		{"resnet stem vwsdk 512", Layer{IH: 224, IW: 224, KH: 7, KW: 7, IC: 3, OC: 64, SH: 2, SW: 2, PadT: 3, PadL: 3, PadB: 3, PadR: 3},
			Array{512, 512, 1}, VWSDK, 14 * 112, 1, "21x7x3x64"},
		// Dilation 2: effective 5×5 kernel, OH = 28−5+1 = 24; im2col rows are 9·IC (taps only).
		{"dilated", Layer{IH: 28, IW: 28, KH: 3, KW: 3, IC: 8, OC: 8, DH: 2, DW: 2}, Array{512, 512, 1}, Im2col, 24 * 24, 1, "3x3x8x8"},
		// Depthwise 3×3 on 128×128 b=4: 9 rows and 1 channel per group, ⌊128/9⌋ = 14 groups per tile.
		{"depthwise im2col", Layer{IH: 16, IW: 16, KH: 3, KW: 3, IC: 32, OC: 32, Group: 32, PadT: 1, PadL: 1, PadB: 1, PadR: 1},
			arr128x4, Im2col, 256 * 3, 3, "3x3x1x1"},
		// 1×1 conv.
		{"pointwise", Layer{IH: 7, IW: 7, KH: 1, KW: 1, IC: 512, OC: 2048}, arr128x4, Im2col, 49 * 4 * 64, 256, "1x1x512x2048"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Map(tc.l, tc.a, tc.scheme)
			if err != nil {
				t.Fatal(err)
			}
			if m.Cycles != tc.cycles || m.Tiles != tc.tiles || m.Window != tc.window {
				t.Errorf("got cycles %d tiles %d window %q, want %d %d %q (%+v)", m.Cycles, m.Tiles, m.Window, tc.cycles, tc.tiles, tc.window, m)
			}
		})
	}
}

func TestLayerErrors(t *testing.T) {
	tests := []struct {
		name string
		l    Layer
		want string
	}{
		{"zero ic", Layer{Name: "c", IH: 8, IW: 8, KH: 3, KW: 3, OC: 4}, `layer "c": ic=0 out of range`},
		{"negative pad", Layer{Name: "c", IH: 8, IW: 8, KH: 3, KW: 3, IC: 4, OC: 4, PadT: -1}, "pad_top=-1"},
		{"kernel too big", Layer{Name: "c", IH: 2, IW: 2, KH: 3, KW: 3, IC: 4, OC: 4}, "does not fit the padded 2x2 map"},
		{"group divides", Layer{Name: "g", IH: 8, IW: 8, KH: 3, KW: 3, IC: 6, OC: 4, Group: 4}, "divisible by group=4"},
		{"conv with group", Layer{Name: "g", Kind: KindConv, IH: 8, IW: 8, KH: 3, KW: 3, IC: 4, OC: 4, Group: 2}, `needs group=1`},
		{"fc with map", Layer{Name: "f", Kind: KindFC, IH: 7, IW: 7, KH: 1, KW: 1, IC: 4, OC: 4}, "1x1 kernel on a 1x1 map"},
		{"unknown kind", Layer{Name: "x", Kind: "pool", IH: 8, IW: 8, KH: 3, KW: 3, IC: 4, OC: 4}, `unknown kind "pool"`},
		{"too many MACs", Layer{Name: "big", IH: 65536, IW: 65536, KH: 1, KW: 1, IC: 1 << 20, OC: 1 << 10}, "MACs exceed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Map(tc.l, Array{128, 128, 4}, VWSDK)
			if err == nil || !contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := Map(Layer{IH: 8, IW: 8, KH: 3, KW: 3, IC: 4, OC: 4}, Array{128, 2, 4}, Im2col); err == nil {
		t.Error("a 4-column weight on a 2-column array was accepted")
	}
	if _, err := Map(Layer{IH: 8, IW: 8, KH: 3, KW: 3, IC: 4, OC: 4}, Array{128, 128, 4}, "magic"); err == nil {
		t.Error("unknown scheme accepted")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
