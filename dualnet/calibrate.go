package dualnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"

	"pimc/internal/par"
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

// DataFree calibrates without data. When BatchNorm statistics were
// recorded (RecordBNStats) and cover the model, every histogram is derived
// from them analytically and nothing is run (analyticCalibration). Else
// inputs are synthetic (deterministic standard-normal values) and the
// histograms of layers with recorded statistics are replaced by the
// rectified or plain Gaussian those statistics imply; without any
// BatchNorm statistics the whole calibration rests on synthetic inputs,
// and Warn is told so. No fits or bias correction are done without real
// data.
func DataFree(m *ir.Module, o CalibOptions) (*Calibration, error) {
	o.defaults()
	if err := prepare(m); err != nil {
		return nil, err
	}
	if len(m.Graph.Inputs) != 1 {
		return nil, errorf("calibration needs a single-input model, %q has %d inputs", m.Name, len(m.Graph.Inputs))
	}
	bn, _ := m.Meta[metaBN].(map[string]BNStat)
	if len(bn) > 0 {
		// With BatchNorm statistics every histogram can usually be derived
		// without running the model (a 224×224 ResNet would take seconds
		// and hundreds of MB of FP32 inference on synthetic inputs).
		if c := analyticCalibration(m, bn, o); c != nil {
			return c, nil
		}
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
		if !slices.Equal(t.Shape, v.Type.Shape) {
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

// chanDist describes one float activation per channel, as data-free
// calibration models it: channel c is T(mu_c + sd_c·Z) with Z the maximum
// of maxN independent zero-mean unit-variance variables, normal or Laplace
// (maxN = 1: one such variable), and T the identity, or max(·, 0) when
// relu is set. spatial is the number of
// elements per channel (batch × positions), the histogram weight of one
// channel. uniform marks a distribution identical for every channel, so
// that layout changes (Transpose, NHWC) keep it; chans = false means the
// channel order is unknown (the histogram is still right, but per-channel
// consumers cannot use it).
type chanDist struct {
	mu, sd  []float64
	relu    bool
	laplace bool // Z is a unit-variance Laplace variable instead of normal
	maxN    int
	spatial float64
	uniform bool
	chans   bool
}

// distGrid is the discretisation of Z used for both the histograms and the
// moments: P points at the centres of equal steps over [−zLim, zLim], each
// weighted by the probability mass of its step (for the max of maxN
// variables with CDF F, F(b)^n − F(a)^n). Tails beyond ±zLim (mass < 6e-7
// normal, 4e-7 Laplace) are dropped.
type distGrid struct {
	z, mass []float64
}

const distZLim = 5.0

// distZLimLaplace bounds the Laplace grid (mass beyond: 4e-7).
const distZLimLaplace = 10.0

var distGrids sync.Map // [3]int{points, maxN, laplace} → *distGrid

func gridFor(points, maxN int, laplace bool) *distGrid {
	key := [3]int{points, maxN, 0}
	lim := distZLim
	cdf1 := func(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }
	if laplace {
		key[2] = 1
		lim = distZLimLaplace
		cdf1 = func(z float64) float64 {
			// Unit variance: scale b = 1/√2.
			if z < 0 {
				return 0.5 * math.Exp(z*math.Sqrt2)
			}
			return 1 - 0.5*math.Exp(-z*math.Sqrt2)
		}
	}
	if g, ok := distGrids.Load(key); ok {
		return g.(*distGrid)
	}
	g := &distGrid{z: make([]float64, points), mass: make([]float64, points)}
	step := 2 * lim / float64(points)
	cdf := func(z float64) float64 { return math.Pow(cdf1(z), float64(maxN)) }
	for i := range g.z {
		a := -lim + float64(i)*step
		g.z[i] = a + step/2
		g.mass[i] = cdf(a+step) - cdf(a)
	}
	distGrids.Store(key, g)
	return g
}

// points is the grid size for a value of c channels: fine grids for few
// channels (whose pooled histogram would otherwise be spiky), coarser ones
// when many channels with different parameters smooth it anyway. Bounded
// work per value keeps calibration to tens of ms on ResNet-50.
func distPoints(c int) int {
	switch {
	case c <= 64:
		return 256
	case c <= 256:
		return 128
	}
	return 64
}

func (d *chanDist) value(mu, sd, z float64) float64 {
	v := mu + sd*z
	if d.relu && v < 0 {
		v = 0
	}
	return v
}

// moments returns channel c's mean and variance on the grid.
func (d *chanDist) moments(c int) (mean, vr float64) {
	mu, sd := d.mu[c], d.sd[c]
	if !d.relu && d.maxN <= 1 {
		return mu, sd * sd
	}
	g := gridFor(64, max(d.maxN, 1), d.laplace)
	var s0, s1, s2 float64
	for i, z := range g.z {
		v := d.value(mu, sd, z)
		s0 += g.mass[i]
		s1 += g.mass[i] * v
		s2 += g.mass[i] * v * v
	}
	mean = s1 / s0
	return mean, math.Max(s2/s0-mean*mean, 0)
}

// hist builds the value's histogram: each channel's grid points, counted
// by mass × spatial × 2^20 (rounded; points of negligible mass vanish).
func (d *chanDist) hist() *Hist {
	h := NewHist()
	g := gridFor(distPoints(len(d.mu)), max(d.maxN, 1), d.laplace)
	scale := d.spatial * (1 << 20)
	w := make([]uint64, len(g.z))
	for i, p := range g.mass {
		w[i] = uint64(math.Round(p * scale))
	}
	for c := range d.mu {
		mu, sd := d.mu[c], d.sd[c]
		for i, z := range g.z {
			if w[i] != 0 {
				h.AddWeighted(float32(d.value(mu, sd, z)), w[i])
			}
		}
	}
	return h
}

// gaussDist is a plain normal per channel from means and variances.
func gaussDist(mean, vr []float64, spatial float64) *chanDist {
	d := &chanDist{mu: mean, sd: make([]float64, len(vr)), maxN: 1, spatial: spatial, chans: true}
	for i, v := range vr {
		d.sd[i] = math.Sqrt(math.Max(v, 0))
	}
	return d
}

// spatialOf is the number of elements per channel of a value (batch ×
// positions), with the channel on axis 1.
func spatialOf(t ir.Type) float64 {
	s := t.Shape
	if len(s) < 2 {
		return 1
	}
	return float64(ir.NumElems(s) / s[1])
}

// analyticCalibration derives every activation histogram from the
// BatchNorm statistics without running the model (docs/quantization.md
// §3.3): a layer with recorded statistics outputs β_c + |γ_c|·Z per
// channel, Z a unit-variance Laplace variable; ReLU rectifies; Add sums
// the means and takes the spreads as fully correlated (σ_a + σ_b);
// MaxPool takes the maximum of its window's elements (taken as
// independent); average pools keep the mean and shrink the variance; a
// layer without statistics (allowed only when its output reaches no
// quantized op, e.g. the classifier) propagates the means and an upper
// bound of the spread through its weights; the model input is N(0, 1), as
// normalised images roughly are. It returns nil when some activation a
// quantized op needs is not covered (an op it cannot model, a layer
// without statistics feeding quantized ops): the caller then falls back to
// synthetic inputs.
func analyticCalibration(m *ir.Module, bn map[string]BNStat, o CalibOptions) *Calibration {
	g := m.Graph
	users := g.Users()
	quantOp := func(n *ir.Node) bool { return classify(n) != kFloat }
	needed := func(v *ir.Value) bool {
		if v.Def != nil && quantOp(v.Def) {
			return true
		}
		for _, u := range users[v] {
			if quantOp(u) {
				return true
			}
		}
		return false
	}
	// feedsQuant: does v reach a quantized op other than through Relu or
	// data movement (i.e. is its range used for codes read by a layer)?
	var feedsQuant func(v *ir.Value, depth int) bool
	feedsQuant = func(v *ir.Value, depth int) bool {
		if depth > 64 {
			return true
		}
		for _, u := range users[v] {
			switch classify(u) {
			case kFloat:
			case kRelu, kMove:
				if feedsQuant(u.Out(0), depth+1) {
					return true
				}
			default:
				return true
			}
		}
		return false
	}
	dists := map[*ir.Value]*chanDist{}
	for _, v := range g.Inputs {
		if !v.Type.DType.IsFloat() {
			continue
		}
		c := 1
		if v.Type.Rank() >= 2 {
			c = int(v.Type.Shape[1])
		}
		d := &chanDist{mu: make([]float64, c), sd: make([]float64, c), maxN: 1, spatial: spatialOf(v.Type), uniform: true, chans: true}
		for i := range d.sd {
			d.sd[i] = 1
		}
		dists[v] = d
	}
	for _, n := range g.Nodes {
		out := n.Out(0)
		if out == nil || !out.Type.DType.IsFloat() {
			continue
		}
		d := nodeDist(n, dists, bn, feedsQuant)
		if d == nil {
			if needed(out) {
				return nil
			}
			continue
		}
		dists[out] = d
	}
	c := &Calibration{Source: "bn", Method: o.Method, Percentile: o.Percentile, Hists: map[string]*Hist{}}
	var vs []*ir.Value
	for _, v := range floatValues(m) {
		if dists[v] != nil {
			vs = append(vs, v)
		}
	}
	// Each histogram is independent (a few hundred thousand weighted
	// points on a large net): built on every core.
	hs := make([]*Hist, len(vs))
	par.For(len(vs), func(i int) { hs[i] = dists[vs[i]].hist() })
	for i, v := range vs {
		c.Hists[v.Name] = hs[i]
	}
	return c
}

// nodeDist models node n's output from its inputs' distributions, or
// returns nil when it cannot.
func nodeDist(n *ir.Node, dists map[*ir.Value]*chanDist, bn map[string]BNStat, feedsQuant func(*ir.Value, int) bool) *chanDist {
	out := n.Out(0)
	in := func(i int) *chanDist {
		if v := n.In(i); v != nil {
			return dists[v]
		}
		return nil
	}
	spatial := spatialOf(out.Type)
	switch classify(n) {
	case kLayer:
		oc := int(out.Type.Shape[1])
		if st, ok := bn[n.Name]; ok && len(st.Mean) == oc && len(st.Std) == oc {
			// Laplace rather than normal: pre-activations are heavier
			// tailed than a Gaussian (as in ACIQ, Banner et al. 2019); with
			// normal tails the derived 4-bit ranges of ResNet-20 were
			// 0.65–0.9 of those from real images, with Laplace tails they
			// scatter around them (0.7–1.35).
			d := &chanDist{mu: make([]float64, oc), sd: make([]float64, oc), maxN: 1, spatial: spatial, chans: true, laplace: true}
			for i := range d.mu {
				d.mu[i], d.sd[i] = float64(st.Mean[i]), float64(st.Std[i])
			}
			return d
		}
		x := in(0)
		if x == nil || !x.chans || feedsQuant(out, 0) {
			return nil
		}
		return layerDist(n, x, spatial)
	case kRelu:
		x := in(0)
		if x == nil {
			return nil
		}
		d := *x
		d.relu = true
		return &d
	case kAdd:
		a, b := in(0), in(1)
		if a == nil || b == nil || !a.chans || !b.chans || len(a.mu) != len(b.mu) {
			return nil
		}
		mean, vr := make([]float64, len(a.mu)), make([]float64, len(a.mu))
		for c := range mean {
			ma, va := a.moments(c)
			mb, vb := b.moments(c)
			// Residual operands are positively correlated in trained
			// networks: the spread is taken at its upper bound σ_a + σ_b
			// (independence, √(σ_a² + σ_b²), made the derived ranges of
			// ResNet-20's residual sums 0.65–0.75 of what real images give).
			sd := math.Sqrt(va) + math.Sqrt(vb)
			mean[c], vr[c] = ma+mb, sd*sd
		}
		return gaussDist(mean, vr, spatial)
	case kMaxPool:
		x := in(0)
		if x == nil {
			return nil
		}
		d := *x
		d.maxN = max(x.maxN, 1) * int(ir.NumElems(n.IntList("kernel_shape", nil)))
		d.spatial = spatial
		return &d
	case kAvgPool, kGAP:
		x := in(0)
		if x == nil || !x.chans {
			return nil
		}
		area := float64(ir.NumElems(n.In(0).Type.Shape[2:]))
		if classify(n) == kAvgPool {
			area = float64(ir.NumElems(n.IntList("kernel_shape", nil)))
		}
		// Neighbouring activations are correlated: the variance of a mean
		// of `area` of them is taken as var·(ρ + (1−ρ)/area), ρ = avgCorr.
		mean, vr := make([]float64, len(x.mu)), make([]float64, len(x.mu))
		for c := range mean {
			m, v := x.moments(c)
			mean[c], vr[c] = m, v*(avgCorr+(1-avgCorr)/area)
		}
		return gaussDist(mean, vr, spatial)
	case kMove:
		x := in(0)
		if x == nil {
			return nil
		}
		d := *x
		d.spatial = spatial
		return moveChannels(&d, n.In(0).Type, out.Type)
	case kConcat:
		var ds []*chanDist
		for i := range n.Inputs {
			x := in(i)
			if x == nil || !x.chans || (len(ds) > 0 && (x.relu != ds[0].relu || x.maxN != ds[0].maxN)) {
				return nil
			}
			ds = append(ds, x)
		}
		if ax := n.Int("axis", 0); ax != 1 && ax != 1-int64(out.Type.Rank()) {
			return nil
		}
		d := &chanDist{relu: ds[0].relu, maxN: ds[0].maxN, spatial: spatial, chans: true}
		for _, x := range ds {
			d.mu = append(d.mu, x.mu...)
			d.sd = append(d.sd, x.sd...)
		}
		return d
	}
	return nil
}

// avgCorr is the correlation assumed between the elements an average pool
// reads (see nodeDist).
const avgCorr = 0.25

// moveChannels maps a distribution through a data-movement op from shape
// in to shape out: the multiset of values is unchanged, so the histogram
// is; the channel order is kept when the op keeps axis 1 or flattens
// [N, C, positions…] into [N, C·positions] (channel c's features are
// c·positions … (c+1)·positions − 1), and is otherwise unknown unless the
// distribution is uniform.
func moveChannels(d *chanDist, in, out ir.Type) *chanDist {
	oc := 1
	if out.Rank() >= 2 {
		oc = int(out.Shape[1])
	}
	switch {
	case d.uniform:
		d.mu, d.sd = make([]float64, oc), make([]float64, oc)
		for i := range d.sd {
			d.sd[i] = 1
		}
		return d
	case !d.chans:
		return d
	case in.Rank() >= 2 && out.Rank() >= 2 && in.Shape[0] == out.Shape[0] && in.Shape[1] == out.Shape[1]:
		return d
	case in.Rank() >= 2 && out.Rank() == 2 && in.Shape[0] == out.Shape[0] && int64(oc) == ir.NumElems(in.Shape[1:]):
		pos := oc / len(d.mu)
		mu, sd := make([]float64, 0, oc), make([]float64, 0, oc)
		for c := range d.mu {
			for j := 0; j < pos; j++ {
				mu = append(mu, d.mu[c])
				sd = append(sd, d.sd[c])
			}
		}
		d.mu, d.sd = mu, sd
		return d
	}
	d.chans = false
	return d
}

// layerDist propagates means and spreads through a Conv or Gemm without
// BatchNorm statistics: mean_o = b_o + Σ w·mean_i, and the standard
// deviation's upper bound std_o = Σ |w|·std_i (reached when the inputs are
// perfectly correlated; independence would give √Σ w²·var_i, far too
// small for a classifier reading correlated features, whose 16-bit output
// codes then saturated). Padding is ignored.
func layerDist(n *ir.Node, x *chanDist, spatial float64) *chanDist {
	var w []float32
	var bias []float32
	var oc, k, cinG, kk int
	groups := 1
	if n.Op == ir.OpConv {
		t, b, err := convWeights(n)
		if err != nil {
			return nil
		}
		w, bias = t.F, b
		oc, cinG = int(t.Shape[0]), int(t.Shape[1])
		kk = int(ir.NumElems(t.Shape[2:]))
		groups = int(n.Int("group", 1))
	} else {
		gw, err := gemmWeights(n)
		if err != nil {
			return nil
		}
		w, bias = gw.F, gw.bias
		oc, cinG, kk = int(gw.Shape[0]), int(gw.Shape[1]), 1
	}
	k = cinG * kk
	if groups < 1 || oc%groups != 0 || cinG*groups != len(x.mu) {
		return nil
	}
	im, iv := make([]float64, len(x.mu)), make([]float64, len(x.mu))
	for c := range im {
		im[c], iv[c] = x.moments(c)
	}
	mean, vr := make([]float64, oc), make([]float64, oc)
	for o := 0; o < oc; o++ {
		base := o / (oc / groups) * cinG
		s, v := float64(bias[o]), 0.0
		row := w[o*k : (o+1)*k]
		for ci := 0; ci < cinG; ci++ {
			var s1, s2 float64
			for _, wv := range row[ci*kk : (ci+1)*kk] {
				s1 += float64(wv)
				s2 += math.Abs(float64(wv))
			}
			s += s1 * im[base+ci]
			v += s2 * math.Sqrt(iv[base+ci])
		}
		mean[o], vr[o] = s, v*v
	}
	return gaussDist(mean, vr, spatial)
}
