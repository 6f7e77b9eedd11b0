package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func runMapTest(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runMap(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestMapJSON(t *testing.T) {
	tests := []struct {
		name                     string
		args                     []string
		im2col, sdk, vwsdk, auto int64
		window                   string
	}{
		{"resnet18 7x7 stem", []string{"--json", "--array", "512x512", "--ifm", "112", "--kernel", "7", "--ic", "3", "--oc", "64"},
			11236, 2809, 1431, 1431, "10x8x3x64"},
		{"equals form", []string{"--json", "--array=512x512", "--ifm=112x112", "--kernel=7x7", "--ic=3", "--oc=64"},
			11236, 2809, 1431, 1431, "10x8x3x64"},
		{"single dash", []string{"-json", "-array", "512x512", "-ifm", "224", "-kernel", "3", "-ic", "3", "-oc", "64"},
			49284, 12321, 6216, 6216, "10x3x3x64"},
		{"four arrays", []string{"--json", "--array", "512x512", "--ifm", "112", "--kernel", "7", "--ic", "3", "--oc", "64", "--arrays", "4"},
			11236, 2809, 1431, 358, "10x8x3x64"},
		{"fallback to im2col", []string{"--json", "--array", "512x512", "--ifm", "7", "--kernel", "3", "--ic", "512", "--oc", "512"},
			225, 225, 225, 225, "3x3x512x512"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runMapTest(tc.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			var r struct {
				Im2col struct{ Cycles int64 }
				SDK    struct{ Cycles int64 }
				VWSDK  struct {
					Cycles int64
					Window string
				}
				Auto struct{ Cycles int64 }
			}
			// Field names are matched case-insensitively; check the exact
			// keys separately.
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			for _, k := range []string{`"im2col": {`, `"sdk": {`, `"vwsdk": {`, `"auto": {`, `"cycles":`, `"window":`} {
				if !strings.Contains(out, k) {
					t.Errorf("output lacks %s", k)
				}
			}
			if r.Im2col.Cycles != tc.im2col || r.SDK.Cycles != tc.sdk || r.VWSDK.Cycles != tc.vwsdk || r.Auto.Cycles != tc.auto || r.VWSDK.Window != tc.window {
				t.Errorf("got %d %d %d (%q) auto %d, want %d %d %d (%q) auto %d",
					r.Im2col.Cycles, r.SDK.Cycles, r.VWSDK.Cycles, r.VWSDK.Window, r.Auto.Cycles,
					tc.im2col, tc.sdk, tc.vwsdk, tc.window, tc.auto)
			}
			if strings.Count(strings.TrimSpace(out), "\n{") != 0 {
				t.Errorf("more than one JSON object")
			}
		})
	}
}

func TestMapTable(t *testing.T) {
	code, out, errs := runMapTest("--array", "512x512", "--ifm", "112", "--kernel", "7", "--ic", "3", "--oc", "64")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"scheme", "im2col", "11236", "2809", "10x8x3x64", "1431", "auto"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Columns are aligned: the "cycles" header ends where the numbers end.
	var header, vw string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "scheme") {
			header = line
		}
		if strings.HasPrefix(strings.TrimSpace(line), "vwsdk") {
			vw = line
		}
	}
	if i, j := strings.Index(header, "cycles")+len("cycles"), strings.Index(vw, "1431")+len("1431"); i != j {
		t.Errorf("columns not aligned:\n%s\n%s", header, vw)
	}
}

func TestMapHW(t *testing.T) {
	file := filepath.Join("..", "..", "hw", "testdata", "custom.json")
	code, out, errs := runMapTest("--json", "--hw", file, "--ifm", "56", "--kernel", "3", "--ic", "64", "--oc", "64", "--pad", "1", "--arrays", "8")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var r struct {
		Hardware string
		Pool     struct{ Array struct{ Rows, Cols int } }
		Auto     struct {
			Cycles     int64
			LatencyClk int64 `json:"latency_clk"`
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Hardware != "bigpim-example" || r.Pool.Array.Rows != 256 || r.Auto.LatencyClk <= r.Auto.Cycles {
		t.Errorf("got %+v", r)
	}
	code, out, _ = runMapTest("--hw", file, "--pool", "edram", "--ifm", "14", "--kernel", "3", "--ic", "256", "--oc", "256")
	if code != 0 || !strings.Contains(out, "edram pool of bigpim-example") || !strings.Contains(out, "clock cycles") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

func TestMapErrors(t *testing.T) {
	base := []string{"--array", "128x128", "--ifm", "32", "--kernel", "3", "--ic", "16", "--oc", "16"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"bad array", with("--array", "12x"), 2, []string{"pimc map: ", "-array", `"12x"`}},
		{"zero array", with("--array", "0x128"), 2, []string{"-array", "at least 1"}},
		{"negative ic", with("--ic", "-3"), 2, []string{"-ic", "at least 1"}},
		{"not a number", with("--oc", "lots"), 2, []string{"-oc", `"lots"`}},
		{"negative pad", with("--pad", "-1"), 2, []string{"-pad"}},
		{"bad pad list", with("--pad", "1,2,3"), 2, []string{"-pad", "T,L,B,R"}},
		{"zero stride", with("--stride", "0"), 2, []string{"-stride"}},
		{"missing", []string{"--array", "128x128", "--ifm", "32"}, 2, []string{"missing --kernel, --ic, --oc"}},
		{"unknown flag", with("--bogus"), 2, []string{"bogus"}},
		{"positional", with("extra"), 2, []string{`unexpected argument "extra"`}},
		{"kernel too big", with("--kernel", "40"), 2, []string{"does not fit"}},
		{"group", with("--group", "3"), 2, []string{"--group 3 must divide"}},
		{"weight too wide", with("--weight-bits", "200"), 2, []string{"--weight-bits 200"}},
		{"pool without hw", with("--pool", "edram"), 2, []string{"--pool needs --hw"}},
		{"bad pool", with("--hw", filepath.Join("..", "..", "hw", "testdata", "custom.json"), "--pool", "dram"), 2, []string{"--pool", `"dram"`}},
		{"missing hw file", with("--hw", "no-such-file.json"), 1, []string{"pimc map: ", "no-such-file.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runMapTest(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errs)
			}
			if out != "" {
				t.Errorf("stdout not empty on error: %q", out)
			}
			if !strings.HasPrefix(errs, "pimc map: ") {
				t.Errorf("stderr %q lacks the prefix", errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
		})
	}
}

func TestMapHelp(t *testing.T) {
	code, out, _ := runMapTest("-h")
	if code != 0 || !strings.Contains(out, "usage: pimc map") || !strings.Contains(out, "-weight-bits") {
		t.Errorf("exit %d, output %q", code, out)
	}
}
