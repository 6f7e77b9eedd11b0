package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pimc/dualnet"
	"pimc/frontend"
	"pimc/interp"
	"pimc/ir"
	"pimc/pipeline"
)

func runInfer(args []string, stdout, stderr io.Writer) int {
	const use = "infer [--quantized [--ratio R | --ratios FILE] [--calib DATA] [--hw FILE]] [flags] -o DIR MODEL.onnx [INPUT.pb ...]"
	fs := newFlagSet("infer", use, stderr)
	out := fs.String("o", "", "Output directory for output_N.pb (required)")
	quantized := fs.Bool("quantized", false, "Run the integer-exact DualNet reference executor instead of FP32 (see --ratio, --calib, --hw)")
	pf := addPipeFlags(fs)
	qf := addQuantFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseFailed(err, stderr, "infer")
	}
	if pf.listPasses {
		printPasses(stdout)
		return 0
	}
	if len(pos) < 1 {
		return usageError(stderr, "infer", "missing MODEL.onnx")
	}
	if *out == "" {
		return usageError(stderr, "infer", "missing -o DIR")
	}
	o, err := pf.options(stderr)
	if err != nil {
		return usageError(stderr, "infer", "%v", err)
	}
	files, err := readTensorFiles(pos[1:])
	if err != nil {
		return fail(stderr, err)
	}
	// pimc compiles for static shapes: integer inputs (Reshape shapes,
	// Slice bounds, ...) are folded into the graph as the constants given.
	o.Constants, files, err = integerInputsAsConstants(pos[0], files)
	if err != nil {
		return fail(stderr, err)
	}
	var outs []*ir.Tensor
	var m *ir.Module
	if *quantized {
		if msg := qf.check(); msg != "" {
			return usageError(stderr, "infer", "%s", msg)
		}
		m, outs, err = inferQuantized(pos[0], qf, files, stderr)
	} else {
		m, err = pipeline.Load(pos[0], o)
		if err == nil {
			var inputs []*ir.Tensor
			if inputs, err = matchInputs(m, files); err == nil {
				outs, err = interp.Run(m, inputs)
			}
		}
	}
	if err != nil {
		return fail(stderr, fmt.Errorf("%s: %w", pos[0], err))
	}
	restoreOutputDTypes(m, outs)
	if err := writeOutputs(*out, m, outs); err != nil {
		return fail(stderr, err)
	}
	return 0
}

type tensorFile struct {
	path string
	t    *ir.Tensor
}

func readTensorFiles(paths []string) ([]tensorFile, error) {
	files := make([]tensorFile, len(paths))
	for i, p := range paths {
		t, err := frontend.ReadTensor(p)
		if err != nil {
			return nil, err
		}
		files[i] = tensorFile{p, t}
	}
	return files, nil
}

// integerInputsAsConstants splits off the integer-typed input files and
// returns them keyed by the graph input they feed, with the remaining
// (runtime) input files in order.
func integerInputsAsConstants(model string, files []tensorFile) (map[string]*ir.Tensor, []tensorFile, error) {
	anyInt := false
	for _, f := range files {
		anyInt = anyInt || !f.t.DType.IsFloat()
	}
	if !anyInt {
		return nil, files, nil
	}
	names, err := frontend.InputNames(model)
	if err != nil {
		return nil, nil, err
	}
	if len(names) != len(files) {
		return nil, nil, fmt.Errorf("%s takes %d inputs, %d input files given", model, len(names), len(files))
	}
	consts := map[string]*ir.Tensor{}
	var rest []tensorFile
	for i, f := range files {
		if f.t.DType.IsFloat() {
			rest = append(rest, f)
		} else {
			consts[names[i]] = f.t
		}
	}
	return consts, rest, nil
}

// matchInputs checks the input tensors against the graph inputs, in order.
// float16/float64 tensors feed float32 inputs: the IR computes in float32.
func matchInputs(m *ir.Module, files []tensorFile) ([]*ir.Tensor, error) {
	if len(files) != len(m.Graph.Inputs) {
		return nil, fmt.Errorf("model %q takes %d inputs, %d input files given", m.Name, len(m.Graph.Inputs), len(files))
	}
	ins := make([]*ir.Tensor, len(files))
	for i, f := range files {
		t := f.t
		want := m.Graph.Inputs[i].Type
		if t.DType.IsFloat() && want.DType == ir.Float32 {
			c := *t
			c.DType = ir.Float32
			t = &c
		}
		if !want.Equal(t.Type()) {
			return nil, fmt.Errorf("%s: tensor is %s, input %q of the model is %s", f.path, f.t.Type(), m.Graph.Inputs[i].Name, want)
		}
		ins[i] = t
	}
	return ins, nil
}

// inferQuantized compiles the model to the DualNet IR (calibration,
// split at --ratio/--ratios, quantization) and runs the integer-exact
// executor with the hardware's ADC model; outputs are dequantized floats.
func inferQuantized(path string, qf *evalFlags, files []tensorFile, stderr io.Writer) (*ir.Module, []*ir.Tensor, error) {
	q, h, err := quantizedModel(path, qf, "pimc infer", stderr)
	if err != nil {
		return nil, nil, err
	}
	inputs, err := matchInputs(q, files)
	if err != nil {
		return nil, nil, err
	}
	e, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: h})
	if err != nil {
		return nil, nil, err
	}
	outs, err := e.Run(inputs)
	return q, outs, err
}

// restoreOutputDTypes gives outputs the float16/float64 dtype the model
// declares (the IR narrowed them to float32).
func restoreOutputDTypes(m *ir.Module, outs []*ir.Tensor) {
	decl, _ := m.Meta[frontend.MetaIODTypes].(map[string]ir.DType)
	for i, o := range m.Graph.Outputs {
		if dt, ok := decl[o.Name]; ok && outs[i].DType == ir.Float32 {
			c := *outs[i]
			c.DType = dt
			outs[i] = &c
		}
	}
}

// writeOutputs writes DIR/output_N.pb in graph-output order.
func writeOutputs(dir string, m *ir.Module, outs []*ir.Tensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, t := range outs {
		p := filepath.Join(dir, fmt.Sprintf("output_%d.pb", i))
		if err := frontend.WriteTensor(p, t, m.Graph.Outputs[i].Name); err != nil {
			return err
		}
	}
	return nil
}
