package frontend

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"pimc/frontend/onnxpb"
	"pimc/ir"
)

// knownUnsupported lists shared models that legitimately fail to import
// because they use an operator the IR op table lacks, with the error
// they must give. A model that fails for any other reason, or a listed
// one that starts importing, fails the test.
var knownUnsupported = map[string]string{}

// TestSharedModels imports every shared model (conformance cases and the
// real models), checks the result verifies, that the inferred graph
// outputs have the shapes and dtypes of the expected outputs, and that
// importing twice gives identical text and DOT.
func TestSharedModels(t *testing.T) {
	needConst := 0
	for _, path := range sharedModels(t) {
		name := caseName(path)
		t.Run(name, func(t *testing.T) {
			m, usedConst, err := importCase(path)
			if want, ok := knownUnsupported[name]; ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want one containing %q", err, want)
				}
				t.Logf("unsupported as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if usedConst {
				needConst++
			}
			if err := ir.Verify(m); err != nil {
				t.Fatalf("verify: %v", err)
			}
			checkExpectedOutputs(t, path, m)
			checkDeterministic(t, path, m)
		})
	}
	t.Logf("%d cases needed shape-feeding inputs as constants (Options.Constants)", needConst)
}

// caseName is the conformance case directory or the model file name.
func caseName(path string) string {
	if filepath.Base(path) == "model.onnx" {
		return filepath.Base(filepath.Dir(filepath.Dir(path))) + "/" + filepath.Base(filepath.Dir(path))
	}
	return filepath.Base(path)
}

// importCase imports a shared model. A conformance case whose runtime
// inputs feed a shape (ONNX's node tests pass Reshape's shape, Slice's
// starts, ... as inputs) is imported again with its integer inputs from
// test_data_set_0 given as constants, as a conformance runner would.
func importCase(path string) (*ir.Module, bool, error) {
	m, err := Import(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "must be a constant") {
		return m, false, err
	}
	consts, cerr := caseConstants(path)
	if cerr != nil || len(consts) == 0 {
		return nil, false, err
	}
	m, err = Import(path, Options{Constants: consts})
	return m, true, err
}

// caseConstants reads the integer-typed inputs of a conformance case.
func caseConstants(path string) (map[string]*ir.Tensor, error) {
	names, err := runtimeInputs(path)
	if err != nil {
		return nil, err
	}
	consts := map[string]*ir.Tensor{}
	for i, name := range names {
		t, err := ReadTensor(filepath.Join(filepath.Dir(path), "test_data_set_0", fmt.Sprintf("input_%d.pb", i)))
		if err != nil {
			return nil, err
		}
		if t.DType.IsInt() {
			consts[name] = t
		}
	}
	return consts, nil
}

// runtimeInputs lists a model's graph inputs that no initializer defines,
// in order: the order of a conformance case's input_N.pb files.
func runtimeInputs(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, err
	}
	inits := map[string]bool{}
	for _, t := range mp.GetGraph().GetInitializer() {
		inits[t.GetName()] = true
	}
	var names []string
	for _, in := range mp.GetGraph().GetInput() {
		if !inits[in.GetName()] {
			names = append(names, in.GetName())
		}
	}
	return names, nil
}

func checkExpectedOutputs(t *testing.T, path string, m *ir.Module) {
	t.Helper()
	io, _ := m.Meta[MetaIODTypes].(map[string]ir.DType)
	for i, out := range m.Graph.Outputs {
		want, err := ReadTensor(filepath.Join(filepath.Dir(path), "test_data_set_0", fmt.Sprintf("output_%d.pb", i)))
		if os.IsNotExist(unwrapAll(err)) {
			return // not a conformance case
		}
		if err != nil {
			t.Fatal(err)
		}
		got := out.Type.DType
		if d, ok := io[out.Name]; ok {
			got = d // narrowed to float32 inside the IR; the interface keeps its type
		}
		if got != want.DType || !reflect.DeepEqual(out.Type.Shape, append([]int64{}, want.Shape...)) {
			t.Errorf("output %d %q is %s (declared %s), expected output is %s", i, out.Name, out.Type, got, want.Type())
		}
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func checkDeterministic(t *testing.T, path string, first *ir.Module) {
	t.Helper()
	second, _, err := importCase(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := first.String(), second.String(); a != b {
		t.Errorf("two imports print differently:\n%s\n----\n%s", a, b)
	}
	var da, db bytes.Buffer
	if err := ir.WriteDOT(&da, first); err != nil {
		t.Fatal(err)
	}
	if err := ir.WriteDOT(&db, second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(da.Bytes(), db.Bytes()) {
		t.Error("two imports give different DOT")
	}
}

func BenchmarkImportResNet50(b *testing.B) {
	path := filepath.Join(conformanceDir(), "models", "resnet50", "model.onnx")
	data, err := os.ReadFile(path)
	if conformanceDir() == "" || err != nil {
		b.Skip("resnet50 conformance model not present")
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ImportBytes(data, "resnet50", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
