package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// errHelp is returned by parseArgs when -h was given; the command then
// exits 0 after printing its flags.
var errHelp = flag.ErrHelp

// newFlagSet returns a flag set whose usage goes to w.
func newFlagSet(name, usageLine string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: pimc %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags that may stand before or after positional
// arguments ("pimc compile m.onnx -o out" and "pimc compile -o out m.onnx");
// "--" ends flag parsing.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" too; it consumes it, so check the raw args.
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError prints a usage error and returns exit code 2.
func usageError(stderr io.Writer, cmd, format string, args ...any) int {
	fmt.Fprintf(stderr, "pimc %s: %s\nRun 'pimc help %s' for details.\n", cmd, fmt.Sprintf(format, args...), cmd)
	return 2
}

// parseFailed maps a flag parse error to an exit code.
func parseFailed(err error, stderr io.Writer, cmd string) int {
	if errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "Run 'pimc help %s' for details.\n", cmd)
	return 2
}

// fail prints an error with the pimc: prefix and returns exit code 1.
func fail(stderr io.Writer, err error) int {
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(stderr, "pimc: %s\n", line)
	}
	return 1
}

// listFlag collects a comma-separated or repeated string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// bindFlag parses "-bind N=4,batch=2" into symbolic dimension bindings.
type bindFlag map[string]int64

func (b bindFlag) String() string {
	parts := []string{}
	for k, v := range b {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	return strings.Join(parts, ",")
}

func (b bindFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || k == "" {
			return fmt.Errorf("want NAME=VALUE, got %q", p)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("dimension %s=%q is not a positive integer", k, v)
		}
		b[k] = n
	}
	return nil
}
