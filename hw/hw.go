package hw

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
)

// Weight encodings of a pool: how one weight is spread over cells.
const (
	// EncodingTwosComplement stores a weight of CellsPerWeight*WeightBitsPerCell
	// bits in two's complement, one bit plane per column; the most significant
	// column carries the negative weight (−8 for a 4-bit weight).
	EncodingTwosComplement = "twos_complement"
	// EncodingTernaryPair stores a ternary weight t ∈ {−1,0,+1} on a +/− column
	// pair: +1 sets the + cell, −1 sets the − cell, 0 sets neither.
	EncodingTernaryPair = "ternary_pair"
)

// Hardware is one chip description. All fields are required in a file; units
// are part of the JSON names so that a wrong unit is visible in the file.
type Hardware struct {
	Name     string  `json:"name"`
	ClockMHz float64 `json:"clock_mhz"`
	SRAM     Pool    `json:"sram_pim"`
	EDRAM    Pool    `json:"edram_pim"`
	PPU      PPU     `json:"ppu"`
	DMA      DMA     `json:"dma"`

	// source is the file the description came from, so that Validate can
	// name it; empty for descriptions built in code.
	source string
}

// Pool is a set of identical PIM arrays.
type Pool struct {
	Rows   int `json:"rows"`
	Cols   int `json:"cols"`
	Arrays int `json:"arrays"`

	WeightEncoding    string `json:"weight_encoding"`
	WeightBitsPerCell int    `json:"weight_bits_per_cell"`
	// CellsPerWeight is the number of columns one weight occupies (b in the
	// mapping formulas): 4 for INT4 two's complement, 2 for a ternary pair.
	CellsPerWeight int `json:"cells_per_weight"`

	// InputBits is the activation width the pool's path feeds in (4 for the
	// INT4 path's codes, 1 for the TB path's binary activations).
	InputBits          int `json:"input_bits"`
	InputBitsPerCycle  int `json:"input_bits_per_cycle"`
	RowsActivePerCycle int `json:"rows_active_per_cycle"`

	// ADCBits is the converter resolution; ignored (and may be 0) when
	// ADCIdeal is set, which means exact partial sums.
	ADCBits    int  `json:"adc_bits"`
	ADCIdeal   bool `json:"adc_ideal"`
	ColsPerADC int  `json:"cols_per_adc"`

	MACEnergyFJ float64 `json:"mac_energy_fj"`
	ADCEnergyFJ float64 `json:"adc_energy_fj"`
	// DriverEnergyPerRowFJ is the input (word-line) driver energy for one
	// row in one input bit-cycle. It is charged for every row that holds
	// weights, whatever the input bit, so that the count is a function of
	// the layer's shape alone (docs/cost.md).
	DriverEnergyPerRowFJ  float64 `json:"driver_energy_per_row_fj"`
	WriteEnergyPerRowFJ   float64 `json:"write_energy_per_row_fj"`
	WriteCyclesPerRow     int     `json:"write_cycles_per_row"`
	RetentionUS           float64 `json:"retention_us"`
	RefreshEnergyPerRowFJ float64 `json:"refresh_energy_per_row_fj"`
}

// PPU is the digital post-processing unit (requantization, pooling, adds).
type PPU struct {
	OpsPerCycle               int     `json:"ops_per_cycle"`
	EnergyPerOpFJ             float64 `json:"energy_per_op_fj"`
	BufferBytes               int     `json:"buffer_bytes"`
	BufferReadEnergyPerBitFJ  float64 `json:"buffer_read_energy_per_bit_fj"`
	BufferWriteEnergyPerBitFJ float64 `json:"buffer_write_energy_per_bit_fj"`
}

// DMA moves weights and activations between off-chip memory and the chip.
type DMA struct {
	BytesPerCycle   int     `json:"bytes_per_cycle"`
	EnergyPerByteFJ float64 `json:"energy_per_byte_fj"`
}

// DefaultName is the name of the built-in description.
const DefaultName = "dualpim-28nm"

// Default returns the built-in dualpim-28nm description (DESIGN.md §3; the
// numbers DESIGN.md leaves open are explained in docs/hardware.md).
func Default() *Hardware {
	return &Hardware{
		Name:     DefaultName,
		ClockMHz: 100,
		SRAM: Pool{
			Rows: 128, Cols: 128, Arrays: 64,
			WeightEncoding: EncodingTwosComplement, WeightBitsPerCell: 1, CellsPerWeight: 4,
			InputBits: 4, InputBitsPerCycle: 1, RowsActivePerCycle: 128,
			ADCBits: 5, ADCIdeal: false, ColsPerADC: 8,
			MACEnergyFJ: 29, ADCEnergyFJ: 60, DriverEnergyPerRowFJ: 20,
			WriteEnergyPerRowFJ: 1280, WriteCyclesPerRow: 1,
			RetentionUS: 0, RefreshEnergyPerRowFJ: 0,
		},
		EDRAM: Pool{
			Rows: 128, Cols: 128, Arrays: 32,
			WeightEncoding: EncodingTernaryPair, WeightBitsPerCell: 1, CellsPerWeight: 2,
			InputBits: 1, InputBitsPerCycle: 1, RowsActivePerCycle: 128,
			ADCBits: 5, ADCIdeal: false, ColsPerADC: 8,
			MACEnergyFJ: 4.2, ADCEnergyFJ: 60, DriverEnergyPerRowFJ: 20,
			WriteEnergyPerRowFJ: 1280, WriteCyclesPerRow: 1,
			RetentionUS: 200, RefreshEnergyPerRowFJ: 1920,
		},
		PPU: PPU{
			OpsPerCycle: 256, EnergyPerOpFJ: 250, BufferBytes: 256 << 10,
			BufferReadEnergyPerBitFJ: 100, BufferWriteEnergyPerBitFJ: 120,
		},
		DMA: DMA{BytesPerCycle: 16, EnergyPerByteFJ: 32000},
	}
}

// Source reports the file the description was read from ("" if built in code).
func (h *Hardware) Source() string { return h.source }

// JSON returns the canonical form: indented, fields in declaration order,
// floats in Go's shortest round-trip form, a final newline. Equal descriptions
// give equal bytes.
func (h *Hardware) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		return nil, fmt.Errorf("hw: encode %q: %w", h.Name, err)
	}
	return buf.Bytes(), nil
}

// Fingerprint is the SHA-256 of the canonical JSON. The binary program header
// carries it so the loader can refuse a program built for other hardware.
func (h *Hardware) Fingerprint() ([32]byte, error) {
	b, err := h.JSON()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// ChannelsPerArray is the number of output channels (weight columns) one array
// holds side by side: ⌊cols / cells per weight⌋ (Ceff in docs/mapping.md).
func (p *Pool) ChannelsPerArray() int {
	if p.CellsPerWeight <= 0 {
		return 0
	}
	return p.Cols / p.CellsPerWeight
}

// WeightsPerArray is rows × ChannelsPerArray: the weights one array stores.
func (p *Pool) WeightsPerArray() int { return p.Rows * p.ChannelsPerArray() }

// WeightBits is the width of one stored weight in bits of cell state.
func (p *Pool) WeightBits() int { return p.CellsPerWeight * p.WeightBitsPerCell }

// InputCycles is the number of cycles to feed an input of the given width
// bit-serially: ⌈bits / input bits per cycle⌉.
func (p *Pool) InputCycles(bits int) int {
	if bits <= 0 || p.InputBitsPerCycle <= 0 {
		return 0
	}
	return (bits + p.InputBitsPerCycle - 1) / p.InputBitsPerCycle
}

// RowGroups is the number of analog evaluations needed to cover all rows when
// fewer rows than the array has may be active at once.
func (p *Pool) RowGroups() int {
	if p.RowsActivePerCycle <= 0 {
		return 0
	}
	return (p.Rows + p.RowsActivePerCycle - 1) / p.RowsActivePerCycle
}

// CyclesPerVector is the clock cycles one input vector of the given width
// takes on one array: input bit-cycles × row groups × columns per ADC. The ADC
// factor is there because columns sharing a converter are read one after
// another (NeuroSim's column-mux model); docs/hardware.md explains it.
func (p *Pool) CyclesPerVector(inputBits int) int {
	return p.InputCycles(inputBits) * p.RowGroups() * p.ColsPerADC
}

// RowBytes is the bytes one weight-row write moves: cols × bits per cell / 8,
// rounded up.
func (p *Pool) RowBytes() int { return (p.Cols*p.WeightBitsPerCell + 7) / 8 }

// RetentionCycles converts the pool's retention time into clock cycles
// (retention_us × clock_mhz), rounded down; 0 means no refresh is needed.
func (h *Hardware) RetentionCycles(p *Pool) int64 {
	return int64(p.RetentionUS * h.ClockMHz)
}

// CyclesToMicroseconds converts clock cycles into µs at the chip's clock.
func (h *Hardware) CyclesToMicroseconds(c int64) float64 {
	if h.ClockMHz <= 0 {
		return 0
	}
	return float64(c) / h.ClockMHz
}
