package interp

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time (user+system) the process has used so far:
// on a shared machine it is steadier than wall time for comparing kernels.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports the CPU time per iteration since start as cpu-ms/op.
func ReportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N)/1e6, "cpu-ms/op")
}

// ProcessCPU is processCPU for the external tests.
var ProcessCPU = processCPU
