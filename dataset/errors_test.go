package dataset

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name string
	data []byte
}

func tarBytes(t testing.TB, ents ...entry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	return b.Bytes()
}

func jpegBytes(t *testing.T, w, h int, c color.Color) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		m.Set(i%w, i/w, c)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a valid PNG header (correct CRC) declaring 100000x100000.
func hugePNG(t *testing.T) []byte {
	b := pngBytes(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	binary.BigEndian.PutUint32(b[16:], 100000)
	binary.BigEndian.PutUint32(b[20:], 100000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestMalformed(t *testing.T) {
	img2 := idxFile([]int{2, 28, 28}, make([]byte, 2*784))
	lbl2 := idxFile([]int{2}, []byte{1, 2})
	grayJPEG := func(w, h int) []byte { return jpegBytes(t, w, h, color.Gray{100}) }
	redJPEG := jpegBytes(t, 32, 32, color.RGBA{200, 10, 10, 255})
	csv3072 := "1" + strings.Repeat(",7", 3072) + "\n"
	full := gz(img2)

	for _, tc := range []struct {
		name  string
		files []entry // written into a fresh directory
		path  string  // opened, relative to that directory
		o     Options
		frags []string
	}{
		// IDX
		{"idx wrong magic", []entry{{"t10k-images-idx3-ubyte", []byte{1, 2, 3, 4, 5, 6, 7, 8}}, {"t10k-labels-idx1-ubyte", lbl2}},
			"t10k-images-idx3-ubyte", Options{}, []string{"t10k-images-idx3-ubyte: bad IDX magic 01 02 03 04"}},
		{"idx element type", []entry{{"t10k-images-idx3-ubyte", []byte{0, 0, 0x0d, 3}}, {"t10k-labels-idx1-ubyte", lbl2}},
			"t10k-images-idx3-ubyte", Options{}, []string{"t10k-images-idx3-ubyte: IDX element type 0x0d"}},
		{"idx truncated images", []entry{{"t10k-images-idx3-ubyte", img2[:len(img2)-100]}, {"t10k-labels-idx1-ubyte", lbl2}},
			"t10k-images-idx3-ubyte", Options{}, []string{"t10k-images-idx3-ubyte: truncated", "needs 1568 data bytes, file has 1468"}},
		{"idx truncated header", []entry{{"t10k-images-idx3-ubyte", img2[:9]}, {"t10k-labels-idx1-ubyte", lbl2}},
			"t10k-images-idx3-ubyte", Options{}, []string{"t10k-images-idx3-ubyte: truncated IDX header"}},
		{"idx trailing bytes", []entry{{"t10k-images-idx3-ubyte", append(img2, 0)}, {"t10k-labels-idx1-ubyte", lbl2}},
			"t10k-images-idx3-ubyte", Options{}, []string{"trailing bytes"}},
		{"idx count mismatch", []entry{{"t10k-images-idx3-ubyte", img2}, {"t10k-labels-idx1-ubyte", idxFile([]int{3}, []byte{1, 2, 3})}},
			"t10k-images-idx3-ubyte", Options{}, []string{"t10k-images-idx3-ubyte has 2 images but", "t10k-labels-idx1-ubyte has 3 labels"}},
		{"idx labels missing", []entry{{"t10k-images-idx3-ubyte", img2}},
			"t10k-images-idx3-ubyte", Options{}, []string{"t10k-images-idx3-ubyte: no labels file beside it", "--labels"}},
		{"idx labels passed as images", []entry{{"t10k-labels-idx1-ubyte", lbl2}},
			"t10k-labels-idx1-ubyte", Options{}, []string{"t10k-labels-idx1-ubyte: this is an idx1 labels file"}},
		{"idx labels file is images", []entry{{"t10k-images-idx3-ubyte", img2}, {"t10k-labels-idx1-ubyte", img2}},
			"t10k-images-idx3-ubyte", Options{}, []string{"t10k-labels-idx1-ubyte: IDX file has 3 dimensions, want 1"}},
		{"idx corrupt gzip", []entry{{"t10k-images-idx3-ubyte.gz", []byte{0x1f, 0x8b, 9, 9, 9, 9}}, {"t10k-labels-idx1-ubyte.gz", gz(lbl2)}},
			"t10k-images-idx3-ubyte.gz", Options{}, []string{"t10k-images-idx3-ubyte.gz: gzip"}},
		{"idx truncated gzip", []entry{{"t10k-images-idx3-ubyte.gz", full[:len(full)/2]}, {"t10k-labels-idx1-ubyte.gz", gz(lbl2)}},
			"t10k-images-idx3-ubyte.gz", Options{}, []string{"t10k-images-idx3-ubyte.gz: gzip: unexpected EOF"}},
		{"idx wrong size for the model", []entry{{"t10k-images-idx3-ubyte", img2}, {"t10k-labels-idx1-ubyte", lbl2}},
			"t10k-images-idx3-ubyte", Options{Spec: Spec{H: 32, W: 32}}, []string{"t10k-images-idx3-ubyte: images are 28x28 (HxW), the model wants 32x32"}},
		{"idx empty", []entry{{"t10k-images-idx3-ubyte", idxFile([]int{0, 28, 28}, nil)}, {"t10k-labels-idx1-ubyte", idxFile([]int{0}, nil)}},
			"t10k-images-idx3-ubyte", Options{}, []string{"t10k-images-idx3-ubyte: empty dataset"}},
		{"idx huge dims", []entry{{"t10k-images-idx3-ubyte", idxFile([]int{1 << 30, 1 << 30, 1 << 30}, nil)}, {"t10k-labels-idx1-ubyte", lbl2}},
			"t10k-images-idx3-ubyte", Options{}, []string{"too large"}},
		{"idx dir without images", []entry{{"README", nil}},
			".", Options{Format: FormatIDX}, []string{"no IDX images file"}},
		{"idx dir two candidates", []entry{{"a-images-idx3-ubyte", img2}, {"b-images-idx3-ubyte", img2}},
			".", Options{}, []string{"2 candidates", "a-images-idx3-ubyte, b-images-idx3-ubyte", "pass one file"}},

		// CSV
		{"csv bad value", []entry{{"bad.csv", []byte("1,2,3,4,5\n1,2,abc,4,5\n")}},
			"bad.csv", Options{}, []string{"bad.csv:2: value 2 (\"abc\") is not an integer 0..255"}},
		{"csv value out of range", []entry{{"bad.csv", []byte("1,2,3,4,256\n")}},
			"bad.csv", Options{}, []string{"bad.csv:1: value 4 (\"256\")"}},
		{"csv count vs model", []entry{{"bad.csv", []byte("1" + strings.Repeat(",7", 3071) + "\n")}},
			"bad.csv", Options{Spec: Spec{C: 3, H: 32, W: 32}}, []string{"bad.csv:1: 3071 pixel values, want 3072 (32x32x3) for the model input"}},
		{"csv inconsistent lines", []entry{{"bad.csv", []byte(csv3072 + "2,1,2,3,4\n")}},
			"bad.csv", Options{}, []string{"bad.csv:2: 4 pixel values, previous lines have 3072"}},
		{"csv bad label", []entry{{"bad.csv", []byte(csv3072 + "-1" + csv3072[1:])}},
			"bad.csv", Options{}, []string{"bad.csv:2: label \"-1\""}},
		{"csv empty", []entry{{"bad.csv", nil}},
			"bad.csv", Options{}, []string{"bad.csv: empty dataset"}},
		{"csv header only", []entry{{"bad.csv", []byte("label,p0\n")}},
			"bad.csv", Options{}, []string{"bad.csv: empty dataset"}},
		{"csv odd count", []entry{{"bad.csv", []byte("1,2,3,4,5,6\n")}},
			"bad.csv", Options{}, []string{"bad.csv:1: 5 pixel values: cannot infer the image size"}},
		{"csv broken quote", []entry{{"bad.csv", []byte("1,2,3,4,5\n1,\"2,3\n")}},
			"bad.csv", Options{}, []string{"bad.csv:2: parse error"}},
		{"csv colour for a gray model", []entry{{"bad.csv", []byte("1,1,2,3,4,5,6,7,8,9,10,11,12\n")}},
			"bad.csv", Options{Spec: Spec{C: 1, H: 2, W: 2}}, []string{"bad.csv:1: colour image for a 1-channel model"}},

		// CIFAR
		{"cifar size", []entry{{"test_batch.bin", make([]byte, 3073*2+5)}},
			"test_batch.bin", Options{}, []string{"test_batch.bin: 6151 bytes is not a whole number of CIFAR-10 (3073-byte) or CIFAR-100 (3074-byte) records"}},
		{"cifar label", []entry{{"test_batch.bin", append(make([]byte, 3073), append([]byte{10}, make([]byte, 3072)...)...)}},
			"test_batch.bin", Options{}, []string{"test_batch.bin: record 1: label 10 out of range for cifar10 (0..9)"}},
		{"cifar forced 100 on a 10 file", []entry{{"test_batch.bin", make([]byte, 3073)}},
			"test_batch.bin", Options{Format: FormatCIFAR100}, []string{"not a whole number of 3074-byte cifar100 records"}},
		{"cifar empty", []entry{{"test_batch.bin", nil}},
			"test_batch.bin", Options{}, []string{"test_batch.bin: empty dataset"}},

		// Image trees
		{"tar non-image in a class folder", []entry{{"x.tar", tarBytes(t, entry{"test/cat/0.jpg", redJPEG}, entry{"test/cat/notes.txt", nil})}},
			"x.tar", Options{}, []string{"x.tar: test/cat/notes.txt: not a JPEG or PNG image"}},
		{"tar corrupt jpeg", []entry{{"x.tar", tarBytes(t, entry{"test/cat/0.jpg", redJPEG}, entry{"test/cat/1.jpg", redJPEG[:200]})}},
			"x.tar", Options{}, []string{"x.tar: test/cat/1.jpg: unexpected EOF"}},
		{"tar text named jpg", []entry{{"x.tar", tarBytes(t, entry{"test/cat/0.jpg", []byte("hello")})}},
			"x.tar", Options{}, []string{"x.tar: test/cat/0.jpg: not a JPEG or PNG image"}},
		{"tar image outside a class folder", []entry{{"x.tar", tarBytes(t, entry{"0.jpg", redJPEG})}},
			"x.tar", Options{}, []string{"x.tar: image 0.jpg is not inside a class folder"}},
		{"tar two roots", []entry{{"x.tar", tarBytes(t, entry{"test/cat/0.jpg", redJPEG}, entry{"train/cat/0.jpg", redJPEG})}},
			"x.tar", Options{}, []string{"x.tar: images test/cat/0.jpg and train/cat/0.jpg are not in class folders of one parent"}},
		{"tar image size", []entry{{"x.tar", tarBytes(t, entry{"test/cat/0.jpg", redJPEG}, entry{"test/dog/0.jpg", grayJPEG(28, 28)})}},
			"x.tar", Options{}, []string{"x.tar: test/dog/0.jpg: image is 28x28 (WxH), want 32x32"}},
		{"tar image size vs model", []entry{{"x.tar", tarBytes(t, entry{"test/cat/0.jpg", redJPEG})}},
			"x.tar", Options{Spec: Spec{H: 28, W: 28}}, []string{"x.tar: test/cat/0.jpg: image is 32x32 (WxH), want 28x28"}},
		{"tar huge png header", []entry{{"x.tar", tarBytes(t, entry{"test/cat/0.png", hugePNG(t)})}},
			"x.tar", Options{}, []string{"x.tar: test/cat/0.png: image is 100000x100000, outside 1..4096"}},
		{"tar duplicate entry", []entry{{"x.tar", tarBytes(t, entry{"test/cat/0.jpg", redJPEG}, entry{"test/cat/0.jpg", redJPEG})}},
			"x.tar", Options{}, []string{"x.tar: entry test/cat/0.jpg appears twice"}},
		{"tar empty", []entry{{"x.tar", tarBytes(t)}},
			"x.tar", Options{}, []string{"x.tar: empty dataset"}},
		{"tar.gz corrupt gzip", []entry{{"x.tar.gz", []byte{0x1f, 0x8b, 1, 2, 3}}},
			"x.tar.gz", Options{}, []string{"x.tar.gz: gzip"}},
		{"tar.gz truncated", []entry{{"x.tar.gz", gz(tarBytes(t, entry{"test/cat/0.jpg", redJPEG}))[:300]}},
			"x.tar.gz", Options{}, []string{"x.tar.gz: ", "unexpected EOF"}},
		{"tar garbage", []entry{{"x.tar", bytes.Repeat([]byte("garbage!"), 100)}},
			"x.tar", Options{}, []string{"x.tar: after 0 entries"}},
		{"folder empty", []entry{{"d/README", nil}},
			"d", Options{}, []string{"d: empty dataset: no .jpg, .jpeg or .png files"}},
		{"folder colour for a gray model", []entry{{"d/a/0.jpg", redJPEG}},
			"d", Options{Spec: Spec{C: 1}}, []string{"d: a/0.jpg: colour image for a 1-channel model (use --gray"}},
		{"folder numeric labels collide", []entry{{"d/7/0.jpg", redJPEG}, {"d/07/0.jpg", redJPEG}},
			"d", Options{}, []string{"class folders 07 and 7 are both label 7"}},

		// Options
		{"no such file", nil, "nothing.csv", Options{}, []string{"nothing.csv", "no such file"}},
		{"unknown format", []entry{{"a.csv", nil}}, "a.csv", Options{Format: "zip"}, []string{"unknown format \"zip\""}},
		{"auto spelled out", []entry{{"a.csv", []byte("1,2,3,4,5\n")}, {"b.csv", []byte("x")}}, "b.csv", Options{Format: "auto"}, []string{"b.csv: empty dataset"}},
		{"labels with csv", []entry{{"a.csv", nil}}, "a.csv", Options{LabelsPath: "l"}, []string{"l: a labels file is only used with the idx format"}},
		{"negative offset", []entry{{"a.csv", nil}}, "a.csv", Options{Offset: -1}, []string{"negative offset"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				write(t, dir, f.name, f.data)
			}
			s, err := Open(filepath.Join(dir, tc.path), tc.o)
			if err == nil {
				t.Fatalf("opened %d items, want an error", s.Len())
			}
			wantErr(t, err, tc.frags...)
		})
	}
}
