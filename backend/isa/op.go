package isa

import "fmt"

// Engine is one of the chip's four instruction streams.
type Engine uint8

// The engines, in stream order.
const (
	DMA   Engine = 0 // off-chip transfers: program inputs in, outputs out
	SRAM  Engine = 1 // SRAM-PIM pool: INT4 (and INT8) path
	EDRAM Engine = 2 // eDRAM-PIM pool: ternary-weight / binary-input path
	PPU   Engine = 3 // digital post-processing unit
)

// NumEngines is the number of engines (and streams in a program).
const NumEngines = 4

var engineNames = [NumEngines]string{"dma", "sram", "edram", "ppu"}

func (e Engine) String() string {
	if int(e) < NumEngines {
		return engineNames[e]
	}
	return fmt.Sprintf("engine(%d)", int(e))
}

// ParseEngine is the inverse of Engine.String.
func ParseEngine(s string) (Engine, bool) {
	for i, n := range engineNames {
		if n == s {
			return Engine(i), true
		}
	}
	return 0, false
}

// IsPool reports whether e is one of the two PIM pools.
func (e Engine) IsPool() bool { return e == SRAM || e == EDRAM }

// Op is an opcode: the low 8 bits of an instruction word.
type Op uint8

// FieldKind says what an instruction field refers to, for validation.
type FieldKind uint8

const (
	FNum    FieldKind = iota // a plain count or flag
	FEngine                  // an engine number (SIGNAL, WAIT)
	FArray                   // an array of the stream's pool
	FImage                   // a weight image of the stream's pool
	FConst                   // a constant descriptor of OpInfo.Const's kind
	FABuf                    // a word address in the activation buffer
	FPSum                    // a word address in the partial-sum buffer
	FIn                      // an input port
	FOut                     // an output port
)

// Field is one operand of an instruction.
type Field struct {
	Name string
	Bits uint
	Kind FieldKind
	Doc  string
}

// OpInfo is one row of the opcode table.
type OpInfo struct {
	Name    string
	Engines []Engine // the streams the instruction may appear in
	Fields  []Field  // packed LSB first from bit 12 of the word
	Const   ConstKind
	Doc     string // semantics, for docs/isa.md
	Cycles  string // cost, for docs/isa.md
}

// Word layout: bits 0..7 opcode, 8..11 engine, 12..127 operand fields.
const (
	InstBytes     = 16
	fieldBase     = 12
	maxFieldBits  = InstBytes*8 - fieldBase
	maxFields     = 7
	addrBits      = 28
	constRefBits  = 20
	arrayBits     = 20
	imageBits     = 20
	windowBits    = 24
	portBits      = 8
	engineBits    = 4
	allEngineMask = 0
)

// The opcodes. 0 is invalid, so that zeroed memory never decodes.
const (
	OpNOP     Op = 0x01
	OpHALT    Op = 0x02
	OpSIGNAL  Op = 0x03
	OpWAIT    Op = 0x04
	OpWPROG   Op = 0x10
	OpREFRESH Op = 0x11
	OpMVM     Op = 0x12
	OpQUANT   Op = 0x20
	OpDEQ     Op = 0x21
	OpREQ     Op = 0x22
	OpADD     Op = 0x23
	OpRESCALE Op = 0x24
	OpRELU    Op = 0x25
	OpMAXPOOL Op = 0x26
	OpAVGPOOL Op = 0x27
	OpGAP     Op = 0x28
	OpCOPY    Op = 0x29
	OpPERM    Op = 0x2A
	OpSOFTMAX Op = 0x2B
	OpFOP     Op = 0x2C
	OpLOAD    Op = 0x30
	OpSTORE   Op = 0x31
)

var (
	anyEngine = []Engine{DMA, SRAM, EDRAM, PPU}
	pools     = []Engine{SRAM, EDRAM}
	ppuOnly   = []Engine{PPU}
	dmaOnly   = []Engine{DMA}
)

func dst() Field {
	return Field{"dst", addrBits, FABuf, "destination word address in the activation buffer"}
}
func src() Field {
	return Field{"src", addrBits, FABuf, "source word address in the activation buffer"}
}
func cnt() Field { return Field{"n", addrBits, FNum, "number of words"} }
func cref() Field {
	return Field{"k", constRefBits, FConst, "constant descriptor index"}
}

// opTable is the instruction set. Encoder, decoder, assembler,
// disassembler, validation and docs/isa.md all read it.
var opTable = map[Op]*OpInfo{
	OpNOP: {Name: "nop", Engines: anyEngine,
		Doc: "Does nothing.", Cycles: "1"},
	OpHALT: {Name: "halt", Engines: anyEngine,
		Doc:    "Ends the stream. Every stream's last instruction is `halt`, and no other instruction is.",
		Cycles: "0"},
	OpSIGNAL: {Name: "signal", Engines: anyEngine,
		Fields: []Field{{"to", engineBits, FEngine, "engine that receives the token"}},
		Doc: "Waits until every instruction this engine issued before it has finished (on a pool: every array is idle), " +
			"then sends one token to engine `to`. Tokens are counted per (sender, receiver) pair.",
		Cycles: "0 (the engine's time advances to the completion of its earlier work)"},
	OpWAIT: {Name: "wait", Engines: anyEngine,
		Fields: []Field{{"from", engineBits, FEngine, "engine whose token is consumed"}},
		Doc:    "Blocks until a token from engine `from` is available, consumes it, and continues no earlier than the time it was sent.",
		Cycles: "0 (plus the time spent blocked)"},
	OpWPROG: {Name: "wprog", Engines: pools,
		Fields: []Field{{"arr", arrayBits, FArray, "array of this pool"}, {"img", imageBits, FImage, "weight image of this pool"},
			{"col", arrayBits, FNum, "first array column of the image"}},
		Doc: "Programs weight image `img` into rows 0..rows−1 and columns col..col+width−1 of array `arr` (width = the image's channels × columns per channel), " +
			"replacing the images the array holds whose columns overlap these; the array keeps its other images (column packing: several layers' images share an array). " +
			"The bytes come from off-chip memory through the DMA bus. On eDRAM the array's programmed rows (as many as its tallest image has) must then be refreshed once per retention period while they are live.",
		Cycles: "starts when the array is idle; the image's bytes (rows × row_bytes) occupy the shared DMA bus for ⌈bytes / dma.bytes_per_cycle⌉ cycles; " +
			"the array is busy until max(that transfer's end, start + rows × write_cycles_per_row)"},
	OpREFRESH: {Name: "refresh", Engines: pools,
		Fields: []Field{{"arr", arrayBits, FArray, "array of this pool"}},
		Doc:    "Explicitly refreshes every programmed row of array `arr` (eDRAM): as many rows as its tallest image has, all its images at once; restarts the array's retention period. A no-op on static memory.",
		Cycles: "rows × write_cycles_per_row on the array"},
	OpMVM: {Name: "mvm", Engines: pools, Const: KWin,
		Fields: []Field{{"arr", arrayBits, FArray, "array of this pool"}, {"img", imageBits, FImage, "an image the array must hold (its columns are where the wprog placed it)"},
			{"k", constRefBits, FConst, "window descriptor (`win`)"}, {"w0", windowBits, FNum, "first window"},
			{"nw", windowBits, FNum, "number of windows"}, {"acc", 1, FNum, "0: write the partial sums, 1: add them to the partial-sum buffer"},
			{"rd", 1, FNum, "1: the window rows are read from the activation buffer; 0: they arrive by broadcast with another MVM's read of the same rows (another column tile)"}},
		Doc: "For each window w0..w0+nw−1 of descriptor `k`: loads the window's input rows r0..r0+rows−1 (the image's rows of the layer's canonical (ky, kx, c) " +
			"input vector) into the array's input buffer, applies them bit-serially (SRAM: one bit plane per cycle, two's complement; eDRAM: the binary input " +
			"[x ≥ thr]), reads every column group of ADC rows out through the ADC (saturating at 2^adc_bits − 1 unless ideal), shift-adds the read-outs into one " +
			"accumulator per image channel and writes (acc=0) or adds (acc=1) it into the partial-sum buffer at the channel's output position. " +
			"docs/isa.md gives the exact arithmetic.",
		Cycles: "nw × cycles_per_vector(xbits) on the array (input cycles × row groups × cols_per_adc); starts when the array is idle"},
	OpQUANT: {Name: "quant", Engines: ppuOnly, Const: KQuant, Fields: []Field{dst(), src(), cnt(), cref()},
		Doc:    "Quantizes n float32 words to codes: q = sat(round_half_even(float64(x) / float64(scale))); NaN gives 0.",
		Cycles: "n PPU element operations"},
	OpDEQ: {Name: "deq", Engines: ppuOnly, Const: KDeq, Fields: []Field{dst(), src(), cnt(), cref()},
		Doc:    "Dequantizes n codes to float32 words: y = float32(q) × scale, one float32 multiplication.",
		Cycles: "n PPU element operations"},
	OpREQ: {Name: "req", Engines: ppuOnly, Const: KReq,
		Fields: []Field{dst(), cref(), {"w0", windowBits, FNum, "first window (output position, batch-major)"},
			{"nw", windowBits, FNum, "number of windows"}},
		Doc: "Requantizes the accumulators of windows w0..w0+nw−1 (all output channels) to codes, per output channel c: " +
			"y = sat((acc·M + res·R + B + 2^(S−1)) >> S, lo, hi) (no rounding term when S = 0), with the descriptor's table row (M, B, S, R). " +
			"Accumulator, residual and output of channel c at window w = b·p + q are at (b·cout + c)·p + q from the descriptor's psum, res and the instruction's dst. " +
			"The PPU also adds the row tiles' partial sums of those windows (psums additions per window) as the accumulators arrive.",
		Cycles: "nw·(cout·(1 + hasres) + psums) PPU element operations"},
	OpADD: {Name: "add", Engines: ppuOnly, Const: KAdd,
		Fields: []Field{dst(), {"a", addrBits, FABuf, "first operand"}, {"b", addrBits, FABuf, "second operand"}, cref()},
		Doc:    "Residual add of two code tensors: y = sat(roundshift(a·ma + b·mb, shift), lo, hi) over the descriptor's n words.",
		Cycles: "2n PPU element operations"},
	OpRESCALE: {Name: "rescale", Engines: ppuOnly, Const: KRescale, Fields: []Field{dst(), src(), cnt(), cref()},
		Doc:    "y = sat(roundshift(x·m, shift), lo, hi) over n words.",
		Cycles: "n PPU element operations"},
	OpRELU: {Name: "relu", Engines: ppuOnly, Fields: []Field{dst(), src(), cnt(), {"bits", 7, FNum, "stored code width (buffer energy)"}},
		Doc:    "y = max(x, 0) over n words.",
		Cycles: "n PPU element operations"},
	OpMAXPOOL: {Name: "maxpool", Engines: ppuOnly, Const: KPool, Fields: []Field{dst(), src(), cref()},
		Doc:    "2-D max pooling of NCHW codes; padding never wins (a window with no input pixel gives 0).",
		Cycles: "nc·oh·ow·max(1, kh·kw − 1) PPU element operations"},
	OpAVGPOOL: {Name: "avgpool", Engines: ppuOnly, Const: KPool, Fields: []Field{dst(), src(), cref()},
		Doc:    "2-D average pooling of NCHW codes: y = sat(roundshift(Σ·mults[d−1], shift), lo, hi) with d the window's divisor.",
		Cycles: "nc·oh·ow·kh·kw PPU element operations"},
	OpGAP: {Name: "gap", Engines: ppuOnly, Const: KGap, Fields: []Field{dst(), src(), cref()},
		Doc:    "Global average pooling: per channel y = sat(roundshift(Σ x · m, shift), lo, hi).",
		Cycles: "nc·hw PPU element operations"},
	OpCOPY: {Name: "copy", Engines: ppuOnly, Const: KCopy, Fields: []Field{dst(), src(), cref()},
		Doc:    "Strided copy (concat): for r < rows, i < len: dst[r·dstride + i] = src[r·sstride + i]. Source and destination must not overlap.",
		Cycles: "rows·len PPU element operations"},
	OpPERM: {Name: "perm", Engines: ppuOnly, Const: KPerm, Fields: []Field{dst(), src(), cref()},
		Doc:    "Transpose: y = transpose(x, perm) for a dense tensor of the descriptor's shape. Source and destination must not overlap.",
		Cycles: "one PPU element operation per element"},
	OpSOFTMAX: {Name: "softmax", Engines: ppuOnly, Const: KSoftmax, Fields: []Field{dst(), src(), cref()},
		Doc: "Softmax (log=0) or LogSoftmax (log=1) of float32 words along an axis, computed in float64 exactly as pimc's FP32 interpreter does " +
			"(max, exp of differences, sum, then exp(e)/s or e − log s, rounded to float32).",
		Cycles: "3·outer·dim·inner PPU element operations"},
	OpFOP: {Name: "fop", Engines: ppuOnly, Const: KFop, Fields: []Field{dst(), src(), cref()},
		Doc: "Float operation on batch·c·inner float32 words: y = f(x) with the descriptor's float operation and parameters, computed exactly as " +
			"pimc's FP32 interpreter does (table \"Float operations\"). Elementwise operations may run in place (dst = src); otherwise source and " +
			"destination must not overlap.",
		Cycles: "batch·c·inner·e PPU element operations, e = size + 2 for LRN (the window's multiply-adds, the power, the division) and 1 otherwise"},
	OpLOAD: {Name: "load", Engines: dmaOnly,
		Fields: []Field{dst(), {"port", portBits, FIn, "program input"}, {"off", addrBits, FNum, "first word of the input"}, cnt()},
		Doc:    "Copies n 32-bit words of program input `port` (float32, row-major) starting at word `off` into the activation buffer.",
		Cycles: "⌈4n / dma.bytes_per_cycle⌉"},
	OpSTORE: {Name: "store", Engines: dmaOnly,
		Fields: []Field{src(), {"port", portBits, FOut, "program output"}, {"off", addrBits, FNum, "first word of the output"}, cnt()},
		Doc:    "Copies n 32-bit words from the activation buffer into program output `port` starting at word `off`.",
		Cycles: "⌈4n / dma.bytes_per_cycle⌉"},
}

// Info returns the opcode's table entry, or nil for an unknown opcode.
func (o Op) Info() *OpInfo { return opTable[o] }

func (o Op) String() string {
	if i := opTable[o]; i != nil {
		return i.Name
	}
	return fmt.Sprintf("op(0x%02x)", uint8(o))
}

// Ops lists every opcode in numeric order.
func Ops() []Op {
	var out []Op
	for i := 0; i < 256; i++ {
		if opTable[Op(i)] != nil {
			out = append(out, Op(i))
		}
	}
	return out
}

var opByName = map[string]Op{}

func init() {
	for op, info := range opTable {
		if len(info.Fields) > maxFields {
			panic("BUG: too many fields for " + info.Name)
		}
		var total uint
		for _, f := range info.Fields {
			total += f.Bits
			if f.Kind == FConst && info.Const == 0 {
				panic("BUG: " + info.Name + " refers to a constant of no kind")
			}
		}
		if total > maxFieldBits {
			panic(fmt.Sprintf("BUG: %s needs %d operand bits, the word has %d", info.Name, total, maxFieldBits))
		}
		opByName[info.Name] = op
	}
}

// LookupOp finds an opcode by mnemonic.
func LookupOp(name string) (Op, bool) {
	op, ok := opByName[name]
	return op, ok
}

// allowedOn reports whether the opcode may appear in engine e's stream.
func (info *OpInfo) allowedOn(e Engine) bool {
	for _, x := range info.Engines {
		if x == e {
			return true
		}
	}
	return false
}

// Field returns the index of the named field, or -1.
func (info *OpInfo) Field(name string) int {
	for i, f := range info.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}
