// Command mkslice regenerates testdata/data and testdata/models from the full
// sets in ../shared/data, so that a clone of pimc carries small real slices
// with reproducible provenance. Run it from the repository root:
//
//	go run ./dataset/internal/mkslice
//
// It checks every input against the sha256 in ../shared/data/MANIFEST.md,
// then writes:
//   - models/...: the seven ONNX models, byte for byte;
//   - data/mnist, data/fashion_mnist: the first -n test images and labels as
//     gzip IDX files (header count set to -n, payload bytes unchanged);
//   - data/cifar10: the lossless first-100 CSV as is, and a tar.gz of the
//     first -per-class JPEGs of each class (sorted names, entry bytes and
//     headers' mtime unchanged, USTAR, gzip without name or mtime).
//
// Outputs are deterministic for a given Go version (compress/flate decides
// the gzip bytes); the decompressed contents are deterministic on any.
// Finally it prints the sha256 and size of every file it wrote.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// sums are the sha256 values MANIFEST.md gives for the inputs.
var sums = map[string]string{
	"models/mnist/mnist-8_onnxzoo_cntk.onnx":                   "ddd007b8b9b1e79c323e0b090266409dc73ba8e137c192a163148c908222ed11",
	"models/mnist/lenet5_ccoltong1215_b10.onnx":                "27538bc5023e79282b2e7878808573e4f86fbbb76a908617c52ce71dd475dcd5",
	"models/mnist/lenet5_bn1d_ccoltong1215_b10.onnx":           "0ec8d5d37af3ddeb4753f97e63ba67a691d9bc38008fe082eca56f76af3c9b8b",
	"models/fashion_mnist/cnn3_edwin19.onnx":                   "1e1930b6fb1ea08184d9bcfee147da5cb3fb8c482571199d72ee55b822c53a92",
	"models/cifar10/resnet20_bn_amandashi95.onnx":              "cb77fa0c7e683ce41d0ec965c1dd26ae942ed3bed0483fd05bd289056755b802",
	"models/cifar10/resnet20_bnfolded_sclblonnx.onnx":          "3cef18222cb4b6c081ed88f8991ac10f0d65afc1dde524b5ab5a0f35c7501f44",
	"models/cifar10/squeezenet_nhwc_emclab.onnx":               "43636b966ce685f7f0eb0c46939466ef40b15e17f938f90b23103d977e669d8b",
	"datasets/mnist/t10k-images-idx3-ubyte.gz":                 "ba05d2d6e06f59dd97d2d5378250478bb5c9b64296a5c2681700569121e3a2d7",
	"datasets/mnist/t10k-labels-idx1-ubyte.gz":                 "94088eab8a64f51a9b34cc9716f54b6548ef8b2fd16ada6d1575091b933dbf4b",
	"datasets/fashion_mnist/t10k-images-idx3-ubyte.gz":         "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
	"datasets/fashion_mnist/t10k-labels-idx1-ubyte.gz":         "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
	"datasets/cifar10/cifar10_test_jpeg_q75_yoongikim.tar.gz":  "f225cabdd5279430dd56749e356119671fe0cd2bf543e78d20c27af441d80951",
	"datasets/cifar10/cifar10_test_first100_lossless_eran.csv": "4cef6cdf54a6b78c7cae5ac7d20dc1d6eda1c9d8a04c6b08b5ecba6029a6f043",
}

// CIFARSlice is the name of the tar slice inside data/cifar10.
const cifarSlice = "cifar10_test_jpeg_q75_yoongikim_first50.tar.gz"

func main() {
	src := flag.String("src", "../shared/data", "Folder holding MANIFEST.md, models/ and datasets/")
	dst := flag.String("dst", "testdata", "Output folder (gets data/ and models/)")
	n := flag.Int("n", 500, "MNIST and Fashion-MNIST images to keep")
	perClass := flag.Int("per-class", 50, "CIFAR-10 JPEGs to keep per class")
	flag.Parse()
	if err := run(*src, *dst, *n, *perClass); err != nil {
		fmt.Fprintln(os.Stderr, "mkslice:", err)
		os.Exit(1)
	}
}

func run(src, dst string, n, perClass int) error {
	in := map[string][]byte{}
	for rel, want := range sums {
		b, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			return err
		}
		if got := sum(b); got != want {
			return fmt.Errorf("%s: sha256 %s, MANIFEST.md says %s", rel, got, want)
		}
		in[rel] = b
	}
	var written []string
	put := func(rel string, b []byte) error {
		p := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		written = append(written, rel)
		return os.WriteFile(p, b, 0o644)
	}
	for rel, b := range in {
		if strings.HasPrefix(rel, "models/") {
			if err := put(rel, b); err != nil {
				return err
			}
		}
	}
	for _, set := range []string{"mnist", "fashion_mnist"} {
		for _, f := range []struct {
			name string
			dims int
		}{{"t10k-images-idx3-ubyte.gz", 3}, {"t10k-labels-idx1-ubyte.gz", 1}} {
			out, err := idxHead(in["datasets/"+set+"/"+f.name], f.dims, n)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", set, f.name, err)
			}
			if err := put("data/"+set+"/"+f.name, out); err != nil {
				return err
			}
		}
	}
	csv := "cifar10_test_first100_lossless_eran.csv"
	if err := put("data/cifar10/"+csv, in["datasets/cifar10/"+csv]); err != nil {
		return err
	}
	tgz, err := tarHead(in["datasets/cifar10/cifar10_test_jpeg_q75_yoongikim.tar.gz"], perClass)
	if err != nil {
		return fmt.Errorf("cifar10 tar: %w", err)
	}
	if err := put("data/cifar10/"+cifarSlice, tgz); err != nil {
		return err
	}
	sort.Strings(written)
	for _, rel := range written {
		b, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		extra := ""
		if strings.HasSuffix(rel, ".gz") {
			raw, err := gunzip(b)
			if err != nil {
				return err
			}
			extra = fmt.Sprintf("  (decompressed %d B, sha256 %s)", len(raw), sum(raw))
		}
		fmt.Printf("%s  %s  %d B%s\n", sum(b), rel, len(b), extra)
	}
	return nil
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// gz compresses deterministically: best compression, no name, zero mtime.
func gz(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// idxHead keeps the first n records of a gzip IDX file and sets the count.
func idxHead(b []byte, dims, n int) ([]byte, error) {
	raw, err := gunzip(b)
	if err != nil {
		return nil, err
	}
	hdr := 4 + 4*dims
	if len(raw) < hdr || raw[0] != 0 || raw[1] != 0 || raw[2] != 8 || int(raw[3]) != dims {
		return nil, fmt.Errorf("not an unsigned-byte idx%d file", dims)
	}
	rec := 1
	for i := 1; i < dims; i++ {
		rec *= int(binary.BigEndian.Uint32(raw[4+4*i:]))
	}
	if total := int(binary.BigEndian.Uint32(raw[4:])); total < n || len(raw) != hdr+total*rec {
		return nil, fmt.Errorf("has %d records and %d bytes, need %d records", total, len(raw), n)
	}
	out := append([]byte(nil), raw[:hdr+n*rec]...)
	binary.BigEndian.PutUint32(out[4:], uint32(n))
	return gz(out)
}

// tarHead keeps the directory entries and the first perClass files (by
// sorted name) of each directory, in sorted order.
func tarHead(b []byte, perClass int) ([]byte, error) {
	raw, err := gunzip(b)
	if err != nil {
		return nil, err
	}
	type entry struct {
		h    *tar.Header
		data []byte
	}
	var ents []entry
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		ents = append(ents, entry{h, data})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].h.Name < ents[j].h.Name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	kept := map[string]int{}
	for _, e := range ents {
		if e.h.Typeflag == tar.TypeReg {
			dir := path.Dir(e.h.Name)
			if kept[dir] >= perClass {
				continue
			}
			kept[dir]++
		}
		h := &tar.Header{
			Typeflag: e.h.Typeflag,
			Name:     e.h.Name,
			Mode:     e.h.Mode,
			Size:     e.h.Size,
			ModTime:  e.h.ModTime.UTC(),
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return gz(buf.Bytes())
}
