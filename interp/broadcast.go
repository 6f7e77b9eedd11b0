package interp

// Numpy-style broadcasting. An iteration is described over the output
// shape with, per input, a stride of 0 along broadcast dims. Adjacent dims
// are merged whenever every operand is contiguous across them, so the
// common cases (same shapes; a per-channel operand [1,C,1,1]) reduce to
// few long rows. The innermost stride of every input is then 0 or 1.

type bcast struct {
	dims    []int   // merged output dims
	strides [][]int // per input, per merged dim
}

func newBcast(out []int64, ins ...[]int64) bcast {
	r := len(out)
	full := make([][]int, len(ins))
	for k, s := range ins {
		st := make([]int, r)
		acc := 1
		for i := len(s) - 1; i >= 0; i-- {
			o := r - len(s) + i
			if s[i] != 1 || out[o] == 1 {
				st[o] = acc
			}
			acc *= int(s[i])
		}
		full[k] = st
	}
	var b bcast
	b.strides = make([][]int, len(ins))
	for i := 0; i < r; i++ {
		d := int(out[i])
		if d == 1 {
			continue // size-1 dims contribute nothing
		}
		if n := len(b.dims); n > 0 {
			merge := true
			for k := range ins {
				if b.strides[k][n-1] != full[k][i]*d {
					merge = false
					break
				}
			}
			if merge {
				b.dims[n-1] *= d
				for k := range ins {
					b.strides[k][n-1] = full[k][i]
				}
				continue
			}
		}
		b.dims = append(b.dims, d)
		for k := range ins {
			b.strides[k] = append(b.strides[k], full[k][i])
		}
	}
	if len(b.dims) == 0 {
		b.dims = []int{1}
		for k := range ins {
			b.strides[k] = []int{0}
		}
	}
	return b
}

// rows calls fn for each innermost row: dst offset, input offsets and the
// inputs' innermost strides (0 or 1), and the row length. Rows are visited
// in output order.
func (b *bcast) rows(fn func(dst int, off []int, inner []int, n int)) {
	r := len(b.dims)
	for _, d := range b.dims {
		if d == 0 {
			return
		}
	}
	last := b.dims[r-1]
	inner := make([]int, len(b.strides))
	for k := range b.strides {
		inner[k] = b.strides[k][r-1]
	}
	off := make([]int, len(b.strides))
	idx := make([]int, r-1)
	dst := 0
	for {
		fn(dst, off, inner, last)
		dst += last
		// Odometer over the outer dims.
		i := r - 2
		for ; i >= 0; i-- {
			idx[i]++
			for k := range off {
				off[k] += b.strides[k][i]
			}
			if idx[i] < b.dims[i] {
				break
			}
			for k := range off {
				off[k] -= b.strides[k][i] * b.dims[i]
			}
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

// expandTo copies src (shape s) broadcast to shape out into dst.
func expandTo[T float32 | int64](dst, src []T, s, out []int64) {
	b := newBcast(out, s)
	b.rows(func(d int, off, inner []int, n int) {
		if inner[0] == 1 {
			copy(dst[d:d+n], src[off[0]:])
			return
		}
		v := src[off[0]]
		row := dst[d : d+n]
		for i := range row {
			row[i] = v
		}
	})
}

// broadcastsTo reports whether shape s broadcasts to out (numpy rules in
// one direction: every dim of s is 1 or equal to out's).
func broadcastsTo(s, out []int64) bool {
	if len(s) > len(out) {
		return false
	}
	off := len(out) - len(s)
	for i, d := range s {
		if d != 1 && d != out[off+i] {
			return false
		}
	}
	return true
}
