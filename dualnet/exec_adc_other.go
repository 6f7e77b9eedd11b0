//go:build !amd64

package dualnet

var useAVX512 = false

var useVBMI = false

var useVNNI = false

func adcCorr512(planes *uint64, coefs *int64, np int, w *uint64, wbits, rows8 int, sat int64, out *int32) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func tbTiles512(b *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func adcPix512(x *uint8, flip uint8, xbits int, tmask *uint64, ntiles int, w *uint64, wbits, rows8 int, sat int64, coefs *int64, out *int32, tmp *uint64) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func tbPix512(x *uint8, tau uint8, tmask *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32, tmp *uint64) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func nhwc512(src *int32, hw, cin, n int, xoff int32, dst *uint8) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func nhwcT512(src *int32, hw, cin, n int, xoff int32, dst *uint8, idx *uint8) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func gatherAVX2(dst, src *uint8, runs *run, nruns int) {
	panic("BUG: no AVX2 kernel on this architecture")
}

func dot8VNNI(x *uint8, w *int8, n, stride int, out *int32) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func rqT512(acc *int32, rall int, rows *rqRow, ngroups, npos int, out *int32, P int, res *int32) {
	panic("BUG: no AVX-512 kernel on this architecture")
}
