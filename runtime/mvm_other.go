//go:build !amd64

package runtime

const hasPOPCNT = false

func sram44asm(x *uint64, s *int64, m3 int64, w *uint64, n int, acc *int64) {
	panic("BUG: no assembly kernel on this architecture")
}

func sram44w1asm(x *uint64, s *int64, m3 int64, w *uint64, n int, acc *int64) {
	panic("BUG: no assembly kernel on this architecture")
}

const hasVPOPCNT = false

func sram44v(x *uint64, s *int64, m *int64, w *uint64, n int, acc *int64) {
	panic("BUG: no assembly kernel on this architecture")
}

func sram44w1v(x *uint64, s *int64, m *int64, w *uint64, n int, acc *int64) {
	panic("BUG: no assembly kernel on this architecture")
}
