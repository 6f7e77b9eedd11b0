package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"pimc/ir"
	"pimc/pipeline"
)

// pipeFlags are the pass-pipeline flags shared by compile, infer and dot.
type pipeFlags struct {
	dumpAfter, dumpBefore listFlag
	dumpFormat, dumpDir   string
	stopAfter             string
	listPasses            bool
	noVerify              bool
	time, verbose         bool
	bind                  bindFlag
}

func addPipeFlags(fs *flag.FlagSet) *pipeFlags {
	p := &pipeFlags{bind: bindFlag{}}
	fs.Var(&p.dumpAfter, "dump-after", "Print the IR after the named passes (comma-separated, or all)")
	fs.Var(&p.dumpBefore, "dump-before", "Print the IR before the named passes (comma-separated, or all)")
	fs.StringVar(&p.dumpFormat, "dump-format", "text", "Format of IR dumps: text or dot")
	fs.StringVar(&p.dumpDir, "dump-dir", "", "Write IR dumps as files into this directory instead of stdout")
	fs.StringVar(&p.stopAfter, "stop-after", "", "Stop the pass pipeline after the named pass")
	fs.BoolVar(&p.listPasses, "list-passes", false, "List the passes in pipeline order and exit")
	fs.BoolVar(&p.noVerify, "no-verify", false, "Skip the IR verifier after each pass (faster)")
	fs.BoolVar(&p.time, "time", false, "Print the time each pass takes (compile: also each phase's wall and CPU time)")
	fs.BoolVar(&p.verbose, "v", false, "Name each pass as it runs")
	fs.Var(p.bind, "bind", "Bind symbolic dimensions, e.g. N=4 (default 1)")
	return p
}

func (p *pipeFlags) options(stderr io.Writer) (pipeline.Options, error) {
	switch p.dumpFormat {
	case "text", "dot":
	default:
		return pipeline.Options{}, fmt.Errorf("-dump-format must be text or dot, not %q", p.dumpFormat)
	}
	return pipeline.Options{
		Bindings:   p.bind,
		VerifyEach: !p.noVerify,
		StopAfter:  p.stopAfter,
		DumpAfter:  p.dumpAfter,
		DumpBefore: p.dumpBefore,
		DumpFormat: p.dumpFormat,
		DumpDir:    p.dumpDir,
		Stdout:     os.Stdout,
		Time:       p.time,
		Verbose:    p.verbose,
		Log:        func(f string, a ...any) { fmt.Fprintf(stderr, "pimc: "+f+"\n", a...) },
	}, nil
}

// printPasses writes the pass table (for -list-passes).
func printPasses(w io.Writer) {
	for i, p := range pipeline.AllPasses() {
		req := ""
		if p.Required {
			req = " (required)"
		}
		fmt.Fprintf(w, "%2d  %-20s %s%s\n", i+1, p.Name, p.Doc, req)
	}
}

// load imports and canonicalises one model with the flags' options.
func (p *pipeFlags) load(path string, stderr io.Writer) (*ir.Module, error) {
	o, err := p.options(stderr)
	if err != nil {
		return nil, err
	}
	return pipeline.Load(path, o)
}
