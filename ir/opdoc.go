package ir

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteOpTable writes the op table as a Markdown table (docs/ops.md is
// generated from it, so the documentation cannot drift from the code).
func WriteOpTable(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| op | domain | inputs | outputs | attributes | form |\n|---|---|---|---|---|---|\n")
	for _, op := range Ops() {
		info := op.Info()
		dom := info.Domain
		if dom == "" {
			dom = "ai.onnx"
		}
		names := make([]string, 0, len(info.Attrs))
		for k := range info.Attrs {
			names = append(names, k)
		}
		sort.Strings(names)
		attrs := make([]string, len(names))
		for i, k := range names {
			s := info.Attrs[k]
			attrs[i] = fmt.Sprintf("%s:%s", k, s.Kind)
			if s.Required {
				attrs[i] += " (required)"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | `%s` |\n", info.Name, dom, arity(info.MinIn, info.MaxIn), arity(info.MinOut, info.MaxOut), strings.Join(attrs, ", "), info.Doc)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
