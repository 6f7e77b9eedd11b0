package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pimc/cost"
	"pimc/mapping"
)

// TestAllocFlag: --alloc is accepted by compile, run, map and search with
// the same values, and a bad value is a usage error (exit 2).
func TestAllocFlag(t *testing.T) {
	for _, cmd := range [][]string{
		{"compile", "x.onnx"},
		{"run", "--check", "x.onnx"},
		{"map", "--array", "8x8", "--ifm", "4", "--kernel", "1", "--ic", "1", "--oc", "1"},
		{"search", "--data", "d", "x.onnx"},
	} {
		code, _, errs := runCLI(append([]string{cmd[0], "--alloc", "fastest"}, cmd[1:]...)...)
		if code != 2 || !strings.Contains(errs, "latency, energy or edp") {
			t.Errorf("%s --alloc fastest: exit %d, stderr %q", cmd[0], code, errs)
		}
	}
	code, out, errs := runCLI("map", "--alloc", "energy", "--json", "--array", "8x8", "--ifm", "4", "--kernel", "1", "--ic", "1", "--oc", "1")
	if code != 0 || !strings.Contains(out, `"alloc": "energy"`) {
		t.Errorf("map --alloc energy: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, out, _ := runCLI("map", "--array", "8x8", "--ifm", "4", "--kernel", "1", "--ic", "1", "--oc", "1"); code != 0 ||
		!strings.Contains(out, "auto (--alloc "+string(defaultAlloc)+")") {
		t.Errorf("map: default objective not shown: %q", out)
	}
}

// TestCompileRecordsAlloc: report.json names the objective, the chosen
// report and both baselines use it, and the program follows it (edp and
// latency place ResNet-20's weights differently). runtime's
// TestAgreesWithCostModel checks that each objective's program runs as
// the cost model says.
func TestCompileRecordsAlloc(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles ResNet-20")
	}
	if _, err := os.Stat(resnet20); err != nil {
		t.Skip(err)
	}
	progs := map[mapping.Objective][]byte{}
	for _, obj := range []mapping.Objective{mapping.ObjectiveLatency, mapping.ObjectiveEDP} {
		dir := t.TempDir()
		if code, _, errs := runCLI("compile", "--alloc", string(obj), "-o", dir, resnet20); code != 0 {
			t.Fatalf("compile --alloc %s: exit %d: %s", obj, code, errs)
		}
		data, err := os.ReadFile(filepath.Join(dir, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var f cost.ReportFile
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*cost.Report{f.Chosen, f.INT4Only, f.TBOnly} {
			if r == nil || r.Alloc != obj {
				t.Fatalf("--alloc %s: a report is missing or has alloc %v", obj, r)
			}
		}
		if progs[obj], err = os.ReadFile(filepath.Join(dir, "program.pimb")); err != nil {
			t.Fatal(err)
		}
	}
	if string(progs[mapping.ObjectiveLatency]) == string(progs[mapping.ObjectiveEDP]) {
		t.Error("latency and edp give the same program on ResNet-20")
	}
}
