package runtime

import "testing"

// TestPortableKernels runs TestKernelsAgree's cases through the portable
// Go kernels (as on CPUs without POPCNT).
func TestPortableKernels(t *testing.T) {
	if !hasPOPCNT {
		t.Skip("already portable")
	}
	hasPOPCNT = false
	defer func() { hasPOPCNT = true }()
	useVector = false
	defer func() { useVector = true }()
	testKernels(t, false)
}
