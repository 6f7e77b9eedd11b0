package main

import (
	"flag"
	"io"
	"reflect"
	"testing"
)

// TestParseArgsInterspersed checks flags before, between and after
// positional arguments, and that "--" ends flag parsing.
func TestParseArgsInterspersed(t *testing.T) {
	tests := []struct {
		args []string
		o    string
		v    bool
		pos  []string
	}{
		{[]string{"-o", "d", "m.onnx"}, "d", false, []string{"m.onnx"}},
		{[]string{"m.onnx", "-o", "d"}, "d", false, []string{"m.onnx"}},
		{[]string{"m.onnx", "-v", "a.pb", "-o=d", "b.pb"}, "d", true, []string{"m.onnx", "a.pb", "b.pb"}},
		{[]string{"-o", "d", "--", "-v", "m.onnx"}, "d", false, []string{"-v", "m.onnx"}},
		{[]string{"m.onnx", "--", "-o"}, "", false, []string{"m.onnx", "-o"}},
	}
	for _, tc := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o := fs.String("o", "", "")
		v := fs.Bool("v", false, "")
		pos, err := parseArgs(fs, tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if *o != tc.o || *v != tc.v || !reflect.DeepEqual(pos, tc.pos) {
			t.Errorf("%v: o=%q v=%v pos=%v, want o=%q v=%v pos=%v", tc.args, *o, *v, pos, tc.o, tc.v, tc.pos)
		}
	}
}
