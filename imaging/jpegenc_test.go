package imaging

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"testing"
)

// psnr of two equally sized 8-bit gray images.
func psnrGray(a, b *image.Gray) float64 {
	var se float64
	w, h := a.Rect.Dx(), a.Rect.Dy()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d := float64(a.GrayAt(x, y).Y) - float64(b.GrayAt(x, y).Y)
			se += d * d
		}
	}
	mse := se / float64(w*h)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

func rasterGray(r *raster) *image.Gray { return r.image().(*image.Gray) }

func TestEncodeGrayJPEG(t *testing.T) {
	for _, tc := range []struct {
		name    string
		w, h, q int
		minPSNR float64
	}{
		{"exact blocks q85", 640, 480, 85, 36},
		{"ragged edges q85", 333, 101, 85, 36},
		{"one pixel", 1, 1, 85, 30},
		{"q100", 120, 90, 100, 45},
		{"q10", 120, 90, 10, 24},
		{"many restart rows", 37, 900, 85, 36},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := toGray(photo(tc.w, tc.h, 7))
			data := encodeGrayJPEG(src, tc.q)
			img, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			g, ok := img.(*image.Gray)
			if !ok {
				t.Fatalf("decoded as %T, want *image.Gray", img)
			}
			if g.Rect.Dx() != tc.w || g.Rect.Dy() != tc.h {
				t.Fatalf("size %v", g.Rect)
			}
			// The standard library's encoder at the same quality is the yardstick.
			var ref bytes.Buffer
			if err := jpeg.Encode(&ref, rasterGray(src), &jpeg.Options{Quality: tc.q}); err != nil {
				t.Fatal(err)
			}
			refLen := ref.Len()
			refImg, _ := jpeg.Decode(&ref)
			got, want := psnrGray(rasterGray(src), g), psnrGray(rasterGray(src), refImg.(*image.Gray))
			t.Logf("PSNR %.2f dB (stdlib encoder %.2f dB), %d bytes (stdlib %d)", got, want, len(data), refLen)
			if got < tc.minPSNR || got < want-0.5 {
				t.Errorf("PSNR %.2f dB, want >= %.1f and >= stdlib %.2f - 0.5", got, tc.minPSNR, want)
			}
		})
	}
}

// TestEncodeBandsOutgrowRegions codes every band into a region too small
// for it: the bands then go into buffers of their own and the file is the
// same as when each fits its region and is moved down in place.
func TestEncodeBandsOutgrowRegions(t *testing.T) {
	src := toGray(photo(333, 517, 3))
	want := encodeGrayJPEG(src, 95)
	defer func(f func(float64, int) int) { bandRegion = f }(bandRegion)
	bandRegion = func(float64, int) int { return 1 }
	got := encodeGrayJPEG(src, 95)
	if !bytes.Equal(got, want) {
		t.Fatalf("bands outgrowing their regions: %d bytes differ from the in-place coding's %d", len(got), len(want))
	}
	if _, err := jpeg.Decode(bytes.NewReader(got)); err != nil {
		t.Fatal(err)
	}
}
