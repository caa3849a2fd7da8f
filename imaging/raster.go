package imaging

import (
	"image"
	"runtime"
	"sync"
)

// raster is the gray image the pipeline works on: one luma sample per pixel,
// optionally followed by an alpha sample, 8 or 16 bits per sample. 16-bit
// samples are big-endian. This is exactly the row layout of PNG color types
// 0 (gray) and 4 (gray+alpha), and of image.Gray and image.Gray16.
type raster struct {
	W, H   int
	Alpha  bool // samples are (luma, alpha) pairs, alpha not premultiplied
	Deep   bool // 16 bits per sample
	Pix    []byte
	Stride int // bytes from one row to the next
}

// bpp returns the bytes per pixel.
func (r *raster) bpp() int {
	n := 1
	if r.Alpha {
		n = 2
	}
	if r.Deep {
		n *= 2
	}
	return n
}

func newRaster(w, h int, alpha, deep bool) *raster {
	r := &raster{W: w, H: h, Alpha: alpha, Deep: deep}
	r.Stride = w * r.bpp()
	r.Pix = make([]byte, r.Stride*h)
	return r
}

func (r *raster) row(y int) []byte { return r.Pix[y*r.Stride : y*r.Stride+r.W*r.bpp()] }

// image returns r as a standard library image for the encoders and tests:
// *image.Gray, *image.Gray16, *image.NRGBA or *image.NRGBA64 (gray+alpha as
// equal R, G and B).
func (r *raster) image() image.Image {
	rect := image.Rect(0, 0, r.W, r.H)
	switch {
	case !r.Alpha && !r.Deep:
		return &image.Gray{Pix: r.Pix, Stride: r.Stride, Rect: rect}
	case !r.Alpha && r.Deep:
		return &image.Gray16{Pix: r.Pix, Stride: r.Stride, Rect: rect}
	case !r.Deep:
		m := image.NewNRGBA(rect)
		for y := 0; y < r.H; y++ {
			s, d := r.row(y), m.Pix[y*m.Stride:]
			for x := 0; x < r.W; x++ {
				l, a := s[2*x], s[2*x+1]
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = l, l, l, a
			}
		}
		return m
	default:
		m := image.NewNRGBA64(rect)
		for y := 0; y < r.H; y++ {
			s, d := r.row(y), m.Pix[y*m.Stride:]
			for x := 0; x < r.W; x++ {
				l0, l1, a0, a1 := s[4*x], s[4*x+1], s[4*x+2], s[4*x+3]
				copy(d[8*x:8*x+8], []byte{l0, l1, l0, l1, l0, l1, a0, a1})
			}
		}
		return m
	}
}

// parallel calls f over [0,n) split into contiguous bands, one per core,
// with at least minPer items per band.
func parallel(n, minPer int, f func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if minPer < 1 {
		minPer = 1
	}
	if n/minPer < workers {
		workers = n / minPer
	}
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		lo, hi := n*i/workers, n*(i+1)/workers
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}

func parallelism() int { return runtime.GOMAXPROCS(0) }
