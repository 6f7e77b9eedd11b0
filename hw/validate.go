package hw

import (
	"fmt"
	"math"
)

// Upper bounds keep every product the cost model forms (rows × cols × arrays,
// cycles × energies) far from int64 overflow; real chips are well inside them.
const (
	maxDim       = 1 << 16 // rows, cols
	maxArrays    = 1 << 20
	maxBits      = 16 // ADC and input widths
	maxClockMHz  = 100000
	maxCellBits  = 8
	maxPerCycles = 1 << 20 // write cycles per row, ops and bytes per cycle
)

// Validate checks every field and returns all problems together as Errors,
// each naming the file (if the description came from one) and the JSON path.
func (h *Hardware) Validate() error {
	v := validator{file: h.source}
	if h.Name == "" {
		v.add("name", "must not be empty")
	} else if len(h.Name) > 128 {
		v.add("name", "longer than 128 bytes")
	}
	v.positiveFloat("clock_mhz", h.ClockMHz, maxClockMHz)
	v.pool("sram_pim", &h.SRAM, h.ClockMHz, EncodingTwosComplement, false)
	v.pool("edram_pim", &h.EDRAM, h.ClockMHz, EncodingTernaryPair, true)

	v.positiveInt("ppu.ops_per_cycle", h.PPU.OpsPerCycle, maxPerCycles)
	v.energy("ppu.energy_per_op_fj", h.PPU.EnergyPerOpFJ)
	v.positiveInt("ppu.buffer_bytes", h.PPU.BufferBytes, math.MaxInt32)
	v.energy("ppu.buffer_read_energy_per_bit_fj", h.PPU.BufferReadEnergyPerBitFJ)
	v.energy("ppu.buffer_write_energy_per_bit_fj", h.PPU.BufferWriteEnergyPerBitFJ)

	v.positiveInt("dma.bytes_per_cycle", h.DMA.BytesPerCycle, maxPerCycles)
	v.energy("dma.energy_per_byte_fj", h.DMA.EnergyPerByteFJ)

	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

type validator struct {
	file string
	errs Errors
}

func (v *validator) add(field, msg string) {
	v.errs = append(v.errs, &FieldError{File: v.file, Field: field, Msg: msg})
}

// positiveInt reports whether x is in [1, limit], recording a problem if not.
func (v *validator) positiveInt(field string, x, limit int) bool {
	switch {
	case x < 0:
		v.add(field, fmt.Sprintf("must be positive, got negative %d", x))
	case x == 0:
		v.add(field, "must be positive, got 0")
	case x > limit:
		v.add(field, fmt.Sprintf("must be at most %d, got %d", limit, x))
	default:
		return true
	}
	return false
}

func (v *validator) positiveFloat(field string, x, limit float64) bool {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		v.add(field, "must be a finite number")
	case x < 0:
		v.add(field, fmt.Sprintf("must be positive, got negative %g", x))
	case x == 0:
		v.add(field, "must be positive, got 0")
	case x > limit:
		v.add(field, fmt.Sprintf("must be at most %g, got %g", limit, x))
	default:
		return true
	}
	return false
}

// energy checks a non-negative finite energy (0 is allowed: "not modelled").
func (v *validator) energy(field string, x float64) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		v.add(field, "must be a finite number")
	case x < 0:
		v.add(field, fmt.Sprintf("must not be negative, got %g", x))
	case x > 1e15:
		v.add(field, fmt.Sprintf("implausibly large (%g fJ); is the unit right?", x))
	}
}

func (v *validator) pool(name string, p *Pool, clockMHz float64, encoding string, dynamic bool) {
	f := func(s string) string { return name + "." + s }
	rowsOK := v.positiveInt(f("rows"), p.Rows, maxDim)
	colsOK := v.positiveInt(f("cols"), p.Cols, maxDim)
	v.positiveInt(f("arrays"), p.Arrays, maxArrays)

	switch p.WeightEncoding {
	case EncodingTwosComplement, EncodingTernaryPair:
		if p.WeightEncoding != encoding {
			v.add(f("weight_encoding"), fmt.Sprintf("must be %q for this pool's path, got %q", encoding, p.WeightEncoding))
		}
	default:
		v.add(f("weight_encoding"), fmt.Sprintf("must be %q or %q, got %q", EncodingTwosComplement, EncodingTernaryPair, p.WeightEncoding))
	}
	bitsOK := v.positiveInt(f("weight_bits_per_cell"), p.WeightBitsPerCell, maxCellBits)
	cellsOK := v.positiveInt(f("cells_per_weight"), p.CellsPerWeight, maxDim)
	if colsOK && cellsOK {
		if p.CellsPerWeight > p.Cols {
			v.add(f("cells_per_weight"), fmt.Sprintf("%d exceeds cols (%d)", p.CellsPerWeight, p.Cols))
		} else if p.Cols%p.CellsPerWeight != 0 {
			v.add(f("cells_per_weight"), fmt.Sprintf("must divide cols (%d), got %d", p.Cols, p.CellsPerWeight))
		}
	}
	if bitsOK && cellsOK {
		switch p.WeightEncoding {
		case EncodingTernaryPair:
			if p.CellsPerWeight != 2 {
				v.add(f("cells_per_weight"), fmt.Sprintf("must be 2 for %q (a +/- column pair), got %d", EncodingTernaryPair, p.CellsPerWeight))
			}
			if p.WeightBitsPerCell != 1 {
				v.add(f("weight_bits_per_cell"), fmt.Sprintf("must be 1 for %q, got %d", EncodingTernaryPair, p.WeightBitsPerCell))
			}
		case EncodingTwosComplement:
			if wb := p.CellsPerWeight * p.WeightBitsPerCell; wb < 2 || wb > maxBits {
				v.add(f("cells_per_weight"), fmt.Sprintf("cells_per_weight × weight_bits_per_cell must be 2..%d bits for %q, got %d", maxBits, EncodingTwosComplement, wb))
			}
		}
	}

	inOK := v.positiveInt(f("input_bits"), p.InputBits, maxBits)
	perOK := v.positiveInt(f("input_bits_per_cycle"), p.InputBitsPerCycle, maxBits)
	if inOK && perOK && p.InputBitsPerCycle > p.InputBits {
		v.add(f("input_bits_per_cycle"), fmt.Sprintf("%d exceeds input_bits (%d)", p.InputBitsPerCycle, p.InputBits))
	}
	if v.positiveInt(f("rows_active_per_cycle"), p.RowsActivePerCycle, maxDim) && rowsOK && p.RowsActivePerCycle > p.Rows {
		v.add(f("rows_active_per_cycle"), fmt.Sprintf("%d exceeds rows (%d)", p.RowsActivePerCycle, p.Rows))
	}

	switch {
	case p.ADCBits < 0:
		v.add(f("adc_bits"), fmt.Sprintf("must not be negative, got %d", p.ADCBits))
	case p.ADCBits > maxBits:
		v.add(f("adc_bits"), fmt.Sprintf("must be at most %d, got %d", maxBits, p.ADCBits))
	case p.ADCBits == 0 && !p.ADCIdeal:
		v.add(f("adc_bits"), "must be positive unless adc_ideal is true")
	}
	if v.positiveInt(f("cols_per_adc"), p.ColsPerADC, maxDim) && colsOK {
		if p.ColsPerADC > p.Cols {
			v.add(f("cols_per_adc"), fmt.Sprintf("%d exceeds cols (%d)", p.ColsPerADC, p.Cols))
		} else if p.Cols%p.ColsPerADC != 0 {
			v.add(f("cols_per_adc"), fmt.Sprintf("must divide cols (%d), got %d", p.Cols, p.ColsPerADC))
		}
	}

	v.energy(f("mac_energy_fj"), p.MACEnergyFJ)
	v.energy(f("adc_energy_fj"), p.ADCEnergyFJ)
	v.energy(f("driver_energy_per_row_fj"), p.DriverEnergyPerRowFJ)
	v.energy(f("write_energy_per_row_fj"), p.WriteEnergyPerRowFJ)
	v.positiveInt(f("write_cycles_per_row"), p.WriteCyclesPerRow, maxPerCycles)
	v.energy(f("refresh_energy_per_row_fj"), p.RefreshEnergyPerRowFJ)

	r := p.RetentionUS
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		v.add(f("retention_us"), "must be a finite number")
	case r < 0:
		v.add(f("retention_us"), fmt.Sprintf("must not be negative, got %g", r))
	case r == 0 && dynamic:
		v.add(f("retention_us"), "must be positive for eDRAM (0 would mean it never needs refresh)")
	case r > 0 && clockMHz > 0 && r*clockMHz < 1:
		v.add(f("retention_us"), fmt.Sprintf("%g µs is shorter than one clock cycle at %g MHz", r, clockMHz))
	case r > 1e12:
		v.add(f("retention_us"), fmt.Sprintf("implausibly large (%g µs); use 0 for static memory", r))
	}
}
