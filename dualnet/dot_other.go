//go:build !amd64

package dualnet

var useAVX2 = false

func dot4AVX2(x *uint8, w *int8, n, stride int, out *int32) {
	panic("BUG: no AVX2 kernel on this architecture")
}

func geBitsAVX2(x *uint8, n int, tauMinus1 int8, out *uint32) { panic("BUG: no AVX2 kernel") }

func planesAVX2(x *uint8, n int, flip uint8, nplanes int, out *uint32) { panic("BUG: no AVX2 kernel") }

func geBytesAVX2(x *uint8, n int, tauMinus1 int8, out *uint8) { panic("BUG: no AVX2 kernel") }

func dot8AVX2(x *uint8, w *int8, n, stride int, out *int32) { panic("BUG: no AVX2 kernel") }

func adcCorr256(planes *uint64, coefs *int64, np int, w *uint64, wbits, rows8 int, sat int64, out *int32) {
	panic("BUG: no AVX2 kernel")
}

func tbTiles256(b *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32) {
	panic("BUG: no AVX2 kernel")
}
