package dualnet

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv0() (eax uint32)

//go:noescape
func dot4AVX2(x *uint8, w *int8, n, stride int, out *int32)

// hasAVX2 reports CPU and OS support for AVX2.
func detectAVX2() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	if c1&(1<<27) == 0 || c1&(1<<28) == 0 { // OSXSAVE, AVX
		return false
	}
	if xgetbv0()&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<5) != 0
}

var useAVX2 = detectAVX2()

//go:noescape
func geBitsAVX2(x *uint8, n int, tauMinus1 int8, out *uint32)

//go:noescape
func planesAVX2(x *uint8, n int, flip uint8, nplanes int, out *uint32)

//go:noescape
func geBytesAVX2(x *uint8, n int, tauMinus1 int8, out *uint8)

//go:noescape
func dot8AVX2(x *uint8, w *int8, n, stride int, out *int32)

//go:noescape
func adcCorr256(planes *uint64, coefs *int64, np int, w *uint64, wbits, rows8 int, sat int64, out *int32)

//go:noescape
func tbTiles256(b *uint64, ntiles int, w *uint64, rows8 int, sat int64, out *int32)
