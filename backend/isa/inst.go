package isa

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Inst is one decoded instruction: its opcode and operand values in the
// order of the opcode's fields. The engine is the stream it belongs to.
type Inst struct {
	Op   Op
	Args [maxFields]uint64
}

// I builds an instruction from operand values in field order (missing
// trailing operands are zero). It panics on an unknown opcode or an operand
// that does not fit its field: emitting such an instruction is a compiler
// bug.
func I(op Op, args ...uint64) Inst {
	info := op.Info()
	if info == nil {
		panic(fmt.Sprintf("BUG: unknown opcode 0x%02x", uint8(op)))
	}
	if len(args) > len(info.Fields) {
		panic(fmt.Sprintf("BUG: %s takes %d operands, got %d", info.Name, len(info.Fields), len(args)))
	}
	in := Inst{Op: op}
	for i, a := range args {
		if a>>info.Fields[i].Bits != 0 {
			panic(fmt.Sprintf("BUG: %s %s=%d does not fit %d bits", info.Name, info.Fields[i].Name, a, info.Fields[i].Bits))
		}
		in.Args[i] = a
	}
	return in
}

// Arg returns the named operand (0 if the opcode has no such field).
func (in Inst) Arg(name string) uint64 {
	if info := in.Op.Info(); info != nil {
		if i := info.Field(name); i >= 0 {
			return in.Args[i]
		}
	}
	return 0
}

// encodeInst writes the 16-byte little-endian word of in on engine e.
func encodeInst(dst []byte, e Engine, in Inst) {
	info := in.Op.Info()
	var lo, hi uint64
	lo = uint64(in.Op) | uint64(e)<<8
	pos := uint(fieldBase)
	for i, f := range info.Fields {
		v := in.Args[i] & (1<<f.Bits - 1)
		lo, hi = putBits(lo, hi, pos, f.Bits, v)
		pos += f.Bits
	}
	binary.LittleEndian.PutUint64(dst, lo)
	binary.LittleEndian.PutUint64(dst[8:], hi)
}

func putBits(lo, hi uint64, pos, n uint, v uint64) (uint64, uint64) {
	if pos < 64 {
		lo |= v << pos
		if pos+n > 64 {
			hi |= v >> (64 - pos)
		}
	} else {
		hi |= v << (pos - 64)
	}
	return lo, hi
}

func getBits(lo, hi uint64, pos, n uint) uint64 {
	var v uint64
	if pos < 64 {
		v = lo >> pos
		if pos+n > 64 {
			v |= hi << (64 - pos)
		}
	} else {
		v = hi >> (pos - 64)
	}
	return v & (1<<n - 1)
}

// decodeInst decodes one word. It checks the opcode, the engine field and
// that every bit above the last field is zero; references are checked by
// the caller.
func decodeInst(b []byte, e Engine) (Inst, error) {
	lo := binary.LittleEndian.Uint64(b)
	hi := binary.LittleEndian.Uint64(b[8:])
	op := Op(lo & 0xff)
	info := op.Info()
	if info == nil {
		return Inst{}, fmt.Errorf("unknown opcode 0x%02x", uint8(op))
	}
	if got := Engine(lo >> 8 & 0xf); got != e {
		return Inst{}, fmt.Errorf("%s: engine field is %d, the instruction is in the %s stream", info.Name, got, e)
	}
	if !info.allowedOn(e) {
		return Inst{}, fmt.Errorf("%s is not a %s instruction", info.Name, e)
	}
	in := Inst{Op: op}
	pos := uint(fieldBase)
	for i, f := range info.Fields {
		in.Args[i] = getBits(lo, hi, pos, f.Bits)
		pos += f.Bits
	}
	// Reserved bits must be zero.
	var rlo, rhi uint64
	rlo, rhi = lo, hi
	if pos < 64 {
		rlo &^= 1<<pos - 1
	} else {
		rlo = 0
		rhi &^= 1<<(pos-64) - 1
	}
	if rlo != 0 || rhi != 0 {
		return Inst{}, fmt.Errorf("%s: reserved bits %d..127 are not zero", info.Name, pos)
	}
	return in, nil
}

// Format prints the instruction as the assembler reads it:
// "mnemonic field=value ...".
func (in Inst) Format() string {
	info := in.Op.Info()
	if info == nil {
		return in.Op.String()
	}
	return string(in.appendFormat(nil))
}

// appendFormat appends Format's text to dst (the listing writer formats
// every instruction of a program with it).
func (in Inst) appendFormat(dst []byte) []byte {
	info := in.Op.Info()
	if info == nil {
		return append(dst, in.Op.String()...)
	}
	dst = append(dst, info.Name...)
	for i, f := range info.Fields {
		dst = append(dst, ' ')
		dst = append(dst, f.Name...)
		dst = append(dst, '=')
		dst = strconv.AppendUint(dst, in.Args[i], 10)
	}
	return dst
}
