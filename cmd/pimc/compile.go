package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"pimc/ir"
)

func runCompile(args []string, stdout, stderr io.Writer) int {
	const use = "compile [flags] MODEL.onnx"
	fs := newFlagSet("compile", use, stderr)
	out := fs.String("o", "pimc-out", "Output directory")
	pf := addPipeFlags(fs)
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
	m, err := pf.load(pos[0], stderr)
	if err != nil {
		return fail(stderr, err)
	}
	if err := writeIR(*out, m); err != nil {
		return fail(stderr, err)
	}
	return 0
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
