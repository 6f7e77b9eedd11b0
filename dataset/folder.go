package dataset

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// maxImage caps one image file; CIFAR JPEGs are about 1 KB.
const maxImage = 64 << 20

// source is one image file of a folder or tar tree.
type source struct {
	rel  string // slash-separated path inside the tree, the sort key
	file string // folder: path on disk, read when decoded
	data []byte // tar: the entry's bytes
}

func (s source) bytes() ([]byte, error) {
	if s.file == "" {
		return s.data, nil
	}
	fi, err := os.Stat(s.file)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxImage {
		return nil, fmt.Errorf("%d bytes, too large for an image", fi.Size())
	}
	return os.ReadFile(s.file)
}

func isImageName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// hidden reports dotfiles and dot-directories (.DS_Store, .git), which a
// tree may carry without them being data.
func hidden(rel string) bool {
	for _, c := range strings.Split(rel, "/") {
		if strings.HasPrefix(c, ".") && c != "." && c != ".." {
			return true
		}
	}
	return false
}

func loadFolder(root string, sp Spec, workers int, win window) (*store, error) {
	// WalkDir does not follow symbolic links, not even the root; datasets
	// are often linked into place, so resolve the root and linked files.
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	var files []source
	err = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(real, p)
		rel = filepath.ToSlash(rel)
		if rel != "." && hidden(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		regular := d.Type().IsRegular()
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(p)
			regular = err == nil && fi.Mode().IsRegular()
		}
		if regular {
			files = append(files, source{rel: rel, file: p})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return buildTree(root, files, sp, workers, win)
}

func loadTar(name string, sp Spec, workers int, win window) (*store, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files, err := readTar(name, f)
	if err != nil {
		return nil, err
	}
	return buildTree(name, files, sp, workers, win)
}

// readTar lists a .tar, .tar.gz or .tgz (gzip detected by content) and keeps
// the bytes of image entries only.
func readTar(name string, r io.Reader) ([]source, error) {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if magic, _ := br.Peek(2); isGzip(magic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, gzipErr(err))
		}
		in = zr
	}
	tr := tar.NewReader(in)
	var files []source
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: after %d entries: %w", name, len(files), err)
		}
		if h.Typeflag != tar.TypeReg {
			continue // directories, links: the images are regular files
		}
		rel := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if rel == "" || hidden(rel) {
			continue
		}
		if seen[rel] {
			return nil, fmt.Errorf("%s: entry %s appears twice", name, rel)
		}
		seen[rel] = true
		s := source{rel: rel}
		if isImageName(rel) {
			if h.Size > maxImage {
				return nil, fmt.Errorf("%s: entry %s: %d bytes, too large for an image", name, rel, h.Size)
			}
			s.data = make([]byte, h.Size)
			if _, err := io.ReadFull(tr, s.data); err != nil {
				return nil, fmt.Errorf("%s: entry %s: %w", name, rel, err)
			}
		}
		files = append(files, s)
	}
	return files, nil
}

// buildTree assigns labels from the class folders and decodes the images
// selected by win.
//
// Layout rule: every image sits at PREFIX/<class>/<file> with one common
// PREFIX (empty for a folder passed directly, "test" for the CIFAR tar).
// Classes are sorted by name and numbered from 0, unless every class name
// is a non-negative integer, in which case that integer is the label.
// Items are in sorted path order. Non-image files beside the images are an
// error; other stray files (a README at the top) are ignored.
func buildTree(name string, files []source, sp Spec, workers int, win window) (*store, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	var imgs []source
	for _, f := range files {
		if isImageName(f.rel) {
			imgs = append(imgs, f)
		}
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("%s: empty dataset: no .jpg, .jpeg or .png files", name)
	}
	first := strings.Split(imgs[0].rel, "/")
	depth := len(first)
	if depth < 2 {
		return nil, fmt.Errorf("%s: image %s is not inside a class folder (want <class>/<file>)", name, imgs[0].rel)
	}
	prefix := strings.Join(first[:depth-2], "/")
	classOf := func(rel string) (string, bool) {
		parts := strings.Split(rel, "/")
		if len(parts) != depth || strings.Join(parts[:depth-2], "/") != prefix {
			return "", false
		}
		return parts[depth-2], true
	}
	set := map[string]bool{}
	for _, im := range imgs {
		c, ok := classOf(im.rel)
		if !ok {
			return nil, fmt.Errorf("%s: images %s and %s are not in class folders of one parent; pass the parent folder of the classes",
				name, imgs[0].rel, im.rel)
		}
		set[c] = true
	}
	for _, f := range files {
		if c, ok := classOf(f.rel); ok && set[c] && !isImageName(f.rel) {
			return nil, fmt.Errorf("%s: %s: %w (want .jpg, .jpeg or .png in a class folder)", name, f.rel, errNotImage)
		}
	}
	classes := make([]string, 0, len(set))
	for c := range set {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	label, names, err := classLabels(name, classes)
	if err != nil {
		return nil, err
	}
	lo, hi, err := win.span(name, len(imgs))
	if err != nil {
		return nil, err
	}
	imgs = imgs[lo:hi]
	st := &store{classes: names, labels: make([]int, len(imgs))}
	for i, im := range imgs {
		c, _ := classOf(im.rel)
		st.labels[i] = label[c]
	}
	if err := decodeAll(name, st, imgs, sp, workers); err != nil {
		return nil, err
	}
	st.item = func(i int) string { return imgs[i].rel }
	return st, nil
}

// classLabels numbers sorted class names, or uses them as labels when all
// are integers (folders "0".."9" must not sort as 0, 1, 10, 2, ...).
func classLabels(name string, classes []string) (map[string]int, []string, error) {
	label := map[string]int{}
	numeric := true
	for _, c := range classes {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > 1<<20 {
			numeric = false
			break
		}
		label[c] = n
	}
	if !numeric {
		for i, c := range classes {
			label[c] = i
		}
		return label, classes, nil
	}
	top := 0
	byLabel := map[int]string{}
	for _, c := range classes {
		n := label[c]
		if prev, dup := byLabel[n]; dup {
			return nil, nil, fmt.Errorf("%s: class folders %s and %s are both label %d", name, prev, c, n)
		}
		byLabel[n] = c
		top = max(top, n)
	}
	names := make([]string, top+1)
	for n, c := range byLabel {
		names[n] = c
	}
	return label, names, nil
}
