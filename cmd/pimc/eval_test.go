package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pimc/cost"
	"pimc/dualnet"
	"pimc/ir"
)

func evalArgs(extra ...string) []string {
	root := filepath.Join("..", "..")
	return append([]string{
		"--data", filepath.Join(root, "testdata/data/mnist/t10k-images-idx3-ubyte.gz"),
		"--preset", "mnist", "--limit", "60", "--progress", "off",
		"--calib", filepath.Join(root, "testdata/data/mnist/t10k-images-idx3-ubyte.gz"), "--calib-limit", "40",
	}, extra...)
}

const evalModel = "../../testdata/models/mnist/lenet5_ccoltong1215_b10.onnx"

func TestEvalJSON(t *testing.T) {
	var out, errb bytes.Buffer
	rc := runEval(append(evalArgs("--json", "--ratio", "0.5"), evalModel), &out, &errb)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	var r struct {
		Images int      `json:"images"`
		FP32   *float64 `json:"fp32_top1"`
		INT4   *float64 `json:"int4_top1"`
		TB     *float64 `json:"tb_top1"`
		Dual   *float64 `json:"dual_top1"`
		Layers []struct {
			Name      string `json:"name"`
			Precision string `json:"precision"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if r.Images != 60 || r.FP32 == nil || r.INT4 == nil || r.TB == nil || r.Dual == nil {
		t.Fatalf("incomplete result: %s", out.String())
	}
	for _, v := range []float64{*r.FP32, *r.INT4, *r.TB, *r.Dual} {
		if v < 0 || v > 1 {
			t.Errorf("top-1 %v is not a fraction", v)
		}
	}
	if *r.FP32 < 0.95 {
		t.Errorf("FP32 top-1 %v on MNIST: preprocessing wrong?", *r.FP32)
	}
	if len(r.Layers) != 5 || r.Layers[0].Precision != "int8" || r.Layers[1].Precision != "dual" {
		t.Errorf("layers %+v", r.Layers)
	}
	if strings.Contains(errb.String(), "\r") {
		t.Errorf("progress bar drawn with --progress off")
	}
}

func TestEvalText(t *testing.T) {
	var out, errb bytes.Buffer
	rc := runEval(append(evalArgs("--dual-only", "--ratio", "1"), evalModel), &out, &errb)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	for _, want := range []string{"60 images", "dualnet", "r = 1", "Conv_0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestEvalErrors(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.json")
	os.WriteFile(badKey, []byte(`{"Conv_3": 0.5, "conv_nope": 0.5}`), 0o644)
	badVal := filepath.Join(dir, "val.json")
	os.WriteFile(badVal, []byte(`{"Conv_3": 2}`), 0o644)
	cases := []struct {
		name string
		args []string
		rc   int
		want string
	}{
		{"no data", []string{evalModel}, 2, "--data is required"},
		{"no model", evalArgs(), 2, "MODEL.onnx"},
		{"bad ratio", append(evalArgs("--ratio", "1.5"), evalModel), 2, "--ratio 1.5"},
		{"unknown layer", append(evalArgs("--ratios", badKey), evalModel), 1, `"conv_nope"`},
		{"ratio out of range", append(evalArgs("--ratios", badVal), evalModel), 1, `"Conv_3": ratio 2 outside [0, 1]`},
		{"missing model", append(evalArgs(), "nope.onnx"), 1, "nope.onnx"},
		{"bad flag", append(evalArgs("--frobnicate"), evalModel), 2, "frobnicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			rc := runEval(c.args, &out, &errb)
			if rc != c.rc || !strings.Contains(errb.String(), c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", rc, errb.String(), c.rc, c.want)
			}
			if rc == 1 && !strings.HasPrefix(errb.String(), "pimc eval: ") {
				t.Errorf("stderr %q lacks the pimc eval: prefix", errb.String())
			}
		})
	}
}

// TestEvalSharedData runs eval on the full shared data when it is present
// (../shared/data beside the repository), on a slice to stay fast; the
// full-set numbers are in docs/accuracy.md.
func TestEvalSharedData(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "data")
	model := filepath.Join(shared, "models/mnist/lenet5_ccoltong1215_b10.onnx")
	data := filepath.Join(shared, "datasets/mnist/t10k-images-idx3-ubyte.gz")
	if _, err := os.Stat(model); err != nil {
		t.Skip("../shared/data not present")
	}
	if _, err := os.Stat(data); err != nil {
		t.Skip("../shared/data not present")
	}
	var out, errb bytes.Buffer
	rc := runEval([]string{"--data", data, "--preset", "mnist", "--limit", "200", "--calib", data, "--calib-limit", "50",
		"--progress", "off", "--json", model}, &out, &errb)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	if !strings.Contains(out.String(), `"images": 200`) {
		t.Errorf("output: %s", out.String())
	}
}

// TestQuantizedModel exercises the helper `infer --quantized` uses.
func TestQuantizedModel(t *testing.T) {
	fs := flag.NewFlagSet("infer", flag.ContinueOnError)
	f := addQuantFlags(fs)
	data := filepath.Join("..", "..", "testdata/data/mnist/t10k-images-idx3-ubyte.gz")
	if err := fs.Parse([]string{"--calib", data, "--calib-limit", "20", "--preset", "mnist", "--ratio", "0.25", "--ideal-adc"}); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	q, h, err := quantizedModel(evalModel, f, "pimc infer", &errb)
	if err != nil {
		t.Fatal(err)
	}
	if !h.SRAM.ADCIdeal || q.Level != ir.LevelQuantized {
		t.Errorf("hardware %+v level %s", h.SRAM, q.Level)
	}
	e, err := dualnet.NewExecutor(q, dualnet.ExecOptions{HW: h})
	if err != nil {
		t.Fatal(err)
	}
	in := ir.NewTensor(ir.Float32, q.Graph.Inputs[0].Type.Shape...)
	out, err := e.Run([]*ir.Tensor{in})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Len() != 100 {
		t.Errorf("output %v", out[0].Shape)
	}
	// Data-free calibration warns on stderr when the model has no BatchNorm.
	f2 := addQuantFlags(flag.NewFlagSet("x", flag.ContinueOnError))
	errb.Reset()
	if _, _, err := quantizedModel(evalModel, f2, "pimc infer", &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "pimc infer: warning: no calibration data") {
		t.Errorf("stderr %q", errb.String())
	}
}

// TestCompileReportsAccuracy: with --data, compile's report carries the
// top-1 of the chosen ratios and both baselines, equal to what eval
// measures on the same images, and the comparison their difference.
func TestCompileReportsAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quantized executor")
	}
	model := filepath.Join("..", "..", "testdata", "models", "mnist", "lenet5_ccoltong1215_b10.onnx")
	data := filepath.Join("..", "..", "testdata", "data", "mnist", "t10k-images-idx3-ubyte.gz")
	common := []string{"--data", data, "--preset", "mnist", "--calib", data, "--offset", "256", "--limit", "100"}
	var out, errb bytes.Buffer
	if code := runEval(append(append([]string{}, common...), "--json", "--progress", "off", model), &out, &errb); code != 0 {
		t.Fatalf("eval: exit %d\n%s", code, errb.String())
	}
	var ev struct {
		INT4 float64 `json:"int4_top1"`
		TB   float64 `json:"tb_top1"`
		Dual float64 `json:"dual_top1"`
	}
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := runCompile(append(append([]string{}, common...), "--json", "-o", t.TempDir(), model), &out, &errb); code != 0 {
		t.Fatalf("compile: exit %d\n%s", code, errb.String())
	}
	var rf cost.ReportFile
	if err := json.Unmarshal(out.Bytes(), &rf); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		r    *cost.Report
		want float64
	}{{"chosen", rf.Chosen, ev.Dual}, {"int4-only", rf.INT4Only, ev.INT4}, {"tb-only", rf.TBOnly, ev.TB}} {
		if c.r == nil || c.r.Accuracy == nil || c.r.Accuracy.Images != 100 || c.r.Accuracy.Top1 != c.want {
			t.Errorf("%s: accuracy %+v, eval measured %v", c.name, c.r.Accuracy, c.want)
		}
	}
	if b := rf.Comparison.Baselines; len(b) != 2 || b[0].AccuracyDeltaPts == nil || math.Abs(*b[0].AccuracyDeltaPts-100*(ev.Dual-ev.INT4)) > 1e-9 {
		t.Errorf("comparison: %+v", b)
	}
}
