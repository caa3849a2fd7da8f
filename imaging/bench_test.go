package imaging

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// photo returns a photo-like RGB image: smooth color gradients and blobs
// with sensor-like noise, deterministic for a seed.
func photo(w, h int, seed uint64) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	parallel(h, 16, func(y0, y1 int) {
		rng := rand.New(rand.NewPCG(seed, uint64(y0)))
		for y := y0; y < y1; y++ {
			fy := float64(y) / float64(h)
			row := m.Pix[y*m.Stride:]
			for x := 0; x < w; x++ {
				fx := float64(x) / float64(w)
				base := 0.5 + 0.25*math.Sin(6*fx+3*fy) + 0.2*math.Cos(9*fy*fx+2)
				for c := 0; c < 3; c++ {
					v := base*220 + float64(c)*18*math.Sin(4*fx+float64(c)) + rng.NormFloat64()*6
					row[4*x+c] = uint8(max(0, min(255, v)))
				}
				row[4*x+3] = 255
			}
		}
	})
	return m
}

var (
	corpusOnce           sync.Once
	jpeg12, png12, jpeg2 []byte
)

func benchInputs(b *testing.B) {
	corpusOnce.Do(func() {
		p12 := photo(4000, 3000, 1)
		var buf bytes.Buffer
		jpeg.Encode(&buf, p12, &jpeg.Options{Quality: 90}) // 4:2:0
		jpeg12 = bytes.Clone(buf.Bytes())
		buf.Reset()
		(&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, p12)
		png12 = bytes.Clone(buf.Bytes())
		buf.Reset()
		jpeg.Encode(&buf, photo(1732, 1155, 2), &jpeg.Options{Quality: 90})
		jpeg2 = bytes.Clone(buf.Bytes())
	})
}

func benchCases(b *testing.B) []struct {
	name string
	data []byte
} {
	benchInputs(b)
	return []struct {
		name string
		data []byte
	}{{"jpeg12MP", jpeg12}, {"png12MP", png12}, {"jpeg2MP", jpeg2}}
}

// BenchmarkProcess is the whole job: gray + 256 px thumbnail.
func BenchmarkProcess(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			loop(b, func() {
				if _, err := Process(context.Background(), c.data, Options{}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkStep times each step alone on the state the previous steps made.
func BenchmarkStep(b *testing.B) {
	for _, c := range benchCases(b) {
		j := &job{ctx: context.Background(), data: c.data, opts: DefaultOptions()}
		for _, s := range steps {
			before := *j
			b.Run(fmt.Sprintf("%s/%s", c.name, s.name), func(b *testing.B) {
				loop(b, func() {
					jj := before
					if err := s.run(&jj); err != nil {
						b.Fatal(err)
					}
				})
			})
			if err := s.run(j); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// cpuTime returns the user+system CPU time of this process so far, reported
// beside ns/op because the wall clock of a shared machine is noisy.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f b.N times and reports the CPU milliseconds per op.
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	start := cpuTime()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
}

// BenchmarkEncodePNG encodes the 12 MP gray image at several deflate levels
// (the encoder's level is pngLevel); the output size is reported.
func BenchmarkEncodePNG(b *testing.B) {
	r := toGray(photo(4000, 3000, 1))
	for _, level := range []int{1, 2, 3, 6} {
		b.Run(fmt.Sprintf("level%d", level), func(b *testing.B) {
			var n int
			loop(b, func() {
				d, err := encodePNGLevel(r, level)
				if err != nil {
					b.Fatal(err)
				}
				n = len(d)
			})
			b.ReportMetric(float64(n), "bytes")
		})
	}
}

// BenchmarkProcessFile runs the whole job on the file named by
// IMAGING_BENCH_FILE (for instance the input of the peers comparison).
func BenchmarkProcessFile(b *testing.B) {
	path := os.Getenv("IMAGING_BENCH_FILE")
	if path == "" {
		b.Skip("IMAGING_BENCH_FILE not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	j := &job{ctx: context.Background(), data: data, opts: DefaultOptions()}
	for _, s := range steps {
		before := *j
		b.Run(s.name, func(b *testing.B) {
			loop(b, func() {
				jj := before
				if err := s.run(&jj); err != nil {
					b.Fatal(err)
				}
			})
		})
		if err := s.run(j); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("whole", func(b *testing.B) {
		loop(b, func() {
			if _, err := Process(context.Background(), data, Options{}); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkOrient rotates a 12 MP gray raster (orientation 6, the usual
// phone portrait) and mirrors it (2).
func BenchmarkOrient(b *testing.B) {
	r := newRaster(4000, 3000, false, false)
	for _, o := range []int{2, 6} {
		b.Run(fmt.Sprintf("orientation%d", o), func(b *testing.B) {
			loop(b, func() { orient(r, o) })
		})
	}
}
