package backend

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"pimc/backend/isa"
)

// TestImagePacking compares the row-wise packing with plane-by-plane
// SetBit (the definition of the layout) for every width, eDRAM's ternary
// pairs, and a reordered (perm) path.
func TestImagePacking(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, planes := range []int{2, 3, 4, 5, 7, 8, 9, 16, -2} {
		pool := isa.SRAM
		if planes < 0 {
			pool, planes = isa.EDRAM, 2
		}
		const K, chans = 37, 11
		p := &path{pool: pool, planes: planes}
		for c := range chans {
			// Codes are int8 (the IR's weight dtype); wider images hold
			// them sign-extended.
			w := make([]int8, K)
			for i := range w {
				if pool == isa.EDRAM {
					w[i] = int8(r.IntN(3) - 1)
				} else {
					b := min(planes, 8)
					w[i] = int8(r.IntN(1<<b) - 1<<(b-1))
				}
			}
			p.chans = append(p.chans, int64(c*3))
			p.w = append(p.w, w)
		}
		for _, perm := range [][]int{nil, r.Perm(K)} {
			p.perm = perm
			for _, idx := range [][]int{{0, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {1, 4, 6, 8, 9, 10, 0}, {3}, {5, 2, 7, 1, 0}} {
				t0 := tile{r0: 5, rows: 29, rowsIdx: idx}
				got := p.image(&t0)
				want := isa.Image{Pool: pool, Planes: uint8(planes), Rows: uint32(t0.rows), R0: uint32(t0.r0), Chans: got.Chans}
				want.Bits = make([]byte, t0.rows*want.RowBytes())
				for j, row := range t0.rowsIdx {
					for k := range t0.rows {
						i := t0.r0 + k
						if perm != nil {
							i = perm[i]
						}
						v := p.w[row][i]
						if pool == isa.EDRAM {
							if v == 1 {
								want.SetBit(k, j, 0)
							} else if v == -1 {
								want.SetBit(k, j, 1)
							}
							continue
						}
						for q := range planes {
							if v>>q&1 != 0 {
								want.SetBit(k, j, q)
							}
						}
					}
				}
				if !bytes.Equal(got.Bits, want.Bits) {
					t.Errorf("%s %d planes (perm %v, %d channels): bits differ", pool, planes, perm != nil, len(idx))
				}
			}
		}
	}
}
