package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"pimc/ir"
)

func runDot(args []string, stdout, stderr io.Writer) int {
	const use = "dot [-o FILE] [--format dot|svg|png] [--after PASS] MODEL.onnx"
	fs := newFlagSet("dot", use, stderr)
	out := fs.String("o", "", "Output file (default stdout)")
	format := fs.String("format", "dot", "Output format: dot, svg or png (svg and png need Graphviz's dot)")
	after := fs.String("after", "", "Draw the IR after this pass (default: after the whole pipeline)")
	pf := addPipeFlags(fs)
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
	m, err := pf.load(pos[0], stderr)
	if err != nil {
		return fail(stderr, err)
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
