package cost

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// WriteTable prints a human-readable summary: one row per array layer, a
// row for the PPU-only ops and a total, then latency, energy by component,
// arrays, memory and (when c is not nil) the savings against the
// baselines. The output depends only on r and c.
func WriteTable(w io.Writer, r *Report, c *Comparison) error {
	bw := bufio.NewWriter(w)
	t := &r.Totals
	label := r.Label
	if label == "" {
		label = LabelChosen
	}
	fmt.Fprintf(bw, "pimc cost: %s (%s) on %s, %g MHz, --alloc %s\n", r.Model, label, r.Hardware, r.ClockMHz, r.Alloc)
	fmt.Fprintf(bw, "ratio: INT4 share %s of channels / %s of MACs over %s; %s unsplit\n\n",
		pct(r.Ratio.Channels), pct(r.Ratio.MACs), plural(r.Ratio.SplitLayers, "split layer"), plural(r.Ratio.UnsplitLayers, "layer"))

	// One energy unit for the whole column, so that rows compare at a
	// glance.
	var emax float64
	for _, l := range r.Layers {
		emax = math.Max(emax, l.Energy.Total)
	}
	unit, scale := energyUnit(emax)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "LAYER\tOP\tENGINE\tPREC\tOC4/TB\tSRAM CLK\tEDRAM CLK\tPPU CLK\tLATENCY CLK\tBOUND\tENERGY %s\tARRAYS S/E\tUTIL S/E\n", unit)
	for _, l := range r.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%d\t%d\t%s\t%.3f\t%s/%s\t%s/%s\n",
			l.Name, l.Op, l.Engine, l.Precision, l.OC4, l.OCTB,
			clk(l.SRAM), clk(l.EDRAM), l.PPUClk, l.LatencyClk, l.Bound, l.Energy.Total/scale,
			arrays(l.SRAM), arrays(l.EDRAM), util(l.SRAM), util(l.EDRAM))
	}
	var ppuE float64
	for _, p := range r.PPUOps {
		ppuE += p.Energy.Total
	}
	fmt.Fprintf(tw, "(PPU-only ops: %d)\t\tppu\t\t\t-\t-\t%d\t%d\t\t%.3f\n", len(r.PPUOps), t.PPUOpClk, t.PPUOpClk, ppuE/scale)
	fmt.Fprintf(tw, "TOTAL\t\t\t\t\t%d\t%d\t%d\t%d\t\t%.3f\t%d/%d\t%s/%s\n",
		r.SRAM.LatencyClk, r.EDRAM.LatencyClk, t.LayerPPUClk+t.PPUOpClk, t.LatencyClk, t.Energy.Total/scale,
		r.SRAM.UsedArrays, r.EDRAM.UsedArrays, pct(r.SRAM.CellUtilisation), pct(r.EDRAM.CellUtilisation))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(bw, "\nlatency  %d clk = %s; bottleneck %s, %d clk\n", t.LatencyClk, us(t.LatencyUS), t.Bottleneck, t.BottleneckClk)
	fmt.Fprintf(bw, "         arrays %d + layer PPU %d overlapped, PPU-only ops %d; %d clk if the PPU did not overlap the arrays\n",
		t.ArrayClk, t.LayerPPUClk, t.PPUOpClk, t.NoOverlapLatencyClk)
	e := t.Energy
	fmt.Fprintf(bw, "energy   %s per inference: MAC %s, ADC %s, drivers %s, PPU %s, buffer %s read + %s write, weight writes %s, DMA %s, refresh %s\n",
		energy(e.Total), energy(e.MAC), energy(e.ADC), energy(e.Driver), energy(e.PPU), energy(e.BufferRead),
		energy(e.BufferWrite), energy(e.WeightWrite), energy(e.DMA), energy(e.Refresh))
	fmt.Fprintf(bw, "         one-time weight load: %s, %d clk\n", energy(t.LoadEnergyFJ), t.LoadClk)
	for i, p := range []*PoolReport{&r.SRAM, &r.EDRAM} {
		head := "arrays  "
		if i > 0 {
			head = "        "
		}
		fmt.Fprintf(bw, "%s %-5s %d/%d used (%d resident, %d streaming), cell utilisation %s, busy %s of the inference\n",
			head, p.Pool, p.UsedArrays, p.Arrays, p.ResidentArrays, p.StreamArrays, pct(p.CellUtilisation), pct(p.Busy))
	}
	mem := t.Memory
	fmt.Fprintf(bw, "memory   weights %s (%s packed): %d INT8, %d INT4, %d ternary\n",
		size(mem.WeightBits), size(mem.WeightPackedBits), mem.INT8Weights, mem.INT4Weights, mem.TernaryWeights)
	fmt.Fprintf(bw, "         activations %s stored, peak %s live at %s (buffer %s)\n",
		size(mem.ActivationBits), size(mem.PeakActivationBits), mem.PeakAt, size(mem.BufferBits))
	if a := r.Accuracy; a != nil {
		fmt.Fprintf(bw, "accuracy top-1 %.2f%% (%d of %d images of %s; quantized reference executor)\n", 100*a.Top1, a.Correct, a.Images, a.Data)
	}
	if c != nil && len(c.Baselines) > 0 {
		fmt.Fprintln(bw)
		for _, s := range c.Baselines {
			acc := ""
			if c.Chosen.Top1 != nil && s.Metrics.Top1 != nil {
				acc = fmt.Sprintf(", top-1 %.2f%% vs %.2f%%", 100**c.Chosen.Top1, 100**s.Metrics.Top1)
			}
			fmt.Fprintf(bw, "vs %-9s  %s   (energy %s vs %s, weights %s vs %s, latency %d vs %d clk%s)\n",
				s.Baseline, strings.TrimSuffix(s.Headline, " vs "+s.Baseline),
				energy(c.Chosen.EnergyFJ), energy(s.Metrics.EnergyFJ),
				size(c.Chosen.WeightBits), size(s.Metrics.WeightBits),
				c.Chosen.LatencyClk, s.Metrics.LatencyClk, acc)
		}
	}
	return bw.Flush()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func clk(p PathCost) string {
	if p.Mode == "idle" {
		return "-"
	}
	return fmt.Sprint(p.LatencyClk)
}

func arrays(p PathCost) string {
	switch p.Mode {
	case "idle":
		return "-"
	case "streamed":
		return fmt.Sprintf("%ds", p.Arrays)
	}
	return fmt.Sprint(p.Arrays)
}

func util(p PathCost) string {
	if p.Mode == "idle" {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*p.Utilisation)
}

// energyUnit picks the unit that shows fj with at most three integer
// digits.
func energyUnit(fj float64) (string, float64) {
	switch {
	case fj >= 1e12:
		return "mJ", 1e12
	case fj >= 1e9:
		return "uJ", 1e9
	case fj >= 1e6:
		return "nJ", 1e6
	case fj >= 1e3:
		return "pJ", 1e3
	}
	return "fJ", 1
}

func energy(fj float64) string {
	u, s := energyUnit(fj)
	return fmt.Sprintf("%.3f %s", fj/s, u)
}

func us(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.3f ms", v/1000)
	}
	return fmt.Sprintf("%.3f us", v)
}

func size(bits int64) string {
	b := float64(bits) / 8
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.2f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
