package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ONNX backend-test layout: DIR/test_data_set_N/input_0.pb (the model input,
// already preprocessed) and optionally output_0.pb (the expected output,
// whose argmax per batch row is taken as the label). A set whose input has
// batch N > 1 gives N items.

const onnxSetPrefix = "test_data_set_"

func onnxSetNum(name string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(name, onnxSetPrefix))
	return n, strings.HasPrefix(name, onnxSetPrefix) && err == nil && n >= 0
}

// onnxSets lists the test_data_set_N folders of dir in numeric order, or dir
// itself when it is one.
func onnxSets(dir string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, "input_0.pb")); err == nil {
		return []string{dir}, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type set struct {
		n    int
		name string
	}
	var sets []set
	for _, e := range ents {
		if n, ok := onnxSetNum(e.Name()); ok && e.IsDir() {
			sets = append(sets, set{n, e.Name()})
		}
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("%s: no %sN folders and no input_0.pb", dir, onnxSetPrefix)
	}
	sort.Slice(sets, func(i, j int) bool { return sets[i].n < sets[j].n })
	out := make([]string, len(sets))
	for i, s := range sets {
		out[i] = filepath.Join(dir, s.name)
	}
	return out, nil
}

func loadONNX(dir string, read TensorReader, sp Spec, win window) (*store, error) {
	if read == nil {
		return nil, fmt.Errorf("%s: reading ONNX test_data_set folders needs Options.ReadTensor (a TensorProto decoder), and none was given", dir)
	}
	sets, err := onnxSets(dir)
	if err != nil {
		return nil, err
	}
	st := &store{}
	var items []string
	for _, s := range sets {
		in := filepath.Join(s, "input_0.pb")
		x, n, err := readTensor(in, read)
		if err != nil {
			return nil, err
		}
		size := len(x) / n
		if want := sp.C * sp.H * sp.W; want > 0 && size != want {
			return nil, fmt.Errorf("%s: %d values per item, the model input has %d (%dx%dx%d)", in, size, want, sp.C, sp.H, sp.W)
		}
		if len(st.tensors) > 0 && size != len(st.tensors[0]) {
			return nil, fmt.Errorf("%s: %d values per item, earlier sets have %d", in, size, len(st.tensors[0]))
		}
		labels := make([]int, n)
		for i := range labels {
			labels[i] = -1
		}
		out := filepath.Join(s, "output_0.pb")
		if y, m, err := readTensor(out, read); err == nil {
			if m != n {
				return nil, fmt.Errorf("%s: batch %d, but the input has batch %d", out, m, n)
			}
			k := len(y) / m
			for i := range labels {
				labels[i] = argmax(y[i*k : (i+1)*k])
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, in)
		for i := range n {
			st.tensors = append(st.tensors, x[i*size:(i+1)*size:(i+1)*size])
			name := filepath.ToSlash(rel)
			if n > 1 {
				name = fmt.Sprintf("%s[%d]", name, i)
			}
			items = append(items, name)
		}
		st.labels = append(st.labels, labels...)
	}
	lo, hi, err := win.span(dir, len(st.tensors))
	if err != nil {
		return nil, err
	}
	st.tensors, st.labels, items = st.tensors[lo:hi], st.labels[lo:hi], items[lo:hi]
	st.h, st.w, st.c = sp.H, sp.W, sp.C
	st.item = func(i int) string { return items[i] }
	return st, nil
}

// readTensor returns the data of a float tensor and its batch size: the
// first dimension of a tensor of rank 2 or more, else 1.
func readTensor(path string, read TensorReader) ([]float32, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	dims, data, err := read(b)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	elems := 1
	for _, d := range dims {
		if d <= 0 || d > int64(len(data)) {
			return nil, 0, fmt.Errorf("%s: tensor dims %v do not fit its %d values", path, dims, len(data))
		}
		if elems *= int(d); elems > len(data) {
			break // mismatch, reported below; stops overflow
		}
	}
	if elems != len(data) || elems == 0 {
		return nil, 0, fmt.Errorf("%s: tensor dims %v hold %d values, got %d", path, dims, elems, len(data))
	}
	n := 1
	if len(dims) >= 2 {
		n = int(dims[0])
	}
	return data, n, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
