package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pimc/dataset"
)

// TestResultsQuick runs `pimc results --quick` on the smallest model, so
// that the command behind docs/results.md cannot rot; twice, to check that
// the file is deterministic.
func TestResultsQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a search")
	}
	dir := t.TempDir()
	gen := func(name string, workers string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		args := []string{"--quick", "--testdata", filepath.Join("..", "..", "testdata"), "--models", "mnist-8_onnxzoo_cntk",
			"--population", "4", "--generations", "1", "--workers", workers, "--out", out}
		var stdout, stderr bytes.Buffer
		if code := runResults(args, &stdout, &stderr); code != 0 {
			t.Fatalf("pimc results %v: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	md := gen("a.md", "2")
	for _, want := range []string{
		"| mnist-8_onnxzoo_cntk | MNIST | 100 | 100 | 1 |", // report and search images, split layers
		"| **average** |",
		"energy saved", "`dualpim-28nm`", "pimc search --data", "pimc compile --ratios WORK/mnist-8_onnxzoo_cntk/search/best.json",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	// The allocation objective the cost used is recorded, and was passed
	// to both commands.
	if !strings.Contains(md, "`--alloc "+string(defaultAlloc)+"`") || !strings.Contains(md, "--alloc "+string(defaultAlloc)+" ") {
		t.Errorf("results.md does not record --alloc %s", defaultAlloc)
	}
	// The workers and the output name are in the recorded command; the rest
	// must be byte-identical.
	strip := func(s string) string { _, rest, _ := strings.Cut(s, "## Setup"); return rest }
	if md2 := gen("b.md", "1"); strip(md2) != strip(md) {
		t.Errorf("two runs differ:\n%s\n---\n%s", md, md2)
	}
}

func TestResultsUsage(t *testing.T) {
	for _, args := range [][]string{{"--models", "nope"}, {"extra"}, {"--resume"}} {
		var out, errb bytes.Buffer
		if code := runResults(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "pimc results") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}

// TestEvalOrderInterleavesClasses: the CIFAR-10 tar is sorted by class, so
// slices count positions class-interleaved; every run of 10 positions holds
// one image of each class, and the order is a permutation.
func TestEvalOrderInterleavesClasses(t *testing.T) {
	data := &dataset.Flags{Data: filepath.Join("..", "..", "testdata", "data", "cifar10", "cifar10_test_jpeg_q75_yoongikim_first50.tar.gz"), Preset: "cifar10"}
	spec := dataset.Spec{C: 3, H: 32, W: 32, Layout: dataset.NCHW}
	set, idx, err := openSlice(data, spec, 200, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 100 {
		t.Fatalf("%d images, want 100", len(idx))
	}
	for s := 0; s < len(idx); s += 10 {
		seen := map[int]bool{}
		for _, i := range idx[s : s+10] {
			seen[set.Label(i)] = true
		}
		if len(seen) != 10 {
			t.Errorf("positions %d…%d hold %d classes, want 10", 200+s, 209+s, len(seen))
		}
	}
	order := evalOrder(set)
	hit := make([]bool, set.Len())
	for _, i := range order {
		if hit[i] {
			t.Fatalf("item %d twice in the order", i)
		}
		hit[i] = true
	}
	// File-ordered formats keep file order.
	mn := &dataset.Flags{Data: filepath.Join("..", "..", "testdata", "data", "mnist", "t10k-images-idx3-ubyte.gz")}
	if _, idx, err := openSlice(mn, dataset.Spec{C: 1, H: 28, W: 28, Layout: dataset.NCHW}, 100, 5); err != nil || fmt.Sprint(idx) != "[100 101 102 103 104]" {
		t.Errorf("MNIST slice = %v, %v; want [100 101 102 103 104]", idx, err)
	}
}
