package cost

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Layout of the utilisation picture, in SVG user units (pixels).
const (
	svgCell    = 40 // array square
	svgGap     = 6
	svgPerRow  = 16 // arrays per grid row
	svgMargin  = 20
	svgLine    = 16 // text line height
	svgWidth   = 2*svgMargin + svgPerRow*(svgCell+svgGap) + 120
	svgNameMax = 48 // longest layer name printed in a key line
)

// Fill colours: resident arrays in their pool's colour (two shades,
// alternating by layer), the streaming region in one colour for both
// pools, free arrays white.
var svgFill = map[string]string{
	"sram":     "#3182bd",
	"edram":    "#e6550d",
	"sram2":    "#08519c",
	"edram2":   "#a63603",
	UseStream:  "#756bb1",
	"outline":  "#555555",
	"free":     "#ffffff",
	"freeLine": "#bbbbbb",
}

// WriteUtilisationSVG draws the placement of both pools: one square per
// array (arrays numbered row by row from the top left), filled from the
// bottom in proportion to the fraction of its cells that hold weights,
// coloured by use, and labelled with the index of the layer that occupies
// it (L3; L3+2 when two more layers' images are packed beside it, each
// drawn as a strip at its columns) or S for the streaming region, which streamed layers use in
// turn. A legend and a key from labels to layer names follow. The bytes
// depend only on r.
func WriteUtilisationSVG(w io.Writer, r *Report) error {
	var b strings.Builder
	y := svgMargin
	pools := []*PoolReport{&r.SRAM, &r.EDRAM}
	title := r.Model
	if r.Label != "" {
		title += " (" + r.Label + ")"
	}
	// Body first (its height decides the header), then wrap.
	text(&b, svgMargin, y+14, 16, "bold", fmt.Sprintf("Array utilisation: %s on %s", title, r.Hardware))
	y += 30
	for _, p := range pools {
		name := map[string]string{"sram": "SRAM-PIM (INT4 path)", "edram": "eDRAM-PIM (TB path)"}[p.Pool]
		text(&b, svgMargin, y+12, 13, "bold", fmt.Sprintf("%s: %d of %d arrays used (%d resident, %d streaming), cell utilisation %s",
			name, p.UsedArrays, p.Arrays, p.ResidentArrays, p.StreamArrays, pct(p.CellUtilisation)))
		y += 20
		for i, a := range p.Placement {
			x := svgMargin + (i%svgPerRow)*(svgCell+svgGap)
			yy := y + (i/svgPerRow)*(svgCell+svgGap)
			cell(&b, p.Pool, a, int64(p.Cols), x, yy)
		}
		rows := (len(p.Placement) + svgPerRow - 1) / svgPerRow
		y += rows*(svgCell+svgGap) + 14
	}

	// Legend.
	for i, l := range []struct{ fill, stroke, label string }{
		{svgFill["sram"], svgFill["outline"], "resident on SRAM-PIM"},
		{svgFill["edram"], svgFill["outline"], "resident on eDRAM-PIM"},
		{svgFill[UseStream], svgFill["outline"], "streaming region (S)"},
		{svgFill["free"], svgFill["freeLine"], "free"},
	} {
		x := svgMargin + i*190
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="14" fill="%s" stroke="%s"/>`+"\n", x, y, l.fill, l.stroke)
		text(&b, x+20, y+12, 12, "", l.label)
	}
	y += 22
	text(&b, svgMargin, y+12, 12, "", "Resident arrays: one strip per weight image at its columns (Lx+n: n more layers packed), filled to its rows holding weights.")
	y += svgLine + 8

	// Key: every layer that occupies an array, in layer order.
	text(&b, svgMargin, y+12, 13, "bold", "Key")
	y += svgLine + 2
	for i, l := range r.Layers {
		if l.SRAM.Mode != UseResident && l.EDRAM.Mode != UseResident {
			continue
		}
		text(&b, svgMargin, y+12, 12, "", clipLine(fmt.Sprintf("L%d  %s  (sram %s, edram %s)", i, clip(l.Name),
			keyPart(l.SRAM), keyPart(l.EDRAM))))
		y += svgLine
	}
	for _, p := range pools {
		if len(p.StreamLayers) == 0 {
			continue
		}
		names := p.StreamLayers
		more := ""
		if len(names) > 4 {
			names, more = names[:4], fmt.Sprintf(", … (%d layers in all)", len(p.StreamLayers))
		}
		text(&b, svgMargin, y+12, 12, "", clipLine(fmt.Sprintf("S on %s, in turn: %s%s", p.Pool, strings.Join(names, ", "), more)))
		y += svgLine
	}
	y += svgMargin

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n",
		svgWidth, y, svgWidth, y)
	fmt.Fprintf(bw, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", svgWidth, y)
	bw.WriteString(b.String())
	bw.WriteString("</svg>\n")
	return bw.Flush()
}

// cell draws one array: outline, utilisation fill, label and a tooltip.
func cell(b *strings.Builder, pool string, a ArrayUse, cols int64, x, y int) {
	tip := fmt.Sprintf("%s array %d: free", pool, a.Array)
	fill, label := svgFill["free"], ""
	switch a.Use {
	case UseResident:
		fill, label = svgFill[pool], fmt.Sprintf("L%d", a.LayerIndex)
		var names []string
		for _, im := range a.Images {
			names = append(names, fmt.Sprintf("%s (L%d) columns %d..%d", im.Layer, im.LayerIndex, im.Col, im.Col+im.Cols-1))
		}
		if len(a.Images) > 1 {
			label = fmt.Sprintf("L%d+%d", a.LayerIndex, len(a.Images)-1)
		}
		tip = fmt.Sprintf("%s array %d (resident): %s; %s of cells hold weights", pool, a.Array, strings.Join(names, ", "), pct(a.Utilisation))
	case UseStream:
		fill, label = svgFill[UseStream], "S"
		tip = fmt.Sprintf("%s array %d: streaming region, %s of cells hold weights on average", pool, a.Array, pct(a.Utilisation))
	}
	fmt.Fprintf(b, `<g class="array" data-pool="%s" data-array="%d">`, pool, a.Array)
	b.WriteString("<title>")
	escape(b, tip)
	b.WriteString("</title>")
	stroke, dash := svgFill["outline"], ""
	if a.Use == UseFree {
		stroke, dash = svgFill["freeLine"], ` stroke-dasharray="3,2"`
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#ffffff" stroke="%s"%s/>`, x, y, svgCell, svgCell, stroke, dash)
	if a.Use == UseResident && len(a.Images) > 0 && cols > 0 {
		// Column packing: each image is a strip at its columns, filled to
		// its own utilisation; neighbouring layers alternate two shades.
		for _, im := range a.Images {
			f := svgFill[pool]
			if im.LayerIndex%2 == 1 {
				f = svgFill[pool+"2"]
			}
			x0 := x + int(im.Col*svgCell/cols)
			x1 := x + int((im.Col+im.Cols)*svgCell/cols)
			if h := int(im.Utilisation*svgCell + 0.5); h > 0 && x1 > x0 {
				fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" fill-opacity="0.85" stroke="#ffffff" stroke-width="0.5"/>`,
					x0, y+svgCell-h, x1-x0, h, f)
			}
		}
	} else if h := int(a.Utilisation*svgCell + 0.5); a.Use != UseFree && h > 0 {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" fill-opacity="0.85"/>`, x, y+svgCell-h, svgCell, h, fill)
	}
	if label != "" {
		fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11" text-anchor="middle" fill="#000000">`, x+svgCell/2, y+svgCell/2+4)
		escape(b, label)
		b.WriteString("</text>")
	}
	b.WriteString("</g>\n")
}

func text(b *strings.Builder, x, y, size int, weight, s string) {
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="%d"`, x, y, size)
	if weight != "" {
		fmt.Fprintf(b, ` font-weight="%s"`, weight)
	}
	b.WriteString(">")
	escape(b, s)
	b.WriteString("</text>\n")
}

func escape(b *strings.Builder, s string) {
	// xml.EscapeText only fails when the writer does; a Builder never does.
	_ = xml.EscapeText(b, []byte(s))
}

func keyPart(p PathCost) string {
	switch p.Mode {
	case UseResident:
		return fmt.Sprintf("%d arrays, %s", p.Arrays, pct(p.Utilisation))
	case "streamed":
		return "streamed"
	}
	return "-"
}

func clip(s string) string {
	if r := []rune(s); len(r) > svgNameMax {
		return string(r[:svgNameMax-1]) + "…"
	}
	return s
}

// clipLine keeps a key line within the picture's width (about 130
// characters of 12-pixel text).
func clipLine(s string) string {
	const most = 125
	if r := []rune(s); len(r) > most {
		return string(r[:most-1]) + "…"
	}
	return s
}
