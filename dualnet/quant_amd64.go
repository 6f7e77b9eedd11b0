//go:build amd64

package dualnet

// useQuantSIMD selects the AVX2 kernels of quant_amd64.s for quantizeCodes,
// sumAbs and twnExact; tests clear it to force the pure-Go loops, which
// the kernels must match bit for bit.
var useQuantSIMD = useAVX2

// quantCodesAVX2 is quantizeCodes' fast path on n weights (n a multiple of
// 16), blocks of 16: codes from v·inv rounded half to even and clamped to
// [−q, q]. A block holding a NaN or a weight with |v| < thr whose
// (v·inv − r)² exceeds near is left unwritten, and its start returned;
// otherwise n is returned.
//
//go:noescape
func quantCodesAVX2(codes *int8, w *float32, n int, inv, thr, q, near float64) (done int)

// sumAbsAVX2 returns Σ float64(|w[i]|) over n weights (n a multiple of 16)
// in some order, and min(bits(|w[i]|) − 1) (unsigned, wrapping).
//
//go:noescape
func sumAbsAVX2(w *float32, n int) (sum float64, minb uint32)

// twnAVX2 is twnExact's loop on n weights (n a multiple of 16): the codes
// into t, and Σ|w| over bits(|w|) > db (in some order) and the count.
//
//go:noescape
func twnAVX2(w *float32, t *int8, n int, db uint32) (a float64, cnt uint32)

// mseBinsAVX2 computes mseCandidates' histogram bins of n weights (n a
// multiple of 8): out[i] = min(int(|w[i]|·inv), last).
//
//go:noescape
func mseBinsAVX2(w *float32, n int, inv float64, last int32, out *int32)
