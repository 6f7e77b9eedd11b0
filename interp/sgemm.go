package interp

import (
	"runtime"
	"sync"
)

// SGEMM: C (m×n) = A (m×k) · B (k×n) [+ C], all float32, row-major C.
//
// Both operands are first packed into micro-panels: A into panels of mr
// rows stored k-major (mr floats per k), B into panels of nr columns (nr
// floats per k), zero-padded at the edges. A register-tiled micro-kernel
// then computes one mr×nr block of C from one A panel and one B panel over
// a block of kc consecutive k. The caller's goroutines split C into tiles.
//
// Determinism: every element of C is produced by exactly one micro-kernel
// call sequence, summing k in blocks of kc (fixed) in ascending order,
// each block from zero and then added to C. Neither the tile split nor
// the number of workers changes that order, so results are bit-identical
// across runs and GOMAXPROCS settings.

const (
	mr = 6  // rows per A panel (micro-kernel height)
	nr = 16 // columns per B panel (micro-kernel width: two AVX registers)
	kc = 256

	// Tile sizes for parallel work: a tile of C is mcTile rows × ncTile
	// columns; its A block (mcTile×kc) stays in L2 while one B micro-panel
	// (kc×nr, 16 KiB) stays in L1.
	mcTile = 16 * mr
	ncTile = 12 * nr
)

// matrix addresses element (i, j) at d[i*rs+j*cs]: transposed operands are
// just swapped strides.
type matrix struct {
	d      []float32
	rs, cs int
}

func packedALen(m, k int) int { return (m + mr - 1) / mr * mr * k }
func packedBLen(k, n int) int { return (n + nr - 1) / nr * nr * k }

// packA packs rows [0,m) of a scaled by alpha into dst (packedALen(m,k)).
func packA(dst []float32, a matrix, m, k int, alpha float32) {
	parallelFor((m+mr-1)/mr, 1+4096/(k+1), func(p0, p1 int) {
		for p := p0; p < p1; p++ {
			packAPanel(dst[p*mr*k:(p+1)*mr*k], a, p*mr, min(mr, m-p*mr), k, alpha)
		}
	})
}

func packAPanel(dst []float32, a matrix, i0, rows, k int, alpha float32) {
	for r := 0; r < rows; r++ {
		base := (i0 + r) * a.rs
		if a.cs == 1 {
			src := a.d[base : base+k]
			if alpha == 1 {
				for kk, v := range src {
					dst[kk*mr+r] = v
				}
			} else {
				for kk, v := range src {
					dst[kk*mr+r] = alpha * v
				}
			}
			continue
		}
		for kk := 0; kk < k; kk++ {
			dst[kk*mr+r] = alpha * a.d[base+kk*a.cs]
		}
	}
	for r := rows; r < mr; r++ {
		for kk := 0; kk < k; kk++ {
			dst[kk*mr+r] = 0
		}
	}
}

// packB packs columns [0,n) of b into dst (packedBLen(k,n)).
func packB(dst []float32, b matrix, k, n int) {
	parallelFor((n+nr-1)/nr, 1+4096/(k+1), func(p0, p1 int) {
		packBPanels(dst[p0*nr*k:], b, k, n, p0, p1)
	})
}

// packBPanels packs panels [p0,p1) of b into dst (starting at panel p0).
func packBPanels(dst []float32, b matrix, k, n, p0, p1 int) {
	for p := p0; p < p1; p++ {
		j0 := p * nr
		cols := min(nr, n-j0)
		panel := dst[(p-p0)*nr*k : (p-p0+1)*nr*k]
		for kk := 0; kk < k; kk++ {
			row := panel[kk*nr : kk*nr+nr]
			base := kk*b.rs + j0*b.cs
			if b.cs == 1 {
				copyShort(row[:cols], b.d[base:])
			} else {
				for j := 0; j < cols; j++ {
					row[j] = b.d[base+j*b.cs]
				}
			}
			for j := cols; j < nr; j++ {
				row[j] = 0
			}
		}
	}
}

var floatPool sync.Pool

// getFloats returns a scratch slice of length n (contents undefined).
func getFloats(n int) *[]float32 {
	if p, ok := floatPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

func putFloats(p *[]float32) { floatPool.Put(p) }

// sgemm computes C = alpha·A·B (+ C when acc) with C row-major (ldc).
func sgemm(m, n, k int, alpha float32, a, b matrix, c []float32, ldc int, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !acc {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	if m == 1 {
		gemv(n, k, alpha, a, b, c, acc)
		return
	}
	pa := getFloats(packedALen(m, k))
	pb := getFloats(packedBLen(k, n))
	packA(*pa, a, m, k, alpha)
	packB(*pb, b, k, n)
	sgemmPacked(m, n, k, *pa, *pb, c, ldc, acc, epilogue{})
	putFloats(pa)
	putFloats(pb)
}

// gemv handles a single row of A, where panel packing would waste 5/6 of
// the work. Each output is one fixed-order sum, as in the tiled path.
func gemv(n, k int, alpha float32, a, b matrix, c []float32, acc bool) {
	parallelFor(n, 1+16384/(k+1), func(j0, j1 int) {
		if b.rs == 1 {
			// B transposed: column j is contiguous, a dot product.
			for j := j0; j < j1; j++ {
				col := b.d[j*b.cs : j*b.cs+k]
				var s float32
				if a.cs == 1 {
					s = dot(a.d[:k], col)
				} else {
					for kk, v := range col {
						s += a.d[kk*a.cs] * v
					}
				}
				if acc {
					c[j] += alpha * s
				} else {
					c[j] = alpha * s
				}
			}
			return
		}
		tmp := make([]float32, j1-j0)
		for kk := 0; kk < k; kk++ {
			av := a.d[kk*a.cs]
			row := b.d[kk*b.rs+j0*b.cs:]
			if b.cs == 1 {
				row = row[:j1-j0]
				for j, v := range row {
					tmp[j] += av * v
				}
			} else {
				for j := range tmp {
					tmp[j] += av * row[j*b.cs]
				}
			}
		}
		for j, s := range tmp {
			if acc {
				c[j0+j] += alpha * s
			} else {
				c[j0+j] = alpha * s
			}
		}
	})
}

// dot sums x[i]*y[i] with eight interleaved partial sums (a fixed order).
func dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
		s4 += x[i+4] * y[i+4]
		s5 += x[i+5] * y[i+5]
		s6 += x[i+6] * y[i+6]
		s7 += x[i+7] * y[i+7]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// epilogue is applied by the micro-kernel to each block of C after its
// last k block, before the block is stored: C += bias[row], then Relu.
// Either may be absent.
type epilogue struct {
	bias []float32 // per row of C
	relu bool
}

// Micro-kernel flags.
const (
	kAcc  = 1 << iota // add the sums to C (else overwrite C)
	kBias             // then add bias[row]
	kRelu             // then max(v, 0)
)

// sgemmPacked multiplies packed operands (see packA, packB) into C, then
// applies epi. C is split into tiles of mcTile×ncTile run in parallel.
func sgemmPacked(m, n, k int, pa, pb []float32, c []float32, ldc int, acc bool, epi epilogue) {
	mt := (m + mcTile - 1) / mcTile
	nt := (n + ncTile - 1) / ncTile
	// Small problems run on the calling goroutine: spawning costs more.
	grain := 1
	if m*n*k < 1<<18 {
		grain = mt * nt
	}
	parallelFor(mt*nt, grain, func(t0, t1 int) {
		for t := t0; t < t1; t++ {
			i0, j0 := (t/nt)*mcTile, (t%nt)*ncTile
			gemmTile(k, pa, i0, min(i0+mcTile, m), pb, 0, j0, min(j0+ncTile, n), c, ldc, acc, &epi)
		}
	})
}

// panelPacker writes B's panels [p0, p1) (columns p0·nr … p1·nr−1, all k
// rows) to dst in packB's layout, dst starting at panel p0.
type panelPacker func(dst []float32, p0, p1 int)

// colTile is the column width of a task in sgemmPackOnTheFly: its packed
// B block (k × colTile) should stay in L2 (1 MiB here) for k up to ~2300.
const colTile = 6 * nr

// sgemmPackOnTheFly is sgemmPacked for a B that is packed by packB (an
// im2col, typically) as the work proceeds: each task packs the B panels
// of its column range just before multiplying them with all of A, so the
// block is still in cache, and no K×N buffer is written to memory. It
// falls back to packing all of B first when there are too few column
// tiles to keep every worker busy. Results are identical either way (the
// per-element arithmetic does not depend on the tiling).
func sgemmPackOnTheFly(m, n, k int, pa []float32, packB panelPacker, c []float32, ldc int, epi epilogue) {
	nt := (n + colTile - 1) / colTile
	if nt < 3*runtime.GOMAXPROCS(0) || m*n*k < 1<<18 {
		pb := getFloats(packedBLen(k, n))
		parallelFor((n+nr-1)/nr, 1+2048/(k+1), func(p0, p1 int) {
			packB((*pb)[p0*nr*k:], p0, p1)
		})
		sgemmPacked(m, n, k, pa, *pb, c, ldc, false, epi)
		putFloats(pb)
		return
	}
	parallelFor(nt, 1, func(t0, t1 int) {
		buf := getFloats(colTile * k)
		for t := t0; t < t1; t++ {
			j0 := t * colTile
			j1 := min(j0+colTile, n)
			p0, p1 := j0/nr, (j1+nr-1)/nr
			packB(*buf, p0, p1)
			gemmTile(k, pa, 0, m, *buf, p0, j0, j1, c, ldc, false, &epi)
		}
		putFloats(buf)
	})
}

// gemmTile computes C[i0:i1, j0:j1] (i0 a multiple of mr, j0 of nr) from
// packed A and packed B, where pb holds B's panels starting at panel pb0.
// Loop order: k blocks outermost, then B micro-panels (one stays in L1),
// then A micro-panels (the A block stays in L2).
func gemmTile(k int, pa []float32, i0, i1 int, pb []float32, pb0, j0, j1 int, c []float32, ldc int, acc bool, epi *epilogue) {
	var tmp [mr * nr]float32
	var bias [mr]float32
	for p0 := 0; p0 < k; p0 += kc {
		kb := min(kc, k-p0)
		flags := 0
		if acc || p0 > 0 {
			flags = kAcc
		}
		if p0+kb == k && epi.relu {
			flags |= kRelu
		}
		for j := j0; j < j1; j += nr {
			bp := pb[(j/nr-pb0)*nr*k+p0*nr:]
			cols := min(nr, j1-j)
			for i := i0; i < i1; i += mr {
				ap := pa[(i/mr)*mr*k+p0*mr:]
				rows := min(mr, i1-i)
				f := flags
				if p0+kb == k && epi.bias != nil {
					f |= kBias
					copy(bias[:], epi.bias[i:i+rows])
				}
				if rows == mr && cols == nr {
					microKernel(kb, ap, bp, c[i*ldc+j:], ldc, f, &bias)
					continue
				}
				// Edge block: run the same kernel on a full scratch
				// block so the arithmetic is unchanged.
				if f&kAcc != 0 {
					for r := 0; r < rows; r++ {
						copy(tmp[r*nr:r*nr+cols], c[(i+r)*ldc+j:])
					}
				}
				microKernel(kb, ap, bp, tmp[:], nr, f, &bias)
				for r := 0; r < rows; r++ {
					copy(c[(i+r)*ldc+j:(i+r)*ldc+j+cols], tmp[r*nr:])
				}
			}
		}
	}
}

// kernelGo is the portable micro-kernel: c[0:mr, 0:nr] (row stride ldc)
// = Σ over kb of an A panel column times a B panel row, then as flags say
// + c (kAcc), + bias[row] (kBias), max(·, 0) (kRelu).
func kernelGo(kb int, a, b []float32, c []float32, ldc int, flags int, bias *[mr]float32) {
	var s [mr][nr]float32
	a = a[:kb*mr]
	b = b[:kb*nr]
	for p := 0; p < kb; p++ {
		bv := (*[nr]float32)(b[p*nr:])
		av := (*[mr]float32)(a[p*mr:])
		for r := 0; r < mr; r++ {
			ar := av[r]
			sr := &s[r]
			for j := 0; j < nr; j++ {
				sr[j] += ar * bv[j]
			}
		}
	}
	for r := 0; r < mr; r++ {
		row := (*[nr]float32)(c[r*ldc:])
		for j := range row {
			v := s[r][j]
			if flags&kAcc != 0 {
				v = row[j] + v
			}
			if flags&kBias != 0 {
				v += bias[r]
			}
			if flags&kRelu != 0 {
				v = max(v, 0)
			}
			row[j] = v
		}
	}
}
