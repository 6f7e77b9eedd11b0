package hw

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any input either fails with an error or yields a description that
// validates and survives a JSON round trip with the same fingerprint. It must
// never panic.
func FuzzParse(f *testing.F) {
	def, err := Default().JSON()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	if b, err := os.ReadFile(filepath.Join("testdata", "custom.json")); err == nil {
		f.Add(b)
	}
	f.Add(def[:len(def)/3])
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"name":"x","clock_mhz":-1,"sram_pim":null}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(`{"sram_pim":{"rows":1e400}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Parse(data, "fuzz.json")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("Parse accepted, Validate refused: %v", err)
		}
		b, err := h.JSON()
		if err != nil {
			t.Fatalf("JSON: %v", err)
		}
		h2, err := Parse(b, "again.json")
		if err != nil {
			t.Fatalf("canonical JSON does not parse: %v\n%s", err, b)
		}
		f1, _ := h.Fingerprint()
		f2, _ := h2.Fingerprint()
		if f1 != f2 {
			t.Fatalf("fingerprint changed across a round trip")
		}
	})
}
