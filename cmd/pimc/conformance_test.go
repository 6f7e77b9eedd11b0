package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"pimc/frontend"
	"pimc/ir"
)

// conformanceRoot finds the ONNX conformance cases: the copy in the repo's
// testdata, else shared/ beside the repo.
func conformanceRoot(t *testing.T) string {
	for _, p := range []string{"../../testdata/conformance", "../../../shared/conformance"} {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
	}
	t.Skip("no conformance cases (testdata/conformance or ../shared/conformance)")
	return ""
}

// TestConformance runs every conformance case through `pimc infer` and
// compares each output with the expected one within the README's
// tolerances. It reports "N passed, M failed".
func TestConformance(t *testing.T) {
	root := conformanceRoot(t)
	var cases []string
	for _, group := range []string{"node", "pytorch-converted", "pytorch-operator", "models"} {
		dirs, _ := filepath.Glob(filepath.Join(root, group, "*"))
		sort.Strings(dirs)
		cases = append(cases, dirs...)
	}
	if len(cases) == 0 {
		t.Fatal("no cases found")
	}
	passed, failed := 0, 0
	var failures []string
	for _, dir := range cases {
		name := strings.TrimPrefix(dir, root+"/")
		err := runCase(t, dir, strings.HasPrefix(name, "models/"))
		if err != nil {
			failed++
			failures = append(failures, fmt.Sprintf("%s: %v", name, err))
		} else {
			passed++
		}
	}
	for _, f := range failures {
		t.Error(f)
	}
	fmt.Printf("conformance: %d passed, %d failed\n", passed, failed)
}

func runCase(t *testing.T, dir string, wholeModel bool) error {
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	sort.Strings(sets)
	if len(sets) == 0 {
		return fmt.Errorf("no test_data_set")
	}
	for _, set := range sets {
		ins, _ := filepath.Glob(filepath.Join(set, "input_*.pb"))
		sortNumbered(ins)
		out := t.TempDir()
		args := append([]string{"infer", "-o", out, filepath.Join(dir, "model.onnx")}, ins...)
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			return fmt.Errorf("pimc infer exit %d: %s", code, strings.TrimSpace(stderr.String()))
		}
		wants, _ := filepath.Glob(filepath.Join(set, "output_*.pb"))
		sortNumbered(wants)
		for i, w := range wants {
			exp, err := frontend.ReadTensor(w)
			if err != nil {
				return err
			}
			got, err := frontend.ReadTensor(filepath.Join(out, fmt.Sprintf("output_%d.pb", i)))
			if err != nil {
				return err
			}
			if err := compareTensors(got, exp, wholeModel); err != nil {
				return fmt.Errorf("%s output %d: %v", filepath.Base(set), i, err)
			}
		}
	}
	return nil
}

func sortNumbered(paths []string) {
	num := func(p string) int {
		var n int
		b := filepath.Base(p)
		fmt.Sscanf(b[strings.LastIndex(b, "_")+1:], "%d", &n)
		return n
	}
	sort.Slice(paths, func(i, j int) bool { return num(paths[i]) < num(paths[j]) })
}

// compareTensors applies the conformance README's rules: same dtype and
// shape; floats within atol + rtol·|expected| (operators) or
// 1e-3·|expected| + 1e-4·max|expected| (whole models); integers exact.
func compareTensors(got, exp *ir.Tensor, wholeModel bool) error {
	if got.DType != exp.DType || !got.Type().Equal(exp.Type()) {
		return fmt.Errorf("got %s, want %s", got.Type(), exp.Type())
	}
	if !exp.DType.IsFloat() {
		for i := range exp.I {
			if got.I[i] != exp.I[i] {
				return fmt.Errorf("element %d: got %d, want %d", i, got.I[i], exp.I[i])
			}
		}
		return nil
	}
	atol, rtol := 1e-7, 1e-3
	if wholeModel {
		mx := 0.0
		for _, v := range exp.F {
			mx = math.Max(mx, math.Abs(float64(v)))
		}
		atol = 1e-4 * mx
	}
	for i := range exp.F {
		e, g := float64(exp.F[i]), float64(got.F[i])
		if math.IsNaN(e) && math.IsNaN(g) {
			continue
		}
		if math.IsInf(e, 0) && e == g {
			continue
		}
		if !(math.Abs(g-e) <= atol+rtol*math.Abs(e)) {
			return fmt.Errorf("element %d: got %g, want %g (|diff| %g > %g)", i, g, e, math.Abs(g-e), atol+rtol*math.Abs(e))
		}
	}
	return nil
}
