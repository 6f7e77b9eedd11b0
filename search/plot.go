package search

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
)

// Series is one set of points of a scatter plot.
type Series struct {
	X, Y   []float64
	Color  color.RGBA
	Size   int  // marker half-width in pixels
	Line   bool // join the points (sorted by x) with a line
	Square bool // square markers instead of discs
}

// Scatter draws the series on a W×H PNG with axes and a light grid (the
// grid lines are at tenths of the data range; there are no text labels).
func Scatter(w io.Writer, width, height int, series []Series) error {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	const margin = 40
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for i := range s.X {
			minX, maxX = math.Min(minX, s.X[i]), math.Max(maxX, s.X[i])
			minY, maxY = math.Min(minY, s.Y[i]), math.Max(maxY, s.Y[i])
		}
	}
	if math.IsInf(minX, 1) {
		minX, maxX, minY, maxY = 0, 1, 0, 1
	}
	pad := func(lo, hi float64) (float64, float64) {
		d := hi - lo
		if d <= 0 {
			d = math.Max(math.Abs(hi), 1) * 0.1
		}
		return lo - 0.05*d, hi + 0.05*d
	}
	minX, maxX = pad(minX, maxX)
	minY, maxY = pad(minY, maxY)
	px := func(x float64) int { return margin + int((x-minX)/(maxX-minX)*float64(width-2*margin)) }
	py := func(y float64) int { return height - margin - int((y-minY)/(maxY-minY)*float64(height-2*margin)) }
	grid := color.RGBA{230, 230, 230, 255}
	for i := 0; i <= 10; i++ {
		x := margin + i*(width-2*margin)/10
		y := margin + i*(height-2*margin)/10
		fill(img, image.Rect(x, margin, x+1, height-margin), grid)
		fill(img, image.Rect(margin, y, width-margin, y+1), grid)
	}
	black := color.RGBA{0, 0, 0, 255}
	fill(img, image.Rect(margin, height-margin, width-margin, height-margin+2), black) // x axis
	fill(img, image.Rect(margin-2, margin, margin, height-margin), black)              // y axis
	for i := 0; i <= 10; i++ {                                                         // ticks
		x := margin + i*(width-2*margin)/10
		y := margin + i*(height-2*margin)/10
		fill(img, image.Rect(x, height-margin, x+1, height-margin+6), black)
		fill(img, image.Rect(margin-6, y, margin, y+1), black)
	}
	for _, s := range series {
		if s.Line && len(s.X) > 1 {
			idx := make([]int, len(s.X))
			for i := range idx {
				idx[i] = i
			}
			sortIdx(idx, s.X)
			for k := 1; k < len(idx); k++ {
				line(img, px(s.X[idx[k-1]]), py(s.Y[idx[k-1]]), px(s.X[idx[k]]), py(s.Y[idx[k]]), s.Color)
			}
		}
		r := max(s.Size, 1)
		for i := range s.X {
			cx, cy := px(s.X[i]), py(s.Y[i])
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					if s.Square || dx*dx+dy*dy <= r*r {
						img.SetRGBA(cx+dx, cy+dy, s.Color)
					}
				}
			}
		}
	}
	return png.Encode(w, img)
}

func sortIdx(idx []int, x []float64) {
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && x[idx[j]] < x[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		img.SetRGBA(x0+(x1-x0)*i/n, y0+(y1-y0)*i/n, c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
