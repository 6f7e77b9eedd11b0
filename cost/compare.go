package cost

import "fmt"

// Metrics are the three quantities the headline table compares.
type Metrics struct {
	Label      string  `json:"label"`
	EnergyFJ   float64 `json:"energy_fj"`
	WeightBits int64   `json:"weight_bits"`
	LatencyClk int64   `json:"latency_clk"`
	// Secondary figures, for readers who count memory differently.
	WeightPackedBits   int64 `json:"weight_packed_bits"`
	PeakActivationBits int64 `json:"peak_activation_bits"`
	// Top1 is the measured top-1 accuracy (fraction), when the report has one.
	Top1 *float64 `json:"top1,omitempty"`
}

func metricsOf(r *Report) Metrics {
	t := r.Totals
	return Metrics{Label: r.Label, EnergyFJ: t.Energy.Total, WeightBits: t.Memory.WeightBits,
		LatencyClk: t.LatencyClk, WeightPackedBits: t.Memory.WeightPackedBits,
		PeakActivationBits: t.Memory.PeakActivationBits, Top1: top1(r)}
}

func top1(r *Report) *float64 {
	if r.Accuracy == nil {
		return nil
	}
	v := r.Accuracy.Top1
	return &v
}

// Savings is the chosen model against one baseline. Each saving is
// 1 − chosen/baseline: 0.25 means the chosen model needs 25% less; a
// negative value means it needs more. Memory is weight memory (2-bit
// ternary storage; the packed figure is separate), since activations are
// stored as 4-bit codes whatever the ratio.
type Savings struct {
	Baseline          string  `json:"baseline"`
	Metrics           Metrics `json:"metrics"`
	EnergySaved       float64 `json:"energy_saved"`
	MemorySaved       float64 `json:"memory_saved"`
	LatencySaved      float64 `json:"latency_saved"`
	PackedMemorySaved float64 `json:"packed_memory_saved"`
	Headline          string  `json:"headline"`
	EnergyRatio       float64 `json:"energy_ratio"`
	MemoryRatio       float64 `json:"memory_ratio"`
	LatencyRatio      float64 `json:"latency_ratio"`
	// AccuracyDeltaPts is the chosen model's top-1 minus the baseline's, in
	// percentage points, when both were measured on the same data.
	AccuracyDeltaPts *float64 `json:"accuracy_delta_pts,omitempty"`
}

// Comparison is the paper's headline table: the chosen ratios against
// INT4-only (r = 1) and TB-only (r = 0) on the same hardware and mapping.
type Comparison struct {
	Chosen    Metrics   `json:"chosen"`
	Baselines []Savings `json:"baselines"`
}

// Baseline labels.
const (
	LabelChosen   = "chosen"
	LabelINT4Only = "int4-only"
	LabelTBOnly   = "tb-only"
)

// Compare computes the relative savings of the chosen ratios against the
// INT4-only and TB-only compilations of the same model (in that order; a
// nil baseline is skipped). It returns nil when chosen is nil.
func Compare(chosen, int4only, tbonly *Report) *Comparison {
	if chosen == nil {
		return nil
	}
	c := &Comparison{Chosen: metricsOf(chosen), Baselines: []Savings{}}
	if c.Chosen.Label == "" {
		c.Chosen.Label = LabelChosen
	}
	for _, b := range []struct {
		name string
		r    *Report
	}{{LabelINT4Only, int4only}, {LabelTBOnly, tbonly}} {
		if b.r == nil {
			continue
		}
		m := metricsOf(b.r)
		s := Savings{Baseline: b.name, Metrics: m,
			EnergyRatio:  ratio(c.Chosen.EnergyFJ, m.EnergyFJ),
			MemoryRatio:  ratio(float64(c.Chosen.WeightBits), float64(m.WeightBits)),
			LatencyRatio: ratio(float64(c.Chosen.LatencyClk), float64(m.LatencyClk)),
		}
		s.EnergySaved = saved(c.Chosen.EnergyFJ, m.EnergyFJ)
		s.MemorySaved = saved(float64(c.Chosen.WeightBits), float64(m.WeightBits))
		s.LatencySaved = saved(float64(c.Chosen.LatencyClk), float64(m.LatencyClk))
		s.PackedMemorySaved = saved(float64(c.Chosen.WeightPackedBits), float64(m.WeightPackedBits))
		s.Headline = fmt.Sprintf("%s energy, %s memory, %s latency saved vs %s",
			pct(s.EnergySaved), pct(s.MemorySaved), pct(s.LatencySaved), b.name)
		if c.Chosen.Top1 != nil && m.Top1 != nil && chosen.Accuracy.Data == b.r.Accuracy.Data && chosen.Accuracy.Images == b.r.Accuracy.Images {
			d := 100 * (*c.Chosen.Top1 - *m.Top1)
			s.AccuracyDeltaPts = &d
			s.Headline = fmt.Sprintf("%s energy, %s memory, %s latency saved, %+.2f pts top-1 vs %s",
				pct(s.EnergySaved), pct(s.MemorySaved), pct(s.LatencySaved), d, b.name)
		}
		c.Baselines = append(c.Baselines, s)
	}
	return c
}

// saved is 1 − chosen/baseline, and 0 when the baseline is 0 (nothing to
// save).
func saved(chosen, base float64) float64 {
	if base == 0 {
		return 0
	}
	return 1 - chosen/base
}

// pct prints a fraction as a percentage with one decimal ("29.0%").
func pct(f float64) string {
	s := fmt.Sprintf("%.1f%%", 100*f)
	if s == "-0.0%" {
		return "0.0%"
	}
	return s
}
