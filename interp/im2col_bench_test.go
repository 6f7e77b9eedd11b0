package interp

import (
	"math/rand"
	"testing"

	"pimc/ir"
)

func BenchmarkIm2col3x3_64x56x56(b *testing.B) {
	r := rand.New(rand.NewSource(11))
	x := randFloats(r, 64*56*56)
	n := mk(ir.OpConv, 1, ir.Attrs{"pads": ais(1, 1, 1, 1)})
	g, err := resolveGeom(n, sh(56, 56), sh(3, 3), false)
	if err != nil {
		b.Fatal(err)
	}
	K := 64 * 9
	buf := make([]float32, colTile*K)
	panels := (56*56 + nr - 1) / nr
	for b.Loop() {
		for p := 0; p < panels; p += colTile / nr {
			im2colPanels(buf, x, 64, &g, p, min(p+colTile/nr, panels))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(K*56*56), "ns/elem")
}
