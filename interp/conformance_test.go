package interp_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"pimc/frontend"
	"pimc/frontend/onnxpb"
	"pimc/interp"
	"pimc/ir"
	"pimc/passes"
)

// conformanceDir finds the ONNX conformance cases: the repo's copy, else
// the shared one beside the repo.
func conformanceDir() string {
	for _, d := range []string{"../testdata/conformance", "../../shared/conformance"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return ""
}

// prepare imports a model and folds its constant sub-graphs (weight
// generators, shape arithmetic), as the compiler's pipeline starts.
func prepare(path string) (*ir.Module, error) {
	m, err := frontend.Import(path, frontend.Options{})
	if err != nil {
		return nil, err
	}
	if err := passes.FoldConstants(m); err != nil {
		return nil, err
	}
	return m, nil
}

// readInputs reads input_*.pb of one data set (except those in skip),
// converted to the dtypes the
// module's inputs have (the IR narrows float16/float64 to float32).
func readInputs(m *ir.Module, dir string, skip map[int]bool) ([]*ir.Tensor, error) {
	var in []*ir.Tensor
	i := 0
	for _, v := range m.Graph.Inputs {
		for skip[i] {
			i++
		}
		t, err := frontend.ReadTensor(filepath.Join(dir, fmt.Sprintf("input_%d.pb", i)))
		i++
		if err != nil {
			return nil, err
		}
		if t.DType.IsFloat() && v.Type.DType.IsFloat() {
			t.DType = v.Type.DType
		}
		in = append(in, t)
	}
	return in, nil
}

// tolerance is the conformance README's rule for one case folder.
type tolerance func(got, want []float32) (int, bool)

func opTolerance(got, want []float32) (int, bool) {
	for i, e := range want {
		a := got[i]
		if math.IsNaN(float64(e)) != math.IsNaN(float64(a)) {
			return i, false
		}
		if math.IsInf(float64(e), 0) && a != e {
			return i, false
		}
		if d := math.Abs(float64(a) - float64(e)); d > 1e-7+1e-3*math.Abs(float64(e)) {
			return i, false
		}
	}
	return 0, true
}

func modelTolerance(got, want []float32) (int, bool) {
	var mx float64
	for _, e := range want {
		mx = math.Max(mx, math.Abs(float64(e)))
	}
	for i, e := range want {
		if d := math.Abs(float64(got[i]) - float64(e)); !(d <= 1e-3*math.Abs(float64(e))+1e-4*mx) {
			return i, false
		}
	}
	return 0, true
}

// compare checks one output; it returns "" when it passes.
func compare(got, want *ir.Tensor, tol tolerance) string {
	if !(ir.Type{Shape: got.Shape}).Equal(ir.Type{Shape: want.Shape}) {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	if got.DType.IsFloat() != want.DType.IsFloat() || (!got.DType.IsFloat() && got.DType != want.DType) {
		return fmt.Sprintf("dtype %s, want %s", got.DType, want.DType)
	}
	if want.DType.IsFloat() {
		if i, ok := tol(got.F, want.F); !ok {
			return fmt.Sprintf("element %d = %g, want %g", i, got.F[i], want.F[i])
		}
		return ""
	}
	for i, e := range want.I {
		if got.I[i] != e {
			return fmt.Sprintf("element %d = %d, want %d", i, got.I[i], e)
		}
	}
	return ""
}

// runCase runs every data set of one case folder; it returns "" on pass.
func runCase(dir string, tol tolerance) string {
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return "no test data sets"
	}
	model := filepath.Join(dir, "model.onnx")
	m0, importErr := prepare(model)
	for _, set := range sets {
		m := m0
		bound := map[int]bool{}
		if importErr != nil {
			// pimc needs static shapes, but ONNX's node tests feed some
			// shape operands (Reshape's shape, Slice's starts...) as graph
			// inputs. Specialize the model to this data set: its int64
			// inputs become initializers, as a user would freeze them.
			var err2 error
			if m, bound, err2 = specialize(model, set); err2 != nil {
				return fmt.Sprintf("%v (with int64 inputs frozen: %v)", importErr, err2)
			}
		}
		if bad := interp.Unsupported(m); len(bad) > 0 {
			return "unsupported operators: " + strings.Join(bad, ", ")
		}
		in, err := readInputs(m, set, bound)
		if err != nil {
			return err.Error()
		}
		out, err := interp.Run(m, in)
		if err != nil {
			return err.Error()
		}
		for i := range out {
			want, err := frontend.ReadTensor(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
			if err != nil {
				return err.Error()
			}
			if msg := compare(out[i], want, tol); msg != "" {
				return fmt.Sprintf("%s output %d (%q): %s", filepath.Base(set), i, m.Graph.Outputs[i].Name, msg)
			}
		}
	}
	return ""
}

// specialize imports model with every int64 graph input replaced by an
// initializer holding the data set's value; bound lists the data-set
// input indices that were consumed that way.
func specialize(model, set string) (*ir.Module, map[int]bool, error) {
	data, err := os.ReadFile(model)
	if err != nil {
		return nil, nil, err
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, nil, err
	}
	g := mp.GetGraph()
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	bound := map[int]bool{}
	var kept []*onnxpb.ValueInfoProto
	i := 0
	for _, v := range g.GetInput() {
		if inits[v.GetName()] {
			kept = append(kept, v)
			continue
		}
		if v.GetType().GetTensorType().GetElemType() == int32(ir.Int64) {
			raw, err := os.ReadFile(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
			if err != nil {
				return nil, nil, err
			}
			var tp onnxpb.TensorProto
			if err := proto.Unmarshal(raw, &tp); err != nil {
				return nil, nil, err
			}
			tp.Name = proto.String(v.GetName())
			g.Initializer = append(g.Initializer, &tp)
			bound[i] = true
		} else {
			kept = append(kept, v)
		}
		i++
	}
	g.Input = kept
	data, err = proto.Marshal(&mp)
	if err != nil {
		return nil, nil, err
	}
	m, err := frontend.ImportBytes(data, filepath.Base(filepath.Dir(model)), frontend.Options{})
	if err != nil {
		return nil, nil, err
	}
	if err := passes.FoldConstants(m); err != nil {
		return nil, nil, err
	}
	return m, bound, nil
}

// TestConformance runs the ONNX conformance cases: import, fold constants,
// interpret, compare with the expected outputs. The whole-model cases are
// skipped in -short mode.
func TestConformance(t *testing.T) {
	root := conformanceDir()
	if root == "" {
		t.Skip("no conformance cases (testdata/conformance)")
	}
	passed, failed := 0, 0
	var failures []string
	for _, suite := range []string{"node", "pytorch-converted", "pytorch-operator", "models"} {
		if suite == "models" && testing.Short() {
			continue
		}
		tol := opTolerance
		if suite == "models" {
			tol = modelTolerance
		}
		dirs, _ := filepath.Glob(filepath.Join(root, suite, "*"))
		sort.Strings(dirs)
		for _, dir := range dirs {
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				continue
			}
			name := suite + "/" + filepath.Base(dir)
			if msg := runCase(dir, tol); msg != "" {
				failed++
				failures = append(failures, name+": "+msg)
				continue
			}
			passed++
		}
	}
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("conformance: %d passed, %d failed", passed, failed)
	fmt.Printf("conformance: %d passed, %d failed\n", passed, failed)
}
