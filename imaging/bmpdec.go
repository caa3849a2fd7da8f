package imaging

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"math/bits"
)

// The BMP decoder: Windows (BITMAPINFOHEADER and its V2-V5 extensions) and
// OS/2 1.x headers; 1, 2, 4 and 8-bit palettes, RLE8 and RLE4, 16-bit
// (5-5-5 by default, any bit fields), 24-bit, 32-bit (BGRX, or any bit
// fields with alpha), bottom-up or top-down. Rows are read from the input
// straight into the gray raster. Samples of fewer than 8 bits are widened
// as Pillow does (v*255/max); pixels that RLE skips get palette entry 0,
// also as Pillow does.

func bmpCorrupt(format string, args ...any) error {
	return newError(ErrCorrupt, fmt.Errorf("bmp: "+format, args...))
}

func bmpUnsupported(format string, args ...any) error {
	return newError(ErrUnsupportedFormat, fmt.Errorf("bmp: "+format, args...))
}

type bmpField struct {
	shift, width uint
	mask         uint32
}

func newBMPField(mask uint32) bmpField {
	if mask == 0 {
		return bmpField{}
	}
	s := uint(bits.TrailingZeros32(mask))
	return bmpField{shift: s, width: uint(bits.Len32(mask >> s)), mask: mask}
}

// get extracts the field from v, scaled to 8 bits by v*255/max (Pillow's
// widening of 5 and 6-bit samples).
func (f bmpField) get(v uint32) uint8 {
	if f.mask == 0 {
		return 0
	}
	x := (v & f.mask) >> f.shift
	m := uint32(1)<<f.width - 1
	if f.width > 8 {
		return uint8(x >> (f.width - 8))
	}
	return uint8(x * 255 / m)
}

type bmpDec struct {
	data        []byte
	w, h        int
	topDown     bool
	bpp         int
	compression uint32
	off         int // pixel data
	lut         [256]uint8
	r, g, b, a  bmpField
	out         *grayWriter
}

func decodeBMP(ctx context.Context, data []byte) (*raster, error) {
	d, err := bmpHeader(data)
	if err != nil {
		return nil, err
	}
	d.out = newGrayWriter(d.w, d.h, false)
	if d.compression == 1 || d.compression == 2 {
		err = d.rle(ctx)
	} else {
		err = d.rows(ctx)
	}
	if err != nil {
		return nil, err
	}
	return d.out.r, nil
}

// bmpConfig reads the header only.
func bmpConfig(data []byte) (image.Config, error) {
	d, err := bmpHeader(data)
	if err != nil {
		return image.Config{}, err
	}
	return image.Config{ColorModel: color.GrayModel, Width: d.w, Height: d.h}, nil
}

// bmpHeader reads and checks the headers and the palette.
func bmpHeader(data []byte) (*bmpDec, error) {
	if len(data) < 26 || !hasPrefix(data, "BM") {
		return nil, bmpCorrupt("short header")
	}
	le := binary.LittleEndian
	d := &bmpDec{data: data, off: int(le.Uint32(data[10:]))}
	hs := int(le.Uint32(data[14:]))
	if hs < 12 || 14+hs > len(data) {
		return nil, bmpCorrupt("header size %d", hs)
	}
	hdr := data[14 : 14+hs]
	palEntry := 4
	var colors int
	if hs == 12 { // OS/2 1.x
		d.w, d.h = int(le.Uint16(hdr[4:])), int(int16(le.Uint16(hdr[6:])))
		d.bpp = int(le.Uint16(hdr[10:]))
		palEntry = 3
	} else {
		if hs < 40 {
			return nil, bmpUnsupported("%d-byte info header", hs)
		}
		d.w, d.h = int(int32(le.Uint32(hdr[4:]))), int(int32(le.Uint32(hdr[8:])))
		d.bpp = int(le.Uint16(hdr[14:]))
		d.compression = le.Uint32(hdr[16:])
		colors = int(le.Uint32(hdr[32:]))
	}
	if d.h < 0 {
		d.h, d.topDown = -d.h, true
	}
	if d.w <= 0 || d.h <= 0 {
		return nil, bmpCorrupt("size %dx%d", d.w, d.h)
	}
	pal := 14 + hs
	switch d.compression {
	case 0: // BI_RGB
		switch d.bpp {
		case 1, 2, 4, 8, 24:
		case 16:
			d.r, d.g, d.b = newBMPField(0x7c00), newBMPField(0x3e0), newBMPField(0x1f)
		case 32:
			d.r, d.g, d.b = newBMPField(0xff0000), newBMPField(0xff00), newBMPField(0xff)
		default:
			return nil, bmpUnsupported("%d bits per pixel", d.bpp)
		}
	case 1, 2: // RLE8, RLE4
		if d.bpp != map[uint32]int{1: 8, 2: 4}[d.compression] || d.topDown {
			return nil, bmpCorrupt("RLE compression %d with %d bits per pixel", d.compression, d.bpp)
		}
	case 3, 6: // BI_BITFIELDS, BI_ALPHABITFIELDS
		if d.bpp != 16 && d.bpp != 32 {
			return nil, bmpUnsupported("bit fields with %d bits per pixel", d.bpp)
		}
		masks := hdr[40:]
		n := 3
		if d.compression == 6 {
			n = 4
		}
		if hs == 40 { // masks follow the header
			if pal+4*n > len(data) {
				return nil, bmpCorrupt("no bit masks")
			}
			masks = data[pal : pal+4*n]
			pal += 4 * n
		} else if hs >= 56 {
			n = 4
		}
		if len(masks) < 4*3 {
			return nil, bmpCorrupt("no bit masks")
		}
		d.r, d.g, d.b = newBMPField(le.Uint32(masks)), newBMPField(le.Uint32(masks[4:])), newBMPField(le.Uint32(masks[8:]))
		if n == 4 && len(masks) >= 16 {
			d.a = newBMPField(le.Uint32(masks[12:]))
		}
	case 4, 5:
		return nil, bmpUnsupported("embedded %s", map[uint32]string{4: "JPEG", 5: "PNG"}[d.compression])
	default:
		return nil, bmpUnsupported("compression %d", d.compression)
	}
	if d.bpp <= 8 {
		if colors <= 0 || colors > 1<<d.bpp {
			colors = 1 << d.bpp
		}
		for i := 0; i < colors; i++ {
			e := pal + i*palEntry
			if e+3 > len(data) || e+3 > d.off {
				break // a short palette: the rest is black
			}
			d.lut[i] = luma8(data[e+2], data[e+1], data[e])
		}
	}
	if d.off < 14+hs || d.off > len(data) {
		return nil, bmpCorrupt("pixel data offset %d", d.off)
	}
	return d, nil
}

// rows decodes uncompressed rows.
func (d *bmpDec) rows(ctx context.Context) error {
	stride := (d.w*d.bpp + 31) / 32 * 4
	if int64(stride)*int64(d.h) > int64(len(d.data)-d.off) {
		return bmpCorrupt("%d bytes of pixels for %dx%d at %d bits", len(d.data)-d.off, d.w, d.h, d.bpp)
	}
	le := binary.LittleEndian
	for i := 0; i < d.h; i++ {
		if i%checkEvery == 0 {
			if err := canceled(ctx, "bmp"); err != nil {
				return err
			}
		}
		src := d.data[d.off+i*stride : d.off+(i+1)*stride]
		y := d.h - 1 - i
		if d.topDown {
			y = i
		}
		switch {
		case d.bpp <= 8:
			dst := d.out.r.row(y)
			mask := uint8(1<<d.bpp - 1)
			for x := 0; x < d.w; x++ {
				bit := x * d.bpp
				v := src[bit>>3] >> (8 - d.bpp - bit&7) & mask
				dst[x] = d.lut[v]
			}
		case d.bpp == 24:
			dst := d.out.r.row(y)
			for x := range dst {
				s := src[3*x : 3*x+3 : 3*x+3]
				dst[x] = luma8(s[2], s[1], s[0])
			}
		default:
			p := d.out.pairs(d.w)
			for x := 0; x < d.w; x++ {
				var v uint32
				if d.bpp == 16 {
					v = uint32(le.Uint16(src[2*x:]))
				} else {
					v = le.Uint32(src[4*x:])
				}
				a := uint8(0xff)
				if d.a.mask != 0 {
					a = d.a.get(v)
				}
				p[2*x], p[2*x+1] = luma8(d.r.get(v), d.g.get(v), d.b.get(v)), a
			}
			d.out.putPairs(y, 0, 1, p)
		}
	}
	return nil
}

// rle decodes RLE8 and RLE4 data: runs and literal runs of palette
// indices, end-of-line, end-of-bitmap and delta escapes.
func (d *bmpDec) rle(ctx context.Context) error {
	src := d.data[d.off:]
	x, i := 0, 0 // column, and row in file order (bottom-up)
	fill := d.lut[0]
	put := func(idx uint8) {
		if x < d.w && i < d.h {
			d.out.r.row(d.h - 1 - i)[x] = d.lut[idx]
		}
		x++
	}
	// skipTo fills every pixel up to (tx, ti) in file order with entry 0.
	skipTo := func(tx, ti int) {
		for i < min(ti, d.h) {
			row := d.out.r.row(d.h - 1 - i)
			for ; x < d.w; x++ {
				row[x] = fill
			}
			x, i = 0, i+1
			if i%checkEvery == 0 && ctx.Err() != nil {
				return
			}
		}
		if i < d.h {
			row := d.out.r.row(d.h - 1 - i)
			for ; x < min(tx, d.w); x++ {
				row[x] = fill
			}
		}
	}
	rows := 0
	for len(src) >= 2 && i < d.h {
		n, c := int(src[0]), src[1]
		src = src[2:]
		if n > 0 { // a run of n pixels
			n = min(n, max(0, d.w-x))
			for k := 0; k < n; k++ {
				if d.bpp == 8 {
					put(c)
				} else if k&1 == 0 {
					put(c >> 4)
				} else {
					put(c & 15)
				}
			}
			continue
		}
		switch c {
		case 0: // end of line
			skipTo(0, i+1)
			rows++
			if rows%checkEvery == 0 {
				if err := canceled(ctx, "bmp"); err != nil {
					return err
				}
			}
		case 1: // end of bitmap
			skipTo(d.w, d.h)
			return canceled(ctx, "bmp")
		case 2: // delta
			if len(src) < 2 {
				return bmpCorrupt("truncated RLE delta")
			}
			tx, ti := x+int(src[0]), i+int(src[1])
			src = src[2:]
			skipTo(tx, ti)
			if err := canceled(ctx, "bmp"); err != nil {
				return err
			}
		default: // c literal pixels, padded to 16 bits
			n := int(c)
			size := n
			if d.bpp == 4 {
				size = (n + 1) / 2
			}
			if len(src) < size {
				return bmpCorrupt("truncated RLE literal")
			}
			for k := 0; k < n; k++ {
				if d.bpp == 8 {
					put(src[k])
				} else if k&1 == 0 {
					put(src[k/2] >> 4)
				} else {
					put(src[k/2] & 15)
				}
			}
			src = src[size+size&1:]
		}
	}
	skipTo(d.w, d.h) // data ended without end-of-bitmap: the rest is entry 0
	return canceled(ctx, "bmp")
}
