package dualnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"pimc/interp"
	"pimc/ir"
)

// CalibOptions controls Calibrate and DataFree.
type CalibOptions struct {
	// Method is "mse" (default: minimise expected rounding + clipping
	// error over the histogram) or "percentile".
	Method string
	// Percentile of |x| covered when Method is "percentile" (default 99.99).
	Percentile float64
	// FitSamples is how many of the samples (the first ones) are kept for
	// the quantize pass's least-squares fits and bias correction (default
	// 32; 0 keeps the default, negative disables fitting).
	FitSamples int
	// Workers runs that many FP32 evaluations in parallel (default
	// GOMAXPROCS). The result does not depend on it.
	Workers int
	// Synthetic is the number of synthetic inputs DataFree uses (default 32).
	Synthetic int
	// Warn receives warnings (e.g. synthetic calibration); nil drops them.
	Warn func(string)
}

// Calibration is the calibrate pass's result: one histogram per float
// activation (by value name) and the samples kept for fitting.
type Calibration struct {
	Source     string // "data", "bn" (data-free from BatchNorm statistics) or "synthetic"
	Images     int    // samples (model inputs) the histograms were built from
	Method     string
	Percentile float64
	Hists      map[string]*Hist
	Fit        []*ir.Tensor

	wq *weightCache // per-channel weight quantization, shared by every quantize run
}

func (o *CalibOptions) defaults() {
	if o.Method == "" {
		o.Method = "mse"
	}
	if o.Percentile == 0 {
		o.Percentile = 99.99
	}
	if o.FitSamples == 0 {
		o.FitSamples = 32
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Synthetic <= 0 {
		o.Synthetic = 32
	}
}

// Scale returns the activation scale of a histogram for codes of the given
// width, by the calibration's method.
func (c *Calibration) Scale(h *Hist, bits int, signed bool) float32 {
	if bits >= 16 {
		// Final outputs: no clipping, 2x headroom over the calibrated range.
		_, hi := codeRange(bits, signed)
		m := h.MaxAbs()
		if m == 0 {
			return 1
		}
		return float32(2 * m / float64(hi))
	}
	if c.Method == "percentile" {
		return h.PercentileScale(bits, signed, c.Percentile)
	}
	return c.weights().histScale(h, bits, signed)
}

// Calibrate runs the FP32 model on samples (one tensor per sample, for the
// model's single input, in the model's input shape) and records a histogram
// of every float activation. Samples are processed in parallel, histograms
// merged by adding counts: the result is the same for any worker count.
func Calibrate(m *ir.Module, samples []*ir.Tensor, o CalibOptions) (*Calibration, error) {
	o.defaults()
	if err := prepare(m); err != nil {
		return nil, err
	}
	return calibrate(m, samples, o, nil)
}

// calibrate is Calibrate after prepare. The histograms of the values named
// in replaced are left empty (the caller overwrites them), which saves
// recording them; every other histogram is as Calibrate builds it.
func calibrate(m *ir.Module, samples []*ir.Tensor, o CalibOptions, replaced map[string]bool) (*Calibration, error) {
	if len(m.Graph.Inputs) != 1 {
		return nil, errorf("calibration needs a single-input model, %q has %d inputs", m.Name, len(m.Graph.Inputs))
	}
	if len(samples) == 0 {
		return nil, errorf("no calibration samples")
	}
	vals := floatValues(m)
	workers := min(o.Workers, len(samples))
	hs := make([][]*Hist, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		hs[w] = make([]*Hist, len(vals))
		for i := range vals {
			hs[w][i] = NewHist()
		}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(samples); i += workers {
				env, err := runFloat(m, []*ir.Tensor{samples[i]})
				if err != nil {
					errs[w] = fmt.Errorf("calibration sample %d: %w", i, err)
					return
				}
				for j, v := range vals {
					if replaced[v.Name] {
						continue
					}
					if t := env[v]; t != nil {
						hs[w][j].Add(t.F)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	c := &Calibration{Source: "data", Images: len(samples), Method: o.Method, Percentile: o.Percentile, Hists: map[string]*Hist{}}
	for j, v := range vals {
		h := hs[0][j]
		for w := 1; w < workers; w++ {
			h.Merge(hs[w][j])
		}
		c.Hists[v.Name] = h
	}
	if o.FitSamples > 0 {
		c.Fit = samples[:min(o.FitSamples, len(samples))]
	}
	return c, nil
}

// DataFree calibrates without data. Inputs are synthetic (deterministic
// standard-normal values); the histograms of layers whose BatchNorm
// statistics were recorded (RecordBNStats) are replaced by the rectified
// or plain Gaussian those statistics imply. Without any BatchNorm
// statistics the whole calibration rests on synthetic inputs, and Warn is
// told so. No fits or bias correction are done without real data.
func DataFree(m *ir.Module, o CalibOptions) (*Calibration, error) {
	o.defaults()
	if err := prepare(m); err != nil {
		return nil, err
	}
	if len(m.Graph.Inputs) != 1 {
		return nil, errorf("calibration needs a single-input model, %q has %d inputs", m.Name, len(m.Graph.Inputs))
	}
	in := m.Graph.Inputs[0]
	rng := rand.New(rand.NewPCG(1, 2))
	samples := make([]*ir.Tensor, o.Synthetic)
	for i := range samples {
		t := ir.NewTensor(ir.Float32, in.Type.Shape...)
		for j := range t.F {
			t.F[j] = float32(rng.NormFloat64())
		}
		samples[i] = t
	}
	bn, _ := m.Meta[metaBN].(map[string]BNStat)
	users := m.Graph.Users()
	c, err := calibrate(m, samples, o, bnReplaced(m, bn, users))
	if err != nil {
		return nil, err
	}
	// Least-squares fits and bias correction on noise would fit the noise
	// (on ResNet-20 they halve INT4 accuracy): data-free calibration does
	// neither.
	c.Fit = nil
	if len(bn) == 0 {
		c.Source = "synthetic"
		if o.Warn != nil {
			o.Warn("no calibration data and no BatchNorm statistics: activation ranges come from synthetic inputs and may be poor; pass --calib DATA")
		}
		return c, nil
	}
	c.Source = "bn"
	names := make([]string, 0, len(bn))
	for k := range bn {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range m.Graph.Nodes {
		st, ok := bn[n.Name]
		if !ok || !isLayer(n) {
			continue
		}
		out := n.Out(0)
		relu := false
		if us := users[out]; len(us) == 1 && us[0].Op == ir.OpRelu {
			relu = true
		}
		h := NewHist()
		gaussHist(h, st, false)
		c.Hists[out.Name] = h
		if relu {
			hr := NewHist()
			gaussHist(hr, st, true)
			c.Hists[users[out][0].Out(0).Name] = hr
		}
	}
	return c, nil
}

// bnReplaced names the activations whose histograms DataFree replaces by
// the Gaussians of their BatchNorm statistics (the loop below must agree).
func bnReplaced(m *ir.Module, bn map[string]BNStat, users map[*ir.Value][]*ir.Node) map[string]bool {
	if len(bn) == 0 {
		return nil
	}
	r := map[string]bool{}
	for _, n := range m.Graph.Nodes {
		if _, ok := bn[n.Name]; !ok || !isLayer(n) {
			continue
		}
		out := n.Out(0)
		r[out.Name] = true
		if us := users[out]; len(us) == 1 && us[0].Op == ir.OpRelu {
			r[us[0].Out(0).Name] = true
		}
	}
	return r
}

// gaussHist adds 256 quantile points of N(mean_c, std_c²) per channel,
// rectified when relu is set.
func gaussHist(h *Hist, st BNStat, relu bool) {
	zs := gaussQuantiles()
	for c := range st.Mean {
		for _, z := range zs {
			v := float64(st.Mean[c]) + float64(st.Std[c])*z
			if relu && v < 0 {
				v = 0
			}
			h.AddWeighted(float32(v), 1)
		}
	}
}

// gaussQuantiles returns the 256 standard-normal quantile points
// √2·erf⁻¹(2(i+½)/256 − 1) gaussHist places per channel.
var gaussQuantiles = sync.OnceValue(func() []float64 {
	const pts = 256
	zs := make([]float64, pts)
	for i := range zs {
		zs[i] = math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/pts-1)
	}
	return zs
})

// floatValues lists the module's float activations (graph inputs and node
// outputs) in graph order.
func floatValues(m *ir.Module) []*ir.Value {
	var out []*ir.Value
	for _, v := range m.Graph.Inputs {
		if v.Type.DType.IsFloat() {
			out = append(out, v)
		}
	}
	for _, n := range m.Graph.Nodes {
		for _, v := range n.Outputs {
			if v != nil && v.Type.DType.IsFloat() {
				out = append(out, v)
			}
		}
	}
	return out
}

// runFloat evaluates the float graph and returns every value computed.
func runFloat(m *ir.Module, inputs []*ir.Tensor) (map[*ir.Value]*ir.Tensor, error) {
	g := m.Graph
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("model takes %d inputs, got %d", len(g.Inputs), len(inputs))
	}
	env := map[*ir.Value]*ir.Tensor{}
	for i, v := range g.Inputs {
		t := inputs[i]
		if !sameShapeI(t.Shape, v.Type.Shape) {
			return nil, fmt.Errorf("input %q is %v, model expects %v", v.Name, t.Shape, v.Type.Shape)
		}
		env[v] = t
	}
	for _, v := range g.Consts {
		env[v] = v.Const
	}
	for _, n := range g.Nodes {
		in := make([]*ir.Tensor, len(n.Inputs))
		for j, v := range n.Inputs {
			if v != nil {
				in[j] = env[v]
			}
		}
		out, err := interp.EvalNode(n, in)
		if err != nil {
			return nil, err
		}
		for j, v := range n.Outputs {
			if v != nil && j < len(out) {
				env[v] = out[j]
			}
		}
	}
	return env, nil
}
