package imaging

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// gradient returns an opaque RGB test image with distinct channels.
func gradient(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), uint8((x + y) * 7), 255})
		}
	}
	return m
}

func encodeWith(t testing.TB, enc func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestProcessJPEGAndPNG(t *testing.T) {
	src := gradient(640, 480)
	for _, tc := range []struct {
		name, ext string
		data      []byte
	}{
		{"jpeg", "jpg", encodeWith(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, src, &jpeg.Options{Quality: 95}) })},
		{"png", "png", encodeWith(t, func(b *bytes.Buffer) error { return png.Encode(b, src) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Process(context.Background(), tc.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Info.Format != tc.name || res.Info.Width != 640 || res.Info.Height != 480 {
				t.Fatalf("info %+v", res.Info)
			}
			if len(res.Outputs) != 2 {
				t.Fatalf("%d outputs", len(res.Outputs))
			}
			want := []struct {
				name string
				w, h int
			}{{"gray", 640, 480}, {"thumb", 256, 192}}
			for i, o := range res.Outputs {
				if o.Name != want[i].name || o.Ext != tc.ext || o.Width != want[i].w || o.Height != want[i].h {
					t.Fatalf("output %d: %+v", i, o)
				}
				img, format, err := image.Decode(bytes.NewReader(o.Data))
				if err != nil {
					t.Fatalf("%s: %v", o.Name, err)
				}
				if format != tc.name || img.Bounds().Dx() != o.Width || img.Bounds().Dy() != o.Height {
					t.Fatalf("%s decodes as %s %v", o.Name, format, img.Bounds())
				}
				// A pixel in the middle against the source luma.
				x, y := o.Width/2, o.Height/2
				c := src.NRGBAAt(x*640/o.Width, y*480/o.Height)
				wantL := int(luma8(c.R, c.G, c.B))
				gotL := int(color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y)
				if d := gotL - wantL; d < -6 || d > 6 {
					t.Errorf("%s at (%d,%d): luma %d, want about %d", o.Name, x, y, gotL, wantL)
				}
			}
		})
	}
}
