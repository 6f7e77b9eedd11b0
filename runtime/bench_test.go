package runtime_test

import (
	"fmt"
	"os"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"pimc/dualnet"
	"pimc/hw"
	"pimc/ir"
	"pimc/runtime"
)

// BenchmarkSimulateResNet20 measures bit-exact simulation throughput
// (images/s on all cores, one Machine per core) of the CIFAR-10 ResNet-20
// on real test images, and the CPU time per image (on a loaded machine the
// throughput idle cores would give is GOMAXPROCS / cpu-time).
func BenchmarkSimulateResNet20(b *testing.B) {
	mc := realModels[5]
	if _, err := os.Stat(repoPath(mc.model)); err != nil {
		b.Skip(err)
	}
	m := loadModel(b, mc.model)
	ins := images(b, m, mc.data, mc.preset, 100)
	cal, err := dualnet.Calibrate(m, ins[:16], dualnet.CalibOptions{FitSamples: 8})
	if err != nil {
		b.Fatal(err)
	}
	ideal := hw.Default()
	ideal.SRAM.ADCIdeal, ideal.EDRAM.ADCIdeal = true, true
	for _, c := range []struct {
		r  float64
		hw *hw.Hardware
	}{{0.5, hw.Default()}, {1, hw.Default()}, {0, hw.Default()}, {0.5, ideal}} {
		adc := "adc5"
		if c.hw.SRAM.ADCIdeal {
			adc = "ideal"
		}
		b.Run(fmt.Sprintf("r=%g/%s", c.r, adc), func(b *testing.B) {
			q := quantize(b, loadModel(b, mc.model), cal, c.r)
			p, _ := compile(b, q, c.hw)
			rts := make([]runtime.Tensor, len(ins))
			for i, in := range ins {
				rts[i] = toRT(in)
			}
			workers := goruntime.GOMAXPROCS(0)
			machines := make([]*runtime.Machine, workers)
			for i := range machines {
				machines[i] = p.NewMachine()
				if _, _, err := machines[i].Run(rts[:1]); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			var n atomic.Int64
			for it := 0; it < b.N; it++ {
				var wg sync.WaitGroup
				var next atomic.Int64
				for w := 0; w < workers; w++ {
					wg.Add(1)
					go func(mach *runtime.Machine) {
						defer wg.Done()
						for {
							i := int(next.Add(1) - 1)
							if i >= len(rts) {
								return
							}
							if _, _, err := mach.Run(rts[i : i+1]); err != nil {
								b.Error(err)
								return
							}
							n.Add(1)
						}
					}(machines[w])
				}
				wg.Wait()
			}
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "images/s")
			b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(n.Load()), "cpu-ms/image")
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var _ = ir.Float32
