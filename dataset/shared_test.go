package dataset

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// These tests use the full sets beside the repository (../shared/data) and
// skip when it is absent. They check the MANIFEST.md digests and that the
// repo's testdata slices are exact prefixes of the full sets.

func TestSharedIDX(t *testing.T) {
	for _, tc := range []struct {
		dir, slice   string
		imgMD5, lMD5 string
	}{
		{"datasets/mnist", tdMNIST, "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"},
		{"datasets/fashion_mnist", tdFashion, "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := shared(t, tc.dir)
			for name, want := range map[string]string{"t10k-images-idx3-ubyte.gz": tc.imgMD5, "t10k-labels-idx1-ubyte.gz": tc.lMD5} {
				b, err := readFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if h := md5.Sum(b); hex.EncodeToString(h[:]) != want {
					t.Errorf("%s: decompressed md5 %x, MANIFEST.md says %s", name, h, want)
				}
			}
			full := mustOpen(t, dir, Options{})
			part := mustOpen(t, tc.slice, Options{})
			if full.Len() != 10000 {
				t.Errorf("full set has %d images", full.Len())
			}
			for i := range part.Len() {
				if full.Label(i) != part.Label(i) || !bytes.Equal(full.Raw(i), part.Raw(i)) {
					t.Fatalf("slice item %d differs from the full set", i)
				}
			}
		})
	}
}

func TestSharedCIFAR(t *testing.T) {
	dir := shared(t, "datasets/cifar10")
	full := mustOpen(t, filepath.Join(dir, "cifar10_test_jpeg_q75_yoongikim.tar.gz"), Options{})
	count := make([]int, 10)
	for i := range full.Len() {
		count[full.Label(i)]++
	}
	for c, n := range count {
		if n != 1000 {
			t.Errorf("class %d (%s) has %d images, want 1000", c, full.Classes()[c], n)
		}
	}
	part := mustOpen(t, tdTar, Options{})
	for i := range part.Len() {
		j := part.Label(i)*1000 + i%50
		if full.Item(j) != part.Item(i) || !bytes.Equal(full.Raw(j), part.Raw(i)) {
			t.Fatalf("slice %s differs from full %s", part.Item(i), full.Item(j))
		}
	}
	a, err := os.ReadFile(filepath.Join(dir, "cifar10_test_first100_lossless_eran.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(tdCSV); err != nil || !bytes.Equal(a, b) {
		t.Errorf("testdata CSV differs from the shared one (%v)", err)
	}
}

// BenchmarkOpenCIFARTar reads and decodes all 10,000 CIFAR-10 JPEGs.
func BenchmarkOpenCIFARTar(b *testing.B) {
	p := shared(b, "datasets/cifar10/cifar10_test_jpeg_q75_yoongikim.tar.gz")
	for b.Loop() {
		if _, err := Open(p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImage is the per-item preprocessing cost (CIFAR mean/std, NCHW).
func BenchmarkImage(b *testing.B) {
	sp, _ := Preset("cifar10")
	s := mustOpen(b, tdCSV, Options{Spec: sp})
	buf := make([]float32, 0, s.Size())
	for b.Loop() {
		buf = s.AppendImage(buf[:0], 7)
	}
}
