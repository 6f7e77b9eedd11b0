package isa

import (
	"bytes"
	"errors"
	"testing"
)

// TestWriteMatchesEncode checks that the streamed writers give Encode's
// and Disassemble's bytes, and that a failing writer's error comes back.
func TestWriteMatchesEncode(t *testing.T) {
	p := sample(t)
	var b bytes.Buffer
	if err := Write(&b, p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), Encode(p)) {
		t.Error("Write and Encode differ")
	}
	if _, err := Decode(b.Bytes()); err != nil {
		t.Error(err)
	}
	b.Reset()
	if err := WriteListing(&b, p); err != nil {
		t.Fatal(err)
	}
	if b.String() != Disassemble(p) {
		t.Error("WriteListing and Disassemble differ")
	}
	q, err := Assemble(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Encode(q), Encode(p)) {
		t.Error("the listing does not assemble back to the program")
	}
	if err := Write(failWriter{}, p); !errors.Is(err, errFail) {
		t.Errorf("Write to a failing writer: %v", err)
	}
	if err := WriteListing(failWriter{}, p); !errors.Is(err, errFail) {
		t.Errorf("WriteListing to a failing writer: %v", err)
	}
}

var errFail = errors.New("fail")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }
