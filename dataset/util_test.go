package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Repo testdata (always present) and the full sets beside the repo (skipped
// when absent, as in a user's clone).
const (
	tdMNIST   = "../testdata/data/mnist"
	tdFashion = "../testdata/data/fashion_mnist"
	tdCSV     = "../testdata/data/cifar10/cifar10_test_first100_lossless_eran.csv"
	tdTar     = "../testdata/data/cifar10/cifar10_test_jpeg_q75_yoongikim_first50.tar.gz"
	sharedDir = "../../shared/data"
)

func shared(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(sharedDir, rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("%s absent (no ../shared beside the repo)", p)
	}
	return p
}

func mustOpen(tb testing.TB, path string, o Options) *Set {
	tb.Helper()
	s, err := Open(path, o)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// wantErr checks that err is non-nil, starts with "dataset: " and contains
// every fragment (file names, line numbers, reasons).
func wantErr(tb testing.TB, err error, frags ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("no error, want one containing %q", frags)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "dataset: ") {
		tb.Errorf("error %q lacks the dataset: prefix", msg)
	}
	for _, f := range frags {
		if !strings.Contains(msg, f) {
			tb.Errorf("error %q does not contain %q", msg, f)
		}
	}
}

// idxFile builds an unsigned-byte IDX file.
func idxFile(dims []int, data []byte) []byte {
	b := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func write(tb testing.TB, dir, rel string, b []byte) string {
	tb.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
