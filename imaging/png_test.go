package imaging

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
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

// The PNG luma decoder against image/png + toGray on the kinds it handles.
func TestDecodePNGLuma(t *testing.T) {
	rgb := photoNRGBA(203, 157)
	rgba := withAlpha(rgb)
	opaqueRGBA := image.NewNRGBA(rgb.Rect) // RGBA color type, every pixel opaque
	copy(opaqueRGBA.Pix, rgb.Pix)
	opaqueRGBA.Pix[3] = 254 // ... but one, so image/png keeps the alpha channel
	pal := image.NewPaletted(rgb.Rect, color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 90, 0, 128}, color.NRGBA{0, 0, 0, 0}})
	for i := 3; i < 40; i++ { // enough entries for 8-bit indices
		pal.Palette = append(pal.Palette, color.NRGBA{uint8(i * 6), uint8(255 - i), 7, 255})
	}
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 40)
	}
	big := photoNRGBA(1500, 700) // several bands
	for _, tc := range []struct {
		name string
		img  image.Image
		lvl  png.CompressionLevel
	}{
		{"rgb", rgb, png.DefaultCompression},
		{"rgb no compression", rgb, png.NoCompression},
		{"rgba", rgba, png.BestSpeed},
		{"rgba one translucent pixel", opaqueRGBA, png.BestCompression},
		{"gray", toGray(rgb).image(), png.DefaultCompression},
		{"palette+tRNS", pal, png.DefaultCompression},
		{"large rgb", big, png.BestSpeed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := (&png.Encoder{CompressionLevel: tc.lvl}).Encode(&b, tc.img); err != nil {
				t.Fatal(err)
			}
			got, err := decodePNG(context.Background(), b.Bytes(), &colorInfo{})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := png.Decode(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			want := toGray(ref)
			if got.W != want.W || got.H != want.H || got.Alpha != want.Alpha || got.Deep != want.Deep {
				t.Fatalf("got %dx%d alpha=%v, want %dx%d alpha=%v", got.W, got.H, got.Alpha, want.W, want.H, want.Alpha)
			}
			for y := 0; y < got.H; y++ {
				if !bytes.Equal(got.row(y), want.row(y)) {
					t.Fatalf("row %d differs", y)
				}
			}
		})
	}
	// Our own gray+alpha output, every filter type.
	ga := toGray(rgba)
	got, err := decodePNG(context.Background(), mustPNG(t, ga), &colorInfo{})
	if err != nil || !got.Alpha {
		t.Fatalf("gray+alpha: %v", err)
	}
	for y := 0; y < ga.H; y++ {
		if !bytes.Equal(got.row(y), ga.row(y)) {
			t.Fatalf("gray+alpha row %d differs", y)
		}
	}
	// Every color type, bit depth and tRNS kind, plain and interlaced,
	// against image/png.
	for _, tc := range pngKinds() {
		for _, il := range []bool{false, true} {
			name := fmt.Sprintf("%s interlaced=%v", tc.name, il)
			data := tc.encode(37, 23, il)
			got, err := decodePNG(context.Background(), data, &colorInfo{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ref, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: image/png: %v", name, err)
			}
			want := toGray(ref)
			if got.W != want.W || got.H != want.H || got.Alpha != want.Alpha || got.Deep != want.Deep {
				t.Fatalf("%s: got %dx%d alpha=%v deep=%v, want %dx%d alpha=%v deep=%v", name, got.W, got.H, got.Alpha, got.Deep, want.W, want.H, want.Alpha, want.Deep)
			}
			for y := 0; y < got.H; y++ {
				if !bytes.Equal(got.row(y), want.row(y)) {
					t.Fatalf("%s: row %d differs:\n got %v\nwant %v", name, y, got.row(y), want.row(y))
				}
			}
		}
	}
}
