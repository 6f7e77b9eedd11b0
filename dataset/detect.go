package dataset

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// detect picks the format of path: by name first (the names are standard
// and cheap to check), then by content.
func detect(path string) (Format, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return detectDir(path)
	}
	name := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"), strings.HasSuffix(name, ".tar"):
		return FormatTar, nil
	case strings.HasSuffix(name, ".csv"), strings.HasSuffix(name, ".csv.gz"):
		return FormatCSV, nil
	case strings.HasSuffix(name, ".bin"):
		return FormatCIFAR, nil
	case strings.Contains(name, "idx3-ubyte"), strings.Contains(name, "idx1-ubyte"):
		return FormatIDX, nil
	}
	head, err := sniff(path)
	if err != nil {
		return "", err
	}
	switch {
	case len(head) >= 4 && head[0] == 0 && head[1] == 0 && head[2] == 0x08 && (head[3] == 3 || head[3] == 1):
		return FormatIDX, nil
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return FormatTar, nil
	}
	return "", fmt.Errorf("%s: cannot tell the dataset format from the name or content; pass --format", path)
}

// sniff returns the first 512 bytes of a file, decompressed if gzip.
func sniff(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	head = head[:n]
	if !isGzip(head) {
		return head, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(head))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out, _ := io.ReadAll(zr) // a 512-byte prefix ends early by design
	return out, nil
}

func detectDir(dir string) (Format, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var idx, bin bool
	for _, e := range ents {
		n := e.Name()
		if _, ok := onnxSetNum(n); (ok && e.IsDir()) || n == "input_0.pb" {
			return FormatONNX, nil
		}
		idx = idx || isIDXImagesName(n)
		bin = bin || (!e.IsDir() && strings.HasSuffix(n, ".bin"))
	}
	switch {
	case idx:
		return FormatIDX, nil
	case bin:
		return FormatCIFAR, nil
	}
	return FormatFolder, nil
}
