package isa

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Disassemble prints the program as the listing Assemble reads back (the
// format is in docs/pimb.md, "Listing"). Each instruction's comment gives
// its index in the stream and the IR node the symbol table maps it to.
func Disassemble(p *Program) string {
	var b strings.Builder
	WriteListing(&b, p) // a strings.Builder never fails
	return b.String()
}

// WriteListing writes Disassemble's listing to w, buffered, without
// holding the whole text (a ResNet-18 listing is ~12 MB). Image rows and
// instructions are formatted with append-style helpers rather than
// fmt: they are nearly all of the text.
func WriteListing(w io.Writer, p *Program) error {
	b := bufio.NewWriterSize(w, 64<<10)
	b.WriteString("; pimc program listing: `pimc dis` prints it, isa.Assemble turns it back into the identical .pimb bytes\n")
	fmt.Fprintf(b, ".pimb %d\n", Version)
	fmt.Fprintf(b, ".hw %s %s\n", strconv.Quote(p.HWName), hex.EncodeToString(p.Fingerprint[:]))
	fmt.Fprintf(b, ".model %s\n", strconv.Quote(p.Model))
	fmt.Fprintf(b, ".abuf %d\n.psum %d\n", p.ABufWords, p.PSumWords)
	for _, pt := range p.Ports {
		dir := "input"
		if pt.Out {
			dir = "output"
		}
		fmt.Fprintf(b, ".%s %s %s %s @%d\n", dir, strconv.Quote(pt.Name), pt.DType, intList(pt.Shape), pt.Addr)
	}
	for i, c := range p.Consts {
		fmt.Fprintf(b, ".const %d %s\n", i, formatConst(c))
	}
	var line []byte
	for i := range p.Images {
		im := &p.Images[i]
		chans := make([]int64, len(im.Chans))
		for j, c := range im.Chans {
			chans[j] = int64(c)
		}
		fmt.Fprintf(b, ".image %d %s planes=%d rows=%d r0=%d chans=%s\n", i, im.Pool, im.Planes, im.Rows, im.R0, intList(chans))
		rb := im.RowBytes()
		for r := 0; r < int(im.Rows); r++ {
			line = append(line[:0], "  "...)
			line = hex.AppendEncode(line, im.Bits[r*rb:(r+1)*rb])
			line = append(line, '\n')
			b.Write(line)
		}
	}
	// Symbol names per instruction, for comments.
	names := make([][]string, NumEngines)
	for e := range names {
		names[e] = make([]string, len(p.Streams[e].Code))
	}
	for _, s := range p.Syms {
		for j := s.Start; j < s.End && int(s.Engine) < NumEngines && int(j) < len(names[s.Engine]); j++ {
			if names[s.Engine][j] == "" {
				names[s.Engine][j] = s.Name
			}
		}
	}
	for e := Engine(0); e < NumEngines; e++ {
		s := &p.Streams[e]
		fmt.Fprintf(b, ".stream %s entry=%d\n", e, s.Entry)
		for j, in := range s.Code {
			if uint32(j) == s.Entry {
				b.WriteString("; ---- per-inference code ----\n")
			}
			// "    %-64s ; %d %s\n" (the name omitted when empty); fmt pads
			// to 64 runes.
			line = append(line[:0], "    "...)
			n0 := len(line)
			line = in.appendFormat(line)
			for pad := 64 - utf8.RuneCount(line[n0:]); pad > 0; pad-- {
				line = append(line, ' ')
			}
			line = append(line, " ; "...)
			line = strconv.AppendInt(line, int64(j), 10)
			if n := names[e][j]; n != "" {
				line = append(line, ' ')
				line = append(line, n...)
			}
			line = append(line, '\n')
			b.Write(line)
		}
	}
	for _, s := range p.Syms {
		fmt.Fprintf(b, ".sym %s %d %d %s\n", s.Engine, s.Start, s.End, strconv.Quote(s.Name))
	}
	return b.Flush()
}

func intList(v []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(x, 10))
	}
	b.WriteByte(']')
	return b.String()
}

func formatConst(c Const) string {
	info := kindInfo(c.Kind)
	var b strings.Builder
	b.WriteString(info.Name)
	for i, f := range info.Fields {
		fmt.Fprintf(&b, " %s=%s", f.Name, formatVal(c.Vals[i], f.Float))
	}
	if info.Tail != "" {
		fmt.Fprintf(&b, " %s=%s", info.Tail, intList(c.Tail()))
	}
	return b.String()
}

// formatVal prints a descriptor value: floats in Go's shortest decimal
// form when that reads back to the same bits, else as 0x bits.
func formatVal(v int64, float bool) string {
	if !float {
		return strconv.FormatInt(v, 10)
	}
	f := math.Float32frombits(uint32(v))
	s := strconv.FormatFloat(float64(f), 'g', -1, 32)
	if g, err := strconv.ParseFloat(s, 32); err == nil && math.Float32bits(float32(g)) == uint32(v) && !strings.ContainsAny(s, "nN") {
		return s
	}
	return fmt.Sprintf("0x%08x", uint32(v))
}

// Assemble parses a listing (Disassemble's format) into a program and
// validates it. Errors give the line number.
func Assemble(text string) (*Program, error) {
	a := &asm{p: &Program{}}
	for rest := text; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		a.line++
		if err := a.parseLine(strings.TrimSuffix(line, "\r")); err != nil {
			return nil, fmt.Errorf("line %d: %w", a.line, err)
		}
	}
	if err := a.finishImage(); err != nil {
		return nil, fmt.Errorf("line %d: %w", a.line, err)
	}
	if !a.version {
		return nil, fmt.Errorf("missing .pimb version line")
	}
	if err := a.p.Validate(); err != nil {
		return nil, err
	}
	return a.p, nil
}

type asm struct {
	p       *Program
	line    int
	version bool
	stream  int // current stream, -1 none
	image   *Image
	imgRows int
	seen    [NumEngines]bool
}

func stripComment(s string) string {
	inq := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inq {
				i++
			}
		case '"':
			inq = !inq
		case ';':
			if !inq {
				return s[:i]
			}
		}
	}
	return s
}

// tokens splits on spaces, keeping quoted strings whole.
func tokens(s string) ([]string, error) {
	var out []string
	s = strings.TrimSpace(s)
	for s != "" {
		if s[0] == '"' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("bad quoted string: %s", s)
			}
			out = append(out, q)
			s = strings.TrimSpace(s[len(q):])
			continue
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i])
		s = strings.TrimSpace(s[i:])
	}
	return out, nil
}

func (a *asm) parseLine(raw string) error {
	s := strings.TrimSpace(stripComment(raw))
	if s == "" {
		return nil
	}
	t, err := tokens(s)
	if err != nil {
		return err
	}
	if a.image != nil && !strings.HasPrefix(t[0], ".") {
		return a.imageRow(t)
	}
	if err := a.finishImage(); err != nil {
		return err
	}
	if !strings.HasPrefix(t[0], ".") {
		return a.inst(t)
	}
	if !a.version && t[0] != ".pimb" {
		return fmt.Errorf("the listing must start with .pimb")
	}
	args := t[1:]
	want := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %d arguments, got %d", t[0], n, len(args))
		}
		return nil
	}
	p := a.p
	switch t[0] {
	case ".pimb":
		if err := want(1); err != nil {
			return err
		}
		if args[0] != strconv.Itoa(Version) {
			return fmt.Errorf("listing version %s, this pimc assembles version %d", args[0], Version)
		}
		a.version = true
	case ".hw":
		if err := want(2); err != nil {
			return err
		}
		n, err := unquote(args[0])
		if err != nil {
			return err
		}
		fp, err := hex.DecodeString(args[1])
		if err != nil || len(fp) != 32 {
			return fmt.Errorf("fingerprint must be 64 hex digits")
		}
		p.HWName = n
		copy(p.Fingerprint[:], fp)
	case ".model":
		if err := want(1); err != nil {
			return err
		}
		n, err := unquote(args[0])
		if err != nil {
			return err
		}
		p.Model = n
	case ".abuf", ".psum":
		if err := want(1); err != nil {
			return err
		}
		v, err := strconv.ParseUint(args[0], 10, 32)
		if err != nil {
			return fmt.Errorf("%s: %v", t[0], err)
		}
		if t[0] == ".abuf" {
			p.ABufWords = uint32(v)
		} else {
			p.PSumWords = uint32(v)
		}
	case ".input", ".output":
		if err := want(4); err != nil {
			return err
		}
		var pt Port
		pt.Out = t[0] == ".output"
		if pt.Name, err = unquote(args[0]); err != nil {
			return err
		}
		if args[1] != "f32" {
			return fmt.Errorf("port type %q (want f32)", args[1])
		}
		pt.DType = F32
		if pt.Shape, err = parseList(args[2]); err != nil {
			return err
		}
		if !strings.HasPrefix(args[3], "@") {
			return fmt.Errorf("port address must be @N")
		}
		v, err := strconv.ParseUint(args[3][1:], 10, 32)
		if err != nil {
			return fmt.Errorf("port address: %v", err)
		}
		pt.Addr = uint32(v)
		p.Ports = append(p.Ports, pt)
	case ".const":
		if len(args) < 2 {
			return fmt.Errorf(".const needs an index and a kind")
		}
		if args[0] != strconv.Itoa(len(p.Consts)) {
			return fmt.Errorf(".const %s out of sequence (want %d)", args[0], len(p.Consts))
		}
		c, err := parseConst(args[1], args[2:])
		if err != nil {
			return err
		}
		p.Consts = append(p.Consts, c)
	case ".image":
		if err := want(6); err != nil {
			return err
		}
		if args[0] != strconv.Itoa(len(p.Images)) {
			return fmt.Errorf(".image %s out of sequence (want %d)", args[0], len(p.Images))
		}
		pool, ok := ParseEngine(args[1])
		if !ok || !pool.IsPool() {
			return fmt.Errorf("image pool %q (want sram or edram)", args[1])
		}
		kv, err := keyVals(args[2:], []string{"planes", "rows", "r0", "chans"})
		if err != nil {
			return err
		}
		im := &Image{Pool: pool}
		planes, err1 := strconv.ParseUint(kv["planes"], 10, 8)
		rows, err2 := strconv.ParseUint(kv["rows"], 10, 32)
		r0, err3 := strconv.ParseUint(kv["r0"], 10, 32)
		chans, err4 := parseList(kv["chans"])
		for _, e := range []error{err1, err2, err3, err4} {
			if e != nil {
				return fmt.Errorf(".image: %v", e)
			}
		}
		if rows > 1<<16 || planes == 0 || planes > maxPlanes {
			return fmt.Errorf(".image: rows %d or planes %d out of range", rows, planes)
		}
		im.Planes, im.Rows, im.R0 = uint8(planes), uint32(rows), uint32(r0)
		for _, c := range chans {
			if c < 0 || c > math.MaxUint32 {
				return fmt.Errorf(".image: channel %d", c)
			}
			im.Chans = append(im.Chans, uint32(c))
		}
		im.Bits = make([]byte, 0, int(im.Rows)*im.RowBytes())
		a.image, a.imgRows = im, 0
	case ".stream":
		if err := want(2); err != nil {
			return err
		}
		e, ok := ParseEngine(args[0])
		if !ok {
			return fmt.Errorf("unknown engine %q", args[0])
		}
		if a.seen[e] {
			return fmt.Errorf("stream %s given twice", e)
		}
		a.seen[e] = true
		kv, err := keyVals(args[1:], []string{"entry"})
		if err != nil {
			return err
		}
		v, err := strconv.ParseUint(kv["entry"], 10, 32)
		if err != nil {
			return fmt.Errorf("entry: %v", err)
		}
		p.Streams[e].Entry = uint32(v)
		a.stream = int(e) + 1
	case ".sym":
		if err := want(4); err != nil {
			return err
		}
		e, ok := ParseEngine(args[0])
		if !ok {
			return fmt.Errorf("unknown engine %q", args[0])
		}
		st, err1 := strconv.ParseUint(args[1], 10, 32)
		en, err2 := strconv.ParseUint(args[2], 10, 32)
		name, err3 := unquote(args[3])
		for _, e := range []error{err1, err2, err3} {
			if e != nil {
				return fmt.Errorf(".sym: %v", e)
			}
		}
		p.Syms = append(p.Syms, Sym{Engine: e, Start: uint32(st), End: uint32(en), Name: name})
	default:
		return fmt.Errorf("unknown directive %s", t[0])
	}
	return nil
}

func (a *asm) imageRow(t []string) error {
	if len(t) != 1 {
		return fmt.Errorf("image row: want one hex string")
	}
	if a.imgRows >= int(a.image.Rows) {
		return fmt.Errorf("image %d has %d rows; extra row", len(a.p.Images), a.image.Rows)
	}
	b, err := hex.DecodeString(t[0])
	if err != nil || len(b) != a.image.RowBytes() {
		return fmt.Errorf("image row: want %d bytes of hex", a.image.RowBytes())
	}
	a.image.Bits = append(a.image.Bits, b...)
	a.imgRows++
	return nil
}

func (a *asm) finishImage() error {
	if a.image == nil {
		return nil
	}
	if a.imgRows != int(a.image.Rows) {
		return fmt.Errorf("image %d: %d of %d rows given", len(a.p.Images), a.imgRows, a.image.Rows)
	}
	a.p.Images = append(a.p.Images, *a.image)
	a.image = nil
	return nil
}

func (a *asm) inst(t []string) error {
	if a.stream == 0 {
		return fmt.Errorf("instruction %q outside a .stream", t[0])
	}
	op, ok := LookupOp(t[0])
	if !ok {
		return fmt.Errorf("unknown instruction %q", t[0])
	}
	info := op.Info()
	names := make([]string, len(info.Fields))
	for i, f := range info.Fields {
		names[i] = f.Name
	}
	kv, err := keyVals(t[1:], names)
	if err != nil {
		return fmt.Errorf("%s: %w", info.Name, err)
	}
	in := Inst{Op: op}
	for i, f := range info.Fields {
		v, err := strconv.ParseUint(kv[f.Name], 10, 64)
		if err != nil || v>>f.Bits != 0 {
			return fmt.Errorf("%s: %s=%s does not fit %d bits", info.Name, f.Name, kv[f.Name], f.Bits)
		}
		in.Args[i] = v
	}
	s := &a.p.Streams[a.stream-1]
	s.Code = append(s.Code, in)
	return nil
}

// keyVals parses key=value tokens; every name must appear exactly once.
func keyVals(t []string, names []string) (map[string]string, error) {
	kv := map[string]string{}
	for _, x := range t {
		k, v, ok := strings.Cut(x, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", x)
		}
		if _, dup := kv[k]; dup {
			return nil, fmt.Errorf("%s given twice", k)
		}
		kv[k] = v
	}
	for _, n := range names {
		if _, ok := kv[n]; !ok {
			return nil, fmt.Errorf("missing %s=", n)
		}
	}
	if len(kv) != len(names) {
		var extra []string
		for k := range kv {
			found := false
			for _, n := range names {
				found = found || n == k
			}
			if !found {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		return nil, fmt.Errorf("unknown field %s", strings.Join(extra, ", "))
	}
	return kv, nil
}

func parseList(s string) ([]int64, error) {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("list %q must be [a,b,...]", s)
	}
	s = s[1 : len(s)-1]
	out := []int64{}
	if s == "" {
		return out, nil
	}
	for _, x := range strings.Split(s, ",") {
		v, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("list element %q: %v", x, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func unquote(s string) (string, error) {
	v, err := strconv.Unquote(s)
	if err != nil {
		return "", fmt.Errorf("bad string %s", s)
	}
	return v, nil
}

func parseConst(kind string, t []string) (Const, error) {
	k, ok := lookupConstKind(kind)
	if !ok {
		return Const{}, fmt.Errorf("unknown descriptor kind %q", kind)
	}
	info := kindInfo(k)
	names := make([]string, 0, len(info.Fields)+1)
	for _, f := range info.Fields {
		names = append(names, f.Name)
	}
	if info.Tail != "" {
		names = append(names, info.Tail)
	}
	kv, err := keyVals(t, names)
	if err != nil {
		return Const{}, fmt.Errorf("%s: %w", kind, err)
	}
	c := Const{Kind: k}
	for _, f := range info.Fields {
		s := kv[f.Name]
		var v int64
		switch {
		case f.Float && strings.HasPrefix(s, "0x"):
			u, err := strconv.ParseUint(s[2:], 16, 32)
			if err != nil {
				return Const{}, fmt.Errorf("%s: %s=%s: %v", kind, f.Name, s, err)
			}
			v = int64(u)
		case f.Float:
			x, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return Const{}, fmt.Errorf("%s: %s=%s: %v", kind, f.Name, s, err)
			}
			v = int64(math.Float32bits(float32(x)))
		default:
			x, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return Const{}, fmt.Errorf("%s: %s=%s: %v", kind, f.Name, s, err)
			}
			v = x
		}
		c.Vals = append(c.Vals, v)
	}
	if info.Tail != "" {
		tail, err := parseList(kv[info.Tail])
		if err != nil {
			return Const{}, fmt.Errorf("%s: %s: %w", kind, info.Tail, err)
		}
		c.Vals = append(c.Vals, tail...)
	}
	return c, nil
}
