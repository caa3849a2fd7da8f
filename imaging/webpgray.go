package imaging

import (
	"bytes"
	"context"
	"image"

	"golang.org/x/image/webp"
)

// WebP through golang.org/x/image/webp, which decodes the whole picture
// (its work is linear in the pixels and bounded by the pixel limit; it
// takes no context, so a deadline is seen right after it returns).
//
// Lossy WebP stores limited-range BT.601 Y'CbCr with chroma at half
// resolution. Its gray here is the luma of the RGB that libwebp (and so
// Pillow, browsers and dwebp) displays: chroma upsampled with libwebp's
// "fancy" filter (9-3-3-1 weights, in its exact integer arithmetic), Y'CbCr
// to RGB in libwebp's 14-bit fixed point, then BT.601 luma of that RGB.
// The stored Y plane would differ by up to tens of levels on saturated
// colours, because clipping to RGB is not linear.

func decodeWebP(ctx context.Context, data []byte, cm *colorInfo) (*raster, error) {
	img, err := webp.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, decodeError("webp", err)
	}
	if err := canceled(ctx, "webp"); err != nil {
		return nil, err
	}
	switch m := img.(type) {
	case *image.YCbCr:
		return webpLuma(m, nil, 0, cm.t), nil
	case *image.NYCbCrA:
		return webpLuma(&m.YCbCr, m.A, m.AStride, cm.t), nil
	}
	return toGrayManaged(img, cm.t), nil
}

// webpRGB is libwebp's Y'CbCr to RGB (VP8YUVToR/G/B): coefficients in
// 1/256 steps applied to 8-bit values, results in 1/64 steps, clipped.
func webpRGB(y, u, v int) (r, g, b uint8) {
	mh := func(v, c int) int { return v * c >> 8 }
	clip := func(v int) uint8 {
		if v&^(256<<6-1) == 0 {
			return uint8(v >> 6)
		}
		if v < 0 {
			return 0
		}
		return 255
	}
	yy := mh(y, 19077)
	return clip(yy + mh(v, 26149) - 14234), clip(yy - mh(u, 6419) - mh(v, 13320) + 8708), clip(yy + mh(u, 33050) - 17685)
}

// webpUpsampleRow computes the full-resolution chroma of one output row
// from two chroma rows: near (weight 3/4) and far (1/4), as libwebp's
// fancy upsampler does for the top (near = upper) and bottom (near =
// lower) rows of each pair.
func webpUpsampleRow(dst, near, far []byte, w int, upper bool) {
	// Row pair (top, cur) of libwebp: tl,t from the top chroma row, l,uv
	// from the current one. For the upper output row top = near.
	top, cur := near, far
	if !upper {
		top, cur = far, near
	}
	tl, l := int(top[0]), int(cur[0])
	if upper {
		dst[0] = uint8((3*tl + l + 2) >> 2)
	} else {
		dst[0] = uint8((3*l + tl + 2) >> 2)
	}
	last := (w - 1) >> 1
	for x := 1; x <= last; x++ {
		t, uv := int(top[x]), int(cur[x])
		avg := tl + t + l + uv + 8
		d12 := (avg + 2*(t+l)) >> 3
		d03 := (avg + 2*(tl+uv)) >> 3
		if upper {
			dst[2*x-1], dst[2*x] = uint8((d12+tl)>>1), uint8((d03+t)>>1)
		} else {
			dst[2*x-1], dst[2*x] = uint8((d03+l)>>1), uint8((d12+uv)>>1)
		}
		tl, l = t, uv
	}
	if w&1 == 0 {
		if upper {
			dst[w-1] = uint8((3*tl + l + 2) >> 2)
		} else {
			dst[w-1] = uint8((3*l + tl + 2) >> 2)
		}
	}
}

// webpLuma converts a 4:2:0 lossy WebP picture (and its alpha plane, if
// any) to the gray raster.
func webpLuma(m *image.YCbCr, a []byte, aStride int, ct *colorTransform) *raster {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	alpha := a != nil && !opaque(a, aStride, w, h, 1, 0)
	r := newRaster(w, h, alpha, false)
	ch := (h + 1) / 2
	parallel(h, minRows, func(y0, y1 int) {
		u, v := make([]byte, w), make([]byte, w)
		for y := y0; y < y1; y++ {
			// The chroma rows and the weighting of output row y.
			k := (y + 1) / 2
			near, far, upper := k-1, k, true
			switch {
			case y == 0:
				near, far = 0, 0
			case y%2 == 0:
				near, far, upper = k, k-1, false
			case k >= ch: // last row of an even height
				near, far = k-1, k-1
			}
			cb := func(row int) []byte { return m.Cb[row*m.CStride:] }
			cr := func(row int) []byte { return m.Cr[row*m.CStride:] }
			webpUpsampleRow(u, cb(near), cb(far), w, upper)
			webpUpsampleRow(v, cr(near), cr(far), w, upper)
			ys := m.Y[y*m.YStride:]
			d := r.row(y)
			for x := 0; x < w; x++ {
				rr, gg, bb := webpRGB(int(ys[x]), int(u[x]), int(v[x]))
				var l uint8
				if ct != nil {
					l = ct.luma8(rr, gg, bb)
				} else {
					l = luma8(rr, gg, bb)
				}
				if alpha {
					d[2*x], d[2*x+1] = l, a[y*aStride+x]
				} else {
					d[x] = l
				}
			}
		}
	})
	return r
}
