package passes

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"pimc/interp"
	"pimc/ir"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/<pass>/*.txtar")

// testPasses names each pass as the pipeline table does; the testdata
// directory of a pass carries its name.
var testPasses = []struct {
	name string
	run  func(*ir.Module) error
}{
	{"fold-constants", FoldConstants},
	{"remove-identity", RemoveIdentity},
	{"fold-batchnorm", FoldBatchNorm},
	{"fold-pad", FoldPad},
	{"fuse-matmul-add", FuseMatMulAdd},
	{"dce", EliminateDeadCode},
	{"resolve-auto-pad", ResolveAutoPad},
	{"lower-sum", LowerSum},
}

func passFunc(t *testing.T, name string) func(*ir.Module) error {
	t.Helper()
	for _, p := range testPasses {
		if p.name == name {
			return p.run
		}
	}
	t.Fatalf("no pass named %q", name)
	return nil
}

// TestTestdataNamesPasses keeps testdata/ and testPasses in step.
func TestTestdataNamesPasses(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if d.IsDir() {
			passFunc(t, d.Name())
		}
	}
	for _, p := range testPasses {
		if files, _ := filepath.Glob(filepath.Join("testdata", p.name, "*.txtar")); len(files) == 0 {
			t.Errorf("pass %q has no test cases in testdata/%s", p.name, p.name)
		}
	}
}

// runTxtar runs every testdata/<pass>/*.txtar case. A case has an
// "input" section (text IR) and either "want" (the IR after the pass) or
// "error" (a substring of the pass's error). Comment lines of the form
// "needs: Op Op ..." name the interpreter kernels the case relies on; the
// case is skipped while any of them is missing, so it goes live by itself
// when the kernel lands.
//
// The harness parses, verifies, runs the pass, verifies, prints and
// compares; it also checks that the pass is deterministic (a second run on
// a fresh parse prints the same) and idempotent (running it again changes
// nothing). With -update it rewrites the want sections instead.
func runTxtar(t *testing.T, pass string) {
	run := passFunc(t, pass)
	files, err := filepath.Glob(filepath.Join("testdata", pass, "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases in testdata/%s", pass)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			runCase(t, file, run)
		})
	}
}

func runCase(t *testing.T, file string, run func(*ir.Module) error) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]*txtar.File{}
	for i := range ar.Files {
		sections[ar.Files[i].Name] = &ar.Files[i]
	}
	for _, line := range strings.Split(string(ar.Comment), "\n") {
		if ops, ok := strings.CutPrefix(line, "needs:"); ok {
			for _, name := range strings.Fields(ops) {
				op, ok := ir.LookupOp("", name)
				if !ok {
					t.Fatalf("needs: unknown op %q", name)
				}
				if !interp.Supported(op) {
					t.Skipf("interp has no kernel for %s yet", name)
				}
			}
		}
	}
	in := sections["input"]
	if in == nil {
		t.Fatal("no input section")
	}
	parse := func() *ir.Module {
		m, err := ir.Parse(file+" (input)", in.Data)
		if err != nil {
			t.Fatal(err)
		}
		if err := ir.Verify(m); err != nil {
			// ir.Verify cannot infer through shape operands that
			// only fold-constants makes constant (Reshape of a
			// Shape→…→Concat chain); such an input is what the pass
			// is for, and the IR after it must verify.
			if strings.Contains(err.Error(), "must be a constant") {
				t.Logf("input verifies only after folding: %v", err)
				return m
			}
			t.Fatalf("input does not verify: %v", err)
		}
		return m
	}
	m := parse()
	err = run(m)
	if wantErr := sections["error"]; wantErr != nil {
		want := strings.TrimSpace(string(wantErr.Data))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want one containing %q", err, want)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatalf("IR invalid after the pass: %v\n%s", err, m)
	}
	got := m.String()

	again := parse()
	if err := run(again); err != nil || again.String() != got {
		t.Errorf("a second run on a fresh parse differs (err %v):\n%s", err, again)
	}
	if err := run(m); err != nil || m.String() != got {
		t.Errorf("the pass is not idempotent (err %v); second application gives:\n%s", err, m)
	}

	if *update {
		if w := sections["want"]; w != nil {
			w.Data = []byte(got)
		} else {
			ar.Files = append(ar.Files, txtar.File{Name: "want", Data: []byte(got)})
		}
		if err := os.WriteFile(file, txtar.Format(ar), 0o666); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := sections["want"]
	if want == nil {
		t.Fatalf("no want section (run go test -update); got:\n%s", got)
	}
	if !bytes.Equal(want.Data, []byte(got)) {
		t.Errorf("IR after the pass differs from want (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", got, want.Data)
	}
}
