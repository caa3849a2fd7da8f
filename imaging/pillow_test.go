package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// pillowScript makes inputs Go cannot write and answers what Pillow sees.
//
//	make KIND IN OUT [ORIENTATION]  writes IN (a PNG) as KIND to OUT
//	luma IN OUT                      writes exif_transpose(open(IN)).convert("L") raw to OUT, prints {"w","h","mode"}
//	raw IN OUT                       writes open(IN) raw bytes to OUT, prints {"w","h","mode"}
const pillowScript = `
import json, sys
from PIL import Image, ImageOps
cmd, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
if cmd == "make":
    kind = sys.argv[4]
    im = Image.open(src)
    kw = {}
    if len(sys.argv) > 5:
        ex = Image.Exif(); ex[0x0112] = int(sys.argv[5])
        if kind != "tiff": kw["exif"] = ex.tobytes()
    if kind == "jpeg_progressive":
        im.convert("RGB").save(dst, "JPEG", quality=92, progressive=True, **kw)
    elif kind.startswith("jpeg_progressive_sub"):
        im.convert("RGB").save(dst, "JPEG", quality=80, progressive=True, subsampling=int(kind[-1]), **kw)
    elif kind == "jpeg_progressive_gray":
        im.convert("L").save(dst, "JPEG", quality=90, progressive=True, **kw)
    elif kind == "jpeg_cmyk":
        im.convert("RGB").convert("CMYK").save(dst, "JPEG", quality=95, **kw)
    elif kind == "tiff":
        im.save(dst, "TIFF", tiffinfo={0x0112: int(sys.argv[5])} if len(sys.argv) > 5 else {})
    elif kind == "webp_lossless":
        im.save(dst, "WEBP", lossless=True, **kw)
    elif kind == "webp_lossy":
        im.convert("RGB").save(dst, "WEBP", quality=90, **kw)
    elif kind == "webp_animated":
        im.save(dst, "WEBP", save_all=True, append_images=[im.transpose(Image.Transpose.ROTATE_180)], duration=100)
    elif kind == "webp_lossy_alpha":
        im.save(dst, "WEBP", quality=90, **kw)
    else:
        sys.exit("unknown kind " + kind)
    sys.exit(0)
im = Image.open(src)
if cmd == "luma":
    if im.format == "TIFF":
        im.load()  # Pillow applies a TIFF's orientation while loading it
    else:
        im = ImageOps.exif_transpose(im)
    im = im.convert("L")
open(dst, "wb").write(im.tobytes())
print(json.dumps({"w": im.size[0], "h": im.size[1], "mode": im.mode}))
`

type pillow struct {
	t   *testing.T
	py  string
	dir string
}

func newPillow(t *testing.T) *pillow {
	py := needPillow(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.py"), []byte(pillowScript), 0o644); err != nil {
		t.Fatal(err)
	}
	return &pillow{t, py, dir}
}

func (p *pillow) run(args ...string) []byte {
	p.t.Helper()
	out, err := exec.Command(p.py, append([]string{filepath.Join(p.dir, "p.py")}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		p.t.Fatalf("pillow %v: %v\n%s", args, err, stderr)
	}
	return out
}

func (p *pillow) file(name string, data []byte) string {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// make converts a PNG to another kind of file with Pillow.
func (p *pillow) make(kind string, src image.Image, orientation int) []byte {
	p.t.Helper()
	in := p.file(kind+".src.png", encodePNGStd(p.t, src))
	out := filepath.Join(p.dir, kind+".out")
	args := []string{"make", in, out, kind}
	if orientation > 0 {
		args = append(args, string(rune('0'+orientation)))
	}
	p.run(args...)
	data, err := os.ReadFile(out)
	if err != nil {
		p.t.Fatal(err)
	}
	return data
}

// read returns what Pillow decodes from data: its "L" conversion after
// exif_transpose (op "luma") or its raw bytes (op "raw").
func (p *pillow) read(op string, data []byte) (w, h int, mode string, pix []byte) {
	p.t.Helper()
	in := p.file("in", data)
	out := filepath.Join(p.dir, "out.raw")
	var meta struct {
		W, H int
		Mode string
	}
	if err := json.Unmarshal(p.run(op, in, out), &meta); err != nil {
		p.t.Fatal(err)
	}
	pix, err := os.ReadFile(out)
	if err != nil {
		p.t.Fatal(err)
	}
	return meta.W, meta.H, meta.Mode, pix
}

// lumaOf returns our luma after the orient step (before encoding, which
// for JPEG is lossy again), with a mask of the opaque pixels.
func lumaOf(t *testing.T, data []byte) (w, h int, l []byte, opaque []bool) {
	t.Helper()
	j := &job{ctx: context.Background(), data: data, opts: DefaultOptions()}
	if err := steps[:4].run(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if steps[3].name != "orient" {
		t.Fatalf("step 4 is %s, want orient", steps[3].name)
	}
	r, err := j.grayRaster()
	if err != nil {
		t.Fatal(err)
	}
	if r.Deep {
		t.Fatal("16-bit raster")
	}
	for y := 0; y < r.H; y++ {
		row := r.row(y)
		for x := 0; x < r.W; x++ {
			if r.Alpha {
				l = append(l, row[2*x])
				opaque = append(opaque, row[2*x+1] == 0xff)
			} else {
				l = append(l, row[x])
				opaque = append(opaque, true)
			}
		}
	}
	return r.W, r.H, l, opaque
}

// compare reports the largest and mean absolute difference.
func compare(a, b []byte) (maxd int, mean float64) {
	sum := 0
	for i := range a {
		d := abs(int(a[i]) - int(b[i]))
		maxd = max(maxd, d)
		sum += d
	}
	return maxd, float64(sum) / float64(max(1, len(a)))
}

// TestPillowParity compares our luma with Pillow's convert("L") (after
// exif_transpose) on the same files: within ±1 on lossless paths, close on
// lossy ones (where we use the decoded Y plane and Pillow goes through RGB).
func TestPillowParity(t *testing.T) {
	p := newPillow(t)
	const w, h = 97, 61
	rgb := photoNRGBA(w, h)
	rgba := withAlpha(rgb)
	pal := image.NewPaletted(rgb.Rect, color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{10, 200, 30, 255}, color.NRGBA{0, 0, 255, 255}, color.NRGBA{200, 180, 20, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i * 7 % 4)
	}
	gray := image.NewGray(rgb.Rect)
	copy(gray.Pix, toGray(rgb).Pix)
	exif6 := exifTIFF(6, binary.BigEndian)
	cases := []struct {
		name       string
		data       []byte
		maxd       int
		mean       float64
		onlyOpaque bool
	}{
		{"png rgb8", encodePNGStd(t, rgb), 1, 0.1, false},
		{"png rgba8", encodePNGStd(t, rgba), 1, 0.1, true},
		{"png palette", encodePNGStd(t, pal), 1, 0.1, false},
		{"png gray", encodePNGStd(t, gray), 0, 0, false},
		{"png rgb8 orientation 6", pngWithChunk(encodePNGStd(t, rgb), "eXIf", exif6), 1, 0.1, false},
		{"gif", encodeWith(t, func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) }), 1, 0.1, false},
		{"bmp", encodeWith(t, func(b *bytes.Buffer) error { return bmp.Encode(b, rgb) }), 1, 0.1, false},
		{"tiff", encodeWith(t, func(b *bytes.Buffer) error { return tiff.Encode(b, rgb, &tiff.Options{Compression: tiff.Deflate}) }), 1, 0.1, false},
		{"tiff by Pillow orientation 7", p.make("tiff", rgb, 7), 1, 0.1, false},
		{"webp lossless", p.make("webp_lossless", rgb, 0), 1, 0.1, false},
		{"webp lossless alpha", p.make("webp_lossless", rgba, 0), 1, 0.1, true},
		{"webp lossless orientation 8", p.make("webp_lossless", rgb, 8), 1, 0.1, false},
		{"jpeg baseline orientation 6", jpegWithExif(encodeWith(t, func(b *bytes.Buffer) error { return encodeJPEGStd(b, rgb) }), exif6), 4, 0.1, false},
		{"jpeg progressive", p.make("jpeg_progressive", rgb, 0), 4, 0.1, false},
		{"jpeg progressive orientation 3", p.make("jpeg_progressive", rgb, 3), 4, 0.1, false},
		{"jpeg cmyk", p.make("jpeg_cmyk", rgb, 0), 4, 0.1, false},
		// Lossy WebP: the luma of libwebp's RGB, exactly.
		{"webp lossy", p.make("webp_lossy", rgb, 0), 0, 0, false},
		{"webp lossy alpha", p.make("webp_lossy_alpha", rgba, 0), 0, 0, true},
		{"webp lossy saturated", p.make("webp_lossy", saturated(w, h), 0), 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ow, oh, ours, opaque := lumaOf(t, tc.data)
			pw, ph, mode, theirs := p.read("luma", tc.data)
			if mode != "L" || pw != ow || ph != oh || len(theirs) != len(ours) {
				t.Fatalf("Pillow %dx%d %s (%d bytes), ours %dx%d (%d)", pw, ph, mode, len(theirs), ow, oh, len(ours))
			}
			if tc.onlyOpaque {
				// Pillow's L ignores alpha; compare where the pixel is opaque.
				a, b := ours[:0:0], theirs[:0:0]
				for i := range ours {
					if opaque[i] {
						a, b = append(a, ours[i]), append(b, theirs[i])
					}
				}
				if len(a) < len(ours)/4 || len(a) == len(ours) {
					t.Fatalf("%d of %d pixels opaque", len(a), len(ours))
				}
				ours, theirs = a, b
			}
			maxd, mean := compare(ours, theirs)
			t.Logf("max |diff| %d, mean %.3f", maxd, mean)
			if maxd > tc.maxd || mean > tc.mean {
				t.Errorf("luma differs from Pillow by up to %d (mean %.3f), want <= %d (mean <= %.2f)", maxd, mean, tc.maxd, tc.mean)
			}
		})
	}
}

func TestAnimatedWebPRefused(t *testing.T) {
	p := newPillow(t)
	data := p.make("webp_animated", scene(30, 20), 0)
	if _, err := Process(context.Background(), data, Options{}); Code(err) != "unsupported_format" {
		t.Fatalf("animated WebP: %v, want unsupported_format", err)
	}
}

// TestPillowReadsOutputs decodes our encoders' outputs with Pillow.
func TestPillowReadsOutputs(t *testing.T) {
	p := newPillow(t)
	src := toGray(photoNRGBA(131, 77))
	ga := toGray(withAlpha(photoNRGBA(131, 77)))
	deep := toGray(toNRGBA64(photoNRGBA(131, 77), func(v uint8) uint16 { return uint16(v) * 0x101 }))
	for _, tc := range []struct {
		name string
		r    *raster
		mode string
	}{
		{"png gray", src, "L"},
		{"png gray+alpha", ga, "LA"},
		{"png gray16", deep, "I"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, h, mode, pix := p.read("raw", mustPNG(t, tc.r))
			if w != tc.r.W || h != tc.r.H {
				t.Fatalf("Pillow %dx%d %s", w, h, mode)
			}
			want := make([]byte, 0, len(pix))
			for y := 0; y < h; y++ {
				want = append(want, tc.r.row(y)...)
			}
			if mode == "I" && tc.r.Deep { // Pillow widens 16-bit gray to 32-bit ints
				var wide []byte
				for i := 0; i+1 < len(want); i += 2 {
					wide = append(wide, want[i+1], want[i], 0, 0)
				}
				want = wide
			} else if mode != tc.mode {
				t.Fatalf("Pillow mode %s, want %s", mode, tc.mode)
			}
			if !bytes.Equal(pix, want) {
				t.Fatalf("Pillow decodes different samples")
			}
		})
	}
	t.Run("jpeg", func(t *testing.T) {
		w, h, mode, pix := p.read("raw", encodeGrayJPEG(src, 85))
		if w != src.W || h != src.H || mode != "L" {
			t.Fatalf("Pillow %dx%d %s", w, h, mode)
		}
		theirs := &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}
		if db := psnrGray(rasterGray(src), theirs); db < 35 {
			t.Fatalf("PSNR %.2f dB as decoded by Pillow", db)
		}
	})
}

// saturated is stripes of fully saturated colours, where the luma of the
// displayed RGB and the stored Y plane of a lossy format differ most.
func saturated(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	cols := []color.NRGBA{{255, 0, 0, 255}, {0, 0, 255, 255}, {0, 255, 0, 255}, {255, 0, 255, 255}, {0, 255, 255, 255}, {255, 255, 0, 255}}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, cols[(x/3+y/5)%len(cols)])
		}
	}
	return m
}

// photoNRGBA is photo() as NRGBA.
func photoNRGBA(w, h int) *image.NRGBA {
	m := photo(w, h, 11)
	return &image.NRGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}
}

func encodeJPEGStd(b *bytes.Buffer, m image.Image) error {
	return jpegEncode(b, m, 92)
}
