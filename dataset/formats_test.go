package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The first MNIST test image is a 7; these values were read from the idx
// file with an independent reader (Python's gzip module).
func TestMNISTFirstImage(t *testing.T) {
	s := mustOpen(t, filepath.Join(tdMNIST, "t10k-images-idx3-ubyte.gz"), Options{Spec: Spec{Scale: 1}})
	if s.Len() != 500 || s.Label(0) != 7 {
		t.Fatalf("len %d label(0) %d, want 500 and 7", s.Len(), s.Label(0))
	}
	if got, want := s.Labels()[:20], []int{7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5, 9, 7, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("labels %v, want %v", got, want)
	}
	raw := s.Raw(0)
	rows := map[int][]uint8{
		7:  {0, 0, 0, 0, 0, 0, 84, 185, 159, 151, 60, 36, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		8:  {0, 0, 0, 0, 0, 0, 222, 254, 254, 254, 254, 241, 198, 198, 198, 198, 198, 198, 198, 198, 170, 52, 0, 0, 0, 0, 0, 0},
		12: {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 22, 233, 255, 83, 0, 0, 0, 0, 0, 0, 0},
		26: {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 121, 254, 207, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	}
	for r, want := range rows {
		if got := raw[r*28 : (r+1)*28]; !bytes.Equal(got, want) {
			t.Errorf("row %d = %v, want %v", r, got, want)
		}
	}
	sum, nz := 0, 0
	for _, p := range raw {
		sum += int(p)
		if p != 0 {
			nz++
		}
	}
	h := sha256.Sum256(raw)
	if sum != 18454 || nz != 116 || hex.EncodeToString(h[:]) != "8f6a418c9a639f9e14e96feca47a97df2a35a0a68ae2875431c5c80e05536941" {
		t.Errorf("sum %d nonzero %d sha256 %x, want 18454, 116, 8f6a418c…", sum, nz, h)
	}
	img := s.Image(0) // Scale 1: the raw values as floats
	for i, p := range raw {
		if img[i] != float32(p) {
			t.Fatalf("Image(0)[%d] = %g, want %d", i, img[i], p)
		}
	}
	if got := s.Item(0); got != "t10k-images-idx3-ubyte.gz[0]" {
		t.Errorf("Item(0) = %q", got)
	}
}

func TestFashionMNISTLabels(t *testing.T) {
	s := mustOpen(t, tdFashion, Options{})
	want := []int{9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0} // ankle boot, pullover, ...
	if s.Len() != 500 || !slices.Equal(s.Labels()[:20], want) {
		t.Errorf("len %d labels %v, want 500 and %v", s.Len(), s.Labels()[:20], want)
	}
}

// Every way of naming an IDX set gives the same items.
func TestIDXPaths(t *testing.T) {
	ref := mustOpen(t, tdMNIST, Options{})
	dir := t.TempDir()
	img, _ := readFile(filepath.Join(tdMNIST, "t10k-images-idx3-ubyte.gz"))
	lbl, _ := readFile(filepath.Join(tdMNIST, "t10k-labels-idx1-ubyte.gz"))
	write(t, dir, "raw/t10k-images-idx3-ubyte", img) // uncompressed, labels gzip
	write(t, dir, "raw/t10k-labels-idx1-ubyte.gz", gz(lbl))
	write(t, dir, "dots/t10k-images.idx3-ubyte", img)
	write(t, dir, "dots/t10k-labels.idx1-ubyte", lbl)
	write(t, dir, "both/train-images-idx3-ubyte.gz", gz(idxFile([]int{1, 28, 28}, make([]byte, 784))))
	write(t, dir, "both/t10k-images-idx3-ubyte.gz", gz(img))
	write(t, dir, "both/t10k-labels-idx1-ubyte.gz", gz(lbl))
	write(t, dir, "odd/pixels.dat", img)
	write(t, dir, "odd/answers.dat", lbl)
	for _, tc := range []struct {
		name, path string
		o          Options
	}{
		{"images file", filepath.Join(tdMNIST, "t10k-images-idx3-ubyte.gz"), Options{}},
		{"explicit labels", filepath.Join(tdMNIST, "t10k-images-idx3-ubyte.gz"), Options{LabelsPath: filepath.Join(tdMNIST, "t10k-labels-idx1-ubyte.gz")}},
		{"raw images beside gzip labels", filepath.Join(dir, "raw/t10k-images-idx3-ubyte"), Options{}},
		{"dotted names", filepath.Join(dir, "dots/t10k-images.idx3-ubyte"), Options{}},
		{"dir with train and t10k", filepath.Join(dir, "both"), Options{}},
		{"content-detected with --labels", filepath.Join(dir, "odd/pixels.dat"), Options{LabelsPath: filepath.Join(dir, "odd/answers.dat")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t, tc.path, tc.o)
			if s.Format() != FormatIDX || s.Len() != ref.Len() || !slices.Equal(s.Labels(), ref.Labels()) ||
				!bytes.Equal(s.Raw(499), ref.Raw(499)) {
				t.Errorf("differs from %s", tdMNIST)
			}
		})
	}
}

func TestCSV(t *testing.T) {
	s := mustOpen(t, tdCSV, Options{Spec: Spec{C: 3, H: 32, W: 32}})
	if s.Len() != 100 || !slices.Equal(s.Labels()[:10], []int{3, 8, 8, 0, 6, 6, 1, 6, 3, 1}) {
		t.Fatalf("len %d labels %v", s.Len(), s.Labels()[:10])
	}
	if got := s.Raw(0)[:6]; !bytes.Equal(got, []byte{158, 112, 49, 159, 111, 47}) {
		t.Errorf("first pixels %v", got)
	}
	if got := s.Item(99); got != "cifar10_test_first100_lossless_eran.csv:100" {
		t.Errorf("Item(99) = %q", got)
	}

	// A Kaggle-style MNIST CSV with a header; geometry inferred (784 = 28²).
	var b strings.Builder
	b.WriteString("label,pixel0,...\n")
	for i := range 3 {
		fmt.Fprintf(&b, "%d", i)
		for p := range 784 {
			fmt.Fprintf(&b, ",%d", (p+i)%256)
		}
		b.WriteString("\n")
	}
	p := write(t, t.TempDir(), "mnist.csv", []byte(b.String()))
	s = mustOpen(t, p, Options{})
	if h, w, c := s.RawShape(); s.Len() != 3 || h != 28 || w != 28 || c != 1 || s.Label(2) != 2 || s.Raw(2)[5] != 7 {
		t.Errorf("len %d shape %dx%dx%d label %d raw %d", s.Len(), h, w, c, s.Label(2), s.Raw(2)[5])
	}
	if got := s.Item(0); got != "mnist.csv:2" {
		t.Errorf("Item(0) = %q, want the line number after the header", got)
	}
}

// cifarBatch writes CSV-read images as a CIFAR binary batch (CHW planes).
func cifarBatch(s *Set, labelBytes int) []byte {
	var b []byte
	for i := range s.Len() {
		if labelBytes == 2 {
			b = append(b, byte(s.Label(i)/5)) // a made-up coarse label
		}
		b = append(b, byte(s.Label(i)))
		raw := s.Raw(i)
		for c := range 3 {
			for p := range 1024 {
				b = append(b, raw[3*p+c])
			}
		}
	}
	return b
}

func TestCIFARBinary(t *testing.T) {
	ref := mustOpen(t, tdCSV, Options{})
	dir := t.TempDir()
	write(t, dir, "cifar-10-batches-bin/data_batch_1.bin", cifarBatch(ref, 1)[:10*cifar10Rec])
	write(t, dir, "cifar-10-batches-bin/test_batch.bin", cifarBatch(ref, 1))
	write(t, dir, "cifar-100-binary/test.bin", cifarBatch(ref, 2))
	for _, tc := range []struct {
		name, path string
		f          Format
	}{
		{"test batch", "cifar-10-batches-bin/test_batch.bin", FormatCIFAR10},
		{"dir picks the test batch", "cifar-10-batches-bin", FormatCIFAR10},
		{"cifar100 fine labels", "cifar-100-binary/test.bin", FormatCIFAR100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t, filepath.Join(dir, tc.path), Options{})
			if s.Format() != tc.f || s.Len() != 100 || !slices.Equal(s.Labels(), ref.Labels()) {
				t.Fatalf("format %s len %d labels %v", s.Format(), s.Len(), s.Labels()[:10])
			}
			for i := range s.Len() {
				if !bytes.Equal(s.Raw(i), ref.Raw(i)) {
					t.Fatalf("image %d differs from the CSV", i)
				}
			}
		})
	}
}

func TestTar(t *testing.T) {
	s := mustOpen(t, tdTar, Options{})
	want := []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	if s.Format() != FormatTar || s.Len() != 500 || !slices.Equal(s.Classes(), want) {
		t.Fatalf("format %s len %d classes %v", s.Format(), s.Len(), s.Classes())
	}
	for i := range s.Len() {
		if s.Label(i) != i/50 {
			t.Fatalf("label(%d) = %d, want %d (sorted path order)", i, s.Label(i), i/50)
		}
	}
	if s.Item(0) != "test/airplane/0000.jpg" || s.Item(499) != "test/truck/0049.jpg" {
		t.Errorf("items %q … %q", s.Item(0), s.Item(499))
	}

	// Pixels equal image/jpeg's own At conversion, which the MANIFEST's
	// "Go-decoded" accuracies used.
	files, err := readTar(tdTar, mustFile(t, tdTar))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, f := range files {
		if !isImageName(f.rel) {
			continue
		}
		m, err := jpeg.Decode(bytes.NewReader(f.data))
		if err != nil {
			t.Fatal(err)
		}
		raw := s.Raw(i)
		for y := range 32 {
			for x := range 32 {
				r, g, b, _ := m.At(x, y).RGBA()
				o := 3 * (y*32 + x)
				if raw[o] != uint8(r>>8) || raw[o+1] != uint8(g>>8) || raw[o+2] != uint8(b>>8) {
					t.Fatalf("%s (%d,%d): %v, At gives %d %d %d", f.rel, x, y, raw[o:o+3], r>>8, g>>8, b>>8)
				}
			}
		}
		i++
	}
}

func mustFile(t testing.TB, p string) *os.File {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// The JPEG copy follows the official test order within each class, so the
// k-th image of class c in the lossless CSV is test/<c>/000k.jpg. The mean
// RMSE over the first 100 is 8.4 per MANIFEST.md; a wrong order, channel
// swap or decoder bug gives 40 or more.
func TestTarMatchesLosslessCSV(t *testing.T) {
	csv := mustOpen(t, tdCSV, Options{})
	jpg := mustOpen(t, tdTar, Options{})
	seen := make([]int, 10)
	total := 0.0
	for i := range csv.Len() {
		c := csv.Label(i)
		j := c*50 + seen[c]
		seen[c]++
		if want := fmt.Sprintf("test/%s/%04d.jpg", jpg.Classes()[c], seen[c]-1); jpg.Item(j) != want {
			t.Fatalf("item %d is %s, want %s", j, jpg.Item(j), want)
		}
		se := 0.0
		a, b := csv.Raw(i), jpg.Raw(j)
		for k := range a {
			d := float64(a[k]) - float64(b[k])
			se += d * d
		}
		rmse := math.Sqrt(se / float64(len(a)))
		if rmse > 20 {
			t.Errorf("csv line %d vs %s: RMSE %.1f", i+1, jpg.Item(j), rmse)
		}
		total += rmse
	}
	if mean := total / float64(csv.Len()); mean < 7.9 || mean > 8.9 {
		t.Errorf("mean RMSE %.2f, MANIFEST.md says 8.4", mean)
	}
}

// extractTar writes the repo's tar slice as a folder tree.
func extractTar(t *testing.T, dir string) {
	files, err := readTar(tdTar, mustFile(t, tdTar))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		write(t, dir, f.rel, f.data)
	}
}

func TestFolder(t *testing.T) {
	ref := mustOpen(t, tdTar, Options{})
	dir := t.TempDir()
	extractTar(t, dir)
	write(t, dir, "README.txt", []byte("stray files outside class folders are ignored"))
	write(t, dir, "test/.DS_Store", []byte("hidden files are ignored"))
	// A linked root and a linked image are followed.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	img, moved := filepath.Join(dir, "test/cat/0000.jpg"), filepath.Join(t.TempDir(), "0000.jpg")
	if err := os.Rename(img, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, img); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{dir, filepath.Join(dir, "test"), link} {
		s := mustOpen(t, root, Options{})
		if s.Format() != FormatFolder || s.Len() != ref.Len() || !slices.Equal(s.Classes(), ref.Classes()) ||
			!slices.Equal(s.Labels(), ref.Labels()) {
			t.Fatalf("%s: format %s len %d classes %v", root, s.Format(), s.Len(), s.Classes())
		}
		for i := range s.Len() {
			if !bytes.Equal(s.Raw(i), ref.Raw(i)) {
				t.Fatalf("%s: %s differs from the tar", root, s.Item(i))
			}
		}
	}
}

func pngBytes(t *testing.T, m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Numeric class folders are the labels themselves ("10" is label 10, not
// the second folder), and gray and colour PNGs mix in a 3-channel set.
func TestFolderNumericPNG(t *testing.T) {
	dir := t.TempDir()
	gray := image.NewGray(image.Rect(0, 0, 4, 3))
	gray.Pix[5] = 200
	rgb := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	rgb.Set(1, 1, color.NRGBA{10, 20, 30, 255})
	opaque := image.NewRGBA(image.Rect(0, 0, 4, 3)) // decodes as *image.RGBA
	pal := image.NewPaletted(image.Rect(0, 0, 4, 3), color.Palette{color.Black, color.RGBA{10, 20, 30, 255}})
	for i := range 12 {
		opaque.Set(i%4, i/4, color.RGBA{10, 20, 30, 255})
		pal.SetColorIndex(i%4, i/4, 1)
	}
	write(t, dir, "2/a.png", pngBytes(t, gray))
	write(t, dir, "10/b.png", pngBytes(t, rgb))
	write(t, dir, "10/c.png", pngBytes(t, opaque))
	write(t, dir, "10/d.png", pngBytes(t, pal))
	s := mustOpen(t, dir, Options{Spec: Spec{C: 3}})
	// Sorted paths: "10/..." < "2/a.png".
	if !slices.Equal(s.Labels(), []int{10, 10, 10, 2}) || len(s.Classes()) != 11 || s.Classes()[10] != "10" {
		t.Fatalf("labels %v classes %q", s.Labels(), s.Classes())
	}
	if h, w, c := s.RawShape(); h != 3 || w != 4 || c != 3 {
		t.Fatalf("raw shape %dx%dx%d", h, w, c)
	}
	if got := s.Raw(0)[3*5 : 3*5+3]; !bytes.Equal(got, []byte{10, 20, 30}) {
		t.Errorf("colour pixel %v", got)
	}
	for i := 1; i <= 2; i++ {
		if got := s.Raw(i)[3*5 : 3*5+3]; !bytes.Equal(got, []byte{10, 20, 30}) {
			t.Errorf("%s: pixel %v", s.Item(i), got)
		}
	}
	if got := s.Raw(3)[3*5 : 3*5+3]; !bytes.Equal(got, []byte{200, 200, 200}) {
		t.Errorf("gray pixel replicated %v", got)
	}
}

// fakeTensor is a stand-in TensorProto encoding for the ONNX layout test:
// rank, int64 dims, float32 data, little-endian.
func fakeTensor(dims []int64, data []float32) []byte {
	b := []byte{byte(len(dims))}
	for _, d := range dims {
		b = binary.LittleEndian.AppendUint64(b, uint64(d))
	}
	for _, v := range data {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func readFake(b []byte) ([]int64, []float32, error) {
	if len(b) < 1 || len(b) < 1+8*int(b[0]) || (len(b)-1-8*int(b[0]))%4 != 0 {
		return nil, nil, fmt.Errorf("bad fake tensor")
	}
	dims := make([]int64, b[0])
	for i := range dims {
		dims[i] = int64(binary.LittleEndian.Uint64(b[1+8*i:]))
	}
	b = b[1+8*len(dims):]
	data := make([]float32, len(b)/4)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return dims, data, nil
}

func TestONNXTestDataSets(t *testing.T) {
	dir := t.TempDir()
	// Sets 2 and 10 must come in numeric order; set 10 holds a batch of 2.
	write(t, dir, "test_data_set_2/input_0.pb", fakeTensor([]int64{1, 1, 2, 2}, []float32{1, 2, 3, 4}))
	write(t, dir, "test_data_set_2/output_0.pb", fakeTensor([]int64{1, 3}, []float32{0, 5, 1}))
	write(t, dir, "test_data_set_10/input_0.pb", fakeTensor([]int64{2, 1, 2, 2}, []float32{5, 6, 7, 8, 9, 10, 11, 12}))
	write(t, dir, "test_data_set_10/output_0.pb", fakeTensor([]int64{2, 3}, []float32{9, 0, 0, 0, 0, 9}))
	write(t, dir, "test_data_set_11/input_0.pb", fakeTensor([]int64{1, 1, 2, 2}, []float32{0, 0, 0, 0}))
	write(t, dir, "model.onnx", nil)

	s := mustOpen(t, dir, Options{ReadTensor: readFake})
	if s.Format() != FormatONNX || !slices.Equal(s.Labels(), []int{1, 0, 2, -1}) {
		t.Fatalf("format %s labels %v, want onnx [1 0 2 -1]", s.Format(), s.Labels())
	}
	if got := s.Image(2); !slices.Equal(got, []float32{9, 10, 11, 12}) || s.Raw(2) != nil {
		t.Errorf("Image(2) = %v (stored tensors are used as is)", got)
	}
	if s.Item(2) != "test_data_set_10/input_0.pb[1]" {
		t.Errorf("Item(2) = %q", s.Item(2))
	}
	one := mustOpen(t, filepath.Join(dir, "test_data_set_2"), Options{Format: FormatONNX, ReadTensor: readFake})
	if one.Len() != 1 || one.Label(0) != 1 {
		t.Errorf("single set: len %d label %d", one.Len(), one.Label(0))
	}
	_, err := Open(dir, Options{})
	wantErr(t, err, dir, "ReadTensor")
	_, err = Open(dir, Options{ReadTensor: readFake, Spec: Spec{C: 1, H: 3, W: 3}})
	wantErr(t, err, "test_data_set_2", "4 values per item", "9")
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "idxdir/t10k-images-idx3-ubyte", nil)
	write(t, dir, "bins/data_batch_1.bin", nil)
	write(t, dir, "onnx/test_data_set_0/input_0.pb", nil)
	write(t, dir, "imgs/cat/a.jpg", nil)
	write(t, dir, "sniffed.dat", gz(idxFile([]int{1, 1, 1}, []byte{0})))
	write(t, dir, "mystery.dat", []byte("hello"))
	for _, tc := range []struct {
		path string
		want Format
	}{
		{tdTar, FormatTar},
		{tdCSV, FormatCSV},
		{tdMNIST, FormatIDX},
		{filepath.Join(tdMNIST, "t10k-images-idx3-ubyte.gz"), FormatIDX},
		{"x/test_batch.bin", FormatCIFAR},
		{"x/a.tgz", FormatTar},
		{"x/a.tar", FormatTar},
		{filepath.Join(dir, "idxdir"), FormatIDX},
		{filepath.Join(dir, "bins"), FormatCIFAR},
		{filepath.Join(dir, "onnx"), FormatONNX},
		{filepath.Join(dir, "onnx/test_data_set_0"), FormatONNX},
		{filepath.Join(dir, "imgs"), FormatFolder},
		{filepath.Join(dir, "sniffed.dat"), FormatIDX},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if strings.HasPrefix(tc.path, "x/") { // names alone decide; the file need not exist
				tc.path = write(t, dir, tc.path, nil)
			}
			got, err := detect(tc.path)
			if err != nil || got != tc.want {
				t.Errorf("detect = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	_, err := Open(filepath.Join(dir, "mystery.dat"), Options{})
	wantErr(t, err, "mystery.dat", "--format")
}
