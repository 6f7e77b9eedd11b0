package main

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pimc/backend/isa"
	"pimc/dualnet"
	"pimc/frontend"
	"pimc/hw"
	"pimc/ir"
)

const mnist8 = "../../testdata/models/mnist/mnist-8_onnxzoo_cntk.onnx"

func callRun(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := runRun(args, &o, &e)
	return code, o.String(), e.String()
}

func callDis(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := runDis(args, &o, &e)
	return code, o.String(), e.String()
}

// fixture compiles mnist-8 into DIR/program.pimb and writes one input.
func fixture(t *testing.T) (dir, prog, input string, q *ir.Module, in *ir.Tensor) {
	t.Helper()
	if _, err := os.Stat(mnist8); err != nil {
		t.Skip(err)
	}
	dir = t.TempDir()
	q, bin, err := buildProgram(mnist8, buildOptions{HW: hw.Default(), Ratio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	prog = filepath.Join(dir, "program.pimb")
	if err := os.WriteFile(prog, isa.Encode(bin), 0o644); err != nil {
		t.Fatal(err)
	}
	in = ir.NewTensor(ir.Float32, 1, 1, 28, 28)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range in.F {
		in.F[i] = float32(rng.IntN(256))
	}
	input = filepath.Join(dir, "input_0.pb")
	if err := frontend.WriteTensor(input, in, "Input3"); err != nil {
		t.Fatal(err)
	}
	return dir, prog, input, q, in
}

func TestRunWritesOutputsStatsAndTrace(t *testing.T) {
	dir, prog, input, q, in := fixture(t)
	out := filepath.Join(dir, "out")
	trace := filepath.Join(dir, "trace.json")
	code, _, errs := callRun("-o", out, "--trace", trace, prog, input)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got, err := frontend.ReadTensor(filepath.Join(out, "output_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := dualnet.Run(q, []*ir.Tensor{in})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want[0].F {
		if math.Float32bits(got.F[i]) != math.Float32bits(w) {
			t.Fatalf("element %d: pimc run %v, reference %v", i, got.F[i], w)
		}
	}
	var st struct {
		Inference struct {
			LatencyClk int64 `json:"latency_clk"`
			EnergyFJ   struct {
				Total float64 `json:"total_fj"`
			} `json:"energy_fj"`
		} `json:"inference"`
	}
	b, err := os.ReadFile(filepath.Join(out, "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Inference.LatencyClk <= 0 || st.Inference.EnergyFJ.Total <= 0 {
		t.Fatalf("stats.json: %v %+v", err, st)
	}
	var tr struct {
		TraceEvents []struct {
			Ph  string `json:"ph"`
			Tid int    `json:"tid"`
		} `json:"traceEvents"`
	}
	b, err = os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	tracks := map[int]bool{}
	for _, e := range tr.TraceEvents {
		if e.Ph == "X" {
			tracks[e.Tid] = true
		}
	}
	if len(tracks) < 4 {
		t.Fatalf("trace has events on %d tracks, want engines and arrays", len(tracks))
	}
}

func TestRunCheck(t *testing.T) {
	if _, err := os.Stat(mnist8); err != nil {
		t.Skip(err)
	}
	code, out, errs := callRun("--check", mnist8)
	if code != 0 || !strings.Contains(out, "bit for bit") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	// With the model's own input file and a 3-bit ADC.
	_, _, input, _, _ := fixture(t)
	h := hw.Default()
	h.SRAM.ADCBits, h.EDRAM.ADCBits = 3, 3
	hb, _ := h.JSON()
	hwFile := filepath.Join(t.TempDir(), "adc3.json")
	if err := os.WriteFile(hwFile, hb, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = callRun("--check", "--ratio", "1", "--hw", hwFile, mnist8, input)
	if code != 0 || !strings.Contains(out, "bit for bit") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
}

func TestRunErrors(t *testing.T) {
	dir, prog, input, _, _ := fixture(t)
	good, _ := os.ReadFile(prog)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 1
	custom := "../../hw/testdata/custom.json"
	out := filepath.Join(dir, "o")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no -o", []string{prog, input}, 2, "missing -o DIR"},
		{"no program", []string{"-o", out}, 2, "missing PROGRAM.pimb"},
		{"bad ratio", []string{"--check", "--ratio", "2", mnist8}, 2, "--ratio 2 outside"},
		{"missing file", []string{"-o", out, filepath.Join(dir, "nope.pimb"), input}, 1, "nope.pimb"},
		{"truncated", []string{"-o", out, write("trunc.pimb", good[:len(good)/2]), input}, 1, "trunc.pimb: pimb: truncated"},
		{"corrupt", []string{"-o", out, write("flip.pimb", flipped), input}, 1, "CRC mismatch"},
		{"not a program", []string{"-o", out, input, input}, 1, "bad magic"},
		{"other hardware", []string{"--hw", custom, "-o", out, prog, input}, 1, "compiled for hardware \"dualpim-28nm\""},
		{"no inputs", []string{"-o", out, prog}, 1, "takes 1 inputs"},
		{"wrong input", []string{"-o", out, prog, write("bad.pb", []byte("xx"))}, 1, "bad.pb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := callRun(c.args...)
			if code != c.code || !strings.Contains(errs, c.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, c.code, errs, c.want)
			}
			if code == 1 && !strings.HasPrefix(errs, "pimc run: ") {
				t.Errorf("stderr %q lacks the pimc run: prefix", errs)
			}
		})
	}
}

func TestDisAndAsm(t *testing.T) {
	dir, prog, _, _, _ := fixture(t)
	code, listing, errs := callDis(prog)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{".pimb 2", ".stream sram entry=", "mvm arr=", "; ", ".sym "} {
		if !strings.Contains(listing, want) {
			t.Errorf("listing lacks %q", want)
		}
	}
	s := filepath.Join(dir, "program.s")
	if err := os.WriteFile(s, []byte(listing), 0o644); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(dir, "back.pimb")
	if code, _, errs := callDis("--asm", "-o", back, s); code != 0 {
		t.Fatalf("asm: exit %d: %s", code, errs)
	}
	a, _ := os.ReadFile(prog)
	b, _ := os.ReadFile(back)
	if !bytes.Equal(a, b) {
		t.Fatal("assembled listing differs from the program")
	}
	bad := filepath.Join(dir, "bad.s")
	os.WriteFile(bad, []byte(strings.Replace(listing, "mvm arr=", "mvm bogus=1 arr=", 1)), 0o644)
	if code, _, errs := callDis("--asm", "-o", back, bad); code != 1 || !strings.HasPrefix(errs, "pimc dis: ") || !strings.Contains(errs, "line ") {
		t.Fatalf("bad listing: exit %d, %q", code, errs)
	}
	if code, _, errs := callDis(s); code != 1 || !strings.Contains(errs, "bad magic") {
		t.Fatalf("listing given to dis: exit %d, %q", code, errs)
	}
	if code, _, _ := callDis(); code != 2 {
		t.Fatalf("no args: exit %d", code)
	}
}
