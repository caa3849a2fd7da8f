package imaging

import (
	"context"
	"fmt"
)

// Streaming decoders (PNG, GIF, TIFF, BMP) write luma straight into the
// gray raster as rows come out of the decompressor: no RGBA image of the
// whole input ever exists, and peak memory is the raster plus buffers of a
// few rows. They check the context once per band of rows.

// grayWriter is the raster a streaming decoder fills. It starts without
// alpha; the first pixel that is not opaque turns it into a gray+alpha
// raster (the rows written so far get opaque alpha), so an RGBA input whose
// alpha is all opaque costs one byte a pixel, and one with transparency
// never more than the old and the new raster together (1.5 times the
// result).
type grayWriter struct {
	r       *raster
	scratch []byte // one row of (luma, alpha) samples
}

func newGrayWriter(w, h int, deep bool) *grayWriter {
	return &grayWriter{r: newRaster(w, h, false, deep)}
}

// pairs returns a scratch row for n pixels of (luma, alpha) samples in the
// raster's depth (2 or 4 bytes a pixel).
func (g *grayWriter) pairs(n int) []byte {
	k := 2 * n
	if g.r.Deep {
		k *= 2
	}
	if cap(g.scratch) < k {
		g.scratch = make([]byte, k)
	}
	return g.scratch[:k]
}

// putPairs stores n (luma, alpha) pixels of row y at x0, x0+dx, ...
func (g *grayWriter) putPairs(y, x0, dx int, p []byte) {
	r := g.r
	if !r.Alpha {
		if opaquePairs(p, r.Deep) {
			row := r.Pix[y*r.Stride:]
			if r.Deep {
				for i, x := 0, x0; i < len(p); i, x = i+4, x+dx {
					row[2*x], row[2*x+1] = p[i], p[i+1]
				}
			} else {
				for i, x := 0, x0; i < len(p); i, x = i+2, x+dx {
					row[x] = p[i]
				}
			}
			return
		}
		g.addAlpha()
		r = g.r
	}
	row := r.Pix[y*r.Stride:]
	if dx == 1 {
		copy(row[x0*r.bpp():], p)
		return
	}
	n := r.bpp()
	for i, x := 0, x0; i < len(p); i, x = i+n, x+dx {
		copy(row[x*n:x*n+n], p[i:i+n])
	}
}

func opaquePairs(p []byte, deep bool) bool {
	if deep {
		for i := 2; i < len(p); i += 4 {
			if p[i]&p[i+1] != 0xff {
				return false
			}
		}
		return true
	}
	a := byte(0xff)
	for i := 1; i < len(p); i += 2 {
		a &= p[i]
	}
	return a == 0xff
}

// addAlpha replaces the raster by a gray+alpha one, every pixel so far
// opaque.
func (g *grayWriter) addAlpha() {
	old := g.r
	r := newRaster(old.W, old.H, true, old.Deep)
	parallel(old.H, minRows, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			s, d := old.row(y), r.row(y)
			if old.Deep {
				for x := 0; x < old.W; x++ {
					d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = s[2*x], s[2*x+1], 0xff, 0xff
				}
				continue
			}
			for x, v := range s {
				d[2*x], d[2*x+1] = v, 0xff
			}
		}
	})
	g.r = r
}

// checkEvery is how many rows a streaming decoder converts between two
// looks at the context: a few milliseconds of work at most.
const checkEvery = 16

// canceled wraps a done context's error for the decoders.
func canceled(ctx context.Context, format string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("imaging: decode %s: %w", format, err)
	}
	return nil
}
