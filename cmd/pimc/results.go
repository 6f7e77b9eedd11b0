package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"pimc/cost"
	"pimc/dualnet"
	"pimc/interp"
	"pimc/ir"
)

const resultsUsage = "results [--out FILE] [--shared DIR] [--quick] [--models LIST] [--population P] [--generations G] [--search-images N] [--report-images N] [--seed S] [--max-drop PTS] [--hw FILE] [--alloc OBJ] [--work DIR [--resume]]"

// resultsModel is one row of docs/results.md: a real model of
// ../shared/data (MANIFEST.md) and how it is fed (docs/accuracy.md).
type resultsModel struct {
	name    string // file stem, also the row's name
	group   string // folder under models/ and datasets/ (testdata/data)
	dataset string // for the table
	preset  string
	file    string // test set file in datasets/<group>/
	quick   string // its slice in testdata/data/<group>/
	// calib is a separate calibration file in the same folder ("": the
	// first --calib-limit images of the test set itself). reserve is the
	// number of positions (evalOrder) kept out of both the report and the
	// search slices because they hold the calibration images or scenes.
	calib   string
	reserve int
}

// resultsModels are the seven models of ../shared/data/MANIFEST.md.
// The CIFAR-10 calibration file holds the first 100 test images, at most
// 16 of one class, i.e. at class-interleaved positions below 160 of the
// JPEG set: 200 positions are reserved. The MNIST-like sets calibrate on
// their own first images, which are reserved.
var resultsModels = []resultsModel{
	{"mnist-8_onnxzoo_cntk", "mnist", "MNIST", "mnist-raw", "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "", 0},
	{"lenet5_ccoltong1215_b10", "mnist", "MNIST", "mnist", "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "", 0},
	{"lenet5_bn1d_ccoltong1215_b10", "mnist", "MNIST", "mnist-01", "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "", 0},
	{"cnn3_edwin19", "fashion_mnist", "Fashion-MNIST", "fashion-mnist", "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "", 0},
	{"resnet20_bnfolded_sclblonnx", "cifar10", "CIFAR-10 JPEG", "cifar10", "cifar10_test_jpeg_q75_yoongikim.tar.gz", "cifar10_test_jpeg_q75_yoongikim_first50.tar.gz", "cifar10_test_first100_lossless_eran.csv", 200},
	{"resnet20_bn_amandashi95", "cifar10", "CIFAR-10 JPEG", "cifar10", "cifar10_test_jpeg_q75_yoongikim.tar.gz", "cifar10_test_jpeg_q75_yoongikim_first50.tar.gz", "cifar10_test_first100_lossless_eran.csv", 200},
	{"squeezenet_nhwc_emclab", "cifar10", "CIFAR-10 JPEG", "cifar10-01", "cifar10_test_jpeg_q75_yoongikim.tar.gz", "cifar10_test_jpeg_q75_yoongikim_first50.tar.gz", "cifar10_test_first100_lossless_eran.csv", 200},
}

type resultsFlags struct {
	out, shared, work, hwFile string
	testdata                  string
	quick, resume             bool
	models                    listFlag
	population, generations   int
	searchImages, reportImgs  int
	calibLimit                int
	seed                      uint64
	maxDrop                   float64
	workers                   int
	alloc                     *allocFlag
	args                      []string // as given, for the doc
}

// runResults regenerates docs/results.md: for every model, `pimc search`,
// then `pimc compile --ratios best.json` for energy, memory and latency,
// then top-1 on a report slice the search never saw.
func runResults(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("results", resultsUsage, stderr)
	r := &resultsFlags{args: args}
	fs.StringVar(&r.out, "out", "docs/results.md", "Markdown `FILE` to write")
	fs.StringVar(&r.shared, "shared", "../shared", "`DIR` holding data/MANIFEST.md and the full test sets; testdata's slices are used when it is missing")
	fs.StringVar(&r.testdata, "testdata", "testdata", "The repository's testdata `DIR` (models/ and data/ slices)")
	fs.BoolVar(&r.quick, "quick", false, "Use testdata's slices and small sizes (minutes, not hours); without --shared's data these are the defaults")
	fs.Var(&r.models, "models", "Comma-separated model names (default: all seven)")
	fs.IntVar(&r.population, "population", 0, "Search population (default 16; --quick 6)")
	fs.IntVar(&r.generations, "generations", -1, "Search generations (default 10; --quick 2)")
	fs.IntVar(&r.searchImages, "search-images", 0, "Images the search measures accuracy on (default 500; --quick 100)")
	fs.IntVar(&r.reportImgs, "report-images", 0, "Images of the report slice (default 1000; --quick 100)")
	fs.IntVar(&r.calibLimit, "calib-limit", 0, "Calibration images of MNIST-like sets, taken from their start and reserved (default 256; --quick 100)")
	fs.Uint64Var(&r.seed, "seed", 1, "Search seed")
	fs.Float64Var(&r.maxDrop, "max-drop", 1, "Search's --max-drop (points below INT4-only on the search slice)")
	fs.StringVar(&r.hwFile, "hw", "", "Hardware description `FILE` (default: the built-in one)")
	r.alloc = addAllocFlag(fs)
	fs.StringVar(&r.work, "work", "", "Keep each model's search and compile outputs under `DIR` (default: a temporary folder, removed)")
	fs.BoolVar(&r.resume, "resume", false, "Continue the searches from their checkpoints in --work (same sizes; only while the quantizer and cost model are unchanged)")
	fs.IntVar(&r.workers, "workers", 0, "Parallel candidates / images (default: the number of CPUs); never changes results")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseFailed(err, stderr, "results")
	}
	if len(pos) != 0 {
		return usageError(stderr, "results", "unexpected arguments %q", pos)
	}
	if r.resume && r.work == "" {
		return usageError(stderr, "results", "--resume needs --work DIR")
	}
	// A clone without ../shared has only testdata's 500-image slices: the
	// small sizes are the ones that fit.
	small := r.quick
	if _, err := os.Stat(filepath.Join(r.shared, "data", "MANIFEST.md")); err != nil {
		small = true
	}
	def := func(v *int, full, quick int) {
		if *v <= 0 {
			*v = full
			if small {
				*v = quick
			}
		}
	}
	def(&r.population, 16, 6)
	def(&r.searchImages, 500, 100)
	def(&r.reportImgs, 1000, 100)
	def(&r.calibLimit, 256, 100)
	if r.generations < 0 {
		r.generations = 10
		if small {
			r.generations = 2
		}
	}
	if r.workers <= 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	known := map[string]bool{}
	for _, m := range resultsModels {
		known[m.name] = true
	}
	for _, n := range r.models {
		if !known[n] {
			return usageError(stderr, "results", "unknown model %q", n)
		}
	}
	if err := r.run(stdout, stderr); err != nil {
		return fail(stderr, err)
	}
	return 0
}

// resultsRow is one model's measurements.
type resultsRow struct {
	m             resultsModel
	images        int // report slice
	searchImages  int
	layers        int
	evaluations   int
	acc           map[string]float64 // fp32, int4, tb, dual on the report slice
	searchDrop    float64            // best's drop on the search slice
	rep           *cost.ReportFile
	ratios        map[string]float64
	layerNames    []string // split layers, graph order
	search, comp  []string // the equivalent commands
	reportStart   int
	seconds       float64
	searchSeconds float64
}

func (r *resultsFlags) run(stdout, stderr io.Writer) error {
	t0 := time.Now()
	root, dataRoot := filepath.Join(r.testdata, "models"), filepath.Join(r.testdata, "data")
	source := "testdata slices (a clone alone)"
	if !r.quick {
		if _, err := os.Stat(filepath.Join(r.shared, "data", "MANIFEST.md")); err == nil {
			root, dataRoot = filepath.Join(r.shared, "data", "models"), filepath.Join(r.shared, "data", "datasets")
			source = "full test sets in " + filepath.Join(r.shared, "data") + " (MANIFEST.md)"
		} else {
			fmt.Fprintf(stderr, "pimc results: %s/data/MANIFEST.md not found; using testdata's slices\n", r.shared)
		}
	}
	full := root != filepath.Join(r.testdata, "models")
	work := r.work
	if work == "" {
		d, err := os.MkdirTemp("", "pimc-results-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	qf := &evalFlags{hwFile: r.hwFile}
	h, err := qf.hardware()
	if err != nil {
		return err
	}
	fp, err := h.Fingerprint()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, n := range r.models {
		want[n] = true
	}
	var rows []*resultsRow
	for _, m := range resultsModels {
		if len(want) > 0 && !want[m.name] {
			continue
		}
		file := m.quick
		if full {
			file = m.file
		}
		row, err := r.model(m, filepath.Join(root, m.group, m.name+".onnx"), filepath.Join(dataRoot, m.group, file),
			filepath.Join(dataRoot, m.group, m.calib), filepath.Join(work, m.name), stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		// The commands in the doc name the work folder WORK.
		for _, c := range [][]string{row.search, row.comp} {
			for i, a := range c {
				c[i] = strings.Replace(a, work, "WORK", 1)
			}
		}
		rows = append(rows, row)
	}
	var b bytes.Buffer
	r.write(&b, rows, source, h.Name, hex.EncodeToString(fp[:]))
	if err := os.MkdirAll(filepath.Dir(r.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(r.out, b.Bytes(), 0o644); err != nil {
		return err
	}
	for _, row := range rows {
		fmt.Fprintf(stdout, "%-30s search %6.1fs  total %6.1fs  DualNet %.2f%%  saved vs INT4-only: %s\n", row.m.name, row.searchSeconds, row.seconds,
			100*row.acc["dual"], headline(row.rep))
	}
	fmt.Fprintf(stdout, "wrote %s (%.1fs)\n", r.out, time.Since(t0).Seconds())
	return nil
}

func headline(rf *cost.ReportFile) string {
	if rf == nil || rf.Comparison == nil || len(rf.Comparison.Baselines) == 0 {
		return "-"
	}
	return rf.Comparison.Baselines[0].Headline
}

// model runs search, compile and the report evaluation for one model.
func (r *resultsFlags) model(m resultsModel, model, data, calib, dir string, stderr io.Writer) (*resultsRow, error) {
	t0 := time.Now()
	reserve, calibLimit := m.reserve, 100
	common := []string{"--preset", m.preset}
	if m.calib == "" {
		calib, calibLimit, reserve = data, r.calibLimit, r.calibLimit
	}
	common = append(common, "--calib", calib, "--calib-limit", strconv.Itoa(calibLimit))
	if r.hwFile != "" {
		common = append(common, "--hw", r.hwFile)
	}
	// Passed explicitly to search and compile so that both cost the same
	// mapping and the file names the objective it was made with.
	alloc := []string{"--alloc", string(r.alloc.objective())}
	row := &resultsRow{m: m, reportStart: reserve}
	sdir := filepath.Join(dir, "search")
	row.search = append(append(append([]string{"--data", data}, common...), alloc...),
		"--report-limit", strconv.Itoa(reserve+r.reportImgs), "--limit", strconv.Itoa(r.searchImages),
		"--population", strconv.Itoa(r.population), "--generations", strconv.Itoa(r.generations),
		"--seed", strconv.FormatUint(r.seed, 10), "--max-drop", strconv.FormatFloat(r.maxDrop, 'g', -1, 64),
		"-o", sdir, model)
	fmt.Fprintf(stderr, "pimc results: %s: search\n", m.name)
	var out, errb bytes.Buffer
	args := append(append([]string{}, row.search...), "--progress", "off", "--workers", strconv.Itoa(r.workers))
	if r.resume {
		// The search refuses a checkpoint of other sizes, flags or data, and
		// resuming never changes its result; but its cached evaluations are
		// stale once the quantizer or cost model changes, hence opt-in.
		args = append(args, "--resume")
	}
	if code := runSearch(args, &out, &errb); code != 0 {
		return nil, fmt.Errorf("pimc search %s: exit %d\n%s", strings.Join(row.search, " "), code, errb.String())
	}
	row.searchSeconds = time.Since(t0).Seconds()
	var pf paretoFile
	if err := readJSON(filepath.Join(sdir, "pareto.json"), &pf); err != nil {
		return nil, err
	}
	row.layers, row.evaluations, row.searchImages = len(pf.Layers), pf.Evaluations, pf.Images
	row.ratios, row.searchDrop, row.layerNames = pf.Best.Ratios, pf.Best.DropPts, pf.Layers
	best := filepath.Join(sdir, "best.json")

	fmt.Fprintf(stderr, "pimc results: %s: compile\n", m.name)
	row.comp = append(append(append([]string{"--ratios", best}, common...), alloc...), "--json", "-o", filepath.Join(dir, "compile"), model)
	out.Reset()
	errb.Reset()
	if code := runCompile(row.comp, &out, &errb); code != 0 {
		return nil, fmt.Errorf("pimc compile %s: exit %d\n%s", strings.Join(row.comp, " "), code, errb.String())
	}
	row.rep = &cost.ReportFile{}
	if err := json.Unmarshal(out.Bytes(), row.rep); err != nil {
		return nil, fmt.Errorf("compile --json: %w", err)
	}
	if row.rep.Comparison == nil || len(row.rep.Comparison.Baselines) < 2 {
		return nil, fmt.Errorf("compile --json has no INT4-only/TB-only comparison")
	}

	fmt.Fprintf(stderr, "pimc results: %s: report slice\n", m.name)
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := addQuantFlags(fs)
	if err := fs.Parse(append(append([]string{"--data", data, "--ratios", best}, common...), "--ratio", "1")); err != nil {
		return nil, err
	}
	f.workers, f.progress = r.workers, "off"
	var err error
	if row.acc, row.images, err = reportAccuracy(model, f, reserve, r.reportImgs, stderr); err != nil {
		return nil, err
	}
	row.seconds = time.Since(t0).Seconds()
	return row, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// reportAccuracy is `pimc eval` (FP32, INT4-only, TB-only and --ratios)
// on n images from position start of evalOrder.
func reportAccuracy(path string, f *evalFlags, start, n int, stderr io.Writer) (map[string]float64, int, error) {
	h, err := f.hardware()
	if err != nil {
		return nil, 0, err
	}
	m, err := loadEvalModel(path)
	if err != nil {
		return nil, 0, err
	}
	spec, batch, err := modelSpec(m)
	if err != nil {
		return nil, 0, err
	}
	set, idx, err := openSlice(f.data, spec, start, n)
	if err != nil {
		return nil, 0, err
	}
	inputs, labels := sliceInputs(set, idx, batch, m.Graph.Inputs[0].Type.Shape)
	cal, _, err := f.calibrate(m, "pimc results", stderr)
	if err != nil {
		return nil, 0, err
	}
	ratios, err := f.layerRatios(m)
	if err != nil {
		return nil, 0, err
	}
	acc := map[string]float64{}
	c, err := countCorrect(inputs, labels, batch, f.workers, func(in *ir.Tensor) (*ir.Tensor, error) {
		out, err := interp.Run(m, []*ir.Tensor{in})
		if err != nil {
			return nil, err
		}
		return out[0], nil
	})
	if err != nil {
		return nil, 0, err
	}
	acc["fp32"] = float64(c) / float64(len(idx))
	for _, v := range []struct {
		name string
		r    dualnet.Ratios
	}{{"int4", dualnet.Uniform(1)}, {"tb", dualnet.Uniform(0)}, {"dual", ratios}} {
		q, err := f.quantize(path, v.r, cal)
		if err != nil {
			return nil, 0, err
		}
		ex, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: h, Workers: 1})
		if err != nil {
			return nil, 0, err
		}
		c, err := countCorrect(inputs, labels, batch, f.workers, func(in *ir.Tensor) (*ir.Tensor, error) {
			out, err := ex.Run([]*ir.Tensor{in})
			if err != nil {
				return nil, err
			}
			return out[0], nil
		})
		if err != nil {
			return nil, 0, err
		}
		acc[v.name] = float64(c) / float64(len(idx))
	}
	return acc, len(idx), nil
}

// countCorrect runs fn over the inputs with workers goroutines and counts
// top-1 hits; the count does not depend on the order of completion.
func countCorrect(inputs []*ir.Tensor, labels [][]int, batch, workers int, fn func(*ir.Tensor) (*ir.Tensor, error)) (int, error) {
	hits := make([]int, len(inputs))
	errs := make([]error, len(inputs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < max(1, workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out, err := fn(inputs[i])
				if err != nil {
					errs[i] = err
					continue
				}
				for j, p := range argmaxRows(out, batch)[:len(labels[i])] {
					if p == labels[i][j] {
						hits[i]++
					}
				}
			}
		}()
	}
	for i := range inputs {
		next <- i
	}
	close(next)
	wg.Wait()
	total := 0
	for i := range hits {
		if errs[i] != nil {
			return 0, errs[i]
		}
		total += hits[i]
	}
	return total, nil
}

func (r *resultsFlags) write(w io.Writer, rows []*resultsRow, source, hwName, fp string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	cmd := "pimc results"
	if len(r.args) > 0 {
		cmd += " " + strings.Join(r.args, " ")
	}
	p("# Results: searched DualNet against INT4-only and TB-only\n\n")
	p("This file is generated; do not edit it. Regenerate it with\n\n```\n%s\n```\n\n", cmd)
	p("(from the repository root; `go run ./cmd/pimc results ...` works too). How the command works, and\n")
	p("how to regenerate at other sizes, is in [docs/search.md](search.md#the-results-table-pimc-results).\n\n")
	p("## Setup\n\n")
	p("- **Data**: %s.\n", source)
	p("- **Hardware**: `%s`, fingerprint (SHA-256 of its canonical JSON) `%s`.\n", hwName, fp)
	p("- **Search** (`pimc search`, NSGA-II with constrained domination): population %d, %d generations,\n", r.population, r.generations)
	p("  seed %d, ratio grid 1/8, objectives accuracy and energy, `--max-drop %g` (points of top-1 below\n", r.seed, r.maxDrop)
	p("  INT4-only, on the search slice). `best.json` is the least-energy candidate within that budget.\n")
	p("- **Cost** (energy, memory, latency): `pimc compile --ratios best.json`, whose report compares the\n")
	p("  searched ratios with INT4-only (r = 1) and TB-only (r = 0) compiled from the same calibration.\n")
	p("  Both ran with the array allocation objective `--alloc %s` (docs/mapping.md, \"Objectives\").\n", r.alloc.objective())
	p("- **Accuracy**: top-1 on a report slice that neither calibration nor search has seen, measured as\n")
	p("  `pimc eval` does (quantized reference executor, the hardware's ADC model). Positions count in\n")
	p("  file order for MNIST and Fashion-MNIST, and class-interleaved for the CIFAR-10 JPEG set (its tar is\n")
	p("  sorted by class). Per data set: first the calibration images (MNIST-like: the first %d,\n", r.calibLimit)
	p("  `--calib-limit`; CIFAR-10: 200 positions covering the scenes of the 100 lossless calibration images),\n")
	p("  then the report slice, then the search slice.\n\n")

	p("## Accuracy (top-1 %%, report slice)\n\n")
	p("| model | dataset | report images | search images | split layers | FP32 | INT4-only | TB-only | searched DualNet | DualNet − INT4 |\n")
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var dropSum float64
	for _, row := range rows {
		a := row.acc
		d := 100 * (a["dual"] - a["int4"])
		dropSum += d
		p("| %s | %s | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %+.2f |\n", row.m.name, row.m.dataset, row.images, row.searchImages, row.layers,
			100*a["fp32"], 100*a["int4"], 100*a["tb"], 100*a["dual"], d)
	}
	if len(rows) > 0 {
		p("| **average** | | | | | | | | | %+.2f |\n", dropSum/float64(len(rows)))
	}
	p("\n## Energy, memory, latency and savings against INT4-only\n\n")
	p("Energy per inference in nJ, weight memory in kbit (ternary weights stored in 2 bits), latency in clock\n")
	p("cycles; each cell is DualNet / INT4-only / TB-only. Savings are 1 − DualNet/INT4-only, the format of the\n")
	p("paper's headline (29.0%% energy, 49.5%% memory, 47.3%% latency saved on average).\n\n")
	p("| model | energy (nJ) | memory (kbit) | latency (clk) | energy saved | memory saved | latency saved |\n")
	p("|---|--:|--:|--:|--:|--:|--:|\n")
	var es, ms, ls float64
	for _, row := range rows {
		c := row.rep.Comparison
		i4, tb := c.Baselines[0], c.Baselines[1]
		es, ms, ls = es+i4.EnergySaved, ms+i4.MemorySaved, ls+i4.LatencySaved
		p("| %s | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f | %d / %d / %d | %.1f%% | %.1f%% | %.1f%% |\n", row.m.name,
			c.Chosen.EnergyFJ/1e6, i4.Metrics.EnergyFJ/1e6, tb.Metrics.EnergyFJ/1e6,
			float64(c.Chosen.WeightBits)/1e3, float64(i4.Metrics.WeightBits)/1e3, float64(tb.Metrics.WeightBits)/1e3,
			c.Chosen.LatencyClk, i4.Metrics.LatencyClk, tb.Metrics.LatencyClk,
			100*i4.EnergySaved, 100*i4.MemorySaved, 100*i4.LatencySaved)
	}
	if n := float64(len(rows)); n > 0 {
		p("| **average** | | | | **%.1f%%** | **%.1f%%** | **%.1f%%** |\n", 100*es/n, 100*ms/n, 100*ls/n)
	}
	p("\n## Searched ratios\n\n")
	p("r is the fraction of a layer's output channels on the INT4 path (`best.json`, graph order); the first\n")
	p("and last layers stay INT8 and are not listed. \"search drop\" is best's accuracy drop below INT4-only on\n")
	p("the search slice, which the budget bounds.\n\n")
	p("| model | candidates evaluated | search drop (pts) | ratios |\n|---|--:|--:|---|\n")
	for _, row := range rows {
		var parts []string
		for _, k := range row.layerNames {
			parts = append(parts, fmt.Sprintf("%s %g", k, row.ratios[k]))
		}
		p("| %s | %d | %+.2f | %s |\n", row.m.name, row.evaluations, row.searchDrop, strings.Join(parts, ", "))
	}
	p("\n## Commands per model\n\n")
	p("`pimc results` runs these in-process (WORK is its work folder, `--work`). The report-slice accuracy is\n")
	p("`pimc eval --ratios WORK/<model>/search/best.json` with the same calibration flags on the report slice;\n")
	p("for MNIST-like sets that is `--offset <position> --limit <images>`, and for CIFAR-10 the same positions in\n")
	p("class-interleaved order, which `pimc eval` does not offer.\n\n")
	for _, row := range rows {
		p("- `%s` (report slice: %d images from position %d):\n\n", row.m.name, row.images, row.reportStart)
		p("  ```\n  pimc search %s\n  pimc compile %s\n  ```\n\n", strings.Join(row.search, " "), strings.Join(row.comp, " "))
	}
	p("## Notes\n\n")
	p("- Energy, memory and latency come from pimc's analytical cost model of the hardware description above\n")
	p("  (`docs/cost.md`), not from silicon. Memory is weight memory; activations are 4-bit codes at any ratio.\n")
	p("- No model was retrained. The TB path is post-training ternary/binary quantization, which costs the deep\n")
	p("  CIFAR-10 networks most of their accuracy (`docs/accuracy.md`); the accuracy budget therefore keeps\n")
	p("  their searched ratios close to INT4-only, and their savings are small. The paper's networks are trained\n")
	p("  with the TB path in the loop.\n")
	p("- With %d report images, one image is %.2f points; differences below about a point are noise.\n", r.reportImgs, 100/float64(max(1, r.reportImgs)))
	p("  The budget is checked on the %d-image search slice (one image is %.2f points there), so best's drop\n", r.searchImages, 100/float64(max(1, r.searchImages)))
	worst, worstName := 0.0, ""
	lo, hi, lmin, lmax := 0, 0, 0, 0
	for i, row := range rows {
		if d := 100 * (row.acc["int4"] - row.acc["dual"]); d > worst {
			worst, worstName = d, row.m.name
		}
		if i == 0 {
			lo, lmin = row.evaluations, row.layers
		}
		lo, hi, lmin, lmax = min(lo, row.evaluations), max(hi, row.evaluations), min(lmin, row.layers), max(lmax, row.layers)
	}
	if worstName != "" {
		p("  on the report slice can exceed it: here by up to %.2f points (`%s`).\n", worst, worstName)
	} else {
		p("  on the report slice can exceed it (here it does not).\n")
	}
	p("- The searches are small: population %d and %d generations gave %d to %d distinct candidates per model,\n", r.population, r.generations, lo, hi)
	p("  on 9-level grids over %d to %d layers. Larger searches (the issue's size is population 32, 20\n", lmin, lmax)
	p("  generations, 1,000 images) explore far more of the grid; their cost is in docs/search.md, \"Speed\".\n")
	p("- CIFAR-10 accuracies are on the lossy JPEG copy (1–9 points below lossless pixels; MANIFEST.md).\n")
	p("- The search is deterministic for its seed; this file has no timings, so equal inputs give equal bytes.\n")
}
