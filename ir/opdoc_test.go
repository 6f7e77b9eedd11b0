package ir

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const opsDocHeader = "# pimc IR operators\n\nGenerated from the op table in `ir/op.go` by `go test ./ir -run TestOpsDoc -update`; do not edit by hand.\nThe IR uses each ONNX operator in its newest form (see `docs/frontend.md` for how older opsets are rewritten).\n\n"

func TestOpsDoc(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(opsDocHeader)
	if err := WriteOpTable(&b); err != nil {
		t.Fatal(err)
	}
	const path = "../docs/ops.md"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, b.Bytes()) {
		t.Fatalf("docs/ops.md is out of date with the op table: run go test ./ir -run TestOpsDoc -update")
	}
}
