package cost

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"pimc/mapping"
)

func jsonKeys(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		if tag := typ.Field(i).Tag.Get("json"); tag != "" {
			out = append(out, strings.Split(tag, ",")[0])
		}
	}
	return out
}

// reportTypes are every struct of the report, by the name docs/report.md
// gives each section.
var reportTypes = map[string]any{
	"ReportFile": ReportFile{}, "Report": Report{}, "Ratio": Ratio{}, "Totals": Totals{}, "Memory": Memory{},
	"Counts": Counts{}, "Energy": Energy{}, "PoolReport": PoolReport{}, "ArrayUse": ArrayUse{}, "ArrayImage": ArrayImage{},
	"LayerReport": LayerReport{}, "PathCost": PathCost{}, "PPUReport": PPUReport{},
	"Comparison": Comparison{}, "Metrics": Metrics{}, "Savings": Savings{}, "Accuracy": Accuracy{},
}

// TestJSONFieldsStable pins the report's JSON field names and order:
// renaming one breaks every reader of report.json (and needs a new Schema).
func TestJSONFieldsStable(t *testing.T) {
	want := map[string][]string{
		"ReportFile": {"schema", "chosen", "int4_only", "tb_only", "comparison"},
		"Report":     {"schema", "model", "label", "hardware", "clock_mhz", "alloc", "ratio", "accuracy", "totals", "sram", "edram", "layers", "ppu_ops"},
		"Ratio":      {"split_layers", "unsplit_layers", "int4_channels", "tb_channels", "channels", "macs"},
		"Totals": {"latency_clk", "latency_us", "dma_io_clk", "no_overlap_latency_clk", "array_clk", "layer_ppu_clk", "ppu_op_clk",
			"bottleneck", "bottleneck_clk", "energy_uj", "load_clk", "load_energy_fj", "counts", "energy", "memory"},
		"Memory": {"weights", "int8_weights", "int4_weights", "ternary_weights", "weight_bits", "weight_packed_bits",
			"activation_bits", "peak_activation_bits", "peak_at", "buffer_bits"},
		"Counts": {"macs", "adc_conversions", "driver_row_cycles", "ppu_ops", "buffer_read_bits", "buffer_write_bits",
			"weight_rows_written", "dma_bytes", "refreshes"},
		"Energy": {"mac_fj", "adc_fj", "driver_fj", "ppu_fj", "buffer_read_fj", "buffer_write_fj", "weight_write_fj",
			"dma_fj", "refresh_fj", "total_fj"},
		"PoolReport": {"pool", "arrays", "rows", "cols", "resident_arrays", "stream_arrays", "used_arrays",
			"array_utilisation", "used_cells", "allocated_cells", "cell_utilisation", "solver", "stream_layers",
			"cycles", "compute_clk", "reload_clk", "latency_clk", "busy", "load_clk", "load_energy_fj",
			"counts", "energy", "placement"},
		"ArrayUse":   {"array", "use", "layer", "layer_index", "utilisation", "images"},
		"ArrayImage": {"layer", "layer_index", "col", "cols", "rows", "utilisation"},
		"LayerReport": {"index", "name", "op", "engine", "precision", "oc4", "octb", "ratio", "sram", "edram",
			"array_clk", "bound", "ppu_clk", "latency_clk", "weight_bits", "weight_packed_bits", "counts", "energy"},
		"PathCost": {"pool", "oc", "mode", "scheme", "window", "weight_bits", "input_bits", "weights", "tiles",
			"copies", "rounds", "arrays", "windows", "cycles", "compute_clk", "reload_clk", "latency_clk",
			"resident_rows", "used_cells", "allocated_cells", "utilisation", "counts", "energy"},
		"PPUReport":  {"name", "op", "precision", "elements", "clk", "counts", "energy"},
		"Comparison": {"chosen", "baselines"},
		"Metrics":    {"label", "energy_fj", "weight_bits", "latency_clk", "weight_packed_bits", "peak_activation_bits", "top1"},
		"Savings": {"baseline", "metrics", "energy_saved", "memory_saved", "latency_saved", "packed_memory_saved",
			"headline", "energy_ratio", "memory_ratio", "latency_ratio", "accuracy_delta_pts"},
		"Accuracy": {"data", "images", "correct", "top1"},
	}
	for name, v := range reportTypes {
		if got := jsonKeys(reflect.TypeOf(v)); !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s JSON fields:\n got  %q\n want %q", name, got, want[name])
		}
	}
	if len(want) != len(reportTypes) {
		t.Errorf("%d types pinned, %d in the report", len(want), len(reportTypes))
	}
}

// TestDocsListEveryField keeps docs/report.md in step with the types.
func TestDocsListEveryField(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "report.md"))
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	for name, v := range reportTypes {
		for _, k := range jsonKeys(reflect.TypeOf(v)) {
			if !bytes.Contains(doc, []byte("`"+k+"`")) {
				t.Errorf("docs/report.md does not describe %s field %q", name, k)
			}
		}
	}
}

// TestJSONRoundTrip: the report survives a JSON round trip (no NaN or
// Inf, no unexported state in the output).
func TestJSONRoundTrip(t *testing.T) {
	r := evaluate(t, resnet50Like(0.5), testHW())
	var a bytes.Buffer
	if err := WriteJSON(&a, NewReportFile(r, nil, nil)); err != nil {
		t.Fatal(err)
	}
	var f ReportFile
	if err := json.Unmarshal(a.Bytes(), &f); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, &f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("report.json changes on a round trip")
	}
	if f.Schema != Schema || f.INT4Only != nil || len(f.Comparison.Baselines) != 0 {
		t.Errorf("schema %q, int4_only %v, %d baselines", f.Schema, f.INT4Only, len(f.Comparison.Baselines))
	}
}

func reportWith(label string, energy float64, weightBits, latency int64) *Report {
	r := &Report{Label: label}
	r.Totals.Energy.Total = energy
	r.Totals.Memory.WeightBits = weightBits
	r.Totals.Memory.WeightPackedBits = weightBits / 2
	r.Totals.LatencyClk = latency
	return r
}

// TestCompareArithmetic: savings are 1 − chosen/baseline, printed in the
// paper's headline format.
func TestCompareArithmetic(t *testing.T) {
	chosen := reportWith("chosen", 71, 505, 527)
	i4 := reportWith("int4-only", 100, 1000, 1000)
	tb := reportWith("tb-only", 50, 404, 500)
	c := Compare(chosen, i4, tb)
	if len(c.Baselines) != 2 || c.Baselines[0].Baseline != LabelINT4Only || c.Baselines[1].Baseline != LabelTBOnly {
		t.Fatalf("baselines %+v", c.Baselines)
	}
	v := c.Baselines[0]
	if !near(v.EnergySaved, 0.29) || !near(v.MemorySaved, 0.495) || !near(v.LatencySaved, 0.473) ||
		!near(v.EnergyRatio, 0.71) || !near(v.PackedMemorySaved, 1-252.0/500) {
		t.Errorf("vs INT4-only: %+v", v)
	}
	if v.Headline != "29.0% energy, 49.5% memory, 47.3% latency saved vs int4-only" {
		t.Errorf("headline %q", v.Headline)
	}
	// Against a cheaper baseline the savings are negative: 71/50 − 1 =
	// 42% more energy.
	w := c.Baselines[1]
	if !near(w.EnergySaved, -0.42) || !near(w.MemorySaved, 1-505.0/404) || !near(w.LatencySaved, -0.054) {
		t.Errorf("vs TB-only: %+v", w)
	}
	if w.Headline != "-42.0% energy, -25.0% memory, -5.4% latency saved vs tb-only" {
		t.Errorf("headline %q", w.Headline)
	}
	// A missing baseline is skipped; a zero baseline saves nothing.
	c = Compare(chosen, nil, reportWith("tb-only", 0, 0, 0))
	if len(c.Baselines) != 1 || c.Baselines[0].EnergySaved != 0 || c.Baselines[0].Headline != "0.0% energy, 0.0% memory, 0.0% latency saved vs tb-only" {
		t.Errorf("zero baseline: %+v", c.Baselines)
	}
	if Compare(nil, i4, tb) != nil {
		t.Error("Compare(nil, ...) != nil")
	}
}

// TestSVGWellFormed parses the picture as XML and counts one array group
// per array of each pool, each with a tooltip.
func TestSVGWellFormed(t *testing.T) {
	for _, m := range []struct {
		name string
		r    *Report
	}{
		{"one layer", evaluate(t, parse(t, oneLayer), testHW())},
		{"resnet50-like", evaluate(t, resnet50Like(0.5), testHW())},
		{"ppu only", evaluate(t, parse(t, ppuChain), testHW())},
	} {
		t.Run(m.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteUtilisationSVG(&b, m.r); err != nil {
				t.Fatal(err)
			}
			d := xml.NewDecoder(bytes.NewReader(b.Bytes()))
			arrays := map[string]int{}
			titles, root := 0, ""
			for {
				tok, err := d.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("not well-formed XML: %v", err)
				}
				if se, ok := tok.(xml.StartElement); ok {
					if root == "" {
						root = se.Name.Local
						if se.Name.Space != "http://www.w3.org/2000/svg" {
							t.Errorf("root namespace %q", se.Name.Space)
						}
					}
					switch se.Name.Local {
					case "g":
						for _, a := range se.Attr {
							if a.Name.Local == "data-pool" {
								arrays[a.Value]++
							}
						}
					case "title":
						titles++
					}
				}
			}
			if root != "svg" || arrays["sram"] != 64 || arrays["edram"] != 32 || titles != 96 {
				t.Errorf("root %q, arrays %v, %d tooltips", root, arrays, titles)
			}
		})
	}
}

// TestSVGEscapes: layer names with markup characters stay text.
func TestSVGEscapes(t *testing.T) {
	src := strings.ReplaceAll(oneLayer, `@"conv"`, `@"a<b>&\"c\""`)
	r := evaluate(t, parse(t, src), testHW())
	var b bytes.Buffer
	if err := WriteUtilisationSVG(&b, r); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
		t.Fatalf("escaping broke the XML: %v", err)
	}
	if !strings.Contains(b.String(), "a&lt;b&gt;&amp;&#34;c&#34;") {
		t.Error("the layer name is not escaped")
	}
}

func TestTable(t *testing.T) {
	r := evaluate(t, parse(t, oneLayer), testHW())
	var b bytes.Buffer
	if err := WriteTable(&b, r, Compare(r, r, nil)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"pimc cost: one (test) on dualpim-28nm, 100 MHz",
		"latency  32 clk = 0.320 us; bottleneck conv, 32 clk",
		"energy   5.541 nJ per inference",
		"vs int4-only  0.0% energy, 0.0% memory, 0.0% latency saved",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	row := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "conv ") {
			row = strings.Join(strings.Fields(line), " ")
		}
		if strings.TrimRight(line, " ") != line {
			t.Errorf("trailing blanks: %q", line)
		}
	}
	if want := "conv DualConv dual dual 8/8 32 8 4 32 sram 5.541 1/1 56%/28%"; row != want {
		t.Errorf("layer row %q, want %q", row, want)
	}
}

// TestPackedPlacement: with column packing, resident arrays hold several
// layers' images side by side; the placement lists them by column without
// overlap, never two of one layer on an array, and the SVG draws one strip
// per image (labelled Lx+n on shared arrays).
func TestPackedPlacement(t *testing.T) {
	r, err := Evaluate(resnet50Like(0.5), testHW(), Options{Mapping: mapping.Options{
		Schemes: []mapping.Scheme{mapping.Im2col}, Objective: mapping.ObjectiveEnergy}})
	if err != nil {
		t.Fatal(err)
	}
	shared, images := 0, 0
	for _, p := range []*PoolReport{&r.SRAM, &r.EDRAM} {
		for _, a := range p.Placement {
			if a.Use != UseResident {
				if len(a.Images) != 0 {
					t.Fatalf("%s array %d (%s) has images", p.Pool, a.Array, a.Use)
				}
				continue
			}
			if len(a.Images) == 0 {
				t.Fatalf("%s array %d: resident without images", p.Pool, a.Array)
			}
			images += len(a.Images)
			if len(a.Images) > 1 {
				shared++
			}
			var used float64
			layers := map[int]bool{}
			for k, im := range a.Images {
				if layers[im.LayerIndex] {
					t.Fatalf("%s array %d: two images of layer %d", p.Pool, a.Array, im.LayerIndex)
				}
				layers[im.LayerIndex] = true
				if k > 0 && im.Col < a.Images[k-1].Col+a.Images[k-1].Cols || im.Col+im.Cols > int64(p.Cols) {
					t.Fatalf("%s array %d: images overlap or overflow: %+v", p.Pool, a.Array, a.Images)
				}
				used += im.Utilisation * float64(im.Cols) / float64(p.Cols)
			}
			if math.Abs(used-a.Utilisation) > 1e-9 {
				t.Fatalf("%s array %d: utilisation %g, images %g", p.Pool, a.Array, a.Utilisation, used)
			}
		}
	}
	if shared == 0 {
		t.Fatal("no array holds more than one image")
	}
	var b bytes.Buffer
	if err := WriteUtilisationSVG(&b, r); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	if n := strings.Count(svg, `stroke-width="0.5"`); n != images {
		t.Errorf("%d image strips drawn, %d images", n, images)
	}
	if !strings.Contains(svg, "+1</text>") && !strings.Contains(svg, "+2</text>") {
		t.Error("no shared array labelled Lx+n")
	}
}
