package interp

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelFor splits [0,n) into chunks of at least grain items and runs
// body on them with up to GOMAXPROCS goroutines. Chunks are handed out
// dynamically, so callers must make each item's result independent of
// which goroutine runs it (all kernels here do: an item writes only its
// own outputs, in a fixed order).
func parallelFor(n, grain int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	workers := runtime.GOMAXPROCS(0)
	if workers <= 1 || n <= grain {
		body(0, n)
		return
	}
	// About four chunks per worker balances uneven chunks without making
	// the hand-out itself costly.
	chunk := max(grain, (n+4*workers-1)/(4*workers))
	chunks := (n + chunk - 1) / chunk
	workers = min(workers, chunks)
	var next atomic.Int64
	var wg sync.WaitGroup
	work := func() {
		for {
			c := int(next.Add(1) - 1)
			if c >= chunks {
				return
			}
			lo := c * chunk
			body(lo, min(lo+chunk, n))
		}
	}
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		go func() { defer wg.Done(); work() }()
	}
	work()
	wg.Wait()
}
