package dualnet

import "unsafe"

// rqT512 reads rqRow as 56 bytes with c at byte 48: compile-time checks.
var _ [0]struct{} = [unsafe.Sizeof(rqRow{}) - 56]struct{}{}
var _ [0]struct{} = [unsafe.Offsetof(rqRow{}.c) - 48]struct{}{}

// detectAVX512 reports CPU and OS support for the AVX-512 subset the ADC
// kernels use: AVX512F/DQ/BW/VL and VPOPCNTDQ, with ZMM state enabled.
func detectAVX512() bool {
	if !useAVX2 {
		return false
	}
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	if xgetbv0()&0xe6 != 0xe6 { // XMM, YMM, opmask, ZMM state
		return false
	}
	_, b7, c7, _ := cpuid(7, 0)
	// AVX512F, AVX512DQ (VPMULLQ), AVX512BW (VPMOVB2M), AVX512VL; VPOPCNTDQ.
	return b7&(1<<16) != 0 && b7&(1<<17) != 0 && b7&(1<<30) != 0 && b7&(1<<31) != 0 && c7&(1<<14) != 0
}

var useAVX512 = detectAVX512()

// useVNNI: AVX512_VNNI (VPDPBUSD) on top of useAVX512.
var useVNNI = useAVX512 && func() bool { _, _, c7, _ := cpuid(7, 0); return c7&(1<<11) != 0 }()

// useVBMI: AVX512_VBMI (VPERMT2B) on top of useAVX512.
var useVBMI = useAVX512 && func() bool { _, _, c7, _ := cpuid(7, 0); return c7&(1<<1) != 0 }()

// useGFNI: GFNI (VGF2P8AFFINEQB) on top of useVBMI.
var useGFNI = useVBMI && func() bool { _, _, c7, _ := cpuid(7, 0); return c7&(1<<8) != 0 }()

//go:noescape
func adcCorr512(planes *uint64, coefs *int64, np int, w *uint64, wbits, rows8 int, sat int64, out *int32)

//go:noescape
func tbTiles512(b *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32)

//go:noescape
func adcPix512(x *uint8, xstride, npix int, flip uint8, xbits int, tmask *uint64, ntiles int, w *uint64, wbits, rows8 int, sat int64, coefs *int64, out *int32, ostride int, tmp *uint64)

//go:noescape
func tbPix512(x *uint8, xstride, npix int, tau uint8, tmask *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32, ostride int, tmp *uint64)

//go:noescape
func nhwc512(src *int32, hw, cin, n int, xoff int32, dst *uint8)

//go:noescape
func nhwcT512(src *int32, hw, cin, n int, xoff int32, dst *uint8, idx *uint8)

//go:noescape
func gatherAVX2(dst, src *uint8, runs *run, nruns int)

//go:noescape
func dot8VNNI(x *uint8, w *int8, n, stride int, out *int32)

//go:noescape
func rqT512(acc *int32, rall int, rows *rqRow, ngroups, npos int, out *int32, P int, res *int32)

//go:noescape
func dotBlkVNNI(x *uint8, xstride, npix int, w *int8, kq, ngroups int, bias *int32, out *int32, ostride int, lastMask uint64)

//go:noescape
func gatherBlk512(dst *uint8, xs int, src *uint8, bases *int, npix int, runs *run, nruns int)

//go:noescape
func adcPixG512(x *uint8, xstride, npix int, flip uint8, xbits int, tmask *uint64, ntiles int, w *uint64, wbits, rows8 int, sat int64, coefs *int32, out *int32, ostride int, tmp *uint64)
