package dataset

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// Flags are the dataset flags every pimc command shares; AddFlags registers
// them and Options turns them into Options.
type Flags struct {
	Data, Labels  string
	Limit, Offset int
	Format        string
	Preset        string
	Scale         string // kept as text: "1/255" is accepted
	Mean, Std     string
	Layout        string
	BGR, Gray     bool
}

// AddFlags registers --data, --labels, --limit, --offset, --format,
// --preset, --scale, --mean, --std, --layout, --bgr and --gray on fs.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	fs.StringVar(&f.Data, "data", "", "Dataset: IDX file or folder, CIFAR .bin, .csv, image folder, .tar[.gz], or ONNX test_data_set folder")
	fs.StringVar(&f.Labels, "labels", "", "IDX labels file, when it is not beside the images file")
	fs.IntVar(&f.Limit, "limit", 0, "Use at most `N` items (0 means all)")
	fs.IntVar(&f.Offset, "offset", 0, "Skip the first `N` items")
	fs.StringVar(&f.Format, "format", "", "Dataset format: idx, cifar, csv, folder, tar or onnx (default: detect)")
	fs.StringVar(&f.Preset, "preset", "", "Preprocessing preset: "+strings.Join(PresetNames(), ", "))
	fs.StringVar(&f.Scale, "scale", "", "Pixel scale `S` in x = (p*S - mean)/std, a number or a fraction like 1/255 (default 1/255)")
	fs.StringVar(&f.Mean, "mean", "", "Mean per model channel, e.g. 0.4914,0.4822,0.4465 (default 0)")
	fs.StringVar(&f.Std, "std", "", "Standard deviation per model channel, e.g. 0.2023,0.1994,0.2010 (default 1)")
	fs.StringVar(&f.Layout, "layout", "", "Input layout nchw or nhwc (default: the model's)")
	fs.BoolVar(&f.BGR, "bgr", false, "Feed colour channels in B, G, R order")
	fs.BoolVar(&f.Gray, "gray", false, "Convert colour images to one luma channel for a 1-channel model")
	return f
}

// Options builds Options from the flags. model is what the model's input
// says: its C, H, W and Layout win over the preset's; zero fields are
// unknown. Explicit --scale, --mean, --std and --layout win over both.
func (f *Flags) Options(model Spec) (Options, error) {
	var o Options
	var err error
	if o.Format, err = ParseFormat(f.Format); err != nil {
		return o, fmt.Errorf("--format: %w", err)
	}
	if f.Limit < 0 || f.Offset < 0 {
		return o, fmt.Errorf("--limit %d and --offset %d must not be negative", f.Limit, f.Offset)
	}
	o.LabelsPath, o.Limit, o.Offset = f.Labels, f.Limit, f.Offset

	sp := Spec{}
	if f.Preset != "" {
		if sp, err = Preset(f.Preset); err != nil {
			return o, fmt.Errorf("--preset: %w", err)
		}
	}
	if model.H != 0 {
		sp.H, sp.W = model.H, model.W
	}
	if model.C != 0 {
		sp.C = model.C
	}
	sp.Layout = model.Layout
	if f.Layout != "" {
		if sp.Layout, err = ParseLayout(f.Layout); err != nil {
			return o, fmt.Errorf("--layout: %w", err)
		}
	}
	if f.Scale != "" {
		if sp.Scale, err = parseScale(f.Scale); err != nil {
			return o, err
		}
	}
	if f.Mean != "" {
		if sp.Mean, err = parseList("mean", f.Mean); err != nil {
			return o, err
		}
	}
	if f.Std != "" {
		if sp.Std, err = parseList("std", f.Std); err != nil {
			return o, err
		}
		for i, v := range sp.Std {
			if v == 0 {
				return o, fmt.Errorf("--std %q: element %d is 0", f.Std, i+1)
			}
		}
	}
	sp.BGR, sp.Gray = f.BGR, f.Gray
	if err := sp.check(); err != nil {
		return o, fmt.Errorf("dataset flags: %w", err)
	}
	o.Spec = sp
	return o, nil
}

// Open opens --data with the flags' options; read is the TensorProto
// reader for ONNX test_data_set folders (nil if the caller has none).
func (f *Flags) Open(model Spec, read TensorReader) (*Set, error) {
	if f.Data == "" {
		return nil, fmt.Errorf("--data is required")
	}
	o, err := f.Options(model)
	if err != nil {
		return nil, err
	}
	o.ReadTensor = read
	return Open(f.Data, o)
}

// parseScale reads a number or a fraction a/b.
func parseScale(s string) (float32, error) {
	num, den, frac := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 32)
	d := 1.0
	if err == nil && frac {
		d, err = strconv.ParseFloat(strings.TrimSpace(den), 32)
	}
	if err != nil || d == 0 || !(v/d > 0) {
		return 0, fmt.Errorf("--scale %q: want a positive number or a fraction like 1/255", s)
	}
	return float32(v / d), nil
}

func parseList(flagName, s string) ([]float32, error) {
	parts := strings.Split(s, ",")
	out := make([]float32, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: element %d %q is not a number", flagName, s, i+1, p)
		}
		out[i] = float32(v)
	}
	if len(out) != 1 && len(out) != 3 {
		return nil, fmt.Errorf("--%s %q: %d values, want 1 or 3", flagName, s, len(out))
	}
	return out, nil
}
