package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// The DCT path: outputs made from the coefficients against the input's
// decoded Y plane and against the pixel path.

// dctProcess runs Process and checks that the gray output came from the
// coefficients (want true) or from pixels.
func dctProcess(t *testing.T, data []byte, opts Options, want bool) *Result {
	t.Helper()
	res, err := Process(context.Background(), data, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Outputs {
		if got := o.Path == PathDCT; got != want {
			t.Fatalf("%s: path %q, want dct=%v", o.Name, o.Path, want)
		}
	}
	return res
}

// yPlane decodes the gray image of a JPEG in pixels, oriented.
func yPlane(t *testing.T, data []byte, o int) *raster {
	t.Helper()
	r, err := decodeJPEGLuma(data)
	if err != nil {
		t.Fatal(err)
	}
	return orient(r, o)
}

// With input tables coarser than the output quality's, the coefficients
// are kept: the output decodes to the input's Y bit for bit, by this
// package's decoder and by libjpeg's.
func TestDCTLossless(t *testing.T) {
	l := newLibjpeg(t)
	src := photo(203, 157, 31)
	for name, args := range map[string][]string{
		"baseline 4:2:0":         {"-quality", "70"},
		"baseline 4:4:4":         {"-quality", "60", "-sample", "1x1"},
		"baseline 4:2:2":         {"-quality", "75", "-sample", "2x1"},
		"baseline 4:1:1":         {"-quality", "75", "-sample", "4x1"},
		"baseline 4:4:0":         {"-quality", "75", "-sample", "1x2"},
		"baseline 1x4":           {"-quality", "75", "-sample", "1x4"},
		"restarts":               {"-quality", "75", "-restart", "3B"},
		"progressive":            {"-quality", "75", "-progressive"},
		"arithmetic":             {"-quality", "75", "-arithmetic"},
		"arithmetic progressive": {"-quality", "75", "-arithmetic", "-progressive", "-restart", "1"},
		"gray":                   {"-quality", "50", "-grayscale"},
	} {
		t.Run(name, func(t *testing.T) {
			l := l.sub(t)
			data := l.compress(src, args...)
			res := dctProcess(t, data, Options{JPEGQuality: 85}, true)
			in, out := yPlane(t, data, 1), yPlane(t, res.Outputs[0].Data, 1)
			if !bytes.Equal(pixels(in), pixels(out)) {
				maxd, mean := compare(pixels(in), pixels(out))
				t.Fatalf("output Y differs from the input's by up to %d (mean %.4f)", maxd, mean)
			}
			_, _, djIn := l.reference(data, jpegYCbCr)
			_, _, djOut := l.reference(res.Outputs[0].Data, jpegGray)
			if !bytes.Equal(djIn, djOut) {
				maxd, _ := compare(djIn, djOut)
				t.Fatalf("djpeg: output Y differs from the input's by up to %d", maxd)
			}
		})
	}
	t.Run("129 scans", func(t *testing.T) {
		data := writeProgressive(coefficients(t, l.sub(t).compress(src, "-quality", "75")), script129(3))
		res := dctProcess(t, data, Options{}, true)
		if !bytes.Equal(pixels(yPlane(t, data, 1)), pixels(yPlane(t, res.Outputs[0].Data, 1))) {
			t.Fatal("output Y differs from the input's")
		}
	})
}

// psnrRasters is the PSNR of b against a (same size, 8-bit gray).
func psnrRasters(t *testing.T, a, b *raster) float64 {
	t.Helper()
	if a.W != b.W || a.H != b.H {
		t.Fatalf("%dx%d against %dx%d", b.W, b.H, a.W, a.H)
	}
	return psnr8(pixels(a), pixels(b))
}

// pixelPath is what the pipeline makes of a JPEG without its coefficients:
// the decoded Y, oriented, re-encoded.
func pixelPath(t *testing.T, data []byte, o, quality int) []byte {
	return encodeGrayJPEG(yPlane(t, data, o), quality)
}

// With finer input tables the coefficients are requantised: the output is
// at least as close to the input's Y as the pixel path's, and no larger
// than 5 % over it.
func TestDCTRequantised(t *testing.T) {
	l := newLibjpeg(t)
	for _, tc := range []struct {
		name    string
		w, h    int
		args    []string
		quality int
	}{
		{"q90 to 85, 4:2:0", 640, 480, []string{"-quality", "90"}, 85},
		{"q95 to 85, 4:4:4", 400, 304, []string{"-quality", "95", "-sample", "1x1"}, 85},
		{"q98 to 75, progressive", 320, 240, []string{"-quality", "98", "-progressive"}, 75},
		{"q90 to 50, odd size", 333, 251, []string{"-quality", "90"}, 50},
		{"q100 to 92, gray", 256, 256, []string{"-quality", "100", "-grayscale"}, 92},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := l.sub(t).compress(photo(tc.w, tc.h, 41), tc.args...)
			res := dctProcess(t, data, Options{JPEGQuality: tc.quality}, true)
			in := yPlane(t, data, 1)
			dct := res.Outputs[0].Data
			pix := pixelPath(t, data, 1, tc.quality)
			pd, pp := psnrRasters(t, in, yPlane(t, dct, 1)), psnrRasters(t, in, yPlane(t, pix, 1))
			ratio := float64(len(dct)) / float64(len(pix))
			t.Logf("PSNR against the input's Y: dct %.3f dB, pixels %.3f dB; size dct %d, pixels %d (%.3f)", pd, pp, len(dct), len(pix), ratio)
			if pd < pp {
				t.Errorf("dct path PSNR %.3f dB below the pixel path's %.3f dB", pd, pp)
			}
			if ratio > 1.05 {
				t.Errorf("dct output %d bytes, over 1.05 x the pixel path's %d", len(dct), len(pix))
			}
		})
	}
}

// Orientation in the coefficient domain against orienting the decoded
// pixels, for all eight orientations: the same pixels (to the IDCT's
// rounding) where the geometry allows, the pixel path otherwise.
func TestDCTOrientation(t *testing.T) {
	l := newLibjpeg(t)
	for _, size := range [][2]int{{200, 120}, {203, 120}, {200, 157}} {
		w, h := size[0], size[1]
		plain := l.compress(photo(w, h, 51), "-quality", "75")
		for o := 1; o <= 8; o++ {
			t.Run(fmt.Sprintf("%dx%d orientation %d", w, h, o), func(t *testing.T) {
				data := jpegWithExif(plain, exifTIFF(o, binary.BigEndian))
				want := orientationFitsBlocks(w, h, o)
				res := dctProcess(t, data, Options{ThumbSizes: []int{64}}, want)
				ow, oh := w, h
				if o >= 5 {
					ow, oh = h, w
				}
				g := res.Outputs[0]
				if g.Width != ow || g.Height != oh {
					t.Fatalf("gray %dx%d, want %dx%d", g.Width, g.Height, ow, oh)
				}
				upright := yPlane(t, plain, o)
				got := yPlane(t, g.Data, 1)
				maxd, mean := compare(pixels(upright), pixels(got))
				if want && (maxd > 1 || mean > 0.01) {
					t.Errorf("oriented coefficients decode %d (mean %.4f) away from the oriented pixels", maxd, mean)
				}
				if !want && psnrRasters(t, upright, got) < 40 {
					t.Errorf("pixel path: PSNR %.2f dB", psnrRasters(t, upright, got))
				}
				// The thumbnail is upright too.
				th := res.Outputs[1]
				tw, tht := thumbSize(ow, oh, 64)
				if th.Width != tw || th.Height != tht {
					t.Fatalf("thumb %dx%d, want %dx%d", th.Width, th.Height, tw, tht)
				}
				ref := thumbnail(upright, 64)
				if db := psnrRasters(t, ref, yPlane(t, th.Data, 1)); db < 30 {
					t.Errorf("thumbnail PSNR %.2f dB against the pixel path's", db)
				}
			})
		}
	}
}

// Thumbnails from the DCs (1/8 scale), from 2x2 and 4x4 cell means (1/4,
// 1/2) and from a full inverse DCT, against the pixel path's thumbnails.
func TestDCTThumbnails(t *testing.T) {
	l := newLibjpeg(t)
	data := l.compress(photo(1200, 800, 61), "-quality", "90")
	sizes := []int{64, 150, 256, 500, 900, 1200, 2000}
	res := dctProcess(t, data, Options{ThumbSizes: sizes}, true)
	y := yPlane(t, data, 1)
	for i, s := range sizes {
		o := res.Outputs[i+1]
		tw, th := thumbSize(1200, 800, s)
		if o.Width != tw || o.Height != th {
			t.Fatalf("thumb %d: %dx%d, want %dx%d", s, o.Width, o.Height, tw, th)
		}
		got := yPlane(t, o.Data, 1)
		ref := thumbnail(y, s)
		db := psnrRasters(t, ref, got)
		t.Logf("thumbnail %d (%dx%d): PSNR %.2f dB against the pixel path's", s, tw, th, db)
		if db < 35 {
			t.Errorf("thumbnail %d: PSNR %.2f dB", s, db)
		}
	}
	if !bytes.Equal(res.Outputs[len(sizes)].Data, res.Outputs[0].Data) {
		t.Error("a thumbnail as large as the image should be the gray output itself")
	}
}

// blockSink is a dctSink that the decoder hands blocks to (row) instead
// of letting it tokenize Y itself.
type blockSink struct{ *dctSink }

func (blockSink) tokenizer() *yTokenizer { return nil }

// The 1/4 and 1/2 scale planes that the decoder fills while it tokenizes
// Y are those made from the decoded blocks, value for value, and the
// tokenizer is used for them.
func TestDCTCellsWhileTokenizing(t *testing.T) {
	l := newLibjpeg(t)
	for _, tc := range []struct {
		name string
		w, h int
		args []string
	}{
		{"4:2:0", 640, 480, []string{"-quality", "90"}},
		{"4:2:2 odd size, restarts", 333, 251, []string{"-quality", "75", "-sample", "2x1", "-restart", "2B"}},
		{"4:4:4 requantised", 400, 304, []string{"-quality", "97", "-sample", "1x1"}},
		{"gray", 250, 170, []string{"-quality", "100", "-grayscale"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := l.sub(t).compress(photo(tc.w, tc.h, 91), tc.args...)
			// Longest sides a sixth and two fifths of the image's: 1/4
			// and 1/2 scale.
			sizes := []int{max(tc.w, tc.h) / 6, max(tc.w, tc.h) * 2 / 5}
			fast, slow := newDCTSink(1, 85, sizes), newDCTSink(1, 85, sizes)
			lim := jpegLimitsOf(DefaultOptions())
			if _, err := decodeJPEG(context.Background(), data, lim, fast); err != nil {
				t.Fatal(err)
			}
			if _, err := decodeJPEG(context.Background(), data, lim, blockSink{slow}); err != nil {
				t.Fatal(err)
			}
			if fast.tokenizer() == nil || fast.tokenizer().cells == nil {
				t.Fatal("the decoder did not tokenize Y with the cells")
			}
			if len(fast.cells) != 2 || len(slow.cells) != 2 {
				t.Fatalf("%d and %d cell planes, want 2 (1/4 and 1/2 scale)", len(fast.cells), len(slow.cells))
			}
			for i, c := range fast.cells {
				want := slow.cells[i].p
				for j, v := range c.p.p {
					if v != want.p[j] {
						t.Fatalf("1/%d scale (%dx%d), sample %d: %v while tokenizing, %v from the blocks", 8/c.cell, c.p.w, c.p.h, j, v, want.p[j])
					}
				}
			}
			if !slices.Equal(fast.tok.dc, slow.tok.dc) {
				t.Fatal("the DCs differ")
			}
		})
	}
}

// The DCT path's DC plane is the block means of the decoded Y.
func TestDCPlaneIsBlockMeans(t *testing.T) {
	l := newLibjpeg(t)
	data := l.compress(photo(96, 64, 71), "-quality", "95", "-sample", "1x1")
	s := newDCTSink(1, 85, []int{8})
	if _, err := decodeJPEG(context.Background(), data, jpegLimitsOf(DefaultOptions()), s); err != nil {
		t.Fatal(err)
	}
	p := s.dcPlane()
	y := yPlane(t, data, 1)
	for by := 0; by < 8; by++ {
		for bx := 0; bx < 12; bx++ {
			sum := 0
			for j := 0; j < 8; j++ {
				for i := 0; i < 8; i++ {
					sum += int(y.Pix[(8*by+j)*y.Stride+8*bx+i])
				}
			}
			if d := math.Abs(float64(p.p[by*p.w+bx]) - float64(sum)/64); d > 0.6 {
				t.Fatalf("block (%d,%d): DC mean %.2f, pixel mean %.2f", bx, by, p.p[by*p.w+bx], float64(sum)/64)
			}
		}
	}
}

// Colour that the Y plane does not carry takes the pixel path.
func TestDCTPathChoice(t *testing.T) {
	l := newLibjpeg(t)
	src := photo(80, 48, 81)
	for _, tc := range []struct {
		name string
		data []byte
		dct  bool
	}{
		{"YCbCr", l.compress(src), true},
		{"gray", l.compress(src, "-grayscale"), true},
		{"RGB", l.compress(src, "-rgb"), false},
		{"Y subsampled", l.compress(src, "-sample", "1x1,2x2,2x2"), false},
		{"CMYK", newPillow(t).make("jpeg_cmyk", src, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dctProcess(t, tc.data, Options{}, tc.dct)
		})
	}
}

// TestDCTFile compares the DCT path with the pixel path on the JPEG named
// by IMAGING_BENCH_FILE (the peers comparison's input, say): PSNR against
// the input's Y and size at the default quality. Skipped without it.
func TestDCTFile(t *testing.T) {
	path := os.Getenv("IMAGING_BENCH_FILE")
	if path == "" {
		t.Skip("IMAGING_BENCH_FILE not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := dctProcess(t, data, Options{}, true)
	in := yPlane(t, data, 1)
	dct := res.Outputs[0].Data
	pix := pixelPath(t, data, 1, DefaultJPEGQuality)
	pd, pp := psnrRasters(t, in, yPlane(t, dct, 1)), psnrRasters(t, in, yPlane(t, pix, 1))
	t.Logf("%s: PSNR against its Y: dct %.2f dB, pixels %.2f dB; size dct %d, pixels %d (%.3f)", path, pd, pp, len(dct), len(pix), float64(len(dct))/float64(len(pix)))
	if pd < pp || float64(len(dct)) > 1.05*float64(len(pix)) {
		t.Errorf("the DCT path is worse than the pixel path")
	}
}

// reduce gives each n x n cell's mean of the block's inverse DCT (before
// rounding and clamping), computed here the long way, for random blocks
// and quantisation tables, sparse and full.
func TestReduceIsCellMeans(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 300 {
		var q [64]uint16
		for i := range q {
			q[i] = uint16(1 + rng.IntN(60))
		}
		var blk [64]int16
		var nz uint64
		keep := []int{64, 20, 6, 1}[trial%4] // coefficients kept, in zig-zag order
		for z := range keep {
			v := int16(rng.IntN(41) - 20)
			if z == 0 {
				v = int16(rng.IntN(201) - 100)
			}
			blk[zigzag[z]] = v
			if z > 0 && v != 0 {
				nz |= 1 << z
			}
		}
		var px [8][8]float64 // the block's inverse DCT
		for y := range 8 {
			for x := range 8 {
				s := 128.0
				for v := range 8 {
					for u := range 8 {
						cu, cv := 0.5, 0.5
						if u == 0 {
							cu /= math.Sqrt2
						}
						if v == 0 {
							cv /= math.Sqrt2
						}
						s += cu * cv * float64(blk[v*8+u]) * float64(q[v*8+u]) *
							math.Cos(float64(2*x+1)*float64(u)*math.Pi/16) * math.Cos(float64(2*y+1)*float64(v)*math.Pi/16)
					}
				}
				px[y][x] = s
			}
		}
		for _, n := range []int{1, 2, 4} {
			var rt reduceTable
			rt.init(&q, n)
			var got [16]float32
			rt.reduce(&blk, nz, &got)
			g := 8 / n
			for j := range n {
				for i := range n {
					want := 0.0
					for y := g * j; y < g*(j+1); y++ {
						for x := g * i; x < g*(i+1); x++ {
							want += px[y][x]
						}
					}
					want /= float64(g * g)
					if d := math.Abs(float64(got[j*n+i]) - want); d > 0.01 {
						t.Fatalf("trial %d, n %d, cell (%d,%d): %.4f, want %.4f (the mean of the inverse DCT)", trial, n, i, j, got[j*n+i], want)
					}
				}
			}
		}
	}
}
