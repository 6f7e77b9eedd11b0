package pipeline

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"pimc/frontend"
	"pimc/ir"
)

// TestLoadFoldsLikeCanonical: Load, whose fold-batchnorm scales weights in
// place, gives what importing and running Canonical (the copying pass)
// gives, down to every constant's bits, on the real models with BNs
// (ResNet-20's Conv→BN, LeNet's BatchNorm1d, ResNet-50's 53).
func TestLoadFoldsLikeCanonical(t *testing.T) {
	models := []string{
		"../testdata/models/cifar10/resnet20_bn_amandashi95.onnx",
		"../testdata/models/mnist/lenet5_bn1d_ccoltong1215_b10.onnx",
		"../testdata/conformance/models/resnet50/model.onnx",
	}
	for _, p := range models {
		t.Run(filepath.Base(filepath.Dir(p)), func(t *testing.T) {
			if _, err := os.Stat(p); err != nil {
				t.Fatal("testdata missing:", err)
			}
			got, err := Load(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want, err := frontend.Import(p, frontend.Options{})
			if err != nil {
				t.Fatal(err)
			}
			bns := 0
			for _, n := range want.Graph.Nodes {
				if n.Op == ir.OpBatchNorm {
					bns++
				}
			}
			if bns == 0 {
				t.Fatal("no BatchNorm to fold: the model tests nothing here")
			}
			if err := Run(want, Canonical(), Options{}); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("Load:\n%s\nImport + Canonical:\n%s", got, want)
			}
			if len(got.Graph.Consts) != len(want.Graph.Consts) {
				t.Fatalf("%d constants, want %d", len(got.Graph.Consts), len(want.Graph.Consts))
			}
			for i, c := range got.Graph.Consts {
				w := want.Graph.Consts[i].Const
				if len(c.Const.F) != len(w.F) {
					t.Fatalf("%s: %d floats, want %d", c.Name, len(c.Const.F), len(w.F))
				}
				for j := range w.F {
					if math.Float32bits(c.Const.F[j]) != math.Float32bits(w.F[j]) {
						t.Fatalf("%s[%d] = %v, want %v", c.Name, j, c.Const.F[j], w.F[j])
					}
				}
			}
		})
	}
}

// TestLoadPasses: Load runs Canonical with only fold-batchnorm's function
// replaced.
func TestLoadPasses(t *testing.T) {
	a, b := Canonical(), loadPasses()
	if len(a) != len(b) {
		t.Fatalf("%d passes, Canonical has %d", len(b), len(a))
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Doc != b[i].Doc || a[i].Required != b[i].Required || a[i].Level != b[i].Level {
			t.Errorf("pass %d: %s, Canonical has %s", i, b[i].Name, a[i].Name)
		}
	}
}

// genResNet18 writes the generated ResNet-18 of package modelgen (45 MB,
// 11.7 M float weights) to dir. Go's internal rule keeps pipeline from
// importing pimc/cmd/pimc/internal/modelgen, so this runs its command,
// which `go run` may build from anywhere in the module.
func genResNet18(tb testing.TB, dir string) string {
	tb.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("go command not found:", err)
	}
	p := filepath.Join(dir, "resnet18.onnx")
	cmd := exec.Command(goBin, "run", "pimc/cmd/pimc/internal/modelgen/gen", "-o", p, "resnet18")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("generating ResNet-18: %v\n%s", err, out)
	}
	return p
}

// BenchmarkLoadResNet18 measures Load (import of the .onnx file, then the
// canonical passes, fold-batchnorm the heavy one) of a generated
// ResNet-18. A warm loop hides what a fresh `pimc compile` process pays for
// page faults, so also compare the CLI:
//
//	go run ./cmd/pimc/internal/modelgen/gen -o /tmp/resnet18.onnx resnet18
//	go build -o /tmp/pimc ./cmd/pimc
//	/usr/bin/time -f '%U user %S sys %e wall %M KB' /tmp/pimc compile -float -o /tmp/r18 /tmp/resnet18.onnx
func BenchmarkLoadResNet18(b *testing.B) {
	p := genResNet18(b, b.TempDir())
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
