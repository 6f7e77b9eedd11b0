package cost

import (
	"bytes"
	"encoding/json"
	"io"
	"math"

	"pimc/mapping"
)

// Schema identifies the report format; docs/report.md describes it. It
// changes when a field is renamed or changes meaning, never when one is
// added.
const Schema = "pimc.report/1"

// Counts are the events the energy model charges. They are integers and
// depend only on the IR's shapes and the hardware description, so that a
// simulator can reproduce each one (docs/cost.md gives the formulas).
type Counts struct {
	MACs              int64 `json:"macs"`
	ADCConversions    int64 `json:"adc_conversions"`
	DriverRowCycles   int64 `json:"driver_row_cycles"`
	PPUOps            int64 `json:"ppu_ops"`
	BufferReadBits    int64 `json:"buffer_read_bits"`
	BufferWriteBits   int64 `json:"buffer_write_bits"`
	WeightRowsWritten int64 `json:"weight_rows_written"`
	DMABytes          int64 `json:"dma_bytes"`
	Refreshes         int64 `json:"refreshes"`
}

func (c *Counts) add(o Counts) {
	c.MACs += o.MACs
	c.ADCConversions += o.ADCConversions
	c.DriverRowCycles += o.DriverRowCycles
	c.PPUOps += o.PPUOps
	c.BufferReadBits += o.BufferReadBits
	c.BufferWriteBits += o.BufferWriteBits
	c.WeightRowsWritten += o.WeightRowsWritten
	c.DMABytes += o.DMABytes
	c.Refreshes += o.Refreshes
}

// Energy is per inference, in femtojoules, by component. Total is the sum
// of the others.
type Energy struct {
	MAC         float64 `json:"mac_fj"`
	ADC         float64 `json:"adc_fj"`
	Driver      float64 `json:"driver_fj"`
	PPU         float64 `json:"ppu_fj"`
	BufferRead  float64 `json:"buffer_read_fj"`
	BufferWrite float64 `json:"buffer_write_fj"`
	WeightWrite float64 `json:"weight_write_fj"`
	DMA         float64 `json:"dma_fj"`
	Refresh     float64 `json:"refresh_fj"`
	Total       float64 `json:"total_fj"`
}

func (e *Energy) add(o Energy) {
	e.MAC += o.MAC
	e.ADC += o.ADC
	e.Driver += o.Driver
	e.PPU += o.PPU
	e.BufferRead += o.BufferRead
	e.BufferWrite += o.BufferWrite
	e.WeightWrite += o.WeightWrite
	e.DMA += o.DMA
	e.Refresh += o.Refresh
	e.sum()
}

func (e *Energy) sum() {
	e.Total = e.MAC + e.ADC + e.Driver + e.PPU + e.BufferRead + e.BufferWrite + e.WeightWrite + e.DMA + e.Refresh
}

// PathCost is one layer's part on one pool: the INT4 (or INT8) channels on
// SRAM-PIM, or the ternary channels on eDRAM-PIM.
type PathCost struct {
	Pool       string `json:"pool"`
	OC         int    `json:"oc"`
	Mode       string `json:"mode"`
	Scheme     string `json:"scheme"`
	Window     string `json:"window"`
	WeightBits int    `json:"weight_bits"`
	InputBits  int    `json:"input_bits"`
	Weights    int64  `json:"weights"`

	Tiles   int64 `json:"tiles"`
	Copies  int64 `json:"copies"`
	Rounds  int64 `json:"rounds"`
	Arrays  int64 `json:"arrays"`
	Windows int64 `json:"windows"`
	Cycles  int64 `json:"cycles"`

	ComputeClk   int64 `json:"compute_clk"`
	ReloadClk    int64 `json:"reload_clk"`
	LatencyClk   int64 `json:"latency_clk"`
	ResidentRows int64 `json:"resident_rows"`

	UsedCells      int64   `json:"used_cells"`
	AllocatedCells int64   `json:"allocated_cells"`
	Utilisation    float64 `json:"utilisation"`

	Counts Counts `json:"counts"`
	Energy Energy `json:"energy"`

	// partialSums is the PPU additions that merge the row tiles' partial
	// sums, part of the layer's PPU work.
	partialSums int64
}

// LayerReport is one array layer (QConv, DualConv, QGemm, DualGemm).
type LayerReport struct {
	Index     int     `json:"index"`
	Name      string  `json:"name"`
	Op        string  `json:"op"`
	Engine    string  `json:"engine"`
	Precision string  `json:"precision"`
	OC4       int     `json:"oc4"`
	OCTB      int     `json:"octb"`
	Ratio     float64 `json:"ratio"`

	SRAM  PathCost `json:"sram"`
	EDRAM PathCost `json:"edram"`

	ArrayClk   int64  `json:"array_clk"`
	Bound      string `json:"bound"`
	PPUClk     int64  `json:"ppu_clk"`
	LatencyClk int64  `json:"latency_clk"`

	WeightBits       int64 `json:"weight_bits"`
	WeightPackedBits int64 `json:"weight_packed_bits"`

	Counts Counts `json:"counts"`
	Energy Energy `json:"energy"`
}

// PPUReport is one op that runs on the PPU alone (pooling, residual add,
// rescale, concat, quantize/dequantize, reshapes, float ops).
type PPUReport struct {
	Name      string `json:"name"`
	Op        string `json:"op"`
	Precision string `json:"precision"`
	Elements  int64  `json:"elements"`
	Clk       int64  `json:"clk"`
	Counts    Counts `json:"counts"`
	Energy    Energy `json:"energy"`
}

// ArrayUse is one array of a pool in the placement: arrays are numbered
// from 0; the resident arrays come first, each holding the images the
// allocation packed on it (column packing: several layers' images side by
// side), then the streaming region, then the free arrays. Layer and
// LayerIndex name the layer of the leftmost image (−1: none).
type ArrayUse struct {
	Array       int          `json:"array"`
	Use         string       `json:"use"`
	Layer       string       `json:"layer"`
	LayerIndex  int          `json:"layer_index"`
	Utilisation float64      `json:"utilisation"`
	Images      []ArrayImage `json:"images"`
}

// ArrayImage is one resident weight image on an array: its layer, its
// columns [col, col+cols) and rows (0 when the layout is not known tile by
// tile), and the fraction of its cells holding weights.
type ArrayImage struct {
	Layer       string  `json:"layer"`
	LayerIndex  int     `json:"layer_index"`
	Col         int64   `json:"col"`
	Cols        int64   `json:"cols"`
	Rows        int64   `json:"rows"`
	Utilisation float64 `json:"utilisation"`
}

// Array uses.
const (
	UseResident = "resident"
	UseStream   = "stream"
	UseFree     = "free"
)

// PoolReport is one pool over the whole inference.
type PoolReport struct {
	Pool             string   `json:"pool"`
	Arrays           int      `json:"arrays"`
	Rows             int      `json:"rows"`
	Cols             int      `json:"cols"`
	ResidentArrays   int64    `json:"resident_arrays"`
	StreamArrays     int64    `json:"stream_arrays"`
	UsedArrays       int64    `json:"used_arrays"`
	ArrayUtilisation float64  `json:"array_utilisation"`
	UsedCells        int64    `json:"used_cells"`
	AllocatedCells   int64    `json:"allocated_cells"`
	CellUtilisation  float64  `json:"cell_utilisation"`
	Solver           string   `json:"solver"`
	StreamLayers     []string `json:"stream_layers"`

	Cycles     int64   `json:"cycles"`
	ComputeClk int64   `json:"compute_clk"`
	ReloadClk  int64   `json:"reload_clk"`
	LatencyClk int64   `json:"latency_clk"`
	Busy       float64 `json:"busy"`

	LoadClk      int64   `json:"load_clk"`
	LoadEnergyFJ float64 `json:"load_energy_fj"`

	Counts    Counts     `json:"counts"`
	Energy    Energy     `json:"energy"`
	Placement []ArrayUse `json:"placement"`
}

// Memory is the model's storage footprint.
type Memory struct {
	Weights            int64  `json:"weights"`
	INT8Weights        int64  `json:"int8_weights"`
	INT4Weights        int64  `json:"int4_weights"`
	TernaryWeights     int64  `json:"ternary_weights"`
	WeightBits         int64  `json:"weight_bits"`
	WeightPackedBits   int64  `json:"weight_packed_bits"`
	ActivationBits     int64  `json:"activation_bits"`
	PeakActivationBits int64  `json:"peak_activation_bits"`
	PeakAt             string `json:"peak_at"`
	BufferBits         int64  `json:"buffer_bits"`
}

// Ratio summarises the INT4/TB split of the split layers.
type Ratio struct {
	SplitLayers   int     `json:"split_layers"`
	UnsplitLayers int     `json:"unsplit_layers"`
	INT4Channels  int64   `json:"int4_channels"`
	TBChannels    int64   `json:"tb_channels"`
	Channels      float64 `json:"channels"`
	MACs          float64 `json:"macs"`
}

// Totals is the whole inference.
type Totals struct {
	LatencyClk int64   `json:"latency_clk"`
	LatencyUS  float64 `json:"latency_us"`
	// DMAIOClk is the DMA time of the input loads and output stores, not
	// part of LatencyClk (the simulator's latency_clk includes it); the
	// resident weights' refreshes span LatencyClk + DMAIOClk.
	DMAIOClk            int64   `json:"dma_io_clk"`
	NoOverlapLatencyClk int64   `json:"no_overlap_latency_clk"`
	ArrayClk            int64   `json:"array_clk"`
	LayerPPUClk         int64   `json:"layer_ppu_clk"`
	PPUOpClk            int64   `json:"ppu_op_clk"`
	Bottleneck          string  `json:"bottleneck"`
	BottleneckClk       int64   `json:"bottleneck_clk"`
	EnergyUJ            float64 `json:"energy_uj"`
	LoadClk             int64   `json:"load_clk"`
	LoadEnergyFJ        float64 `json:"load_energy_fj"`
	Counts              Counts  `json:"counts"`
	Energy              Energy  `json:"energy"`
	Memory              Memory  `json:"memory"`
}

// Report is the cost of one compiled module.
type Report struct {
	Schema   string  `json:"schema"`
	Model    string  `json:"model"`
	Label    string  `json:"label"`
	Hardware string  `json:"hardware"`
	ClockMHz float64 `json:"clock_mhz"`
	// Alloc is the allocation objective the arrays were mapped with
	// (mapping.Options.Objective; docs/mapping.md, "Objectives").
	Alloc mapping.Objective `json:"alloc"`
	Ratio Ratio             `json:"ratio"`
	// Accuracy is top-1 on labelled data, measured by the compiler (pimc
	// compile --data) with the quantized reference executor; nil without
	// data: the cost model itself knows nothing of accuracy.
	Accuracy *Accuracy     `json:"accuracy,omitempty"`
	Totals   Totals        `json:"totals"`
	SRAM     PoolReport    `json:"sram"`
	EDRAM    PoolReport    `json:"edram"`
	Layers   []LayerReport `json:"layers"`
	PPUOps   []PPUReport   `json:"ppu_ops"`
}

// Accuracy is a model's top-1 on a labelled data set.
type Accuracy struct {
	Data    string  `json:"data"`
	Images  int     `json:"images"`
	Correct int     `json:"correct"`
	Top1    float64 `json:"top1"` // Correct / Images
}

// ReportFile is what `pimc compile` writes as report.json: the chosen
// DualNet, its INT4-only and TB-only versions, and the comparison.
type ReportFile struct {
	Schema     string      `json:"schema"`
	Chosen     *Report     `json:"chosen"`
	INT4Only   *Report     `json:"int4_only"`
	TBOnly     *Report     `json:"tb_only"`
	Comparison *Comparison `json:"comparison"`
}

// NewReportFile bundles the three reports with their comparison. A nil
// baseline is left out of the comparison (and null in the JSON).
func NewReportFile(chosen, int4only, tbonly *Report) *ReportFile {
	return &ReportFile{Schema: Schema, Chosen: chosen, INT4Only: int4only, TBOnly: tbonly,
		Comparison: Compare(chosen, int4only, tbonly)}
}

// WriteJSON writes v (a *Report, *ReportFile or *Comparison) as indented
// JSON with a final newline. Equal inputs give equal bytes: every list is
// in graph or array order and no map is serialised.
func WriteJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ratio is a/b, or 0 when b is 0 (JSON has no NaN).
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	return a / b
}
