package dataset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

func loadCSV(path string, sp Spec, win window) (*store, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parseCSV(path, b, sp, win)
}

// parseCSV reads "label,p0,p1,..." lines, pixels HWC row-major 0..255. The
// geometry comes from the model (sp); without one it is inferred: a square
// count is gray, three times a square is RGB. A first line whose label is
// not a number is a header and is skipped.
func parseCSV(name string, b []byte, sp Spec, win window) (*store, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1 // checked below, to name the line
	r.ReuseRecord = true
	short := base(name)
	st := &store{}
	var lines []int
	hw, seen := 0, 0
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: %w", name, pe.Line, err)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := r.FieldPos(0) // only valid after a successful Read
		label, err := strconv.Atoi(strings.TrimSpace(rec[0]))
		if err != nil && first {
			continue // header line
		}
		if err != nil || label < 0 {
			return nil, fmt.Errorf("%s:%d: label %q is not a non-negative integer", name, line, rec[0])
		}
		n := len(rec) - 1
		if hw == 0 {
			if st.h, st.w, st.c, err = csvGeometry(n, sp); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, line, err)
			}
			hw = st.h * st.w
		} else if n != hw*st.c {
			return nil, fmt.Errorf("%s:%d: %d pixel values, previous lines have %d", name, line, n, hw*st.c)
		}
		seen++
		if seen <= win.off {
			continue
		}
		if win.lim > 0 && seen > win.off+win.lim {
			break
		}
		for j, f := range rec[1:] {
			v, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || v < 0 || v > 255 {
				return nil, fmt.Errorf("%s:%d: value %d (%q) is not an integer 0..255", name, line, j+1, f)
			}
			st.pix = append(st.pix, uint8(v))
		}
		st.labels = append(st.labels, label)
		lines = append(lines, line)
	}
	if seen == 0 {
		return nil, fmt.Errorf("%s: empty dataset", name)
	}
	if st.len() == 0 {
		return nil, fmt.Errorf("%s: offset %d is beyond the %d items", name, win.off, seen)
	}
	st.item = func(i int) string { return fmt.Sprintf("%s:%d", short, lines[i]) }
	return st, nil
}

// csvGeometry finds H, W and channels for n values per line.
func csvGeometry(n int, sp Spec) (h, w, c int, err error) {
	if sp.H != 0 {
		// Gray lines for a 3-channel model are replicated and colour lines
		// for a 1-channel one converted (or refused) later, as for images.
		hw := sp.H * sp.W
		switch n {
		case hw:
			return sp.H, sp.W, 1, nil
		case 3 * hw:
			return sp.H, sp.W, 3, nil
		}
		want := fmt.Sprintf("%d (%dx%dx%d)", hw*sp.C, sp.H, sp.W, sp.C)
		if sp.C == 0 {
			want = fmt.Sprintf("%d or %d (%dx%d gray or RGB)", hw, 3*hw, sp.H, sp.W)
		}
		return 0, 0, 0, fmt.Errorf("%d pixel values, want %s for the model input", n, want)
	}
	if s := isqrt(n); s > 0 && s*s == n {
		return s, s, 1, nil
	}
	if s := isqrt(n / 3); n%3 == 0 && s > 0 && s*s*3 == n {
		return s, s, 3, nil
	}
	return 0, 0, 0, fmt.Errorf("%d pixel values: cannot infer the image size (not s*s or s*s*3); give the model input", n)
}

func isqrt(n int) int {
	s := int(math.Sqrt(float64(n)))
	for s*s > n {
		s--
	}
	for (s+1)*(s+1) <= n {
		s++
	}
	return s
}
