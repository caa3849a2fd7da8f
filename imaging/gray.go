package imaging

import (
	"image"
	"image/color"
	"image/draw"
)

// ITU-R BT.601 luma in 16-bit fixed point, exactly as Pillow's "L"
// conversion: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, i.e.
// R*299/1000 + G*587/1000 + B*114/1000 rounded. The weights sum to 2^16, so
// a gray pixel keeps its value.
const (
	lumaR = 19595
	lumaG = 38470
	lumaB = 7471
)

func luma8(r, g, b uint8) uint8 {
	return uint8((lumaR*uint32(r) + lumaG*uint32(g) + lumaB*uint32(b) + 1<<15) >> 16)
}

func luma16(r, g, b uint16) uint16 {
	return uint16((lumaR*uint32(r) + lumaG*uint32(g) + lumaB*uint32(b) + 1<<15) >> 16)
}

// minRows is the least number of rows worth a goroutine.
const minRows = 64

// toGray converts a decoded image to the gray raster. Planes that already
// are luma (a JPEG's or lossy WebP's Y plane, gray images) are used without
// a copy. Alpha is kept only when some pixel is not opaque; 16-bit inputs
// give 16-bit rasters.
func toGray(img image.Image) *raster {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.YCbCr:
		return &raster{W: w, H: h, Pix: m.Y[m.YOffset(b.Min.X, b.Min.Y):], Stride: m.YStride}
	case *image.Gray:
		return &raster{W: w, H: h, Pix: m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], Stride: m.Stride}
	case *image.Gray16:
		return &raster{W: w, H: h, Deep: true, Pix: m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], Stride: m.Stride}
	case *image.NYCbCrA:
		if opaque(m.A[m.AOffset(b.Min.X, b.Min.Y):], m.AStride, w, h, 1, 0) {
			return &raster{W: w, H: h, Pix: m.Y[m.YOffset(b.Min.X, b.Min.Y):], Stride: m.YStride}
		}
		r := newRaster(w, h, true, false)
		parallel(h, minRows, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				ys := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
				as := m.A[m.AOffset(b.Min.X, b.Min.Y+y):]
				d := r.row(y)
				for x := 0; x < w; x++ {
					d[2*x], d[2*x+1] = ys[x], as[x]
				}
			}
		})
		return r
	case *image.NRGBA:
		return rgba8(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, false)
	case *image.RGBA:
		return rgba8(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, true)
	case *image.NRGBA64:
		return rgba16(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, false)
	case *image.RGBA64:
		return rgba16(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, true)
	case *image.Paletted:
		return paletted(m)
	case *image.CMYK:
		r := newRaster(w, h, false, false)
		parallel(h, minRows, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				s, d := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):], r.row(y)
				for x := range d {
					cr, cg, cb := color.CMYKToRGB(s[4*x], s[4*x+1], s[4*x+2], s[4*x+3])
					d[x] = luma8(cr, cg, cb)
				}
			}
		})
		return r
	}
	// Anything else (rare): through NRGBA64.
	n := image.NewNRGBA64(image.Rect(0, 0, w, h))
	draw.Draw(n, n.Rect, img, b.Min, draw.Src)
	r := rgba16(n.Pix, n.Stride, w, h, false)
	return r
}

// opaque reports whether every alpha sample (8-bit, at byte off of each
// step-byte pixel) is 255.
func opaque(pix []byte, stride, w, h, step, off int) bool {
	for y := 0; y < h; y++ {
		row := pix[y*stride:]
		for x := 0; x < w; x++ {
			if row[x*step+off] != 0xff {
				return false
			}
		}
	}
	return true
}

// rgba8 converts 8-bit RGBA pixels, premultiplied or not.
func rgba8(pix []byte, stride, w, h int, premul bool) *raster {
	alpha := !opaque(pix, stride, w, h, 4, 3)
	r := newRaster(w, h, alpha, false)
	parallel(h, minRows, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			s, d := pix[y*stride:y*stride+4*w], r.row(y)
			if !alpha {
				for x := range d {
					p := s[4*x : 4*x+3 : 4*x+3]
					d[x] = luma8(p[0], p[1], p[2])
				}
				continue
			}
			for x := 0; x < w; x++ {
				p := s[4*x : 4*x+4 : 4*x+4]
				l, a := luma8(p[0], p[1], p[2]), p[3]
				if premul && a != 0 && a != 0xff {
					l = uint8(min(255, (uint32(l)*255+uint32(a)/2)/uint32(a)))
				}
				d[2*x], d[2*x+1] = l, a
			}
		}
	})
	return r
}

// rgba16 converts 16-bit big-endian RGBA pixels, premultiplied or not.
func rgba16(pix []byte, stride, w, h int, premul bool) *raster {
	alpha := false
	for y := 0; y < h && !alpha; y++ {
		row := pix[y*stride:]
		for x := 0; x < w; x++ {
			if row[8*x+6] != 0xff || row[8*x+7] != 0xff {
				alpha = true
				break
			}
		}
	}
	r := newRaster(w, h, alpha, true)
	parallel(h, minRows, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			s, d := pix[y*stride:y*stride+8*w], r.row(y)
			for x := 0; x < w; x++ {
				p := s[8*x : 8*x+8 : 8*x+8]
				l := luma16(uint16(p[0])<<8|uint16(p[1]), uint16(p[2])<<8|uint16(p[3]), uint16(p[4])<<8|uint16(p[5]))
				if !alpha {
					d[2*x], d[2*x+1] = uint8(l>>8), uint8(l)
					continue
				}
				a := uint16(p[6])<<8 | uint16(p[7])
				if premul && a != 0 && a != 0xffff {
					l = uint16(min(0xffff, (uint32(l)*0xffff+uint32(a)/2)/uint32(a)))
				}
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = uint8(l>>8), uint8(l), p[6], p[7]
			}
		}
	})
	return r
}

// paletted converts through a luma table of the palette.
func paletted(m *image.Paletted) *raster {
	var lut [256][2]uint8
	alpha := false
	for i := range lut {
		if i >= len(m.Palette) {
			lut[i] = [2]uint8{0, 0xff} // out-of-range index: black, as decoders treat it
			continue
		}
		c := color.NRGBAModel.Convert(m.Palette[i]).(color.NRGBA)
		lut[i] = [2]uint8{luma8(c.R, c.G, c.B), c.A}
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	for y := 0; y < h && !alpha; y++ {
		row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
		for _, i := range row {
			if lut[i][1] != 0xff {
				alpha = true
				break
			}
		}
	}
	r := newRaster(w, h, alpha, false)
	parallel(h, minRows, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			s, d := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w], r.row(y)
			if alpha {
				for x, i := range s {
					d[2*x], d[2*x+1] = lut[i][0], lut[i][1]
				}
			} else {
				for x, i := range s {
					d[x] = lut[i][0]
				}
			}
		}
	})
	return r
}

// toGrayManaged is toGray with the colour transform of an embedded
// profile applied before luma (nil: toGray). Gray images take a gray
// profile, everything else an RGB one; CMYK is never transformed.
func toGrayManaged(img image.Image, ct *colorTransform) *raster {
	if ct == nil {
		return toGray(img)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.Gray:
		if !ct.gray {
			return toGray(img)
		}
		r := newRaster(w, h, false, false)
		parallel(h, minRows, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				s, d := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w], r.row(y)
				for x, v := range s {
					d[x] = ct.gray8lut[v]
				}
			}
		})
		return r
	case *image.Gray16:
		if !ct.gray {
			return toGray(img)
		}
		r := newRaster(w, h, false, true)
		parallel(h, minRows, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				s, d := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):], r.row(y)
				for x := 0; x < w; x++ {
					l := ct.luma16(uint16(s[2*x])<<8|uint16(s[2*x+1]), 0, 0)
					d[2*x], d[2*x+1] = uint8(l>>8), uint8(l)
				}
			}
		})
		return r
	case *image.YCbCr:
		if ct.gray {
			return toGray(img)
		}
		r := newRaster(w, h, false, false)
		parallel(h, minRows, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				d := r.row(y)
				for x := 0; x < w; x++ {
					yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
					cr, cg, cb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
					d[x] = ct.luma8(cr, cg, cb)
				}
			}
		})
		return r
	case *image.NRGBA, *image.RGBA:
		if ct.gray {
			return toGray(img)
		}
		var pix []byte
		var stride int
		premul := false
		if n, ok := m.(*image.NRGBA); ok {
			pix, stride = n.Pix[n.PixOffset(b.Min.X, b.Min.Y):], n.Stride
		} else {
			n := m.(*image.RGBA)
			pix, stride, premul = n.Pix[n.PixOffset(b.Min.X, b.Min.Y):], n.Stride, true
		}
		g := toGray(img) // the layout (alpha or not) and the alpha samples
		n := g.bpp()
		parallel(h, minRows, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				s, d := pix[y*stride:], g.row(y)
				for x := 0; x < w; x++ {
					p := s[4*x : 4*x+4 : 4*x+4]
					r, gg, bb, a := p[0], p[1], p[2], p[3]
					if premul && a != 0 && a != 0xff {
						un := func(v uint8) uint8 { return uint8(min(255, (uint32(v)*255+uint32(a)/2)/uint32(a))) }
						r, gg, bb = un(r), un(gg), un(bb)
					}
					d[x*n] = ct.luma8(r, gg, bb)
				}
			}
		})
		return g
	case *image.NRGBA64, *image.RGBA64, *image.Paletted:
		if ct.gray {
			return toGray(img)
		}
		// Through 16-bit non-premultiplied RGBA, one band of rows at a time.
		deep := false
		switch img.(type) {
		case *image.NRGBA64, *image.RGBA64:
			deep = true
		}
		g := toGray(img) // the layout (alpha, depth) and alpha samples
		parallel(h, minRows, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				d := g.row(y)
				for x := 0; x < w; x++ {
					c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
					if deep {
						l := ct.luma16(c.R, c.G, c.B)
						d[x*g.bpp()], d[x*g.bpp()+1] = uint8(l>>8), uint8(l)
						continue
					}
					d[x*g.bpp()] = ct.luma8(uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8))
				}
			}
		})
		return g
	}
	return toGray(img)
}
