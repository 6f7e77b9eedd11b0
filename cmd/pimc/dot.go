package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"

	"pimc/ir"
	"pimc/pipeline"
)

func runDot(args []string, stdout, stderr io.Writer) int {
	const use = "dot [-o FILE] [--format dot|svg|png] [--after PASS] MODEL.onnx"
	fs := newFlagSet("dot", use, stderr)
	out := fs.String("o", "", "Output file (default stdout)")
	format := fs.String("format", "dot", "Output format: dot, svg or png (svg and png need Graphviz's dot)")
	after := fs.String("after", "", "Draw the IR after this pass (default: after partition, coloured by engine)")
	pf := addPipeFlags(fs)
	// The split decides each node's engine; calibration data would not
	// change the picture, so dot takes only the split flags (and keeps
	// --format for itself) and calibrates data-free.
	qf := addQuantFlags(flag.NewFlagSet("dot-split", flag.ContinueOnError))
	fs.Float64Var(&qf.ratio, "ratio", qf.ratio, "Fraction `R` of each split layer's output channels on the INT4 path")
	fs.StringVar(&qf.ratios, "ratios", "", "JSON `FILE` of per-layer ratios keyed by node name")
	fs.BoolVar(&qf.keepFirst, "keep-first", qf.keepFirst, "Keep the first conv/FC layer unsplit at INT8")
	fs.BoolVar(&qf.keepLast, "keep-last", qf.keepLast, "Keep the last conv/FC layer unsplit at INT8")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseFailed(err, stderr, "dot")
	}
	if pf.listPasses {
		printPasses(stdout)
		return 0
	}
	if len(pos) != 1 {
		return usageError(stderr, "dot", "want exactly one MODEL.onnx, got %d arguments", len(pos))
	}
	switch *format {
	case "dot", "svg", "png":
	default:
		return usageError(stderr, "dot", "--format must be dot, svg or png, not %q", *format)
	}
	if *after != "" {
		pf.stopAfter = *after
	}
	if msg := qf.check(); msg != "" {
		return usageError(stderr, "dot", "%s", msg)
	}
	o, err := pf.options(stderr)
	if err != nil {
		return usageError(stderr, "dot", "%v", err)
	}
	m, err := pipeline.Load(pos[0], o)
	if err != nil {
		return fail(stderr, err)
	}
	// Past canonicalisation the graph is quantized and partitioned like
	// `pimc compile` does it, so nodes carry their engine and precision.
	if ir.FindPass(pipeline.Canonical(), *after) < 0 {
		c := &compiler{cmd: "dot", path: pos[0], o: o, qf: qf, stdout: stdout, stderr: io.Discard}
		if m, err = c.lower(m); err != nil {
			return fail(stderr, err)
		}
	}
	var buf bytes.Buffer
	if err := ir.WriteDOT(&buf, m); err != nil {
		return fail(stderr, err)
	}
	data := buf.Bytes()
	if *format != "dot" {
		data, err = renderDOT(data, *format)
		if err != nil {
			return fail(stderr, err)
		}
	}
	if *out == "" {
		_, err = stdout.Write(data)
	} else {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// renderDOT runs Graphviz's dot to turn DOT text into svg or png.
func renderDOT(src []byte, format string) ([]byte, error) {
	path, err := exec.LookPath("dot")
	if err != nil {
		return nil, errors.New("--format " + format + " needs Graphviz's dot program, which is not installed (Debian: apt-get install graphviz); use --format dot to get DOT text")
	}
	cmd := exec.Command(path, "-T"+format)
	cmd.Stdin = bytes.NewReader(src)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("graphviz dot -T%s failed: %v: %s", format, err, errb.String())
	}
	return out.Bytes(), nil
}
