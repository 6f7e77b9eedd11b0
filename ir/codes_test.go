package ir

import (
	"math"
	"strings"
	"testing"
)

func TestCodesWithin(t *testing.T) {
	for _, m := range []int64{1, 7} {
		for _, bad := range []int64{-m - 1, m + 1, math.MinInt64, math.MaxInt64, math.MinInt64 + m, math.MaxInt64 - m} {
			for n := 1; n <= 9; n++ {
				for at := 0; at < n; at++ {
					v := make([]int64, n)
					for i := range v {
						v[i] = int64(i)%(2*m+1) - m
					}
					if x, ok := codesWithin(v, m); !ok {
						t.Fatalf("m=%d %v: reported %d", m, v, x)
					}
					v[at] = bad
					if x, ok := codesWithin(v, m); ok || x != bad {
						t.Fatalf("m=%d %v: got %d %v, want %d", m, v, x, ok, bad)
					}
				}
			}
		}
	}
}

func TestCodes8Within(t *testing.T) {
	for _, m := range []int8{0, 1, 7, 63, 64, 127} {
		var bads []int8
		if m < 127 {
			bads = []int8{-m - 1, m + 1, math.MinInt8, math.MaxInt8}
		} else {
			bads = []int8{math.MinInt8}
		}
		for _, bad := range bads {
			for n := 1; n <= 27; n++ {
				for at := 0; at < n; at++ {
					v := make([]int8, n)
					for i := range v {
						v[i] = int8(int64(i)%(2*int64(m)+1) - int64(m))
					}
					if x, ok := codes8Within(v, m); !ok {
						t.Fatalf("m=%d %v: reported %d", m, v, x)
					}
					v[at] = bad
					if x, ok := codes8Within(v, m); ok || x != int64(bad) {
						t.Fatalf("m=%d %v: got %d %v, want %d", m, v, x, ok, bad)
					}
				}
			}
		}
	}
}

func TestTensorStorage(t *testing.T) {
	a := NewInt8Tensor(2, 3)
	copy(a.I8, []int8{-7, 0, 7, 1, -1, 3})
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	b := IntTensor(Int8, []int64{-7, 0, 7, 1, -1, 3}, 2, 3)
	if TensorSummary(a) != TensorSummary(b) {
		t.Fatalf("summaries differ: %s vs %s", TensorSummary(a), TensorSummary(b))
	}
	big8, big64 := NewInt8Tensor(100), NewTensor(Int8, 100)
	for i := range big8.I8 {
		big8.I8[i] = int8(i*37 - 50)
		big64.I[i] = int64(int8(i*37 - 50))
	}
	if TensorSummary(big8) != TensorSummary(big64) {
		t.Fatalf("summaries differ: %s vs %s", TensorSummary(big8), TensorSummary(big64))
	}
	if got := big8.Ints(); len(got) != 100 || got[3] != big64.I[3] || big8.Int(5) != big64.I[5] || big8.Float(7) != float64(big64.I[7]) {
		t.Fatalf("accessors disagree")
	}
	if got := big64.Int8s(); got[9] != big8.I8[9] {
		t.Fatalf("Int8s of I storage: %d, want %d", got[9], big8.I8[9])
	}
	c := big8.Clone()
	c.I8[0]++
	if c.I8[0] == big8.I8[0] {
		t.Fatal("Clone shares I8")
	}
	for _, bad := range []*Tensor{
		{DType: Int16, Shape: []int64{2}, I8: []int8{1, 2}},
		{DType: Int8, Shape: []int64{3}, I8: []int8{1, 2}},
		{DType: Int8, Shape: []int64{2}, I8: []int8{1, 2}, I: []int64{1, 2}},
		{DType: Float32, Shape: []int64{2}, F: []float32{1, 2}, I8: []int8{1, 2}},
	} {
		if bad.Check() == nil {
			t.Errorf("Check accepted %+v", bad)
		}
	}
}

// TestVerifyDualCodes: the verifier rejects a weight code outside its
// path's range (stored either way), naming the node; type inference leaves
// code contents to it.
func TestVerifyDualCodes(t *testing.T) {
	const src = `module "codes" level quantized
input %x: u8[1,8,4,4]
const %w4: i8[4,8,3,3] = splat<1>
const %wt: i8[4,8,3,3] = splat<-1>
const %rq: i64[8,4] = splat<0>
const %ch: i64[8] = iota<0,1>
%y = DualConv(%x, %w4, %wt, %rq, %ch) {kernel_shape=[3,3], out_bits=4, out_signed=0, pads=[1,1,1,1], tb_threshold=3, x_bits=4} : u8[1,8,4,4] @"dual"
output %y: u8[1,8,4,4]
`
	for _, tc := range []struct {
		name, want string
		set        func(w4, wt *Tensor)
	}{
		{"ok", "", func(w4, wt *Tensor) {}},
		{"int4 I", "INT4 weight code 8 outside -7..7", func(w4, wt *Tensor) { w4.I[100] = 8 }},
		{"ternary I", "ternary weight code -2 outside -1..1", func(w4, wt *Tensor) { wt.I[5] = -2 }},
		{"int4 I8", "INT4 weight code -8 outside -7..7", func(w4, wt *Tensor) {
			w4.I8, w4.I = w4.Int8s(), nil
			w4.I8[287] = -8
		}},
		{"ternary I8", "ternary weight code 2 outside -1..1", func(w4, wt *Tensor) {
			wt.I8, wt.I = wt.Int8s(), nil
			wt.I8[0] = 2
		}},
	} {
		m, err := Parse(tc.name, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		tc.set(m.Graph.Consts[0].Const, m.Graph.Consts[1].Const)
		if err := InferTypes(m); err != nil {
			t.Errorf("%s: InferTypes: %v", tc.name, err)
		}
		err = Verify(m)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"dual"`)):
			t.Errorf("%s: Verify error %v, want %q naming the node", tc.name, err, tc.want)
		}
	}
}
