package runtime

func cpuidECX1() uint32

//go:noescape
func sram44asm(x *uint64, s *int64, m3 int64, w *uint64, n int, acc *int64)

//go:noescape
func sram44w1asm(x *uint64, s *int64, m3 int64, w *uint64, n int, acc *int64)

// hasPOPCNT selects the assembly kernels (amd64 with POPCNT).
var hasPOPCNT = cpuidECX1()&(1<<23) != 0

func cpuid7() (ebx, ecx uint32)
func xgetbv0() uint32

//go:noescape
func sram44v(x *uint64, s *int64, m *int64, w *uint64, n int, acc *int64)

//go:noescape
func sram44w1v(x *uint64, s *int64, m *int64, w *uint64, n int, acc *int64)

// hasVPOPCNT selects the AVX-512 kernels: AVX512F, VL, DQ and VPOPCNTDQ,
// with the OS saving the opmask and ZMM state.
var hasVPOPCNT = detectVPOPCNT()

func detectVPOPCNT() bool {
	const osxsave, avx = 1 << 27, 1 << 28
	if c := cpuidECX1(); c&osxsave == 0 || c&avx == 0 {
		return false
	}
	if xgetbv0()&0xE6 != 0xE6 {
		return false
	}
	b, c := cpuid7()
	const f, dq, vl, popcnt = 1 << 16, 1 << 17, 1 << 31, 1 << 14
	return b&f != 0 && b&dq != 0 && b&vl != 0 && c&popcnt != 0
}
