//go:build amd64 && !purego

package interp

// cpuid and xgetbv are in cpu_amd64.s; a local copy avoids a dependency
// for two instructions.
func cpuid(eax, ecx uint32) (a, b, c, d uint32)
func xgetbv() (eax, edx uint32)

// hasAVX2FMA reports whether the CPU and OS support AVX2 and FMA3
// (the OS must save the YMM state, XCR0 bits 1 and 2).
func hasAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

//go:noescape
func kern6x16(k int, a, b, c *float32, ldc int, flags int, bias *float32)

var useAsm = hasAVX2FMA()

// microKernel dispatches to the AVX2/FMA kernel when the CPU has it.
func microKernel(kb int, a, b []float32, c []float32, ldc int, flags int, bias *[mr]float32) {
	if !useAsm {
		kernelGo(kb, a, b, c, ldc, flags, bias)
		return
	}
	// Bounds the assembly relies on, checked once per call.
	_ = a[kb*mr-1]
	_ = b[kb*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kern6x16(kb, &a[0], &b[0], &c[0], ldc, flags, &bias[0])
}
