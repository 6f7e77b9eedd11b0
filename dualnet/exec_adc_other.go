//go:build !amd64

package dualnet

var useAVX512 = false

var useVBMI = false

var useVNNI = false

var useGFNI = false

func adcCorr512(planes *uint64, coefs *int64, np int, w *uint64, wbits, rows8 int, sat int64, out *int32) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func tbTiles512(b *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func adcPix512(x *uint8, xstride, npix int, flip uint8, xbits int, tmask *uint64, ntiles int, w *uint64, wbits, rows8 int, sat int64, coefs *int64, out *int32, ostride int, tmp *uint64) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func tbPix512(x *uint8, xstride, npix int, tau uint8, tmask *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32, ostride int, tmp *uint64) {
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

func dotBlkVNNI(x *uint8, xstride, npix int, w *int8, kq, ngroups int, bias *int32, out *int32, ostride int, lastMask uint64) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func gatherBlk512(dst *uint8, xs int, src *uint8, bases *int, npix int, runs *run, nruns int) {
	panic("BUG: no AVX-512 kernel on this architecture")
}

func adcPixG512(x *uint8, xstride, npix int, flip uint8, xbits int, tmask *uint64, ntiles int, w *uint64, wbits, rows8 int, sat int64, coefs *int32, out *int32, ostride int, tmp *uint64) {
	panic("BUG: no AVX-512 kernel on this architecture")
}
