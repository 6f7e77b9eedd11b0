package runtime

func cpuidECX1() uint32

//go:noescape
func sram44asm(x *uint64, s *int64, m3 int64, w *uint64, n int, acc *int64)

//go:noescape
func sram44w1asm(x *uint64, s *int64, m3 int64, w *uint64, n int, acc *int64)

// hasPOPCNT selects the assembly kernels (amd64 with POPCNT).
var hasPOPCNT = cpuidECX1()&(1<<23) != 0
