package imaging

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// decodeJPEGLuma decodes the gray image of a JPEG in pixels, with the
// default limits.
func decodeJPEGLuma(data []byte) (*raster, error) {
	h, err := parseJPEGHeader(data)
	if err != nil {
		return nil, err
	}
	return jpegGrayRaster(context.Background(), data, jpegLimitsOf(DefaultOptions()), h)
}

// grayRaster is the gray raster of a job after its orient step. The DCT
// path keeps coefficients, not pixels: its gray is the Y plane (what the
// pixel path decodes), oriented.
func (j *job) grayRaster() (*raster, error) {
	if j.dct == nil {
		return j.gray, nil
	}
	y, err := decodeJPEGLuma(j.data)
	if err != nil {
		return nil, err
	}
	return orient(y, j.info.Orientation), nil
}

// The AAN inverse DCT against the textbook formula.
func TestIDCTMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q [64]uint16
	for i := range q {
		q[i] = uint16(1 + rng.IntN(20))
	}
	var tbl idctTable
	tbl.init(&q)
	for trial := 0; trial < 200; trial++ {
		var coef [64]int16
		for i := range coef {
			if rng.IntN(3) == 0 || i == 0 {
				coef[i] = int16(rng.IntN(41) - 20)
			}
		}
		dst := make([]byte, 64)
		idct8x8(coef[:], &tbl, dst, 8)
		for y := 0; y < 8; y++ {
			for x := 0; x < 8; x++ {
				var s float64
				for v := 0; v < 8; v++ {
					for u := 0; u < 8; u++ {
						cu, cv := 1.0, 1.0
						if u == 0 {
							cu = 1 / math.Sqrt2
						}
						if v == 0 {
							cv = 1 / math.Sqrt2
						}
						f := float64(coef[v*8+u]) * float64(q[v*8+u])
						s += cu * cv * f * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16) * math.Cos(float64(2*y+1)*float64(v)*math.Pi/16)
					}
				}
				want := math.Max(0, math.Min(255, math.Round(s/4+128)))
				if d := float64(dst[y*8+x]) - want; d < -1 || d > 1 {
					t.Fatalf("trial %d (%d,%d): got %d, want %.0f", trial, x, y, dst[y*8+x], want)
				}
			}
		}
	}
}

// The luma decoder against image/jpeg's Y plane on the encodings it handles.
func TestDecodeJPEGLuma(t *testing.T) {
	src := photo(333, 251, 3)
	for _, tc := range []struct {
		name string
		data func() []byte
	}{
		{"ycbcr 4:2:0 q90", func() []byte {
			return encodeWith(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, src, &jpeg.Options{Quality: 90}) })
		}},
		{"gray q75", func() []byte {
			return encodeWith(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, toGray(src).image(), &jpeg.Options{Quality: 75}) })
		}},
		{"own encoder with restarts", func() []byte { return encodeGrayJPEG(toGray(src), 85) }},
		{"q100", func() []byte {
			return encodeWith(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, src, &jpeg.Options{Quality: 100}) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data()
			got, err := decodeJPEGLuma(data)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			want := toGray(ref)
			if got.W != want.W || got.H != want.H {
				t.Fatalf("size %dx%d, want %dx%d", got.W, got.H, want.W, want.H)
			}
			maxd := 0
			for y := 0; y < got.H; y++ {
				a, b := got.row(y), want.row(y)
				for x := range a {
					maxd = max(maxd, abs(int(a[x])-int(b[x])))
				}
			}
			if maxd > 1 {
				t.Errorf("Y differs from image/jpeg by up to %d", maxd)
			}
		})
	}
}

func TestDecodeJPEGLumaTruncated(t *testing.T) {
	data := encodeWith(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, photo(200, 200, 4), nil) })
	for _, n := range []int{len(data) / 2, len(data) - 40, 700} {
		if _, err := decodeJPEGLuma(data[:n]); Code(err) != "corrupt_image" {
			t.Errorf("truncated at %d of %d: err %v, want corrupt", n, len(data), err)
		}
	}
}

var _ = image.Rect

// Progressive JPEGs (made by Pillow, and by jpegtran with restart
// intervals) against image/jpeg's Y plane, or Pillow's where image/jpeg
// cannot read the file.
func TestDecodeJPEGLumaProgressive(t *testing.T) {
	p := newPillow(t)
	src := photoNRGBA(517, 389)
	files := map[string][]byte{
		"4:4:4":       p.make("jpeg_progressive_sub0", src, 0),
		"4:2:2":       p.make("jpeg_progressive_sub1", src, 0),
		"4:2:0":       p.make("jpeg_progressive_sub2", src, 0),
		"gray":        p.make("jpeg_progressive_gray", src, 0),
		"small 4:2:0": p.make("jpeg_progressive_sub2", photoNRGBA(9, 7), 0),
	}
	jt := needTool(t, "jpegtran")
	for _, args := range [][]string{{"-progressive", "-restart", "1"}, {"-progressive", "-restart", "3B"}} {
		in := p.file("base.jpg", files["4:2:0"])
		out := filepath.Join(p.dir, "jt.jpg")
		if b, err := exec.Command(jt, append(args, "-outfile", out, in)...).CombinedOutput(); err != nil {
			t.Fatalf("jpegtran: %v %s", err, b)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		files["jpegtran "+strings.Join(args, " ")] = data
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(data[:min(len(data), 2000)], []byte{0xff, 0xc2}) {
				t.Fatal("not progressive")
			}
			got, err := decodeJPEGLuma(data)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			tol, mean := 1, 0.05
			if ref, err := jpeg.Decode(bytes.NewReader(data)); err == nil {
				want = pixels(toGray(ref))
			} else {
				// image/jpeg cannot read restart markers in progressive
				// scans ("missing 0xff00 sequence"); compare with Pillow,
				// whose L goes through RGB.
				t.Logf("image/jpeg: %v; comparing with Pillow", err)
				var w, h int
				w, h, _, want = p.read("luma", data)
				if w != got.W || h != got.H {
					t.Fatalf("Pillow %dx%d, ours %dx%d", w, h, got.W, got.H)
				}
				tol, mean = 3, 0.1
			}
			ours := pixels(got)
			if len(ours) != len(want) {
				t.Fatalf("%d pixels, want %d", len(ours), len(want))
			}
			if d, m := compare(ours, want); d > tol || m > mean {
				t.Errorf("Y differs from the reference by up to %d (mean %.3f)", d, m)
			}
			// Truncated: an error, never a panic or a partial image.
			for _, n := range []int{len(data) / 3, len(data) - 100} {
				if _, err := decodeJPEGLuma(data[:n]); err == nil {
					t.Errorf("truncated at %d: no error", n)
				}
			}
		})
	}
}
