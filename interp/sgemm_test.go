package interp

import (
	"math"
	"math/rand"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func naiveGemm(m, n, k int, alpha float32, a, b matrix, c []float32, ldc int, acc bool) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a.d[i*a.rs+p*a.cs]) * float64(b.d[p*b.rs+j*b.cs])
			}
			v := float32(float64(alpha) * s)
			if acc {
				v += c[i*ldc+j]
			}
			c[i*ldc+j] = v
		}
	}
}

func randFloats(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// closeTo allows the rounding of a k-term float32 sum.
func closeTo(got, want []float32, k int) (int, bool) {
	tol := 1e-5 * float64(k+1)
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			return i, false
		}
	}
	return 0, true
}

func TestSgemmRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	shapes := [][3]int{{1, 1, 1}, {2, 3, 4}, {6, 16, 1}, {7, 17, 3}, {5, 15, 300}, {64, 49, 576}, {13, 200, 257}, {100, 33, 512}, {1, 100, 70}, {97, 1, 40}, {3, 5, 0}}
	for i := 0; i < 40; i++ {
		shapes = append(shapes, [3]int{1 + r.Intn(130), 1 + r.Intn(300), 1 + r.Intn(600)})
	}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				ad, bd := randFloats(r, m*k), randFloats(r, k*n)
				a := matrix{ad, k, 1}
				if ta {
					a = matrix{ad, 1, m}
				}
				b := matrix{bd, n, 1}
				if tb {
					b = matrix{bd, 1, k}
				}
				acc := r.Intn(2) == 0
				alpha := float32(1)
				if r.Intn(2) == 0 {
					alpha = 0.5
				}
				ldc := n + r.Intn(3)
				c0 := randFloats(r, m*ldc)
				got := append([]float32{}, c0...)
				want := append([]float32{}, c0...)
				sgemm(m, n, k, alpha, a, b, got, ldc, acc)
				naiveGemm(m, n, k, alpha, a, b, want, ldc, acc)
				if i, ok := closeTo(got, want, k); !ok {
					t.Fatalf("m=%d n=%d k=%d ta=%v tb=%v acc=%v: c[%d]=%g, want %g", m, n, k, ta, tb, acc, i, got[i], want[i])
				}
			}
		}
	}
}

func TestMicroKernelMatchesGo(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	var bias [mr]float32
	copy(bias[:], randFloats(r, mr))
	for _, kb := range []int{1, 2, 7, 256} {
		a, b := randFloats(r, kb*mr), randFloats(r, kb*nr)
		c0 := randFloats(r, mr*20)
		for flags := 0; flags < 8; flags++ {
			got := append([]float32{}, c0...)
			want := append([]float32{}, c0...)
			microKernel(kb, a, b, got, 20, flags, &bias)
			kernelGo(kb, a, b, want, 20, flags, &bias)
			if i, ok := closeTo(got, want, kb); !ok {
				t.Fatalf("kb=%d flags=%d: c[%d]=%g, want %g", kb, flags, i, got[i], want[i])
			}
			for i := range got {
				if i%20 >= nr && got[i] != c0[i] {
					t.Fatalf("kernel wrote outside its block at %d", i)
				}
			}
		}
	}
}

func TestSgemmDeterministic(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	m, n, k := 150, 700, 1000
	a, b := randFloats(r, m*k), randFloats(r, k*n)
	run := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		c := make([]float32, m*n)
		sgemm(m, n, k, 1, matrix{a, k, 1}, matrix{b, n, 1}, c, n, false)
		return c
	}
	c1, c2, c8 := run(1), run(2), run(8)
	for i := range c1 {
		if c1[i] != c2[i] || c1[i] != c8[i] {
			t.Fatalf("c[%d] differs with worker count: %g %g %g", i, c1[i], c2[i], c8[i])
		}
	}
}

func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewSource(4))
	for _, s := range [][3]int{{64, 3136, 576}, {256, 784, 1152}, {512, 196, 4608}} {
		m, n, k := s[0], s[1], s[2]
		a, bb := randFloats(r, m*k), randFloats(r, k*n)
		c := make([]float32, m*n)
		b.Run(fmtShape(m, n, k), func(b *testing.B) {
			for b.Loop() {
				sgemm(m, n, k, 1, matrix{a, k, 1}, matrix{bb, n, 1}, c, n, false)
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

func fmtShape(d ...int) string {
	parts := make([]string, len(d))
	for i, v := range d {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, "x")
}

// BenchmarkMicroKernel times the 6×16 kernel on L1-resident panels.
func BenchmarkMicroKernel(b *testing.B) {
	r := rand.New(rand.NewSource(10))
	a, bb := randFloats(r, kc*mr), randFloats(r, kc*nr)
	c := make([]float32, mr*nr)
	var bias [mr]float32
	for b.Loop() {
		microKernel(kc, a, bb, c, nr, kAcc, &bias)
	}
	b.ReportMetric(2*float64(kc*mr*nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}
