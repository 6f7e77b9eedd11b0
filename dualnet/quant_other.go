//go:build !amd64

package dualnet

var useQuantSIMD = false

func quantCodesAVX2(codes *int8, w *float32, n int, inv, thr, q, near float64) (done int) {
	panic("BUG: no AVX2 kernel on this architecture")
}

func sumAbsAVX2(w *float32, n int) (sum float64, minb uint32) { panic("BUG: no AVX2 kernel") }

func twnAVX2(w *float32, t *int8, n int, db uint32) (a float64, cnt uint32) {
	panic("BUG: no AVX2 kernel")
}

func mseBinsAVX2(w *float32, n int, inv float64, last int32, out *int32) {
	panic("BUG: no AVX2 kernel")
}
