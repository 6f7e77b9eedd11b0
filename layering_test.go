package pimc_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// depsRules is a statement of policy, in the spirit of go/build's
// deps_test.go: which pimc packages each package may import (non-test
// files). DO NOT CHANGE THIS TABLE TO FIX A BUILD: move the code instead.
// A package missing from the table fails the test, so new packages get a
// rule when they are added.
var depsRules = map[string][]string{
	"ir":           {},
	"hw":           {},
	"dataset":      {},
	"backend/isa":  {"hw"},
	"frontend":     {"ir"},
	"interp":       {"ir"},
	"passes":       {"ir", "interp"},
	"internal/par": {},
	"dualnet":      {"ir", "interp", "hw", "internal/par"},
	"partition":    {"ir", "hw"},
	"mapping":      {"ir", "hw"},
	"cost":         {"ir", "hw", "mapping"},
	"backend":      {"ir", "backend/isa", "hw", "mapping", "internal/par"},
	"search":       {"ir", "interp", "hw", "dualnet", "mapping", "cost", "partition"},
	// The simulator never sees the compiler's IR: it is an independent
	// check of what the compiler emits.
	"runtime":  {"backend/isa", "hw"},
	"pipeline": {"*"},
	"cmd/pimc": {"*"},
}

func TestDependencies(t *testing.T) {
	const module = "pimc/"
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if len(pkgs) == 0 || path == "." {
			return nil
		}
		pkg := filepath.ToSlash(path)
		// internal/ helper packages and subpackages inherit their parent's rule.
		rule, ok := ruleFor(pkg)
		if !ok {
			t.Errorf("package %s has no rule in depsRules", pkg)
			return nil
		}
		var bad []string
		for _, p := range pkgs {
			for _, f := range p.Files {
				for _, imp := range f.Imports {
					ip, _ := strconv.Unquote(imp.Path.Value)
					if !strings.HasPrefix(ip, module) {
						continue
					}
					dep := strings.TrimPrefix(ip, module)
					if !allowed(pkg, rule, dep) {
						bad = append(bad, dep)
					}
				}
			}
		}
		sort.Strings(bad)
		for _, b := range bad {
			t.Errorf("%s must not import pimc/%s (see depsRules)", pkg, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ruleFor(pkg string) ([]string, bool) {
	for p := pkg; p != "."; p = filepath.ToSlash(filepath.Dir(p)) {
		if r, ok := depsRules[p]; ok {
			return r, true
		}
		if strings.HasSuffix(p, "/internal") {
			continue
		}
	}
	return nil, false
}

func allowed(pkg string, rule []string, dep string) bool {
	// A package may always import its own subpackages.
	if strings.HasPrefix(dep, pkg+"/") {
		return true
	}
	for _, r := range rule {
		if r == "*" || r == dep || strings.HasPrefix(dep, r+"/") {
			return true
		}
	}
	return false
}
