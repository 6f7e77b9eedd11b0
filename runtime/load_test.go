package runtime_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pimc/backend/isa"
	"pimc/hw"
	"pimc/runtime"
)

// seedPrograms are real emitted programs (written by TestBitExactRealModels
// with PIMC_WRITE_SEEDS=1), built for hw.Default().
func seedPrograms(t testing.TB) map[string][]byte {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.pimb"))
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	if len(out) == 0 {
		t.Skip("no seed programs in testdata")
	}
	return out
}

// FuzzLoad checks that Load never panics, and that a program it accepts
// runs without error (or panic) on an input of the declared shape.
func FuzzLoad(f *testing.F) {
	for _, b := range seedPrograms(f) {
		f.Add(b)
	}
	h := hw.Default()
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<21 {
			return
		}
		p, err := runtime.Load(b, h)
		if err != nil {
			return
		}
		var ins []runtime.Tensor
		for _, pt := range p.Inputs() {
			if pt.Elems() > 1<<20 {
				return
			}
			ins = append(ins, runtime.Tensor{Shape: pt.Shape, Data: make([]float32, pt.Elems())})
		}
		if _, _, err := runtime.Run(p, ins); err != nil {
			t.Fatalf("a loaded program failed to run: %v", err)
		}
	})
}

func TestSeedProgramsRun(t *testing.T) {
	for name, b := range seedPrograms(t) {
		p, err := runtime.Load(b, hw.Default())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var ins []runtime.Tensor
		for _, pt := range p.Inputs() {
			d := make([]float32, pt.Elems())
			for i := range d {
				d[i] = float32(math.Sin(float64(i)))
			}
			ins = append(ins, runtime.Tensor{Shape: pt.Shape, Data: d})
		}
		outs, st, err := runtime.Run(p, ins)
		if err != nil || len(outs) == 0 || st.Inference.LatencyClk <= 0 {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// reencode edits a decoded program and encodes it again (valid CRC), to
// reach the loader's semantic checks.
func reencode(t *testing.T, b []byte, edit func(p *isa.Program)) []byte {
	t.Helper()
	p, err := isa.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	edit(p)
	return isa.Encode(p)
}

func TestLoadRejects(t *testing.T) {
	seeds := seedPrograms(t)
	good := seeds["mnist-8.pimb"]
	if good == nil {
		t.Skip("mnist-8.pimb seed missing")
	}
	firstOp := func(p *isa.Program, e isa.Engine, op isa.Op) *isa.Inst {
		for i := range p.Streams[e].Code {
			if p.Streams[e].Code[i].Op == op {
				return &p.Streams[e].Code[i]
			}
		}
		t.Fatalf("no %s in the %s stream", op, e)
		return nil
	}
	other := hw.Default()
	other.SRAM.ADCBits = 6
	cases := []struct {
		name string
		b    []byte
		h    *hw.Hardware
		want string
	}{
		{"truncated", good[:len(good)-100], nil, "truncated"},
		{"crc", func() []byte { c := append([]byte(nil), good...); c[200] ^= 4; return c }(), nil, "CRC mismatch"},
		{"other hardware", good, other, "compiled for hardware"},
		{"abuf too small", reencode(t, good, func(p *isa.Program) { p.ABufWords = 10 }), nil, "activation buffer"},
		{"psum too small", reencode(t, good, func(p *isa.Program) { p.PSumWords = 1 }), nil, "partial-sum buffer"},
		{"array out of range", reencode(t, good, func(p *isa.Program) {
			firstOp(p, isa.SRAM, isa.OpMVM).Args[0] = 64
		}), nil, "array 64, the pool has 64"},
		{"array never programmed", reencode(t, good, func(p *isa.Program) {
			arr := firstOp(p, isa.SRAM, isa.OpMVM).Args[0]
			for i, in := range p.Streams[isa.SRAM].Code {
				if in.Op == isa.OpWPROG && in.Args[0] == arr {
					p.Streams[isa.SRAM].Code[i] = isa.I(isa.OpNOP)
				}
			}
		}), nil, "holds no weights"},
		{"image not on the array", reencode(t, good, func(p *isa.Program) {
			// An MVM names an image of its layer (same window descriptor)
			// that only other arrays hold.
			code := p.Streams[isa.SRAM].Code
			held := map[[2]uint64]bool{}
			for _, in := range code {
				if in.Op == isa.OpWPROG {
					held[[2]uint64{in.Args[0], in.Args[1]}] = true
				}
			}
			for i := range code {
				for k := range code {
					a, b := &code[i], &code[k]
					if a.Op == isa.OpMVM && b.Op == isa.OpMVM && a.Args[2] == b.Args[2] && !held[[2]uint64{a.Args[0], b.Args[1]}] {
						a.Args[1] = b.Args[1]
						return
					}
				}
			}
			t.Fatal("no layer with two SRAM images")
		}), nil, "the instruction expects image"},
		{"overlapping image replaces", reencode(t, good, func(p *isa.Program) {
			// Two images packed on one array: moving the second onto the
			// first's columns replaces the first, which its MVMs still name.
			code := p.Streams[isa.SRAM].Code
			for i := range code[:p.Streams[isa.SRAM].Entry] {
				for k := i + 1; k < int(p.Streams[isa.SRAM].Entry); k++ {
					if code[i].Op == isa.OpWPROG && code[k].Op == isa.OpWPROG && code[i].Args[0] == code[k].Args[0] {
						code[k].Args[2] = code[i].Args[2]
						return
					}
				}
			}
			t.Fatal("no two images packed on one SRAM array")
		}), nil, "the instruction expects image"},
		{"image past the last column", reencode(t, good, func(p *isa.Program) {
			firstOp(p, isa.SRAM, isa.OpWPROG).Args[2] = 127
		}), nil, "needs columns"},
		{"deadlock", reencode(t, good, func(p *isa.Program) {
			s := &p.Streams[isa.DMA]
			s.Code = append([]isa.Inst{isa.I(isa.OpWAIT, uint64(isa.PPU))}, s.Code...)
			for i := range p.Syms {
				if p.Syms[i].Engine == isa.DMA {
					p.Syms[i].Start++
					p.Syms[i].End++
				}
			}
		}), nil, "deadlock"},
		{"unbalanced tokens", reencode(t, good, func(p *isa.Program) {
			s := &p.Streams[isa.DMA]
			n := len(s.Code)
			s.Code = append(s.Code[:n-1:n-1], isa.I(isa.OpSIGNAL, uint64(isa.EDRAM)), s.Code[n-1])
		}), nil, "never waited for"},
		{"overlapping pool", reencode(t, good, func(p *isa.Program) {
			firstOp(p, isa.PPU, isa.OpMAXPOOL).Args[0] = firstOp(p, isa.PPU, isa.OpMAXPOOL).Args[1]
		}), nil, "source and destination overlap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			if h == nil {
				h = hw.Default()
			}
			_, err := runtime.Load(c.b, h)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if c.name == "other hardware" && !errors.Is(err, runtime.ErrHardware) {
				t.Errorf("hardware mismatch does not wrap ErrHardware: %v", err)
			}
		})
	}
	// Every truncation and every single-byte corruption is rejected.
	for n := 0; n < len(good); n += 97 {
		if _, err := runtime.Load(good[:n], hw.Default()); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
	for i := 0; i < len(good); i += 89 {
		c := append([]byte(nil), good...)
		c[i] ^= 0x5a
		if _, err := runtime.Load(c, hw.Default()); err == nil {
			t.Fatalf("byte %d corrupted: accepted", i)
		}
	}
}

func TestRunRejectsBadInputs(t *testing.T) {
	seeds := seedPrograms(t)
	p, err := runtime.Load(seeds["mnist-8.pimb"], hw.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runtime.Run(p, nil); err == nil || !strings.Contains(err.Error(), "takes 1 inputs") {
		t.Fatalf("got %v", err)
	}
	if _, _, err := runtime.Run(p, []runtime.Tensor{{Shape: []int64{1, 28, 28}, Data: make([]float32, 784)}}); err == nil || !strings.Contains(err.Error(), "expects [1 1 28 28]") {
		t.Fatalf("got %v", err)
	}
}
