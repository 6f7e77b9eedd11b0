package mapping

import "fmt"

// Scheme names a weight-mapping scheme.
type Scheme string

const (
	Im2col Scheme = "im2col" // one kernel per column (DESIGN.md §4)
	SDK    Scheme = "sdk"    // shifted and duplicated kernel, square windows
	VWSDK  Scheme = "vwsdk"  // variable-window SDK, rectangular windows, tiled channels
)

// Schemes lists the single-array schemes in a fixed order.
var Schemes = []Scheme{Im2col, SDK, VWSDK}

// Array is one R×C crossbar; a weight takes WeightCols columns (b), so
// Ceff = ⌊Cols/WeightCols⌋ output channels fit side by side.
type Array struct {
	Rows       int `json:"rows"`
	Cols       int `json:"cols"`
	WeightCols int `json:"weight_cols"`
}

func (a Array) ceff() int { return a.Cols / a.WeightCols }

func (a Array) check() error {
	const maxArrayDim = 1 << 20
	switch {
	case a.Rows < 1 || a.Rows > maxArrayDim:
		return fmt.Errorf("mapping: array rows=%d out of range [1, %d]", a.Rows, maxArrayDim)
	case a.Cols < 1 || a.Cols > maxArrayDim:
		return fmt.Errorf("mapping: array cols=%d out of range [1, %d]", a.Cols, maxArrayDim)
	case a.WeightCols < 1:
		return fmt.Errorf("mapping: weight columns=%d must be positive", a.WeightCols)
	case a.WeightCols > a.Cols:
		return fmt.Errorf("mapping: a %d-column weight does not fit a %d-column array", a.WeightCols, a.Cols)
	}
	return nil
}

// Mapping is one layer mapped by one scheme onto arrays of one size. Cycles
// is the §4 count: input vectors applied to array-sized tiles, tiles one after
// another, so Cycles = Windows × Tiles.
type Mapping struct {
	Scheme Scheme `json:"scheme"`
	// Window is "HxWxICtxOCt": the parallel window's pixels (height × width),
	// the input channels per row tile and output channels per column tile
	// (per group for grouped layers). For im2col it is the kernel KHxKWxICxOC.
	Window  string `json:"window"`
	WindowH int    `json:"window_h"` // pixels (dilated span, stride gaps included)
	WindowW int    `json:"window_w"`
	OutH    int    `json:"out_h"` // outputs per window, vertically (i)
	OutW    int    `json:"out_w"` // outputs per window, horizontally (j)
	ICt     int    `json:"ict"`
	OCt     int    `json:"oct"`
	// Im2colFallback is set when VW-SDK found no window better than im2col
	// and therefore is im2col.
	Im2colFallback bool `json:"im2col_fallback"`

	Groups        int   `json:"groups"`
	GroupsPerTile int   `json:"groups_per_tile"` // >1 when small groups share a tile block-diagonally
	RowTiles      int64 `json:"row_tiles"`       // per group
	ColTiles      int64 `json:"col_tiles"`       // per group
	Tiles         int64 `json:"tiles"`           // array-sized tiles for one copy of the weights
	Windows       int64 `json:"windows"`         // window positions: input vectors per tile
	Cycles        int64 `json:"cycles"`

	// RowsWritten is the number of array rows that hold weights, summed over
	// all tiles; MaxTileRows is the largest per tile. Weight-load cost uses
	// both.
	RowsWritten int64 `json:"rows_written"`
	MaxTileRows int64 `json:"max_tile_rows"`
	// UsedCells counts cells holding a weight bit (duplicated kernels
	// included); AllocatedCells = Tiles × rows × cols.
	UsedCells      int64   `json:"used_cells"`
	AllocatedCells int64   `json:"allocated_cells"`
	Utilisation    float64 `json:"utilisation"`
}

// Map maps a layer with one scheme. The layer is normalized first.
func Map(l Layer, a Array, s Scheme) (Mapping, error) {
	l, err := l.Normalized()
	if err != nil {
		return Mapping{}, err
	}
	if err := a.check(); err != nil {
		return Mapping{}, err
	}
	switch s {
	case Im2col:
		return im2col(l, a), nil
	case SDK:
		return sdk(l, a), nil
	case VWSDK:
		return vwsdk(l, a), nil
	}
	return Mapping{}, fmt.Errorf("mapping: unknown scheme %q", s)
}

// MapAll maps a layer with every scheme, in the order of Schemes.
func MapAll(l Layer, a Array) ([]Mapping, error) {
	l, err := l.Normalized()
	if err != nil {
		return nil, err
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return []Mapping{im2col(l, a), sdk(l, a), vwsdk(l, a)}, nil
}

// shape is what the three schemes share: per group, a window computing
// outH×outW outputs from winH×winW pixels, a weight matrix of rowsG rows
// (cut into rowTiles) and colsG weight columns (cut into colTiles), dup
// kernel copies per group.
type shape struct {
	scheme             Scheme
	window             string
	winH, winW         int
	outH, outW         int
	ict, oct           int
	rowsG              int64 // matrix rows per group
	colsG              int64 // weight columns (output channel copies) per group
	rowTiles, colTiles int64
	maxRows            int64 // rows of the fullest row tile
	dup                int64 // kernel copies per output channel (i·j)
}

// finish turns a per-group shape into a Mapping: groups whose matrix fits one
// tile are packed block-diagonally, P = min(⌊R/rowsG⌋, ⌊Ceff/colsG⌋, G) per
// tile; otherwise each group has its own rowTiles × colTiles tiles.
func finish(l Layer, a Array, s shape) Mapping {
	g := int64(l.Group)
	ceff := int64(a.ceff())
	m := Mapping{
		Scheme: s.scheme, Window: s.window,
		WindowH: s.winH, WindowW: s.winW, OutH: s.outH, OutW: s.outW,
		ICt: s.ict, OCt: s.oct,
		Groups: l.Group, GroupsPerTile: 1,
		RowTiles: s.rowTiles, ColTiles: s.colTiles,
		Windows: ceilDiv(int64(l.OH()), int64(s.outH)) * ceilDiv(int64(l.OW()), int64(s.outW)),
	}
	if s.rowTiles == 1 && s.colTiles == 1 {
		p := min(int64(a.Rows)/s.rowsG, ceff/s.colsG, g)
		m.GroupsPerTile = int(p)
		m.Tiles = ceilDiv(g, p)
		m.MaxTileRows = p * s.rowsG
	} else {
		m.Tiles = s.rowTiles * s.colTiles * g
		m.MaxTileRows = s.maxRows
	}
	m.Cycles = m.Windows * m.Tiles
	m.RowsWritten = g * s.rowsG * s.colTiles
	m.UsedCells = g * s.dup * int64(l.KH) * int64(l.KW) * int64(l.IC/l.Group) * int64(l.OC/l.Group) * int64(a.WeightCols)
	m.AllocatedCells = m.Tiles * int64(a.Rows) * int64(a.Cols)
	m.Utilisation = float64(m.UsedCells) / float64(m.AllocatedCells)
	return m
}

// im2col: each KH·KW·ICg kernel is one column; rows are cut every R elements
// regardless of channel boundaries.
func im2col(l Layer, a Array) Mapping {
	icg, ocg := l.IC/l.Group, l.OC/l.Group
	rows := int64(l.KH) * int64(l.KW) * int64(icg)
	return finish(l, a, shape{
		scheme: Im2col,
		window: fmt.Sprintf("%dx%dx%dx%d", l.KH, l.KW, icg, ocg),
		winH:   l.KH, winW: l.KW, outH: 1, outW: 1, ict: icg, oct: ocg,
		rowsG: rows, colsG: int64(ocg),
		rowTiles: ceilDiv(rows, int64(a.Rows)),
		colTiles: ceilDiv(int64(ocg), int64(a.ceff())),
		maxRows:  min(rows, int64(a.Rows)),
		dup:      1,
	})
}

// window returns the pixels spanned by a window of i×j outputs.
func window(l Layer, i, j int) (int, int) {
	return l.EffKH() + (i-1)*l.SH, l.EffKW() + (j-1)*l.SW
}

// sdk: the largest square window of n×n outputs whose matrix fits the tiles
// im2col would use (ur·R rows, uc·Ceff columns); n = 1 is im2col.
func sdk(l Layer, a Array) Mapping {
	base := im2col(l, a)
	icg, ocg := int64(l.IC/l.Group), int64(l.OC/l.Group)
	ur, uc := base.RowTiles, base.ColTiles
	limit := max(l.OH(), l.OW()) // a larger window adds nothing
	n := 1
	for m := 2; m <= limit; m++ {
		h, w := window(l, m, m)
		if int64(h)*int64(w)*icg > ur*int64(a.Rows) || int64(m)*int64(m)*ocg > uc*int64(a.ceff()) {
			break // both sides grow with m
		}
		n = m
	}
	if n == 1 {
		base.Scheme = SDK
		return base
	}
	h, w := window(l, n, n)
	rows := int64(h) * int64(w) * icg
	return finish(l, a, shape{
		scheme: SDK,
		window: fmt.Sprintf("%dx%dx%dx%d", h, w, icg, ocg),
		winH:   h, winW: w, outH: n, outW: n, ict: int(icg), oct: int(ocg),
		rowsG: rows, colsG: int64(n*n) * ocg,
		rowTiles: ur, colTiles: uc,
		maxRows: min(rows, int64(a.Rows)),
		dup:     int64(n * n),
	})
}

// vwsdk searches rectangular windows of i×j outputs (i vertical, j
// horizontal): ICt = min(ICg, ⌊R/pixels⌋), OCt = ⌊Ceff/(i·j)⌋, cycles =
// ⌈OH/i⌉·⌈OW/j⌉·⌈ICg/ICt⌉·⌈OCg/OCt⌉ (with group packing). j is the outer
// loop and the first strict minimum wins, which reproduces the VW-SDK
// authors' window choice on square maps. If nothing beats im2col, VW-SDK is
// im2col.
func vwsdk(l Layer, a Array) Mapping {
	base := im2col(l, a)
	icg, ocg, g := int64(l.IC/l.Group), int64(l.OC/l.Group), int64(l.Group)
	rows, ceff := int64(a.Rows), int64(a.ceff())
	oh, ow := l.OH(), l.OW()
	bestI, bestJ := 0, 0
	var bestCycles int64
	for j := 1; j <= ow; j++ {
		for i := 1; i <= oh; i++ {
			h, w := window(l, i, j)
			pix := int64(h) * int64(w)
			ict := min(icg, rows/pix)
			oct := ceff / (int64(i) * int64(j))
			if ict == 0 || oct == 0 {
				// Both only shrink as i grows; if i = 1 already fails,
				// every larger j fails too.
				if i == 1 {
					j = ow
				}
				break
			}
			var tiles int64
			if ict == icg && oct >= ocg {
				// One tile per group: pack groups block-diagonally.
				p := min(rows/(pix*icg), ceff/(int64(i*j)*ocg), g)
				tiles = ceilDiv(g, p)
			} else {
				tiles = ceilDiv(icg, ict) * ceilDiv(ocg, oct) * g
			}
			c := ceilDiv(int64(oh), int64(i)) * ceilDiv(int64(ow), int64(j)) * tiles
			if bestI == 0 || c < bestCycles {
				bestI, bestJ, bestCycles = i, j, c
			}
		}
	}
	if bestI == 0 || bestCycles >= base.Cycles {
		base.Scheme = VWSDK
		base.Im2colFallback = true
		return base
	}
	i, j := bestI, bestJ
	h, w := window(l, i, j)
	pix := int64(h) * int64(w)
	ict := min(icg, rows/pix)
	oct := ceff / int64(i*j)
	return finish(l, a, shape{
		scheme: VWSDK,
		window: fmt.Sprintf("%dx%dx%dx%d", h, w, ict, oct),
		winH:   h, winW: w, outH: i, outW: j, ict: int(ict), oct: int(oct),
		rowsG: pix * icg, colsG: int64(i*j) * ocg,
		rowTiles: ceilDiv(icg, ict), colTiles: ceilDiv(ocg, oct),
		maxRows: pix * ict,
		dup:     int64(i * j),
	})
}
