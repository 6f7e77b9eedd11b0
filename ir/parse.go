package ir

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Parse reads the text form that Print writes and returns the module.
// name is used in error messages ("name:line:col: ...").
//
// The grammar, one declaration per line (blank lines and lines starting
// with '#' are ignored):
//
//	module "name" [producer "p"] {opset DOMAIN=N} [level LEVEL]
//	input %x: f32[N=1,3,8,8]
//	const %w: f32[2,3] = LITERAL
//	%y[, %z] = Op(%x, %w, _) [{attr=value, ...}] : f32[1,2,8,8][, ...] @"node" [[engine precision]]
//	output %y: f32[1,2,8,8]
//
// Values must be defined before they are used (the graph is kept in
// topological order). Attribute values are read according to the op
// table's declared kind, since Print writes a float 1.0 as "1".
//
// Constant literals (LITERAL, and the data of a tensor attribute
// tensor<TYPE LITERAL>) are one of:
//
//	[e0,e1,...]        every element in row-major order; any length, as long
//	                   as it matches the type (Print writes this form for up
//	                   to 8 elements)
//	splat<v>           every element equal to v
//	iota<start,step>   element i is start + i*step (computed in float64 and
//	                   rounded to the element type), for test weights that
//	                   must differ from one another
//
// Print writes constants of more than 8 elements as
// dense<N elems crc32=XXXXXXXX>, which keeps only a checksum; Parse rejects
// that form with a "constant data elided" error. splat and iota exist so
// that hand-written tests can still have large constants.
//
// After reading each node Parse runs shape inference (InferNode) and
// checks that the recorded output types agree with it, keeping the
// recorded symbolic dimension names. One exception: when inference fails
// only because a shape-like operand (Reshape's shape, Slice's starts, ...)
// is not a constant yet, the recorded types are trusted, so that text IR
// can hold imported graphs before fold-constants has run.
//
// Symbolic dimensions of the graph inputs (N=1) are recorded in
// Module.Bindings. Parse does not run Verify; callers that need a valid
// module call it. For every module m that Print writes without elided
// constants, Print(Parse(Print(m))) == Print(m).
func Parse(name string, src []byte) (*Module, error) {
	p := &parser{file: name, defs: map[string]def{}}
	if err := p.parse(string(src)); err != nil {
		return nil, err
	}
	return p.m, nil
}

// maxLiteralElems caps the element count of a splat or iota literal so
// that a short malicious (or fuzzed) line cannot allocate gigabytes.
const maxLiteralElems = 1 << 22

type def struct {
	v    *Value
	line int
}

type parser struct {
	file string
	m    *Module
	defs map[string]def

	// Current line and cursor.
	lineNo int
	line   string
	pos    int
}

// ParseError is a syntax or type error at a position in the text.
type ParseError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// errAt returns an error at byte offset pos of the current line.
func (p *parser) errAt(pos int, format string, args ...any) error {
	return &ParseError{File: p.file, Line: p.lineNo, Col: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) errf(format string, args ...any) error {
	return p.errAt(p.pos, format, args...)
}

func (p *parser) parse(src string) error {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		p.lineNo, p.line, p.pos = i+1, strings.TrimSuffix(l, "\r"), 0
		p.skipSpace()
		if p.eol() || p.peek() == '#' {
			continue
		}
		var err error
		switch {
		case p.m == nil:
			err = p.header()
		case p.keyword("module"):
			err = p.errAt(0, "second module header")
		case p.keyword("input"):
			err = p.input()
		case p.keyword("const"):
			err = p.constDecl()
		case p.keyword("output"):
			err = p.output()
		case p.peek() == '%' || p.peek() == '_':
			err = p.node()
		default:
			err = p.errf("expected input, const, output or a node")
		}
		if err != nil {
			return err
		}
		if err := p.end(); err != nil {
			return err
		}
	}
	if p.m == nil {
		p.lineNo, p.line, p.pos = len(lines), "", 0
		return p.errf("missing module header")
	}
	return nil
}

// ---- lexical helpers ----

func (p *parser) eol() bool { return p.pos >= len(p.line) }

func (p *parser) peek() byte {
	if p.eol() {
		return 0
	}
	return p.line[p.pos]
}

func (p *parser) skipSpace() {
	for !p.eol() && (p.line[p.pos] == ' ' || p.line[p.pos] == '\t') {
		p.pos++
	}
}

// keyword consumes word if it is next and followed by a space or the end.
func (p *parser) keyword(word string) bool {
	rest := p.line[p.pos:]
	if !strings.HasPrefix(rest, word) {
		return false
	}
	if len(rest) > len(word) && rest[len(word)] != ' ' && rest[len(word)] != '\t' {
		return false
	}
	p.pos += len(word)
	p.skipSpace()
	return true
}

// expect consumes c (after optional spaces) or fails.
func (p *parser) expect(c byte) error {
	p.skipSpace()
	if p.peek() != c {
		return p.errf("expected %q, found %s", c, p.found())
	}
	p.pos++
	p.skipSpace()
	return nil
}

// accept consumes c if it is next (after optional spaces).
func (p *parser) accept(c byte) bool {
	p.skipSpace()
	if p.peek() == c {
		p.pos++
		p.skipSpace()
		return true
	}
	return false
}

func (p *parser) found() string {
	if p.eol() {
		return "end of line"
	}
	r := p.line[p.pos:]
	if len(r) > 12 {
		r = r[:12] + "..."
	}
	return strconv.Quote(r)
}

func (p *parser) end() error {
	p.skipSpace()
	if !p.eol() {
		return p.errf("unexpected %s at end of line", p.found())
	}
	return nil
}

// word scans a run of bytes accepted by ok.
func (p *parser) word(ok func(byte) bool) string {
	start := p.pos
	for !p.eol() && ok(p.line[p.pos]) {
		p.pos++
	}
	return p.line[start:p.pos]
}

func isIdent(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isPlain matches the characters ValueRef prints without quotes.
func isPlain(c byte) bool { return isIdent(c) || c == '/' || c == ':' }

// isNumber matches the characters of an integer or float literal,
// including NaN, +Inf and exponents.
func isNumber(c byte) bool {
	return c == '+' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (p *parser) quoted() (string, error) {
	p.skipSpace()
	if p.peek() != '"' {
		return "", p.errf("expected a quoted string, found %s", p.found())
	}
	q, err := strconv.QuotedPrefix(p.line[p.pos:])
	if err != nil {
		return "", p.errf("bad quoted string")
	}
	s, err := strconv.Unquote(q)
	if err != nil {
		return "", p.errf("bad quoted string: %v", err)
	}
	p.pos += len(q)
	return s, nil
}

// ref scans a value reference: %name, %"quoted name", or "_" for an
// omitted value (only where allowNil). In a declaration ("input %x: T")
// Print writes the name immediately followed by ':', which is also a
// plain-name character, so decl strips one trailing ':' when no separate
// ':' follows.
func (p *parser) ref(allowNil, decl bool) (name string, isNil bool, err error) {
	p.skipSpace()
	start := p.pos
	if p.peek() == '_' && (p.pos+1 >= len(p.line) || !isPlain(p.line[p.pos+1])) {
		if !allowNil {
			return "", false, p.errf("an omitted value (_) is not allowed here")
		}
		p.pos++
		return "", true, nil
	}
	if p.peek() != '%' {
		return "", false, p.errf("expected a value reference (%%name), found %s", p.found())
	}
	p.pos++
	if p.peek() == '"' {
		s, err := p.quoted()
		return s, false, err
	}
	s := p.word(isPlain)
	if decl && strings.HasSuffix(s, ":") {
		save := p.pos
		p.skipSpace()
		next := p.peek()
		p.pos = save
		if next != ':' {
			s = s[:len(s)-1]
			p.pos--
		}
	}
	if s == "" {
		return "", false, p.errAt(start, "empty value name")
	}
	return s, false, nil
}

// ---- declarations ----

func (p *parser) header() error {
	if !p.keyword("module") {
		return p.errf("expected the module header (module \"name\" ...)")
	}
	name, err := p.quoted()
	if err != nil {
		return err
	}
	p.m = NewModule(name)
	levelSet := false
	for {
		p.skipSpace()
		if p.eol() {
			return nil
		}
		at := p.pos
		switch {
		case p.keyword("producer"):
			if p.m.Producer, err = p.quoted(); err != nil {
				return err
			}
		case p.keyword("opset"):
			dom := p.word(func(c byte) bool { return c != '=' && c != ' ' && c != '\t' })
			if dom == "" {
				return p.errf("expected an opset domain")
			}
			if err := p.expect('='); err != nil {
				return err
			}
			vat := p.pos
			v, err := strconv.ParseInt(p.word(isNumber), 10, 64)
			if err != nil {
				return p.errAt(vat, "bad opset version")
			}
			if dom == "ai.onnx" {
				dom = ""
			}
			if _, dup := p.m.Opsets[dom]; dup {
				return p.errAt(at, "opset for domain %q given twice", dom)
			}
			p.m.Opsets[dom] = v
		case p.keyword("level"):
			w := p.word(isIdent)
			lv, ok := parseLevel(w)
			if !ok || levelSet {
				return p.errAt(at, "bad or repeated level %q", w)
			}
			p.m.Level, levelSet = lv, true
		default:
			return p.errf("unexpected %s in module header", p.found())
		}
	}
}

func parseLevel(s string) (Level, bool) {
	for l := LevelImported; l <= LevelMapped; l++ {
		if l.String() == s {
			return l, true
		}
	}
	return 0, false
}

// define registers a new value name.
func (p *parser) define(v *Value, at int) error {
	if d, dup := p.defs[v.Name]; dup {
		return p.errAt(at, "value %s already defined on line %d", ValueRef(v), d.line)
	}
	p.defs[v.Name] = def{v, p.lineNo}
	return nil
}

func (p *parser) lookup(name string, at int) (*Value, error) {
	d, ok := p.defs[name]
	if !ok {
		return nil, p.errAt(at, "undefined value %s (values must be defined before use)", ValueRef(&Value{Name: name}))
	}
	return d.v, nil
}

func (p *parser) input() error {
	at := p.pos
	name, _, err := p.ref(false, true)
	if err != nil {
		return err
	}
	if err := p.expect(':'); err != nil {
		return err
	}
	t, err := p.typ()
	if err != nil {
		return err
	}
	v := &Value{Name: name, Type: t}
	if err := p.define(v, at); err != nil {
		return err
	}
	for i, sym := range t.Dims {
		if sym == "" {
			continue
		}
		if b, ok := p.m.Bindings[sym]; ok && b != t.Shape[i] {
			return p.errAt(at, "dimension %s bound to %d here but %d earlier", sym, t.Shape[i], b)
		}
		p.m.Bindings[sym] = t.Shape[i]
	}
	p.m.Graph.Inputs = append(p.m.Graph.Inputs, v)
	return nil
}

func (p *parser) constDecl() error {
	at := p.pos
	name, _, err := p.ref(false, true)
	if err != nil {
		return err
	}
	if err := p.expect(':'); err != nil {
		return err
	}
	t, err := p.typ()
	if err != nil {
		return err
	}
	if err := p.expect('='); err != nil {
		return err
	}
	data, err := p.literal(t)
	if err != nil {
		return err
	}
	v := &Value{Name: name, Type: t, Const: data}
	if err := p.define(v, at); err != nil {
		return err
	}
	p.m.Graph.Consts = append(p.m.Graph.Consts, v)
	return nil
}

func (p *parser) output() error {
	at := p.pos
	name, _, err := p.ref(false, true)
	if err != nil {
		return err
	}
	v, err := p.lookup(name, at)
	if err != nil {
		return err
	}
	if err := p.expect(':'); err != nil {
		return err
	}
	tat := p.pos
	t, err := p.typ()
	if err != nil {
		return err
	}
	if !t.Equal(v.Type) || t.String() != v.Type.String() {
		return p.errAt(tat, "output %s declared as %s but the value is %s", ValueRef(v), t, v.Type)
	}
	p.m.Graph.Outputs = append(p.m.Graph.Outputs, v)
	return nil
}

// typ parses DTYPE[d,...] where each d is INT or SYMBOL=INT.
func (p *parser) typ() (Type, error) {
	p.skipSpace()
	at := p.pos
	dn := p.word(func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' })
	dt, ok := ParseDType(dn)
	if !ok || dt == Undefined {
		return Type{}, p.errAt(at, "unknown element type %q", dn)
	}
	if p.peek() != '[' {
		return Type{}, p.errf("expected '[' after element type %s", dn)
	}
	p.pos++
	t := Type{DType: dt, Shape: []int64{}}
	var dims []string
	for i := 0; p.peek() != ']'; i++ {
		if i > 0 {
			if p.peek() != ',' {
				return Type{}, p.errf("expected ',' or ']' in shape, found %s", p.found())
			}
			p.pos++
		}
		dat := p.pos
		tok := p.word(func(c byte) bool { return c != ',' && c != ']' && c != '=' && c != ' ' && c != '\t' })
		sym := ""
		if p.peek() == '=' {
			if tok == "" {
				return Type{}, p.errAt(dat, "empty dimension name")
			}
			p.pos++
			sym = tok
			dat = p.pos
			tok = p.word(func(c byte) bool { return c >= '0' && c <= '9' })
		}
		d, err := strconv.ParseInt(tok, 10, 64)
		if err != nil || d < 0 || tok[0] == '+' || tok[0] == '-' {
			return Type{}, p.errAt(dat, "bad dimension %q", tok)
		}
		t.Shape = append(t.Shape, d)
		if sym != "" && dims == nil {
			dims = make([]string, i, i+1)
		}
		if dims != nil {
			dims = append(dims, sym)
		}
		if p.eol() {
			return Type{}, p.errf("unterminated shape")
		}
	}
	p.pos++
	t.Dims = dims
	return t, nil
}

// literal parses constant data for a value of type t.
func (p *parser) literal(t Type) (*Tensor, error) {
	p.skipSpace()
	at := p.pos
	if !t.DType.IsFloat() && !t.DType.IsInt() {
		return nil, p.errAt(at, "constants of type %s are not supported", t.DType)
	}
	n, ok := checkedElems(t.Shape)
	switch {
	case strings.HasPrefix(p.line[p.pos:], "dense"):
		return nil, p.errAt(at, "constant data elided (dense<...> keeps only a checksum); write the elements as [..], splat<v> or iota<start,step>")
	case strings.HasPrefix(p.line[p.pos:], "splat<"), strings.HasPrefix(p.line[p.pos:], "iota<"):
		iota := p.line[p.pos] == 'i'
		p.pos = strings.IndexByte(p.line[p.pos:], '<') + p.pos + 1
		if !ok || n > maxLiteralElems {
			return nil, p.errAt(at, "%s has too many elements for a literal (limit %d)", t, maxLiteralElems)
		}
		start, err := p.element(t.DType)
		if err != nil {
			return nil, err
		}
		step := 0.0
		if iota {
			if err := p.expect(','); err != nil {
				return nil, err
			}
			if step, err = p.element(t.DType); err != nil {
				return nil, err
			}
		}
		if err := p.expect('>'); err != nil {
			return nil, err
		}
		c := NewTensor(t.DType, t.Shape...)
		for i := int64(0); i < n; i++ {
			v := start + float64(i)*step
			if c.DType.IsFloat() {
				c.F[i] = float32(v)
				continue
			}
			iv, err := intElem(t.DType, v)
			if err != nil {
				return nil, p.errAt(at, "element %d: %v", i, err)
			}
			c.I[i] = iv
		}
		return c, nil
	case p.peek() == '[':
		p.pos++
		c := &Tensor{DType: t.DType, Shape: append([]int64{}, t.Shape...)}
		if c.DType.IsFloat() {
			c.F = []float32{}
		} else {
			c.I = []int64{}
		}
		for i := 0; !p.accept(']'); i++ {
			if i > 0 {
				if err := p.expect(','); err != nil {
					return nil, err
				}
			}
			p.skipSpace()
			if p.eol() {
				return nil, p.errf("unterminated constant")
			}
			eat := p.pos
			if c.DType.IsFloat() {
				f, err := p.element(t.DType)
				if err != nil {
					return nil, err
				}
				c.F = append(c.F, float32(f))
			} else {
				tok := p.word(isNumber)
				v, err := strconv.ParseInt(tok, 10, 64)
				if err != nil {
					return nil, p.errAt(eat, "bad %s element %q", t.DType, tok)
				}
				if lo, hi := t.DType.Range(); v < lo || v > hi {
					return nil, p.errAt(eat, "element %d out of range for %s", v, t.DType)
				}
				c.I = append(c.I, v)
			}
		}
		if got := int64(len(c.F) + len(c.I)); !ok || got != n {
			return nil, p.errAt(at, "constant has %d elements, type %s needs %d", got, t, n)
		}
		return c, nil
	}
	return nil, p.errf("expected a constant ([...], splat<v> or iota<start,step>), found %s", p.found())
}

// element parses one number for a literal of dtype dt; integers must be
// written as integers.
func (p *parser) element(dt DType) (float64, error) {
	p.skipSpace()
	at := p.pos
	tok := p.word(isNumber)
	if dt.IsFloat() {
		f, err := strconv.ParseFloat(tok, 32)
		if err != nil {
			return 0, p.errAt(at, "bad %s element %q", dt, tok)
		}
		return f, nil
	}
	v, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		return 0, p.errAt(at, "bad %s element %q", dt, tok)
	}
	return float64(v), nil
}

func intElem(dt DType, v float64) (int64, error) {
	lo, hi := dt.Range()
	if math.IsNaN(v) || v < float64(lo) || v > float64(hi) {
		return 0, fmt.Errorf("%v out of range for %s", v, dt)
	}
	return int64(v), nil
}

// checkedElems is NumElems with overflow detection.
func checkedElems(shape []int64) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d != 0 && n > math.MaxInt64/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// ---- nodes ----

func (p *parser) node() error {
	n := &Node{}
	var outAt []int
	for {
		at := p.pos
		name, isNil, err := p.ref(true, false)
		if err != nil {
			return err
		}
		var v *Value
		if isNil && len(n.Outputs) < 1 {
			// Every op's first output is required; the verifier and
			// passes assume it exists.
			return p.errAt(at, "the first output cannot be omitted")
		}
		if !isNil {
			v = &Value{Name: name, Def: n}
		}
		n.Outputs = append(n.Outputs, v)
		outAt = append(outAt, at)
		if !p.accept(',') {
			break
		}
	}
	if err := p.expect('='); err != nil {
		return err
	}
	opAt := p.pos
	opName := p.word(isIdent)
	op, ok := LookupOp("", opName)
	if !ok {
		op, ok = LookupOp("pimc", opName)
	}
	if !ok {
		return p.errAt(opAt, "unknown operator %q", opName)
	}
	n.Op = op
	info := op.Info()
	if err := p.expect('('); err != nil {
		return err
	}
	for i := 0; !p.accept(')'); i++ {
		if i > 0 {
			if err := p.expect(','); err != nil {
				return err
			}
		}
		at := p.pos
		name, isNil, err := p.ref(true, false)
		if err != nil {
			return err
		}
		if isNil {
			// Shape inference reads required and variadic inputs
			// without nil checks; ONNX only lets optional inputs be
			// omitted.
			if i < info.MinIn || info.MaxIn < 0 {
				return p.errAt(at, "input %d of %s cannot be omitted", i, op)
			}
			n.Inputs = append(n.Inputs, nil)
			continue
		}
		v, err := p.lookup(name, at)
		if err != nil {
			return err
		}
		n.Inputs = append(n.Inputs, v)
	}
	if len(n.Inputs) < info.MinIn || info.MaxIn >= 0 && len(n.Inputs) > info.MaxIn {
		return p.errAt(opAt, "%s takes %s inputs, got %d", op, arity(info.MinIn, info.MaxIn), len(n.Inputs))
	}
	if len(n.Outputs) < info.MinOut || info.MaxOut >= 0 && len(n.Outputs) > info.MaxOut {
		return p.errAt(opAt, "%s gives %s outputs, got %d", op, arity(info.MinOut, info.MaxOut), len(n.Outputs))
	}
	if p.accept('{') {
		if err := p.attrs(n); err != nil {
			return err
		}
	}
	var missing []string
	for name, spec := range info.Attrs {
		if spec.Required && !n.Has(name) {
			missing = append(missing, strconv.Quote(name))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return p.errAt(opAt, "%s requires attribute %s", op, strings.Join(missing, ", "))
	}
	if err := p.expect(':'); err != nil {
		return err
	}
	var types []Type
	var typeAt []int
	for p.peek() != '@' && !p.eol() {
		if len(types) > 0 {
			if err := p.expect(','); err != nil {
				return err
			}
		}
		typeAt = append(typeAt, p.pos)
		t, err := p.typ()
		if err != nil {
			return err
		}
		types = append(types, t)
		p.skipSpace()
	}
	if err := p.expect('@'); err != nil {
		return err
	}
	var err error
	if n.Name, err = p.quoted(); err != nil {
		return err
	}
	p.skipSpace()
	if p.peek() == '[' {
		p.pos++
		// Print writes "[engine precision]" with either part possibly
		// empty, so split at the first space only.
		i := strings.IndexByte(p.line[p.pos:], ']')
		if i < 0 {
			return p.errf("unterminated [engine precision]")
		}
		body := p.line[p.pos : p.pos+i]
		eng, prec, ok := strings.Cut(body, " ")
		if !ok || strings.ContainsAny(prec, " \t") || eng == "" && prec == "" {
			return p.errf("expected [engine precision], found %q", body)
		}
		n.Engine, n.Precision = eng, prec
		p.pos += i + 1
	}
	j := 0
	for i, o := range n.Outputs {
		if o == nil {
			continue
		}
		if j >= len(types) {
			return p.errAt(outAt[i], "no type recorded for output %s", ValueRef(o))
		}
		o.Type = types[j]
		j++
		if err := p.define(o, outAt[i]); err != nil {
			return err
		}
	}
	if j < len(types) {
		return p.errAt(typeAt[j], "%d types for %d outputs", len(types), j)
	}
	return p.check(n, opAt, typeAt)
}

// check runs shape inference on n and compares it with the recorded
// output types, keeping the recorded ones (with their symbol names).
func (p *parser) check(n *Node, opAt int, typeAt []int) error {
	recorded := make([]Type, len(n.Outputs))
	for i, o := range n.Outputs {
		if o != nil {
			recorded[i] = o.Type
		}
	}
	err := InferNode(n)
	j := 0
	for i, o := range n.Outputs {
		if o == nil {
			continue
		}
		inferred := o.Type
		o.Type = recorded[i]
		if err == nil && !inferred.Equal(recorded[i]) {
			return p.errAt(typeAt[j], "%s: output %s recorded as %s, inference gives %s", n.Where(), ValueRef(o), recorded[i], inferred)
		}
		j++
	}
	if err != nil && !awaitsConstant(n, err) {
		return p.errAt(opAt, "%v", err)
	}
	p.m.Graph.Nodes = append(p.m.Graph.Nodes, n)
	return nil
}

// awaitsConstant reports whether inference failed only because an
// operand that shape inference needs as a constant is not one yet (the
// Reshape of a Shape→Gather→Concat chain before fold-constants). ir has
// no sentinel error for this, so match the message constInts writes; the
// non-constant input must really be there, so no other error slips by.
func awaitsConstant(n *Node, err error) bool {
	if !strings.Contains(err.Error(), "must be a constant") {
		return false
	}
	for _, in := range n.Inputs[min(1, len(n.Inputs)):] {
		if in != nil && in.Const == nil {
			return true
		}
	}
	return n.Op == OpConstantOfShape && n.In(0) != nil && n.In(0).Const == nil
}

// attrs parses "name=value, ...}" using the op table for value kinds.
func (p *parser) attrs(n *Node) error {
	info := n.Op.Info()
	n.Attrs = Attrs{}
	for i := 0; !p.accept('}'); i++ {
		if i > 0 {
			if err := p.expect(','); err != nil {
				return err
			}
		}
		at := p.pos
		name := p.word(func(c byte) bool { return c != '=' && c != ',' && c != '}' && c != ' ' && c != '\t' })
		if p.eol() {
			return p.errf("unterminated attributes")
		}
		spec, ok := info.Attrs[name]
		if !ok {
			return p.errAt(at, "%s has no attribute %q", n.Op, name)
		}
		if n.Has(name) {
			return p.errAt(at, "attribute %q given twice", name)
		}
		if err := p.expect('='); err != nil {
			return err
		}
		a, err := p.attr(spec.Kind)
		if err != nil {
			return err
		}
		n.Attrs[name] = a
	}
	return nil
}

func (p *parser) attr(kind AttrKind) (*Attr, error) {
	p.skipSpace()
	a := &Attr{Kind: kind}
	switch kind {
	case AttrInt:
		at := p.pos
		tok := p.word(isNumber)
		v, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			return nil, p.errAt(at, "bad int attribute %q", tok)
		}
		a.Int = v
	case AttrFloat:
		f, err := p.element(Float32)
		if err != nil {
			return nil, err
		}
		a.Float = float32(f)
	case AttrString:
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		a.Str = s
	case AttrInts, AttrFloats, AttrStrings:
		if err := p.expect('['); err != nil {
			return nil, err
		}
		a.Ints, a.Floats, a.Strings = nil, nil, nil
		switch kind {
		case AttrInts:
			a.Ints = []int64{}
		case AttrFloats:
			a.Floats = []float32{}
		default:
			a.Strings = []string{}
		}
		for i := 0; !p.accept(']'); i++ {
			if i > 0 {
				if err := p.expect(','); err != nil {
					return nil, err
				}
			}
			if p.eol() {
				return nil, p.errf("unterminated list")
			}
			switch kind {
			case AttrInts:
				at := p.pos
				tok := p.word(isNumber)
				v, err := strconv.ParseInt(tok, 10, 64)
				if err != nil {
					return nil, p.errAt(at, "bad int %q", tok)
				}
				a.Ints = append(a.Ints, v)
			case AttrFloats:
				f, err := p.element(Float32)
				if err != nil {
					return nil, err
				}
				a.Floats = append(a.Floats, float32(f))
			default:
				s, err := p.quoted()
				if err != nil {
					return nil, err
				}
				a.Strings = append(a.Strings, s)
			}
		}
	case AttrTensor:
		if !strings.HasPrefix(p.line[p.pos:], "tensor<") {
			return nil, p.errf("expected tensor<TYPE DATA>, found %s", p.found())
		}
		p.pos += len("tensor<")
		t, err := p.typ()
		if err != nil {
			return nil, err
		}
		data, err := p.literal(t)
		if err != nil {
			return nil, err
		}
		if err := p.expect('>'); err != nil {
			return nil, err
		}
		a.Tensor = data
	default:
		return nil, p.errf("attributes of kind %s cannot be parsed", kind)
	}
	return a, nil
}
