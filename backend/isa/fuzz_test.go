package isa

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that Decode never panics and that whatever it accepts
// re-encodes to the same bytes, and disassembles and assembles back to
// them. Seeds: the sample program and the real programs in testdata/
// (written by the backend tests with -update). Each input is tried as is
// and with its CRC fixed, so that mutations reach the checks behind the CRC.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(sample(f)))
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.pimb"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<22 {
			return
		}
		try := func(b []byte) {
			p, err := Decode(b)
			if err != nil {
				return
			}
			if !bytes.Equal(Encode(p), b) {
				t.Fatal("decode → encode changed the bytes")
			}
			q, err := Assemble(Disassemble(p))
			if err != nil {
				t.Fatalf("the listing of a valid program does not assemble: %v", err)
			}
			if !bytes.Equal(Encode(q), b) {
				t.Fatal("disassemble → assemble changed the bytes")
			}
		}
		try(b)
		if len(b) >= headerSize+crcSize {
			try(refix(b))
		}
	})
}

// FuzzAssemble checks that Assemble never panics and that an accepted
// listing's program survives encode → decode.
func FuzzAssemble(f *testing.F) {
	f.Add(Disassemble(sample(f)))
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1<<20 {
			return
		}
		p, err := Assemble(s)
		if err != nil {
			return
		}
		b := Encode(p)
		q, err := Decode(b)
		if err != nil {
			t.Fatalf("an assembled program does not decode: %v", err)
		}
		if !bytes.Equal(Encode(q), b) {
			t.Fatal("re-encoding differs")
		}
	})
}
