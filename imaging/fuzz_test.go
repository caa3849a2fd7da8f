package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"image/jpeg"
	"testing"
)

// addJPEGSeeds adds small JPEGs of image/jpeg and of this package's writer.
func addJPEGSeeds(f *testing.F) {
	src := photo(40, 24, 5)
	for _, q := range []int{10, 75, 100} {
		var b bytes.Buffer
		jpeg.Encode(&b, src, &jpeg.Options{Quality: q})
		f.Add(b.Bytes())
	}
	f.Add(encodeGrayJPEG(toGray(src), 85))
}

// FuzzDecodeJPEGLuma: the hand-written JPEG decoder reads untrusted bytes;
// it must never panic, and what it accepts must agree with the header.
// Run with go test -fuzz FuzzDecodeJPEGLuma ./imaging.
func FuzzDecodeJPEGLuma(f *testing.F) {
	addJPEGSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeJPEGLuma(data)
		if err != nil {
			return
		}
		cfg, cerr := jpeg.DecodeConfig(bytes.NewReader(data))
		if cerr == nil && (cfg.Width != r.W || cfg.Height != r.H) {
			t.Fatalf("decoded %dx%d, header %dx%d", r.W, r.H, cfg.Width, cfg.Height)
		}
		if len(r.Pix) < (r.H-1)*r.Stride+r.W {
			t.Fatalf("plane too small")
		}
	})
}

// FuzzJPEGCoefficients: the coefficient reader reads untrusted bytes
// (every process, including arithmetic coding: the seeds in testdata come
// from cjpeg); it must never panic. What it accepts must agree with its
// header, and the DCT path must make a JPEG that decodes to the same size.
// Run with make fuzz.
func FuzzJPEGCoefficients(f *testing.F) {
	addJPEGSeeds(f)
	f.Add(jpegBomb(30, 20, 5, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseJPEGHeader(data)
		if err != nil {
			if Code(err) == "" {
				t.Fatalf("unclassified header error: %v", err)
			}
			return
		}
		if int64(h.w)*int64(h.h) > 1<<20 {
			return // keep the fuzzer's allocations small
		}
		lim := jpegLimits{maxScans: 100, maxWork: 1 << 16}
		s := &coefSink{}
		got, err := decodeJPEG(context.Background(), data, lim, s)
		if err != nil {
			if Code(err) == "" {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if got.w != h.w || got.h != h.h {
			t.Fatalf("decoded %dx%d, header %dx%d", got.w, got.h, h.w, h.h)
		}
		if dct, _ := jpegPath(got, 1, false); dct {
			d := newDCTSink(1, 85, []int{8})
			if _, err := decodeJPEG(context.Background(), data, lim, d); err != nil {
				t.Fatalf("read once, failed as DCT input: %v", err)
			}
			out := d.tok.encode()
			oh, err := parseJPEGHeader(out)
			if err != nil || oh.w != h.w || oh.h != h.h {
				t.Fatalf("DCT output header %v, %v", oh, err)
			}
			if _, err := decodeJPEGLuma(out); err != nil {
				t.Fatalf("DCT output does not decode: %v", err)
			}
		}
	})
}

// FuzzProcess: any input gives outputs or a classified error, never a panic.
func FuzzProcess(f *testing.F) {
	src := scene(30, 20)
	f.Add(encodePNGStd(f, src))
	f.Add(encodeWith(f, func(b *bytes.Buffer) error { return jpeg.Encode(b, src, nil) }))
	f.Add(jpegWithExif(encodeWith(f, func(b *bytes.Buffer) error { return jpeg.Encode(b, src, nil) }), exifTIFF(6, binary.BigEndian)))
	f.Add([]byte("GIF89a\x01\x00\x01\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8X"))
	// The streaming decoders: a few layouts of each, and an ICC profile.
	for _, s := range tiffSpecs()[:8] {
		s.w, s.h = 9, 7
		f.Add(s.encode())
	}
	for _, s := range bmpSpecs() {
		f.Add(s.encode())
	}
	f.Add(bigGIF(12, 10, 12, 9))
	f.Add(pngKind{ctype: 3, depth: 2, trns: true}.encode(9, 5, true))
	f.Add(pngWithICC(f, encodePNGStd(f, src), rgbProfile("p", prophotoPrim, d50xy, iccGamma(1.8))))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Process(context.Background(), data, Options{MaxPixels: 1 << 20, ThumbSizes: []int{16}})
		if err != nil {
			if Code(err) == "" {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if len(res.Outputs) != 2 {
			t.Fatalf("%d outputs", len(res.Outputs))
		}
	})
}

// FuzzDecodePNGLuma: the hand-written PNG path reads untrusted bytes.
func FuzzDecodePNGLuma(f *testing.F) {
	f.Add(encodePNGStd(f, scene(20, 12)))
	f.Add(encodePNGStd(f, withAlpha(scene(9, 30))))
	f.Add(mustPNG(f, toGray(withAlpha(scene(17, 5)))))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		// Keep the claimed size small so the fuzzer does not allocate gigabytes.
		if cfg, err := Probe(data); err != nil || int64(cfg.Width)*int64(cfg.Height) > 1<<20 {
			return
		}
		r, err := decodePNG(context.Background(), data, &colorInfo{})
		if err != nil {
			return
		}
		if len(r.Pix) < (r.H-1)*r.Stride+r.W {
			t.Fatal("raster too small")
		}
	})
}
