package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"pimc/hw"
	"pimc/mapping"
)

const mapUsage = "map [--json] --array RxC --ifm HxW --kernel K --ic IC --oc OC [--stride S] [--pad P] [--dilation D] [--group G] [--weight-bits B] [--arrays N] [--hw FILE [--pool sram|edram]]"

// dimsFlag is a flag of 1 or 2 integers ("7" or "7x5"); a single value
// stands for both.
type dimsFlag struct {
	v    [2]int
	min  int // smallest allowed value
	set  bool
	what string // for error messages, e.g. "kernel size"
}

func (d *dimsFlag) String() string {
	if d == nil || d.v == [2]int{} {
		return ""
	}
	if d.v[0] == d.v[1] {
		return strconv.Itoa(d.v[0])
	}
	return fmt.Sprintf("%dx%d", d.v[0], d.v[1])
}

func (d *dimsFlag) Set(s string) error {
	parts := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == 'x' || r == '×' })
	if len(parts) == 0 || len(parts) > 2 || strings.Count(strings.ToLower(s), "x")+strings.Count(s, "×") != len(parts)-1 {
		return fmt.Errorf("want N or NxM, got %q", s)
	}
	var v [2]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return fmt.Errorf("%q is not an integer", p)
		}
		if n < d.min {
			return fmt.Errorf("%s must be at least %d, got %d", d.what, d.min, n)
		}
		v[i] = n
	}
	if len(parts) == 1 {
		v[1] = v[0]
	}
	d.v, d.set = v, true
	return nil
}

// padFlag is P, PHxPW or T,L,B,R.
type padFlag struct{ t, l, b, r int }

func (p *padFlag) String() string {
	if p == nil {
		return "0"
	}
	if p.t == p.l && p.l == p.b && p.b == p.r {
		return strconv.Itoa(p.t)
	}
	return fmt.Sprintf("%d,%d,%d,%d", p.t, p.l, p.b, p.r)
}

func (p *padFlag) Set(s string) error {
	if strings.Contains(s, ",") {
		parts := strings.Split(s, ",")
		if len(parts) != 4 {
			return fmt.Errorf("want P, PHxPW or T,L,B,R, got %q", s)
		}
		var v [4]int
		for i, q := range parts {
			n, err := strconv.Atoi(strings.TrimSpace(q))
			if err != nil || n < 0 {
				return fmt.Errorf("%q is not a non-negative integer", q)
			}
			v[i] = n
		}
		p.t, p.l, p.b, p.r = v[0], v[1], v[2], v[3]
		return nil
	}
	d := dimsFlag{min: 0, what: "padding"}
	if err := d.Set(s); err != nil {
		return err
	}
	p.t, p.b, p.l, p.r = d.v[0], d.v[0], d.v[1], d.v[1]
	return nil
}

// posIntFlag is an integer that must be at least min.
type posIntFlag struct {
	v, min int
	set    bool
}

func (f *posIntFlag) String() string {
	if f == nil {
		return ""
	}
	return strconv.Itoa(f.v)
}

func (f *posIntFlag) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	if n < f.min {
		return fmt.Errorf("must be at least %d, got %d", f.min, n)
	}
	f.v, f.set = n, true
	return nil
}

// mapReport is the --json output. The four scheme keys are stable; auto is
// the allocator's result for --arrays arrays of the given size.
type mapReport struct {
	Layer      mapping.Layer       `json:"layer"`
	OH         int                 `json:"oh"`
	OW         int                 `json:"ow"`
	WeightBits int                 `json:"weight_bits"`
	Hardware   string              `json:"hardware"`
	Pool       mapping.Pool        `json:"pool"`
	Im2col     mapping.Mapping     `json:"im2col"`
	SDK        mapping.Mapping     `json:"sdk"`
	VWSDK      mapping.Mapping     `json:"vwsdk"`
	Auto       mapping.LayerResult `json:"auto"`
	Alloc      mapping.Objective   `json:"alloc"` // what auto minimised (--alloc)
}

// runMap implements `pimc map`: the cycles of one layer under im2col, SDK,
// VW-SDK and the auto allocation.
func runMap(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("map", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed below, with the command prefix
	var (
		jsonOut  = fs.Bool("json", false, "Print one JSON object instead of a table")
		array    = &dimsFlag{min: 1, what: "array size"}
		ifm      = &dimsFlag{min: 1, what: "input map size"}
		kernel   = &dimsFlag{min: 1, what: "kernel size"}
		stride   = &dimsFlag{v: [2]int{1, 1}, min: 1, what: "stride"}
		dilation = &dimsFlag{v: [2]int{1, 1}, min: 1, what: "dilation"}
		pad      = &padFlag{}
		ic       = &posIntFlag{min: 1}
		oc       = &posIntFlag{min: 1}
		group    = &posIntFlag{v: 1, min: 1}
		wbits    = &posIntFlag{v: 1, min: 1}
		arrays   = &posIntFlag{v: 1, min: 1}
		hwFile   = fs.String("hw", "", "Hardware description `FILE`: clock-cycle latency, reload and refresh costs, and the default array size")
		pool     = fs.String("pool", "sram", "Pool of the --hw chip to use: sram (INT4 path) or edram (TB path)")
	)
	fs.Var(array, "array", "Array size `RxC` (rows x columns); default from --hw")
	fs.Var(ifm, "ifm", "Input feature map size `HxW` (or H), before padding")
	fs.Var(kernel, "kernel", "Kernel size `K` or KHxKW")
	fs.Var(ic, "ic", "Input channels")
	fs.Var(oc, "oc", "Output channels")
	fs.Var(stride, "stride", "Stride `S` or SHxSW")
	fs.Var(pad, "pad", "Zero padding `P`, PHxPW or T,L,B,R")
	fs.Var(dilation, "dilation", "Dilation `D` or DHxDW")
	fs.Var(group, "group", "Groups (group = ic for depthwise)")
	fs.Var(wbits, "weight-bits", "Bits per weight, one column per bit (default 1; with --hw the pool's weight width)")
	fs.Var(arrays, "arrays", "Number of arrays for the auto mapping")
	af := addAllocFlag(fs) // without --hw energies are 0: energy and edp then fall back to latency
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: pimc %s\n\nFlags:\n", mapUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "pimc map: %s\nusage: pimc %s\nRun 'pimc help map' for details.\n", fmt.Sprintf(format, a...), mapUsage)
		return 2
	}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		return usageErr("%v", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	var missing []string
	for _, m := range []struct {
		name string
		set  bool
	}{{"--array", array.set || *hwFile != ""}, {"--ifm", ifm.set}, {"--kernel", kernel.set}, {"--ic", ic.set}, {"--oc", oc.set}} {
		if !m.set {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return usageErr("missing %s", strings.Join(missing, ", "))
	}

	var p mapping.Pool
	hwName := ""
	if *hwFile != "" {
		h, err := hw.Load(*hwFile)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintf(stderr, "pimc map: %s\n", strings.TrimSpace(line))
			}
			return 1
		}
		if p, err = mapping.PoolFromHW(h, mapping.PoolKind(*pool)); err != nil {
			return usageErr("--pool: %v", err)
		}
		hwName = h.Name
		if array.set {
			p.Array.Rows, p.Array.Cols = array.v[0], array.v[1]
		}
		if wbits.set {
			p.Array.WeightCols = (wbits.v + p.BitsPerCell - 1) / p.BitsPerCell
		}
	} else {
		if set["pool"] {
			return usageErr("--pool needs --hw")
		}
		p = mapping.IdealPool(1, mapping.Array{Rows: array.v[0], Cols: array.v[1], WeightCols: wbits.v})
	}
	p.Arrays = arrays.v
	if p.Array.WeightCols > p.Array.Cols {
		return usageErr("--weight-bits %d needs %d columns per weight; the array has %d columns", wbits.v, p.Array.WeightCols, p.Array.Cols)
	}
	if ic.v%group.v != 0 || oc.v%group.v != 0 {
		return usageErr("--group %d must divide --ic %d and --oc %d", group.v, ic.v, oc.v)
	}
	l := mapping.Layer{
		Name: "layer", IH: ifm.v[0], IW: ifm.v[1], KH: kernel.v[0], KW: kernel.v[1],
		IC: ic.v, OC: oc.v, SH: stride.v[0], SW: stride.v[1],
		PadT: pad.t, PadL: pad.l, PadB: pad.b, PadR: pad.r,
		DH: dilation.v[0], DW: dilation.v[1], Group: group.v,
	}
	l, err := l.Normalized()
	if err != nil {
		return usageErr("%v", strings.TrimPrefix(err.Error(), `mapping: layer "layer": `))
	}
	ms, err := mapping.MapAll(l, p.Array)
	if err != nil {
		return usageErr("%v", err)
	}
	alloc, err := mapping.Allocate([]mapping.Layer{l}, p, mapping.Options{Objective: af.objective()})
	if err != nil {
		fmt.Fprintf(stderr, "pimc map: %v\n", err)
		return 1
	}
	bits := p.Array.WeightCols * p.BitsPerCell
	rep := mapReport{Layer: l, OH: l.OH(), OW: l.OW(), WeightBits: bits, Hardware: hwName, Pool: p,
		Im2col: ms[0], SDK: ms[1], VWSDK: ms[2], Auto: alloc.Layers[0], Alloc: alloc.Objective}

	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "pimc map: %v\n", err)
			return 1
		}
		return 0
	}
	printMapTable(stdout, rep)
	return 0
}

func printMapTable(w io.Writer, r mapReport) {
	l, p := r.Layer, r.Pool
	fmt.Fprintf(w, "layer   %dx%dx%d -> %dx%dx%d, kernel %dx%d, stride %dx%d, pad %d,%d,%d,%d, dilation %dx%d, group %d\n",
		l.IH, l.IW, l.IC, r.OH, r.OW, l.OC, l.KH, l.KW, l.SH, l.SW, l.PadT, l.PadL, l.PadB, l.PadR, l.DH, l.DW, l.Group)
	fmt.Fprintf(w, "array   %dx%d, %d-bit weights over %s (%d channels side by side), %s for auto",
		p.Array.Rows, p.Array.Cols, r.WeightBits, count(int64(p.Array.WeightCols), "column", "columns"),
		p.Array.Cols/p.Array.WeightCols, count(int64(p.Arrays), "array", "arrays"))
	if r.Hardware != "" {
		fmt.Fprintf(w, ", %s pool of %s", p.Name, r.Hardware)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Names are padded by hand so that they read left-aligned while the
	// numbers align right.
	fmt.Fprintf(tw, "%-6s\tcycles\twindow\ttiles\twindows\tutilisation\t\n", "scheme")
	for _, m := range []mapping.Mapping{r.Im2col, r.SDK, r.VWSDK} {
		fmt.Fprintf(tw, "%-6s\t%d\t%s\t%d\t%d\t%.1f%%\t\n", m.Scheme, m.Cycles, m.Window, m.Tiles, m.Windows, 100*m.Utilisation)
	}
	a := r.Auto
	fmt.Fprintf(tw, "%-6s\t%d\t%s\t%d\t%s\t%.1f%%\t\n", "auto", a.Cycles, a.Window, a.Tiles, "-", 100*a.Utilisation)
	tw.Flush()
	fmt.Fprintf(w, "\nauto (--alloc %s): %s, %s, %s on %s, %s", r.Alloc, a.Scheme, a.Mode,
		count(a.Copies, "copy", "copies"), count(a.Arrays, "array", "arrays"), count(a.Rounds, "round", "rounds"))
	if r.Hardware != "" {
		fmt.Fprintf(w, "; latency %d clock cycles (compute %d + reload %d), %d tile reloads, %d row refreshes, %.4g nJ",
			a.LatencyClk, a.ComputeClk, a.ReloadClk, a.Reloads, a.Refreshes, a.EnergyFJ/1e6)
	}
	fmt.Fprintln(w)
}

func count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
