package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"pimc/dataset"
	"pimc/frontend"
	"pimc/ir"
)

const resnet20 = "../../testdata/models/cifar10/resnet20_bn_amandashi95.onnx"

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestUsageAndExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr string
		inStdout string
	}{
		{"no args", nil, 2, "Usage", ""},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command", ""},
		{"help", []string{"help"}, 0, "", "compile"},
		{"help compile", []string{"help", "compile"}, 0, "", "usage: pimc compile"},
		{"help unknown", []string{"help", "nope"}, 2, "unknown command", ""},
		{"version", []string{"version"}, 0, "", "pimc "},
		{"hw default", []string{"hw"}, 0, "", `"dualpim-28nm"`},
		{"hw missing file", []string{"hw", "/nonexistent.json"}, 1, "nonexistent.json", ""},
		{"bad flag", []string{"compile", "-nope", "x.onnx"}, 2, "flag provided but not defined", ""},
		{"compile no model", []string{"compile"}, 2, "want exactly one", ""},
		{"infer no -o", []string{"infer", "m.onnx"}, 2, "missing -o", ""},
		{"missing file", []string{"compile", "-o", "/nonexistent/x", "does-not-exist.onnx"}, 1, "pimc: ", ""},
		{"list passes", []string{"compile", "-list-passes"}, 0, "", "fold-constants"},
		{"dot bad format", []string{"dot", "--format", "gif", "m.onnx"}, 2, "--format", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			if !strings.Contains(errs, tc.inStderr) {
				t.Errorf("stderr %q does not contain %q", errs, tc.inStderr)
			}
			if !strings.Contains(out, tc.inStdout) {
				t.Errorf("stdout %q does not contain %q", out, tc.inStdout)
			}
		})
	}
}

func TestBadModelFiles(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(resnet20)
	if err != nil {
		t.Fatal("testdata missing:", err)
	}
	files := map[string][]byte{
		"empty.onnx":     {},
		"truncated.onnx": good[:len(good)/3],
		"random.onnx":    bytes.Repeat([]byte{0xff, 0x13, 0x07, 0x99}, 1000),
		"text.onnx":      []byte("this is not an ONNX model\n"),
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, errs := runCLI("compile", "-o", filepath.Join(dir, "out"), p)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr %s", code, errs)
			}
			if !strings.HasPrefix(errs, "pimc: ") || !strings.Contains(errs, name) {
				t.Errorf("stderr %q should start with 'pimc: ' and name the file", errs)
			}
		})
	}
}

// TestCompileDeterministic compiles twice, with flags before and after the
// model path, and requires byte-identical ir.txt and ir.dot.
func TestCompileDeterministic(t *testing.T) {
	if _, err := os.Stat(resnet20); err != nil {
		t.Fatal("testdata missing:", resnet20)
	}
	// b does not exist yet: compile creates it (its files are written
	// concurrently).
	a, b := t.TempDir(), filepath.Join(t.TempDir(), "new", "out")
	if code, _, errs := runCLI("compile", "-o", a, resnet20); code != 0 {
		t.Fatalf("compile: %s", errs)
	}
	if code, _, errs := runCLI(resnet20, "-o", b); code != 0 {
		t.Fatalf("pimc MODEL -o: %s", errs)
	}
	for _, f := range []string{"ir.txt", "ir.dot", "report.json", "utilisation.svg", "program.pimb", "program.s"} {
		x, err1 := os.ReadFile(filepath.Join(a, f))
		y, err2 := os.ReadFile(filepath.Join(b, f))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(x, y) || len(x) == 0 {
			t.Errorf("%s differs between two compiles (or is empty)", f)
		}
	}
	txt, _ := os.ReadFile(filepath.Join(a, "ir.txt"))
	for _, op := range []string{"BatchNormalization", "Shape(", "Gather(", "Identity(", " = Conv("} {
		if strings.Contains(string(txt), op) {
			t.Errorf("compiled IR still contains %s", op)
		}
	}
	for _, op := range []string{"DualConv(", "[dual dual]", "QGemm("} {
		if !strings.Contains(string(txt), op) {
			t.Errorf("compiled IR lacks %s", op)
		}
	}
	rep, _ := os.ReadFile(filepath.Join(a, "report.json"))
	for _, k := range []string{`"int4-only"`, `"tb-only"`, `"energy_saved"`} {
		if !bytes.Contains(rep, []byte(k)) {
			t.Errorf("report.json lacks %s", k)
		}
	}
}

func TestDumpAfter(t *testing.T) {
	if _, err := os.Stat(resnet20); err != nil {
		t.Fatal("testdata missing:", resnet20)
	}
	dir := t.TempDir()
	code, _, errs := runCLI("compile", "-o", filepath.Join(dir, "o"), "-dump-after", "fold-batchnorm", "-dump-dir", dir, resnet20)
	if code != 0 {
		t.Fatal(errs)
	}
	dumps, _ := filepath.Glob(filepath.Join(dir, "*__fold-batchnorm.txt"))
	if len(dumps) != 1 {
		t.Fatalf("want one dump file, got %v", dumps)
	}
	code, _, errs = runCLI("compile", "-o", filepath.Join(dir, "o"), "-dump-after", "no-such-pass", resnet20)
	if code != 1 || !strings.Contains(errs, "no-such-pass") {
		t.Errorf("unknown pass: exit %d, stderr %q", code, errs)
	}
}

func TestDotFormats(t *testing.T) {
	if _, err := os.Stat(resnet20); err != nil {
		t.Fatal("testdata missing:", resnet20)
	}
	dir := t.TempDir()
	code, out, errs := runCLI("dot", resnet20)
	if code != 0 || !strings.HasPrefix(out, "digraph") {
		t.Fatalf("dot: exit %d, stderr %s", code, errs)
	}
	// By default the graph is partitioned: nodes are coloured by engine.
	for _, s := range []string{"fillcolor", "[dual dual]", "[sram int8]", "[ppu "} {
		if !strings.Contains(out, s) {
			t.Errorf("default dot output lacks %q", s)
		}
	}
	if _, out, _ := runCLI("dot", "--after", "fold-batchnorm", resnet20); strings.Contains(out, "fillcolor") {
		t.Error("dot --after fold-batchnorm should draw the float graph, uncoloured")
	}
	if _, err := exec.LookPath("dot"); err != nil {
		code, _, errs := runCLI("dot", "--format", "svg", "-o", filepath.Join(dir, "g.svg"), resnet20)
		if code != 1 || !strings.Contains(errs, "graphviz") {
			t.Errorf("without graphviz: exit %d, stderr %q", code, errs)
		}
		return
	}
	code, _, errs = runCLI("dot", "--format", "svg", "-o", filepath.Join(dir, "g.svg"), "--after", "fold-constants", resnet20)
	if code != 0 {
		t.Fatal(errs)
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "g.svg"))
	if !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("BatchNormalization")) {
		t.Errorf("svg after fold-constants should be an SVG still showing BatchNormalization")
	}
}

// TestInferQuantized runs `pimc infer` in FP32 and with --quantized on a
// real MNIST digit and checks that INT4-only agrees with FP32's class.
func TestInferQuantized(t *testing.T) {
	const model = "../../testdata/models/mnist/mnist-8_onnxzoo_cntk.onnx"
	set, err := dataset.Open("../../testdata/data/mnist/t10k-images-idx3-ubyte.gz", dataset.Options{Limit: 1, Spec: dataset.Spec{C: 1, H: 28, W: 28, Scale: 1}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "input_0.pb")
	if err := frontend.WriteTensor(in, ir.FloatTensor(set.Image(0), 1, 1, 28, 28), "Input3"); err != nil {
		t.Fatal(err)
	}
	argmax := func(args ...string) int {
		out := filepath.Join(dir, "o"+strings.Join(args, ""))
		code, _, errs := runCLI(append([]string{"infer", "-o", out}, append(args, model, in)...)...)
		if code != 0 {
			t.Fatalf("infer %v: %s", args, errs)
		}
		y, err := frontend.ReadTensor(filepath.Join(out, "output_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		best := 0
		for i, v := range y.F {
			if v > y.F[best] {
				best = i
			}
		}
		return best
	}
	fp, q := argmax(), argmax("--quantized", "--ratio", "1", "--calib", "../../testdata/data/mnist/t10k-images-idx3-ubyte.gz", "--preset", "mnist-raw", "--calib-limit", "50")
	if fp != set.Label(0) || q != fp {
		t.Errorf("label %d, FP32 class %d, INT4-only class %d", set.Label(0), fp, q)
	}
}

// TestCompileTimePhases: -time prints every phase of compile with its wall
// and CPU time, besides the passes.
func TestCompileTimePhases(t *testing.T) {
	code, _, errs := runCLI("compile", "-time", "-o", t.TempDir(), resnet20)
	if code != 0 {
		t.Fatalf("compile: %s", errs)
	}
	for _, p := range []string{"load", "calibrate", "lower (chosen)", "emit + cost (chosen)", "baselines (rest)", "write report"} {
		re := regexp.MustCompile(`(?m)^pimc: ` + regexp.QuoteMeta(p) + ` +[0-9.]+ ms \(phase, [0-9.]+ ms CPU\)$`)
		if !re.MatchString(errs) {
			t.Errorf("no phase line for %q in:\n%s", p, errs)
		}
	}
	if !strings.Contains(errs, "pimc: quantize ") {
		t.Errorf("pass times missing:\n%s", errs)
	}
	if _, _, errs := runCLI("compile", "-o", t.TempDir(), resnet20); strings.Contains(errs, "(phase") {
		t.Errorf("phase times printed without -time:\n%s", errs)
	}
}
