package dataset

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	cifar := []float32{0.4914, 0.4822, 0.4465}
	for _, tc := range []struct {
		name  string
		args  string
		model Spec
		want  Options
		err   string
	}{
		{"nothing", "", Spec{}, Options{}, ""},
		{"model geometry and layout", "", Spec{C: 3, H: 32, W: 32, Layout: NHWC},
			Options{Spec: Spec{C: 3, H: 32, W: 32, Layout: NHWC}}, ""},
		{"preset", "--preset cifar10", Spec{},
			Options{Spec: Spec{C: 3, H: 32, W: 32, Scale: DefaultScale, Mean: cifar, Std: []float32{0.2023, 0.1994, 0.2010}}}, ""},
		{"model wins over preset geometry", "--preset imagenet", Spec{C: 3, H: 32, W: 32},
			Options{Spec: Spec{C: 3, H: 32, W: 32, Scale: DefaultScale, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}}, ""},
		{"flags win over preset", "--preset cifar10 --mean 0.5 --std 0.5,0.5,0.5 --scale 1 --layout nhwc --bgr", Spec{Layout: NCHW},
			Options{Spec: Spec{C: 3, H: 32, W: 32, Scale: 1, Mean: []float32{0.5}, Std: []float32{0.5, 0.5, 0.5}, Layout: NHWC, BGR: true}}, ""},
		{"fraction scale, slice, format, labels", "--scale 1/255 --limit 10 --offset 5 --format idx --labels l.gz --gray", Spec{},
			Options{Format: FormatIDX, LabelsPath: "l.gz", Limit: 10, Offset: 5, Spec: Spec{Scale: DefaultScale, Gray: true}}, ""},
		{"bad mean", "--mean 0.4914,x,0.4465", Spec{}, Options{}, `--mean "0.4914,x,0.4465": element 2 "x" is not a number`},
		{"two means", "--mean 1,2", Spec{}, Options{}, `--mean "1,2": 2 values, want 1 or 3`},
		{"zero std", "--std 1,0,1", Spec{}, Options{}, `--std "1,0,1": element 2 is 0`},
		{"bad scale", "--scale 1/0", Spec{}, Options{}, `--scale "1/0": want a positive number`},
		{"zero scale", "--scale 0", Spec{}, Options{}, `--scale "0"`},
		{"bad layout", "--layout chw", Spec{}, Options{}, `--layout: unknown layout "chw"`},
		{"bad format", "--format zip", Spec{}, Options{}, `--format: unknown format "zip"`},
		{"bad preset", "--preset mnst", Spec{}, Options{}, `--preset: unknown preset "mnst" (known: cifar10, cifar10-01, fashion-mnist, imagenet, mnist`},
		{"negative limit", "--limit -1", Spec{}, Options{}, "--limit -1"},
		{"bgr on a gray model", "--bgr", Spec{C: 1}, Options{}, "bgr asked for a 1-channel model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f := AddFlags(fs)
			if err := fs.Parse(strings.Fields(tc.args)); err != nil {
				t.Fatal(err)
			}
			o, err := f.Options(tc.model)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o, tc.want) {
				t.Errorf("Options =\n%+v, want\n%+v", o, tc.want)
			}
		})
	}
}

func TestFlagsOpen(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := AddFlags(fs)
	if _, err := f.Open(Spec{}, nil); err == nil || err.Error() != "--data is required" {
		t.Errorf("no --data: %v", err)
	}
	if err := fs.Parse([]string{"--data", tdMNIST, "--preset", "mnist", "--limit", "20"}); err != nil {
		t.Fatal(err)
	}
	s, err := f.Open(Spec{C: 1, H: 28, W: 28}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := (float32(84)*DefaultScale - 0.1307) / 0.3081 // row 7, column 6 of the first 7
	if s.Len() != 20 || s.Image(0)[7*28+6] != want {
		t.Errorf("len %d x %g, want 20 and %g", s.Len(), s.Image(0)[7*28+6], want)
	}
}
