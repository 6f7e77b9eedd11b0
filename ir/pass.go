package ir

import (
	"fmt"
	"runtime/debug"
	"time"
)

// Pass is one named position in the pipeline. The same function may appear
// under several names.
type Pass struct {
	Name     string // kebab-case, unique in a pipeline
	Run      func(*Module) error
	Required bool  // still runs when optimisation is off
	Level    Level // the IR level the pass leaves behind
	Doc      string
}

// RunOptions controls RunPasses.
type RunOptions struct {
	// VerifyEach runs Verify after import and after every pass.
	VerifyEach bool
	// StopAfter stops the pipeline after the named pass ("" = run all).
	StopAfter string
	// SkipOptional skips passes that are not Required.
	SkipOptional bool
	// Before and After are called around each pass (for dumps, timing,
	// progress); nil to skip.
	Before func(p *Pass, m *Module)
	After  func(p *Pass, m *Module, elapsed time.Duration)
}

// RunPasses runs passes in order. A failing pass stops the pipeline with
// an error naming it; a panic inside a pass is recovered and reported as an
// internal error naming the pass and the model; a verifier failure after a
// pass names the pass.
func RunPasses(m *Module, passes []Pass, o RunOptions) error {
	if o.VerifyEach {
		if err := Verify(m); err != nil {
			return fmt.Errorf("IR invalid after import: %w", err)
		}
	}
	for i := range passes {
		p := &passes[i]
		if o.SkipOptional && !p.Required {
			continue
		}
		if o.Before != nil {
			o.Before(p, m)
		}
		start := time.Now()
		if err := runOne(p, m); err != nil {
			return err
		}
		if p.Level > m.Level {
			m.Level = p.Level
		}
		if o.After != nil {
			o.After(p, m, time.Since(start))
		}
		if o.VerifyEach {
			if err := Verify(m); err != nil {
				return fmt.Errorf("internal error: IR invalid after pass %q: %w", p.Name, err)
			}
		}
		if p.Name == o.StopAfter {
			break
		}
	}
	return nil
}

func runOne(p *Pass, m *Module) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: panic during pass %q while compiling %q: %v\n%s", p.Name, m.Name, r, debug.Stack())
		}
	}()
	if err := p.Run(m); err != nil {
		return fmt.Errorf("pass %s: %w", p.Name, err)
	}
	return nil
}

// FindPass returns the index of the named pass, or -1.
func FindPass(passes []Pass, name string) int {
	for i := range passes {
		if passes[i].Name == name {
			return i
		}
	}
	return -1
}
