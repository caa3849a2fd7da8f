package imaging

// orient returns r transformed so that it displays upright for the EXIF
// orientation o (1..8). Orientation 1 returns r itself.
//
// For an upright output pixel (x, y), the stored pixel is:
//
//	1 (x, y)            2 (w-1-x, y)         3 (w-1-x, h-1-y)    4 (x, h-1-y)
//	5 (y, x)            6 (y, h-1-x)         7 (w-1-y, h-1-x)    8 (w-1-y, x)
//
// where w and h are the stored width and height (orientations 5-8 swap them).
func orient(r *raster, o int) *raster {
	if o <= 1 || o > 8 {
		return r
	}
	w, h := r.W, r.H
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	d := newRaster(dw, dh, r.Alpha, r.Deep)
	bpp := r.bpp()
	// src returns the stored coordinates of upright pixel (x, y).
	src := func(x, y int) (int, int) {
		switch o {
		case 2:
			return w - 1 - x, y
		case 3:
			return w - 1 - x, h - 1 - y
		case 4:
			return x, h - 1 - y
		case 5:
			return y, x
		case 6:
			return y, h - 1 - x
		case 7:
			return w - 1 - y, h - 1 - x
		default: // 8
			return w - 1 - y, x
		}
	}
	if bpp == 1 && o >= 5 {
		// Rotations read the source down its columns: go tile by tile so
		// the rows a tile touches stay in cache.
		const tile = 64
		parallel((dh+tile-1)/tile, 1, func(t0, t1 int) {
			for ty := t0 * tile; ty < min(dh, t1*tile); ty += tile {
				for tx := 0; tx < dw; tx += tile {
					for y := ty; y < min(dh, ty+tile); y++ {
						out := d.Pix[y*d.Stride:]
						sx, sy := src(tx, y)
						sx1, sy1 := src(tx+1, y)
						step := (sy1-sy)*r.Stride + (sx1 - sx)
						p := sy*r.Stride + sx
						for x := tx; x < min(dw, tx+tile); x++ {
							out[x] = r.Pix[p]
							p += step
						}
					}
				}
			}
		})
		return d
	}
	parallel(dh, minRows, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			out := d.row(y)
			// Along an output row the source moves by a constant step.
			sx0, sy0 := src(0, y)
			step := 0
			if dw > 1 {
				sx1, sy1 := src(1, y)
				step = (sy1-sy0)*r.Stride + (sx1-sx0)*bpp
			}
			p := sy0*r.Stride + sx0*bpp
			if bpp == 1 {
				for x := range out {
					out[x] = r.Pix[p]
					p += step
				}
				continue
			}
			for x := 0; x < dw; x++ {
				copy(out[x*bpp:x*bpp+bpp], r.Pix[p:p+bpp])
				p += step
			}
		}
	})
	return d
}
