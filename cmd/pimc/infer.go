package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pimc/frontend"
	"pimc/interp"
	"pimc/ir"
)

func runInfer(args []string, stdout, stderr io.Writer) int {
	const use = "infer [flags] -o DIR MODEL.onnx [INPUT.pb ...]"
	fs := newFlagSet("infer", use, stderr)
	out := fs.String("o", "", "Output directory for output_N.pb (required)")
	pf := addPipeFlags(fs)
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
	m, err := pf.load(pos[0], stderr)
	if err != nil {
		return fail(stderr, err)
	}
	inputs, err := readInputs(m, pos[1:])
	if err != nil {
		return fail(stderr, err)
	}
	outs, err := interp.Run(m, inputs)
	if err != nil {
		return fail(stderr, fmt.Errorf("%s: %w", pos[0], err))
	}
	if err := writeOutputs(*out, m, outs); err != nil {
		return fail(stderr, err)
	}
	return 0
}

// readInputs reads one TensorProto file per graph input, in order.
func readInputs(m *ir.Module, paths []string) ([]*ir.Tensor, error) {
	if len(paths) != len(m.Graph.Inputs) {
		return nil, fmt.Errorf("model %q takes %d inputs, %d input files given", m.Name, len(m.Graph.Inputs), len(paths))
	}
	ins := make([]*ir.Tensor, len(paths))
	for i, p := range paths {
		t, err := frontend.ReadTensor(p)
		if err != nil {
			return nil, err
		}
		want := m.Graph.Inputs[i].Type
		if t.DType != want.DType || !want.Equal(t.Type()) {
			return nil, fmt.Errorf("%s: tensor is %s, input %q of the model is %s", p, t.Type(), m.Graph.Inputs[i].Name, want)
		}
		ins[i] = t
	}
	return ins, nil
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
