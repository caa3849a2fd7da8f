package imaging

import (
	"bufio"
	"bytes"
	"compress/lzw"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Pillow writes interlaced GIFs (its default); ours must read them, with
// the transparent index, exactly as Pillow does.
func TestGIFPillow(t *testing.T) {
	p := newPillow(t)
	pal := image.NewPaletted(image.Rect(0, 0, 61, 47), color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{10, 200, 30, 255}, color.NRGBA{0, 0, 0, 0}, color.NRGBA{200, 180, 20, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i * 7 % 5 % 4)
	}
	for name, data := range map[string][]byte{
		"Pillow interlaced":   pillowGIF(t, p, pal),
		"Go, transparent idx": encodeWith(t, func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) }),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, ours, opaque := lumaOf(t, data)
			_, _, _, theirs := p.read("luma", data)
			for i := range ours {
				if opaque[i] && ours[i] != theirs[i] {
					t.Fatalf("pixel %d: %d, Pillow %d", i, ours[i], theirs[i])
				}
			}
		})
	}
}

func pillowGIF(t *testing.T, p *pillow, m *image.Paletted) []byte {
	in := p.file("g.png", encodePNGStd(t, m))
	out := filepath.Join(p.dir, "g.gif")
	script := "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1])\nim.save(sys.argv[2], 'GIF', interlace=True)\n"
	if b, err := exec.Command(p.py, "-c", script, in, out).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 40 || !bytes.Contains(data, []byte{0x2c}) {
		t.Fatal("no image descriptor")
	}
	return data
}

// countdown is a context that reports cancellation from its n-th look on:
// a decoder that checks only between steps never sees it.
type countdown struct {
	context.Context
	left atomic.Int64
}

func (c *countdown) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// Each streaming decoder looks at the context within its row loop.
func TestDecodersCheckContext(t *testing.T) {
	const w, h = 640, 2048
	for _, tc := range []struct {
		name   string
		data   []byte
		decode func(context.Context, []byte) error
	}{
		{"png", bigPNG(w, h, 6, 16, false, true), func(ctx context.Context, d []byte) error { _, err := decodePNG(ctx, d, &colorInfo{}); return err }},
		{"png interlaced", bigPNG(w, h, 2, 8, true, false), func(ctx context.Context, d []byte) error { _, err := decodePNG(ctx, d, &colorInfo{}); return err }},
		{"gif", bigGIF(w, h, w, h), func(ctx context.Context, d []byte) error { _, err := decodeGIF(ctx, d); return err }},
		{"tiff", bigTIFF(w, h), func(ctx context.Context, d []byte) error { _, err := decodeTIFF(ctx, d, &colorInfo{}); return err }},
		{"bmp", bigBMP(w, h), func(ctx context.Context, d []byte) error { _, err := decodeBMP(ctx, d); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.decode(context.Background(), tc.data); err != nil {
				t.Fatalf("uncancelled: %v", err)
			}
			ctx := &countdown{Context: context.Background()}
			ctx.left.Store(3)
			if err := tc.decode(ctx, tc.data); !errors.Is(err, context.Canceled) || Code(err) != "" {
				t.Fatalf("cancelled after 3 looks: %v, want context.Canceled without a code", err)
			}
			// How long a real cancellation takes to end it (logged only:
			// tests do not assert wall-clock times).
			cctx, cancel := context.WithCancel(context.Background())
			done := make(chan time.Time)
			go func() { tc.decode(cctx, tc.data); done <- time.Now() }()
			time.Sleep(time.Millisecond)
			at := time.Now()
			cancel()
			t.Logf("%s: returned %v after cancel", tc.name, (<-done).Sub(at))
		})
	}
}

// Generators of large inputs that stream, so the parent of the memory
// test stays small too. The pixels are smooth with some texture: the
// files stay well under the byte limit.

func genSample(x, y, c int) uint16 {
	return uint16((x/64*997 + y*31 + c*4000) ^ (x / 64 * (y / 64) & 0x3f))
}

// bigPNG writes a PNG of any color type (0, 2, 4, 6) and depth 8 or 16.
// Alpha, when there is some, is opaque, or translucent on every 5th row.
func bigPNG(w, h int, ctype byte, depth int, interlace, translucent bool) []byte {
	k := pngKind{ctype: ctype, depth: depth}
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = byte(depth), ctype
	if interlace {
		ihdr[12] = 1
	}
	pngChunk(&out, "IHDR", ihdr)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	passes := [][4]int{{0, 0, 1, 1}}
	if interlace {
		passes = adam7[:]
	}
	n := k.channels()
	for _, p := range passes {
		pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		if pw <= 0 || ph <= 0 {
			continue
		}
		row := make([]byte, 1+pw*n*depth/8)
		for j := 0; j < ph; j++ {
			y := p[1] + j*p[3]
			row[0] = 0
			for i := 0; i < pw; i++ {
				x := p[0] + i*p[2]
				for c := 0; c < n; c++ {
					v := genSample(x, y, c)
					if (ctype == 4 && c == 1 || ctype == 6 && c == 3) && (!translucent || y%5 != 0) {
						v = 0xffff
					}
					if depth == 16 {
						binary.BigEndian.PutUint16(row[1+2*(i*n+c):], v)
					} else {
						row[1+i*n+c] = uint8(v >> 8)
					}
				}
			}
			zw.Write(row)
		}
	}
	zw.Close()
	for b := z.Bytes(); len(b) > 0; {
		k := min(len(b), 1<<20)
		pngChunk(&out, "IDAT", b[:k])
		b = b[k:]
	}
	pngChunk(&out, "IEND", nil)
	return out.Bytes()
}

// bigGIF writes a GIF with an sw x sh screen and a fw x fh first frame
// of a few colors in wide bands.
func bigGIF(sw, sh, fw, fh int) []byte {
	var b bytes.Buffer
	b.WriteString("GIF89a")
	binary.Write(&b, binary.LittleEndian, [2]uint16{uint16(sw), uint16(sh)})
	b.Write([]byte{0xf1, 0, 0}) // global table of 4 colors
	b.Write([]byte{0, 0, 0, 255, 0, 0, 0, 255, 0, 250, 250, 250})
	b.WriteByte(0x2c)
	binary.Write(&b, binary.LittleEndian, [4]uint16{0, 0, uint16(fw), uint16(fh)})
	b.WriteByte(0)
	b.WriteByte(2) // LZW minimum code size
	var z bytes.Buffer
	lw := lzw.NewWriter(&z, lzw.LSB, 2)
	row := make([]byte, fw)
	for y := 0; y < fh; y++ {
		for x := range row {
			row[x] = byte((x/512 + y/512) % 4)
		}
		lw.Write(row)
	}
	lw.Close()
	for d := z.Bytes(); len(d) > 0; {
		k := min(len(d), 255)
		b.WriteByte(byte(k))
		b.Write(d[:k])
		d = d[k:]
	}
	b.Write([]byte{0, 0x3b})
	return b.Bytes()
}

// bigTIFF writes one deflated strip of 8-bit RGB: x/image/tiff would need
// an RGBA image of the whole picture for it.
func bigTIFF(w, h int) []byte {
	le := binary.LittleEndian
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	row := make([]byte, 3*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				row[3*x+c] = uint8(genSample(x, y, c) >> 8)
			}
		}
		zw.Write(row)
	}
	zw.Close()
	out := append([]byte("II*\x00"), 0, 0, 0, 0)
	strip := len(out)
	out = append(out, z.Bytes()...)
	if len(out)%2 == 1 {
		out = append(out, 0)
	}
	le.PutUint32(out[4:], uint32(len(out)))
	bpsAt := uint32(len(out)) + 2 + 12*8 + 4
	tags := [][3]uint32{{256, 4, uint32(w)}, {257, 4, uint32(h)}, {258, 3, bpsAt}, {259, 3, 8}, {262, 3, 2}, {273, 4, uint32(strip)}, {277, 3, 3}, {279, 4, uint32(z.Len())}}
	out = le.AppendUint16(out, uint16(len(tags)))
	for _, tg := range tags {
		count := uint32(1)
		if tg[0] == 258 {
			count = 3
		}
		out = le.AppendUint16(out, uint16(tg[0]))
		out = le.AppendUint16(out, uint16(tg[1]))
		out = le.AppendUint32(out, count)
		if tg[1] == 3 && tg[0] != 258 {
			out = le.AppendUint16(out, uint16(tg[2]))
			out = append(out, 0, 0)
		} else {
			out = le.AppendUint32(out, tg[2])
		}
	}
	out = append(out, 0, 0, 0, 0)
	return append(out, 8, 0, 8, 0, 8, 0)
}

// bigBMP writes an RLE8 BMP: runs of 200 pixels.
func bigBMP(w, h int) []byte {
	var rle []byte
	for y := 0; y < h; y++ {
		for x := 0; x < w; x += 200 {
			rle = append(rle, byte(min(200, w-x)), byte((x/200+y/64)%16))
		}
		rle = append(rle, 0, 0)
	}
	rle = append(rle, 0, 1)
	return bmpSpec{w: w, h: h, bpp: 8, header: 40, compression: 1, rle: rle}.encode()
}

// vmHWM is this process's peak resident set size in bytes, or -1.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return -1
}

// TestPeakRSS decodes 50 MP inputs in a child process (this test binary
// again) and checks its peak RSS: at most 1.5 times the gray raster plus
// 40 MB (which covers the input bytes, the runtime and the encoded
// outputs).
func TestPeakRSS(t *testing.T) {
	if path := os.Getenv("IMAGING_RSS_CHILD"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Println("RSS error", err)
			return
		}
		res, err := Process(context.Background(), data, Options{})
		if err != nil {
			fmt.Println("RSS error", err)
			return
		}
		// VmHWM, not the rusage the parent sees: with vfork the child's
		// ru_maxrss starts at the parent's peak.
		fmt.Printf("RSS ok %d %d %d\n", res.Info.Width, res.Info.Height, vmHWM())
		return
	}
	if testing.Short() {
		t.Skip("50 MP inputs: not in -short")
	}
	const w, h = 7071, 7071 // 50 MP
	dir := t.TempDir()
	// The default set is the cases; IMAGING_RSS_ALL=1 adds the
	// other layouts (about a minute more).
	all := os.Getenv("IMAGING_RSS_ALL") == "1"
	cases := []struct {
		name  string
		bpp   int // bytes a pixel of the gray raster
		input func() []byte
		extra bool
	}{
		{"png rgba16 opaque", 2, func() []byte { return bigPNG(w, h, 6, 16, false, false) }, false},
		{"png rgba16 translucent", 4, func() []byte { return bigPNG(w, h, 6, 16, false, true) }, true},
		{"png rgba16 interlaced opaque", 2, func() []byte { return bigPNG(w, h, 6, 16, true, false) }, true},
		{"png rgba16 interlaced translucent", 4, func() []byte { return bigPNG(w, h, 6, 16, true, true) }, false},
		{"png rgb8", 1, func() []byte { return bigPNG(w, h, 2, 8, false, false) }, true},
		{"png rgb8 interlaced", 1, func() []byte { return bigPNG(w, h, 2, 8, true, false) }, true},
		{"gif 49 MP screen, tiny frame", 2, func() []byte { return bigGIF(7000, 7000, 1, 1) }, false},
		{"gif 49 MP full frame", 1, func() []byte { return bigGIF(7000, 7000, 7000, 7000) }, false},
		{"tiff one strip rgb8", 1, func() []byte { return bigTIFF(w, h) }, false},
		{"bmp rle8", 1, func() []byte { return bigBMP(w, h) }, true},
	}
	for _, tc := range cases {
		if tc.extra && !all {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			data := tc.input()
			path := filepath.Join(dir, "in")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSS$", "-test.count=1")
			cmd.Env = append(os.Environ(), "IMAGING_RSS_CHILD="+path)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("child: %v\n%s", err, out.String())
			}
			wall := time.Since(start)
			var pw, ph int
			var peak int64
			ok := false
			for sc := bufio.NewScanner(&out); sc.Scan(); {
				if _, err := fmt.Sscanf(sc.Text(), "RSS ok %d %d %d", &pw, &ph, &peak); err == nil {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("child failed:\n%s", out.String())
			}
			raster := int64(pw) * int64(ph) * int64(tc.bpp)
			limit := raster*3/2 + 40<<20
			ru := cmd.ProcessState
			t.Logf("RSS %-36s %dx%d input %6.1f MB  gray raster %4d MB  peak RSS %4d MB (limit %4d MB)  cpu %v wall %v",
				tc.name, pw, ph, float64(len(data))/1e6, raster>>20, peak>>20, limit>>20,
				(ru.UserTime() + ru.SystemTime()).Round(10*time.Millisecond), wall.Round(10*time.Millisecond))
			if peak <= 0 || peak > limit {
				t.Errorf("peak RSS %d MB, limit %d MB", peak>>20, limit>>20)
			}
			if strings.Contains(out.String(), "RSS error") {
				t.Fatal(out.String())
			}
		})
	}
}
