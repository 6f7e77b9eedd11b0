package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pimc/dataset"
	"pimc/dualnet"
	"pimc/frontend"
	"pimc/hw"
	"pimc/interp"
	"pimc/ir"
	"pimc/pipeline"
)

const evalUsage = "eval --data DATA [--labels FILE] [--limit N] [--ratio R | --ratios FILE] [--calib DATA] [--json] MODEL.onnx"

// evalFlags are eval's own flags (the dataset flags come from dataset.AddFlags).
type evalFlags struct {
	data          *dataset.Flags
	calib         string
	calibLimit    int
	calibMethod   string
	ratio         float64
	ratios        string
	keepFirst     bool
	keepLast      bool
	hwFile        string
	json          bool
	noFit, noBC   bool
	workers       int
	progress      string
	skipBaselines bool
	granularity   int
	synthetic     int
	fitSamples    int
	idealADC      bool
}

// runEval measures top-1 accuracy of a model in FP32, INT4-only (r = 1),
// TB-only (r = 0) and at the chosen DualNet ratios.
func runEval(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pimc %s\n\nFlags:\n", evalUsage)
		fs.PrintDefaults()
	}
	f := addQuantFlags(fs)
	fs.BoolVar(&f.json, "json", false, "Print the result as JSON")
	fs.IntVar(&f.workers, "workers", 0, "Images evaluated in parallel (default: the number of CPUs)")
	fs.StringVar(&f.progress, "progress", "auto", "Progress bar on stderr: auto (on a terminal), on or off")
	fs.BoolVar(&f.skipBaselines, "dual-only", false, "Skip the FP32, INT4-only and TB-only runs")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "Run 'pimc help eval' for details.\n")
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "pimc eval: %s\nRun 'pimc help eval' for details.\n", fmt.Sprintf(format, a...))
		return 2
	}
	if msg := f.check(); msg != "" {
		return usageErr("%s", msg)
	}
	switch {
	case len(pos) != 1:
		return usageErr("want exactly one MODEL.onnx, got %d arguments", len(pos))
	case f.data.Data == "":
		return usageErr("--data is required")
	case f.progress != "auto" && f.progress != "on" && f.progress != "off":
		return usageErr("--progress must be auto, on or off")
	}
	if f.workers <= 0 {
		f.workers = runtime.GOMAXPROCS(0)
	}
	res, err := evaluate(pos[0], f, stderr)
	if err != nil {
		for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
			fmt.Fprintf(stderr, "pimc eval: %s\n", line)
		}
		return 1
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "pimc eval: %v\n", err)
			return 1
		}
		return 0
	}
	printEval(stdout, res)
	return 0
}

// evalResult is eval's output; the JSON field names are part of the CLI.
type evalResult struct {
	Model      string                `json:"model"`
	Data       string                `json:"data"`
	Images     int                   `json:"images"`
	FP32       *float64              `json:"fp32_top1,omitempty"`
	INT4       *float64              `json:"int4_top1,omitempty"`
	TB         *float64              `json:"tb_top1,omitempty"`
	Dual       float64               `json:"dual_top1"`
	Ratio      float64               `json:"ratio"`
	RatiosFile string                `json:"ratios_file,omitempty"`
	Calib      evalCalib             `json:"calibration"`
	HW         string                `json:"hw"`
	ADC        map[string]string     `json:"adc"`
	Layers     []dualnet.LayerReport `json:"layers"`
	Seconds    map[string]float64    `json:"seconds"`
	Correct    map[string]int        `json:"correct"`
}

type evalCalib struct {
	Source string `json:"source"`
	Data   string `json:"data,omitempty"`
	Images int    `json:"images"`
	Method string `json:"method"`
}

func pct(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100**p)
}

func printEval(w io.Writer, r *evalResult) {
	fmt.Fprintf(w, "model %s, %d images of %s\n", r.Model, r.Images, r.Data)
	cal := r.Calib.Source
	if r.Calib.Data != "" {
		cal = fmt.Sprintf("%s (%d images of %s, %s)", cal, r.Calib.Images, r.Calib.Data, r.Calib.Method)
	}
	fmt.Fprintf(w, "calibration: %s; hardware %s (ADC sram %s, edram %s)\n", cal, r.HW, r.ADC["sram"], r.ADC["edram"])
	ratio := fmt.Sprintf("r = %g", r.Ratio)
	if r.RatiosFile != "" {
		ratio = "ratios " + r.RatiosFile
	}
	fmt.Fprintf(w, "  fp32        %8s  (%s)\n", pct(r.FP32), correct(r, "fp32"))
	fmt.Fprintf(w, "  int4-only   %8s  (%s, r = 1)\n", pct(r.INT4), correct(r, "int4"))
	fmt.Fprintf(w, "  tb-only     %8s  (%s, r = 0)\n", pct(r.TB), correct(r, "tb"))
	fmt.Fprintf(w, "  dualnet     %8s  (%s, %s)\n", pct(&r.Dual), correct(r, "dual"), ratio)
	fmt.Fprintf(w, "layers:\n")
	for _, l := range r.Layers {
		if l.Precision == "int8" {
			fmt.Fprintf(w, "  %-28s %-5s %-5s %4d channels unsplit  k %5d\n", l.Name, l.Op, l.Precision, l.Channels, l.K)
			continue
		}
		fmt.Fprintf(w, "  %-28s %-5s %-5s int4 %4d  tb %4d  k %5d\n", l.Name, l.Op, l.Precision, l.INT4, l.TB, l.K)
	}
}

func correct(r *evalResult, k string) string {
	c, ok := r.Correct[k]
	if !ok {
		return "skipped"
	}
	return fmt.Sprintf("%d/%d", c, r.Images)
}

// loadEvalModel imports and canonicalises a model, recording BatchNorm
// statistics before they are folded away.
func loadEvalModel(path string) (*ir.Module, error) {
	m, err := frontend.Import(path, frontend.Options{})
	if err != nil {
		return nil, err
	}
	if err := dualnet.RecordBNStats(m); err != nil {
		return nil, err
	}
	if err := pipeline.Run(m, pipeline.Canonical(), pipeline.Options{VerifyEach: true}); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// modelSpec derives the dataset spec (C, H, W, layout) and batch size from
// the model's input shape.
func modelSpec(m *ir.Module) (dataset.Spec, int, error) {
	if len(m.Graph.Inputs) != 1 {
		return dataset.Spec{}, 0, fmt.Errorf("model %q has %d inputs; eval needs one image input", m.Name, len(m.Graph.Inputs))
	}
	s := m.Graph.Inputs[0].Type.Shape
	if len(s) != 4 {
		return dataset.Spec{}, 0, fmt.Errorf("model input %v is not a 4-D image batch", s)
	}
	switch {
	case s[1] == 1 || s[1] == 3:
		return dataset.Spec{C: int(s[1]), H: int(s[2]), W: int(s[3]), Layout: dataset.NCHW}, int(s[0]), nil
	case s[3] == 1 || s[3] == 3:
		return dataset.Spec{C: int(s[3]), H: int(s[1]), W: int(s[2]), Layout: dataset.NHWC}, int(s[0]), nil
	}
	return dataset.Spec{}, 0, fmt.Errorf("model input %v has neither 1 nor 3 channels in NCHW or NHWC", s)
}

func readTensorProto(b []byte) ([]int64, []float32, error) {
	t, err := frontend.DecodeTensor(b)
	if err != nil {
		return nil, nil, err
	}
	if !t.DType.IsFloat() {
		return nil, nil, fmt.Errorf("tensor is %s, want float", t.DType)
	}
	return t.Shape, t.F, nil
}

// batches cuts a set into model-input tensors of batch images; the last
// partial batch is padded by repeating its last image (its extra rows are
// not scored).
type batches struct {
	set   *dataset.Set
	batch int
	shape []int64
}

func (b *batches) count() int { return (b.set.Len() + b.batch - 1) / b.batch }

func (b *batches) tensor(i int) (*ir.Tensor, []int) {
	data := make([]float32, 0, b.batch*b.set.Size())
	var labels []int
	for j := 0; j < b.batch; j++ {
		k := min(i*b.batch+j, b.set.Len()-1)
		data = b.set.AppendImage(data, k)
		if i*b.batch+j < b.set.Len() {
			labels = append(labels, b.set.Label(k))
		}
	}
	return ir.FloatTensor(data, b.shape...), labels
}

func argmaxRows(t *ir.Tensor, rows int) []int {
	n := int(t.Len()) / rows
	out := make([]int, rows)
	for r := 0; r < rows; r++ {
		best := 0
		for j := 1; j < n; j++ {
			if t.F[r*n+j] > t.F[r*n+best] {
				best = j
			}
		}
		out[r] = best
	}
	return out
}

// progress draws a bar on a terminal.
type progress struct {
	w     io.Writer
	on    bool
	label string
	total int
	done  atomic.Int64
	last  atomic.Int64
}

func newProgress(w io.Writer, mode, label string, total int) *progress {
	p := &progress{w: w, label: label, total: total}
	switch mode {
	case "on":
		p.on = true
	case "auto":
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb" {
				p.on = true
			}
		}
	}
	return p
}

func (p *progress) add(n int) {
	d := p.done.Add(int64(n))
	if !p.on {
		return
	}
	now := time.Now().UnixMilli()
	if l := p.last.Load(); now-l < 100 && int(d) < p.total {
		return
	}
	p.last.Store(now)
	const width = 30
	fill := int(d) * width / max(1, p.total)
	fmt.Fprintf(p.w, "\r%-8s [%s%s] %3d%% %d/%d", p.label, strings.Repeat("#", fill), strings.Repeat(".", width-fill), int(d)*100/max(1, p.total), d, p.total)
}

func (p *progress) finish() {
	if p.on {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 60))
	}
}

// score runs fn over every batch with f.workers goroutines and returns
// the number of correct top-1 predictions.
func score(b *batches, f *evalFlags, stderr io.Writer, label string, fn func(*ir.Tensor) (*ir.Tensor, error)) (int, error) {
	pr := newProgress(stderr, f.progress, label, b.set.Len())
	defer pr.finish()
	var next atomic.Int64
	var correct atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < f.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.count() {
					return
				}
				in, labels := b.tensor(i)
				out, err := fn(in)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				pred := argmaxRows(out, b.batch)
				c := 0
				for j, l := range labels {
					if pred[j] == l {
						c++
					}
				}
				correct.Add(int64(c))
				pr.add(len(labels))
			}
		}()
	}
	wg.Wait()
	return int(correct.Load()), firstErr
}

// addQuantFlags registers the quantization flags eval shares with
// `infer --quantized` (ratios, split policy, calibration, hardware) and the
// dataset flags that --data and --calib use.
func addQuantFlags(fs *flag.FlagSet) *evalFlags {
	f := &evalFlags{data: dataset.AddFlags(fs)}
	fs.StringVar(&f.calib, "calib", "", "Calibration data set (same format and preprocessing flags as --data); default: data-free calibration")
	fs.IntVar(&f.calibLimit, "calib-limit", 256, "Use the first `N` images of --calib")
	fs.StringVar(&f.calibMethod, "calib-method", "mse", "Activation clipping: mse or percentile")
	fs.Float64Var(&f.ratio, "ratio", 0.5, "Fraction `R` of each split layer's output channels on the INT4 path")
	fs.StringVar(&f.ratios, "ratios", "", "JSON `FILE` of per-layer ratios keyed by node name (others use --ratio)")
	fs.BoolVar(&f.keepFirst, "keep-first", true, "Keep the first conv/FC layer unsplit at INT8")
	fs.BoolVar(&f.keepLast, "keep-last", true, "Keep the last conv/FC layer (the classifier) unsplit at INT8")
	fs.IntVar(&f.granularity, "granularity", 1, "Round each layer's INT4 channel count to a multiple of `G`")
	fs.StringVar(&f.hwFile, "hw", "", "Hardware description `FILE` (array rows, ADC bits; default: the built-in dualpim-28nm)")
	fs.BoolVar(&f.idealADC, "ideal-adc", false, "Treat both pools' ADCs as exact (quantization error only)")
	fs.BoolVar(&f.noFit, "no-fit", false, "Use TWN's α·β for the TB path instead of the least-squares fit")
	fs.BoolVar(&f.noBC, "no-bias-correction", false, "Disable bias correction")
	fs.IntVar(&f.synthetic, "synthetic", 32, "Synthetic inputs for data-free calibration")
	fs.IntVar(&f.fitSamples, "fit-samples", 256, "Calibration images used for the least-squares fits and bias correction (0: none)")
	return f
}

// check validates the quantization flags; it returns a usage message or "".
func (f *evalFlags) check() string {
	switch {
	case !(f.ratio >= 0 && f.ratio <= 1):
		return fmt.Sprintf("--ratio %v outside [0, 1]", f.ratio)
	case f.calibMethod != "mse" && f.calibMethod != "percentile":
		return fmt.Sprintf("--calib-method must be mse or percentile, not %q", f.calibMethod)
	case f.calibLimit <= 0:
		return "--calib-limit must be positive"
	case f.granularity < 0 || f.fitSamples < 0 || f.synthetic <= 0:
		return "--granularity, --fit-samples and --synthetic must not be negative"
	}
	return ""
}

// hardware returns the description the flags select.
func (f *evalFlags) hardware() (*hw.Hardware, error) {
	h := hw.Default()
	if f.hwFile != "" {
		var err error
		if h, err = hw.Load(f.hwFile); err != nil {
			return nil, err
		}
	}
	if f.idealADC {
		c := *h
		c.SRAM.ADCIdeal, c.EDRAM.ADCIdeal = true, true
		h = &c
	}
	return h, nil
}

// layerRatios returns --ratio, overridden per layer by --ratios.
func (f *evalFlags) layerRatios(m *ir.Module) (dualnet.Ratios, error) {
	if f.ratios == "" {
		return dualnet.Uniform(f.ratio), nil
	}
	r, err := dualnet.ParseRatios(f.ratios, m)
	if err != nil {
		return r, err
	}
	r.Default = f.ratio
	return r, nil
}

// calibrate calibrates the float module m from --calib (its first
// --calib-limit images, in batches of the model's batch size) or, without
// --calib, data-free. warn prefixes warnings.
func (f *evalFlags) calibrate(m *ir.Module, warn string, stderr io.Writer) (*dualnet.Calibration, evalCalib, error) {
	// FitSamples counts model inputs; a batch-10 model takes 10 images each.
	fit := f.fitSamples
	if _, batch, err := modelSpec(m); err == nil && batch > 1 && fit > 0 {
		fit = max(1, fit/batch)
	}
	co := dualnet.CalibOptions{Method: f.calibMethod, Workers: f.workers, Synthetic: f.synthetic, FitSamples: fit,
		Warn: func(s string) { fmt.Fprintf(stderr, "%s: warning: %s\n", warn, s) }}
	if f.fitSamples == 0 {
		co.FitSamples = -1
	}
	if f.calib == "" {
		cal, err := dualnet.DataFree(m, co)
		if err != nil {
			return nil, evalCalib{}, err
		}
		return cal, evalCalib{Source: cal.Source, Method: cal.Method}, nil
	}
	spec, batch, err := modelSpec(m)
	if err != nil {
		return nil, evalCalib{}, err
	}
	o, err := f.data.Options(spec)
	if err != nil {
		return nil, evalCalib{}, err
	}
	o.Offset, o.Limit, o.ReadTensor = 0, f.calibLimit, readTensorProto
	if o.LabelsPath != "" && f.calib != f.data.Data {
		o.LabelsPath = ""
	}
	// Image folders and tar files are sorted by class: their first images
	// are one class. There the calibration images are a fixed stride
	// through the whole set instead, one class-balanced slice.
	f0, err := dataset.Open(f.calib, dataset.Options{Format: o.Format, Spec: o.Spec, Limit: 1, ReadTensor: readTensorProto, LabelsPath: o.LabelsPath})
	if err != nil {
		return nil, evalCalib{}, fmt.Errorf("--calib: %w", err)
	}
	strided := f0.Format() == dataset.FormatFolder || f0.Format() == dataset.FormatTar
	if strided {
		o.Limit = 0
	}
	cs, err := dataset.Open(f.calib, o)
	if err != nil {
		return nil, evalCalib{}, fmt.Errorf("--calib: %w", err)
	}
	if strided && cs.Len() > f.calibLimit {
		if cs, err = cs.Strided(0, cs.Len()/f.calibLimit); err != nil {
			return nil, evalCalib{}, err
		}
		if cs, err = cs.Subset(0, min(cs.Len(), f.calibLimit)); err != nil {
			return nil, evalCalib{}, err
		}
	}
	cb := &batches{set: cs, batch: batch, shape: append([]int64{}, m.Graph.Inputs[0].Type.Shape...)}
	samples := make([]*ir.Tensor, cb.count())
	for i := range samples {
		samples[i], _ = cb.tensor(i)
	}
	cal, err := dualnet.Calibrate(m, samples, co)
	if err != nil {
		return nil, evalCalib{}, err
	}
	return cal, evalCalib{Source: cal.Source, Data: f.calib, Images: cs.Len(), Method: cal.Method}, nil
}

// quantize loads the model afresh and runs dual-split and quantize with
// the given ratios and calibration.
func (f *evalFlags) quantize(path string, r dualnet.Ratios, cal *dualnet.Calibration) (*ir.Module, error) {
	q, err := loadEvalModel(path)
	if err != nil {
		return nil, err
	}
	so := dualnet.SplitOptions{KeepFirst: f.keepFirst, KeepLast: f.keepLast, Granularity: f.granularity}
	if err := dualnet.Split(q, r, so); err != nil {
		return nil, err
	}
	if err := dualnet.Quantize(q, cal, dualnet.QuantOptions{NoFit: f.noFit, NoBiasCorrection: f.noBC}); err != nil {
		return nil, err
	}
	if err := ir.Verify(q); err != nil {
		return nil, fmt.Errorf("internal error: quantized IR invalid: %w", err)
	}
	return q, nil
}

// quantizedModel is what `pimc infer --quantized` needs: the model loaded,
// calibrated, split at --ratio/--ratios and quantized, and the hardware
// description whose ADCs the executor models. Warnings go to stderr with
// the prefix warn.
func quantizedModel(path string, f *evalFlags, warn string, stderr io.Writer) (*ir.Module, *hw.Hardware, error) {
	h, err := f.hardware()
	if err != nil {
		return nil, nil, err
	}
	m, err := loadEvalModel(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := f.layerRatios(m)
	if err != nil {
		return nil, nil, err
	}
	cal, _, err := f.calibrate(m, warn, stderr)
	if err != nil {
		return nil, nil, err
	}
	q, err := f.quantize(path, r, cal)
	return q, h, err
}

func evaluate(path string, f *evalFlags, stderr io.Writer) (*evalResult, error) {
	h, err := f.hardware()
	if err != nil {
		return nil, err
	}
	m, err := loadEvalModel(path)
	if err != nil {
		return nil, err
	}
	spec, batch, err := modelSpec(m)
	if err != nil {
		return nil, err
	}
	set, err := f.data.Open(spec, readTensorProto)
	if err != nil {
		return nil, err
	}
	for i := 0; i < set.Len(); i++ {
		if set.Label(i) < 0 {
			return nil, fmt.Errorf("%s: item %d (%s) has no label", f.data.Data, i, set.Item(i))
		}
	}
	eb := &batches{set: set, batch: batch, shape: append([]int64{}, m.Graph.Inputs[0].Type.Shape...)}
	ratios, err := f.layerRatios(m)
	if err != nil {
		return nil, err
	}
	res := &evalResult{Model: m.Name, Data: f.data.Data, Images: set.Len(), Ratio: f.ratio, RatiosFile: f.ratios,
		HW: h.Name, Seconds: map[string]float64{}, Correct: map[string]int{}}
	sram, edram := dualnet.ADCs(h)
	res.ADC = map[string]string{"sram": adcString(sram), "edram": adcString(edram)}

	t0 := time.Now()
	cal, ci, err := f.calibrate(m, "pimc eval", stderr)
	if err != nil {
		return nil, err
	}
	res.Calib = ci
	res.Seconds["calibrate"] = time.Since(t0).Seconds()

	if !f.skipBaselines {
		t0 = time.Now()
		c, err := score(eb, f, stderr, "fp32", func(in *ir.Tensor) (*ir.Tensor, error) {
			out, err := interp.Run(m, []*ir.Tensor{in})
			if err != nil {
				return nil, err
			}
			return out[0], nil
		})
		if err != nil {
			return nil, err
		}
		res.Seconds["fp32"] = time.Since(t0).Seconds()
		res.Correct["fp32"] = c
		res.FP32 = frac(c, set.Len())
	}
	variants := []struct {
		name   string
		ratios dualnet.Ratios
	}{{"int4", dualnet.Uniform(1)}, {"tb", dualnet.Uniform(0)}, {"dual", ratios}}
	if f.skipBaselines {
		variants = variants[2:]
	}
	for _, v := range variants {
		t0 = time.Now()
		q, err := f.quantize(path, v.ratios, cal)
		if err != nil {
			return nil, err
		}
		ex, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: h, Workers: 1})
		if err != nil {
			return nil, err
		}
		c, err := score(eb, f, stderr, v.name, func(in *ir.Tensor) (*ir.Tensor, error) {
			out, err := ex.Run([]*ir.Tensor{in})
			if err != nil {
				return nil, err
			}
			return out[0], nil
		})
		if err != nil {
			return nil, err
		}
		res.Seconds[v.name] = time.Since(t0).Seconds()
		res.Correct[v.name] = c
		switch v.name {
		case "int4":
			res.INT4 = frac(c, set.Len())
		case "tb":
			res.TB = frac(c, set.Len())
		case "dual":
			res.Dual = float64(c) / float64(set.Len())
			res.Layers = dualnet.Report(q)
		}
	}
	return res, nil
}

func frac(c, n int) *float64 {
	v := float64(c) / float64(n)
	return &v
}

func adcString(a dualnet.ADC) string {
	if a.Exact() {
		return fmt.Sprintf("exact (%d rows)", a.Rows)
	}
	return fmt.Sprintf("%d-bit, %d rows", a.Bits, a.Rows)
}
