package dualnet

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

// useVBMI: AVX512_VBMI (VPERMT2B) on top of useAVX512.
var useVBMI = useAVX512 && func() bool { _, _, c7, _ := cpuid(7, 0); return c7&(1<<1) != 0 }()

//go:noescape
func adcCorr512(planes *uint64, coefs *int64, np int, w *uint64, wbits, rows8 int, sat int64, out *int32)

//go:noescape
func tbTiles512(b *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32)

//go:noescape
func rq512(acc *int32, rall, n int, p *rqParams, res *int32, out *int32)

//go:noescape
func adcPix512(x *uint8, flip uint8, xbits int, tmask *uint64, ntiles int, w *uint64, wbits, rows8 int, sat int64, coefs *int64, out *int32, tmp *uint64)

//go:noescape
func tbPix512(x *uint8, tau uint8, tmask *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32, tmp *uint64)

//go:noescape
func nhwc512(src *int32, hw, cin, n int, xoff int32, dst *uint8)

//go:noescape
func nhwcT512(src *int32, hw, cin, n int, xoff int32, dst *uint8, idx *uint8)
