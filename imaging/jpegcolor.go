package imaging

import (
	"context"
	"fmt"
	"image"
)

// Full-colour decoding, for the JPEGs whose gray image is not a stored
// full-size component: RGB, CMYK and YCCK files, and YCbCr files whose Y
// is subsampled. Rows of MCUs are inverse-transformed into a ring of three
// strips per component, upsampled as libjpeg does (its "fancy" triangular
// filters for 2:1 horizontally, vertically or both, replication for other
// integer ratios, nearest sample for the fractional ratios libjpeg
// refuses), converted and written straight into the gray raster: no
// full-size colour plane is ever held, so a 49 MP CMYK JPEG needs its gray
// raster and a few strips.

// colorSink converts to gray (or, with rgba set, to RGBA pixels).
type colorSink struct {
	h     *jpegHeader
	want  []bool
	rgba  *image.RGBA // when not nil, the output; gray is not made
	gray  *raster
	tbl   [4]idctTable
	strip [4][3][]byte // per component, strips of rows of MCUs (ring by MCU row)
	sw    [4]int       // strip stride
	up    [4][]byte    // upsampled row of each component
	sum   []int32      // column sums of the 2:1 vertical filters
	next  int          // next row of MCUs to emit
	rows  int          // rows of MCUs received
}

func (s *colorSink) begin(h *jpegHeader) ([]bool, error) {
	s.h = h
	s.want = make([]bool, len(h.comps))
	s.want[0] = true
	if h.colour != jpegGray && (h.colour != jpegYCbCr || s.rgba != nil) {
		for i := range s.want {
			s.want[i] = true
		}
	}
	if s.rgba == nil {
		s.gray = newRaster(h.w, h.h, false, false)
	}
	for i, c := range h.comps {
		if !s.want[i] {
			continue
		}
		s.sw[i] = c.pw * 8
		for k := range s.strip[i] {
			s.strip[i][k] = make([]byte, s.sw[i]*c.v*8)
		}
		s.up[i] = make([]byte, max(h.w, c.pw*8*(h.hmax/c.h+1))+16)
		s.sum = make([]int32, max(len(s.sum), c.pw*8))
	}
	return s.want, nil
}

func (s *colorSink) prepare() error {
	for i, c := range s.h.comps {
		if s.want[i] {
			s.tbl[i].init(&c.quant)
		}
	}
	return nil
}

func (s *colorSink) ordered() bool { return true }

func (s *colorSink) row(r *mcuRow) error {
	if r.y != s.rows {
		return fmt.Errorf("imaging: jpeg rows out of order: %d after %d", r.y, s.rows)
	}
	for i, c := range s.h.comps {
		if !s.want[i] {
			continue
		}
		dst, stride := s.strip[i][r.y%3], s.sw[i]
		for y := 0; y < c.v; y++ {
			for bx := 0; bx < c.pw; bx++ {
				k := y*c.pw + bx
				idct8x8(r.blk[i][64*k:64*k+64], &s.tbl[i], dst[y*8*stride+bx*8:], stride)
			}
		}
	}
	s.rows++
	// A row of MCUs can be finished once the next one is there: the
	// vertical filters read one sample row past it.
	for s.next < s.rows-1 {
		s.emit(s.next)
		s.next++
	}
	return nil
}

func (s *colorSink) end() error {
	for s.next < s.rows {
		s.emit(s.next)
		s.next++
	}
	if s.rows != s.h.my {
		return corruptf("%d rows of MCUs of %d", s.rows, s.h.my)
	}
	return nil
}

// sample returns row y of component i, clamped to its real rows (the
// context rows past the edges repeat the edge rows, as in libjpeg).
func (s *colorSink) sample(i, y int) []byte {
	c := &s.h.comps[i]
	y = max(0, min(y, c.ch-1))
	sh := c.v * 8
	off := (y % sh) * s.sw[i]
	return s.strip[i][(y/sh)%3][off : off+s.sw[i]]
}

// upsample fills s.up[i][:w] with component i at image row y.
func (s *colorSink) upsample(i, y int) []byte {
	h := s.h
	c := &h.comps[i]
	out := s.up[i]
	w := h.w
	if c.h == h.hmax && c.v == h.vmax {
		return s.sample(i, y)[:w]
	}
	fh, fv := h.hmax/c.h, h.vmax/c.v
	integer := h.hmax%c.h == 0 && h.vmax%c.v == 0
	switch {
	case !integer:
		// Fractional factors (libjpeg refuses them): nearest sample.
		src := s.sample(i, y*c.v/h.vmax)
		for x := 0; x < w; x++ {
			out[x] = src[x*c.h/h.hmax]
		}
	case fh == 2 && fv == 1 && c.cw > 2:
		h2v1Fancy(out, s.sample(i, y), c.cw)
	case fh == 1 && fv == 2:
		near, far := s.sample(i, y/2), s.sample(i, y/2-1)
		bias := int32(1)
		if y%2 == 1 {
			far, bias = s.sample(i, y/2+1), 2
		}
		for x := 0; x < c.cw; x++ {
			out[x] = uint8((3*int32(near[x]) + int32(far[x]) + bias) >> 2)
		}
	case fh == 2 && fv == 2 && c.cw > 2:
		near, far := s.sample(i, y/2), s.sample(i, y/2-1)
		if y%2 == 1 {
			far = s.sample(i, y/2+1)
		}
		h2v2Fancy(out, near, far, s.sum, c.cw)
	default:
		src := s.sample(i, y/fv)
		for x := 0; x < w; x++ {
			out[x] = src[x/fh]
		}
	}
	return out[:w]
}

// h2v1Fancy doubles a row horizontally with libjpeg's triangular filter:
// each output is 3/4 of the nearer input and 1/4 of the further one.
func h2v1Fancy(out, in []byte, n int) {
	in = in[:n]
	out[0] = in[0]
	out[1] = uint8((3*int32(in[0]) + int32(in[1]) + 2) >> 2)
	for x := 1; x < n-1; x++ {
		v := 3 * int32(in[x])
		out[2*x] = uint8((v + int32(in[x-1]) + 1) >> 2)
		out[2*x+1] = uint8((v + int32(in[x+1]) + 2) >> 2)
	}
	v := 3 * int32(in[n-1])
	out[2*n-2] = uint8((v + int32(in[n-2]) + 1) >> 2)
	out[2*n-1] = in[n-1]
}

// h2v2Fancy doubles a row both ways with libjpeg's triangular filter: the
// column sums 3*near + far, then 3/4 and 1/4 of them across.
func h2v2Fancy(out, near, far []byte, sum []int32, n int) {
	sum = sum[:n]
	for x := range sum {
		sum[x] = 3*int32(near[x]) + int32(far[x])
	}
	out[0] = uint8((4*sum[0] + 8) >> 4)
	out[1] = uint8((3*sum[0] + sum[1] + 7) >> 4)
	for x := 1; x < n-1; x++ {
		v := 3 * sum[x]
		out[2*x] = uint8((v + sum[x-1] + 8) >> 4)
		out[2*x+1] = uint8((v + sum[x+1] + 7) >> 4)
	}
	v := 3 * sum[n-1]
	out[2*n-2] = uint8((v + sum[n-2] + 8) >> 4)
	out[2*n-1] = uint8((4*sum[n-1] + 7) >> 4)
}

// libjpeg's YCbCr to RGB tables (16-bit fixed point).
var (
	crR, cbB [256]int32
	crG, cbG [256]int32
)

func init() {
	fix := func(f float64) int32 { return int32(f*(1<<16) + 0.5) }
	for i := range crR {
		x := int32(i) - 128
		crR[i] = (fix(1.40200)*x + 1<<15) >> 16
		cbB[i] = (fix(1.77200)*x + 1<<15) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + 1<<15
	}
}

func clamp8(v int32) uint8 {
	if uint32(v) > 255 {
		return uint8(^(v >> 31) & 255)
	}
	return uint8(v)
}

func yccToRGB(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy := int32(y)
	return clamp8(yy + crR[cr]), clamp8(yy + (cbG[cb]+crG[cr])>>16), clamp8(yy + cbB[cb])
}

// invertedCMYKToRGB converts Adobe's inverted CMYK samples (as stored) to
// RGB as libjpeg's tools and Pillow do: R = C' * K' / 255, rounded.
func invertedCMYKToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	kk := uint32(k)
	tc, tm, ty := uint32(c)*kk+128, uint32(m)*kk+128, uint32(y)*kk+128
	return uint8((tc>>8 + tc) >> 8), uint8((tm>>8 + tm) >> 8), uint8((ty>>8 + ty) >> 8)
}

// emit converts the image rows of MCU row m.
func (s *colorSink) emit(m int) {
	h := s.h
	y0 := m * h.vmax * 8
	y1 := min(h.h, y0+h.vmax*8)
	for y := y0; y < y1; y++ {
		var a, b, c, k []byte
		a = s.upsample(0, y)
		if s.want[1] {
			b, c = s.upsample(1, y), s.upsample(2, y)
		}
		if len(h.comps) == 4 {
			k = s.upsample(3, y)
		}
		if s.rgba != nil {
			s.emitRGBA(y, a, b, c, k)
			continue
		}
		out := s.gray.row(y)
		switch h.colour {
		case jpegGray, jpegYCbCr:
			copy(out, a)
		case jpegRGB:
			for x := range out {
				out[x] = luma8(a[x], b[x], c[x])
			}
		case jpegCMYK:
			for x := range out {
				out[x] = luma8(invertedCMYKToRGB(a[x], b[x], c[x], k[x]))
			}
		case jpegYCCK:
			for x := range out {
				r, g, bb := yccToRGB(a[x], b[x], c[x])
				out[x] = luma8(invertedCMYKToRGB(255-r, 255-g, 255-bb, k[x]))
			}
		}
	}
}

func (s *colorSink) emitRGBA(y int, a, b, c, k []byte) {
	out := s.rgba.Pix[y*s.rgba.Stride:]
	for x := 0; x < s.h.w; x++ {
		var r, g, bb uint8
		switch s.h.colour {
		case jpegGray:
			r, g, bb = a[x], a[x], a[x]
		case jpegYCbCr:
			r, g, bb = yccToRGB(a[x], b[x], c[x])
		case jpegRGB:
			r, g, bb = a[x], b[x], c[x]
		case jpegCMYK:
			r, g, bb = invertedCMYKToRGB(a[x], b[x], c[x], k[x])
		case jpegYCCK:
			r, g, bb = yccToRGB(a[x], b[x], c[x])
			r, g, bb = invertedCMYKToRGB(255-r, 255-g, 255-bb, k[x])
		}
		p := out[4*x : 4*x+4 : 4*x+4]
		p[0], p[1], p[2], p[3] = r, g, bb, 255
	}
}

// decodeJPEGRGBA decodes a JPEG to RGBA pixels (for colour management,
// which needs the displayed colours before luma).
func decodeJPEGRGBA(ctx context.Context, data []byte, lim jpegLimits) (*image.RGBA, error) {
	h, err := parseJPEGHeader(data)
	if err != nil {
		return nil, err
	}
	s := &colorSink{rgba: image.NewRGBA(image.Rect(0, 0, h.w, h.h))}
	if _, err := decodeJPEG(ctx, data, lim, s); err != nil {
		return nil, err
	}
	return s.rgba, nil
}
