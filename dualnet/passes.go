package dualnet

import "pimc/ir"

// Options is the whole DualNet configuration: calibration data, ratios,
// split policy and quantizer switches.
type Options struct {
	// Samples are calibration inputs (one tensor per sample for the
	// model's input); nil selects data-free calibration.
	Samples []*ir.Tensor
	Calib   CalibOptions
	Ratios  Ratios
	Split   SplitOptions
	Quant   QuantOptions
}

// DefaultOptions: data-free calibration, r = 0.5 everywhere, first and
// last layers at INT8, fitting and bias correction on.
func DefaultOptions() Options {
	return Options{Ratios: Uniform(0.5), Split: DefaultSplitOptions()}
}

// CalibratePass returns the `calibrate` pass: it calibrates on samples
// (data-free when there are none) and records the result on the module
// for the quantize pass.
func CalibratePass(samples []*ir.Tensor, o CalibOptions) func(*ir.Module) error {
	return func(m *ir.Module) error {
		var c *Calibration
		var err error
		if len(samples) > 0 {
			c, err = Calibrate(m, samples, o)
		} else {
			c, err = DataFree(m, o)
		}
		if err != nil {
			return err
		}
		SetCalibration(m, c)
		return nil
	}
}

// SetCalibration records a calibration on the module.
func SetCalibration(m *ir.Module, c *Calibration) {
	if m.Meta == nil {
		m.Meta = map[string]any{}
	}
	m.Meta[metaCalib] = c
}

// CalibrationOf returns the calibration recorded on the module, or nil.
func CalibrationOf(m *ir.Module) *Calibration {
	c, _ := m.Meta[metaCalib].(*Calibration)
	return c
}

// SplitPass returns the `dual-split` pass.
func SplitPass(r Ratios, o SplitOptions) func(*ir.Module) error {
	return func(m *ir.Module) error { return Split(m, r, o) }
}

// QuantizePass returns the `quantize` pass (it reads the calibration the
// calibrate pass recorded).
func QuantizePass(o QuantOptions) func(*ir.Module) error {
	return func(m *ir.Module) error { return Quantize(m, nil, o) }
}

// Passes returns the three DualNet passes in order, for the pipeline
// table. `record-bn-stats` (RecordBNStats) is separate: it must run before
// BatchNorm folding.
func Passes(o Options) []ir.Pass {
	return []ir.Pass{
		{Name: "calibrate", Run: CalibratePass(o.Samples, o.Calib), Required: true, Level: ir.LevelCanonical,
			Doc: "Record activation histograms from calibration data (or data-free from BatchNorm statistics)"},
		{Name: "dual-split", Run: SplitPass(o.Ratios, o.Split), Required: true, Level: ir.LevelCanonical,
			Doc: "Choose each layer's precision and its INT4 / ternary output channels"},
		{Name: "quantize", Run: QuantizePass(o.Quant), Required: true, Level: ir.LevelQuantized,
			Doc: "Lower the float graph to pimc's integer DualNet ops"},
	}
}

// Compile runs calibrate, dual-split and quantize on a canonical float
// module.
func Compile(m *ir.Module, o Options) error {
	for _, p := range Passes(o) {
		if err := p.Run(m); err != nil {
			return err
		}
	}
	return nil
}
