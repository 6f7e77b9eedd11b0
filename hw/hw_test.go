package hw

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultValidates(t *testing.T) {
	h := Default()
	if err := h.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

// TestDefaultNumbers pins the numbers DESIGN.md §3 fixes and the helpers the
// cost model reads.
func TestDefaultNumbers(t *testing.T) {
	h := Default()
	tests := []struct {
		name      string
		got, want float64
	}{
		{"clock_mhz", h.ClockMHz, 100},
		{"sram rows", float64(h.SRAM.Rows), 128},
		{"sram cols", float64(h.SRAM.Cols), 128},
		{"sram arrays", float64(h.SRAM.Arrays), 64},
		{"edram arrays", float64(h.EDRAM.Arrays), 32},
		{"sram adc bits", float64(h.SRAM.ADCBits), 5},
		{"sram cols per adc", float64(h.SRAM.ColsPerADC), 8},
		{"sram mac fJ", h.SRAM.MACEnergyFJ, 29},
		{"edram mac fJ", h.EDRAM.MACEnergyFJ, 4.2},
		{"sram adc fJ", h.SRAM.ADCEnergyFJ, 60},
		{"edram adc fJ", h.EDRAM.ADCEnergyFJ, 60},
		{"sram driver fJ per row", h.SRAM.DriverEnergyPerRowFJ, 20},
		{"edram driver fJ per row", h.EDRAM.DriverEnergyPerRowFJ, 20},
		{"edram retention us", h.EDRAM.RetentionUS, 200},
		{"sram channels per array", float64(h.SRAM.ChannelsPerArray()), 32},
		{"edram channels per array", float64(h.EDRAM.ChannelsPerArray()), 64},
		{"sram weights per array", float64(h.SRAM.WeightsPerArray()), 32 * 128},
		{"edram weights per array", float64(h.EDRAM.WeightsPerArray()), 64 * 128},
		{"sram weight bits", float64(h.SRAM.WeightBits()), 4},
		{"sram cycles per 4-bit vector", float64(h.SRAM.CyclesPerVector(4)), 4 * 8},
		{"sram cycles per 8-bit vector", float64(h.SRAM.CyclesPerVector(8)), 8 * 8},
		{"edram cycles per 1-bit vector", float64(h.EDRAM.CyclesPerVector(1)), 8},
		{"sram row bytes", float64(h.SRAM.RowBytes()), 16},
		{"edram retention cycles", float64(h.RetentionCycles(&h.EDRAM)), 20000},
		{"sram retention cycles", float64(h.RetentionCycles(&h.SRAM)), 0},
		{"1000 cycles in us", h.CyclesToMicroseconds(1000), 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	custom, err := os.ReadFile(filepath.Join("testdata", "custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	def, err := Default().JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"default", def},
		{"custom", custom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h1, err := Parse(tc.data, tc.name+".json")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			b1, err := h1.JSON()
			if err != nil {
				t.Fatal(err)
			}
			h2, err := Parse(b1, "again.json")
			if err != nil {
				t.Fatalf("Parse(JSON()): %v", err)
			}
			h1.source, h2.source = "", ""
			if !reflect.DeepEqual(h1, h2) {
				t.Errorf("round trip changed the description:\n%+v\n%+v", h1, h2)
			}
			b2, _ := h2.JSON()
			if !bytes.Equal(b1, b2) {
				t.Errorf("canonical JSON not stable:\n%s\n%s", b1, b2)
			}
			if tc.name == "custom" && !bytes.Equal(b1, tc.data) {
				t.Errorf("testdata/custom.json is not in canonical form; JSON() gives:\n%s", b1)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	a, err := Default().Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Default().Fingerprint()
	if a != b {
		t.Fatal("fingerprint not deterministic")
	}
	h := Default()
	h.EDRAM.RetentionUS = 201
	c, _ := h.Fingerprint()
	if a == c {
		t.Fatal("fingerprint did not change with retention_us")
	}
	if a == ([32]byte{}) {
		t.Fatal("zero fingerprint")
	}
}

func TestLoad(t *testing.T) {
	h, err := Load(filepath.Join("testdata", "custom.json"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if h.Name != "bigpim-example" || h.SRAM.ChannelsPerArray() != 128 || !h.SRAM.ADCIdeal {
		t.Errorf("unexpected contents: %+v", h)
	}
	if h.Source() != filepath.Join("testdata", "custom.json") {
		t.Errorf("Source() = %q", h.Source())
	}
	if _, err := Load(filepath.Join("testdata", "does-not-exist.json")); err == nil || !strings.Contains(err.Error(), "does-not-exist.json") {
		t.Errorf("Load(missing) = %v, want an error naming the file", err)
	}
}

// mutate returns the default description as JSON after applying edit to its
// generic form.
func mutate(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := Default().JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sub(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }

func TestParseErrors(t *testing.T) {
	def, _ := Default().JSON()
	tests := []struct {
		name string
		data []byte
		want []string // substrings of the error, in any order
		n    int      // number of problems, if > 0
	}{
		{"unknown top-level field", mutate(t, func(m map[string]any) { m["clock_ghz"] = 0.1 }),
			[]string{"bad.json: clock_ghz: unknown field", `did you mean "clock_mhz"`}, 1},
		{"unknown nested field", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["row"] = 128 }),
			[]string{"sram_pim.row: unknown field", `"rows"`}, 1},
		{"unknown unit", mutate(t, func(m map[string]any) {
			p := sub(m, "edram_pim")
			p["retention_ms"] = p["retention_us"]
			delete(p, "retention_us")
		}), []string{"edram_pim.retention_ms: unknown field", "edram_pim.retention_us: missing"}, 2},
		{"missing field", mutate(t, func(m map[string]any) { delete(sub(m, "sram_pim"), "adc_bits") }),
			[]string{"sram_pim.adc_bits: missing"}, 1},
		{"missing pool", mutate(t, func(m map[string]any) { delete(m, "edram_pim") }),
			[]string{"edram_pim: missing"}, 1},
		{"negative", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["rows"] = -128 }),
			[]string{"sram_pim.rows: must be positive, got negative -128"}, 0},
		{"zero arrays", mutate(t, func(m map[string]any) { sub(m, "edram_pim")["arrays"] = 0 }),
			[]string{"edram_pim.arrays: must be positive, got 0"}, 1},
		{"negative energy", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["mac_energy_fj"] = -1 }),
			[]string{"sram_pim.mac_energy_fj: must not be negative"}, 1},
		{"negative driver energy", mutate(t, func(m map[string]any) { sub(m, "edram_pim")["driver_energy_per_row_fj"] = -20 }),
			[]string{"edram_pim.driver_energy_per_row_fj: must not be negative"}, 1},
		{"missing driver energy", mutate(t, func(m map[string]any) { delete(sub(m, "sram_pim"), "driver_energy_per_row_fj") }),
			[]string{"sram_pim.driver_energy_per_row_fj: missing"}, 1},
		{"driver energy in the wrong unit", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["driver_energy_per_row_fj"] = 2e16 }),
			[]string{"sram_pim.driver_energy_per_row_fj: implausibly large"}, 1},
		{"zero clock", mutate(t, func(m map[string]any) { m["clock_mhz"] = 0 }),
			[]string{"clock_mhz: must be positive"}, 0},
		{"cols not divisible by cells per weight", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["cols"] = 130 }),
			[]string{"sram_pim.cells_per_weight: must divide cols (130)"}, 0},
		{"adc bits too high", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["adc_bits"] = 17 }),
			[]string{"sram_pim.adc_bits: must be at most 16"}, 1},
		{"adc bits zero without ideal", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["adc_bits"] = 0 }),
			[]string{"sram_pim.adc_bits: must be positive unless adc_ideal"}, 1},
		{"cols per adc not dividing cols", mutate(t, func(m map[string]any) { sub(m, "edram_pim")["cols_per_adc"] = 6 }),
			[]string{"edram_pim.cols_per_adc: must divide cols (128), got 6"}, 1},
		{"rows active exceeds rows", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["rows_active_per_cycle"] = 200 }),
			[]string{"sram_pim.rows_active_per_cycle: 200 exceeds rows (128)"}, 1},
		{"input bits per cycle exceeds input bits", mutate(t, func(m map[string]any) { sub(m, "edram_pim")["input_bits_per_cycle"] = 2 }),
			[]string{"edram_pim.input_bits_per_cycle: 2 exceeds input_bits (1)"}, 1},
		{"ternary needs a pair", mutate(t, func(m map[string]any) { sub(m, "edram_pim")["cells_per_weight"] = 4 }),
			[]string{"edram_pim.cells_per_weight: must be 2"}, 1},
		{"wrong encoding for pool", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["weight_encoding"] = "ternary_pair" }),
			[]string{`sram_pim.weight_encoding: must be "twos_complement"`}, 0},
		{"unknown encoding", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["weight_encoding"] = "sign_magnitude" }),
			[]string{`sram_pim.weight_encoding: must be "twos_complement" or "ternary_pair"`}, 1},
		{"edram without retention", mutate(t, func(m map[string]any) { sub(m, "edram_pim")["retention_us"] = 0 }),
			[]string{"edram_pim.retention_us: must be positive for eDRAM"}, 1},
		{"retention below one cycle", mutate(t, func(m map[string]any) { sub(m, "edram_pim")["retention_us"] = 0.001 }),
			[]string{"edram_pim.retention_us: 0.001 µs is shorter than one clock cycle"}, 1},
		{"string for number", mutate(t, func(m map[string]any) { sub(m, "ppu")["ops_per_cycle"] = "16" }),
			[]string{"ppu.ops_per_cycle: must be an integer, got a string"}, 1},
		{"fraction for integer", mutate(t, func(m map[string]any) { sub(m, "dma")["bytes_per_cycle"] = 1.5 }),
			[]string{"dma.bytes_per_cycle: must be an integer"}, 1},
		{"null", mutate(t, func(m map[string]any) { m["name"] = nil }),
			[]string{"name: must be a string, got null"}, 1},
		{"empty name", mutate(t, func(m map[string]any) { m["name"] = "" }),
			[]string{"name: must not be empty"}, 1},
		{"pool not an object", mutate(t, func(m map[string]any) { m["ppu"] = []any{1} }),
			[]string{"ppu: must be a JSON object, got an array"}, 1},
		{"bool as number", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["adc_ideal"] = 0 }),
			[]string{"sram_pim.adc_ideal: must be true or false"}, 1},
		{"huge integer", mutate(t, func(m map[string]any) { sub(m, "sram_pim")["arrays"] = 1e12 }),
			[]string{"sram_pim.arrays: must be an integer in 32-bit range"}, 1},
		{"several problems together", mutate(t, func(m map[string]any) {
			sub(m, "sram_pim")["rows"] = -1
			delete(sub(m, "ppu"), "buffer_bytes")
			m["extra"] = true
		}), []string{"3 problems", "extra: unknown field", "ppu.buffer_bytes: missing", "sram_pim.rows"}, 0},
		{"not JSON", []byte("name: dualpim"), []string{"bad.json: not valid JSON: line 1, column 2"}, 1},
		{"truncated", def[:len(def)/2], []string{"bad.json: not valid JSON: unexpected end of input"}, 1},
		{"empty", nil, []string{"bad.json: not valid JSON: empty input"}, 1},
		{"top-level array", []byte("[]"), []string{"bad.json: must be a JSON object, got an array"}, 1},
		{"trailing data", append(append([]byte{}, def...), []byte("{}")...), []string{"unexpected data after the top-level object"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Parse(tc.data, "bad.json")
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", h)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "bad.json") {
				t.Errorf("error %q does not name the file", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FieldError", err)
			}
			if tc.n > 0 {
				var es Errors
				got := 1
				if errors.As(err, &es) {
					got = len(es)
				}
				if got != tc.n {
					t.Errorf("got %d problems, want %d: %v", got, tc.n, err)
				}
			}
		})
	}
}

// TestValidateInCode checks that descriptions built in code (no file) are
// validated the same way, with the field path and no file prefix.
func TestValidateInCode(t *testing.T) {
	h := Default()
	h.SRAM.ColsPerADC = 0
	h.EDRAM.RefreshEnergyPerRowFJ = -3
	h.SRAM.DriverEnergyPerRowFJ = math.NaN()
	err := h.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad description")
	}
	for _, w := range []string{"sram_pim.cols_per_adc: must be positive", "edram_pim.refresh_energy_per_row_fj: must not be negative",
		"sram_pim.driver_energy_per_row_fj: must be a finite number"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// TestDocsListEveryField keeps docs/hardware.md in step with the schema.
func TestDocsListEveryField(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "hardware.md"))
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() {
				continue
			}
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			if !strings.Contains(string(doc), "`"+name+"`") {
				t.Errorf("docs/hardware.md does not describe field %q", name)
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[Hardware]())
}
