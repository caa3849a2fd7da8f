package imaging

// The order of blocks in a scan (T.81 A.2), the same for every entropy
// coder: an interleaved scan visits MCUs in raster order and, in each, the
// h x v blocks of each of its components; a scan of one component visits
// that component's own blocks in raster order (not padded to whole MCUs).
// A restart marker comes after every ri MCUs (a block is the MCU of a
// one-component scan).

// blockCoder decodes the blocks of one scan.
type blockCoder interface {
	// block decodes the next block of the scan's i-th component into blk
	// (natural order), setting the zig-zag positions of nonzero AC
	// coefficients in nz.
	block(blk *[64]int16, nz *uint64, i int) error
	// restart consumes a restart marker and resets the coder.
	restart() error
	// overrun reports whether the coder read past the scan's data.
	overrun() bool
	// end returns the position of the marker that ends the scan's data.
	end() int
}

// iterate drives bc over the blocks of scan sc: into the kept coefficients
// (d.coef), or, for a streamed file, into row buffers handed to the sink
// row by row.
func (d *jpegDecoder) iterate(sc *jpegScan, bc blockCoder) error {
	h := &d.hdr
	var scratch [64]int16
	var snz uint64
	mcus := 0
	restart := func() error {
		if d.ri > 0 && mcus > 0 && mcus%d.ri == 0 {
			if err := bc.restart(); err != nil {
				return err
			}
		}
		mcus++
		return nil
	}
	// endRow checks a finished row of MCUs and hands a streamed one over.
	endRow := func(rb *mcuRow) error {
		if bc.overrun() {
			return corruptf("unexpected end of data")
		}
		if err := d.ctxErr(); err != nil {
			return err
		}
		if rb != nil {
			d.pool.send(rb, true)
		}
		return d.pool.err()
	}
	// dest is where block (bx, by) of component ci goes: the row buffer
	// (y its block row within the row of MCUs), the kept coefficients, or
	// nowhere.
	dest := func(ci int, rb *mcuRow, y, bx, by int) (*[64]int16, *uint64) {
		c := &h.comps[ci]
		switch {
		case !d.want[ci]:
			return &scratch, &snz
		case rb != nil:
			k := y*c.pw + bx
			return (*[64]int16)(rb.blk[ci][64*k:]), &rb.nz[ci][k]
		default:
			return (*[64]int16)(d.coef[ci][64*(by*c.pw+bx):]), &snz
		}
	}
	if len(sc.comps) == 1 {
		ci := sc.comps[0]
		c := &h.comps[ci]
		var rb *mcuRow
		for by := 0; by < c.bh; by++ {
			if d.stream {
				// Only a gray frame streams a one-component scan: a row
				// of blocks is a row of MCUs.
				rb = d.rowBuffer()
				rb.y = by
			}
			for bx := 0; bx < c.bw; bx++ {
				if err := restart(); err != nil {
					return err
				}
				blk, nz := dest(ci, rb, 0, bx, by)
				if err := bc.block(blk, nz, 0); err != nil {
					return err
				}
			}
			if err := endRow(rb); err != nil {
				return err
			}
		}
		return nil
	}
	for my := 0; my < h.my; my++ {
		var rb *mcuRow
		if d.stream {
			rb = d.rowBuffer()
			rb.y = my
		}
		for mx := 0; mx < h.mx; mx++ {
			if err := restart(); err != nil {
				return err
			}
			for i, ci := range sc.comps {
				c := &h.comps[ci]
				for y := 0; y < c.v; y++ {
					for x := 0; x < c.h; x++ {
						blk, nz := dest(ci, rb, y, mx*c.h+x, my*c.v+y)
						if err := bc.block(blk, nz, i); err != nil {
							return err
						}
					}
				}
			}
		}
		if err := endRow(rb); err != nil {
			return err
		}
	}
	return nil
}

// rowBuffer returns a cleared buffer for one row of MCUs of the wanted
// components.
func (d *jpegDecoder) rowBuffer() *mcuRow {
	return d.pool.buffer(func() *mcuRow {
		h := &d.hdr
		r := &mcuRow{blk: make([][]int16, len(h.comps)), nz: make([][]uint64, len(h.comps))}
		for i, c := range h.comps {
			if d.want[i] {
				r.blk[i] = make([]int16, c.pw*c.v*64)
				r.nz[i] = make([]uint64, c.pw*c.v)
			}
		}
		return r
	})
}
