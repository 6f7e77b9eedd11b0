package main

import (
	"io"

	"pimc/hw"
)

// runHw prints a hardware description: the built-in default, or FILE
// after validation (so `pimc hw --hw chip.json` checks a file).
func runHw(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("hw", "hw [--hw FILE]", stderr)
	file := fs.String("hw", "", "Hardware description `FILE` to validate and print (default: the built-in dualpim-28nm)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseFailed(err, stderr, "hw")
	}
	if len(pos) == 1 && *file == "" {
		*file = pos[0]
	} else if len(pos) > 0 {
		return usageError(stderr, "hw", "unexpected arguments %v", pos)
	}
	h := hw.Default()
	if *file != "" {
		if h, err = hw.Load(*file); err != nil {
			return fail(stderr, err)
		}
	}
	b, err := h.JSON()
	if err != nil {
		return fail(stderr, err)
	}
	_, _ = stdout.Write(b)
	return 0
}
