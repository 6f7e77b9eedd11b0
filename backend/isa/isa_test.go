package isa

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"

	"pimc/hw"
)

// sample is a small valid program that uses every section, every opcode
// and every descriptor kind.
func sample(t testing.TB) *Program {
	t.Helper()
	fp, err := hw.Default().Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	p := &Program{HWName: hw.DefaultName, Fingerprint: fp, Model: "tiny \"model\"", ABufWords: 4096, PSumWords: 512}
	p.Ports = []Port{
		{DType: F32, Name: "x", Shape: []int64{1, 2, 4, 4}, Addr: 0},
		{Out: true, DType: F32, Name: "y", Shape: []int64{1, 4}, Addr: 2000},
	}
	p.Consts = []Const{
		{KQuant, []int64{F32Bits(0.0625), -8, 7, 4}},
		{KWin, []int64{100, 1, 2, 4, 4, 0, 2, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4, 4, 1, 2, 0, 4}},
		{KReq, []int64{1, 4, 16, 0, 15, 0, 1, 100, 4, 4, 0, 3, 0, 4, 1, 3, 0, 4, 1, 3, 0, 4, 1, 3, 0, 4, 1}},
		{KAdd, []int64{64, 3, 5, 2, 0, 15, 4, 4, 4}},
		{KRescale, []int64{7, 3, -8, 7, 4, 4}},
		{KPool, []int64{4, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 4, 4}},
		{KPool, []int64{4, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0, 3, 0, 15, 4, 4, 8, 4, 3, 2}},
		{KGap, []int64{4, 4, 5, 4, 0, 15, 4, 4}},
		{KCopy, []int64{1, 4, 4, 8, 4}},
		{KPerm, []int64{2, 4, 2, 2, 1, 0}},
		{KSoftmax, []int64{1, 4, 1, 1}},
		{KDeq, []int64{F32Bits(0.125), 4}},
		{KFop, []int64{int64(FopLRN), 1, 4, 1, 3, 0, F32Bits(1e-4), F32Bits(0.75), F32Bits(1)}},
	}
	im0 := Image{Pool: SRAM, Planes: 4, Rows: 18, R0: 0, Chans: []uint32{0, 2}}
	im0.Bits = make([]byte, 18*im0.RowBytes())
	im0.SetBit(0, 0, 1)
	im0.SetBit(17, 1, 3)
	im1 := Image{Pool: EDRAM, Planes: 2, Rows: 18, R0: 0, Chans: []uint32{1, 3}}
	im1.Bits = make([]byte, 18*im1.RowBytes())
	im1.SetBit(3, 0, 0)
	im1.SetBit(4, 1, 1)
	p.Images = []Image{im0, im1}
	p.Streams[DMA] = Stream{Code: []Inst{
		I(OpLOAD, 0, 0, 0, 32), I(OpSIGNAL, uint64(PPU)), I(OpWAIT, uint64(PPU)), I(OpSTORE, 2000, 0, 0, 4), I(OpHALT)}}
	p.Streams[SRAM] = Stream{Entry: 1, Code: []Inst{
		I(OpWPROG, 3, 0, 96), I(OpWAIT, uint64(PPU)), I(OpMVM, 3, 0, 1, 0, 16, 0, 1), I(OpNOP), I(OpSIGNAL, uint64(PPU)), I(OpHALT)}}
	p.Streams[EDRAM] = Stream{Entry: 0, Code: []Inst{
		I(OpWAIT, uint64(PPU)), I(OpWPROG, 31, 1), I(OpMVM, 31, 1, 1, 0, 16, 0, 1), I(OpREFRESH, 31), I(OpSIGNAL, uint64(PPU)), I(OpHALT)}}
	p.Streams[PPU] = Stream{Code: []Inst{
		I(OpWAIT, uint64(DMA)), I(OpQUANT, 100, 0, 32, 0), I(OpSIGNAL, uint64(SRAM)), I(OpSIGNAL, uint64(EDRAM)),
		I(OpWAIT, uint64(SRAM)), I(OpWAIT, uint64(EDRAM)), I(OpREQ, 200, 2, 0, 16), I(OpADD, 300, 200, 200, 3),
		I(OpRESCALE, 400, 300, 64, 4), I(OpRELU, 500, 400, 64, 4), I(OpMAXPOOL, 600, 500, 5), I(OpAVGPOOL, 700, 500, 6),
		I(OpGAP, 800, 500, 7), I(OpCOPY, 900, 800, 8), I(OpPERM, 1000, 900, 9), I(OpDEQ, 1100, 1000, 4, 11),
		I(OpFOP, 1200, 1100, 12), I(OpSOFTMAX, 2000, 1200, 10), I(OpSIGNAL, uint64(DMA)), I(OpHALT)}}
	p.Syms = []Sym{{PPU, 1, 2, "quantize_x"}, {SRAM, 0, 5, "conv"}, {EDRAM, 0, 5, "conv"}, {PPU, 2, 7, "conv"}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	p := sample(t)
	b := Encode(p)
	q, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("decode(encode(p)) differs:\n%+v\n%+v", p, q)
	}
	if !bytes.Equal(Encode(q), b) {
		t.Fatal("re-encoding differs")
	}
	txt := Disassemble(q)
	r, err := Assemble(txt)
	if err != nil {
		t.Fatalf("assemble: %v\n%s", err, txt)
	}
	if !bytes.Equal(Encode(r), b) {
		t.Fatalf("assembled listing differs from the original bytes:\n%s", txt)
	}
	if Disassemble(r) != txt {
		t.Fatal("listing of the assembled program differs")
	}
	for _, want := range []string{".stream sram entry=1", "wprog arr=3 img=0 col=96", "mvm arr=3 img=0 k=1 w0=0 nw=16 acc=0 rd=1", "; 2 conv", ".const 0 quant scale=0.0625 lo=-8 hi=7 obits=4", `.sym ppu 1 2 "quantize_x"`} {
		if !strings.Contains(txt, want) {
			t.Errorf("listing lacks %q", want)
		}
	}
	if err := p.CheckHardware(hw.Default()); err != nil {
		t.Fatal(err)
	}
}

func TestEveryOpcodeAndKindInSample(t *testing.T) {
	p := sample(t)
	used := map[Op]bool{}
	for _, s := range p.Streams {
		for _, in := range s.Code {
			used[in.Op] = true
		}
	}
	for _, op := range Ops() {
		if !used[op] {
			t.Errorf("sample program does not use %s", op)
		}
	}
	kinds := map[ConstKind]bool{}
	for _, c := range p.Consts {
		kinds[c.Kind] = true
	}
	for _, k := range ConstKinds() {
		if !kinds[k] {
			t.Errorf("sample program does not use descriptor %s", k)
		}
	}
}

// refix recomputes the CRC so a test can reach the checks behind it.
func refix(b []byte) []byte {
	c := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(c[len(c)-4:], crc32.ChecksumIEEE(c[:len(c)-4]))
	return c
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(sample(t))
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), "bad magic"},
		{"version", refix(mut(func(b []byte) []byte { b[8] = 9; return b })), "format version 9"},
		{"crc", mut(func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }), "CRC mismatch"},
		{"truncated", good[:len(good)-9], "truncated"},
		{"trailing", append(append([]byte(nil), good...), 0), "trailing data"},
		{"flags", refix(mut(func(b []byte) []byte { b[12] = 1; return b })), "header flags"},
	}
	// An unknown opcode in the first DMA instruction.
	off := int(binary.LittleEndian.Uint64(good[headerSize+entrySize+8:])) + 8
	cases = append(cases, struct {
		name string
		b    []byte
		want string
	}{"opcode", refix(mut(func(b []byte) []byte { b[off] = 0xEE; return b })), "unknown opcode 0xee"},
		struct {
			name string
			b    []byte
			want string
		}{"reserved", refix(mut(func(b []byte) []byte { b[off+15] = 0x80; return b })), "reserved bits"},
		struct {
			name string
			b    []byte
			want string
		}{"engine", refix(mut(func(b []byte) []byte { b[off+1] = 2; return b })), "engine field"})
	for _, c := range cases {
		_, err := Decode(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	// Every truncation is an error, never a panic.
	for n := 0; n < len(good); n++ {
		if _, err := Decode(good[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	cases := []struct {
		edit func(p *Program)
		want string
	}{
		{func(p *Program) { p.Streams[SRAM].Code[2].Args[1] = 9 }, "stream sram, instruction 2 (mvm): img=9: the program has 2 images"},
		{func(p *Program) { p.Streams[SRAM].Code[2].Args[1] = 1 }, "img=1 is a edram image"},
		{func(p *Program) { p.Streams[PPU].Code[1].Args[3] = 2 }, "k=2 is a req descriptor, want quant"},
		{func(p *Program) { p.Streams[DMA].Code[0].Args[1] = 1 }, "port=1: the program has 1 inputs"},
		{func(p *Program) { p.Streams[DMA].Code = p.Streams[DMA].Code[:4] }, "the last instruction must be halt"},
		{func(p *Program) { p.Streams[PPU].Code[0] = I(OpWAIT, uint64(PPU)) }, "from=3 is not another engine"},
		{func(p *Program) { p.Streams[PPU].Code[1] = I(OpMVM) }, "not a ppu instruction"},
		{func(p *Program) { p.Consts[2].Vals[13] = 70 }, "shift 70 outside 0..62"},
		{func(p *Program) { p.Images[1].SetBit(3, 0, 1) }, "both + and − cells set"},
		{func(p *Program) { p.Syms[0].End = 99 }, "outside the ppu stream"},
		{func(p *Program) { p.Streams[SRAM].Code[2].Args[4] = 17 }, "windows 0..17 past the descriptor's 16"},
		{func(p *Program) { p.Streams[PPU].Code[10].Args[2] = 6 }, "descriptor 6 has avg=1"},
	}
	for _, c := range cases {
		p := sample(t)
		c.edit(p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
}

// TestFop: the fop instruction and descriptor round-trip through the
// binary and the listing, and the decoder rejects malformed fop
// descriptors.
func TestFop(t *testing.T) {
	p := sample(t)
	q, err := Decode(Encode(p))
	if err != nil {
		t.Fatal(err)
	}
	in := q.Streams[PPU].Code[16]
	if in.Op != OpFOP || in.Arg("dst") != 1200 || in.Arg("src") != 1100 || in.Arg("k") != 12 {
		t.Fatalf("decoded %s", in.Format())
	}
	c := q.Consts[12]
	if c.Kind != KFop || FloatOp(c.Get("op")) != FopLRN || c.Get("size") != 3 || c.F32("f0") != 1e-4 || c.F32("f1") != 0.75 {
		t.Fatalf("decoded %+v", c)
	}
	txt := Disassemble(q)
	for _, want := range []string{"fop dst=1200 src=1100 k=12", ".const 12 fop op=1 batch=1 c=4 inner=1 size=3 mode=0 f0=0.0001 f1=0.75 f2=1"} {
		if !strings.Contains(txt, want) {
			t.Errorf("listing lacks %q", want)
		}
	}
	// Every float operation's canonical descriptor is valid.
	for _, f := range FloatOps() {
		info := f.Info()
		v := []int64{int64(f), 2, 3, 5, 0, info.Mode, 0, 0, 0}
		if info.Size {
			v[4] = 5
		}
		for i, n := range info.Floats {
			if n != "" {
				v[6+i] = F32Bits(-0.5)
			}
		}
		if err := (Const{KFop, v}).validate(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if g, ok := LookupFloatOp(info.Name); !ok || g != f {
			t.Errorf("LookupFloatOp(%q) = %v, %v", info.Name, g, ok)
		}
	}
	// Malformed descriptors: through the binary decoder, which must
	// reject each with ErrFormat.
	lrn := []int64{int64(FopLRN), 1, 4, 1, 3, 0, F32Bits(1e-4), F32Bits(0.75), F32Bits(1)}
	edit := func(i int, v int64) []int64 { w := append([]int64(nil), lrn...); w[i] = v; return w }
	bad := []struct {
		vals []int64
		want string
	}{
		{edit(0, 0), "op=0 outside 1..255"},
		{edit(0, 99), "unknown float operation 99"},
		{edit(0, 300), "op=300 outside 1..255"},
		{lrn[:8], "8 values, want at least 9"},
		{append(append([]int64(nil), lrn...), 7), "1 values after the fixed fields, want 0"},
		{edit(4, 0), "size=0 outside 1..16777216"},
		{edit(2, 0), "c=0 outside"},
		{edit(5, 1), "mode=1 outside 0..0"},
		{edit(6, -1), "f0=-1 is not a float32 bit pattern"},
		{[]int64{int64(FopTanh), 1, 4, 1, 3, 0, 0, 0, 0}, "size=3 outside 0..0"},
		{[]int64{int64(FopTanh), 1, 4, 1, 0, 0, 0, F32Bits(1), 0}, "Tanh does not use f1"},
		{[]int64{int64(FopGelu), 1, 4, 1, 0, 2, 0, 0, 0}, "mode=2 outside 0..1"},
		{[]int64{int64(FopExp), 1 << 12, 1 << 12, 1 << 12, 0, 0, 0, 0, 0}, "spans more than"},
	}
	for _, b := range bad {
		p := sample(t)
		p.Consts[12].Vals = b.vals
		_, err := Decode(Encode(p))
		if err == nil || !strings.Contains(err.Error(), b.want) || !errors.Is(err, ErrFormat) {
			t.Errorf("%v: got %v, want an error containing %q", b.vals, err, b.want)
		}
	}
}

func TestCheckHardware(t *testing.T) {
	p := sample(t)
	h := hw.Default()
	h.EDRAM.Arrays = 16
	err := p.CheckHardware(h)
	if err == nil || !strings.Contains(err.Error(), "compiled for hardware") {
		t.Fatalf("got %v, want a fingerprint mismatch", err)
	}
	p.Fingerprint, _ = h.Fingerprint()
	err = p.CheckHardware(h)
	if err == nil || !strings.Contains(err.Error(), "stream edram, instruction 1 (wprog): array 31, the pool has 16") {
		t.Fatalf("got %v", err)
	}
}

func TestAssembleErrors(t *testing.T) {
	txt := Disassemble(sample(t))
	cases := []struct{ old, new, want string }{
		{"mvm arr=3", "mvm arr=3 x=1", "unknown field x"},
		{"mvm arr=3 img=0", "mvm img=0", "missing arr="},
		{"nop", "frob", `unknown instruction "frob"`},
		{".const 1 win", ".const 7 win", "out of sequence"},
		{"wprog arr=3", "wprog arr=99999999", "does not fit 20 bits"},
	}
	for _, c := range cases {
		_, err := Assemble(strings.Replace(txt, c.old, c.new, 1))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q → %q: got %v, want %q", c.old, c.new, err, c.want)
		}
	}
}

func TestWordLayout(t *testing.T) {
	// MVM's fields straddle the two 64-bit halves.
	in := I(OpMVM, 1<<20-1, 5, 7, 1<<24-1, 3, 1, 1)
	var b [16]byte
	encodeInst(b[:], EDRAM, in)
	if b[0] != byte(OpMVM) || b[1]&0xf != byte(EDRAM) {
		t.Fatalf("opcode/engine bytes %x", b[:2])
	}
	got, err := decodeInst(b[:], EDRAM)
	if err != nil || got != in {
		t.Fatalf("got %+v, %v", got, err)
	}
}

// TestWprogColumn: wprog's column offset (bits 52..71, format version 2)
// encodes and decodes, and CheckHardware rejects an image whose columns
// run past the array.
func TestWprogColumn(t *testing.T) {
	for _, col := range []uint64{0, 1, 96, 1<<20 - 1} {
		in := I(OpWPROG, 7, 5, col)
		var b [InstBytes]byte
		encodeInst(b[:], SRAM, in)
		lo := uint64(0)
		for i := 7; i >= 0; i-- {
			lo = lo<<8 | uint64(b[i])
		}
		if got := (lo >> 52) & (1<<12 - 1); got != col&(1<<12-1) {
			t.Errorf("col=%d: bits 52..63 hold %d", col, got)
		}
		out, err := decodeInst(b[:], SRAM)
		if err != nil {
			t.Fatal(err)
		}
		if out != in || out.Arg("col") != col {
			t.Errorf("col=%d: decoded %+v", col, out)
		}
	}
	p := sample(t)
	// The sample's SRAM image has 2 channels × 4 columns: 8 columns.
	p.Streams[SRAM].Code[0] = I(OpWPROG, 3, 0, 121)
	if err := p.CheckHardware(hw.Default()); err == nil || !strings.Contains(err.Error(), "needs columns 121..128") {
		t.Fatalf("image past the last column: %v", err)
	}
	p.Streams[SRAM].Code[0] = I(OpWPROG, 3, 0, 120)
	if err := p.CheckHardware(hw.Default()); err != nil {
		t.Fatalf("image in the last 8 columns: %v", err)
	}
}
