package ir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: Parse must never panic, and whatever it accepts must survive
// print → parse → print unchanged (when the print keeps every constant;
// summarised constants cannot be read back by design).
func FuzzParse(f *testing.F) {
	f.Add(parseSample)
	f.Add("module \"m\"\n")
	f.Add("module \"m\" opset ai.onnx=13 level imported\ninput %x: f32[2,3,4]\n%s = Shape(%x) : i64[3] @\"shape\"\n%y = Reshape(%x, %s) : f32[2,3,4] @\"reshape\"\noutput %y: f32[2,3,4]\n")
	f.Add("module \"m\" opset ai.onnx=13\ninput %x: f32[1,4]\nconst %w: f32[4,2] = [1,2,3,4,5,6,7,8]\nconst %b: f32[2] = [0.5,-0.5]\n%y = MatMul(%x, %w) : f32[1,2] @\"mm\"\n%z = Add(%y, %b) : f32[1,2] @\"add\"\noutput %z: f32[1,2]\n")
	f.Add("module \"m\"\ninput %x: f32[1,1,4,4]\nconst %p: i64[8] = [0,0,1,1,0,0,1,1]\n%y = Pad(%x, %p) {mode=\"constant\"} : f32[1,1,6,6] @\"pad\"\noutput %y: f32[1,1,6,6]\n")
	f.Add("module \"m\"\ninput %x: f32[1,2]\n%y, %mask = Dropout(%x) : f32[1,2], bool[1,2] @\"d\"\noutput %y: f32[1,2]\n")
	f.Add("module \"m\"\nconst %s: i64[2] = [2,2]\n%c = ConstantOfShape(%s) {value=tensor<i8[1] splat<3>>} : i8[2,2] @\"c\"\noutput %c: i8[2,2]\n")
	// Seed from the pass tests' text IR too, when they are there.
	files, _ := filepath.Glob(filepath.Join("..", "passes", "testdata", "*", "*.txtar"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		// A light txtar split is enough for seeding: every section
		// that starts with a module header.
		for _, part := range strings.Split(string(data), "\n-- ") {
			if i := strings.Index(part, "module \""); i >= 0 {
				f.Add(part[i:])
			}
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		m, err := Parse("fuzz", []byte(src))
		if err != nil {
			if m != nil {
				t.Fatalf("Parse returned a module and an error")
			}
			return
		}
		// The verifier must not panic on anything Parse accepts.
		_ = Verify(m)
		text := m.String()
		m2, err := Parse("printed", []byte(text))
		if err != nil {
			if strings.Contains(err.Error(), "constant data elided") {
				return
			}
			t.Fatalf("reparsing the printed module: %v\ninput:\n%s\nprinted:\n%s", err, src, text)
		}
		if text2 := m2.String(); text2 != text {
			t.Fatalf("print/parse/print changed the text:\n%s\nvs\n%s", text, text2)
		}
	})
}
