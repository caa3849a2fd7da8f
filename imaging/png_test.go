package imaging

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

// Every filter type is exercised (the rows differ in character) and every
// raster kind round-trips exactly through image/png.
func TestEncodePNGRoundTrip(t *testing.T) {
	mk := func(w, h int, alpha, deep bool) *raster {
		r := newRaster(w, h, alpha, deep)
		for y := 0; y < h; y++ {
			row := r.row(y)
			for i := range row {
				switch y % 4 {
				case 0:
					row[i] = uint8(i * 3) // ramps: Sub
				case 1:
					row[i] = uint8(i*3 + y) // like the row above: Up
				case 2:
					row[i] = uint8((i * i * 7) ^ y) // noise
				default:
					row[i] = uint8(i/5 + y*2)
				}
			}
		}
		return r
	}
	for _, tc := range []struct {
		name        string
		w, h        int
		alpha, deep bool
	}{
		{"gray", 301, 207, false, false},
		{"gray+alpha", 64, 50, true, false},
		{"gray16", 33, 700, false, true},
		{"gray+alpha16", 17, 9, true, true},
		{"one pixel", 1, 1, false, false},
		{"tall, many bands", 3, 90000, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mk(tc.w, tc.h, tc.alpha, tc.deep)
			data := mustPNG(t, r)
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds() != image.Rect(0, 0, tc.w, tc.h) {
				t.Fatalf("bounds %v", img.Bounds())
			}
			got := toGray(img)
			if got.Alpha != tc.alpha || got.Deep != tc.deep {
				// toGray drops an all-opaque alpha; these rasters have none opaque-only.
				t.Fatalf("decoded alpha=%v deep=%v", got.Alpha, got.Deep)
			}
			for y := 0; y < tc.h; y++ {
				if !bytes.Equal(got.row(y), r.row(y)) {
					t.Fatalf("row %d differs", y)
				}
			}
		})
	}
}
