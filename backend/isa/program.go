package isa

import (
	"fmt"
	"math"
	"math/bits"
)

// Magic starts every .pimb file.
const Magic = "PIMB\r\n\x1a\n"

// Version is the container and instruction-set version this package reads
// and writes. Version 2 added wprog's column offset (column packing).
const Version = 2

// Program is a whole binary program: what a .pimb file holds.
type Program struct {
	HWName      string   // name of the hardware description (informative)
	Fingerprint [32]byte // hw.Hardware.Fingerprint of the target
	Model       string   // model name (informative)
	ABufWords   uint32   // activation buffer words the program uses
	PSumWords   uint32   // partial-sum buffer words the program uses
	Streams     [NumEngines]Stream
	Consts      []Const
	Ports       []Port
	Syms        []Sym
	Images      []Image
}

// Stream is one engine's instructions. Code[:Entry] is the setup part, run
// once when the program is loaded (resident weights); Code[Entry:] runs for
// every inference and ends with halt.
type Stream struct {
	Entry uint32
	Code  []Inst
}

// DType is the element type of a program input or output.
type DType uint8

// F32 is the only port type: IEEE float32 words.
const F32 DType = 1

func (d DType) String() string {
	if d == F32 {
		return "f32"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Port is one program input or output: a dense row-major tensor of float32
// words at Addr in the activation buffer.
type Port struct {
	Out   bool
	DType DType
	Name  string
	Shape []int64
	Addr  uint32
}

// Elems is the number of elements of the port's tensor.
func (p Port) Elems() int64 {
	n := int64(1)
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Sym maps instructions Start..End−1 of one stream to an IR node.
type Sym struct {
	Engine     Engine
	Start, End uint32
	Name       string
}

// Image is a weight image: the cell contents of one array region. Channel
// j of the image occupies bit planes j·Planes .. j·Planes+Planes−1 of each
// row (on SRAM the two's complement bits of a weight, least significant
// first; on eDRAM the + and − cells of a ternary weight). Row r holds
// canonical input row R0+r of the layer.
type Image struct {
	Pool   Engine
	Planes uint8
	Rows   uint32
	R0     uint32
	Chans  []uint32 // output channel of each image channel
	Bits   []byte   // Rows × RowBytes(), bit b of a row = byte b/8, bit b%8
}

// RowBytes is the bytes one image row takes: ⌈channels·planes / 8⌉.
func (im *Image) RowBytes() int { return (len(im.Chans)*int(im.Planes) + 7) / 8 }

// Bit reports plane q of channel j in row r.
func (im *Image) Bit(r, j, q int) bool {
	b := j*int(im.Planes) + q
	return im.Bits[r*im.RowBytes()+b/8]>>(b%8)&1 != 0
}

// SetBit sets plane q of channel j in row r.
func (im *Image) SetBit(r, j, q int) {
	b := j*int(im.Planes) + q
	im.Bits[r*im.RowBytes()+b/8] |= 1 << (b % 8)
}

// Inputs and Outputs return the ports of one direction, in port order.
func (p *Program) Inputs() []Port  { return p.ports(false) }
func (p *Program) Outputs() []Port { return p.ports(true) }

func (p *Program) ports(out bool) []Port {
	var r []Port
	for _, x := range p.Ports {
		if x.Out == out {
			r = append(r, x)
		}
	}
	return r
}

// Limits the decoder enforces (beyond the file's own size).
const (
	maxNameLen = 1 << 12
	maxRank    = 8
	maxPlanes  = 16
)

// Validate checks everything about a program that does not depend on the
// hardware: instruction operands reference existing images, descriptors of
// the right kind and ports of the right direction; descriptors, images,
// ports and symbols are well-formed; every stream ends with its only halt.
// Errors name the stream and instruction.
func (p *Program) Validate() error {
	for i, c := range p.Consts {
		if err := c.validate(); err != nil {
			return fmt.Errorf("constant %d: %w", i, err)
		}
	}
	nin, nout := 0, 0
	for i, pt := range p.Ports {
		if err := pt.validate(); err != nil {
			return fmt.Errorf("port %d (%q): %w", i, pt.Name, err)
		}
		if pt.Out {
			nout++
		} else {
			nin++
		}
	}
	for i := range p.Images {
		if err := p.Images[i].validate(); err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
	}
	for e := Engine(0); e < NumEngines; e++ {
		s := &p.Streams[e]
		if len(s.Code) == 0 {
			return fmt.Errorf("stream %s is empty (it must end with halt)", e)
		}
		if s.Entry > uint32(len(s.Code))-1 {
			return fmt.Errorf("stream %s: entry %d past the last instruction %d", e, s.Entry, len(s.Code)-1)
		}
		for j, in := range s.Code {
			if err := p.checkInst(e, j, in, len(s.Code), nin, nout); err != nil {
				return fmt.Errorf("stream %s, instruction %d (%s): %w", e, j, in.Op, err)
			}
			if uint32(j) < s.Entry && in.Op != OpWPROG && in.Op != OpREFRESH && in.Op != OpNOP {
				return fmt.Errorf("stream %s, instruction %d (%s): the setup code (before entry %d) may only hold wprog, refresh and nop", e, j, in.Op, s.Entry)
			}
		}
	}
	for i, sy := range p.Syms {
		if sy.Engine >= NumEngines {
			return fmt.Errorf("symbol %d (%q): engine %d", i, sy.Name, sy.Engine)
		}
		if sy.Start > sy.End || sy.End > uint32(len(p.Streams[sy.Engine].Code)) {
			return fmt.Errorf("symbol %d (%q): instructions %d..%d outside the %s stream (%d instructions)", i, sy.Name, sy.Start, sy.End, sy.Engine, len(p.Streams[sy.Engine].Code))
		}
		if len(sy.Name) > maxNameLen {
			return fmt.Errorf("symbol %d: name longer than %d bytes", i, maxNameLen)
		}
	}
	if len(p.HWName) > maxNameLen || len(p.Model) > maxNameLen {
		return fmt.Errorf("hardware or model name longer than %d bytes", maxNameLen)
	}
	return nil
}

func (p *Program) checkInst(e Engine, j int, in Inst, n, nin, nout int) error {
	info := in.Op.Info()
	if info == nil {
		return fmt.Errorf("unknown opcode")
	}
	if !info.allowedOn(e) {
		return fmt.Errorf("not a %s instruction", e)
	}
	if (in.Op == OpHALT) != (j == n-1) {
		if in.Op == OpHALT {
			return fmt.Errorf("halt before the end of the stream")
		}
		return fmt.Errorf("the last instruction must be halt")
	}
	for i := len(info.Fields); i < maxFields; i++ {
		if in.Args[i] != 0 {
			return fmt.Errorf("operand %d set on an instruction with %d operands", i, len(info.Fields))
		}
	}
	for i, f := range info.Fields {
		v := in.Args[i]
		if v>>f.Bits != 0 {
			return fmt.Errorf("%s=%d does not fit %d bits", f.Name, v, f.Bits)
		}
		switch f.Kind {
		case FEngine:
			if v >= NumEngines || Engine(v) == e {
				return fmt.Errorf("%s=%d is not another engine", f.Name, v)
			}
		case FImage:
			if v >= uint64(len(p.Images)) {
				return fmt.Errorf("%s=%d: the program has %d images", f.Name, v, len(p.Images))
			}
			if p.Images[v].Pool != e {
				return fmt.Errorf("%s=%d is a %s image", f.Name, v, p.Images[v].Pool)
			}
		case FConst:
			if v >= uint64(len(p.Consts)) {
				return fmt.Errorf("%s=%d: the program has %d constants", f.Name, v, len(p.Consts))
			}
			if k := p.Consts[v].Kind; k != info.Const {
				return fmt.Errorf("%s=%d is a %s descriptor, want %s", f.Name, v, k, info.Const)
			}
		case FIn:
			if v >= uint64(nin) {
				return fmt.Errorf("%s=%d: the program has %d inputs", f.Name, v, nin)
			}
		case FOut:
			if v >= uint64(nout) {
				return fmt.Errorf("%s=%d: the program has %d outputs", f.Name, v, nout)
			}
		}
	}
	switch in.Op {
	case OpMAXPOOL, OpAVGPOOL:
		if avg := p.Consts[in.Args[2]].Get("avg"); (avg == 1) != (in.Op == OpAVGPOOL) {
			return fmt.Errorf("descriptor %d has avg=%d", in.Args[2], avg)
		}
	case OpREQ:
		c := p.Consts[in.Args[1]]
		if w := c.Get("n") * c.Get("p"); int64(in.Args[2]+in.Args[3]) > w {
			return fmt.Errorf("windows %d..%d past the descriptor's %d", in.Args[2], in.Args[2]+in.Args[3], w)
		}
	case OpMVM:
		win := p.Consts[in.Args[2]]
		im := &p.Images[in.Args[1]]
		w := win.Get("n") * win.Get("oh") * win.Get("ow")
		if int64(in.Args[3]+in.Args[4]) > w {
			return fmt.Errorf("windows %d..%d past the descriptor's %d", in.Args[3], in.Args[3]+in.Args[4], w)
		}
		if k := win.Get("kh") * win.Get("kw") * win.Get("cg"); int64(im.R0)+int64(im.Rows) > k {
			return fmt.Errorf("image %d rows %d..%d past the layer's %d input rows", in.Args[1], im.R0, im.R0+im.Rows, k)
		}
		for _, c := range im.Chans {
			if int64(c) >= win.Get("cout") {
				return fmt.Errorf("image %d writes channel %d of a %d-channel layer", in.Args[1], c, win.Get("cout"))
			}
		}
	}
	return nil
}

func (pt *Port) validate() error {
	if pt.DType != F32 {
		return fmt.Errorf("unsupported dtype %d", pt.DType)
	}
	if len(pt.Name) > maxNameLen {
		return fmt.Errorf("name longer than %d bytes", maxNameLen)
	}
	if len(pt.Shape) > maxRank {
		return fmt.Errorf("rank %d above %d", len(pt.Shape), maxRank)
	}
	n := int64(1)
	for _, d := range pt.Shape {
		if d < 0 || d > maxDim {
			return fmt.Errorf("dimension %d outside 0..%d", d, maxDim)
		}
		if n *= d; n > maxElems {
			return fmt.Errorf("more than %d elements", int64(maxElems))
		}
	}
	if int64(pt.Addr)+n > 1<<addrBits {
		return fmt.Errorf("words %d..%d outside the %d-bit address space", pt.Addr, int64(pt.Addr)+n, addrBits)
	}
	return nil
}

func (im *Image) validate() error {
	switch im.Pool {
	case SRAM:
		if im.Planes < 1 || im.Planes > maxPlanes {
			return fmt.Errorf("sram image with %d planes (want 1..%d)", im.Planes, maxPlanes)
		}
	case EDRAM:
		if im.Planes != 2 {
			return fmt.Errorf("edram image with %d planes (want 2: + and −)", im.Planes)
		}
	default:
		return fmt.Errorf("pool %s is not a PIM pool", im.Pool)
	}
	if im.Rows < 1 || im.Rows > 1<<16 {
		return fmt.Errorf("%d rows (want 1..65536)", im.Rows)
	}
	if len(im.Chans) < 1 || len(im.Chans) > 1<<16 {
		return fmt.Errorf("%d channels (want 1..65536)", len(im.Chans))
	}
	if im.R0 > math.MaxInt32 {
		return fmt.Errorf("r0=%d", im.R0)
	}
	for _, c := range im.Chans {
		if c >= maxDim {
			return fmt.Errorf("channel %d above %d", c, maxDim)
		}
	}
	if want := int(im.Rows) * im.RowBytes(); len(im.Bits) != want {
		return fmt.Errorf("%d bytes of bits, want rows %d × %d", len(im.Bits), im.Rows, im.RowBytes())
	}
	// Unused bits at the end of each row are zero (canonical form).
	used := len(im.Chans) * int(im.Planes)
	if rem := used % 8; rem != 0 {
		rb := im.RowBytes()
		for r := 0; r < int(im.Rows); r++ {
			if im.Bits[r*rb+rb-1]>>rem != 0 {
				return fmt.Errorf("row %d: bits past channel %d are set", r, len(im.Chans)-1)
			}
		}
	}
	if im.Pool == EDRAM {
		// Two planes per channel: four channels a byte, + cells at the
		// even bits. Checked a byte at a time (validation runs on every
		// emitted program).
		rb := im.RowBytes()
		for i, b := range im.Bits {
			if both := b & (b >> 1) & 0x55; both != 0 {
				return fmt.Errorf("row %d channel %d: both + and − cells set", i/rb, i%rb*4+bits.TrailingZeros8(both)/2)
			}
		}
	}
	return nil
}
