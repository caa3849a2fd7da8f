package imaging

import (
	"fmt"
	"image"
	"math"
	"testing"

	nfnt "github.com/nfnt/resize"
	"golang.org/x/image/draw"
)

// The design this project started from named github.com/nfnt/resize for the
// thumbnail. It is not used; this file measures why, against our kernel
// (box pre-shrink + Lanczos-3, resize.go), on the same 12 MP gray photo
// with a zone plate, to a 256 px thumbnail:
//
//	go test ./imaging -run TestThumbnailVersusNfnt -v   (quality, PSNR)
//	go test ./imaging -run '^$' -bench ThumbnailVersusNfnt   (CPU per thumbnail)
//
// The reference is a Lanczos-3 of the whole image in float64 (refLanczos3
// below, written apart from both implementations): what both approximate.
// nfnt/resize is a test-only dependency of this module, for this
// measurement; its README says it is no longer updated.

// nfntKernels are the nfnt/resize filters compared.
var nfntKernels = []struct {
	name string
	k    nfnt.InterpolationFunction
}{
	{"Lanczos3", nfnt.Lanczos3},
	{"Bicubic", nfnt.Bicubic},
	{"Bilinear", nfnt.Bilinear},
	{"NearestNeighbor", nfnt.NearestNeighbor},
}

// nfntThumb resizes an 8-bit gray raster with nfnt/resize (its *image.Gray
// fast path) and returns the samples.
func nfntThumb(r *raster, tw, th int, k nfnt.InterpolationFunction) []byte {
	out := nfnt.Resize(uint(tw), uint(th), r.image(), k)
	g, ok := out.(*image.Gray)
	if !ok {
		panic(fmt.Sprintf("nfnt/resize returned a %T for a gray image", out))
	}
	p := make([]byte, 0, tw*th)
	for y := 0; y < th; y++ {
		p = append(p, g.Pix[y*g.Stride:y*g.Stride+tw]...)
	}
	return p
}

// refLanczos3 is a separable Lanczos-3 of the whole raster in float64, the
// kernel stretched by the scale (as ImageMagick and Pillow do when
// shrinking), taps outside the image dropped and the rest renormalised.
func refLanczos3(r *raster, tw, th int) []byte {
	weights := func(in, out int) (starts []int, ws [][]float64) {
		scale := float64(in) / float64(out)
		support := 3 * scale
		for j := 0; j < out; j++ {
			c := (float64(j) + 0.5) * scale
			lo, hi := max(0, int(math.Floor(c-support))), min(in, int(math.Ceil(c+support)))
			w := make([]float64, hi-lo)
			sum := 0.0
			for i := lo; i < hi; i++ {
				x := math.Abs((float64(i) + 0.5 - c) / scale)
				v := 1.0
				if x >= 3 {
					v = 0
				} else if x > 0 {
					v = 3 * math.Sin(math.Pi*x) * math.Sin(math.Pi*x/3) / (math.Pi * math.Pi * x * x)
				}
				w[i-lo] = v
				sum += v
			}
			for i := range w {
				w[i] /= sum
			}
			starts, ws = append(starts, lo), append(ws, w)
		}
		return starts, ws
	}
	xs, xw := weights(r.W, tw)
	ys, yw := weights(r.H, th)
	tmp := make([]float64, tw*r.H)
	parallel(r.H, 16, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			row := r.row(y)
			for x := 0; x < tw; x++ {
				acc := 0.0
				for i, w := range xw[x] {
					acc += w * float64(row[xs[x]+i])
				}
				tmp[y*tw+x] = acc
			}
		}
	})
	out := make([]byte, tw*th)
	for y := 0; y < th; y++ {
		for x := 0; x < tw; x++ {
			acc := 0.0
			for i, w := range yw[y] {
				acc += w * tmp[(ys[y]+i)*tw+x]
			}
			out[y*tw+x] = uint8(max(0, min(255, math.Round(acc))))
		}
	}
	return out
}

// TestThumbnailVersusNfnt puts our thumbnail and nfnt/resize's filters side
// by side against the float64 Lanczos-3 of the whole image. The PSNRs are
// in the log; CPU is BenchmarkThumbnailVersusNfnt.
func TestThumbnailVersusNfnt(t *testing.T) {
	src := detailed(4000, 3000)
	tw, th := thumbSize(src.W, src.H, 256)
	ref := refLanczos3(src, tw, th)

	// The reference and our pure Lanczos-3 (no pre-shrink, float32) are the
	// same filter written twice: they must agree closely, or the reference
	// is wrong.
	if db := psnr8(ref, pixels(resize(src, tw, th, 0))); db < 50 {
		t.Fatalf("our pure Lanczos-3 is %.2f dB from the float64 reference: one of the two is wrong", db)
	}
	ours := psnr8(ref, pixels(thumbnail(src, 256)))
	t.Logf("%-28s PSNR %6.2f dB against a float64 Lanczos-3 of the whole image", "imagepipe box+Lanczos-3", ours)
	nfnt := map[string]float64{}
	for _, k := range nfntKernels {
		nfnt[k.name] = psnr8(ref, nfntThumb(src, tw, th, k.k))
		t.Logf("%-28s PSNR %6.2f dB", "nfnt/resize "+k.name, nfnt[k.name])
	}
	if ours < 40 {
		t.Errorf("our thumbnail is %.2f dB from the reference, want >= 40 (no visible difference)", ours)
	}
	// nfnt's Lanczos3 is the same filter in 14-bit integer weights; ours
	// trades a little of its precision for a box pre-shrink. Hold the gap:
	// ours may not fall more than 6 dB below it.
	if ours < nfnt["Lanczos3"]-6 {
		t.Errorf("our thumbnail (%.2f dB) fell more than 6 dB below nfnt/resize's Lanczos3 (%.2f dB)", ours, nfnt["Lanczos3"])
	}
	// The zone plate must tell kernels apart: a point sample aliases.
	// (nfnt's NearestNeighbor is not one: shrinking, it averages a box.)
	if db := psnr8(ref, xdraw(src, tw, th, draw.NearestNeighbor)); db > 30 {
		t.Errorf("a point sample scored %.2f dB: the image is too smooth to compare kernels", db)
	}
}

// BenchmarkThumbnailVersusNfnt is the CPU of one 256 px thumbnail of a 12
// MP gray photo: ours, and nfnt/resize's filters (cpu-ms/op is user+system
// time over every core; nfnt splits its work over GOMAXPROCS goroutines,
// ours too). Each also reports its quality, psnr-dB: TestThumbnailVersusNfnt's
// PSNR against the float64 Lanczos-3 on the zone-plate photo, so that the
// README's table of both comes from one make bench record.
func BenchmarkThumbnailVersusNfnt(b *testing.B) {
	src := toGray(photo(4000, 3000, 21))
	tw, th := thumbSize(src.W, src.H, 256)
	zp := detailed(src.W, src.H)
	ref := refLanczos3(zp, tw, th)
	b.Run("imagepipe", func(b *testing.B) {
		loop(b, func() { thumbnail(src, 256) })
		b.ReportMetric(psnr8(ref, pixels(thumbnail(zp, 256))), "psnr-dB")
	})
	for _, k := range nfntKernels {
		b.Run("nfnt/"+k.name, func(b *testing.B) {
			loop(b, func() { nfntThumb(src, tw, th, k.k) })
			b.ReportMetric(psnr8(ref, nfntThumb(zp, tw, th, k.k)), "psnr-dB")
		})
	}
}
