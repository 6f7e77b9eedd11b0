package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"pimc/backend"
	"pimc/backend/isa"
	"pimc/cost"
	"pimc/dualnet"
	"pimc/hw"
	"pimc/ir"
	"pimc/pipeline"
)

const compileUsage = "compile [flags] MODEL.onnx"

// compileGCPercent is the GC target `pimc compile` runs with unless GOGC
// is set.
const compileGCPercent = 50

func runCompile(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("compile", compileUsage, stderr)
	out := fs.String("o", "pimc-out", "Output directory")
	jsonOut := fs.Bool("json", false, "Print the report as JSON instead of the summary table")
	noBase := fs.Bool("no-baselines", false, "Skip compiling the INT4-only and TB-only baselines for the comparison")
	floatOnly := fs.Bool("float", false, "Stop after canonicalisation (write only ir.txt and ir.dot)")
	pf := addPipeFlags(fs)
	qf := addQuantFlags(fs)
	af := addAllocFlag(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseFailed(err, stderr, "compile")
	}
	if pf.listPasses {
		printPasses(stdout)
		return 0
	}
	if len(pos) != 1 {
		return usageError(stderr, "compile", "want exactly one MODEL.onnx, got %d arguments", len(pos))
	}
	if msg := qf.check(); msg != "" {
		return usageError(stderr, "compile", "%s", msg)
	}
	o, err := pf.options(stderr)
	if err != nil {
		return usageError(stderr, "compile", "%v", err)
	}
	if os.Getenv("GOGC") == "" {
		// The heap of a compile is mostly large pointer-free arrays (float
		// weights, int64 weight codes, images) that the GC marks almost
		// for free, and peak RSS is about twice the live heap at the
		// default GOGC=100: a target of 50 cuts the peak by ~15% for no
		// measurable CPU (docs/compile-speed.md).
		defer debug.SetGCPercent(debug.SetGCPercent(compileGCPercent))
	}
	c := &compiler{cmd: "compile", path: pos[0], out: *out, o: o, qf: qf, bo: af.backend(), stdout: stdout, stderr: stderr}
	if err := c.run(*floatOnly, *noBase, *jsonOut); err != nil {
		return fail(stderr, err)
	}
	return 0
}

type compiler struct {
	cmd            string // the subcommand, for warnings
	path, out      string
	o              pipeline.Options
	qf             *evalFlags
	bo             backend.Options // the allocation objective of the program, the report and its baselines
	stdout, stderr io.Writer
}

// The report is costed with the mapping the backend emits (im2col
// layouts, allocated by mapping.MapDual), so that report.json describes the
// program the simulator runs; `pimc map` compares the other schemes.

// run compiles the model at the chosen ratios and, for the report's
// comparison, at r = 1 (INT4-only) and r = 0 (TB-only) from the same
// calibration, then writes the IR, report.json and utilisation.svg.
func (c *compiler) run(floatOnly, noBaselines, jsonOut bool) error {
	phase := c.phases()
	m, err := pipeline.Load(c.path, c.o)
	if err != nil {
		return err
	}
	phase("load")
	if floatOnly || c.stopped(pipeline.Canonical()) {
		return writeIR(c.out, m)
	}
	h, err := c.qf.hardware()
	if err != nil {
		return err
	}
	ratios, err := c.calibrate(m)
	if err != nil {
		return err
	}
	phase("calibrate")
	full := c.o.StopAfter == "" || c.o.StopAfter == "partition"
	acc, err := c.accuracyOn(m)
	if err != nil {
		return err
	}
	// The baselines are compiled while the chosen variant is quantized and
	// its program emitted: the chosen variant's passes and emission have
	// serial stretches that leave a core idle. The calibration's memos are
	// locked, content-keyed and computed once however many variants ask,
	// so the results do not depend on timing (emission and printing only
	// read their module). Scoring --data already uses every core and draws
	// progress bars, so with --data the baselines take turns after the
	// chosen variant.
	var i4, tb *cost.Report
	var i4Err, tbErr error
	var wg sync.WaitGroup
	defer wg.Wait() // on every return: no baseline outlives the command
	concurrent := full && !noBaselines && c.qf.data.Data == ""
	if concurrent {
		wg.Add(2)
		go func() {
			defer wg.Done()
			i4, i4Err = c.baseline(m, 1, h, cost.LabelINT4Only, acc)
		}()
		go func() {
			defer wg.Done()
			tb, tbErr = c.baseline(m, 0, h, cost.LabelTBOnly, acc)
		}()
	}
	chosen, err := c.quantize(m, ratios, true)
	if err != nil {
		return err
	}
	phase("lower (chosen)")
	if !full {
		return writeIR(c.out, chosen)
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	var irErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		irErr = writeIR(c.out, chosen)
	}()
	rep, err := c.emitChosen(chosen, h, acc)
	if err == nil && !noBaselines && !concurrent {
		i4, i4Err = c.baseline(m, 1, h, cost.LabelINT4Only, acc)
		if i4Err == nil {
			tb, tbErr = c.baseline(m, 0, h, cost.LabelTBOnly, acc)
		}
	}
	phase("emit + cost (chosen)")
	wg.Wait()
	phase("baselines (rest)")
	if err != nil {
		return err
	}
	if irErr != nil {
		return irErr
	}
	if i4Err != nil {
		return i4Err
	}
	if tbErr != nil {
		return tbErr
	}
	file := cost.NewReportFile(rep, i4, tb)
	if err := writeFile(filepath.Join(c.out, "report.json"), func(w io.Writer) error { return cost.WriteJSON(w, file) }); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(c.out, "utilisation.svg"), func(w io.Writer) error { return cost.WriteUtilisationSVG(w, rep) }); err != nil {
		return err
	}
	phase("write report")
	if jsonOut {
		return cost.WriteJSON(c.stdout, file)
	}
	return cost.WriteTable(c.stdout, rep, file.Comparison)
}

// phases returns a function that, under -time, logs the wall time and the
// process's CPU time since its previous call (or since phases) under the
// given name; CPU above wall means the phase ran on several cores (phases
// overlap with the baselines, which are compiled concurrently).
func (c *compiler) phases() func(name string) {
	if !c.o.Time || c.o.Log == nil {
		return func(string) {}
	}
	t, cpu := time.Now(), processCPU()
	return func(name string) {
		now, ncpu := time.Now(), processCPU()
		c.o.Log("%-20s %8.3f ms (phase, %.3f ms CPU)", name, float64(now.Sub(t).Microseconds())/1000, float64((ncpu-cpu).Microseconds())/1000)
		t, cpu = now, ncpu
	}
}

// lower calibrates the canonical module m (recording the calibration on
// it, so baselines cloned from m share it) and returns a copy quantized
// and partitioned at the chosen ratios.
func (c *compiler) lower(m *ir.Module) (*ir.Module, error) {
	ratios, err := c.calibrate(m)
	if err != nil {
		return nil, err
	}
	return c.quantize(m, ratios, true)
}

// calibrate calibrates the canonical module m, records the calibration
// on it (so that variants cloned from m share it) and returns the chosen
// ratios.
func (c *compiler) calibrate(m *ir.Module) (dualnet.Ratios, error) {
	cal, _, err := c.qf.calibrate(m, "pimc "+c.cmd, c.stderr)
	if err != nil {
		return dualnet.Ratios{}, fmt.Errorf("%s: calibrate: %w", c.path, err)
	}
	dualnet.SetCalibration(m, cal)
	return c.qf.layerRatios(m)
}

// stopped reports whether -stop-after names a pass in list.
func (c *compiler) stopped(list []ir.Pass) bool {
	return c.o.StopAfter != "" && ir.FindPass(list, c.o.StopAfter) >= 0
}

// quantize runs dual-split, quantize and partition on a copy of the
// calibrated canonical module. Dumps and -stop-after apply to the chosen
// variant only.
func (c *compiler) quantize(m *ir.Module, r dualnet.Ratios, chosen bool) (*ir.Module, error) {
	q := m.Clone()
	f := c.qf
	opts := dualnet.Options{Ratios: r,
		Split: dualnet.SplitOptions{KeepFirst: f.keepFirst, KeepLast: f.keepLast, Granularity: f.granularity},
		Quant: dualnet.QuantOptions{NoFit: f.noFit, NoBiasCorrection: f.noBC}}
	list := pipeline.Quantize(opts)[1:] // calibrate already ran on m
	o := c.o
	if !chosen {
		o = pipeline.Options{VerifyEach: c.o.VerifyEach}
	}
	if err := pipeline.Run(q, list, o); err != nil {
		return nil, fmt.Errorf("%s: %w", c.path, err)
	}
	return q, nil
}

// emitChosen writes the chosen variant's program and returns its report.
func (c *compiler) emitChosen(chosen *ir.Module, h *hw.Hardware, acc accuracyFunc) (*cost.Report, error) {
	if err := writeProgram(c.out, chosen, h, c.bo); err != nil {
		return nil, fmt.Errorf("%s: %w", c.path, err)
	}
	rep, err := cost.Evaluate(chosen, h, cost.Options{Label: cost.LabelChosen, Mapping: c.bo.Mapping()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.path, err)
	}
	if rep.Accuracy, err = acc(chosen, h, cost.LabelChosen); err != nil {
		return nil, err
	}
	return rep, nil
}

func (c *compiler) baseline(m *ir.Module, r float64, h *hw.Hardware, label string, acc accuracyFunc) (*cost.Report, error) {
	q, err := c.quantize(m, dualnet.Uniform(r), false)
	if err != nil {
		return nil, fmt.Errorf("%s baseline: %w", label, err)
	}
	rep, err := cost.Evaluate(q, h, cost.Options{Label: label, Mapping: c.bo.Mapping()})
	if err != nil {
		return nil, fmt.Errorf("%s baseline: %w", label, err)
	}
	if rep.Accuracy, err = acc(q, h, label); err != nil {
		return nil, err
	}
	return rep, nil
}

// accuracyFunc measures a quantized variant's top-1 (nil without --data).
type accuracyFunc func(q *ir.Module, h *hw.Hardware, label string) (*cost.Accuracy, error)

// accuracyOn opens --data once for the model's input and returns the
// function that scores each variant on it with the quantized reference
// executor, so that the report's comparison carries accuracy beside
// energy, memory and latency (the paper's table).
func (c *compiler) accuracyOn(m *ir.Module) (accuracyFunc, error) {
	f := c.qf
	if f.data.Data == "" {
		return func(*ir.Module, *hw.Hardware, string) (*cost.Accuracy, error) { return nil, nil }, nil
	}
	spec, batch, err := modelSpec(m)
	if err != nil {
		return nil, err
	}
	set, err := f.data.Open(spec, readTensorProto)
	if err != nil {
		return nil, err
	}
	if set.Len() == 0 {
		return nil, fmt.Errorf("%s: no images to score (--data, --offset, --limit)", f.data.Data)
	}
	for i := 0; i < set.Len(); i++ {
		if set.Label(i) < 0 {
			return nil, fmt.Errorf("%s: item %d (%s) has no label", f.data.Data, i, set.Item(i))
		}
	}
	if f.workers <= 0 {
		f.workers = goruntime.GOMAXPROCS(0)
	}
	eb := &batches{set: set, batch: batch, shape: append([]int64{}, m.Graph.Inputs[0].Type.Shape...)}
	return func(q *ir.Module, h *hw.Hardware, label string) (*cost.Accuracy, error) {
		ex, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: h, Workers: 1})
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", c.path, label, err)
		}
		n, err := score(eb, f, c.stderr, label, func(in *ir.Tensor) (*ir.Tensor, error) {
			out, err := ex.Run([]*ir.Tensor{in})
			if err != nil {
				return nil, err
			}
			return out[0], nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", c.path, label, err)
		}
		return &cost.Accuracy{Data: f.data.Data, Images: set.Len(), Correct: n, Top1: float64(n) / float64(set.Len())}, nil
	}, nil
}

// writeProgram emits the instruction streams and writes DIR/program.pimb
// and its listing DIR/program.s.
func writeProgram(dir string, m *ir.Module, h *hw.Hardware, o backend.Options) error {
	bin, err := backend.Emit(m, h, o)
	if err != nil {
		return err
	}
	// Streamed to the files: the encoded program and its listing are
	// ~5 and ~12 MB for ResNet-18, garbage as soon as they are written.
	// The two files are written side by side (both only read bin).
	var lerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		lerr = streamFile(filepath.Join(dir, "program.s"), func(w io.Writer) error { return isa.WriteListing(w, bin) })
	}()
	err = streamFile(filepath.Join(dir, "program.pimb"), func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 256<<10)
		if err := isa.Write(bw, bin); err != nil {
			return err
		}
		return bw.Flush()
	})
	<-done
	if err != nil {
		return err
	}
	return lerr
}

// streamFile creates path and lets fn write it.
func streamFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	err = fn(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return nil
}

func writeFile(path string, fn func(io.Writer) error) error {
	var b bytes.Buffer
	if err := fn(&b); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeIR writes DIR/ir.txt and DIR/ir.dot.
func writeIR(dir string, m *ir.Module) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var txt, dot strings.Builder
	if err := ir.Print(&txt, m); err != nil {
		return err
	}
	if err := ir.WriteDOT(&dot, m); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ir.txt"), []byte(txt.String()), 0o644); err != nil {
		return fmt.Errorf("writing ir.txt: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ir.dot"), []byte(dot.String()), 0o644); err != nil {
		return fmt.Errorf("writing ir.dot: %w", err)
	}
	return nil
}
