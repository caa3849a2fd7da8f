package imaging

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// The corpus: every input kind the pure-Go encoders can write, generated
// here, each checked by decoded pixels against the luma of its source.

// scene is a w x h test image: a color gradient with a flat patch in each
// corner, so that orientation and resizing are visible in pixels.
func scene(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(40 + x*150/w), uint8(60 + y*120/h), uint8(90 + (x+y)*60/(w+h)), 255})
		}
	}
	return m
}

// withAlpha returns m with alpha falling from 255 at the top to 0 at the
// bottom, some pixels fully transparent.
func withAlpha(m *image.NRGBA) *image.NRGBA {
	c := image.NewNRGBA(m.Rect)
	copy(c.Pix, m.Pix)
	h := m.Rect.Dy()
	for y := 0; y < h; y++ {
		for x := 0; x < m.Rect.Dx(); x++ {
			c.Pix[y*c.Stride+4*x+3] = uint8(max(0, min(255, 400-y*500/h)))
		}
	}
	return c
}

// wantLuma is the expected 8-bit gray+alpha of a pixel of src.
func wantLuma(c color.Color) (l, a uint8) {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return luma8(n.R, n.G, n.B), n.A
}

// decodeOutput decodes an output, checking its format.
func decodeOutput(t *testing.T, o Output) image.Image {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(o.Data))
	if err != nil {
		t.Fatalf("%s: %v", o.Name, err)
	}
	if want := map[string]string{"jpg": "jpeg", "png": "png"}[o.Ext]; format != want {
		t.Fatalf("%s: ext %s but encoded as %s", o.Name, o.Ext, format)
	}
	if img.Bounds().Dx() != o.Width || img.Bounds().Dy() != o.Height {
		t.Fatalf("%s: %v, Output says %dx%d", o.Name, img.Bounds(), o.Width, o.Height)
	}
	return img
}

func encodePNGStd(t testing.TB, m image.Image) []byte {
	return encodeWith(t, func(b *bytes.Buffer) error { return png.Encode(b, m) })
}

func toNRGBA64(m *image.NRGBA, scale func(uint8) uint16) *image.NRGBA64 {
	d := image.NewNRGBA64(m.Rect)
	for y := 0; y < m.Rect.Dy(); y++ {
		for x := 0; x < m.Rect.Dx(); x++ {
			c := m.NRGBAAt(x, y)
			d.SetNRGBA64(x, y, color.NRGBA64{scale(c.R), scale(c.G), scale(c.B), uint16(c.A) * 0x101})
		}
	}
	return d
}

func TestCorpusLossless(t *testing.T) {
	const w, h = 67, 45
	rgb := scene(w, h)
	rgba := withAlpha(rgb)
	gray := image.NewGray(rgb.Rect)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			l, _ := wantLuma(rgb.At(x, y))
			gray.SetGray(x, y, color.Gray{l})
		}
	}
	pal := image.NewPaletted(rgb.Rect, color.Palette{
		color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 255, 0, 255}, color.NRGBA{0, 0, 255, 255}, color.NRGBA{200, 180, 20, 255}})
	palA := image.NewPaletted(rgb.Rect, color.Palette{
		color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 255, 0, 128}, color.NRGBA{0, 0, 0, 0}, color.NRGBA{200, 180, 20, 255}})
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			pal.SetColorIndex(x, y, uint8((x/5+y/3)%4))
			palA.SetColorIndex(x, y, uint8((x/5+y/3)%4))
		}
	}
	grayAlpha := toGray(rgba) // our own writer is the only one with gray+alpha PNG
	rgb64 := toNRGBA64(rgb, func(v uint8) uint16 { return uint16(v)*0x101 ^ 0x5a })
	rgba64 := toNRGBA64(rgba, func(v uint8) uint16 { return uint16(v)*0x101 ^ 0x33 })
	gray16 := image.NewGray16(rgb.Rect)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			gray16.SetGray16(x, y, color.Gray16{uint16(x*977 + y*13)})
		}
	}
	anim := &gif.GIF{Image: []*image.Paletted{pal, palA}, Delay: []int{10, 10}}
	tif := func(m image.Image, c tiff.CompressionType) []byte {
		return encodeWith(t, func(b *bytes.Buffer) error { return tiff.Encode(b, m, &tiff.Options{Compression: c}) })
	}
	bmpOf := func(m image.Image) []byte {
		return encodeWith(t, func(b *bytes.Buffer) error { return bmp.Encode(b, m) })
	}
	cases := []struct {
		name   string
		format string
		data   []byte
		src    image.Image // the pixels the file holds
		alpha  bool        // gray+alpha output expected
		deep   bool        // 16-bit output expected
	}{
		{"png rgb8", "png", encodePNGStd(t, rgb), rgb, false, false},
		{"png rgba8", "png", encodePNGStd(t, rgba), rgba, true, false},
		{"png gray8", "png", encodePNGStd(t, gray), gray, false, false},
		{"png gray+alpha8", "png", mustPNG(t, grayAlpha), rgba, true, false},
		{"png palette", "png", encodePNGStd(t, pal), pal, false, false},
		{"png palette+tRNS", "png", encodePNGStd(t, palA), palA, true, false},
		{"png gray16", "png", encodePNGStd(t, gray16), gray16, false, true},
		{"png rgb16", "png", encodePNGStd(t, rgb64), rgb64, false, true},
		{"png rgba16", "png", encodePNGStd(t, rgba64), rgba64, true, true},
		{"gif first frame", "gif", encodeWith(t, func(b *bytes.Buffer) error { return gif.EncodeAll(b, anim) }), pal, false, false},
		{"tiff rgb deflate", "tiff", tif(rgb, tiff.Deflate), rgb, false, false},
		{"tiff rgba deflate", "tiff", tif(rgba, tiff.Deflate), rgba, true, false},
		{"tiff gray16", "tiff", tif(gray16, tiff.Uncompressed), gray16, false, true},
		{"bmp rgb", "bmp", bmpOf(rgb), rgb, false, false},
		{"bmp gray", "bmp", bmpOf(gray), gray, false, false},
		{"bmp palette", "bmp", bmpOf(pal), pal, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Process(context.Background(), tc.data, Options{ThumbSizes: []int{32, 16}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Info.Format != tc.format || res.Info.Width != w || res.Info.Height != h || res.Info.Orientation != 1 {
				t.Fatalf("info %+v", res.Info)
			}
			if f, ct := Sniff(tc.data); f != tc.format || ct != res.Info.ContentType {
				t.Fatalf("Sniff = %s %s", f, ct)
			}
			if len(res.Outputs) != 3 || res.Outputs[0].Name != "gray" || res.Outputs[1].Name != "thumb" || res.Outputs[2].Name != "thumb_16" {
				t.Fatalf("outputs %v", outputNames(res))
			}
			for _, o := range res.Outputs {
				if o.Ext != "png" || o.ContentType != "image/png" {
					t.Fatalf("%s: %s %s, want png", o.Name, o.Ext, o.ContentType)
				}
			}
			img := decodeOutput(t, res.Outputs[0])
			checkModel(t, img, tc.alpha, tc.deep)
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					c := tc.src.At(x, y)
					if tc.deep {
						n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
						wl := luma16(n.R, n.G, n.B)
						g := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
						if g.R != wl || g.A != n.A {
							t.Fatalf("(%d,%d): got L %d A %d, want %d %d", x, y, g.R, g.A, wl, n.A)
						}
						continue
					}
					wl, wa := wantLuma(c)
					g := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
					if g.A != wa || (wa != 0 && g.R != wl) {
						t.Fatalf("(%d,%d): got L %d A %d, want %d %d", x, y, g.R, g.A, wl, wa)
					}
				}
			}
			th := decodeOutput(t, res.Outputs[1])
			if th.Bounds().Dx() != 32 || th.Bounds().Dy() != 21 {
				t.Fatalf("thumb %v, want 32x21", th.Bounds())
			}
			checkModel(t, th, tc.alpha, tc.deep)
			if b := decodeOutput(t, res.Outputs[2]).Bounds(); b.Dx() != 16 || b.Dy() != 11 {
				t.Fatalf("thumb_16 %v, want 16x11", b)
			}
		})
	}
}

func outputNames(r *Result) []string {
	var n []string
	for _, o := range r.Outputs {
		n = append(n, o.Name)
	}
	return n
}

// checkModel checks that a decoded PNG output is gray (or gray+alpha) at
// the expected depth. Go decodes gray+alpha PNGs as NRGBA/NRGBA64.
func checkModel(t *testing.T, img image.Image, alpha, deep bool) {
	t.Helper()
	var ok bool
	switch img.(type) {
	case *image.Gray:
		ok = !alpha && !deep
	case *image.Gray16:
		ok = !alpha && deep
	case *image.NRGBA:
		ok = alpha && !deep
	case *image.NRGBA64:
		ok = alpha && deep
	}
	if !ok {
		t.Fatalf("output decodes as %T, want alpha=%v deep=%v", img, alpha, deep)
	}
}

func mustPNG(t testing.TB, r *raster) []byte {
	t.Helper()
	b, err := encodePNG(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCorpusJPEG(t *testing.T) {
	src := scene(160, 120)
	for _, tc := range []struct {
		name string
		img  image.Image
	}{
		{"ycbcr 4:2:0", src},
		{"gray", toGray(src).image()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := encodeWith(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, tc.img, &jpeg.Options{Quality: 92}) })
			res, err := Process(context.Background(), data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			o := res.Outputs[0]
			if o.Ext != "jpg" || o.ContentType != "image/jpeg" || res.Outputs[1].Ext != "jpg" {
				t.Fatalf("outputs %+v", outputNames(res))
			}
			img := decodeOutput(t, o)
			g, ok := img.(*image.Gray)
			if !ok {
				t.Fatalf("gray output decodes as %T", img)
			}
			// Against the luma of the source (JPEG is lossy twice over).
			var se float64
			for y := 0; y < 120; y++ {
				for x := 0; x < 160; x++ {
					wl, _ := wantLuma(src.At(x, y))
					d := float64(g.GrayAt(x, y).Y) - float64(wl)
					se += d * d
				}
			}
			if mse := se / (160 * 120); mse > 4 {
				t.Errorf("MSE %.2f against the source luma", mse)
			}
		})
	}
}

// A GIF whose first frame covers part of the screen: the rest is
// transparent.
func TestGIFPartialFirstFrame(t *testing.T) {
	frame := image.NewPaletted(image.Rect(10, 5, 30, 15), color.Palette{color.NRGBA{255, 255, 255, 255}})
	g := &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0},
		Config: image.Config{Width: 40, Height: 20, ColorModel: frame.Palette}}
	data := encodeWith(t, func(b *bytes.Buffer) error { return gif.EncodeAll(b, g) })
	res, err := Process(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := decodeOutput(t, res.Outputs[0])
	if img.Bounds().Dx() != 40 || img.Bounds().Dy() != 20 {
		t.Fatalf("size %v", img.Bounds())
	}
	in := color.NRGBAModel.Convert(img.At(15, 10)).(color.NRGBA)
	out := color.NRGBAModel.Convert(img.At(2, 2)).(color.NRGBA)
	if in.R != 255 || in.A != 255 || out.A != 0 {
		t.Errorf("inside %v, outside %v", in, out)
	}
}

// pngWithChunk inserts a chunk right after IHDR.
func pngWithChunk(data []byte, typ string, payload []byte) []byte {
	var c bytes.Buffer
	pngChunk(&c, typ, payload)
	at := 8 + 8 + 13 + 4
	return append(append(append([]byte{}, data[:at]...), c.Bytes()...), data[at:]...)
}
