package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"pimc/backend/isa"
)

const disUsage = "dis PROGRAM.pimb\n       pimc dis --asm -o PROGRAM.pimb LISTING.s"

// runDis prints a binary program as its listing (`pimc dis PROGRAM.pimb`),
// or with --asm assembles a listing back into the identical .pimb bytes.
func runDis(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dis", disUsage, stderr)
	asm := fs.Bool("asm", false, "Assemble LISTING.s (the listing pimc dis prints) into -o PROGRAM.pimb")
	out := fs.String("o", "", "With --asm: the .pimb file to write")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "Run 'pimc help dis' for details.\n")
		return 2
	}
	if len(pos) != 1 {
		return usageError(stderr, "dis", "want exactly one file, got %d arguments", len(pos))
	}
	if *asm && *out == "" {
		return usageError(stderr, "dis", "--asm needs -o PROGRAM.pimb")
	}
	if !*asm && *out != "" {
		return usageError(stderr, "dis", "-o is for --asm; the listing goes to stdout")
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return disFail(stderr, err)
	}
	if *asm {
		p, err := isa.Assemble(string(data))
		if err != nil {
			return disFail(stderr, fmt.Errorf("%s: %w", pos[0], err))
		}
		if err := os.WriteFile(*out, isa.Encode(p), 0o644); err != nil {
			return disFail(stderr, err)
		}
		return 0
	}
	p, err := isa.Decode(data)
	if err != nil {
		return disFail(stderr, fmt.Errorf("%s: %w", pos[0], err))
	}
	if _, err := io.WriteString(stdout, isa.Disassemble(p)); err != nil {
		return disFail(stderr, err)
	}
	return 0
}

func disFail(stderr io.Writer, err error) int {
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(stderr, "pimc dis: %s\n", line)
	}
	return 1
}
