package runtime

import (
	"math/rand/v2"
	"testing"
)

// TestKernelsAgree checks the assembly kernels against the portable ones
// on random planes, weights and clamp limits.
func TestKernelsAgree(t *testing.T) {
	if !hasPOPCNT {
		t.Skip("no assembly kernels here")
	}
	testKernels(t, true)
}

func testKernels(t *testing.T, vectors bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < 2000; it++ {
		gw := 1 + it%2
		nch := 1 + rng.IntN(40)
		x := make([]uint64, 4*gw)
		for i := range x {
			x[i] = rng.Uint64() & rng.Uint64()
		}
		xpop := make([]int, 4)
		for i := range xpop {
			for _, u := range x[i*gw : (i+1)*gw] {
				xpop[i] += popcount(u)
			}
		}
		W := make([]uint64, nch*4*gw)
		for i := range W {
			W[i] = rng.Uint64()
		}
		sat := []int{1 << 30, 31, 7, 3}[rng.IntN(4)]
		signed := rng.IntN(2) == 0
		want := make([]int64, nch)
		got := make([]int64, nch)
		for j := range want {
			want[j] = int64(rng.IntN(1000))
			got[j] = want[j]
		}
		sramAny(x, xpop, W, want, 4, 4, gw, sat, signed)
		for _, vec := range []bool{false, true} {
			if vec && (!hasVPOPCNT || !vectors) {
				continue
			}
			useVector = vec
			g := append([]int64(nil), got...)
			if gw == 2 {
				sram44(x, xpop, W, g, sat, signed)
			} else {
				sram44w1(x, xpop, W, g, sat, signed)
			}
			for j := range want {
				if g[j] != want[j] {
					t.Fatalf("gw %d sat %d signed %v avx512 %v channel %d: asm %d, Go %d", gw, sat, signed, vec, j, g[j], want[j])
				}
			}
		}
		useVector = vectors
	}
}
