package hw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// FieldError is one problem in a description: the file, the JSON field path
// (dotted, e.g. "sram_pim.rows"; empty for the whole document) and what is
// wrong.
type FieldError struct {
	File  string
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one description, in a stable order.
type Errors []*FieldError

func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	lines := make([]string, 0, len(es)+1)
	file := ""
	if len(es) > 0 && es[0].File != "" {
		file = es[0].File + ": "
	}
	lines = append(lines, fmt.Sprintf("%s%d problems in hardware description", file, len(es)))
	for _, e := range es {
		lines = append(lines, "\t"+e.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the individual *FieldError values.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// maxFileBytes bounds what Load reads; a description is a few hundred bytes.
const maxFileBytes = 1 << 20

// Load reads and validates a description file.
func Load(path string) (*Hardware, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hw: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("hw: read %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, &FieldError{File: path, Msg: fmt.Sprintf("file larger than %d bytes", maxFileBytes)}
	}
	return Parse(data, path)
}

// Parse decodes and validates a description; name is used in error messages
// (normally the file path). Unknown fields, missing fields, wrong JSON types
// and out-of-range values are all reported together as Errors.
func Parse(data []byte, name string) (*Hardware, error) {
	// First pass: generic decode, so that every missing, unknown or mistyped
	// field can be reported with its full path (encoding/json stops at the
	// first problem and names only the last path element).
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, &FieldError{File: name, Msg: syntaxMsg(data, err)}
	}
	if _, err := dec.Token(); err == nil {
		return nil, &FieldError{File: name, Msg: "unexpected data after the top-level object"}
	}
	var errs Errors
	add := func(path, msg string) { errs = append(errs, &FieldError{File: name, Field: path, Msg: msg}) }
	checkShape(doc, reflect.TypeFor[Hardware](), "", add)
	if len(errs) > 0 {
		// Still check the well-formed fields, so that one run reports every
		// problem; values whose own path (or a parent) is already reported are
		// zero after the lenient decode and would only repeat it.
		var h Hardware
		_ = json.Unmarshal(data, &h) // type errors already reported above
		h.source = name
		if verr, ok := h.Validate().(Errors); ok {
			for _, e := range verr {
				if !coveredBy(e.Field, errs) {
					errs = append(errs, e)
				}
			}
		}
		return nil, errs
	}

	// Second pass: the strict typed decode. The shape check makes failures
	// here unlikely; DisallowUnknownFields is the backstop.
	h := new(Hardware)
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(h); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &FieldError{File: name, Field: te.Field, Msg: fmt.Sprintf("cannot hold %s value", te.Value)}
		}
		return nil, &FieldError{File: name, Msg: err.Error()}
	}
	h.source = name
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// coveredBy reports whether field, or one of its parents, already has a
// problem in errs.
func coveredBy(field string, errs Errors) bool {
	for _, e := range errs {
		if e.Field == "" || field == e.Field || strings.HasPrefix(field, e.Field+".") {
			return true
		}
	}
	return false
}

// syntaxMsg turns a decode error into "line L, column C: ..." where possible.
func syntaxMsg(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset)
		return fmt.Sprintf("not valid JSON: line %d, column %d: %v", line, col, se)
	}
	if errors.Is(err, io.EOF) {
		return "not valid JSON: empty input"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "not valid JSON: unexpected end of input (truncated file?)"
	}
	return "not valid JSON: " + err.Error()
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	// The error is at the byte before Offset ("after reading Offset bytes").
	if off > 0 {
		off--
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// checkShape compares a generic JSON value with the Go type it must decode
// into. Every struct field is required; keys are visited in sorted order so
// that the report is deterministic.
func checkShape(v any, t reflect.Type, path string, add func(path, msg string)) {
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			add(path, "must be a JSON object, got "+jsonKind(v))
			return
		}
		fields := map[string]reflect.StructField{}
		var order []string
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			fields[name] = f
			order = append(order, name)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, ok := fields[k]; !ok {
				add(join(path, k), "unknown field"+suggest(k, order))
			}
		}
		for _, name := range order {
			sub, ok := obj[name]
			if !ok {
				add(join(path, name), "missing required field")
				continue
			}
			checkShape(sub, fields[name].Type, join(path, name), add)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			add(path, "must be a string, got "+jsonKind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			add(path, "must be true or false, got "+jsonKind(v))
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			add(path, "must be an integer, got "+jsonKind(v))
			return
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			add(path, fmt.Sprintf("must be an integer in 32-bit range, got %s", n))
		}
	case reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			add(path, "must be a number, got "+jsonKind(v))
			return
		}
		if f, err := strconv.ParseFloat(n.String(), 64); err != nil || math.IsInf(f, 0) {
			add(path, fmt.Sprintf("number %s out of range", n))
		}
	default:
		// Only the kinds above occur in Hardware; anything else is a bug in
		// this package, reported rather than panicking.
		add(path, "internal error: unsupported field kind "+t.Kind().String())
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// suggest names the closest known field when a key looks like a typo or a
// field with a different unit suffix.
func suggest(k string, known []string) string {
	best, bestD := "", 4
	for _, f := range known {
		if d := editDistance(k, f); d < bestD {
			best, bestD = f, d
		}
	}
	if best == "" {
		stem := strings.SplitN(k, "_", 2)[0]
		for _, f := range known {
			if strings.HasPrefix(f, stem+"_") {
				best = f
				break
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
