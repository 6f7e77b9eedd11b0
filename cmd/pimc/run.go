package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"pimc/backend"
	"pimc/backend/isa"
	"pimc/dualnet"
	"pimc/frontend"
	"pimc/hw"
	"pimc/ir"
	"pimc/runtime"
)

const runUsage = "run [--hw FILE] [--trace FILE] -o DIR PROGRAM.pimb INPUT.pb ...\n       pimc run --check [--ratio R] [--hw FILE] MODEL.onnx [INPUT.pb ...]"

// runRun simulates a binary program (`pimc run -o DIR PROGRAM.pimb
// INPUT.pb...`), writing DIR/output_N.pb and DIR/stats.json, or with
// --check compiles a model and compares the simulator with the quantized
// reference executor bit for bit.
func runRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", runUsage, stderr)
	out := fs.String("o", "", "Output directory for output_N.pb and stats.json (optional with --check)")
	hwFile := fs.String("hw", "", "Hardware description `FILE` (default: the built-in dualpim-28nm)")
	trace := fs.String("trace", "", "Write a Chrome trace-event timeline (Perfetto, chrome://tracing) to `FILE`")
	check := fs.Bool("check", false, "Compile MODEL.onnx, simulate it and compare with the quantized reference executor")
	ratio := fs.Float64("ratio", 0.5, "With --check: fraction `R` of each split layer's output channels on the INT4 path")
	af := addAllocFlag(fs) // --check compiles; a PROGRAM.pimb already holds its allocation
	pos, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "Run 'pimc help run' for details.\n")
		return 2
	}
	if len(pos) < 1 {
		if *check {
			return usageError(stderr, "run", "missing MODEL.onnx")
		}
		return usageError(stderr, "run", "missing PROGRAM.pimb")
	}
	if !*check && *out == "" {
		return usageError(stderr, "run", "missing -o DIR")
	}
	if !(*ratio >= 0 && *ratio <= 1) {
		return usageError(stderr, "run", "--ratio %v outside [0, 1]", *ratio)
	}
	h := hw.Default()
	if *hwFile != "" {
		if h, err = hw.Load(*hwFile); err != nil {
			return runFail(stderr, err)
		}
	}
	if *check {
		return runCheck(pos[0], pos[1:], buildOptions{HW: h, Ratio: *ratio, Backend: af.backend()}, *trace, *out, stdout, stderr)
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return runFail(stderr, err)
	}
	p, err := runtime.Load(data, h)
	if err != nil {
		return runFail(stderr, fmt.Errorf("%s: %w", pos[0], err))
	}
	inputs, err := readProgramInputs(p, pos[1:])
	if err != nil {
		return runFail(stderr, err)
	}
	outs, st, err := simulate(p, inputs, *trace)
	if err != nil {
		return runFail(stderr, fmt.Errorf("%s: %w", pos[0], err))
	}
	if err := writeRunOutputs(*out, p, outs, st); err != nil {
		return runFail(stderr, err)
	}
	return 0
}

func runFail(stderr io.Writer, err error) int {
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(stderr, "pimc run: %s\n", line)
	}
	return 1
}

// simulate runs the program once, writing the trace if asked.
func simulate(p *runtime.Program, inputs []runtime.Tensor, tracePath string) ([]runtime.Tensor, *runtime.Stats, error) {
	m := p.NewMachine()
	if tracePath != "" {
		m.Trace = runtime.NewTrace()
	}
	outs, st, err := m.Run(inputs)
	if err != nil {
		return nil, nil, err
	}
	if tracePath != "" {
		f, err := os.Create(tracePath)
		if err != nil {
			return nil, nil, err
		}
		if err := m.Trace.WriteJSON(f); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("writing %s: %w", tracePath, err)
		}
		if err := f.Close(); err != nil {
			return nil, nil, err
		}
	}
	return outs, st, nil
}

// readProgramInputs reads INPUT.pb files in program-input order and checks
// them against the program's ports.
func readProgramInputs(p *runtime.Program, paths []string) ([]runtime.Tensor, error) {
	ports := p.Inputs()
	if len(paths) != len(ports) {
		names := make([]string, len(ports))
		for i, pt := range ports {
			names[i] = fmt.Sprintf("%s %v", pt.Name, pt.Shape)
		}
		return nil, fmt.Errorf("the program takes %d inputs (%s), got %d files", len(ports), strings.Join(names, ", "), len(paths))
	}
	ins := make([]runtime.Tensor, len(paths))
	for i, path := range paths {
		t, err := frontend.ReadTensor(path)
		if err != nil {
			return nil, err
		}
		if t.DType != ir.Float32 {
			return nil, fmt.Errorf("%s: tensor is %s, input %q takes float32", path, t.DType, ports[i].Name)
		}
		if !slices.Equal(t.Shape, ports[i].Shape) {
			return nil, fmt.Errorf("%s: shape %v, input %q is %v", path, t.Shape, ports[i].Name, ports[i].Shape)
		}
		ins[i] = runtime.Tensor{Shape: t.Shape, Data: t.F}
	}
	return ins, nil
}

func writeRunOutputs(dir string, p *runtime.Program, outs []runtime.Tensor, st *runtime.Stats) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, o := range outs {
		t := ir.FloatTensor(o.Data, o.Shape...)
		if err := frontend.WriteTensor(filepath.Join(dir, fmt.Sprintf("output_%d.pb", i)), t, p.Outputs()[i].Name); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "stats.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing stats.json: %w", err)
	}
	return nil
}

// buildOptions says how buildProgram compiles a model.
type buildOptions struct {
	HW    *hw.Hardware
	Ratio float64
	// Samples are calibration inputs; nil means data-free calibration
	// (the default of pimc compile without --calib).
	Samples []*ir.Tensor
	// Backend sets the allocation objective (zero: latency).
	Backend backend.Options
}

// buildProgram compiles a model the way `pimc compile` does: import and
// canonicalise, DualNet calibration, split and quantization, then the
// backend. It returns the quantized module too (for the reference
// executor).
func buildProgram(path string, o buildOptions) (*ir.Module, *isa.Program, error) {
	m, err := loadEvalModel(path)
	if err != nil {
		return nil, nil, err
	}
	do := dualnet.DefaultOptions()
	do.Ratios = dualnet.Uniform(o.Ratio)
	do.Samples = o.Samples
	if err := dualnet.Compile(m, do); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := ir.Verify(m); err != nil {
		return nil, nil, fmt.Errorf("internal error: quantized IR of %s invalid: %w", path, err)
	}
	bin, err := backend.Emit(m, o.HW, o.Backend)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, bin, nil
}

// runCheck compiles a model, simulates it on the inputs (or on a fixed
// pseudo-random input when none is given) and compares every output
// element with the quantized reference executor.
func runCheck(model string, inputPaths []string, bo buildOptions, tracePath, outDir string, stdout, stderr io.Writer) int {
	h, ratio := bo.HW, bo.Ratio
	q, bin, err := buildProgram(model, bo)
	if err != nil {
		return runFail(stderr, err)
	}
	p, err := runtime.Load(isa.Encode(bin), h)
	if err != nil {
		return runFail(stderr, fmt.Errorf("internal error: the emitted program does not load: %w", err))
	}
	var inputs []runtime.Tensor
	src := "a pseudo-random input"
	if len(inputPaths) > 0 {
		if inputs, err = readProgramInputs(p, inputPaths); err != nil {
			return runFail(stderr, err)
		}
		src = strings.Join(inputPaths, ", ")
	} else {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, pt := range p.Inputs() {
			t := runtime.Tensor{Shape: pt.Shape, Data: make([]float32, pt.Elems())}
			for i := range t.Data {
				t.Data[i] = float32(rng.NormFloat64())
			}
			inputs = append(inputs, t)
		}
	}
	got, st, err := simulate(p, inputs, tracePath)
	if err != nil {
		return runFail(stderr, fmt.Errorf("%s: %w", model, err))
	}
	ex, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: h, Workers: 1})
	if err != nil {
		return runFail(stderr, err)
	}
	irIns := make([]*ir.Tensor, len(inputs))
	for i, t := range inputs {
		irIns[i] = ir.FloatTensor(t.Data, t.Shape...)
	}
	want, err := ex.Run(irIns)
	if err != nil {
		return runFail(stderr, err)
	}
	if outDir != "" {
		if err := writeRunOutputs(outDir, p, got, st); err != nil {
			return runFail(stderr, err)
		}
	}
	n := 0
	for i := range want {
		for j, w := range want[i].F {
			if math.Float32bits(got[i].Data[j]) != math.Float32bits(w) {
				return runFail(stderr, fmt.Errorf("%s: MISMATCH at output %d (%q) element %d %v: simulator %v, reference executor %v",
					model, i, p.Outputs()[i].Name, j, unravel(j, want[i].Shape), got[i].Data[j], w))
			}
			n++
		}
	}
	fmt.Fprintf(stdout, "pimc run: %s: simulator matches the quantized reference executor bit for bit (%d output elements, %s; r = %g, %s, --alloc %s)\n",
		model, n, src, ratio, h.Name, bo.Backend.Mapping().Objective)
	fmt.Fprintf(stdout, "pimc run: %d cycles (%.2f µs), %.4g µJ per inference\n", st.Inference.LatencyClk, st.Inference.LatencyUS, st.Inference.EnergyFJ.Total()/1e9)
	return 0
}

// unravel turns a flat index into coordinates.
func unravel(i int, shape []int64) []int64 {
	c := make([]int64, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			c[d] = int64(i) % shape[d]
			i /= int(shape[d])
		}
	}
	return c
}
