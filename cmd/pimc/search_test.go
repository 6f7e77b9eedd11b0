package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pimc/dualnet"
	"pimc/pipeline"
)

func TestSearchMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quantized executor")
	}
	model := filepath.Join("..", "..", "testdata", "models", "mnist", "mnist-8_onnxzoo_cntk.onnx")
	data := filepath.Join("..", "..", "testdata", "data", "mnist", "t10k-images-idx3-ubyte.gz")
	run1 := func(dir string, extra ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args := append([]string{"--data", data, "--population", "6", "--generations", "2", "--limit", "100",
			"--seed", "5", "--max-drop", "2", "--report-limit", "200", "--progress", "off", "-o", dir}, extra...)
		args = append(args, model)
		if code := runSearch(args, &out, &errb); code != 0 {
			t.Fatalf("pimc search %v: exit %d\n%s%s", args, code, out.String(), errb.String())
		}
		t.Logf("%s", out.String())
		b, err := os.ReadFile(filepath.Join(dir, "pareto.json"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dir1, dir2 := t.TempDir(), t.TempDir()
	p1 := run1(dir1)
	for _, f := range []string{"pareto.json", "best.json", "pareto.png", "checkpoint.json"} {
		if _, err := os.Stat(filepath.Join(dir1, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	var pf paretoFile
	if err := json.Unmarshal([]byte(p1), &pf); err != nil {
		t.Fatal(err)
	}
	if len(pf.Front) == 0 || pf.Best == nil || len(pf.Layers) == 0 || pf.Images != 100 || pf.Offset != 200 {
		t.Errorf("pareto.json: %d front members, best %v, layers %v, %d images from %d", len(pf.Front), pf.Best, pf.Layers, pf.Images, pf.Offset)
	}
	if pf.Best != nil && !pf.Best.Feasible {
		t.Errorf("best is over the accuracy budget: drop %.2f", pf.Best.DropPts)
	}
	m, err := pipeline.Load(model, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := dualnet.ParseRatios(filepath.Join(dir1, "best.json"), m)
	if err != nil {
		t.Fatalf("best.json: %v", err)
	}
	if len(r.PerLayer) != len(pf.Layers) {
		t.Errorf("best.json has %d layers, want %d", len(r.PerLayer), len(pf.Layers))
	}
	f, err := os.Open(filepath.Join(dir1, "pareto.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("pareto.png: %v", err)
	}
	// Same seed, other worker count: the same pareto.json.
	if p2 := run1(dir2, "--workers", "1"); p2 != p1 {
		t.Errorf("two runs with the same seed differ:\n%s\n---\n%s", p1, p2)
	}
	// Interrupted after one generation, then resumed: the same result.
	dir3 := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"--data", data, "--population", "6", "--generations", "1", "--limit", "100",
		"--seed", "5", "--max-drop", "2", "--report-limit", "200", "--progress", "off", "-o", dir3, model}
	if code := runSearch(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if p3 := run1(dir3, "--resume"); p3 != p1 {
		t.Errorf("interrupted and resumed run differs:\n%s\n---\n%s", p1, p3)
	}
	// A checkpoint from another run is refused.
	out.Reset()
	errb.Reset()
	args = []string{"--data", data, "--population", "6", "--generations", "3", "--limit", "100", "--max-drop", "3",
		"--seed", "5", "--report-limit", "200", "--progress", "off", "--resume", "-o", dir3, model}
	if code := runSearch(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), "another run") {
		t.Errorf("resume with another --max-drop: exit %d, %s", code, errb.String())
	}
	// Resume from the finished checkpoint: nothing left to do, same result.
	if p3 := run1(dir1, "--resume"); p3 != p1 {
		t.Errorf("resumed run differs")
	}
}

func TestSearchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"m.onnx"},
		{"--data", "x", "--objectives", "speed", "m.onnx"},
		{"--data", "x", "--population", "1", "m.onnx"},
		{"--data", "x"},
	} {
		var out, errb bytes.Buffer
		if code := runSearch(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "pimc search") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}

// TestSearchArrayBudget: --max-arrays maps every candidate on the budgeted
// chip, records it, writes it as DIR/hw.json, and compiling best.json on
// that file gives the energy the search reported; budgets outside the
// chip are refused.
func TestSearchArrayBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quantized executor")
	}
	model := filepath.Join("..", "..", "testdata", "models", "mnist", "lenet5_ccoltong1215_b10.onnx")
	data := filepath.Join("..", "..", "testdata", "data", "mnist", "t10k-images-idx3-ubyte.gz")
	dir := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"--data", data, "--preset", "mnist", "--population", "4", "--generations", "1", "--limit", "50",
		"--report-limit", "200", "--max-arrays", "8,4", "--progress", "off", "-o", dir, model}
	if code := runSearch(args, &out, &errb); code != 0 {
		t.Fatalf("pimc search %v: exit %d\n%s", args, code, errb.String())
	}
	var pf paretoFile
	b, err := os.ReadFile(filepath.Join(dir, "pareto.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pf); err != nil {
		t.Fatal(err)
	}
	if pf.HW != "dualpim-28nm+arrays-8-4" || pf.Alloc != string(defaultAlloc) || pf.Best == nil {
		t.Fatalf("pareto.json: hw %q, alloc %q, best %v", pf.HW, pf.Alloc, pf.Best)
	}
	var rep struct {
		Chosen struct {
			Totals struct {
				Energy struct {
					Total float64 `json:"total_fj"`
				} `json:"energy"`
			} `json:"totals"`
			SRAM struct {
				Arrays int `json:"arrays"`
			} `json:"sram"`
			EDRAM struct {
				Arrays int `json:"arrays"`
			} `json:"edram"`
		} `json:"chosen"`
	}
	out.Reset()
	errb.Reset()
	cargs := []string{"--hw", filepath.Join(dir, "hw.json"), "--ratios", filepath.Join(dir, "best.json"),
		"--no-baselines", "--json", "-o", t.TempDir(), model}
	if code := runCompile(cargs, &out, &errb); code != 0 {
		t.Fatalf("pimc compile %v: exit %d\n%s", cargs, code, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if c := rep.Chosen; c.Totals.Energy.Total != pf.Best.EnergyFJ || c.SRAM.Arrays != 8 || c.EDRAM.Arrays != 4 {
		t.Errorf("compile on DIR/hw.json: %g fJ on %d/%d arrays; the search reported %g fJ on 8/4",
			c.Totals.Energy.Total, c.SRAM.Arrays, c.EDRAM.Arrays, pf.Best.EnergyFJ)
	}
	for _, bad := range []string{"8", "0,4", "65,4", "8,33", "8,4,1", "a,b"} {
		errb.Reset()
		if code := runSearch([]string{"--data", data, "--max-arrays", bad, "-o", t.TempDir(), model}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "--max-arrays") {
			t.Errorf("--max-arrays %s: exit %d, stderr %q", bad, code, errb.String())
		}
	}
}
