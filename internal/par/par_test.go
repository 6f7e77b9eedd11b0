package par

import (
	"sync/atomic"
	"testing"
)

func TestFor(t *testing.T) {
	for _, workers := range []int{-1, 0, 1, 2, 3, 64} {
		for _, n := range []int{0, 1, 2, 7, 1000} {
			var calls atomic.Int64
			seen := make([]int32, n)
			ForWorkers(workers, n, func(i int) {
				calls.Add(1)
				atomic.AddInt32(&seen[i], 1)
			})
			if calls.Load() != int64(n) {
				t.Fatalf("workers %d n %d: %d calls", workers, n, calls.Load())
			}
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("workers %d n %d: index %d called %d times", workers, n, i, c)
				}
			}
		}
	}
	sum := make([]int, 100)
	For(len(sum), func(i int) { sum[i] = i * i })
	for i, v := range sum {
		if v != i*i {
			t.Fatalf("For: sum[%d] = %d", i, v)
		}
	}
}
