package ir

import (
	"math"
	"testing"
)

func TestCodesWithin(t *testing.T) {
	for _, m := range []int64{1, 7} {
		for _, bad := range []int64{-m - 1, m + 1, math.MinInt64, math.MaxInt64, math.MinInt64 + m, math.MaxInt64 - m} {
			for n := 1; n <= 9; n++ {
				for at := 0; at < n; at++ {
					v := make([]int64, n)
					for i := range v {
						v[i] = int64(i)%(2*m+1) - m
					}
					if x, ok := codesWithin(v, m); !ok {
						t.Fatalf("m=%d %v: reported %d", m, v, x)
					}
					v[at] = bad
					if x, ok := codesWithin(v, m); ok || x != bad {
						t.Fatalf("m=%d %v: got %d %v, want %d", m, v, x, ok, bad)
					}
				}
			}
		}
	}
}
