package search

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strconv"
)

// Series is one set of points of a scatter plot.
type Series struct {
	X, Y   []float64
	Color  color.RGBA
	Size   int    // marker half-width in pixels
	Line   bool   // join the points (sorted by x) with a line
	Square bool   // square markers instead of discs
	Name   string // legend entry; "" leaves the series out of the legend
}

// Axes are a plot's texts: the title and the axis labels (with units).
type Axes struct {
	Title, X, Y string
}

// Scatter draws the series on a W×H PNG without texts other than the
// tick values; Plot adds a title, axis labels and a legend.
func Scatter(w io.Writer, width, height int, series []Series) error {
	return Plot(w, width, height, Axes{}, series)
}

// Plot layout, in pixels: the legend sits right of the data area so that
// it never hides a point.
const (
	plotLeft   = 70
	plotTop    = 34
	plotBottom = 46
	plotLegend = 150
	textScale  = 1
	labelScale = 2
)

var (
	black = color.RGBA{0, 0, 0, 255}
	ink   = color.RGBA{40, 40, 40, 255}
)

// Plot draws the series on a W×H PNG: a light grid at round tick values
// with their labels, the axis labels and title from ax, and a legend of
// the named series.
func Plot(w io.Writer, width, height int, ax Axes, series []Series) error {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	right := 20
	for _, s := range series {
		if s.Name != "" {
			right = plotLegend
			break
		}
	}
	x0, x1, y0, y1 := plotLeft, width-right, plotTop, height-plotBottom
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
	px := func(x float64) int { return x0 + int(math.Round((x-minX)/(maxX-minX)*float64(x1-x0))) }
	py := func(y float64) int { return y1 - int(math.Round((y-minY)/(maxY-minY)*float64(y1-y0))) }
	grid := color.RGBA{230, 230, 230, 255}
	xt, xd := ticks(minX, maxX, max(2, (x1-x0)/80))
	yt, yd := ticks(minY, maxY, max(2, (y1-y0)/50))
	for _, v := range xt {
		x := px(v)
		fill(img, image.Rect(x, y0, x+1, y1), grid)
		fill(img, image.Rect(x, y1, x+1, y1+6), black)
		l := tickLabel(v, xd)
		drawText(img, x-textWidth(l, textScale)/2, y1+9, l, textScale, ink)
	}
	for _, v := range yt {
		y := py(v)
		fill(img, image.Rect(x0, y, x1, y+1), grid)
		fill(img, image.Rect(x0-6, y, x0, y+1), black)
		l := tickLabel(v, yd)
		drawText(img, x0-9-textWidth(l, textScale), y-glyphH*textScale/2+1, l, textScale, ink)
	}
	fill(img, image.Rect(x0, y1, x1, y1+2), black)   // x axis
	fill(img, image.Rect(x0-2, y0, x0, y1+2), black) // y axis
	if ax.X != "" {
		drawText(img, (x0+x1-textWidth(ax.X, labelScale))/2, y1+22, ax.X, labelScale, black)
	}
	if ax.Y != "" {
		drawTextUp(img, 8, (y0+y1+textWidth(ax.Y, labelScale))/2, ax.Y, labelScale, black)
	}
	if ax.Title != "" {
		drawText(img, (x0+x1-textWidth(ax.Title, labelScale))/2, 9, ax.Title, labelScale, black)
	}
	// Clip markers to the data area so none covers a label.
	area := img.SubImage(image.Rect(x0, y0-8, x1+8, y1)).(*image.RGBA)
	for _, s := range series {
		if s.Line && len(s.X) > 1 {
			idx := make([]int, len(s.X))
			for i := range idx {
				idx[i] = i
			}
			sortIdx(idx, s.X)
			for k := 1; k < len(idx); k++ {
				line(area, px(s.X[idx[k-1]]), py(s.Y[idx[k-1]]), px(s.X[idx[k]]), py(s.Y[idx[k]]), s.Color)
			}
		}
		for i := range s.X {
			marker(area, px(s.X[i]), py(s.Y[i]), s)
		}
	}
	ly := y0
	for _, s := range series {
		if s.Name == "" {
			continue
		}
		lx := x1 + 16
		if s.Line {
			line(img, lx, ly+4, lx+16, ly+4, s.Color)
		}
		marker(img, lx+8, ly+4, s)
		drawText(img, lx+24, ly, s.Name, textScale, black)
		ly += 18
	}
	return png.Encode(w, img)
}

func marker(img *image.RGBA, cx, cy int, s Series) {
	r := max(s.Size, 1)
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			if s.Square || dx*dx+dy*dy <= r*r {
				if (image.Point{cx + dx, cy + dy}).In(img.Rect) {
					img.SetRGBA(cx+dx, cy+dy, s.Color)
				}
			}
		}
	}
}

// ticks returns round tick values (1, 2 or 5 × 10^k apart, about n of
// them) inside [lo, hi], and the number of decimals their labels need.
func ticks(lo, hi float64, n int) ([]float64, int) {
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{2, 5, 10} {
		if step >= raw {
			break
		}
		step = m * mag
	}
	dec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out, dec
}

func tickLabel(v float64, dec int) string {
	if math.Abs(v) < 1e-12 {
		v = 0
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if math.Abs(v) >= 1e5 {
		s = trimZeros(strconv.FormatFloat(v/1e3, 'f', max(0, dec-3), 64)) + "k"
	}
	return s
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
