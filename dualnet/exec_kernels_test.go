package dualnet

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// kernelModes are the executor's kernel sets: every test below runs each
// one the CPU supports, so the pure-Go and AVX2 paths stay tested on an
// AVX-512 machine.
var kernelModes = []struct {
	name                    string
	avx2, avx512, extension bool
}{
	{"avx512", true, true, true},
	{"avx512-base", true, true, false}, // without VNNI, VBMI, GFNI
	{"avx2", true, false, false},
	{"go", false, false, false},
}

// forKernelModes runs f with the executor restricted to each kernel set
// (the switches are read when paths are built and when they run).
func forKernelModes(t *testing.T, f func(t *testing.T)) {
	a2, a5, vb, vn, gf := useAVX2, useAVX512, useVBMI, useVNNI, useGFNI
	defer func() { useAVX2, useAVX512, useVBMI, useVNNI, useGFNI = a2, a5, vb, vn, gf }()
	for _, m := range kernelModes {
		if (m.avx2 && !a2) || (m.avx512 && !a5) || (m.extension && !(vb || vn || gf)) {
			continue
		}
		useAVX2, useAVX512 = m.avx2, m.avx512
		useVBMI, useVNNI, useGFNI = vb && m.extension, vn && m.extension, gf && m.extension
		t.Run(m.name, f)
	}
}

// naiveInt is §8.2 written out: per tile, input bit plane and weight bit
// column, the count, the converter, the signed power of two.
func naiveInt(x, w []int64, xbits, wbits int, signed bool, adc ADC) int64 {
	var acc int64
	for t0 := 0; t0 < len(x); t0 += adc.Rows {
		for i := 0; i < xbits; i++ {
			for j := 0; j < wbits; j++ {
				var cnt int64
				for k := t0; k < min(t0+adc.Rows, len(x)); k++ {
					cnt += bit(x[k], i, xbits) * bit(w[k], j, wbits)
				}
				if !adc.Ideal {
					cnt = min(cnt, int64(adc.Sat()))
				}
				v := int64(1) << (i + j)
				if j == wbits-1 {
					v = -v
				}
				if signed && i == xbits-1 {
					v = -v
				}
				acc += v * cnt
			}
		}
	}
	return acc
}

// naiveTB is §8.3.
func naiveTB(x, w []int64, tau int64, adc ADC) int64 {
	var acc int64
	for t0 := 0; t0 < len(x); t0 += adc.Rows {
		var pp, pm int64
		for k := t0; k < min(t0+adc.Rows, len(x)); k++ {
			if x[k] >= tau {
				pp += b2i(w[k] == 1)
				pm += b2i(w[k] == -1)
			}
		}
		if !adc.Ideal {
			pp, pm = min(pp, int64(adc.Sat())), min(pm, int64(adc.Sat()))
		}
		acc += pp - pm
	}
	return acc
}

var kernelADCs = []ADC{
	{Rows: 128, Bits: 5},              // the default: two-word tiles
	{Rows: 128, Bits: 5, Ideal: true}, // exact
	{Rows: 64, Bits: 3},               // one-word tiles
	{Rows: 100, Bits: 4},              // tiles not a multiple of 32
	{Rows: 16, Bits: 2},
	{Rows: 30, Bits: 5}, // tiles shorter than 31 rows: exact
	{Rows: 192, Bits: 6},
}

// TestIntPathKernels: the SRAM path's accumulators (dot product plus ADC
// correction, as mmStep.run forms them) against §8.2, on random data
// biased towards saturation, for edge sizes of K and row counts, signed
// and unsigned inputs, 4- and 8-bit weights.
func TestIntPathKernels(t *testing.T) {
	forKernelModes(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, adc := range kernelADCs {
			for _, kg := range []int{1, 7, 31, 64, 100, 128, 129, 200, 288, 577} {
				for _, wbits := range []int{4, 8} {
					for _, xbits := range []int{1, 3, 4, 8} {
						for _, signed := range []bool{false, true} {
							rows := []int{1, 5, 8, 13, 32}[rng.IntN(5)]
							name := fmt.Sprintf("%v/k%d/w%d/x%d/s%v/rows%d", adc, kg, wbits, xbits, signed, rows)
							checkIntPath(t, rng, name, adc, kg, rows, wbits, xbits, signed)
						}
					}
				}
			}
		}
	})
}

func checkIntPath(t *testing.T, rng *rand.Rand, name string, adc ADC, kg, rows, wbits, xbits int, signed bool) {
	t.Helper()
	wmax := int64(1)<<(wbits-1) - 1
	w := make([]int64, rows*kg)
	ch := make([]int64, rows)
	for r := range ch {
		ch[r] = int64(r)
		for k := 0; k < kg; k++ {
			// Mostly small negative weights: every column set.
			switch rng.IntN(4) {
			case 0:
				w[r*kg+k] = -1
			case 1:
				w[r*kg+k] = 0
			default:
				w[r*kg+k] = rng.Int64N(2*wmax+1) - wmax
			}
		}
	}
	kpad := (kg + 31) &^ 31
	ip := newIntPath(i8s(w), ch, wbits, kg, kpad, xbits, adc)
	s := &mmStep{kg: kg, kpad: kpad, cin: 1, hp: 1, wp: 1, cout: rows, sram: adc, edram: adc,
		ipaths: []*intPath{ip}, chAll: [][]int32{make([]int32, ip.rowsPad)}}
	sc := s.scratch(&state{scratch: map[int]any{}})
	lo, hi := codeRange(xbits, signed)
	var xoff int64
	if signed {
		xoff = 1 << (xbits - 1)
	}
	x := make([]int64, kg)
	for trial := 0; trial < 3; trial++ {
		dense := trial == 0
		for k := range x {
			switch {
			case dense:
				x[k] = hi // every plane set: most counts saturate
			case rng.IntN(3) == 0:
				x[k] = 0
			default:
				x[k] = lo + rng.Int64N(hi-lo+1)
			}
			sc.xcol[k] = uint8(x[k] + xoff)
		}
		dst := make([]int32, len(sc.acc))
		ip.dot(sc.xcol[:kpad], dst, sc, int32(xoff))
		if !adc.Exact() {
			ip.adcApply(dst, sc, int32(xoff), xbits, adc)
		}
		for r := 0; r < rows; r++ {
			want := naiveInt(x, w[r*kg:(r+1)*kg], xbits, wbits, signed, adc)
			if int64(dst[r]) != want {
				t.Fatalf("%s trial %d row %d: %d, want %d", name, trial, r, dst[r], want)
			}
		}
	}
}

// TestTBPathKernels: the TB path's accumulators against §8.3.
func TestTBPathKernels(t *testing.T) {
	forKernelModes(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, adc := range kernelADCs {
			for _, kg := range []int{1, 7, 31, 64, 100, 128, 129, 200, 288, 577} {
				for _, signed := range []bool{false, true} {
					for _, rows := range []int{1, 6, 8, 19} {
						checkTBPath(t, rng, adc, kg, rows, signed)
					}
				}
			}
		}
	})
}

func checkTBPath(t *testing.T, rng *rand.Rand, adc ADC, kg, rows int, signed bool) {
	t.Helper()
	w := make([]int64, rows*kg)
	ch := make([]int64, rows)
	for r := range ch {
		ch[r] = int64(r)
		for k := 0; k < kg; k++ {
			w[r*kg+k] = rng.Int64N(3) - 1
			if r%2 == 1 && rng.IntN(4) != 0 {
				w[r*kg+k] = 1 // lopsided rows: one column saturates
			}
		}
	}
	kpad := (kg + 31) &^ 31
	tp := newTBPath(i8s(w), ch, kg, adc)
	s := &mmStep{kg: kg, kpad: kpad, cin: 1, hp: 1, wp: 1, cout: rows, sram: adc, edram: adc,
		ipaths: []*intPath{nil}, tpath: tp, chAll: [][]int32{make([]int32, (rows+3)&^3)}}
	sc := s.scratch(&state{scratch: map[int]any{}})
	const xbits = 4
	lo, hi := codeRange(xbits, signed)
	var xoff int64
	if signed {
		xoff = 1 << (xbits - 1)
	}
	x := make([]int64, kg)
	for _, tau := range []int64{1, 3} {
		for k := range x {
			x[k] = lo + rng.Int64N(hi-lo+1)
			sc.xcol[k] = uint8(x[k] + xoff)
		}
		tauU := uint8(tau + xoff)
		dst := make([]int32, len(sc.acc))
		if tp.bytes != nil {
			geBytesAVX2(&sc.xcol[0], kpad, int8(tauU-1), &sc.bb[0])
			tp.bytes.dot(sc.bb, dst, sc, 0)
		} else {
			tp.apply(dst, sc, tauU, kg, adc)
		}
		for r := 0; r < rows; r++ {
			want := naiveTB(x, w[r*kg:(r+1)*kg], tau, adc)
			if int64(dst[r]) != want {
				t.Fatalf("%v k%d rows%d signed %v tau %d row %d: %d, want %d", adc, kg, rows, signed, tau, r, dst[r], want)
			}
		}
	}
}

// TestExecutorKernelModes: the whole executor against the naive
// reference with each kernel set.
func TestExecutorKernelModes(t *testing.T) {
	forKernelModes(t, func(t *testing.T) {
		TestExecutorMatchesReference(t)
	})
}

// TestNHWCKernels: the CHW int32 → padded NHWC byte conversions against
// the plain loop.
func TestNHWCKernels(t *testing.T) {
	for _, g := range [][3]int{{16, 2, 32}, {32, 3, 16}, {48, 1, 48}, {16, 5, 5}, {8, 3, 7}, {64, 8, 8}} {
		cin, h, w := g[0], g[1], g[2]
		const ph, pw, xoff = 1, 2, 8
		wp := w + 2*pw
		img := make([]int32, cin*h*w)
		for i := range img {
			img[i] = int32(i*7%16) - 8
		}
		want := make([]uint8, (h+2*ph)*wp*cin)
		for c := 0; c < cin; c++ {
			for p := 0; p < h*w; p++ {
				want[((p/w+ph)*wp+p%w+pw)*cin+c] = uint8(img[c*h*w+p] + xoff)
			}
		}
		check := func(name string, got []uint8) {
			t.Helper()
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s %v: byte %d = %d, want %d", name, g, i, got[i], want[i])
				}
			}
		}
		if cin%8 == 0 {
			got := make([]uint8, len(want))
			transposeNHWC8(got, img, cin, h, w, wp, ph, pw, xoff)
			check("transposeNHWC8", got)
		}
		if useAVX512 && cin%16 == 0 {
			got := make([]uint8, len(want))
			for iy := 0; iy < h; iy++ {
				nhwc512(&img[iy*w], h*w, cin, w, xoff, &got[((iy+ph)*wp+pw)*cin])
			}
			check("nhwc512", got)
		}
		if useVBMI && cin%16 == 0 && w%16 == 0 {
			got := make([]uint8, len(want))
			for iy := 0; iy < h; iy++ {
				nhwcT512(&img[iy*w], h*w, cin, w, xoff, &got[((iy+ph)*wp+pw)*cin], &nhwcIdx[0])
			}
			check("nhwcT512", got)
		}
	}
}

// TestBlockKernels: the kernels that run over a block of positions
// (dotBlkVNNI, adcPix512/adcPixG512, tbPix512 with npix > 1 and an
// accumulator stride longer than the path's rows) against §8.2 and §8.3,
// for edge sizes of K, rows and block lengths; accumulators outside each
// path's rows must keep their values.
func TestBlockKernels(t *testing.T) {
	forKernelModes(t, func(t *testing.T) {
		if !useAVX512 {
			t.Skip("no AVX-512 kernel set")
		}
		rng := rand.New(rand.NewPCG(5, 6))
		adcs := []ADC{{Rows: 128, Bits: 5}, {Rows: 128, Bits: 5, Ideal: true}, {Rows: 128, Bits: 3}}
		for _, adc := range adcs {
			for _, kg := range []int{1, 7, 31, 64, 100, 128, 129, 200, 288, 577} {
				for _, rows := range []int{1, 5, 13, 16, 17, 40} {
					for _, npix := range []int{1, 7, 8, 9, 32} {
						wbits := []int{4, 8}[rng.IntN(2)]
						xbits := []int{1, 4, 8}[rng.IntN(3)]
						signed := rng.IntN(2) == 0
						checkIntBlock(t, rng, adc, kg, rows, npix, wbits, xbits, signed)
						checkTBBlock(t, rng, adc, kg, rows, npix, signed)
					}
				}
			}
		}
	})
}

const sentinel = -123456789

func checkIntBlock(t *testing.T, rng *rand.Rand, adc ADC, kg, rows, npix, wbits, xbits int, signed bool) {
	t.Helper()
	name := fmt.Sprintf("%v/k%d/rows%d/npix%d/w%d/x%d/s%v", adc, kg, rows, npix, wbits, xbits, signed)
	wmax := int64(1)<<(wbits-1) - 1
	w := make([]int64, rows*kg)
	ch := make([]int64, rows)
	for r := range ch {
		ch[r] = int64(r)
		for k := 0; k < kg; k++ {
			if rng.IntN(3) == 0 {
				w[r*kg+k] = -1
			} else {
				w[r*kg+k] = rng.Int64N(2*wmax+2) - wmax - 1
			}
		}
	}
	kpad := (kg + 31) &^ 31
	ip := newIntPath(i8s(w), ch, wbits, kg, kpad, xbits, adc)
	rall := ip.rowsPad + 8 // room for eight TB rows after the path's
	s := &mmStep{kg: kg, kpad: kpad, cin: 1, hp: 1, wp: 1, cout: rows, sram: adc, edram: adc,
		ipaths: []*intPath{ip}, chAll: [][]int32{make([]int32, rall)}}
	sc := s.scratch(&state{scratch: map[int]any{}})
	if sc.xblk == nil { // no VNNI
		sc.xblk = alignedU8(posBlock*sc.xs + 64)
	}
	lo, hi := codeRange(xbits, signed)
	var xoff int64
	if signed {
		xoff = 1 << (xbits - 1)
	}
	xs := make([][]int64, npix)
	for p := range xs {
		xs[p] = make([]int64, kg)
		dense := p%3 == 0 // every plane set: most counts saturate
		for k := range xs[p] {
			switch {
			case dense:
				xs[p][k] = hi
			case rng.IntN(3) == 0:
				xs[p][k] = 0
			default:
				xs[p][k] = lo + rng.Int64N(hi-lo+1)
			}
			sc.xblk[p*sc.xs+k] = uint8(xs[p][k] + xoff)
		}
		for k := kg; k < sc.xs; k++ {
			sc.xblk[p*sc.xs+k] = uint8(rng.IntN(256)) // garbage past K
		}
	}
	acc := make([]int32, posBlock*rall+8)
	for i := range acc {
		acc[i] = sentinel
	}
	if ip.wq != nil {
		ip.dotBlk(sc.xblk, sc.xs, npix, acc, rall, sc, int32(xoff))
	} else {
		// Without VNNI the dot products are formed per position.
		for p := 0; p < npix; p++ {
			ip.dot(sc.xblk[p*sc.xs:p*sc.xs+kpad], acc[p*rall:], sc, int32(xoff))
		}
	}
	sc.xcol = sc.xcol0
	if !adc.Exact() {
		if !ip.adc512(rall+4, sc, xbits) {
			t.Fatalf("%s: no AVX-512 ADC kernel", name)
		}
		ip.adcBlk(sc.xblk, sc.xs, npix, acc, rall, sc, int32(xoff), xbits, adc)
	}
	for p := 0; p < npix; p++ {
		for r := 0; r < rall; r++ {
			got := acc[p*rall+r]
			var want int64
			switch {
			case r < rows:
				want = naiveInt(xs[p], w[r*kg:(r+1)*kg], xbits, wbits, signed, adc)
			case r < ip.rowsPad:
				want = 0
			default:
				want = sentinel
			}
			if int64(got) != want {
				t.Fatalf("%s: position %d row %d: %d, want %d", name, p, r, got, want)
			}
		}
	}
	for i := npix * rall; i < len(acc); i++ {
		if acc[i] != sentinel {
			t.Fatalf("%s: accumulator %d past the block written", name, i)
		}
	}
}

func checkTBBlock(t *testing.T, rng *rand.Rand, adc ADC, kg, rows, npix int, signed bool) {
	t.Helper()
	name := fmt.Sprintf("TB %v/k%d/rows%d/npix%d/s%v", adc, kg, rows, npix, signed)
	w := make([]int64, rows*kg)
	ch := make([]int64, rows)
	for r := range ch {
		ch[r] = int64(r)
		for k := 0; k < kg; k++ {
			w[r*kg+k] = rng.Int64N(3) - 1
			if r%2 == 1 && rng.IntN(4) != 0 {
				w[r*kg+k] = 1
			}
		}
	}
	kpad := (kg + 31) &^ 31
	tp := newTBPath(i8s(w), ch, kg, adc)
	toff := 4                      // TB rows after four SRAM rows
	rall := toff + (rows+7)&^7 + 4 // and four more rows
	s := &mmStep{kg: kg, kpad: kpad, cin: 1, hp: 1, wp: 1, cout: rows, sram: adc, edram: adc,
		ipaths: []*intPath{nil}, tpath: tp, chAll: [][]int32{make([]int32, rall)}}
	sc := s.scratch(&state{scratch: map[int]any{}})
	if !tp.tb512(rall-toff, sc) {
		t.Fatalf("%s: no AVX-512 TB kernel", name)
	}
	const xbits = 4
	lo, hi := codeRange(xbits, signed)
	var xoff int64
	if signed {
		xoff = 1 << (xbits - 1)
	}
	const tau = 1
	xs := make([][]int64, npix)
	for p := range xs {
		xs[p] = make([]int64, kg)
		for k := range xs[p] {
			xs[p][k] = lo + rng.Int64N(hi-lo+1)
			sc.xblk[p*sc.xs+k] = uint8(xs[p][k] + xoff)
		}
		for k := kg; k < sc.xs; k++ {
			sc.xblk[p*sc.xs+k] = 255 // garbage past K: above tau
		}
	}
	acc := make([]int32, posBlock*rall+8)
	for i := range acc {
		acc[i] = sentinel
	}
	tp.applyBlk(sc.xblk, sc.xs, npix, acc[toff:], rall, sc, uint8(tau+xoff), adc)
	for p := 0; p < npix; p++ {
		for r := 0; r < rall; r++ {
			got := acc[p*rall+r]
			var want int64
			switch {
			case r >= toff && r < toff+rows:
				want = naiveTB(xs[p], w[(r-toff)*kg:(r-toff+1)*kg], tau, adc)
			case r >= toff && r < toff+tp.rows8:
				want = 0
			default:
				want = sentinel
			}
			if int64(got) != want {
				t.Fatalf("%s: position %d row %d: %d, want %d", name, p, r, got, want)
			}
		}
	}
}

// TestGatherBlock: gatherBlk512 against gatherRuns on random runs.
func TestGatherBlock(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 200; trial++ {
		var runs []run
		dst, src := 0, 0
		for i := 0; i < 1+rng.IntN(9); i++ {
			n := 1 + rng.IntN(200)
			src += rng.IntN(100)
			runs = append(runs, run{dst: dst, src: src, n: n})
			dst += n
			src += n
		}
		kg := dst
		xs := (kg + 127) &^ 127
		npix := 1 + rng.IntN(posBlock)
		bases := make([]int, npix)
		b := 0
		for i := range bases {
			b += rng.IntN(50)
			bases[i] = b
		}
		xp := make([]uint8, b+src, b+src+64)
		for i := range xp {
			xp[i] = uint8(rng.IntN(256))
		}
		xblk := alignedU8(posBlock*xs + 64)
		gatherBlk512(&xblk[0], xs, &xp[0], &bases[0], npix, &runs[0], len(runs))
		want := make([]uint8, xs)
		for p := 0; p < npix; p++ {
			gatherRuns(want, xp, bases[p], runs)
			for k := 0; k < kg; k++ {
				if xblk[p*xs+k] != want[k] {
					t.Fatalf("trial %d position %d byte %d: %d, want %d", trial, p, k, xblk[p*xs+k], want[k])
				}
			}
		}
	}
}

// i8s narrows test weights (all within int8) to the executor's storage.
func i8s(w []int64) []int8 {
	out := make([]int8, len(w))
	for i, v := range w {
		out[i] = int8(v)
	}
	return out
}
