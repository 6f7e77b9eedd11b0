package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR binary batches: per record, the label byte(s) then 1024 R, 1024 G
// and 1024 B bytes (CHW, rows top to bottom). CIFAR-100 records carry a
// coarse and a fine label; the fine one (100 classes) is used.
const (
	cifarPix    = 32 * 32 * 3
	cifar10Rec  = 1 + cifarPix
	cifar100Rec = 2 + cifarPix
)

func loadCIFAR(path string, f Format, win window) (*store, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		if path, err = cifarInDir(path); err != nil {
			return nil, err
		}
	}
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parseCIFAR(path, b, f, win)
}

// cifarInDir picks the batch file of a directory: the only one, or the test
// batch (test_batch.bin, CIFAR-100's test.bin) among training batches.
func cifarInDir(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var bins []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".bin") {
			bins = append(bins, e.Name())
		}
	}
	pick, err := pickTest(dir, bins, "test", "CIFAR batch file (*.bin)")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, pick), nil
}

// cifarKind tells CIFAR-10 from CIFAR-100 by record size, then by the
// CIFAR-100 file names (train.bin, test.bin) when both sizes divide.
func cifarKind(name string, size int, f Format) (Format, error) {
	if f == FormatCIFAR10 || f == FormatCIFAR100 {
		return f, nil
	}
	is10, is100 := size%cifar10Rec == 0, size%cifar100Rec == 0
	switch {
	case is10 && !is100:
		return FormatCIFAR10, nil
	case is100 && !is10:
		return FormatCIFAR100, nil
	case is10 && is100:
		if b := base(name); b == "train.bin" || b == "test.bin" {
			return FormatCIFAR100, nil
		}
		return FormatCIFAR10, nil
	}
	return "", fmt.Errorf("%s: %d bytes is not a whole number of CIFAR-10 (%d-byte) or CIFAR-100 (%d-byte) records",
		name, size, cifar10Rec, cifar100Rec)
}

func parseCIFAR(name string, b []byte, f Format, win window) (*store, error) {
	kind, err := cifarKind(name, len(b), f)
	if err != nil {
		return nil, err
	}
	rec, lab, classes := cifar10Rec, 0, 10
	if kind == FormatCIFAR100 {
		rec, lab, classes = cifar100Rec, 1, 100
	}
	if len(b)%rec != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-byte %s records", name, len(b), rec, kind)
	}
	lo, hi, err := win.span(name, len(b)/rec)
	if err != nil {
		return nil, err
	}
	st := &store{format: kind, h: 32, w: 32, c: 3, pix: make([]uint8, (hi-lo)*cifarPix), labels: make([]int, hi-lo)}
	for i := range hi - lo {
		r := b[(lo+i)*rec : (lo+i+1)*rec]
		if int(r[lab]) >= classes {
			return nil, fmt.Errorf("%s: record %d: label %d out of range for %s (0..%d)", name, lo+i, r[lab], kind, classes-1)
		}
		st.labels[i] = int(r[lab])
		chw := r[rec-cifarPix:]
		hwc := st.pix[i*cifarPix : (i+1)*cifarPix]
		for p := range 1024 {
			hwc[3*p], hwc[3*p+1], hwc[3*p+2] = chw[p], chw[1024+p], chw[2048+p]
		}
	}
	short := base(name)
	st.item = func(i int) string { return fmt.Sprintf("%s[%d]", short, lo+i) }
	return st, nil
}
