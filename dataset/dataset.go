package dataset

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
)

// Format names an on-disk dataset format. The empty Format means "detect".
type Format string

// Formats understood by Open. FormatCIFAR detects CIFAR-10 against CIFAR-100
// from the file size and name; FormatCIFAR10 and FormatCIFAR100 force one.
const (
	FormatAuto     Format = ""
	FormatIDX      Format = "idx"
	FormatCIFAR    Format = "cifar"
	FormatCIFAR10  Format = "cifar10"
	FormatCIFAR100 Format = "cifar100"
	FormatCSV      Format = "csv"
	FormatFolder   Format = "folder"
	FormatTar      Format = "tar"
	FormatONNX     Format = "onnx"
)

var formats = []Format{FormatIDX, FormatCIFAR, FormatCIFAR10, FormatCIFAR100, FormatCSV, FormatFolder, FormatTar, FormatONNX}

// ParseFormat turns a --format value into a Format; "" and "auto" mean detect.
func ParseFormat(s string) (Format, error) {
	if s == "" || s == "auto" {
		return FormatAuto, nil
	}
	for _, f := range formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want idx, cifar, cifar10, cifar100, csv, folder, tar or onnx)", s)
}

// TensorReader decodes one serialized ONNX TensorProto holding float data.
// dataset has no protobuf dependency, so the caller (pimc's frontend)
// supplies it for the ONNX test_data_set format.
type TensorReader func(b []byte) (dims []int64, data []float32, err error)

// Options says what to read and how to preprocess it.
type Options struct {
	Format     Format // FormatAuto detects it
	LabelsPath string // IDX only: labels file, when not beside the images
	Offset     int    // skip this many items (in the order documented per format)
	Limit      int    // keep at most this many items after Offset; 0 means all
	Spec       Spec   // the model input; zero fields are taken from the data
	Workers    int    // image decoders running in parallel; 0 means GOMAXPROCS
	ReadTensor TensorReader
}

// store holds the decoded items of one file or tree; Sets are views on it.
type store struct {
	name    string // file or directory as given to Open
	format  Format
	h, w, c int      // raw geometry, HWC; c is 1 or 3
	pix     []uint8  // len n*h*w*c; nil for ONNX sets
	labels  []int    // -1 where unknown (ONNX sets without output_0.pb)
	classes []string // folder and tar: class name per label
	item    func(i int) string
	tensors [][]float32 // ONNX sets: the stored input tensors
}

func (st *store) len() int { return len(st.labels) }

// Set is a loaded dataset, or a deterministic slice of one. It is safe for
// concurrent use: all methods only read.
type Set struct {
	st        *store
	spec      Spec // effective: geometry filled in
	lut       [][256]float32
	srcCh     []int // raw channel read by each model channel
	off, step int
	n         int
}

// Open reads the dataset at path. The result holds only the items selected
// by o.Offset and o.Limit; Image and Raw indices count from there.
func Open(path string, o Options) (*Set, error) {
	s, err := open(path, o)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	return s, nil
}

func open(path string, o Options) (*Set, error) {
	if o.Offset < 0 || o.Limit < 0 {
		return nil, fmt.Errorf("%s: negative offset %d or limit %d", path, o.Offset, o.Limit)
	}
	if err := o.Spec.check(); err != nil {
		return nil, err
	}
	f, err := ParseFormat(string(o.Format))
	if err != nil {
		return nil, err
	}
	if f == FormatAuto {
		if f, err = detect(path); err != nil {
			return nil, err
		}
	}
	if o.LabelsPath != "" && f != FormatIDX {
		return nil, fmt.Errorf("%s: a labels file is only used with the idx format, and %s is %s", o.LabelsPath, path, f)
	}
	win := window{off: o.Offset, lim: o.Limit}
	var st *store
	switch f {
	case FormatIDX:
		st, err = loadIDX(path, o.LabelsPath, win)
	case FormatCIFAR, FormatCIFAR10, FormatCIFAR100:
		st, err = loadCIFAR(path, f, win)
	case FormatCSV:
		st, err = loadCSV(path, o.Spec, win)
	case FormatFolder:
		st, err = loadFolder(path, o.Spec, o.Workers, win)
	case FormatTar:
		st, err = loadTar(path, o.Spec, o.Workers, win)
	case FormatONNX:
		st, err = loadONNX(path, o.ReadTensor, o.Spec, win)
	}
	if err != nil {
		return nil, err
	}
	if st.len() == 0 {
		return nil, fmt.Errorf("%s: no items selected (offset %d, limit %d)", path, o.Offset, o.Limit)
	}
	st.name = path
	if st.format == "" { // CIFAR loaders record which of 10 or 100 they found
		st.format = f
	}
	return newSet(st, o.Spec)
}

// window is the Offset/Limit selection, applied by each loader before it
// does expensive work (image decoding).
type window struct{ off, lim int }

// span returns the selected range [lo, hi) of total items.
func (w window) span(name string, total int) (lo, hi int, err error) {
	if total == 0 {
		return 0, 0, fmt.Errorf("%s: empty dataset", name)
	}
	if w.off >= total {
		return 0, 0, fmt.Errorf("%s: offset %d is beyond the %d items", name, w.off, total)
	}
	hi = total
	if w.lim > 0 && w.off+w.lim < total {
		hi = w.off + w.lim
	}
	return w.off, hi, nil
}

func newSet(st *store, sp Spec) (*Set, error) {
	s := &Set{st: st, step: 1, n: st.len()}
	if st.tensors != nil {
		// ONNX inputs are already model tensors: no pixel preprocessing.
		s.spec = sp
		return s, nil
	}
	eff, err := sp.resolve(st)
	if err != nil {
		return nil, err
	}
	s.spec = eff
	s.lut, s.srcCh = eff.tables(st.c)
	return s, nil
}

// Name is the path the set was opened from.
func (s *Set) Name() string { return s.st.name }

// Format is the format the set was read as.
func (s *Set) Format() Format { return s.st.format }

// Len is the number of items.
func (s *Set) Len() int { return s.n }

func (s *Set) at(i int) int {
	if i < 0 || i >= s.n {
		panic("dataset: index " + strconv.Itoa(i) + " out of range [0," + strconv.Itoa(s.n) + ")")
	}
	return s.off + i*s.step
}

// Label is the class index of item i, or -1 if the set has no label for it.
func (s *Set) Label(i int) int { return s.st.labels[s.at(i)] }

// Labels returns a copy of all labels in order.
func (s *Set) Labels() []int {
	out := make([]int, s.n)
	for i := range out {
		out[i] = s.Label(i)
	}
	return out
}

// Classes names the classes by label for folder and tar sets, else nil.
func (s *Set) Classes() []string { return s.st.classes }

// Item says where item i came from, e.g. "test/cat/0003.jpg" or
// "t10k-images-idx3-ubyte.gz[17]" (indices count from the start of the file).
func (s *Set) Item(i int) string { return s.st.item(s.at(i)) }

// Spec is the effective input spec: the one given to Open with C, H and W
// filled in from the data where they were zero.
func (s *Set) Spec() Spec { return s.spec }

// Size is the number of float32 values of one image, C*H*W.
func (s *Set) Size() int {
	if s.st.tensors != nil {
		return len(s.st.tensors[0])
	}
	return s.spec.C * s.spec.H * s.spec.W
}

// RawShape is the geometry of Raw: height, width and channels (1 or 3).
func (s *Set) RawShape() (h, w, c int) { return s.st.h, s.st.w, s.st.c }

// Raw returns the pixels of item i as stored, HWC; callers must not modify
// them. It is nil for ONNX sets, whose items are tensors, not pixels.
func (s *Set) Raw(i int) []uint8 {
	j := s.at(i)
	if s.st.pix == nil {
		return nil
	}
	sz := s.st.h * s.st.w * s.st.c
	return s.st.pix[j*sz : (j+1)*sz : (j+1)*sz]
}

// Image returns item i preprocessed for the model, len Size().
func (s *Set) Image(i int) []float32 { return s.AppendImage(make([]float32, 0, s.Size()), i) }

// AppendImage appends item i, preprocessed, to dst; filling a batch this
// way allocates nothing once dst has room.
func (s *Set) AppendImage(dst []float32, i int) []float32 {
	j := s.at(i)
	if s.st.tensors != nil {
		return append(dst, s.st.tensors[j]...)
	}
	return s.spec.appendPixels(dst, s.Raw(i), s.st.c, s.lut, s.srcCh)
}

// Subset returns items [start, start+n) of s, sharing its storage.
func (s *Set) Subset(start, n int) (*Set, error) {
	if start < 0 || n <= 0 || start+n > s.n {
		return nil, fmt.Errorf("dataset: %s: subset [%d, %d) outside [0, %d)", s.st.name, start, start+n, s.n)
	}
	t := *s
	t.off = s.off + start*s.step
	t.n = n
	return &t, nil
}

// Strided returns every step-th item of s starting at start, sharing its
// storage. Folder and tar sets are sorted by class, so a prefix holds one
// class only; a stride gives a class-balanced held-out slice instead.
func (s *Set) Strided(start, step int) (*Set, error) {
	if start < 0 || start >= s.n || step <= 0 {
		return nil, fmt.Errorf("dataset: %s: stride start %d step %d invalid for %d items", s.st.name, start, step, s.n)
	}
	t := *s
	t.off = s.off + start*s.step
	t.step = s.step * step
	t.n = (s.n - start + step - 1) / step
	return &t, nil
}

// errNotImage is wrapped with the offending file or entry.
var errNotImage = errors.New("not a JPEG or PNG image")

// base is the short name used in item names.
func base(path string) string { return filepath.Base(path) }
