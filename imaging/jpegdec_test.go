package imaging

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"
)

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
		if _, err := decodeJPEGLuma(data[:n]); err == nil || err == errFallback {
			t.Errorf("truncated at %d of %d: err %v, want corrupt", n, len(data), err)
		}
	}
}

var _ = image.Rect
