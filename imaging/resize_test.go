package imaging

import (
	"fmt"
	"image"
	"math"
	"testing"

	"golang.org/x/image/draw"
)

func psnr8(a, b []byte) float64 {
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255*float64(len(a))/se)
}

func pixels(r *raster) []byte {
	var p []byte
	for y := 0; y < r.H; y++ {
		p = append(p, r.row(y)...)
	}
	return p
}

// xdraw resizes with a golang.org/x/image/draw interpolator (through RGBA,
// its fast path) and returns the gray samples.
func xdraw(r *raster, tw, th int, k draw.Interpolator) []byte {
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	k.Scale(dst, dst.Rect, r.image(), image.Rect(0, 0, r.W, r.H), draw.Src, nil)
	p := make([]byte, tw*th)
	for i := range p {
		p[i] = dst.Pix[4*i]
	}
	return p
}

func TestThumbSize(t *testing.T) {
	for _, tc := range []struct{ w, h, s, tw, th int }{
		{4000, 3000, 256, 256, 192},
		{3000, 4000, 256, 192, 256},
		{100, 50, 256, 100, 50}, // never enlarged
		{10000, 10, 256, 256, 1},
		{257, 256, 256, 256, 255},
	} {
		if tw, th := thumbSize(tc.w, tc.h, tc.s); tw != tc.tw || th != tc.th {
			t.Errorf("thumbSize(%d,%d,%d) = %dx%d, want %dx%d", tc.w, tc.h, tc.s, tw, th, tc.tw, tc.th)
		}
	}
}

// A one-pixel checkerboard must shrink to flat gray: nearest-neighbour or
// a bilinear sample of it would give black and white.
func TestThumbnailNoAliasing(t *testing.T) {
	r := newRaster(1000, 750, false, false)
	for y := 0; y < r.H; y++ {
		for x := 0; x < r.W; x++ {
			if (x+y)%2 == 0 {
				r.Pix[y*r.Stride+x] = 255
			}
		}
	}
	th := thumbnail(r, 256)
	if th.W != 256 || th.H != 192 {
		t.Fatalf("%dx%d", th.W, th.H)
	}
	for i, v := range pixels(th) {
		if v < 124 || v > 131 {
			t.Fatalf("pixel %d is %d, want about 127.5", i, v)
		}
	}
	// The same check for x/image/draw's approximate bilinear, to show the
	// test can fail.
	bad := 0
	for _, v := range xdraw(r, 256, 192, draw.ApproxBiLinear) {
		if v < 124 || v > 131 {
			bad++
		}
	}
	t.Logf("ApproxBiLinear: %d of %d pixels aliased", bad, 256*192)
}

// Transparent pixels must not bleed their luma into the edge.
func TestThumbnailPremultipliedAlpha(t *testing.T) {
	r := newRaster(800, 600, true, false)
	for y := 0; y < r.H; y++ {
		for x := 0; x < r.W/2; x++ {
			r.Pix[y*r.Stride+2*x], r.Pix[y*r.Stride+2*x+1] = 255, 255 // white, opaque; the right half is black, transparent
		}
	}
	th := thumbnail(r, 200)
	for y := 0; y < th.H; y++ {
		for x := 0; x < th.W; x++ {
			l, a := th.Pix[y*th.Stride+2*x], th.Pix[y*th.Stride+2*x+1]
			if a > 8 && l < 250 {
				t.Fatalf("(%d,%d): L %d at alpha %d: transparent black bled in", x, y, l, a)
			}
		}
	}
}

// TestThumbnailQuality measures the box pre-shrink + Lanczos-3 thumbnail
// against a pure Lanczos-3 reference (no pre-shrink) on a photo, beside
// golang.org/x/image/draw's kernels. The numbers are in the log (go test
// -v -run ThumbnailQuality); speed is BenchmarkThumbnail.
func TestThumbnailQuality(t *testing.T) {
	src := detailed(3000, 2000)
	tw, th := thumbSize(src.W, src.H, 256)
	ref := pixels(resize(src, tw, th, 0))
	results := map[string]float64{}
	for _, gap := range []int{2, 3, 4} {
		results[fmt.Sprintf("box+lanczos3 gap %d", gap)] = psnr8(ref, pixels(resize(src, tw, th, gap)))
	}
	for name, k := range map[string]draw.Interpolator{
		"x/image/draw CatmullRom": draw.CatmullRom, "x/image/draw BiLinear": draw.BiLinear,
		"x/image/draw ApproxBiLinear": draw.ApproxBiLinear, "x/image/draw NearestNeighbor": draw.NearestNeighbor,
	} {
		results[name] = psnr8(ref, xdraw(src, tw, th, k))
	}
	for name, db := range results {
		t.Logf("%-30s PSNR %.2f dB against pure Lanczos-3", name, db)
	}
	if db := results[fmt.Sprintf("box+lanczos3 gap %d", boxGap)]; db < 40 {
		t.Errorf("the thumbnail is %.2f dB from the Lanczos reference, want >= 40", db)
	}
	if results["x/image/draw NearestNeighbor"] > 30 {
		t.Errorf("nearest neighbour scored %.2f dB: the photo is too smooth to tell kernels apart", results["x/image/draw NearestNeighbor"])
	}
}

// detailed is a photo whose right half is a zone plate (concentric rings
// whose frequency rises to the Nyquist limit), which aliases visibly under
// a poor kernel.
func detailed(w, h int) *raster {
	r := toGray(photo(w, h, 21))
	cx, cy := float64(w)*0.75, float64(h)/2
	k := math.Pi / float64(w) // phase rate reaching pi per pixel at the far edge
	for y := 0; y < h; y++ {
		for x := w / 2; x < w; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			r.Pix[y*r.Stride+x] = uint8(127.5 + 120*math.Sin(k*(dx*dx+dy*dy)*2))
		}
	}
	return r
}

func BenchmarkThumbnail(b *testing.B) {
	src := toGray(photo(4000, 3000, 21))
	tw, th := thumbSize(src.W, src.H, 256)
	for _, gap := range []int{0, 2, 3, 4} {
		b.Run(fmt.Sprintf("box+lanczos3/gap%d", gap), func(b *testing.B) {
			loop(b, func() { resize(src, tw, th, gap) })
		})
	}
	for _, k := range []struct {
		name string
		k    draw.Interpolator
	}{{"CatmullRom", draw.CatmullRom}, {"BiLinear", draw.BiLinear}, {"ApproxBiLinear", draw.ApproxBiLinear}} {
		b.Run("xdraw/"+k.name, func(b *testing.B) {
			loop(b, func() { xdraw(src, tw, th, k.k) })
		})
	}
}
