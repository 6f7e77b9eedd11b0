//go:build unix

package dualnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
)

// cpuNs is the process's user+system CPU time in ns: on a shared machine
// it is steadier than wall time (reported as cpu-ns/op by cpuTimed).
func cpuNs() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpuTimed runs f b.N times and reports CPU ns per call besides wall time.
func cpuTimed(b *testing.B, f func(i int)) {
	b.ResetTimer()
	t0 := cpuNs()
	for i := 0; i < b.N; i++ {
		f(i)
	}
	b.ReportMetric(float64(cpuNs()-t0)/float64(b.N), "cpu-ns/op")
}

// benchChannels returns n He-initialised channels of k weights
// (Gaussian, σ = √(2/k)), as a trained-from-init conv layer looks.
func benchChannels(n, k int) [][]float32 {
	rng := rand.New(rand.NewPCG(uint64(k), 77))
	sd := math.Sqrt(2 / float64(k))
	ws := make([][]float32, n)
	for c := range ws {
		ws[c] = make([]float32, k)
		for i := range ws[c] {
			ws[c][i] = float32(rng.NormFloat64() * sd)
		}
	}
	return ws
}

const benchNChan = 16

// benchSink keeps results alive (inlined pure calls would be removed).
var benchSink float64

func BenchmarkMSEScaleINT4(b *testing.B) {
	for _, k := range []int{576, 1152, 2304, 4608} {
		ws := benchChannels(benchNChan, k)
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			cpuTimed(b, func(i int) {
				benchSink += float64(MSEScale(ws[i%benchNChan], 7))
			})
		})
	}
}

func BenchmarkMSEScaleINT8(b *testing.B) {
	for _, k := range []int{147, 512, 4608} {
		ws := benchChannels(benchNChan, k)
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			cpuTimed(b, func(i int) {
				benchSink += float64(MSEScale(ws[i%benchNChan], 127))
			})
		})
	}
}

func BenchmarkQuantizeChannel(b *testing.B) {
	for _, c := range []struct{ k, q int }{{2304, 7}, {512, 127}} {
		ws := benchChannels(benchNChan, c.k)
		b.Run(fmt.Sprintf("q=%d/k=%d", c.q, c.k), func(b *testing.B) {
			cpuTimed(b, func(i int) {
				QuantizeChannel(ws[i%benchNChan], c.q)
			})
		})
	}
}

// BenchmarkQuantizeSymLoop is QuantizeChannel's code loop alone (scale
// precomputed).
func BenchmarkQuantizeSymLoop(b *testing.B) {
	for _, c := range []struct{ k, q int }{{2304, 7}, {512, 127}} {
		ws := benchChannels(benchNChan, c.k)
		sc := make([]float32, benchNChan)
		for j := range ws {
			sc[j] = MSEScale(ws[j], c.q)
		}
		codes := make([]int8, c.k)
		b.Run(fmt.Sprintf("q=%d/k=%d", c.q, c.k), func(b *testing.B) {
			cpuTimed(b, func(i int) {
				quantizeCodes(codes, ws[i%benchNChan], sc[i%benchNChan], c.q)
			})
		})
	}
}

func BenchmarkTWN(b *testing.B) {
	for _, k := range []int{576, 2304, 4608} {
		ws := benchChannels(benchNChan, k)
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			cpuTimed(b, func(i int) {
				_, a, _ := TWN(ws[i%benchNChan])
				benchSink += float64(a)
			})
		})
	}
}

func BenchmarkTernaryErrorOf(b *testing.B) {
	for _, k := range []int{576, 2304, 4608} {
		ws := benchChannels(benchNChan, k)
		ts := make([][]int8, benchNChan)
		as := make([]float32, benchNChan)
		for j := range ws {
			ts[j], as[j], _ = TWN(ws[j])
		}
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			cpuTimed(b, func(i int) {
				j := i % benchNChan
				benchSink += ternaryErrorOf(ws[j], ts[j], as[j])
			})
		})
	}
}

func BenchmarkMSEScaleINT4Small(b *testing.B) {
	for _, k := range []int{16, 64, 128, 256} {
		ws := benchChannels(benchNChan, k)
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			cpuTimed(b, func(i int) {
				benchSink += float64(MSEScale(ws[i%benchNChan], 7))
			})
		})
	}
}

// BenchmarkMSEPlainINT4Small is the plain search on small INT4 channels,
// to place the histogram search's cut-over.
func BenchmarkMSEPlainINT4Small(b *testing.B) {
	for _, k := range []int{16, 64, 128, 256} {
		ws := benchChannels(benchNChan, k)
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			cpuTimed(b, func(i int) {
				w := ws[i%benchNChan]
				m := 0.0
				for _, v := range w {
					m = math.Max(m, math.Abs(float64(v)))
				}
				benchSink += msePlain(w, 7, m, func(i int) float64 { return m * (1 - 0.008*float64(i)) / 7 })
			})
		})
	}
}

// BenchmarkMSEErr4 is one four-candidate exact pass over a channel.
func BenchmarkMSEErr4(b *testing.B) {
	for _, c := range []struct{ k, q int }{{512, 127}, {576, 7}} {
		w := benchChannels(1, c.k)[0]
		m := 0.0
		for _, v := range w {
			m = math.Max(m, math.Abs(float64(v)))
		}
		var s, inv [4]float64
		for j := range s {
			s[j] = m * (1 - 0.008*float64(j*10)) / float64(c.q)
			inv[j] = 1 / s[j]
		}
		b.Run(fmt.Sprintf("q=%d/k=%d", c.q, c.k), func(b *testing.B) {
			cpuTimed(b, func(i int) {
				e, _ := mseErr4(w, &s, &inv, float64(c.q), math.Inf(1))
				benchSink += e[0]
			})
		})
	}
}

// BenchmarkQuantKernels compares the SIMD kernels of quant_amd64.s with the
// pure-Go loops (path=go: useQuantSIMD cleared) on He-initialised channels.
func BenchmarkQuantKernels(b *testing.B) {
	paths := []struct {
		name string
		simd bool
	}{{"go", false}, {"simd", true}}
	for _, p := range paths {
		if p.simd && !useQuantSIMD {
			continue
		}
		run := func(b *testing.B, f func(i int)) {
			old := useQuantSIMD
			useQuantSIMD = p.simd
			defer func() { useQuantSIMD = old }()
			cpuTimed(b, f)
		}
		for _, c := range []struct{ k, q int }{{2304, 7}, {512, 127}} {
			ws := benchChannels(benchNChan, c.k)
			sc := make([]float32, benchNChan)
			for j := range ws {
				sc[j] = MSEScale(ws[j], c.q)
			}
			codes := make([]int8, c.k)
			b.Run(fmt.Sprintf("quantizeCodes/q=%d/k=%d/path=%s", c.q, c.k, p.name), func(b *testing.B) {
				run(b, func(i int) { quantizeCodes(codes, ws[i%benchNChan], sc[i%benchNChan], c.q) })
			})
		}
		for _, k := range []int{576, 4608} {
			ws := benchChannels(benchNChan, k)
			t := make([]int8, k)
			b.Run(fmt.Sprintf("TWN/k=%d/path=%s", k, p.name), func(b *testing.B) {
				run(b, func(i int) {
					_, a, _ := TWN(ws[i%benchNChan])
					benchSink += float64(a)
				})
			})
			b.Run(fmt.Sprintf("sumAbs/k=%d/path=%s", k, p.name), func(b *testing.B) {
				run(b, func(i int) {
					s, _ := sumAbs(ws[i%benchNChan])
					benchSink += s
				})
			})
			b.Run(fmt.Sprintf("twnExact/k=%d/path=%s", k, p.name), func(b *testing.B) {
				run(b, func(i int) {
					a, _ := twnExact(ws[i%benchNChan], t, 0.03)
					benchSink += a
				})
			})
		}
		for _, k := range []int{576, 4608} {
			ws := benchChannels(benchNChan, k)
			b.Run(fmt.Sprintf("MSEScaleINT4/k=%d/path=%s", k, p.name), func(b *testing.B) {
				run(b, func(i int) { benchSink += float64(MSEScale(ws[i%benchNChan], 7)) })
			})
		}
	}
}
