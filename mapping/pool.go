package mapping

import (
	"fmt"

	"pimc/hw"
)

// Pool is a set of identical arrays and the costs the allocator charges for
// running layers on them. IdealPool gives the plain §4 count (one cycle per
// input vector, free weight writes); PoolFromHW takes the costs from a
// hardware description.
type Pool struct {
	Name   string `json:"name"`
	Arrays int    `json:"arrays"`
	// Array is the array size and the native columns per weight (b).
	Array       Array `json:"array"`
	BitsPerCell int   `json:"bits_per_cell"`

	// A layer's input vector of InputBits bits takes
	// ⌈InputBits/InputBitsPerCycle⌉ · ⌈Rows/RowsActive⌉ · ColsPerADC clock
	// cycles on a tile (bit-serial input, row groups, ADC column mux).
	InputBits         int `json:"input_bits"`
	InputBitsPerCycle int `json:"input_bits_per_cycle"`
	RowsActive        int `json:"rows_active"`
	ColsPerADC        int `json:"cols_per_adc"`

	WriteCyclesPerRow   int64   `json:"write_cycles_per_row"`
	WriteEnergyPerRowFJ float64 `json:"write_energy_per_row_fj"`
	// DMABytesPerCycle bounds how fast weights reach the arrays (0: no bound).
	DMABytesPerCycle   int64   `json:"dma_bytes_per_cycle"`
	DMAEnergyPerByteFJ float64 `json:"dma_energy_per_byte_fj"`
	// RetentionCycles is how long a stored weight lasts without refresh
	// (0: static memory, never refreshed).
	RetentionCycles       int64   `json:"retention_cycles"`
	RefreshEnergyPerRowFJ float64 `json:"refresh_energy_per_row_fj"`

	// Compute energies, used only by the energy and edp objectives to
	// price a layer's array work (docs/mapping.md, "Objectives"); zero in
	// IdealPool. BufferReadEnergyPerBitFJ is the PPU buffer's, for the
	// window reads that feed the arrays.
	MACEnergyFJ              float64 `json:"mac_energy_fj"`
	ADCEnergyFJ              float64 `json:"adc_energy_fj"`
	DriverEnergyPerRowFJ     float64 `json:"driver_energy_per_row_fj"`
	BufferReadEnergyPerBitFJ float64 `json:"buffer_read_energy_per_bit_fj"`
}

// IdealPool is n arrays of the given size counted as in DESIGN.md §4: one
// clock cycle per input vector, weight writes free and instantaneous, no
// refresh. With n = 1 the auto mapping's cycles compare directly with the
// single-array schemes.
func IdealPool(n int, a Array) Pool {
	return Pool{
		Name: "ideal", Arrays: n, Array: a, BitsPerCell: 1,
		InputBits: 1, InputBitsPerCycle: 1, RowsActive: a.Rows, ColsPerADC: 1,
	}
}

// PoolKind selects one of the chip's two pools.
type PoolKind string

const (
	PoolSRAM  PoolKind = "sram"  // INT4 path, hw.Hardware.SRAM
	PoolEDRAM PoolKind = "edram" // TB path, hw.Hardware.EDRAM
)

// PoolFromHW builds the allocator's view of one pool of a validated
// description.
func PoolFromHW(h *hw.Hardware, kind PoolKind) (Pool, error) {
	var p *hw.Pool
	switch kind {
	case PoolSRAM:
		p = &h.SRAM
	case PoolEDRAM:
		p = &h.EDRAM
	default:
		return Pool{}, fmt.Errorf("mapping: unknown pool %q (want %q or %q)", kind, PoolSRAM, PoolEDRAM)
	}
	if err := h.Validate(); err != nil {
		return Pool{}, fmt.Errorf("mapping: hardware %q: %w", h.Name, err)
	}
	return Pool{
		Name:                  string(kind),
		Arrays:                p.Arrays,
		Array:                 Array{Rows: p.Rows, Cols: p.Cols, WeightCols: p.CellsPerWeight},
		BitsPerCell:           p.WeightBitsPerCell,
		InputBits:             p.InputBits,
		InputBitsPerCycle:     p.InputBitsPerCycle,
		RowsActive:            p.RowsActivePerCycle,
		ColsPerADC:            p.ColsPerADC,
		WriteCyclesPerRow:     int64(p.WriteCyclesPerRow),
		WriteEnergyPerRowFJ:   p.WriteEnergyPerRowFJ,
		DMABytesPerCycle:      int64(h.DMA.BytesPerCycle),
		DMAEnergyPerByteFJ:    h.DMA.EnergyPerByteFJ,
		RetentionCycles:       h.RetentionCycles(p),
		RefreshEnergyPerRowFJ: p.RefreshEnergyPerRowFJ,

		MACEnergyFJ:              p.MACEnergyFJ,
		ADCEnergyFJ:              p.ADCEnergyFJ,
		DriverEnergyPerRowFJ:     p.DriverEnergyPerRowFJ,
		BufferReadEnergyPerBitFJ: h.PPU.BufferReadEnergyPerBitFJ,
	}, nil
}

func (p Pool) check() error {
	if err := p.Array.check(); err != nil {
		return fmt.Errorf("pool %q: %w", p.Name, err)
	}
	bad := func(field string, v int64) error {
		return fmt.Errorf("mapping: pool %q: %s=%d must be positive", p.Name, field, v)
	}
	switch {
	case p.Arrays < 1 || p.Arrays > 1<<24:
		return fmt.Errorf("mapping: pool %q: arrays=%d out of range [1, %d]", p.Name, p.Arrays, 1<<24)
	case p.BitsPerCell < 1:
		return bad("bits_per_cell", int64(p.BitsPerCell))
	case p.InputBits < 1:
		return bad("input_bits", int64(p.InputBits))
	case p.InputBitsPerCycle < 1:
		return bad("input_bits_per_cycle", int64(p.InputBitsPerCycle))
	case p.RowsActive < 1:
		return bad("rows_active", int64(p.RowsActive))
	case p.ColsPerADC < 1:
		return bad("cols_per_adc", int64(p.ColsPerADC))
	case p.WriteCyclesPerRow < 0:
		return fmt.Errorf("mapping: pool %q: write_cycles_per_row=%d must not be negative", p.Name, p.WriteCyclesPerRow)
	case p.DMABytesPerCycle < 0:
		return fmt.Errorf("mapping: pool %q: dma_bytes_per_cycle=%d must not be negative", p.Name, p.DMABytesPerCycle)
	case p.RetentionCycles < 0:
		return fmt.Errorf("mapping: pool %q: retention_cycles=%d must not be negative", p.Name, p.RetentionCycles)
	case p.WriteEnergyPerRowFJ < 0 || p.DMAEnergyPerByteFJ < 0 || p.RefreshEnergyPerRowFJ < 0 ||
		p.MACEnergyFJ < 0 || p.ADCEnergyFJ < 0 || p.DriverEnergyPerRowFJ < 0 || p.BufferReadEnergyPerBitFJ < 0:
		return fmt.Errorf("mapping: pool %q: energies must not be negative", p.Name)
	}
	return nil
}

// CyclesPerVector is the clock cycles one input vector of the given width
// takes on one tile.
func (p Pool) CyclesPerVector(inputBits int) int64 {
	in := ceilDiv(int64(inputBits), int64(p.InputBitsPerCycle))
	groups := ceilDiv(int64(p.Array.Rows), int64(p.RowsActive))
	return in * groups * int64(p.ColsPerADC)
}

// tileArray is the array as tiling sees it. A tile's ADC groups start at
// multiples of RowsActive from its first row, and the backend starts images
// at multiples of ⌊Rows/RowsActive⌋·RowsActive so that the groups are the
// tiles of docs/quantization.md §8.1; when RowsActive does not divide Rows,
// a tile therefore holds at most that many rows (the rest of the array's
// rows stay unused), and mapping must cut tiles the same way.
func (p Pool) tileArray() Array {
	a := p.Array
	a.Rows = TileRows(a.Rows, p.RowsActive)
	return a
}

// TileRows is the rows a tile may hold on an array of the given rows when
// rowsActive rows are read per cycle (see tileArray).
func TileRows(rows, rowsActive int) int {
	if rowsActive > 0 && rowsActive < rows {
		return rows - rows%rowsActive
	}
	return rows
}

// inputCycles is the bit-serial cycles of an input of the given width.
func (p Pool) inputCycles(inputBits int) int64 {
	return ceilDiv(int64(inputBits), int64(p.InputBitsPerCycle))
}

// rowGroups is the analog evaluations that cover all rows of a tile.
func (p Pool) rowGroups() int64 {
	return ceilDiv(int64(p.Array.Rows), int64(p.RowsActive))
}

// rowBytes is the bytes one row write moves.
func (p Pool) rowBytes() int64 {
	return ceilDiv(int64(p.Array.Cols)*int64(p.BitsPerCell), 8)
}

// writeClk is the time to write a set of tiles on different arrays at once:
// the arrays write in parallel (the fullest tile's rows × cycles per row),
// but all bytes pass through the DMA.
func (p Pool) writeClk(maxTileRows, rows int64) int64 {
	return max(satMul(maxTileRows, p.WriteCyclesPerRow), p.busClk(rows))
}

// busClk is the time the DMA bus takes to move rows of weights (0 when
// the bus is not a bound).
func (p Pool) busClk(rows int64) int64 {
	if p.DMABytesPerCycle <= 0 {
		return 0
	}
	return ceilDiv(satMul(rows, p.rowBytes()), p.DMABytesPerCycle)
}

// writeEnergy is the energy to write rows of weights (array writes plus DMA
// traffic), in fJ.
func (p Pool) writeEnergy(rows int64) float64 {
	return float64(rows) * (p.WriteEnergyPerRowFJ + float64(p.rowBytes())*p.DMAEnergyPerByteFJ)
}
