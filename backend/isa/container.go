package isa

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Section kinds of the container.
const (
	SecMeta   = 1
	SecStream = 2
	SecConst  = 3
	SecIO     = 4
	SecSyms   = 5
	SecImage  = 6
)

var secNames = map[uint16]string{SecMeta: "meta", SecStream: "stream", SecConst: "const", SecIO: "io", SecSyms: "syms", SecImage: "image"}

const (
	headerSize = 64
	entrySize  = 24
	crcSize    = 4
	// MaxFileSize bounds what Decode accepts.
	MaxFileSize = 1 << 31
)

// ---- writer ----

type wbuf struct{ b []byte }

func (w *wbuf) u8(v uint8)   { w.b = append(w.b, v) }
func (w *wbuf) u16(v uint16) { w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *wbuf) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *wbuf) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *wbuf) str(s string) { w.b = append(w.b, s...) }
func (w *wbuf) pad8() {
	for len(w.b)%8 != 0 {
		w.b = append(w.b, 0)
	}
}

// section is one section's payload: data, then bits (an image's, not
// copied), then pad zero bytes.
type section struct {
	kind  uint16
	index uint32
	data  []byte
	bits  []byte
	pad   int
}

func (s *section) len() uint64 { return uint64(len(s.data) + len(s.bits) + s.pad) }

var zeros [8]byte

// sections lists a program's sections in canonical order.
func (p *Program) sections() []section {
	var out []section
	{
		var w wbuf
		w.u32(p.ABufWords)
		w.u32(p.PSumWords)
		w.u32(uint32(len(p.HWName)))
		w.u32(uint32(len(p.Model)))
		w.str(p.HWName)
		w.str(p.Model)
		w.pad8()
		out = append(out, section{kind: SecMeta, index: 0, data: w.b})
	}
	for e := Engine(0); e < NumEngines; e++ {
		s := &p.Streams[e]
		w := wbuf{b: make([]byte, 0, 8+InstBytes*len(s.Code))}
		w.u32(s.Entry)
		w.u32(uint32(len(s.Code)))
		for _, in := range s.Code {
			var word [InstBytes]byte
			encodeInst(word[:], e, in)
			w.b = append(w.b, word[:]...)
		}
		out = append(out, section{kind: SecStream, index: uint32(e), data: w.b})
	}
	{
		var w wbuf
		w.u32(uint32(len(p.Consts)))
		w.u32(0)
		for _, c := range p.Consts {
			w.u16(uint16(c.Kind))
			w.u16(0)
			w.u32(uint32(len(c.Vals)))
			for _, v := range c.Vals {
				w.u64(uint64(v))
			}
		}
		out = append(out, section{kind: SecConst, index: 0, data: w.b})
	}
	{
		var w wbuf
		w.u32(uint32(len(p.Ports)))
		w.u32(0)
		for _, pt := range p.Ports {
			w.u8(b2u8(pt.Out))
			w.u8(uint8(pt.DType))
			w.u8(uint8(len(pt.Shape)))
			w.u8(0)
			w.u32(pt.Addr)
			w.u32(uint32(len(pt.Name)))
			w.u32(0)
			for _, d := range pt.Shape {
				w.u64(uint64(d))
			}
			w.str(pt.Name)
			w.pad8()
		}
		out = append(out, section{kind: SecIO, index: 0, data: w.b})
	}
	{
		var w wbuf
		w.u32(uint32(len(p.Syms)))
		w.u32(0)
		for _, s := range p.Syms {
			w.u8(uint8(s.Engine))
			w.u8(0)
			w.u16(0)
			w.u32(s.Start)
			w.u32(s.End)
			w.u32(uint32(len(s.Name)))
			w.str(s.Name)
			w.pad8()
		}
		out = append(out, section{kind: SecSyms, index: 0, data: w.b})
	}
	for i := range p.Images {
		im := &p.Images[i]
		var w wbuf
		w.u8(uint8(im.Pool))
		w.u8(im.Planes)
		w.u16(0)
		w.u32(im.Rows)
		w.u32(im.R0)
		w.u32(uint32(len(im.Chans)))
		for _, c := range im.Chans {
			w.u32(c)
		}
		// The bits are not copied: Write sends them from the image.
		out = append(out, section{kind: SecImage, index: uint32(i), data: w.b, bits: im.Bits, pad: (8 - (len(w.b)+len(im.Bits))%8) % 8})
	}
	return out
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Encode writes the program in the .pimb format (docs/pimb.md). The
// program should have passed Validate; Encode itself never fails.
func Encode(p *Program) []byte {
	secs := p.sections()
	var b bytes.Buffer
	b.Grow(int(p.encodedSize(secs)))
	p.write(&b, secs) // a bytes.Buffer never fails
	return b.Bytes()
}

func (p *Program) encodedSize(secs []section) uint64 {
	size := uint64(headerSize + entrySize*len(secs))
	for _, s := range secs {
		size += s.len()
	}
	return size + crcSize
}

// Write writes Encode's bytes to w, the sections straight from their
// buffers rather than through one copy of the whole file.
func Write(w io.Writer, p *Program) error { return p.write(w, p.sections()) }

func (p *Program) write(w io.Writer, secs []section) error {
	off := uint64(headerSize + entrySize*len(secs))
	size := p.encodedSize(secs)
	h := wbuf{b: make([]byte, 0, off)}
	h.str(Magic)
	h.u32(Version)
	h.u32(0)
	h.b = append(h.b, p.Fingerprint[:]...)
	h.u32(uint32(len(secs)))
	h.u32(0)
	h.u64(size)
	for _, s := range secs {
		h.u16(s.kind)
		h.u16(0)
		h.u32(s.index)
		h.u64(off)
		h.u64(s.len())
		off += s.len()
	}
	crc := crc32.NewIEEE()
	put := func(b []byte) error {
		crc.Write(b)
		_, err := w.Write(b)
		return err
	}
	if err := put(h.b); err != nil {
		return err
	}
	for _, s := range secs {
		if err := put(s.data); err != nil {
			return err
		}
		if err := put(s.bits); err != nil {
			return err
		}
		if err := put(zeros[:s.pad]); err != nil {
			return err
		}
	}
	_, err := w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

// ---- reader ----

// ErrFormat is wrapped by every error Decode returns.
var ErrFormat = errors.New("pimb")

type rbuf struct {
	b   []byte
	off int
	err error
}

func (r *rbuf) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *rbuf) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail("truncated %s: need %d bytes at offset %d, %d left", what, n, r.off, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *rbuf) u8(what string) uint8 {
	if s := r.take(1, what); s != nil {
		return s[0]
	}
	return 0
}
func (r *rbuf) u16(what string) uint16 {
	if s := r.take(2, what); s != nil {
		return binary.LittleEndian.Uint16(s)
	}
	return 0
}
func (r *rbuf) u32(what string) uint32 {
	if s := r.take(4, what); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}
func (r *rbuf) u64(what string) uint64 {
	if s := r.take(8, what); s != nil {
		return binary.LittleEndian.Uint64(s)
	}
	return 0
}

// zero checks that a reserved field is zero.
func (r *rbuf) zero(v uint64, what string) {
	if v != 0 {
		r.fail("%s is %d, must be 0", what, v)
	}
}

// count reads an element count and checks that count elements of at least
// minSize bytes can fit in what is left.
func (r *rbuf) count(minSize int, what string) int {
	n := r.u32(what)
	if r.err == nil && uint64(n)*uint64(minSize) > uint64(len(r.b)-r.off) {
		r.fail("%s %d does not fit in the %d bytes left", what, n, len(r.b)-r.off)
		return 0
	}
	return int(n)
}

func (r *rbuf) pad8() {
	for r.err == nil && r.off%8 != 0 {
		if r.u8("padding") != 0 {
			r.fail("non-zero padding byte at offset %d", r.off-1)
		}
	}
}

func (r *rbuf) end() {
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d unread bytes at the end", len(r.b)-r.off)
	}
}

// Decode reads a .pimb file, checking the magic, version, size, CRC,
// section table (canonical order and layout) and every field, then
// Validate. Every error wraps ErrFormat and names the section, field or
// instruction at fault; Decode never panics.
func Decode(b []byte) (*Program, error) {
	p, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return p, nil
}

func decode(b []byte) (*Program, error) {
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("not a pimc program (bad magic)")
	}
	if len(b) < headerSize+crcSize {
		return nil, fmt.Errorf("truncated: %d bytes, the header alone is %d", len(b), headerSize+crcSize)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%d bytes: larger than the %d-byte limit", len(b), MaxFileSize)
	}
	h := &rbuf{b: b, off: len(Magic)}
	if v := h.u32("version"); v != Version {
		return nil, fmt.Errorf("format version %d, this pimc reads version %d", v, Version)
	}
	h.zero(uint64(h.u32("flags")), "header flags")
	p := &Program{}
	copy(p.Fingerprint[:], h.take(32, "fingerprint"))
	nsec := h.u32("section count")
	h.zero(uint64(h.u32("reserved")), "header reserved word")
	size := h.u64("file size")
	if h.err != nil {
		return nil, h.err
	}
	if size != uint64(len(b)) {
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("truncated: header says %d bytes, file has %d", size, len(b))
		}
		return nil, fmt.Errorf("header says %d bytes, file has %d (trailing data)", size, len(b))
	}
	if got, want := crc32.ChecksumIEEE(b[:len(b)-crcSize]), binary.LittleEndian.Uint32(b[len(b)-crcSize:]); got != want {
		return nil, fmt.Errorf("CRC mismatch: stored %08x, computed %08x (corrupt file)", want, got)
	}
	if uint64(nsec)*entrySize > uint64(len(b)-headerSize-crcSize) {
		return nil, fmt.Errorf("section table of %d entries does not fit in the file", nsec)
	}
	if nsec < 8 {
		return nil, fmt.Errorf("%d sections, want at least 8 (meta, 4 streams, const, io, syms)", nsec)
	}
	off := uint64(headerSize) + uint64(nsec)*entrySize
	type ent struct {
		kind  uint16
		index uint32
		data  []byte
	}
	ents := make([]ent, nsec)
	for i := range ents {
		kind := h.u16("section kind")
		h.zero(uint64(h.u16("")), fmt.Sprintf("section %d reserved field", i))
		index := h.u32("section index")
		o := h.u64("section offset")
		sz := h.u64("section size")
		if h.err != nil {
			return nil, h.err
		}
		wk, wi := canonicalSection(i)
		if kind != wk || index != wi {
			return nil, fmt.Errorf("section %d is %s %d, want %s %d (sections must be in canonical order)", i, secName(kind), index, secName(wk), wi)
		}
		if o != off {
			return nil, fmt.Errorf("section %d (%s %d) at offset %d, want %d", i, secName(kind), index, o, off)
		}
		if sz%8 != 0 || sz > uint64(len(b)-crcSize)-off {
			return nil, fmt.Errorf("section %d (%s %d): size %d is not a multiple of 8 or runs past the end of the file", i, secName(kind), index, sz)
		}
		ents[i] = ent{kind, index, b[off : off+sz]}
		off += sz
	}
	if off != uint64(len(b)-crcSize) {
		return nil, fmt.Errorf("%d bytes between the last section and the CRC", uint64(len(b)-crcSize)-off)
	}
	p.Images = make([]Image, 0, nsec-8)
	for i, e := range ents {
		r := &rbuf{b: e.data}
		var what string
		switch e.kind {
		case SecMeta:
			what = "meta"
			p.ABufWords = r.u32("abuf words")
			p.PSumWords = r.u32("psum words")
			nh, nm := r.u32("hw name length"), r.u32("model name length")
			if r.err == nil && (nh > maxNameLen || nm > maxNameLen) {
				r.fail("name longer than %d bytes", maxNameLen)
			}
			p.HWName = string(r.take(int(nh), "hw name"))
			p.Model = string(r.take(int(nm), "model name"))
			r.pad8()
		case SecStream:
			en := Engine(e.index)
			what = "stream " + en.String()
			s := &p.Streams[en]
			s.Entry = r.u32("entry")
			n := r.count(InstBytes, "instruction count")
			s.Code = make([]Inst, n)
			for j := 0; j < n && r.err == nil; j++ {
				w := r.take(InstBytes, "instruction")
				if r.err != nil {
					break
				}
				in, err := decodeInst(w, en)
				if err != nil {
					r.fail("instruction %d: %v", j, err)
					break
				}
				s.Code[j] = in
			}
		case SecConst:
			what = "const"
			n := r.count(8, "descriptor count")
			r.zero(uint64(r.u32("")), "const reserved word")
			p.Consts = make([]Const, 0, n)
			for j := 0; j < n && r.err == nil; j++ {
				kind := ConstKind(r.u16("descriptor kind"))
				r.zero(uint64(r.u16("")), "descriptor reserved field")
				nv := r.count(8, "descriptor value count")
				c := Const{Kind: kind, Vals: make([]int64, nv)}
				for k := range c.Vals {
					c.Vals[k] = int64(r.u64("descriptor value"))
				}
				if r.err == nil {
					if err := c.validate(); err != nil {
						r.fail("descriptor %d: %v", j, err)
					}
				}
				p.Consts = append(p.Consts, c)
			}
		case SecIO:
			what = "io"
			n := r.count(16, "port count")
			r.zero(uint64(r.u32("")), "io reserved word")
			for j := 0; j < n && r.err == nil; j++ {
				var pt Port
				dir := r.u8("port direction")
				if dir > 1 {
					r.fail("port %d: direction %d (want 0 input, 1 output)", j, dir)
				}
				pt.Out = dir == 1
				pt.DType = DType(r.u8("port dtype"))
				rank := int(r.u8("port rank"))
				r.zero(uint64(r.u8("")), "port reserved byte")
				pt.Addr = r.u32("port address")
				nl := r.u32("port name length")
				r.zero(uint64(r.u32("")), "port reserved word")
				if r.err == nil && (rank > maxRank || nl > maxNameLen) {
					r.fail("port %d: rank %d or name length %d too large", j, rank, nl)
				}
				pt.Shape = make([]int64, 0, rank)
				for k := 0; k < rank && r.err == nil; k++ {
					pt.Shape = append(pt.Shape, int64(r.u64("port dimension")))
				}
				pt.Name = string(r.take(int(nl), "port name"))
				r.pad8()
				p.Ports = append(p.Ports, pt)
			}
		case SecSyms:
			what = "syms"
			n := r.count(16, "symbol count")
			r.zero(uint64(r.u32("")), "syms reserved word")
			p.Syms = make([]Sym, 0, n)
			for j := 0; j < n && r.err == nil; j++ {
				var s Sym
				s.Engine = Engine(r.u8("symbol engine"))
				r.zero(uint64(r.u8("")), "symbol reserved byte")
				r.zero(uint64(r.u16("")), "symbol reserved field")
				s.Start = r.u32("symbol start")
				s.End = r.u32("symbol end")
				nl := r.u32("symbol name length")
				if r.err == nil && nl > maxNameLen {
					r.fail("symbol %d: name length %d", j, nl)
				}
				s.Name = string(r.take(int(nl), "symbol name"))
				r.pad8()
				p.Syms = append(p.Syms, s)
			}
		case SecImage:
			what = fmt.Sprintf("image %d", e.index)
			var im Image
			im.Pool = Engine(r.u8("image pool"))
			im.Planes = r.u8("image planes")
			r.zero(uint64(r.u16("")), "image reserved field")
			im.Rows = r.u32("image rows")
			im.R0 = r.u32("image r0")
			nc := r.count(4, "image channel count")
			im.Chans = make([]uint32, nc)
			for k := range im.Chans {
				im.Chans[k] = r.u32("image channel")
			}
			if r.err == nil && (im.Planes == 0 || im.Planes > maxPlanes || im.Rows > 1<<16) {
				r.fail("planes %d or rows %d out of range", im.Planes, im.Rows)
			}
			im.Bits = append([]byte(nil), r.take(int(im.Rows)*im.RowBytes(), "image bits")...)
			r.pad8()
			p.Images = append(p.Images, im)
		}
		r.end()
		if r.err != nil {
			return nil, fmt.Errorf("section %d (%s): %v", i, what, r.err)
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// canonicalSection is the kind and index of section i in canonical order:
// meta, the four streams, const, io, syms, then the images.
func canonicalSection(i int) (uint16, uint32) {
	switch {
	case i == 0:
		return SecMeta, 0
	case i <= NumEngines:
		return SecStream, uint32(i - 1)
	case i == NumEngines+1:
		return SecConst, 0
	case i == NumEngines+2:
		return SecIO, 0
	case i == NumEngines+3:
		return SecSyms, 0
	}
	return SecImage, uint32(i - NumEngines - 4)
}

func secName(k uint16) string {
	if n, ok := secNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", k)
}
