package dataset

import (
	"slices"
	"strings"
	"testing"
)

// tiny is one 1x2 image: RGB pixels (10,20,30) and (40,50,60), or the gray
// pixels 10 and 40.
func tiny(c int) *store {
	st := &store{name: "tiny", h: 1, w: 2, c: c, labels: []int{0}, item: func(int) string { return "tiny[0]" }}
	if c == 3 {
		st.pix = []uint8{10, 20, 30, 40, 50, 60}
	} else {
		st.pix = []uint8{10, 40}
	}
	return st
}

func TestPreprocess(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    int // raw channels
		sp   Spec
		want []float32
		err  string
	}{
		{"raw nchw", 3, Spec{Scale: 1}, []float32{10, 40, 20, 50, 30, 60}, ""},
		{"raw nhwc", 3, Spec{Scale: 1, Layout: NHWC}, []float32{10, 20, 30, 40, 50, 60}, ""},
		{"bgr nchw", 3, Spec{Scale: 1, BGR: true}, []float32{30, 60, 20, 50, 10, 40}, ""},
		{"bgr nhwc", 3, Spec{Scale: 1, BGR: true, Layout: NHWC}, []float32{30, 20, 10, 60, 50, 40}, ""},
		{"default scale 1/255", 1, Spec{}, []float32{10 * DefaultScale, 40 * DefaultScale}, ""},
		{"one mean and std for all", 3, Spec{Scale: 1, Mean: []float32{10}, Std: []float32{2}},
			[]float32{0, 15, 5, 20, 10, 25}, ""},
		{"per-channel mean and std index model channels", 3, Spec{Scale: 1, BGR: true, Mean: []float32{30, 20, 10}, Std: []float32{1, 2, 3}},
			[]float32{0, 30, 0, 15, 0, 10}, ""},
		{"gray into 3 channels replicates", 1, Spec{C: 3, Scale: 1, Mean: []float32{0, 10, 20}},
			[]float32{10, 40, 0, 30, -10, 20}, ""},
		{"gray into 3 channels nhwc", 1, Spec{C: 3, Scale: 1, Layout: NHWC}, []float32{10, 10, 10, 40, 40, 40}, ""},
		{"colour into 1 channel is refused", 3, Spec{C: 1}, nil, "tiny[0]: colour image for a 1-channel model (use --gray"},
		{"colour into 1 channel with gray: BT.601 luma", 3, Spec{C: 1, Gray: true, Scale: 1}, []float32{18, 48}, ""},
		{"wrong size", 3, Spec{H: 2, W: 2}, nil, "tiny: images are 1x2 (HxW), the model wants 2x2"},
		{"two means for three channels", 3, Spec{Mean: []float32{1, 2}}, nil, "tiny: 2 mean values for 3 channels"},
		{"bgr on gray data", 1, Spec{BGR: true}, nil, "bgr asked for 1-channel images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSet(tiny(tc.c), tc.sp)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Image(0); !slices.Equal(got, tc.want) {
				t.Errorf("Image = %v, want %v", got, tc.want)
			}
			if s.Size() != len(tc.want) {
				t.Errorf("Size %d, want %d", s.Size(), len(tc.want))
			}
		})
	}
}

// Gray images stored as RGB (all channels equal) go to 1-channel models
// exactly, without --gray.
func TestEqualChannelsAreGray(t *testing.T) {
	st := tiny(3)
	st.pix = []uint8{7, 7, 7, 9, 9, 9}
	s, err := newSet(st, Spec{C: 1, Scale: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Image(0); !slices.Equal(got, []float32{7, 9}) {
		t.Errorf("Image = %v", got)
	}
}

// The cifar10 preset on the first lossless test pixel (R=158) matches the
// MANIFEST formula computed in float32.
func TestPresetCIFAR10(t *testing.T) {
	sp, err := Preset("cifar10")
	if err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, tdCSV, Options{Spec: sp})
	want := (float32(158)*float32(1.0/255) - 0.4914) / 0.2023
	if got := s.Image(0)[0]; got != want {
		t.Errorf("x[0] = %g, want %g", got, want)
	}
	sp.Mean[0] = 99 // Preset returns a copy
	if Presets["cifar10"].Mean[0] != 0.4914 {
		t.Error("Preset shares its slices with Presets")
	}
	if _, err := Preset("cifar"); err == nil || !strings.Contains(err.Error(), "cifar10-01") {
		t.Errorf("unknown preset error %v should list the known ones", err)
	}
}

func TestSpecCheck(t *testing.T) {
	for _, tc := range []struct {
		sp  Spec
		err string
	}{
		{Spec{C: 2}, "2 channels unsupported"},
		{Spec{H: 28}, "both be positive"},
		{Spec{C: 3, Gray: true}, "gray conversion asked for a 3-channel model"},
		{Spec{C: 1, BGR: true}, "bgr asked for a 1-channel model"},
		{Spec{Scale: -1}, "scale -1"},
		{Spec{Std: []float32{0}}, "std 0"},
		{Spec{Mean: []float32{1, 2, 3, 4}}, "4 means"},
		{Spec{Layout: 7}, "unknown layout"},
	} {
		_, err := Open(tdCSV, Options{Spec: tc.sp})
		wantErr(t, err, tc.err)
	}
}

func TestAppendImageBatch(t *testing.T) {
	s := mustOpen(t, tdMNIST, Options{})
	batch := make([]float32, 0, 10*s.Size())
	for i := range 10 {
		batch = s.AppendImage(batch, i)
	}
	if len(batch) != 10*784 || !slices.Equal(batch[3*784:4*784], s.Image(3)) {
		t.Errorf("batch of 10: len %d, image 3 mismatched", len(batch))
	}
	if n := testing.AllocsPerRun(10, func() { batch = s.AppendImage(batch[:0], 5) }); n != 0 {
		t.Errorf("AppendImage into a big enough slice allocated %v times", n)
	}
}

func TestSubsetStrided(t *testing.T) {
	s := mustOpen(t, tdTar, Options{})
	sub, err := s.Subset(45, 10)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Len() != 10 || sub.Item(0) != "test/airplane/0045.jpg" || sub.Label(9) != 1 {
		t.Errorf("subset: len %d first %s last label %d", sub.Len(), sub.Item(0), sub.Label(9))
	}
	// Every 50th item from 3: one image of each class.
	st, err := s.Strided(3, 50)
	if err != nil {
		t.Fatal(err)
	}
	if st.Len() != 10 || !slices.Equal(st.Labels(), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) || st.Item(9) != "test/truck/0003.jpg" {
		t.Errorf("strided: len %d labels %v last %s", st.Len(), st.Labels(), st.Item(9))
	}
	// Views compose: items 1 and 2 of the stride are items 53 and 103.
	sst, err := st.Subset(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if sst.Item(0) != s.Item(53) || sst.Item(1) != s.Item(103) || !slices.Equal(sst.Image(1), s.Image(103)) {
		t.Errorf("subset of stride: %s %s", sst.Item(0), sst.Item(1))
	}
	for _, bad := range [][2]int{{-1, 2}, {0, 0}, {495, 6}} {
		if _, err := s.Subset(bad[0], bad[1]); err == nil {
			t.Errorf("Subset(%d, %d) accepted", bad[0], bad[1])
		}
	}
	for _, bad := range [][2]int{{500, 1}, {0, 0}, {-1, 2}} {
		if _, err := s.Strided(bad[0], bad[1]); err == nil {
			t.Errorf("Strided(%d, %d) accepted", bad[0], bad[1])
		}
	}
}

// Offset and Limit select the same items in every format, and item names
// keep counting from the start of the file.
func TestOffsetLimit(t *testing.T) {
	for _, p := range []string{tdMNIST, tdCSV, tdTar} {
		t.Run(p, func(t *testing.T) {
			all := mustOpen(t, p, Options{})
			s := mustOpen(t, p, Options{Offset: 3, Limit: 5})
			if s.Len() != 5 || s.Item(0) != all.Item(3) || !slices.Equal(s.Labels(), all.Labels()[3:8]) ||
				!slices.Equal(s.Image(4), all.Image(7)) {
				t.Errorf("len %d item %s labels %v", s.Len(), s.Item(0), s.Labels())
			}
			tail := mustOpen(t, p, Options{Offset: all.Len() - 2, Limit: 100})
			if tail.Len() != 2 {
				t.Errorf("limit past the end: len %d, want 2", tail.Len())
			}
			_, err := Open(p, Options{Offset: all.Len()})
			wantErr(t, err, "offset", "beyond")
		})
	}
}
