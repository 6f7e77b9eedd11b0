// Package par runs the independent iterations of a loop on every core.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// For calls fn(i) for every i in [0, n) on up to GOMAXPROCS goroutines,
// each taking the next index not yet taken, and returns when every call
// has. fn must be safe to run concurrently for different i; when each call
// writes only what belongs to its i, the result does not depend on
// scheduling.
func For(n int, fn func(i int)) { ForWorkers(runtime.GOMAXPROCS(0), n, fn) }

// ForWorkers is For on at most workers goroutines (≤ 1: the caller's
// goroutine, in index order).
func ForWorkers(workers, n int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
