// Command pimc compiles ONNX CNNs for a heterogeneous processing-in-memory
// chip: import, canonicalise, split each layer into an INT4 and a
// ternary-binary path, map both onto PIM arrays, emit instruction streams,
// and simulate them.
//
// Layering: cmd/pimc imports pipeline, frontend, runtime and the packages
// whose results it prints; the compiler logic lives in those packages.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one subcommand, in the style of cmd/go's base.Command.
type command struct {
	name  string
	usage string // usage line after "pimc "
	short string // one line, starts with a verb, no period
	run   func(args []string, stdout, stderr io.Writer) int
}

var commands []*command

func init() {
	commands = []*command{
		{"compile", "compile [flags] MODEL.onnx", "Compile a model (also: pimc MODEL.onnx)", runCompile},
		{"infer", "infer [flags] -o DIR MODEL.onnx [INPUT.pb ...]", "Run a model in the FP32 reference interpreter", runInfer},
		{"dot", "dot [-o FILE] [--format dot|svg|png] [--after PASS] MODEL.onnx", "Draw a model's IR graph", runDot},
		{"eval", "eval --data DATA [--ratio R | --ratios FILE] [--json] MODEL.onnx", "Measure top-1 accuracy of FP32, INT4-only, TB-only and DualNet on real data", runEval},
		{"search", "search --data DATA [--objectives ...] [--max-drop PTS] [--population P] [--generations G] [--seed S] [--resume] -o DIR MODEL.onnx", "Search per-layer ratios for the accuracy/energy Pareto front", runSearch},
		{"results", "results [--out FILE] [--shared DIR] [--quick] [--models LIST]", "Regenerate docs/results.md: search, compile and evaluate every real model", runResults},
		{"run", "run [flags] -o DIR PROGRAM.pimb [INPUT.pb ...] | run --check MODEL.onnx", "Simulate a compiled program bit-exactly, with cycles and energy", runRun},
		{"dis", "dis PROGRAM.pimb", "Print a compiled program as an assembly listing", runDis},
		{"map", "map [--json] --array RxC --ifm HxW --kernel K --ic IC --oc OC [flags]", "Compare mapping schemes for one layer", runMap},
		{"hw", "hw [--hw FILE]", "Print (and validate) a hardware description", runHw},
		{"version", "version", "Print pimc's version", runVersion},
		{"help", "help [COMMAND]", "Show help for a command", runHelp},
	}
}

const version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if c := lookup(name); c != nil {
		return c.run(args[1:], stdout, stderr)
	}
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "-version", "--version":
		return runVersion(nil, stdout, stderr)
	}
	// `pimc MODEL.onnx` and `pimc -o DIR MODEL.onnx` mean compile.
	if strings.HasPrefix(name, "-") || strings.HasSuffix(strings.ToLower(name), ".onnx") || fileExists(name) {
		return runCompile(args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "pimc %s: unknown command\nRun 'pimc help' for usage.\n", name)
	return 2
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "pimc compiles ONNX CNNs for a dual-precision processing-in-memory chip.\n\nUsage:\n\n\tpimc <command> [arguments]\n\tpimc MODEL.onnx            (same as pimc compile MODEL.onnx)\n\nThe commands are:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-10s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\nUse \"pimc help <command>\" for more information about a command.\n")
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return 0
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "pimc help %s: unknown command\nRun 'pimc help' for usage.\n", args[0])
		return 2
	}
	// Each command prints its usage line and flags on -h.
	code := c.run([]string{"-h"}, stdout, stdout)
	fmt.Fprintf(stdout, "\n%s.\n", c.short)
	return code
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintf(stdout, "pimc %s\n", version)
	return 0
}
