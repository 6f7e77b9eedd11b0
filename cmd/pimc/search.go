package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"pimc/backend"
	"pimc/cost"
	"pimc/dataset"
	"pimc/dualnet"
	"pimc/hw"
	"pimc/ir"
	"pimc/pipeline"
	"pimc/search"
)

const searchUsage = "search --data DATA [--calib DATA] [--objectives accuracy,energy,latency,memory] [--max-drop PTS] [--max-arrays S,E] [--population P] [--generations G] [--seed S] [--hw FILE] [--resume] -o DIR MODEL.onnx"

// searchFlags are search's own flags; the data, calibration and hardware
// flags are eval's (addQuantFlags).
type searchFlags struct {
	q           *evalFlags
	alloc       *allocFlag // candidates' energy and latency are costed with this allocation
	out         string
	objectives  listFlag
	maxDrop     float64
	population  int
	generations int
	seed        uint64
	steps       int
	reportLimit int
	resume      bool
	maxArrays   string
}

// runSearch chooses one INT4/TB ratio per split layer by a multi-objective
// evolutionary search (NSGA-II) over accuracy, energy, latency and memory.
func runSearch(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("search", searchUsage, stderr)
	s := &searchFlags{q: addQuantFlags(fs)}
	s.alloc = addAllocFlag(fs)
	fs.StringVar(&s.out, "o", "pimc-search", "Output `DIR` (pareto.json, best.json, pareto.png, checkpoint.json)")
	fs.Var(&s.objectives, "objectives", "Comma-separated objectives among accuracy, energy, latency, memory (default accuracy,energy)")
	fs.Float64Var(&s.maxDrop, "max-drop", 1, "Largest accuracy drop in percentage `PTS` below INT4-only on the search slice (negative: no constraint)")
	fs.IntVar(&s.population, "population", 24, "Population size `P`")
	fs.IntVar(&s.generations, "generations", 20, "Generations `G` of offspring after the initial population")
	fs.Uint64Var(&s.seed, "seed", 1, "Random seed `S`; the search is deterministic for a given seed")
	fs.IntVar(&s.steps, "steps", 8, "Ratio grid: each layer's r is a multiple of 1/`N`")
	fs.IntVar(&s.reportLimit, "report-limit", 1000, "Never use the first `N` images of --data (they are the final report's); the search slice starts after them, plus --offset")
	fs.StringVar(&s.maxArrays, "max-arrays", "", "Array budget `S,E`: map every candidate on at most S SRAM-PIM and E eDRAM-PIM arrays of the chip (layers that do not fit stream, at a cost the objectives see); DIR/hw.json is the budgeted chip for pimc compile --hw")
	fs.BoolVar(&s.resume, "resume", false, "Continue from DIR/checkpoint.json if it exists")
	fs.IntVar(&s.q.workers, "workers", 0, "Candidates evaluated in parallel (default: the number of CPUs); never changes results")
	fs.StringVar(&s.q.progress, "progress", "auto", "Progress bar on stderr: auto (on a terminal), on or off")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseFailed(err, stderr, "search")
	}
	limitSet := false
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "limit" {
			limitSet = true
		}
	})
	if !limitSet {
		s.q.data.Limit = 500
	}
	if len(s.objectives) == 0 {
		s.objectives = listFlag{"accuracy", "energy"}
	}
	if msg := s.q.check(); msg != "" {
		return usageError(stderr, "search", "%s", msg)
	}
	switch {
	case len(pos) != 1:
		return usageError(stderr, "search", "want exactly one MODEL.onnx, got %d arguments", len(pos))
	case s.q.data.Data == "":
		return usageError(stderr, "search", "--data is required")
	case s.q.ratios != "":
		return usageError(stderr, "search", "--ratios is what search finds; it cannot be given")
	case s.population < 2 || s.generations < 0 || s.steps < 1:
		return usageError(stderr, "search", "--population must be at least 2, --generations not negative, --steps positive")
	case s.reportLimit < 0:
		return usageError(stderr, "search", "--report-limit must not be negative")
	case s.q.progress != "auto" && s.q.progress != "on" && s.q.progress != "off":
		return usageError(stderr, "search", "--progress must be auto, on or off")
	}
	seen := map[string]bool{}
	for _, o := range s.objectives {
		switch o {
		case "accuracy", "energy", "latency", "memory":
		default:
			return usageError(stderr, "search", "unknown objective %q (want accuracy, energy, latency or memory)", o)
		}
		if seen[o] {
			return usageError(stderr, "search", "objective %q given twice", o)
		}
		seen[o] = true
	}
	if s.q.workers <= 0 {
		s.q.workers = runtime.GOMAXPROCS(0)
	}
	if err := s.run(pos[0], stdout, stderr); err != nil {
		return fail(stderr, err)
	}
	return 0
}

// searchMetrics are one candidate's measurements.
type searchMetrics struct {
	Accuracy   float64 `json:"accuracy"`
	Correct    int     `json:"correct"`
	EnergyFJ   float64 `json:"energy_fj"`
	LatencyClk int64   `json:"latency_clk"`
	MemoryBits int64   `json:"memory_bits"`
}

// searchPoint is one candidate in pareto.json.
type searchPoint struct {
	Ratios map[string]float64 `json:"ratios"`
	searchMetrics
	DropPts  float64 `json:"drop_pts"`
	Feasible bool    `json:"feasible"`
}

type paretoFile struct {
	Schema      string        `json:"schema"`
	Model       string        `json:"model"`
	Data        string        `json:"data"`
	Offset      int           `json:"search_offset"`
	Images      int           `json:"search_images"`
	HW          string        `json:"hw"`
	Alloc       string        `json:"alloc"`
	Algorithm   string        `json:"algorithm"`
	Objectives  []string      `json:"objectives"`
	MaxDrop     float64       `json:"max_drop_pts"`
	Seed        uint64        `json:"seed"`
	Population  int           `json:"population"`
	Generations int           `json:"generations"`
	Steps       int           `json:"steps"`
	Layers      []string      `json:"layers"`
	Evaluations int           `json:"evaluations"`
	INT4Only    searchPoint   `json:"int4_only"`
	TBOnly      searchPoint   `json:"tb_only"`
	Best        *searchPoint  `json:"best"`
	Front       []searchPoint `json:"front"`
}

func (s *searchFlags) run(path string, stdout, stderr io.Writer) error {
	t0 := time.Now()
	f := s.q
	h, err := f.hardware()
	if err != nil {
		return err
	}
	if h, err = s.budget(h); err != nil {
		return err
	}
	m, err := pipeline.Load(path, pipeline.Options{})
	if err != nil {
		return err
	}
	spec, batch, err := modelSpec(m)
	if err != nil {
		return err
	}
	// The search slice: after the report's images, never overlapping them.
	set, idx, err := openSlice(f.data, spec, s.reportLimit+f.data.Offset, f.data.Limit)
	if err != nil {
		return err
	}
	f.data.Offset += s.reportLimit
	cal, _, err := f.calibrate(m, "pimc search", stderr)
	if err != nil {
		return fmt.Errorf("%s: calibrate: %w", path, err)
	}
	dualnet.SetCalibration(m, cal)
	so := dualnet.SplitOptions{KeepFirst: f.keepFirst, KeepLast: f.keepLast, Granularity: f.granularity}
	layers, err := splitLayers(m, so)
	if err != nil {
		return err
	}
	if len(layers) == 0 {
		return fmt.Errorf("%s: no layer is split (all are kept at INT8); nothing to search", path)
	}
	// Inputs are built once and shared by every candidate.
	inputs, labels := sliceInputs(set, idx, batch, m.Graph.Inputs[0].Type.Shape)
	ratiosOf := func(g []int) map[string]float64 {
		r := make(map[string]float64, len(layers))
		for i, l := range layers {
			r[l] = float64(g[i]) / float64(s.steps)
		}
		return r
	}
	// memo answers the baselines (and any repeat) without re-measuring;
	// search.NSGA2 has its own cache over the whole search.
	var memoMu sync.Mutex
	memo := map[string]searchMetrics{}
	measure := func(g []int) (searchMetrics, error) {
		k := search.Key(g)
		memoMu.Lock()
		mt, ok := memo[k]
		memoMu.Unlock()
		if ok {
			return mt, nil
		}
		mt, err := measureCandidate(m, h, s.alloc.backend(), so, f, dualnet.Ratios{Default: 1, PerLayer: ratiosOf(g)}, inputs, labels, batch, len(idx))
		if err != nil {
			return mt, err
		}
		memoMu.Lock()
		memo[k] = mt
		memoMu.Unlock()
		return mt, nil
	}
	uniform := func(k int) []int {
		g := make([]int, len(layers))
		for i := range g {
			g[i] = k
		}
		return g
	}
	fmt.Fprintf(stderr, "pimc search: %s: %d split layers, %d images from %d of %s, %d candidates per generation\n",
		m.Name, len(layers), len(idx), f.data.Offset, f.data.Data, s.population)
	// INT4-only is the constraint's reference and must come first; TB-only
	// (in every initial population) is measured beside it so that a second
	// worker does not idle. The memo hands it to the search.
	var wg sync.WaitGroup
	if f.workers > 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			measure(uniform(0)) // an error recurs, and is reported, in the search
		}()
	}
	int4, err := measure(uniform(s.steps))
	wg.Wait()
	if err != nil {
		return err
	}
	dropOf := func(acc float64) float64 { return 100 * (int4.Accuracy - acc) }
	problem := search.Problem{Genes: len(layers), Levels: s.steps + 1, Evaluate: func(g []int) (search.Eval, error) {
		mt, err := measure(g)
		if err != nil {
			return search.Eval{}, err
		}
		e := search.Eval{}
		for _, o := range s.objectives {
			switch o {
			case "accuracy":
				e.Objectives = append(e.Objectives, 1-mt.Accuracy)
			case "energy":
				e.Objectives = append(e.Objectives, mt.EnergyFJ)
			case "latency":
				e.Objectives = append(e.Objectives, float64(mt.LatencyClk))
			case "memory":
				e.Objectives = append(e.Objectives, float64(mt.MemoryBits))
			}
		}
		if s.maxDrop >= 0 {
			e.Violation = math.Max(0, dropOf(mt.Accuracy)-s.maxDrop)
		}
		e.Data, err = json.Marshal(mt)
		return e, err
	}}
	init := [][]int{uniform(s.steps), uniform(0)}
	for _, r := range []float64{0.5, 0.25, 0.75} {
		init = append(init, uniform(int(math.Round(r*float64(s.steps)))))
	}
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return err
	}
	if s.maxArrays != "" {
		// The budgeted chip, so that `pimc compile --hw DIR/hw.json
		// --ratios DIR/best.json` costs best.json as the search did.
		b, err := h.JSON()
		if err == nil {
			err = os.WriteFile(filepath.Join(s.out, "hw.json"), b, 0o644)
		}
		if err != nil {
			return err
		}
	}
	var pr *progress
	res, err := search.NSGA2(problem, search.Options{
		Population: s.population, Generations: s.generations, Seed: s.seed, Workers: f.workers,
		Initial: init, Tag: s.tag(m.Name, h.Name, f.data.Offset, len(idx)) + " order=" + orderName(set), Checkpoint: filepath.Join(s.out, "checkpoint.json"), Resume: s.resume,
		Progress: func(done, total int) {
			if pr == nil {
				pr = newProgress(stderr, f.progress, "search", total)
			}
			pr.add(1)
		}})
	if pr != nil {
		pr.finish()
	}
	if err != nil {
		return err
	}
	point := func(in search.Individual) (searchPoint, error) {
		var mt searchMetrics
		if err := json.Unmarshal(in.Eval.Data, &mt); err != nil {
			return searchPoint{}, fmt.Errorf("checkpoint data: %w", err)
		}
		d := dropOf(mt.Accuracy)
		return searchPoint{Ratios: ratiosOf(in.Genes), searchMetrics: mt, DropPts: d, Feasible: s.maxDrop < 0 || d <= s.maxDrop}, nil
	}
	var tb searchMetrics
	tbKey := search.Key(uniform(0))
	for _, in := range res.Archive { // TB-only is in the initial population
		if search.Key(in.Genes) == tbKey {
			if err := json.Unmarshal(in.Eval.Data, &tb); err != nil {
				return fmt.Errorf("checkpoint data: %w", err)
			}
		}
	}
	if tb == (searchMetrics{}) {
		if tb, err = measure(uniform(0)); err != nil {
			return err
		}
	}
	pf := &paretoFile{Schema: "pimc.search/1", Model: m.Name, Data: f.data.Data, Offset: f.data.Offset, Images: len(idx),
		HW: h.Name, Alloc: string(s.alloc.objective()), Algorithm: "NSGA-II (constrained domination)", Objectives: s.objectives, MaxDrop: s.maxDrop,
		Seed: s.seed, Population: s.population, Generations: res.Generation, Steps: s.steps, Layers: layers,
		Evaluations: res.Evaluations,
		INT4Only:    searchPoint{Ratios: ratiosOf(uniform(s.steps)), searchMetrics: int4, Feasible: true},
		TBOnly:      searchPoint{Ratios: ratiosOf(uniform(0)), searchMetrics: tb, DropPts: dropOf(tb.Accuracy), Feasible: s.maxDrop < 0 || dropOf(tb.Accuracy) <= s.maxDrop}}
	for _, in := range res.Front {
		p, err := point(in)
		if err != nil {
			return err
		}
		pf.Front = append(pf.Front, p)
	}
	sort.SliceStable(pf.Front, func(i, j int) bool { return pf.Front[i].EnergyFJ < pf.Front[j].EnergyFJ })
	// best: the least-energy feasible front member (else of everything
	// evaluated; INT4-only is always within the budget).
	var archive []searchPoint
	for _, in := range res.Archive {
		p, err := point(in)
		if err != nil {
			return err
		}
		archive = append(archive, p)
	}
	for _, cands := range [][]searchPoint{pf.Front, archive, {pf.INT4Only}} {
		for i := range cands {
			if cands[i].Feasible && (pf.Best == nil || cands[i].EnergyFJ < pf.Best.EnergyFJ) {
				b := cands[i]
				pf.Best = &b
			}
		}
		if pf.Best != nil {
			break
		}
	}
	if err := writeJSONFile(filepath.Join(s.out, "pareto.json"), pf); err != nil {
		return err
	}
	if err := writeJSONFile(filepath.Join(s.out, "best.json"), pf.Best.Ratios); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(s.out, "pareto.png"), func(w io.Writer) error { return drawPareto(w, pf, archive) }); err != nil {
		return err
	}
	printSearch(stdout, pf, res, s.out, time.Since(t0))
	return nil
}

// openSlice opens data and selects n images (0: all the rest) from position
// start of evalOrder. Image folders and tar files are sorted by class, so
// counting positions in file order would give one class per slice (the
// first 1,000 CIFAR-10 JPEGs are all airplanes); evalOrder interleaves them.
func openSlice(data *dataset.Flags, spec dataset.Spec, start, n int) (*dataset.Set, []int, error) {
	d := *data
	d.Offset, d.Limit = 0, 0
	set, err := d.Open(spec, readTensorProto)
	if err != nil {
		return nil, nil, err
	}
	order := evalOrder(set)
	if start >= len(order) {
		return nil, nil, fmt.Errorf("%s: no images from position %d (it has %d)", data.Data, start, len(order))
	}
	idx := order[start:]
	if n > 0 && n < len(idx) {
		idx = idx[:n]
	}
	for _, i := range idx {
		if set.Label(i) < 0 {
			return nil, nil, fmt.Errorf("%s: item %d (%s) has no label", data.Data, i, set.Item(i))
		}
	}
	return set, idx, nil
}

// evalOrder is the order in which search and results count positions in a
// data set: file order, except that class-sorted formats (image folders and
// tar files) are interleaved, the j-th image of every class (in label order)
// before the (j+1)-th of any, so that every run of positions is
// class-balanced.
func evalOrder(set *dataset.Set) []int {
	order := make([]int, set.Len())
	for i := range order {
		order[i] = i
	}
	if orderName(set) == "file" {
		return order
	}
	rank := make([]int, set.Len()) // position of each item within its class
	seen := map[int]int{}
	for i := range order {
		rank[i] = seen[set.Label(i)]
		seen[set.Label(i)]++
	}
	sort.SliceStable(order, func(a, b int) bool {
		ia, ib := order[a], order[b]
		if rank[ia] != rank[ib] {
			return rank[ia] < rank[ib]
		}
		return set.Label(ia) < set.Label(ib)
	})
	return order
}

// orderName names evalOrder's order for set, for the checkpoint tag: a
// position means other images in the two orders.
func orderName(set *dataset.Set) string {
	if f := set.Format(); f == dataset.FormatFolder || f == dataset.FormatTar {
		return "class-interleaved"
	}
	return "file"
}

// sliceInputs builds the model inputs for the items idx of set, batch
// images per tensor (the last batch is padded with its last image, whose
// extra rows are not scored), and their labels.
func sliceInputs(set *dataset.Set, idx []int, batch int, shape []int64) ([]*ir.Tensor, [][]int) {
	n := (len(idx) + batch - 1) / batch
	inputs, labels := make([]*ir.Tensor, n), make([][]int, n)
	for b := range inputs {
		data := make([]float32, 0, batch*set.Size())
		for j := 0; j < batch; j++ {
			k := min(b*batch+j, len(idx)-1)
			data = set.AppendImage(data, idx[k])
			if b*batch+j < len(idx) {
				labels[b] = append(labels[b], set.Label(idx[k]))
			}
		}
		inputs[b] = ir.FloatTensor(data, append([]int64{}, shape...)...)
	}
	return inputs, labels
}

// splitLayers lists the layers the split policy actually splits (not kept
// at INT8), in graph order.
func splitLayers(m *ir.Module, so dualnet.SplitOptions) ([]string, error) {
	c := m.Clone()
	if err := dualnet.Split(c, dualnet.Uniform(0.5), so); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, l := range dualnet.Layers(c) {
		names[l] = true
	}
	var out []string
	for _, n := range c.Graph.Nodes {
		if names[n.Name] && n.Precision != "int8" {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

// measureCandidate quantizes a copy of the calibrated module m at r, runs
// the quantized reference executor over the search slice and costs the
// mapped module.
func measureCandidate(m *ir.Module, h *hw.Hardware, bo backend.Options, so dualnet.SplitOptions, f *evalFlags, r dualnet.Ratios,
	inputs []*ir.Tensor, labels [][]int, batch, images int) (searchMetrics, error) {
	q := m.Clone()
	opts := dualnet.Options{Ratios: r, Split: so, Quant: dualnet.QuantOptions{NoFit: f.noFit, NoBiasCorrection: f.noBC}}
	if err := pipeline.Run(q, pipeline.Quantize(opts)[1:], pipeline.Options{}); err != nil {
		return searchMetrics{}, err
	}
	ex, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: h, Workers: 1})
	if err != nil {
		return searchMetrics{}, err
	}
	correct := 0
	for i, in := range inputs {
		out, err := ex.Run([]*ir.Tensor{in})
		if err != nil {
			return searchMetrics{}, err
		}
		for j, p := range argmaxRows(out[0], batch)[:len(labels[i])] {
			if p == labels[i][j] {
				correct++
			}
		}
	}
	rep, err := cost.Evaluate(q, h, cost.Options{Label: "search", Mapping: bo.Mapping()})
	if err != nil {
		return searchMetrics{}, err
	}
	return searchMetrics{Accuracy: float64(correct) / float64(images), Correct: correct,
		EnergyFJ: rep.Totals.Energy.Total, LatencyClk: rep.Totals.LatencyClk, MemoryBits: rep.Totals.Memory.WeightPackedBits}, nil
}

func writeJSONFile(path string, v any) error {
	return writeFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// drawPareto plots accuracy (y, %) against energy (x, nJ): every evaluated
// candidate in grey, the front in blue joined by a line, INT4-only a red
// square, TB-only a green square, the chosen best an orange disc, with
// labelled axes and a legend.
func drawPareto(w io.Writer, pf *paretoFile, archive []searchPoint) error {
	ser := func(name string, ps []searchPoint, c color.RGBA, size int, line, square bool) search.Series {
		s := search.Series{Name: name, Color: c, Size: size, Line: line, Square: square}
		for _, p := range ps {
			s.X = append(s.X, p.EnergyFJ/1e6)
			s.Y = append(s.Y, 100*p.Accuracy)
		}
		return s
	}
	series := []search.Series{
		ser("evaluated", archive, color.RGBA{170, 170, 170, 255}, 2, false, false),
		ser("Pareto front", pf.Front, color.RGBA{30, 90, 220, 255}, 4, true, false),
		ser("INT4-only", []searchPoint{pf.INT4Only}, color.RGBA{220, 30, 30, 255}, 6, false, true),
		ser("TB-only", []searchPoint{pf.TBOnly}, color.RGBA{20, 160, 40, 255}, 6, false, true),
	}
	if pf.Best != nil {
		series = append(series, ser("best.json", []searchPoint{*pf.Best}, color.RGBA{255, 140, 0, 255}, 5, false, false))
	}
	ax := search.Axes{Title: pf.Model, X: "energy per inference (nJ)", Y: "top-1 accuracy (%)"}
	return search.Plot(w, 640, 480, ax, series)
}

func printSearch(w io.Writer, pf *paretoFile, res *search.Result, dir string, d time.Duration) {
	fmt.Fprintf(w, "%s: %d split layers, %d images, %d generations, %d distinct candidates (%d cache hits), %.1fs\n",
		pf.Model, len(pf.Layers), pf.Images, pf.Generations, pf.Evaluations, res.CacheHits, d.Seconds())
	row := func(name string, p searchPoint) {
		fmt.Fprintf(w, "  %-10s acc %6.2f%%  drop %+6.2f  energy %10.3f nJ  latency %9d clk  memory %9d bits\n",
			name, 100*p.Accuracy, p.DropPts, p.EnergyFJ/1e6, p.LatencyClk, p.MemoryBits)
	}
	row("int4-only", pf.INT4Only)
	row("tb-only", pf.TBOnly)
	for i, p := range pf.Front {
		mark := ""
		if !p.Feasible {
			mark = " (over --max-drop)"
		}
		row(fmt.Sprintf("front %d", i), p)
		if mark != "" {
			fmt.Fprintf(w, "             %s\n", strings.TrimSpace(mark))
		}
	}
	if pf.Best != nil {
		row("best", *pf.Best)
	}
	fmt.Fprintf(w, "wrote %s, %s, %s\n", filepath.Join(dir, "pareto.json"), filepath.Join(dir, "best.json"), filepath.Join(dir, "pareto.png"))
}

// budget applies --max-arrays: the chip the candidates are mapped on keeps
// at most that many arrays per pool. Its name says so, which also keeps
// --resume from mixing budgets (the checkpoint tag holds the name).
func (s *searchFlags) budget(h *hw.Hardware) (*hw.Hardware, error) {
	if s.maxArrays == "" {
		return h, nil
	}
	var sram, edram int
	if n, err := fmt.Sscanf(s.maxArrays, "%d,%d", &sram, &edram); err != nil || n != 2 || fmt.Sprintf("%d,%d", sram, edram) != s.maxArrays {
		return nil, fmt.Errorf("--max-arrays %q: want S,E (two whole numbers: SRAM-PIM and eDRAM-PIM arrays)", s.maxArrays)
	}
	if sram < 1 || sram > h.SRAM.Arrays || edram < 1 || edram > h.EDRAM.Arrays {
		return nil, fmt.Errorf("--max-arrays %d,%d: the budget must be 1..%d SRAM-PIM and 1..%d eDRAM-PIM arrays (hardware %q)",
			sram, edram, h.SRAM.Arrays, h.EDRAM.Arrays, h.Name)
	}
	b := *h
	b.SRAM.Arrays, b.EDRAM.Arrays = sram, edram
	b.Name = fmt.Sprintf("%s+arrays-%d-%d", h.Name, sram, edram)
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("--max-arrays %d,%d: %w", sram, edram, err)
	}
	return &b, nil
}

// tag names what a checkpoint's cached evaluations depend on besides the
// genes, so that --resume refuses a checkpoint from another run.
func (s *searchFlags) tag(model, hwName string, offset, images int) string {
	f := s.q
	return fmt.Sprintf("model=%s data=%s offset=%d images=%d hw=%s objectives=%s max-drop=%g steps=%d calib=%s/%d/%s keep=%v,%v granularity=%d fit=%v bc=%v ideal-adc=%v alloc=%s",
		model, f.data.Data, offset, images, hwName, strings.Join(s.objectives, ","), s.maxDrop, s.steps,
		f.calib, f.calibLimit, f.calibMethod, f.keepFirst, f.keepLast, f.granularity, !f.noFit, !f.noBC, f.idealADC, s.alloc.objective())
}
