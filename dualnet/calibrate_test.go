package dualnet_test

import (
	"math"
	"os"
	"testing"

	"pimc/dualnet"
	"pimc/ir"
)

const resnet20BN = "testdata/models/cifar10/resnet20_bn_amandashi95.onnx"

// TestDataFreeAnalytic: with BatchNorm statistics covering the model,
// data-free calibration derives every histogram without running it
// (Images = 0), deterministically, with rectified activations never
// negative, and with 4-bit MSE scales within a factor of 3 of those real
// images give (a coarse check that the derivation is in the right range,
// not a tuning target).
func TestDataFreeAnalytic(t *testing.T) {
	if _, err := os.Stat(repoPath(resnet20BN)); err != nil {
		t.Skip(err)
	}
	m := loadModel(t, resnet20BN)
	cal, err := dualnet.DataFree(m, dualnet.CalibOptions{Synthetic: 8})
	if err != nil {
		t.Fatal(err)
	}
	if cal.Source != "bn" || cal.Images != 0 {
		t.Fatalf("source %q from %d images, want bn from none", cal.Source, cal.Images)
	}
	again, err := dualnet.DataFree(loadModel(t, resnet20BN), dualnet.CalibOptions{Synthetic: 8})
	if err != nil {
		t.Fatal(err)
	}
	ins, _ := images(t, m, "testdata/data/cifar10/cifar10_test_first100_lossless_eran.csv", "cifar10", 100)
	real, err := dualnet.Calibrate(loadModel(t, resnet20BN), ins, dualnet.CalibOptions{})
	if err != nil {
		t.Fatal(err)
	}
	relus := 0
	for _, n := range m.Graph.Nodes {
		v := n.Out(0)
		h := cal.Hists[v.Name]
		if h == nil || h.N == 0 {
			t.Errorf("%s: no histogram", v.Name)
			continue
		}
		if h2 := again.Hists[v.Name]; h2.N != h.N || h2.Max != h.Max || h2.Zero != h.Zero {
			t.Errorf("%s: second calibration differs", v.Name)
		}
		if n.Op != ir.OpRelu {
			continue
		}
		relus++
		if h.Min < 0 {
			t.Errorf("%s (ReLU output): min %v", v.Name, h.Min)
		}
		got, want := float64(cal.Scale(h, 4, false)), float64(real.Scale(real.Hists[v.Name], 4, false))
		if r := got / want; !(r > 1.0/3 && r < 3) {
			t.Errorf("%s: 4-bit scale %.4g, from images %.4g", v.Name, got, want)
		}
	}
	if relus == 0 {
		t.Fatal("no ReLU in the model")
	}
}

// TestDataFreeFallback: when the BatchNorm statistics do not cover a layer
// whose output quantized ops read, data-free calibration falls back to
// synthetic inputs (Images = Synthetic), still from source "bn" and
// without a warning, and still covers every activation.
func TestDataFreeFallback(t *testing.T) {
	if _, err := os.Stat(repoPath(resnet20BN)); err != nil {
		t.Skip(err)
	}
	m := loadModel(t, resnet20BN)
	bn := m.Meta["dualnet.bn"].(map[string]dualnet.BNStat)
	var layer string
	for _, n := range m.Graph.Nodes {
		if _, ok := bn[n.Name]; ok && n.Op == ir.OpConv {
			layer = n.Name // the last Conv with statistics
		}
	}
	delete(bn, layer)
	var warned []string
	cal, err := dualnet.DataFree(m, dualnet.CalibOptions{Synthetic: 4, Warn: func(s string) { warned = append(warned, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if cal.Source != "bn" || cal.Images != 4 || len(warned) != 0 {
		t.Fatalf("source %q from %d images, warnings %v; want bn from 4 synthetic inputs", cal.Source, cal.Images, warned)
	}
	for _, n := range m.Graph.Nodes {
		if h := cal.Hists[n.Out(0).Name]; h == nil || h.N == 0 {
			t.Errorf("%s: no histogram", n.Out(0).Name)
		}
	}
}

// TestDataFreeRectifiedMean checks derived histograms against the closed
// form: a Conv with BatchNorm statistics (β, γ) followed by ReLU is
// modelled as max(0, μ + b·L) per channel, L standard Laplace, μ = β,
// b = |γ|/√2, whose mean is μ + (b/2)·e^(−μ/b) for μ ≥ 0 and
// (b/2)·e^(μ/b) for μ < 0; the histogram's mean (from bin midpoints) must
// agree within 3%.
func TestDataFreeRectifiedMean(t *testing.T) {
	if _, err := os.Stat(repoPath(resnet20BN)); err != nil {
		t.Skip(err)
	}
	m := loadModel(t, resnet20BN)
	bn := m.Meta["dualnet.bn"].(map[string]dualnet.BNStat)
	cal, err := dualnet.DataFree(m, dualnet.CalibOptions{})
	if err != nil {
		t.Fatal(err)
	}
	users := m.Graph.Users()
	checked := 0
	for _, n := range m.Graph.Nodes {
		st, ok := bn[n.Name]
		us := users[n.Out(0)]
		if !ok || len(us) != 1 || us[0].Op != ir.OpRelu {
			continue
		}
		want := 0.0
		for c := range st.Mean {
			mu, b := float64(st.Mean[c]), float64(st.Std[c])/math.Sqrt2
			if mu >= 0 {
				want += mu + b/2*math.Exp(-mu/b)
			} else {
				want += b / 2 * math.Exp(mu/b)
			}
		}
		want /= float64(len(st.Mean))
		got := histMean(cal.Hists[us[0].Out(0).Name])
		if math.Abs(got-want) > 0.03*want {
			t.Errorf("%s → ReLU: histogram mean %.5g, closed form %.5g", n.Name, got, want)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no Conv→ReLU with statistics")
	}
}

// histMean is the mean of a histogram's values, each bin at the midpoint of
// its (logarithmic) edges.
func histMean(h *dualnet.Hist) float64 {
	s := 0.0
	for i := range h.Pos {
		if h.Pos[i] == 0 && h.Neg[i] == 0 {
			continue
		}
		lo := float64(math.Float32frombits(uint32(i+(127-40)<<5) << 18))
		hi := float64(math.Float32frombits(uint32(i+(127-40)<<5+1) << 18))
		mid := (lo + hi) / 2
		s += mid * float64(h.Pos[i])
		s -= mid * float64(h.Neg[i])
	}
	return s / float64(h.N)
}
