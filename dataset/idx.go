package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxFile caps how much one (decompressed) file may hold, so a corrupt
// header or a gzip bomb ends in an error instead of exhausting memory.
const maxFile = 1 << 31

// readFile reads a file, gunzipping it when it starts with the gzip magic.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return maybeGunzip(path, b)
}

// gzipErr makes a bare io error from the gzip stream ("unexpected EOF")
// say where it came from.
func gzipErr(err error) error {
	if strings.HasPrefix(err.Error(), "gzip: ") {
		return err
	}
	return fmt.Errorf("gzip: %w", err)
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

func maybeGunzip(name string, b []byte) ([]byte, error) {
	if !isGzip(b) {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, gzipErr(err))
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, gzipErr(err))
	}
	if len(out) > maxFile {
		return nil, fmt.Errorf("%s: decompresses to more than %d bytes", name, maxFile)
	}
	return out, nil
}

// idxHeader parses the IDX header: two zero bytes, the element type (0x08 =
// unsigned byte, the only one MNIST uses) and the number of dimensions, then
// one big-endian uint32 per dimension. It checks the payload size exactly.
func idxHeader(name string, b []byte, wantDims int) ([]int, []byte, error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%s: %d bytes, too short for an IDX header", name, len(b))
	}
	if b[0] != 0 || b[1] != 0 {
		return nil, nil, fmt.Errorf("%s: bad IDX magic % x (want 00 00 08 %02x)", name, b[:4], wantDims)
	}
	if b[2] != 0x08 {
		return nil, nil, fmt.Errorf("%s: IDX element type 0x%02x unsupported (want 0x08, unsigned byte)", name, b[2])
	}
	if int(b[3]) != wantDims {
		return nil, nil, fmt.Errorf("%s: IDX file has %d dimensions, want %d (%s)", name, b[3], wantDims, idxKind(wantDims))
	}
	hdr := 4 + 4*wantDims
	if len(b) < hdr {
		return nil, nil, fmt.Errorf("%s: truncated IDX header (%d bytes)", name, len(b))
	}
	dims := make([]int, wantDims)
	size := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(b[4+4*i:]))
		if i > 0 && dims[i] == 0 {
			return nil, nil, fmt.Errorf("%s: IDX dimension %d is 0", name, i)
		}
		if dims[i] > maxFile || size > maxFile/max(dims[i], 1) {
			return nil, nil, fmt.Errorf("%s: IDX dimensions %v too large", name, dims[:i+1])
		}
		size *= dims[i]
	}
	data := b[hdr:]
	if len(data) != size {
		what := "truncated"
		if len(data) > size {
			what = "trailing bytes"
		}
		return nil, nil, fmt.Errorf("%s: %s: header %v needs %d data bytes, file has %d", name, what, dims, size, len(data))
	}
	return dims, data, nil
}

func idxKind(dims int) string {
	if dims == 1 {
		return "labels, idx1"
	}
	return "images, idx3"
}

// parseIDX builds a store from idx3 image and idx1 label bytes.
func parseIDX(imgName string, img []byte, lblName string, lbl []byte, win window) (*store, error) {
	dims, pix, err := idxHeader(imgName, img, 3)
	if err != nil {
		return nil, err
	}
	ldims, labels, err := idxHeader(lblName, lbl, 1)
	if err != nil {
		return nil, err
	}
	if dims[0] != ldims[0] {
		return nil, fmt.Errorf("%s has %d images but %s has %d labels", imgName, dims[0], lblName, ldims[0])
	}
	lo, hi, err := win.span(imgName, dims[0])
	if err != nil {
		return nil, err
	}
	sz := dims[1] * dims[2]
	pix = pix[lo*sz : hi*sz]
	if hi-lo < dims[0] {
		pix = bytes.Clone(pix) // do not keep the whole file alive for a slice
	}
	st := &store{h: dims[1], w: dims[2], c: 1, pix: pix}
	st.labels = make([]int, hi-lo)
	for i := range st.labels {
		st.labels[i] = int(labels[lo+i])
	}
	short := base(imgName)
	st.item = func(i int) string { return fmt.Sprintf("%s[%d]", short, lo+i) }
	return st, nil
}

func loadIDX(path, labels string, win window) (*store, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		if path, err = idxInDir(path); err != nil {
			return nil, err
		}
	}
	img, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if len(img) >= 4 && img[0] == 0 && img[1] == 0 && img[3] == 1 {
		return nil, fmt.Errorf("%s: this is an idx1 labels file; pass the images file", path)
	}
	if labels == "" {
		if labels, err = idxLabelsBeside(path); err != nil {
			return nil, err
		}
	}
	lbl, err := readFile(labels)
	if err != nil {
		return nil, err
	}
	return parseIDX(path, img, labels, lbl, win)
}

// idxInDir picks the images file of a directory: the only one, or the test
// split (t10k-*) when the directory also holds the training split.
func idxInDir(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var imgs []string
	for _, e := range ents {
		if !e.IsDir() && isIDXImagesName(e.Name()) {
			imgs = append(imgs, e.Name())
		}
	}
	pick, err := pickTest(dir, imgs, "t10k-", "IDX images file (*-images-idx3-ubyte[.gz])")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, pick), nil
}

// pickTest returns the only candidate, or the one with the test prefix.
func pickTest(dir string, names []string, testPrefix, what string) (string, error) {
	sort.Strings(names)
	if len(names) == 1 {
		return names[0], nil
	}
	if len(names) == 0 {
		return "", fmt.Errorf("%s: no %s", dir, what)
	}
	var test []string
	for _, n := range names {
		if strings.HasPrefix(n, testPrefix) {
			test = append(test, n)
		}
	}
	if len(test) == 1 {
		return test[0], nil
	}
	return "", fmt.Errorf("%s: %d candidates for the %s (%s); pass one file", dir, len(names), what, strings.Join(names, ", "))
}

func isIDXImagesName(n string) bool {
	return strings.Contains(n, "images-idx3-ubyte") || strings.Contains(n, "images.idx3-ubyte")
}

// idxLabelsBeside maps X-images-idx3-ubyte[.gz] to X-labels-idx1-ubyte[.gz]
// in the same directory, trying the gzip and raw forms of the name.
func idxLabelsBeside(path string) (string, error) {
	dir, name := filepath.Split(path)
	var stem string
	for _, pat := range [][2]string{{"images-idx3-ubyte", "labels-idx1-ubyte"}, {"images.idx3-ubyte", "labels.idx1-ubyte"}} {
		if i := strings.LastIndex(name, pat[0]); i >= 0 {
			stem = name[:i] + pat[1]
			break
		}
	}
	if stem == "" {
		return "", fmt.Errorf("%s: cannot derive the labels file name (want *-images-idx3-ubyte[.gz]); pass --labels", path)
	}
	tried := []string{stem, stem + ".gz"}
	if strings.HasSuffix(name, ".gz") {
		tried[0], tried[1] = tried[1], tried[0]
	}
	for _, t := range tried {
		if _, err := os.Stat(filepath.Join(dir, t)); err == nil {
			return filepath.Join(dir, t), nil
		}
	}
	return "", fmt.Errorf("%s: no labels file beside it (looked for %s); pass --labels", path, strings.Join(tried, ", "))
}
