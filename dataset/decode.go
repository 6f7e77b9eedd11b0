package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"sync"
	"sync/atomic"
)

// decodeAll decodes imgs into st.pix in parallel, keeping their order. The
// first image fixes the geometry when the spec leaves it open; the target
// channel count is the model's (1 or 3), else that of the first image.
func decodeAll(name string, st *store, imgs []source, sp Spec, workers int) error {
	first, err := decodeOne(imgs[0], sp.W, sp.H)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", name, imgs[0].rel, err)
	}
	b := first.Bounds()
	st.h, st.w = b.Dy(), b.Dx()
	switch {
	case sp.C == 1 || sp.Gray:
		st.c = 1
	case sp.C == 3:
		st.c = 3
	case isGrayImage(first):
		st.c = 1
	default:
		st.c = 3
	}
	sz := st.h * st.w * st.c
	st.pix = make([]uint8, len(imgs)*sz)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(imgs))

	// Workers take indices in increasing order, so every index below a
	// failing one has been taken and finishes: the lowest failing index
	// is always found, and the error reported does not depend on timing.
	var (
		next    atomic.Int64
		stop    atomic.Bool
		mu      sync.Mutex
		errIdx  = len(imgs)
		errSeen error
		wg      sync.WaitGroup
	)
	fail := func(i int, err error) {
		mu.Lock()
		if i < errIdx {
			errIdx, errSeen = i, err
		}
		mu.Unlock()
		stop.Store(true)
	}
	for range workers {
		wg.Go(func() {
			scratch := make([]uint8, st.h*st.w*3)
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(imgs) {
					return
				}
				m := first
				if i > 0 {
					var err error
					if m, err = decodeOne(imgs[i], st.w, st.h); err != nil {
						fail(i, err)
						return
					}
				}
				if err := toPixels(st.pix[i*sz:(i+1)*sz], m, st.c, sp.Gray, scratch); err != nil {
					fail(i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if errSeen != nil {
		return fmt.Errorf("%s: %s: %w", name, imgs[errIdx].rel, errSeen)
	}
	return nil
}

// maxSide bounds images when the model size is not given: no CNN input is
// larger, and it keeps a corrupt header from costing gigabytes.
const maxSide = 4096

// decodeOne decodes a JPEG or PNG (sniffed, not trusted from the name). The
// size is checked from the header before decoding, so a small file that
// declares a huge image is refused cheaply. w, h = 0 accepts any size.
func decodeOne(s source, w, h int) (image.Image, error) {
	b, err := s.bytes()
	if err != nil {
		return nil, err
	}
	var cfg func([]byte) (image.Config, error)
	var dec func([]byte) (image.Image, error)
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		cfg = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
		dec = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		cfg = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
		dec = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	default:
		return nil, errNotImage
	}
	c, err := cfg(b)
	if err != nil {
		return nil, err
	}
	if w == 0 {
		if c.Width <= 0 || c.Height <= 0 || c.Width > maxSide || c.Height > maxSide {
			return nil, fmt.Errorf("image is %dx%d, outside 1..%d", c.Width, c.Height, maxSide)
		}
	} else if c.Width != w || c.Height != h {
		return nil, fmt.Errorf("image is %dx%d (WxH), want %dx%d like the model input or the first image; resize the data, pimc does not",
			c.Width, c.Height, w, h)
	}
	m, err := dec(b)
	if err != nil {
		return nil, err
	}
	if r := m.Bounds(); r.Dx() != c.Width || r.Dy() != c.Height {
		return nil, fmt.Errorf("decoded %dx%d, header says %dx%d", r.Dx(), r.Dy(), c.Width, c.Height)
	}
	return m, nil
}

func isGrayImage(m image.Image) bool {
	switch m.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	return false
}

// toPixels writes m as HWC uint8 with ch channels into dst. Gray images are
// replicated into 3 channels; colour into 1 channel follows toGray. JPEG
// colour conversion is color.YCbCrToRGB on the decoder's own (nearest)
// chroma sampling, i.e. what image/jpeg's At would give.
func toPixels(dst []uint8, m image.Image, ch int, luma bool, scratch []uint8) error {
	r := m.Bounds()
	w, h := r.Dx(), r.Dy()
	if g, ok := m.(*image.Gray); ok {
		for y := range h {
			o := g.PixOffset(r.Min.X, r.Min.Y+y)
			row := g.Pix[o : o+w]
			if ch == 1 {
				copy(dst[y*w:], row)
				continue
			}
			for x, v := range row {
				o := 3 * (y*w + x)
				dst[o], dst[o+1], dst[o+2] = v, v, v
			}
		}
		return nil
	}
	rgb := dst
	if ch == 1 {
		rgb = scratch[:3*w*h]
	}
	switch m := m.(type) {
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				yi := m.YOffset(r.Min.X+x, r.Min.Y+y)
				ci := m.COffset(r.Min.X+x, r.Min.Y+y)
				o := 3 * (y*w + x)
				rgb[o], rgb[o+1], rgb[o+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.NRGBA:
		copyRGB(rgb, m.Pix, m.Stride, m.PixOffset(r.Min.X, r.Min.Y), w, h)
	case *image.RGBA:
		if !m.Opaque() { // premultiplied: the generic path un-premultiplies
			generic(rgb, m, r)
			break
		}
		copyRGB(rgb, m.Pix, m.Stride, m.PixOffset(r.Min.X, r.Min.Y), w, h)
	default:
		generic(rgb, m, r)
	}
	if ch == 1 {
		return toGray(dst, rgb, luma)
	}
	return nil
}

// copyRGB drops the alpha byte of 4-byte pixels (PNG truecolor).
func copyRGB(rgb, pix []uint8, stride, start, w, h int) {
	for y := range h {
		row := pix[start+y*stride:]
		for x := range w {
			o := 3 * (y*w + x)
			copy(rgb[o:o+3], row[4*x:4*x+3])
		}
	}
}

// generic converts any other image (paletted, 16-bit) through color.NRGBA.
func generic(rgb []uint8, m image.Image, r image.Rectangle) {
	w := r.Dx()
	for y := range r.Dy() {
		for x := range w {
			c := color.NRGBAModel.Convert(m.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
			o := 3 * (y*w + x)
			rgb[o], rgb[o+1], rgb[o+2] = c.R, c.G, c.B
		}
	}
}
