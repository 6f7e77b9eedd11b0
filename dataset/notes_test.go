package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTestdataNotes keeps the provenance notes honest: every file under
// testdata/data and testdata/models has a row with its size and sha256 in
// the README beside it, and every row matches its file.
func TestTestdataNotes(t *testing.T) {
	row := regexp.MustCompile("^\\| `([^`]+)` \\| ([0-9,]+) \\| `([0-9a-f]{64})` \\|")
	for _, dir := range []string{"../testdata/data", "../testdata/models"} {
		notes, err := os.ReadFile(filepath.Join(dir, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for _, line := range strings.Split(string(notes), "\n") {
			m := row.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			listed[m[1]] = true
			b, err := os.ReadFile(filepath.Join(dir, m[1]))
			if err != nil {
				t.Errorf("%s/README.md lists %s: %v", dir, m[1], err)
				continue
			}
			size, _ := strconv.Atoi(strings.ReplaceAll(m[2], ",", ""))
			if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != m[3] || len(b) != size {
				t.Errorf("%s/%s: %d bytes sha256 %x, README says %s bytes %s", dir, m[1], len(b), h, m[2], m[3])
			}
		}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() == "README.md" {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			if !listed[filepath.ToSlash(rel)] {
				t.Errorf("%s is not listed in %s/README.md", rel, dir)
			}
			return nil
		})
	}
}
