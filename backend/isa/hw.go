package isa

import (
	"encoding/hex"
	"fmt"

	"pimc/hw"
)

// CheckHardware checks a (valid) program against a hardware description:
// the fingerprint must match, and every array index, weight image and
// input width must fit the pools. Errors name the instruction or image.
func (p *Program) CheckHardware(h *hw.Hardware) error {
	fp, err := h.Fingerprint()
	if err != nil {
		return err
	}
	if fp != p.Fingerprint {
		return fmt.Errorf("program was compiled for hardware %q (fingerprint %s…), not for %q (fingerprint %s…); recompile it for this hardware",
			p.HWName, hex.EncodeToString(p.Fingerprint[:6]), h.Name, hex.EncodeToString(fp[:6]))
	}
	pool := func(e Engine) *hw.Pool {
		if e == SRAM {
			return &h.SRAM
		}
		return &h.EDRAM
	}
	for i := range p.Images {
		im := &p.Images[i]
		pl := pool(im.Pool)
		if int(im.Rows) > pl.Rows {
			return fmt.Errorf("image %d: %d rows, the %s arrays have %d", i, im.Rows, im.Pool, pl.Rows)
		}
		if cols := len(im.Chans) * ColsPerChannel(pl, int(im.Planes)); cols > pl.Cols {
			return fmt.Errorf("image %d: %d channels × %d planes need %d columns, the %s arrays have %d", i, len(im.Chans), im.Planes, cols, im.Pool, pl.Cols)
		}
	}
	for e := Engine(0); e < NumEngines; e++ {
		if !e.IsPool() {
			continue
		}
		pl := pool(e)
		for j, in := range p.Streams[e].Code {
			switch in.Op {
			case OpWPROG, OpREFRESH, OpMVM:
				if a := in.Args[0]; a >= uint64(pl.Arrays) {
					return fmt.Errorf("stream %s, instruction %d (%s): array %d, the pool has %d", e, j, in.Op, a, pl.Arrays)
				}
				if in.Op == OpWPROG {
					// The image's columns must lie inside the array.
					im := &p.Images[in.Args[1]]
					cols := uint64(len(im.Chans) * ColsPerChannel(pl, int(im.Planes)))
					if c0 := in.Args[2]; c0+cols > uint64(pl.Cols) {
						return fmt.Errorf("stream %s, instruction %d (wprog): image %d at column %d needs columns %d..%d, the %s arrays have %d",
							e, j, in.Args[1], c0, c0, c0+cols-1, e, pl.Cols)
					}
				}
			}
		}
	}
	return nil
}

// ColsPerChannel is the array columns one channel of an image with the
// given bit planes occupies: ⌈planes / weight_bits_per_cell⌉ on SRAM, the
// pool's cells_per_weight (a +/− pair) on eDRAM.
func ColsPerChannel(p *hw.Pool, planes int) int {
	if p.WeightEncoding == hw.EncodingTernaryPair {
		return p.CellsPerWeight
	}
	bpc := max(p.WeightBitsPerCell, 1)
	return (planes + bpc - 1) / bpc
}
