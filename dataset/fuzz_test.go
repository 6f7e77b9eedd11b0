package dataset

import (
	"bytes"
	"image"
	"os"
	"testing"
)

// checkStore opens a view on a parsed store and touches every item: parsing
// garbage must end in an error or a consistent set, never a panic.
func checkStore(t *testing.T, st *store, sp Spec) {
	st.name = "fuzz"
	s, err := newSet(st, sp)
	if err != nil {
		return
	}
	h, w, c := s.RawShape()
	for i := range s.Len() {
		if len(s.Raw(i)) != h*w*c || len(s.Image(i)) != s.Size() || s.Label(i) < 0 || s.Item(i) == "" {
			t.Fatalf("item %d inconsistent: raw %d (%dx%dx%d) image %d size %d label %d",
				i, len(s.Raw(i)), h, w, c, len(s.Image(i)), s.Size(), s.Label(i))
		}
	}
}

func FuzzIDX(f *testing.F) {
	img, err := readFile(tdMNIST + "/t10k-images-idx3-ubyte.gz")
	if err != nil {
		f.Fatal(err)
	}
	lbl, err := readFile(tdMNIST + "/t10k-labels-idx1-ubyte.gz")
	if err != nil {
		f.Fatal(err)
	}
	two := idxFile([]int{2, 28, 28}, img[16:16+2*784])
	f.Add(two, idxFile([]int{2}, lbl[8:10]))
	f.Add(gz(two), gz(idxFile([]int{2}, lbl[8:10])))
	f.Add(idxFile([]int{1, 2, 3}, []byte{1, 2, 3, 4, 5, 6}), idxFile([]int{1}, []byte{9}))
	f.Add(two[:100], idxFile([]int{3}, []byte{1, 2, 3}))
	f.Add([]byte{0, 0, 8, 3, 255, 255, 255, 255}, []byte{0, 0, 8, 1})
	f.Fuzz(func(t *testing.T, img, lbl []byte) {
		img, err := maybeGunzip("img", img)
		if err != nil {
			return
		}
		lbl, err = maybeGunzip("lbl", lbl)
		if err != nil {
			return
		}
		if st, err := parseIDX("img", img, "lbl", lbl, window{off: 1, lim: 2}); err == nil {
			checkStore(t, st, Spec{C: 3})
		}
		if st, err := parseIDX("img", img, "lbl", lbl, window{}); err == nil {
			checkStore(t, st, Spec{})
		}
	})
}

func FuzzCSV(f *testing.F) {
	// Real ERAN values, cut to 4x4 RGB: small inputs keep the fuzzer fast.
	b, err := os.ReadFile(tdCSV)
	if err != nil {
		f.Fatal(err)
	}
	var seed []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n"))[:2] {
		fields := bytes.Split(line, []byte(","))
		seed = append(append(seed, bytes.Join(fields[:1+48], []byte(","))...), '\n')
	}
	f.Add(seed, uint8(3), uint8(4))
	f.Add([]byte("label,a,b,c,d\n1,2,3,4,5\n2,0,0,255,1\n"), uint8(0), uint8(0))
	f.Add([]byte("1,2,3,4,5\n1,\"2,3\n"), uint8(1), uint8(2))
	f.Add([]byte("7,1,2,3,4,5,6,7,8,9,10,11,12\n"), uint8(1), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, c, hw uint8) {
		sp := Spec{C: int(c % 4), H: int(hw % 40), W: int(hw % 40), Gray: c&0x80 != 0}
		if sp.check() != nil {
			return
		}
		if st, err := parseCSV("fuzz.csv", data, sp, window{lim: 50}); err == nil {
			checkStore(t, st, sp)
		}
	})
}

func FuzzCIFAR(f *testing.F) {
	csv := mustOpen(f, tdCSV, Options{Limit: 2})
	f.Add(cifarBatch(csv, 1), uint8(0))
	f.Add(cifarBatch(csv, 2), uint8(2))
	f.Add(append(cifarBatch(csv, 1), 1, 2, 3), uint8(1))
	f.Add([]byte{}, uint8(0))
	kinds := []Format{FormatCIFAR, FormatCIFAR10, FormatCIFAR100}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		if st, err := parseCIFAR("fuzz.bin", data, kinds[int(kind)%len(kinds)], window{}); err == nil {
			checkStore(t, st, Spec{C: 1, Gray: kind&0x80 != 0})
		}
	})
}

func FuzzTar(f *testing.F) {
	files, err := readTar(tdTar, mustFile(f, tdTar))
	if err != nil {
		f.Fatal(err)
	}
	var ents []entry
	for _, e := range files {
		if isImageName(e.rel) && len(ents) < 2 {
			ents = append(ents, entry{e.rel, e.data})
		}
	}
	small := tarBytes(f, ents...)
	f.Add(small)
	f.Add(gz(small))
	f.Add(small[:700])
	f.Add(tarBytes(f, entry{"a/0.jpg", []byte("\xff\xd8\xffxx")}, entry{"a/b.txt", nil}))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := readTar("fuzz.tar", bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, f := range files {
			// Skip large images, as image/png's FuzzDecode does: they
			// are legal and only slow the fuzzer down.
			if c, _, err := image.DecodeConfig(bytes.NewReader(f.data)); err == nil && c.Width*c.Height > 1<<16 {
				return
			}
		}
		if st, err := buildTree("fuzz.tar", files, Spec{}, 2, window{}); err == nil {
			checkStore(t, st, Spec{})
		}
	})
}
