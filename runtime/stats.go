package runtime

import (
	"encoding/json"

	"pimc/backend/isa"
)

// Energy is energy by component, in femtojoules, with docs/cost.md's
// component names.
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
}

// Total is the sum of the components.
func (e Energy) Total() float64 {
	return e.MAC + e.ADC + e.Driver + e.PPU + e.BufferRead + e.BufferWrite + e.WeightWrite + e.DMA + e.Refresh
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
}

// MarshalJSON adds the total.
func (e Energy) MarshalJSON() ([]byte, error) {
	type plain Energy
	return json.Marshal(struct {
		plain
		Total float64 `json:"total_fj"`
	}{plain(e), e.Total()})
}

// Counts are the events of one engine (docs/cost.md's count names).
type Counts struct {
	Instructions      int64 `json:"instructions"`
	Programs          int64 `json:"programs,omitempty"`            // WPROG: array (re)programmings
	WeightRowsWritten int64 `json:"weight_rows_written,omitempty"` //
	Refreshes         int64 `json:"refreshes,omitempty"`           // row refreshes (eDRAM)
	MVMs              int64 `json:"mvms,omitempty"`                //
	Windows           int64 `json:"windows,omitempty"`             // input vectors applied (summed over tiles)
	MACs              int64 `json:"macs,omitempty"`                //
	ADCConversions    int64 `json:"adc_conversions,omitempty"`     //
	DriverRowCycles   int64 `json:"driver_row_cycles,omitempty"`   //
	PPUOps            int64 `json:"ppu_ops,omitempty"`             // PPU element operations
	BufferReadBits    int64 `json:"buffer_read_bits,omitempty"`    //
	BufferWriteBits   int64 `json:"buffer_write_bits,omitempty"`   //
	DMABytes          int64 `json:"dma_bytes,omitempty"`           // off-chip bytes (weights, inputs, outputs)
}

// EngineStats is one engine's time, events and energy in one phase.
type EngineStats struct {
	Engine      string  `json:"engine"`
	BusyClk     int64   `json:"busy_clk"`   // Σ instruction durations (pools: over all arrays)
	FinishClk   int64   `json:"finish_clk"` // when its last instruction finished
	Utilisation float64 `json:"utilisation"`
	Counts      Counts  `json:"counts"`
	EnergyFJ    Energy  `json:"energy_fj"`
}

// PhaseStats is the setup (resident weight programming, once per loaded
// program) or one inference.
type PhaseStats struct {
	LatencyClk int64   `json:"latency_clk"`
	LatencyUS  float64 `json:"latency_us"`
	// DMAIOClk is the time of the input loads and output stores, which
	// docs/cost.md leaves out of its latency.
	DMAIOClk int64         `json:"dma_io_clk"`
	Engines  []EngineStats `json:"engines"`
	Counts   Counts        `json:"counts"`
	EnergyFJ Energy        `json:"energy_fj"`
}

// Stats is what `pimc run` writes to stats.json.
type Stats struct {
	Model     string     `json:"model"`
	Hardware  string     `json:"hardware"`
	ClockMHz  float64    `json:"clock_mhz"`
	ABufWords int        `json:"abuf_words"`
	PSumWords int        `json:"psum_words"`
	Inference PhaseStats `json:"inference"`
	Setup     PhaseStats `json:"setup"`
}

func (m *Machine) phaseStats(ph *Phase) PhaseStats {
	h := m.p.h
	s := PhaseStats{LatencyClk: ph.makespan, LatencyUS: h.CyclesToMicroseconds(ph.makespan), DMAIOClk: ph.ioClk}
	for e := isa.Engine(0); e < isa.NumEngines; e++ {
		es := &ph.eng[e]
		st := EngineStats{Engine: e.String(), BusyClk: es.busy, FinishClk: es.t, Counts: es.c, EnergyFJ: es.en}
		st.Counts.Instructions = es.n
		if ph.makespan > 0 {
			par := int64(1)
			if e.IsPool() {
				par = int64(len(m.arr[e]))
			}
			st.Utilisation = float64(es.busy) / float64(ph.makespan*par)
		}
		s.Engines = append(s.Engines, st)
		s.EnergyFJ.add(es.en)
		c := &s.Counts
		c.Instructions += es.n
		c.Programs += es.c.Programs
		c.WeightRowsWritten += es.c.WeightRowsWritten
		c.Refreshes += es.c.Refreshes
		c.MVMs += es.c.MVMs
		c.Windows += es.c.Windows
		c.MACs += es.c.MACs
		c.ADCConversions += es.c.ADCConversions
		c.DriverRowCycles += es.c.DriverRowCycles
		c.PPUOps += es.c.PPUOps
		c.BufferReadBits += es.c.BufferReadBits
		c.BufferWriteBits += es.c.BufferWriteBits
		c.DMABytes += es.c.DMABytes
	}
	return s
}

func (m *Machine) stats(ph *Phase) *Stats {
	return &Stats{Model: m.p.bin.Model, Hardware: m.p.h.Name, ClockMHz: m.p.h.ClockMHz,
		ABufWords: m.p.abuf, PSumWords: m.p.psum,
		Inference: m.phaseStats(ph), Setup: m.phaseStats(m.setupStats)}
}
