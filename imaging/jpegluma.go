package imaging

import (
	"context"
	"fmt"
)

// lumaSink makes the gray raster of a JPEG whose gray image is the stored
// Y (or gray) component at full resolution: only that component's blocks
// are inverse-transformed, rows of MCUs on all cores.
type lumaSink struct {
	h     *jpegHeader
	plane []byte
	tbl   idctTable
	r     *raster
}

func (s *lumaSink) begin(h *jpegHeader) ([]bool, error) {
	if !h.yFull() {
		return nil, fmt.Errorf("imaging: jpeg luma sink needs a full-size first component")
	}
	s.h = h
	want := make([]bool, len(h.comps))
	want[0] = true
	c := h.comps[0]
	stride := c.pw * 8
	s.plane = make([]byte, stride*c.ph*8)
	s.r = &raster{W: h.w, H: h.h, Pix: s.plane, Stride: stride}
	return want, nil
}

func (s *lumaSink) prepare() error {
	s.tbl.init(&s.h.comps[0].quant)
	return nil
}

func (s *lumaSink) ordered() bool { return false }

func (s *lumaSink) row(r *mcuRow) error {
	c := &s.h.comps[0]
	stride := c.pw * 8
	blk := r.blk[0]
	for y := 0; y < c.v; y++ {
		by := r.y*c.v + y
		for bx := 0; bx < c.pw; bx++ {
			k := y*c.pw + bx
			idct8x8(blk[64*k:64*k+64], &s.tbl, s.plane[(by*8)*stride+bx*8:], stride)
		}
	}
	return nil
}

func (s *lumaSink) end() error { return nil }

// jpegGrayRaster decodes the gray image of a JPEG in pixels: the Y (or
// gray) plane when it has full resolution and no colour conversion is
// asked for, else through full colour (jpegcolor.go).
func jpegGrayRaster(ctx context.Context, data []byte, lim jpegLimits, h *jpegHeader) (*raster, error) {
	if (h.colour == jpegGray || h.colour == jpegYCbCr) && h.yFull() {
		s := &lumaSink{}
		if _, err := decodeJPEG(ctx, data, lim, s); err != nil {
			return nil, err
		}
		return s.r, nil
	}
	s := &colorSink{}
	if _, err := decodeJPEG(ctx, data, lim, s); err != nil {
		return nil, err
	}
	return s.gray, nil
}
