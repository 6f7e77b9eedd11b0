package dualnet

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pimc/frontend"
	"pimc/ir"
)

func TestTWN(t *testing.T) {
	w := []float32{0.9, -0.1, 0.3, -0.8, 0.05, 0}
	// mean|W| = 2.15/6, Δ = 0.7·that = 0.250833; |W| > Δ: 0.9, 0.3, 0.8.
	tc, alpha, delta := TWN(w)
	want := []int8{1, 0, 1, -1, 0, 0}
	for i := range want {
		if tc[i] != want[i] {
			t.Fatalf("t = %v, want %v", tc, want)
		}
	}
	if math.Abs(float64(delta)-0.7*2.15/6) > 1e-6 {
		t.Errorf("Δ = %v", delta)
	}
	if math.Abs(float64(alpha)-2.0/3) > 1e-6 {
		t.Errorf("α = %v, want 2/3", alpha)
	}
	if e := TernaryError([]float32{1, -1, 1, -1}); e != 0 {
		t.Errorf("ternary error of a ternary vector = %v", e)
	}
	if tz, a, _ := TWN([]float32{0, 0}); a != 0 || tz[0] != 0 {
		t.Errorf("all-zero channel: t %v α %v", tz, a)
	}
}

func TestMSEScale(t *testing.T) {
	// Values on the grid of scale 0.1 (max 0.7) quantize exactly at 0.1.
	w := []float32{0.7, -0.3, 0.1, 0, -0.7, 0.2}
	if s := MSEScale(w, 7); math.Abs(float64(s)-0.1) > 1e-7 {
		t.Errorf("scale %v, want 0.1", s)
	}
	// One outlier: clipping it lowers the total error.
	w = []float32{1, 0.1, -0.1, 0.12, -0.11, 0.09, 0.1, -0.1, 0.1, 0.1, 0.1, 0.1}
	if s := MSEScale(w, 7); !(s < 1.0/7) {
		t.Errorf("scale %v did not clip the outlier", s)
	}
	codes, s := QuantizeChannel([]float32{0.7, -0.7, 0.3}, 7)
	if codes[0] != 7 || codes[1] != -7 || codes[2] != 3 || math.Abs(float64(s)-0.1) > 1e-7 {
		t.Errorf("codes %v scale %v", codes, s)
	}
}

func TestRoundShift(t *testing.T) {
	cases := []struct {
		x    int64
		s    uint
		want int64
	}{
		{5, 1, 3}, {4, 1, 2}, {3, 1, 2}, {-3, 1, -1}, {-5, 1, -2}, {-4, 1, -2},
		{7, 2, 2}, {6, 2, 2}, {-6, 2, -1}, {-7, 2, -2}, {9, 0, 9}, {-1, 62, 0},
	}
	for _, c := range cases {
		if got := RoundShift(c.x, c.s); got != c.want {
			t.Errorf("RoundShift(%d, %d) = %d, want %d", c.x, c.s, got, c.want)
		}
	}
}

func TestFixedPoint(t *testing.T) {
	for _, m := range []float64{1e-6, 0.0123, 0.5, 0.999, 3.7, 1000} {
		q := FixedPoint(m, 0.25, 1.5, 1<<20, 255)
		if q.M <= 0 || q.M > maxMult || q.R > maxMult || q.S < 1 || q.S > 62 {
			t.Fatalf("m=%v: %+v out of range", m, q)
		}
		real := float64(q.M) / math.Ldexp(1, int(q.S))
		if math.Abs(real-m)/m > 1e-6 && m > 1e-5 {
			t.Errorf("m=%v: M/2^S = %v", m, real)
		}
		// acc·M stays in int64 for the bound given.
		if float64(1<<20)*float64(q.M) >= math.Ldexp(1, 62) {
			t.Errorf("m=%v: overflow bound violated", m)
		}
		// y = round(acc·m + res·0.25 + 1.5)
		acc, res := int64(12345), int64(-7)
		want := math.Floor(float64(acc)*m + float64(res)*0.25 + 1.5 + 0.5) // half up
		if got := q.Apply(acc, res); math.Abs(float64(got)-want) > 1 {
			t.Errorf("m=%v: Apply = %d, want ≈ %v", m, got, want)
		}
	}
}

func TestQuantizeValue(t *testing.T) {
	cases := []struct {
		x, s   float32
		lo, hi int64
		want   int64
	}{
		{0.625, 0.25, 0, 15, 2},   // 2.5 → 2 (half to even)
		{0.875, 0.25, 0, 15, 4},   // 3.5 → 4
		{-0.875, 0.25, -8, 7, -4}, // −3.5 → −4
		{0.35, 0.1, 0, 15, 3},     // float32: 0.35/0.1 = 3.4999… → 3
		{9, 0.5, -8, 7, 7},        // saturates
		{-9, 0.5, -8, 7, -8},
		{-1, 0.5, 0, 15, 0},
		{float32(math.NaN()), 1, 0, 15, 0},
	}
	for _, c := range cases {
		if got := QuantizeValue(c.x, c.s, c.lo, c.hi); got != c.want {
			t.Errorf("QuantizeValue(%v, %v) = %d, want %d", c.x, c.s, got, c.want)
		}
	}
}

func TestThresholdFit(t *testing.T) {
	// Half the values are 0.1, half 1.0, scale 0.1 (codes 1 and 10): the
	// best binarization keeps only the large ones, β = 1.
	h := NewHist()
	for i := 0; i < 100; i++ {
		h.Add([]float32{0.1, 1.0})
	}
	tau, beta := h.ThresholdFit(0.1, 15)
	if tau < 2 || tau > 10 || math.Abs(beta-1.0) > 0.03 {
		t.Errorf("τ = %d, β = %v; want τ in 2..10, β ≈ 1", tau, beta)
	}
	// Activation scale by MSE over a uniform distribution at 4 bits: no
	// clipping pays, so the scale is ≈ max/15.
	u := NewHist()
	for i := 0; i < 3000; i++ {
		u.Add([]float32{float32(i) / 3000})
	}
	if s := u.MSEScale(4, false); s < 0.9/15 || s > 1.01/15 {
		t.Errorf("uniform MSE scale %v, want ≈ %v", s, 1.0/15)
	}
	if s := u.PercentileScale(4, false, 50); math.Abs(float64(s)*15-0.5) > 0.02 {
		t.Errorf("50th percentile scale %v, want ≈ %v", s, 0.5/15)
	}
}

func TestSelectINT4(t *testing.T) {
	got := SelectINT4([]float64{0.1, 0.5, 0.3, 0.5, 0.2}, 3)
	want := []int{1, 2, 3}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("SelectINT4 = %v, want %v", got, want)
	}
}

func TestParseRatios(t *testing.T) {
	m := testNet(t)
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "r.json")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r, err := ParseRatios(write(`{"conv2": 0.25, "fc1": 1}`), m)
	if err != nil {
		t.Fatal(err)
	}
	if r.PerLayer["conv2"] != 0.25 || r.PerLayer["fc1"] != 1 {
		t.Errorf("ratios %v", r.PerLayer)
	}
	for _, c := range []struct{ file, want string }{
		{`{"conv9": 0.5}`, `key "conv9"`},
		{`{"conv2": 1.5}`, `key "conv2": ratio 1.5 outside [0, 1]`},
		{`{"conv3": -0.1}`, `key "conv3"`},
		{`{"conv3": "half"}`, `key "conv3": ratio "half" is not a number`},
		{`[0.5]`, `JSON object`},
	} {
		_, err := ParseRatios(write(c.file), m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.file, err, c.want)
		}
	}
	// A ratio for a layer the policy keeps at INT8 is refused by Split.
	r, err = ParseRatios(write(`{"conv1": 0.5}`), m)
	if err != nil {
		t.Fatal(err)
	}
	if err := Split(m, r, DefaultSplitOptions()); err == nil || !strings.Contains(err.Error(), "conv1") {
		t.Errorf("Split with a ratio for the kept first layer: %v", err)
	}
}

func TestSplitRatios(t *testing.T) {
	m := testNet(t)
	r := Ratios{Default: 0.5, PerLayer: map[string]float64{"conv2": 0, "conv3": 1, "conv5": 0.3}}
	if err := Split(m, r, DefaultSplitOptions()); err != nil {
		t.Fatal(err)
	}
	plan := m.Meta[metaSplit].(SplitPlan)
	want := map[string]struct {
		prec string
		n4   int
	}{"conv1": {"int8", 0}, "conv2": {"tb", 0}, "conv3": {"int4", 16}, "conv4": {"dual", 8}, "conv5": {"dual", 7}, "fc1": {"dual", 10}, "fc2": {"int8", 0}}
	for name, w := range want {
		p := plan[name]
		if p.Precision != w.prec || p.N4 != w.n4 {
			t.Errorf("%s: %s n4=%d, want %s n4=%d", name, p.Precision, p.N4, w.prec, w.n4)
		}
	}
	// Channels on the INT4 path are those with the largest TWN error.
	p := plan["conv5"]
	minIn, maxOut := math.Inf(1), 0.0
	for _, c := range p.INT4 {
		minIn = math.Min(minIn, p.Errors[c])
	}
	for _, c := range p.TB {
		maxOut = math.Max(maxOut, p.Errors[c])
	}
	if minIn < maxOut {
		t.Errorf("INT4 channels are not the largest-error ones: min %v < max TB %v", minIn, maxOut)
	}
	// Without keep-first/keep-last every layer is split.
	m2 := testNet(t)
	if err := Split(m2, Uniform(0.5), SplitOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := m2.Meta[metaSplit].(SplitPlan)["conv1"]; p.Precision != "dual" {
		t.Errorf("conv1 with keep-first off: %s", p.Precision)
	}
}

// TestDeterminism: the same calibration data gives the same quantized IR,
// whatever the number of calibration workers.
func TestDeterminism(t *testing.T) {
	var texts []string
	for _, workers := range []int{1, 2, 3} {
		m := testNet(t)
		o := DefaultOptions()
		o.Samples = randInputs(m, 12, 1)
		o.Calib.Workers = workers
		if err := Compile(m, o); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, m.String())
	}
	for i := 1; i < len(texts); i++ {
		if texts[i] != texts[0] {
			t.Fatalf("quantized IR differs between runs:\n%s\n----\n%s", texts[0], texts[i])
		}
	}
}

// TestQuantizedCloseToFloat: with all layers INT8/INT4 the quantized
// network's logits follow the float network's.
func TestQuantizedCloseToFloat(t *testing.T) {
	m := testNet(t)
	ins := randInputs(m, 16, 1)
	var fl []*ir.Tensor
	for _, in := range ins {
		env, err := runFloat(m, []*ir.Tensor{in})
		if err != nil {
			t.Fatal(err)
		}
		// the logits before Softmax
		for _, n := range m.Graph.Nodes {
			if n.Name == "fc2" {
				fl = append(fl, env[n.Out(0)])
			}
		}
	}
	q := quantizeNet(t, testNet(t), 1, ins)
	// Compare the dequantized logits (the Softmax input).
	var logits *ir.Value
	for _, n := range q.Graph.Nodes {
		if n.Op == ir.OpDequantize {
			logits = n.Out(0)
		}
	}
	q.Graph.Outputs = []*ir.Value{logits}
	e, err := NewExecutor(q, ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var num, den float64
	for i, in := range ins {
		out, err := e.Run([]*ir.Tensor{in})
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range out[0].F {
			d := float64(v - fl[i].F[j])
			num += d * d
			den += float64(fl[i].F[j]) * float64(fl[i].F[j])
		}
	}
	if rel := math.Sqrt(num / den); rel > 0.35 {
		t.Errorf("relative logit error %.3f", rel)
	} else {
		t.Logf("relative logit error %.3f", rel)
	}
}

// TestQATScalesKept: an activation QuantizeLinear→DequantizeLinear pair is
// removed and its trained scale fixes the activation's clipping range.
func TestQATScalesKept(t *testing.T) {
	b := newGB(t, "qat")
	x := b.input("x", 1, 3, 6, 6)
	c1 := b.relu("relu1", b.conv("conv1", x, 8, 3, 1))
	s := b.m.AddConst("s", ir.FloatTensor([]float32{0.02}))
	zp := b.m.AddConst("zp", ir.IntTensor(ir.Uint8, []int64{0}))
	q := b.node(ir.OpQuantizeLinear, "q", []*ir.Value{c1, s, zp}, nil)
	dq := b.node(ir.OpDequantizeLinear, "dq", []*ir.Value{q, s, zp}, nil)
	c2 := b.relu("relu2", b.conv("conv2", dq, 8, 3, 1))
	c3 := b.conv("conv3", c2, 4, 1, 0)
	b.output(c3)
	m := quantizeNet(t, b.m, 0.5, randInputs(b.m, 4, 1))
	for _, n := range m.Graph.Nodes {
		if n.Name == "conv1" {
			// uint8 QAT range 0..255 at 0.02 → clip 5.1 → 4-bit scale 0.34.
			if got := n.Float("scale", 0); math.Abs(float64(got)-5.1/15) > 1e-6 {
				t.Errorf("conv1 output scale %v, want %v", got, 5.1/15)
			}
			return
		}
	}
	t.Fatalf("conv1 not found:\n%s", m)
}

// TestMSEScaleBoundsExact checks the bounded INT4 search against the plain
// one on longer channels and other narrow widths, including weights on an
// exact grid (ties at rounding boundaries) and heavy-tailed ones.
func TestMSEScaleBoundsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 400; trial++ {
		n := 1 + rng.IntN(5000)
		if trial%10 == 9 {
			n = 8000 + rng.IntN(12000) // the largest histograms
		}
		w := make([]float32, n)
		for i := range w {
			switch trial % 4 {
			case 0:
				w[i] = float32(rng.NormFloat64() * 0.02)
			case 1:
				w[i] = float32(math.Round(rng.NormFloat64()*6) / 32)
			case 2:
				w[i] = float32(rng.NormFloat64() * rng.ExpFloat64())
			default:
				w[i] = float32(rng.Float64() - 0.5)
			}
		}
		for _, q := range []int{1, 3, 7, 15} {
			if got, want := MSEScale(w, q), mseScaleRef(w, q); math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("trial %d n=%d q=%d: MSEScale %v, reference %v", trial, n, q, got, want)
			}
		}
	}
}

// twnRef is TWN as first written (branches), which TWN must match bit for
// bit.
func twnRef(w []float32) (t []int8, alpha, delta float32) {
	t = make([]int8, len(w))
	if len(w) == 0 {
		return t, 0, 0
	}
	sum := 0.0
	for _, v := range w {
		sum += math.Abs(float64(v))
	}
	d := 0.7 * sum / float64(len(w))
	a, n := 0.0, 0
	for i, v := range w {
		av := math.Abs(float64(v))
		if av > d {
			a += av
			n++
			if v > 0 {
				t[i] = 1
			} else {
				t[i] = -1
			}
		}
	}
	if n > 0 {
		a /= float64(n)
	}
	return t, float32(a), float32(d)
}

func TestTWNMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for trial := 0; trial < 500; trial++ {
		w := make([]float32, 1+rng.IntN(3000))
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.05)
			if trial%5 == 0 && rng.IntN(10) == 0 {
				w[i] = 0
			}
		}
		if trial == 1 {
			w[0] = float32(math.Inf(-1))
		}
		if trial == 2 {
			w[len(w)-1] = float32(math.NaN())
		}
		gt, ga, gd := TWN(w)
		rt, ra, rd := twnRef(w)
		if math.Float32bits(ga) != math.Float32bits(ra) || math.Float32bits(gd) != math.Float32bits(rd) {
			t.Fatalf("trial %d: α, Δ = %v, %v; reference %v, %v", trial, ga, gd, ra, rd)
		}
		for i := range gt {
			if gt[i] != rt[i] {
				t.Fatalf("trial %d: code %d = %d, reference %d", trial, i, gt[i], rt[i])
			}
		}
	}
}

// msePlainFrozen is MSEScale's defining search, frozen: max|w| (NaN
// sticks), candidates s = max|w|·(1 − 0.008·i)/q, each error summed in
// index order with quantizeSym's rounding (v/s, half to even, clamped),
// the first strict minimum winning.
func msePlainFrozen(w []float32, q int) float32 {
	maxAbs := 0.0
	for _, v := range w {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	if maxAbs == 0 {
		return 0
	}
	qf := float64(q)
	best, bestErr := maxAbs/qf, math.Inf(1)
	for i := 0; i < 100; i++ {
		s := maxAbs * (1 - 0.008*float64(i)) / qf
		e := 0.0
		for _, x := range w {
			v := float64(x)
			r := math.RoundToEven(v / s)
			if r > qf {
				r = qf
			} else if r < -qf {
				r = -qf
			}
			d := v - s*r
			e += d * d
		}
		if e < bestErr {
			best, bestErr = s, e
		}
	}
	return float32(best)
}

// adversarialChannel returns a channel of n weights of one of several
// kinds meant to break bounded or reordered arithmetic: ties on rounding
// boundaries, duplicates, outliers, subnormals, huge dynamic range.
func adversarialChannel(rng *rand.Rand, kind, n, q int) []float32 {
	w := make([]float32, n)
	sd := math.Sqrt(2 / float64(n))
	switch kind {
	case 0: // He-initialised
		for i := range w {
			w[i] = float32(rng.NormFloat64() * sd)
		}
	case 1: // uniform
		for i := range w {
			w[i] = float32(rng.Float64()*2 - 1)
		}
	case 2: // on candidate i's half-integer boundaries (max|w| = 1: s = (1 − 0.008·i)/q)
		i := rng.IntN(100)
		s := (1 - 0.008*float64(i)) / float64(q)
		for j := range w {
			m := float64(rng.IntN(q+1)) + 0.5
			w[j] = float32(m * s)
			if rng.IntN(2) == 0 {
				w[j] = -w[j]
			}
		}
		w[0] = 1
	case 3: // few distinct values, many duplicates
		vals := []float32{0, 0.25, -0.5, 0.125, 1, -1, 0.375}
		for i := range w {
			w[i] = vals[rng.IntN(len(vals))]
		}
	case 4: // all equal
		x := float32(rng.NormFloat64())
		for i := range w {
			w[i] = x
		}
	case 5: // one huge outlier
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.01)
		}
		w[rng.IntN(n)] = float32(1e3 * (rng.Float64() + 0.5))
	case 6: // subnormals and zeros
		for i := range w {
			switch rng.IntN(3) {
			case 0:
				w[i] = math.Float32frombits(uint32(rng.IntN(1 << 23)))
			case 1:
				w[i] = 0
			default:
				w[i] = -math.Float32frombits(uint32(rng.IntN(1 << 10)))
			}
		}
	case 7: // huge dynamic range, negative zeros
		for i := range w {
			w[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30)))
			if rng.IntN(10) == 0 {
				w[i] = float32(math.Copysign(0, -1))
			}
		}
	case 8: // coarse grid (many ties for every candidate)
		for i := range w {
			w[i] = float32(math.Round(rng.NormFloat64()*8) / 64)
		}
	case 9: // large magnitudes
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 1e37)
		}
	case 10: // exact codes of candidate i's scale but for max|w| = 1, clipped
		i := 1 + rng.IntN(30)
		s := (1 - 0.008*float64(i)) / float64(q)
		for j := range w {
			w[j] = float32(float64(rng.IntN(2*q+1)-q) * s)
		}
		w[rng.IntN(n)] = 1
	}
	return w
}

const adversarialKinds = 11

// TestMSEScaleAdversarial compares MSEScale (histogram search, bounded
// search, their exact sums) with the frozen plain search bit for bit on
// adversarial channels, k from 1 to 5000, narrow and wide codes.
func TestMSEScaleAdversarial(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	qs := []int{1, 2, 3, 7, 15, 31, 32, 63, 127, 255, 1000}
	trials := 1500
	if testing.Short() {
		trials = 300
	}
	for trial := 0; trial < trials; trial++ {
		n := 1 + rng.IntN(600)
		switch trial % 5 {
		case 3:
			n = 1 + rng.IntN(5000)
		case 4:
			n = []int{1, 2, 3, 4, 5, 147, 512, 576, 1152, 2304, 4608}[rng.IntN(11)]
		}
		q := qs[rng.IntN(len(qs))]
		kind := trial % adversarialKinds
		w := adversarialChannel(rng, kind, n, q)
		if got, want := MSEScale(w, q), msePlainFrozen(w, q); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("trial %d kind %d n=%d q=%d: MSEScale %v, plain %v", trial, kind, n, q, got, want)
		}
	}
}

// TestMSEScaleNonFinite: NaN or infinite weights give the plain search's
// result (max|w|/q), on every path.
func TestMSEScaleNonFinite(t *testing.T) {
	for _, x := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		for _, n := range []int{1, 3, 200, 3000} {
			for _, q := range []int{1, 7, 127} {
				w := make([]float32, n)
				for i := range w {
					w[i] = float32(i%7) * 0.1
				}
				w[n/2] = x
				if got, want := MSEScale(w, q), msePlainFrozen(w, q); math.Float32bits(got) != math.Float32bits(want) {
					t.Errorf("%v in %d weights, q=%d: %v, plain %v", x, n, q, got, want)
				}
			}
		}
	}
}

// TestMSEBoundedMatchesPlain runs mseBounded on its own — MSEScale sends
// it wide codes and short channels only — against the frozen plain search.
func TestMSEBoundedMatchesPlain(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for trial := 0; trial < 600; trial++ {
		n := 1 + rng.IntN(3000)
		q := []int{1, 3, 7, 15, 127}[trial%5]
		w := adversarialChannel(rng, rng.IntN(adversarialKinds), n, q)
		maxAbs := 0.0
		for _, v := range w {
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		if maxAbs == 0 {
			continue
		}
		qf := float64(q)
		got := float32(mseBounded(w, q, maxAbs, func(i int) float64 { return maxAbs * (1 - 0.008*float64(i)) / qf }))
		if want := msePlainFrozen(w, q); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("trial %d n=%d q=%d: mseBounded %v, plain %v", trial, n, q, got, want)
		}
	}
}

// TestMSEErr4MatchesPlainSums checks mseErr4's four sums bit for bit
// against index-order plain sums, including scales that put weights
// exactly on rounding boundaries and the early stop.
func TestMSEErr4MatchesPlainSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	plain := func(w []float32, s, qf float64) float64 {
		e := 0.0
		for _, x := range w {
			v := float64(x)
			r := math.RoundToEven(v / s)
			r = math.Max(-qf, math.Min(qf, r))
			d := v - s*r
			e += d * d
		}
		return e
	}
	for trial := 0; trial < 2000; trial++ {
		n := 1 + rng.IntN(700)
		q := []int{1, 7, 127, 1000}[rng.IntN(4)]
		qf := float64(q)
		w := adversarialChannel(rng, rng.IntN(adversarialKinds), n, q)
		maxAbs := 0.0
		for _, v := range w {
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		if maxAbs == 0 {
			continue
		}
		var s, inv [4]float64
		for j := range s {
			s[j] = maxAbs * (1 - 0.008*float64(rng.IntN(100))) / qf
			if rng.IntN(4) == 0 && n > 0 {
				// put w[0] exactly half-way between two codes
				m := float64(rng.IntN(q)) + 0.5
				s[j] = math.Abs(float64(w[0])) / m
				if s[j] == 0 || s[j] < maxAbs*0.2/qf {
					s[j] = maxAbs / qf
				}
			}
			inv[j] = 1 / s[j]
		}
		e, done := mseErr4(w, &s, &inv, qf, math.Inf(1))
		if !done {
			t.Fatalf("trial %d: stopped with an infinite limit", trial)
		}
		for j := range s {
			if want := plain(w, s[j], qf); math.Float64bits(e[j]) != math.Float64bits(want) {
				t.Fatalf("trial %d n=%d q=%d s=%v: sum %v, plain %v", trial, n, q, s[j], e[j], want)
			}
		}
		s2, inv2 := [2]float64{s[1], s[2]}, [2]float64{inv[1], inv[2]}
		e2, done2 := mseErr2(w, &s2, &inv2, qf, math.Inf(1))
		if !done2 || math.Float64bits(e2[0]) != math.Float64bits(e[1]) || math.Float64bits(e2[1]) != math.Float64bits(e[2]) {
			t.Fatalf("trial %d: mseErr2 %v %v, mseErr4 %v", trial, e2, done2, e)
		}
		// With a finite limit: either all exact, or all partial sums above it.
		lim := plain(w, s[0], qf) * rng.Float64()
		e, done = mseErr4(w, &s, &inv, qf, lim)
		for j := range s {
			want := plain(w, s[j], qf)
			if done && math.Float64bits(e[j]) != math.Float64bits(want) || !done && !(e[j] > lim && e[j] <= want) {
				t.Fatalf("trial %d: limit %v done %v: sum %v, plain %v", trial, lim, done, e[j], want)
			}
		}
	}
}

// TestQuantizeCodesMatchesQuantizeSym checks QuantizeChannel's code loop
// against quantizeSym (division) on weights on and next to rounding
// boundaries, clamped ones, non-finite ones and odd scales.
func TestQuantizeCodesMatchesQuantizeSym(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	scales := []float32{0, -1, float32(math.NaN()), float32(math.Inf(1)), math.Float32frombits(1), 1e-30, 1e30}
	for trial := 0; trial < 3000; trial++ {
		q := []int{1, 7, 127, 100}[rng.IntN(4)]
		n := 1 + rng.IntN(400)
		var scale float32
		if trial%10 == 0 {
			scale = scales[rng.IntN(len(scales))]
		} else {
			scale = float32(math.Abs(rng.NormFloat64()) * math.Pow(10, float64(rng.IntN(20)-10)))
		}
		s := float64(scale)
		w := adversarialChannel(rng, rng.IntN(adversarialKinds), n, q)
		for i := range w {
			switch rng.IntN(4) {
			case 0: // on a boundary (as float32), or a float32 step off it
				m := float64(rng.IntN(2*q+4)-q-2) + 0.5
				w[i] = float32(m * s)
				switch rng.IntN(3) {
				case 1:
					w[i] = math.Nextafter32(w[i], float32(math.Inf(1)))
				case 2:
					w[i] = math.Nextafter32(w[i], float32(math.Inf(-1)))
				}
			case 1:
				if rng.IntN(50) == 0 {
					w[i] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[rng.IntN(3)]
				}
			}
		}
		codes := make([]int8, n)
		quantizeCodes(codes, w, scale, q)
		for i, v := range w {
			if want := int8(quantizeSym(float64(v), s, q)); codes[i] != want {
				t.Fatalf("trial %d: w=%v scale=%v q=%d: code %d, quantizeSym %d", trial, v, scale, q, codes[i], want)
			}
		}
	}
}

// TestTWNAdversarial compares TWN with the branchy reference on channels
// that take the reordered-sum path and on ones that must not (huge
// dynamic range, subnormals), and checks twnExact's float32 threshold
// against the float64 comparison with d on and next to weight values.
func TestTWNAdversarial(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for trial := 0; trial < 3000; trial++ {
		n := 1 + rng.IntN(300)
		if trial%4 == 0 {
			n = 1 + rng.IntN(7)
		}
		w := adversarialChannel(rng, trial%adversarialKinds, n, 7)
		gt, ga, gd := TWN(w)
		rt, ra, rd := twnRef(w)
		if math.Float32bits(ga) != math.Float32bits(ra) || math.Float32bits(gd) != math.Float32bits(rd) {
			t.Fatalf("trial %d kind %d n=%d: α, Δ = %v, %v; reference %v, %v", trial, trial%adversarialKinds, n, ga, gd, ra, rd)
		}
		if string(int8Bytes(gt)) != string(int8Bytes(rt)) {
			t.Fatalf("trial %d kind %d: codes %v, reference %v", trial, trial%adversarialKinds, gt, rt)
		}
		// The threshold rule on its own, d exactly at a weight or just off it.
		v := math.Abs(float64(w[rng.IntN(n)]))
		for _, d := range []float64{v, math.Nextafter(v, 0), math.Nextafter(v, 1), float64(math.Nextafter32(float32(v), 0)), v * (1 + 1e-12)} {
			if d < 0 || math.IsInf(d, 0) || d != d {
				continue
			}
			tc := make([]int8, n)
			a, cnt := twnExact(w, tc, d)
			wa, wn := 0.0, 0
			for i, x := range w {
				av := math.Abs(float64(x))
				want := int8(0)
				if av > d {
					wa += av
					wn++
					want = 1
					if x <= 0 {
						want = -1
					}
				}
				if tc[i] != want {
					t.Fatalf("trial %d: d=%v w=%v: code %d, want %d", trial, d, x, tc[i], want)
				}
			}
			if _, exact := sumAbs(w); exact && (cnt != wn || a != wa) {
				t.Fatalf("trial %d: d=%v: Σ %v n %d, want %v %d", trial, d, a, cnt, wa, wn)
			}
		}
	}
}

// TestTWNSumAbsExactness: whenever sumAbs reports its sum exact it equals the
// index-order sum, and it does report exactness on typical channels.
func TestTWNSumAbsExactness(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	nExact := 0
	for trial := 0; trial < 3000; trial++ {
		w := adversarialChannel(rng, trial%adversarialKinds, 1+rng.IntN(2000), 7)
		seq := 0.0
		for _, v := range w {
			seq += math.Abs(float64(v))
		}
		got, exact := sumAbs(w)
		if exact {
			nExact++
			if math.Float64bits(got) != math.Float64bits(seq) {
				t.Fatalf("trial %d: sumAbs %v reported exact, index-order sum %v", trial, got, seq)
			}
		}
		if trial%adversarialKinds == 0 && !exact {
			t.Errorf("trial %d: a He-initialised channel was not summed exactly", trial)
		}
	}
	if nExact == 0 {
		t.Fatal("no exact sums")
	}
	// Sums just at the exactness limit 2^(L+53), where the order of the
	// additions changes the result: B = 2^(L+53) and odd multiples x of
	// 2^L (x's last place), one large weight then many tiny ones.
	for _, l := range []int{-149, -100, -60, -30, 0, 20} {
		x := float32(math.Ldexp(1+math.Ldexp(1, -23), l+23)) // (2^23+1)·2^L
		for _, bexp := range []int{50, 51, 52, 53, 54} {
			b := float32(math.Ldexp(1, l+bexp))
			if math.IsInf(float64(b), 0) || b == 0 || float64(b) > math.MaxFloat32 {
				continue
			}
			for n := 1; n <= 9; n++ {
				w := []float32{x, b}
				for j := 0; j < n; j++ {
					w = append(w, x, -x)
				}
				seq := 0.0
				for _, v := range w {
					seq += math.Abs(float64(v))
				}
				if got, exact := sumAbs(w); exact && math.Float64bits(got) != math.Float64bits(seq) {
					t.Fatalf("L=%d B=2^%d n=%d: sumAbs %v reported exact, index-order sum %v", l, l+bexp, n, got, seq)
				}
				gt, ga, gd := TWN(w)
				rt, ra, rd := twnRef(w)
				if ga != ra || gd != rd || string(int8Bytes(gt)) != string(int8Bytes(rt)) {
					t.Fatalf("L=%d B=2^%d n=%d: TWN %v %v, reference %v %v", l, l+bexp, n, ga, gd, ra, rd)
				}
			}
		}
	}
	w := []float32{1}
	for j := 0; j < 1000; j++ {
		w = append(w, 3*float32(math.Ldexp(1, -55)))
	}
	gt, ga, gd := TWN(w)
	rt, ra, rd := twnRef(w)
	if ga != ra || gd != rd || string(int8Bytes(gt)) != string(int8Bytes(rt)) {
		t.Fatalf("one large weight, many tiny: TWN %v %v, reference %v %v", ga, gd, ra, rd)
	}
}

// TestQuantRealWeights runs the quantizers on every channel of the trained
// models in testdata (conv and dense weights, one row of the leading axis
// per channel) against the frozen plain search, the branchy TWN and
// quantizeSym, bit for bit: trained weights have other tails than the
// synthetic ones.
func TestQuantRealWeights(t *testing.T) {
	models := []string{
		"../testdata/models/cifar10/resnet20_bn_amandashi95.onnx",
		"../testdata/models/cifar10/resnet20_bnfolded_sclblonnx.onnx",
		"../testdata/models/mnist/lenet5_ccoltong1215_b10.onnx",
		"../testdata/models/fashion_mnist/cnn3_edwin19.onnx",
	}
	if !testing.Short() {
		models = append(models, "../testdata/models/cifar10/squeezenet_nhwc_emclab.onnx")
	}
	for _, path := range models {
		m, err := frontend.Import(path, frontend.Options{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		nch := 0
		for _, v := range m.Graph.Consts {
			c := v.Const
			if c == nil || c.F == nil || len(c.Shape) < 2 || c.Shape[0] < 1 || len(c.F) < 16 {
				continue
			}
			rows := int(c.Shape[0])
			k := len(c.F) / rows
			for ch := 0; ch < rows; ch++ {
				w := c.F[ch*k : (ch+1)*k]
				nch++
				for _, q := range []int{7, 127} {
					got, want := MSEScale(w, q), msePlainFrozen(w, q)
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%s %s channel %d (k=%d) q=%d: MSEScale %v, plain %v", path, v.Name, ch, k, q, got, want)
					}
					codes := make([]int8, k)
					quantizeCodes(codes, w, got, q)
					for i, x := range w {
						if want := int8(quantizeSym(float64(x), float64(got), q)); codes[i] != want {
							t.Fatalf("%s %s channel %d: code %d of %v = %d, quantizeSym %d", path, v.Name, ch, i, x, codes[i], want)
						}
					}
				}
				gt, ga, gd := TWN(w)
				rt, ra, rd := twnRef(w)
				if math.Float32bits(ga) != math.Float32bits(ra) || math.Float32bits(gd) != math.Float32bits(rd) || string(int8Bytes(gt)) != string(int8Bytes(rt)) {
					t.Fatalf("%s %s channel %d: TWN α, Δ %v %v, reference %v %v", path, v.Name, ch, ga, gd, ra, rd)
				}
			}
		}
		if nch == 0 {
			t.Errorf("%s: no weight channels found", path)
		}
		t.Logf("%s: %d channels", path, nch)
	}
}
