// Package pipeline owns pimc's one ordered pass table and the load step
// (import + canonicalisation) that every command shares.
//
// Layering: pipeline may import every compiler package (frontend, ir,
// interp, passes, dualnet, partition, mapping, backend); only cmd/pimc
// imports pipeline.
package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"pimc/dualnet"
	"pimc/frontend"
	"pimc/ir"
	"pimc/partition"
	"pimc/passes"
)

// Canonical is the canonicalisation part of the pipeline, in order.
func Canonical() []ir.Pass {
	return []ir.Pass{
		{Name: "fold-constants", Run: passes.FoldConstants, Required: true, Level: ir.LevelCanonical,
			Doc: "evaluate constant sub-graphs (shape arithmetic, generated weights) into constants"},
		{Name: "remove-identity", Run: passes.RemoveIdentity, Required: true, Level: ir.LevelCanonical,
			Doc: "drop Identity and inference-mode Dropout"},
		{Name: "resolve-auto-pad", Run: passes.ResolveAutoPad, Required: true, Level: ir.LevelCanonical,
			Doc: "turn auto_pad into explicit pads"},
		{Name: "fuse-matmul-add", Run: passes.FuseMatMulAdd, Level: ir.LevelCanonical,
			Doc: "MatMul by a constant plus a constant bias becomes Gemm"},
		{Name: "lower-sum", Run: passes.LowerSum, Required: true, Level: ir.LevelCanonical,
			Doc: "rewrite variadic Sum as binary Adds"},
		{Name: "record-bn-stats", Run: dualnet.RecordBNStats, Level: ir.LevelCanonical,
			Doc: "remember each BatchNorm's channel statistics for data-free calibration before folding removes them"},
		{Name: "fold-batchnorm", Run: passes.FoldBatchNorm, Level: ir.LevelCanonical,
			Doc: "fold BatchNormalization into the preceding Conv/Gemm, or forward into the next Gemm/MatMul"},
		{Name: "fold-pad", Run: passes.FoldPad, Level: ir.LevelCanonical,
			Doc: "fold zero constant Pad into Conv pads (and into AveragePool/MaxPool where exact)"},
		{Name: "dce", Run: passes.EliminateDeadCode, Required: true, Level: ir.LevelCanonical,
			Doc: "remove nodes and constants nothing reads"},
	}
}

// passOrder lists (before, after) constraints with the reason for each;
// TestPassOrder checks the table against it.
var passOrder = [][2]string{
	// BN and Pad folding need constant weights, which folding produces.
	{"fold-constants", "fold-batchnorm"},
	{"fold-constants", "fold-pad"},
	// Dropout between Conv and BN would block BN folding.
	{"remove-identity", "fold-batchnorm"},
	// fold-pad adds to explicit pads; SAME_* pads must be resolved first.
	{"resolve-auto-pad", "fold-pad"},
	// Data-free calibration reads the statistics folding deletes.
	{"record-bn-stats", "fold-batchnorm"},
	{"fold-constants", "record-bn-stats"},
	// MatMul→Add→BN folds only once MatMul+Add is a Gemm.
	{"fuse-matmul-add", "fold-batchnorm"},
	// Partitioning reads the quantized ops.
	{"quantize", "partition"},
	{"dual-split", "quantize"},
	{"calibrate", "dual-split"},
	// Folding leaves dead constants behind.
	{"fold-batchnorm", "dce"},
}

// CheckOrder verifies a pass list against the ordering constraints.
func CheckOrder(list []ir.Pass) error {
	for _, c := range passOrder {
		a, b := ir.FindPass(list, c[0]), ir.FindPass(list, c[1])
		if a < 0 || b < 0 {
			continue
		}
		if a > b {
			return fmt.Errorf("passes %s and %s out of order", c[0], c[1])
		}
	}
	return nil
}

// Options controls Load.
type Options struct {
	Bindings map[string]int64
	// Constants fixes graph inputs (by name) to values, e.g. the integer
	// shape inputs that ONNX's node tests feed at run time.
	Constants  map[string]*ir.Tensor
	VerifyEach bool
	StopAfter  string
	// DumpAfter/DumpBefore name passes ("all" for every pass) whose IR is
	// written to DumpDir (or Stdout when DumpDir is empty).
	DumpAfter, DumpBefore []string
	DumpFormat            string // "text" (default) or "dot"
	DumpDir               string
	Stdout                *os.File
	Time                  bool // print each pass's time to Log
	Verbose               bool
	Log                   func(format string, args ...any)
}

// Load imports a model and runs the canonicalisation passes.
func Load(path string, o Options) (*ir.Module, error) {
	m, err := frontend.Import(path, frontend.Options{Bindings: o.Bindings, Constants: o.Constants})
	if err != nil {
		return nil, err
	}
	if err := Run(m, loadPasses(), o); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// loadPasses is Canonical for a module fresh from frontend.Import, whose
// constant tensors are its own: the importer copies Options.Constants,
// its weights live in its own buffer holding the file's bytes (a heap
// copy, never a caller's slice nor a mapping of the file), no Clone of the
// module exists yet, and no canonical pass clones it or keeps its tensors
// elsewhere. So fold-batchnorm may scale weights in place
// (passes.FoldBatchNormInPlace) instead of allocating a copy of every
// folded weight. Any other caller of Canonical may hold a clone, and gets
// the copying pass.
func loadPasses() []ir.Pass {
	list := Canonical()
	if i := ir.FindPass(list, "fold-batchnorm"); i >= 0 {
		list[i].Run = passes.FoldBatchNormInPlace
	}
	return list
}

// Run runs a pass list with the dump/time/verbose options of o.
func Run(m *ir.Module, list []ir.Pass, o Options) error {
	if err := CheckOrder(list); err != nil {
		return fmt.Errorf("internal error: %w", err)
	}
	for _, name := range append(append([]string{}, o.DumpAfter...), o.DumpBefore...) {
		if name != "all" && ir.FindPass(list, name) < 0 && ir.FindPass(AllPasses(), name) < 0 {
			return fmt.Errorf("unknown pass %q (see -list-passes)", name)
		}
	}
	if o.StopAfter != "" && ir.FindPass(list, o.StopAfter) < 0 && ir.FindPass(AllPasses(), o.StopAfter) < 0 {
		return fmt.Errorf("unknown pass %q (see -list-passes)", o.StopAfter)
	}
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	seq := 0
	var dumpErr error
	dump := func(when string, p *ir.Pass, m *ir.Module) {
		seq++
		if dumpErr != nil {
			return
		}
		dumpErr = Dump(m, fmt.Sprintf("%s %s", when, p.Name), seq, p.Name, o)
	}
	ro := ir.RunOptions{
		VerifyEach: o.VerifyEach,
		StopAfter:  o.StopAfter,
		Before: func(p *ir.Pass, m *ir.Module) {
			if o.Verbose {
				logf("pass %s", p.Name)
			}
			if matches(o.DumpBefore, p.Name) {
				dump("before", p, m)
			}
		},
		After: func(p *ir.Pass, m *ir.Module, d time.Duration) {
			if o.Time {
				logf("%-20s %8.3f ms", p.Name, float64(d.Microseconds())/1000)
			}
			if matches(o.DumpAfter, p.Name) {
				dump("after", p, m)
			}
		},
	}
	if err := ir.RunPasses(m, list, ro); err != nil {
		return err
	}
	return dumpErr
}

func matches(list []string, name string) bool {
	for _, s := range list {
		if s == name || s == "all" {
			return true
		}
	}
	return false
}

// Dump writes m in o.DumpFormat to o.DumpDir as <model>_<seq>__<pass>.txt
// (Go's GOSSADIR naming), or to o.Stdout under a banner.
func Dump(m *ir.Module, banner string, seq int, pass string, o Options) error {
	var b strings.Builder
	var err error
	ext := "txt"
	if o.DumpFormat == "dot" {
		ext = "dot"
		err = ir.WriteDOT(&b, m)
	} else {
		err = ir.Print(&b, m)
	}
	if err != nil {
		return err
	}
	if o.DumpDir == "" {
		out := o.Stdout
		if out == nil {
			out = os.Stdout
		}
		_, err := fmt.Fprintf(out, "// ----- IR dump %s -----\n%s", banner, b.String())
		return err
	}
	if err := os.MkdirAll(o.DumpDir, 0o755); err != nil {
		return err
	}
	name := fmt.Sprintf("%s_%02d__%s.%s", sanitize(m.Name), seq, pass, ext)
	return os.WriteFile(filepath.Join(o.DumpDir, name), []byte(b.String()), 0o644)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// Quantize is the DualNet part of the pipeline: calibrate, dual-split,
// quantize, then partition onto engines.
func Quantize(o dualnet.Options) []ir.Pass {
	return append(dualnet.Passes(o), PartitionPass())
}

// PartitionPass assigns every node an engine.
func PartitionPass() ir.Pass {
	return ir.Pass{Name: "partition", Run: partition.Assign, Required: true, Level: ir.LevelPartitioned, Doc: partition.Doc}
}

// AllPasses is every pass pimc knows, in pipeline order (for -list-passes).
func AllPasses() []ir.Pass {
	return append(Canonical(), Quantize(dualnet.DefaultOptions())...)
}
