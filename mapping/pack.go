package mapping

import (
	"cmp"
	"slices"
)

// Column packing (docs/mapping.md, "Column packing"). An array holds
// several weight images side by side, each in its own columns (wprog's
// column offset, docs/isa.md). Resident images of DIFFERENT layers may
// share an array: the layers of a pool run one after another, so they never
// need the array at the same time. Images of the same layer (row tiles,
// column tiles, copies) run in parallel and so stay on different arrays.
// The streaming region keeps one image per array.

// Place is where one resident weight image sits: an array of the pool and
// the first of the columns it occupies.
type Place struct {
	Array int64 `json:"array"`
	Col   int64 `json:"col"`
	Cols  int64 `json:"cols"` // columns the image occupies
	Rows  int64 `json:"rows"` // its rows (0 when the layout is not known tile by tile)
}

// tileGeom gives the columns and rows of each tile of candidate m, in tile
// order (per group, column tile, row tile: the backend's emission order).
// Only the im2col layout (also SDK's n = 1 and VW-SDK's fallback) without
// block-diagonal groups is known tile by tile; other layouts report every
// tile as a whole array (cols = C, rows nil), so they never share one.
func (j *job) tileGeom(m Mapping) (cols, rows []int64) {
	l, a := j.layer, j.arr
	C, R := int64(a.Cols), int64(a.Rows)
	ceff := int64(a.ceff())
	icg, ocg := int64(l.IC/l.Group), int64(l.OC/l.Group)
	k := int64(l.KH) * int64(l.KW) * icg
	ur, uc := ceilDiv(k, R), ceilDiv(ocg, ceff)
	cols = make([]int64, m.Tiles)
	if m.OutH != 1 || m.OutW != 1 || m.GroupsPerTile != 1 || m.RowTiles != ur || m.ColTiles != uc ||
		m.Tiles != int64(l.Group)*ur*uc {
		for i := range cols {
			cols[i] = C
		}
		return cols, nil
	}
	rows = make([]int64, m.Tiles)
	i := 0
	for range l.Group {
		for ct := range uc {
			for rt := range ur {
				cols[i] = min(ceff, ocg-ct*ceff) * int64(a.WeightCols)
				rows[i] = min(R, k-rt*R)
				i++
			}
		}
	}
	return cols, rows
}

// candGeom is tileGeom of candidate c, computed once per job (the
// searches ask for it at every step). Callers must not modify it.
func (j *job) candGeom(c int) (cols, rows []int64) {
	if j.geom == nil {
		j.geom = make([]tileGeo, len(j.cands))
	}
	g := &j.geom[c]
	if g.cols == nil {
		g.cols, g.rows = j.tileGeom(j.cands[c])
	}
	return g.cols, g.rows
}

// tileGeo is one candidate's tile geometry (candGeom), and its tile
// shapes counted (candKeys).
type tileGeo struct {
	cols, rows []int64
	keys       []geoKey
}

// packItem is one resident image to place.
type packItem struct {
	job, copy, tile int
	cols, rows      int64
}

// packResult is a placement of every resident image.
type packResult struct {
	arrays int64     // arrays used
	places [][]Place // per job: copy-major, then tile order; nil if not resident
	// refreshRows per job: the word lines of the arrays its images keep
	// programmed. An array's refresh rewrites as many rows as its
	// tallest image has; they are charged to that image's layer.
	refreshRows []int64
	// cols per job: the columns its images occupy (allocated cells / R).
	cols []int64
}

// pack places the resident images of plan opts by first-fit decreasing:
// images sorted by columns (wider first), then rows, then layer, copy and
// tile (so the result is deterministic); each goes to the first array that
// has room and holds no image of its layer, else to a new array. Images
// are laid out left to right on an array. It uses at most one array per
// image, so a plan whose images fit one per array always packs.
func pack(jobs []*job, opts []option, C int64) packResult {
	res := packResult{places: make([][]Place, len(jobs)), refreshRows: make([]int64, len(jobs)), cols: make([]int64, len(jobs))}
	var items []packItem
	exact := make([]bool, len(jobs))
	for i, j := range jobs {
		if !j.active || !opts[i].resident {
			continue
		}
		m := j.cands[opts[i].cand]
		cols, rows := j.candGeom(opts[i].cand)
		exact[i] = rows != nil
		res.places[i] = make([]Place, opts[i].copies*m.Tiles)
		for c := range opts[i].copies {
			for t := range cols {
				it := packItem{job: i, copy: int(c), tile: t, cols: cols[t]}
				if rows != nil {
					it.rows = rows[t]
				}
				items = append(items, it)
				res.cols[i] += cols[t]
			}
		}
	}
	// (job, copy, tile) is unique, so the order is total and any sort
	// gives it; the generic one is several times cheaper than
	// sort.SliceStable, and packing runs at every step of the packed
	// search's bisection.
	slices.SortFunc(items, func(x, y packItem) int {
		if c := cmp.Compare(y.cols, x.cols); c != 0 {
			return c
		}
		if c := cmp.Compare(y.rows, x.rows); c != 0 {
			return c
		}
		if c := cmp.Compare(x.job, y.job); c != 0 {
			return c
		}
		if c := cmp.Compare(x.copy, y.copy); c != 0 {
			return c
		}
		return cmp.Compare(x.tile, y.tile)
	})
	type arr struct {
		fill    int64
		jobs    []int
		tallest int // item index of the tallest image
	}
	var arrs []arr
	for k, it := range items {
		a := -1
		if it.cols < C {
			for x := range arrs {
				if arrs[x].fill+it.cols <= C && !slices.Contains(arrs[x].jobs, it.job) {
					a = x
					break
				}
			}
		}
		if a < 0 {
			arrs = append(arrs, arr{tallest: k})
			a = len(arrs) - 1
		}
		T := len(res.places[it.job]) / int(opts[it.job].copies)
		res.places[it.job][it.copy*T+it.tile] = Place{Array: int64(a), Col: arrs[a].fill, Cols: it.cols, Rows: it.rows}
		arrs[a].fill += it.cols
		arrs[a].jobs = append(arrs[a].jobs, it.job)
		if it.rows > items[arrs[a].tallest].rows {
			arrs[a].tallest = k
		}
	}
	res.arrays = int64(len(arrs))
	for _, a := range arrs {
		if it := items[a.tallest]; exact[it.job] {
			res.refreshRows[it.job] += it.rows
		}
	}
	// Layers whose tiles are whole arrays sit alone: all their rows.
	for i, j := range jobs {
		if j.active && opts[i].resident && !exact[i] {
			res.refreshRows[i] = opts[i].copies * j.cands[opts[i].cand].RowsWritten
		}
	}
	return res
}

// maxUnitsPerArray bounds the packed knapsack's resolution: its budget,
// and so the DP's work, grows with the units per array.
const maxUnitsPerArray = 8

// packUnit is the column granularity of a packed knapsack: the gcd of the
// array's columns and every candidate tile's columns, but at least
// C/maxUnitsPerArray (tile widths are then rounded up to whole units; the
// placement itself uses the exact widths). It returns C when no tile is
// narrower than an array (then packing changes nothing).
func packUnit(jobs []*job, C int64) int64 {
	u := C
	for _, j := range jobs {
		if !j.active {
			continue
		}
		for c := range j.cands {
			cols, _ := j.candGeom(c)
			for _, c := range cols {
				u = gcd(u, c)
			}
		}
	}
	if u < C {
		u = max(u, ceilDiv(C, maxUnitsPerArray))
	}
	return u
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// packedUnits is the knapsack cost of one copy of each candidate of j in
// units of u columns: its tiles' columns summed.
// It is computed once per unit (searchSizes asks for it at every λ).
func (j *job) packedUnits(u int64) []int64 {
	if j.unitsOf == u && j.units != nil {
		return j.units
	}
	out := make([]int64, len(j.cands))
	for c := range j.cands {
		cols, _ := j.candGeom(c)
		for _, x := range cols {
			out[c] += ceilDiv(x, u)
		}
	}
	j.unitsOf, j.units = u, out
	return out
}

// packScratch holds packFits' buffers, reused across the bisection.
type packScratch struct {
	runs []packRun
	fill []int64
	held []uint64 // per array, a bit per job: the jobs it holds
}

// packRun is n images of one job with the same columns and rows.
type packRun struct {
	cols, rows int64
	job        int
	n          int64
}

// geoKey is one (columns, rows) of a candidate's tiles and how many of
// its tiles have it.
type geoKey struct{ cols, rows, n int64 }

// candKeys is candidate c's tile shapes (candGeom) counted, in first
// appearance order.
func (j *job) candKeys(c int) []geoKey {
	cols, rows := j.candGeom(c)
	g := &j.geom[c]
	if g.keys != nil {
		return g.keys
	}
	g.keys = []geoKey{}
	for t, w := range cols {
		var r int64
		if rows != nil {
			r = rows[t]
		}
		k := slices.IndexFunc(g.keys, func(k geoKey) bool { return k.cols == w && k.rows == r })
		if k < 0 {
			g.keys = append(g.keys, geoKey{w, r, 0})
			k = len(g.keys) - 1
		}
		g.keys[k].n++
	}
	return g.keys
}

// packFits reports whether pack(jobs, opts, C) uses at most budget
// arrays, without placing anything: the searches only need the count.
//
// The count follows pack's first-fit decreasing exactly. An image as
// wide as an array never shares one (pack places only narrower images on
// a used array, and nothing fits beside it), so each takes an array of
// its own, and the arrays they take do not change which earlier array a
// narrower image goes to. pack places the narrower images in the order
// (columns, rows) descending, then job, copy and tile; the images of one
// job with the same columns and rows are alike for the count, so they
// are placed as a run. An image of a run cannot go to an array before
// the one its predecessor went to (those had no room or held the job
// then, and still do), nor to that one (it holds the job now).
func packFits(jobs []*job, opts []option, C, budget int64, sc *packScratch) bool {
	var full int64
	runs := sc.runs[:0]
	defer func() { sc.runs = runs }()
	for i, j := range jobs {
		if !j.active || !opts[i].resident {
			continue
		}
		k := opts[i].copies
		for _, g := range j.candKeys(opts[i].cand) {
			if g.cols >= C {
				full += k * g.n
			} else {
				runs = append(runs, packRun{g.cols, g.rows, i, k * g.n})
			}
		}
		if full > budget {
			return false
		}
	}
	// (columns, rows, job) is unique among the runs, so the order is total.
	slices.SortFunc(runs, func(x, y packRun) int {
		if c := cmp.Compare(y.cols, x.cols); c != 0 {
			return c
		}
		if c := cmp.Compare(y.rows, x.rows); c != 0 {
			return c
		}
		return cmp.Compare(x.job, y.job)
	})
	words := (len(jobs) + 63) / 64
	fill, held := sc.fill[:0], sc.held[:0]
	defer func() { sc.fill, sc.held = fill, held }()
	for _, r := range runs {
		w, bit := r.job/64, uint64(1)<<(r.job%64)
		x := 0
		for range r.n {
			for ; x < len(fill); x++ {
				if fill[x]+r.cols <= C && held[x*words+w]&bit == 0 {
					break
				}
			}
			if x == len(fill) {
				if full+int64(len(fill)) >= budget {
					return false // a new array would exceed the budget
				}
				fill = append(fill, 0)
				for range words {
					held = append(held, 0)
				}
			}
			fill[x] += r.cols
			held[x*words+w] |= bit
			x++
		}
	}
	return true
}
