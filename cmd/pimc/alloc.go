package main

import (
	"errors"
	"flag"

	"pimc/backend"
	"pimc/mapping"
)

// defaultAlloc is the allocation objective of compile, run, map and search
// when --alloc is not given (docs/mapping.md, "Objectives", says why).
const defaultAlloc = mapping.ObjectiveEDP

// allocFlag is --alloc latency|energy|edp: the objective the array
// allocator minimises. The emitted program, report.json, its baselines
// and search's candidates all use it, so that their numbers describe the
// same mapping.
type allocFlag struct{ obj mapping.Objective }

// String is "" for the zero value, so that -h prints "(default edp)".
func (a *allocFlag) String() string {
	if a == nil {
		return ""
	}
	return string(a.obj)
}

func (a *allocFlag) Set(s string) error {
	o, err := mapping.ParseObjective(s)
	if err != nil || s == "" {
		return errAllocValue
	}
	a.obj = o
	return nil
}

var errAllocValue = errors.New("want latency, energy or edp")

// addAllocFlag registers --alloc on fs.
func addAllocFlag(fs *flag.FlagSet) *allocFlag {
	a := &allocFlag{obj: defaultAlloc}
	fs.Var(a, "alloc", "Array allocation `objective`: latency, energy (weights resident, no per-inference reloads when they fit) or edp (energy × latency)")
	return a
}

// objective is the chosen objective (the default when the flag was never
// registered, so that a flag set built without it behaves like the CLI).
func (a *allocFlag) objective() mapping.Objective {
	if a == nil || a.obj == "" {
		return defaultAlloc
	}
	return a.obj
}

// backend is the backend's options for the chosen objective; its Mapping()
// is what the cost model must be evaluated with.
func (a *allocFlag) backend() backend.Options { return backend.Options{Objective: a.objective()} }
