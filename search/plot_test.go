package search

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// TestPlotLabels decodes a plot and checks that its texts were drawn: dark
// pixels where the tick values, the axis labels, the title and the legend
// go, and every named series' colour in the legend column. No golden image:
// only where ink must be.
func TestPlotLabels(t *testing.T) {
	red := color.RGBA{220, 30, 30, 255}
	blue := color.RGBA{30, 90, 220, 255}
	series := []Series{
		{Name: "front", X: []float64{1, 2, 3}, Y: []float64{90, 95, 97}, Color: blue, Size: 3, Line: true},
		{Name: "INT4-only", X: []float64{4}, Y: []float64{98}, Color: red, Size: 5, Square: true},
	}
	var buf bytes.Buffer
	ax := Axes{Title: "model", X: "energy (nJ)", Y: "accuracy (%)"}
	if err := Plot(&buf, 640, 480, ax, series); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 480 {
		t.Fatalf("size %v, want 640×480", b)
	}
	dark := func(r image.Rectangle) int {
		n := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA); c.R < 80 && c.G < 80 && c.B < 80 {
					n++
				}
			}
		}
		return n
	}
	has := func(r image.Rectangle, want color.RGBA) bool {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if color.RGBAModel.Convert(img.At(x, y)).(color.RGBA) == want {
					return true
				}
			}
		}
		return false
	}
	x1, y1 := 640-plotLegend, 480-plotBottom
	for _, c := range []struct {
		what string
		r    image.Rectangle
		min  int
	}{
		{"x tick values", image.Rect(plotLeft, y1+8, x1, y1+8+glyphH), 20},
		{"x axis label", image.Rect(plotLeft, y1+20, x1, 480), 60},
		{"y tick values", image.Rect(30, plotTop, plotLeft-8, y1), 20},
		{"y axis label", image.Rect(0, plotTop, 28, y1), 60},
		{"title", image.Rect(plotLeft, 0, x1, plotTop-4), 30},
		{"legend text", image.Rect(x1+30, plotTop, 640, plotTop+40), 30},
	} {
		if n := dark(c.r); n < c.min {
			t.Errorf("%s: %d dark pixels in %v, want at least %d", c.what, n, c.r, c.min)
		}
	}
	for _, s := range series {
		if !has(image.Rect(x1+10, plotTop, x1+30, plotTop+40), s.Color) {
			t.Errorf("legend: no %v marker for %q", s.Color, s.Name)
		}
	}
	// Without texts the same areas stay blank (the checks above are not
	// satisfied by the grid or the axes).
	buf.Reset()
	if err := Scatter(&buf, 640, 480, series[:1]); err != nil {
		t.Fatal(err)
	}
	if img, err = png.Decode(&buf); err != nil {
		t.Fatal(err)
	}
	if n := dark(image.Rect(0, plotTop, 28, y1)); n != 0 {
		t.Errorf("unlabelled plot has %d dark pixels where the y label goes", n)
	}
}

func TestTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		n      int
		want   []float64
		dec    int
	}{
		{0, 1, 5, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, 1},
		{7420, 17080, 5, []float64{8000, 10000, 12000, 14000, 16000}, 0},
		{12.3, 98.7, 8, []float64{20, 40, 60, 80}, 0},
		{0.0123, 0.0456, 4, []float64{0.02, 0.03, 0.04}, 2},
	} {
		got, dec := ticks(c.lo, c.hi, c.n)
		if len(got) != len(c.want) || dec != c.dec {
			t.Errorf("ticks(%g, %g, %d) = %v, %d decimals; want %v, %d", c.lo, c.hi, c.n, got, dec, c.want, c.dec)
			continue
		}
		for i := range got {
			if d := got[i] - c.want[i]; d > 1e-9 || d < -1e-9 {
				t.Errorf("ticks(%g, %g, %d) = %v, want %v", c.lo, c.hi, c.n, got, c.want)
				break
			}
		}
	}
	if s := tickLabel(0.30000000000000004, 1); s != "0.3" {
		t.Errorf("tickLabel = %q", s)
	}
}

func TestFontCoversLabels(t *testing.T) {
	for _, r := range "0123456789.-%()/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_" {
		if glyph(r) == ([glyphW]byte{}) {
			t.Errorf("glyph %q is blank", r)
		}
	}
}
