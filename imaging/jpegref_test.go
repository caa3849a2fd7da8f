package imaging

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The JPEG reader against libjpeg-turbo (cjpeg makes the files, djpeg
// decodes the reference) on a generated corpus: every process, sampling
// factor and colour space cjpeg can write, restart intervals, a file of
// 129 scans, odd sizes.

// libjpeg runs cjpeg, djpeg and jpegtran in a temporary directory.
type libjpeg struct {
	t                      *testing.T
	dir                    string
	cjpeg, djpeg, jpegtran string
}

func newLibjpeg(t *testing.T) *libjpeg {
	return &libjpeg{t: t, dir: t.TempDir(),
		cjpeg: needTool(t, "cjpeg", "-version"), djpeg: needTool(t, "djpeg", "-version"), jpegtran: needTool(t, "jpegtran", "-version")}
}

// sub is l for subtest t (a subtest must not fail its parent).
func (l *libjpeg) sub(t *testing.T) *libjpeg {
	c := *l
	c.t = t
	return &c
}

func (l *libjpeg) run(name string, args ...string) []byte {
	l.t.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		l.t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

func (l *libjpeg) file(name string, data []byte) string {
	l.t.Helper()
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

// ppm encodes an RGB(A) image as binary PPM (alpha dropped).
func ppm(m *image.RGBA) []byte {
	b := m.Rect
	var out bytes.Buffer
	fmt.Fprintf(&out, "P6\n%d %d\n255\n", b.Dx(), b.Dy())
	for y := 0; y < b.Dy(); y++ {
		row := m.Pix[y*m.Stride:]
		for x := 0; x < b.Dx(); x++ {
			out.Write(row[4*x : 4*x+3])
		}
	}
	return out.Bytes()
}

// cjpeg compresses src with the given switches.
func (l *libjpeg) compress(src *image.RGBA, args ...string) []byte {
	l.t.Helper()
	in := l.file("src.ppm", ppm(src))
	return l.run(l.cjpeg, append(args, in)...)
}

// pnm parses djpeg's binary PGM or PPM output.
func pnm(t *testing.T, data []byte) (w, h, channels int, pix []byte) {
	t.Helper()
	var magic string
	var maxv int
	r := bytes.NewReader(data)
	if _, err := fmt.Fscan(r, &magic, &w, &h, &maxv); err != nil || maxv != 255 {
		t.Fatalf("bad PNM header: %v", err)
	}
	r.ReadByte() // the single whitespace after the header
	pix = data[len(data)-r.Len():]
	channels = map[string]int{"P5": 1, "P6": 3}[magic]
	if channels == 0 || len(pix) != w*h*channels {
		t.Fatalf("PNM %s %dx%d with %d bytes", magic, w, h, len(pix))
	}
	return w, h, channels, pix
}

// reference decodes data with djpeg (the floating-point IDCT, the one
// closest to ours) into gray: the Y plane for gray and YCbCr files (djpeg
// -grayscale), else the ITU-R 601 luma of the RGB it outputs.
func (l *libjpeg) reference(data []byte, colour jpegColour) (int, int, []byte) {
	l.t.Helper()
	in := l.file("ref.jpg", data)
	args := []string{"-dct", "float", "-pnm"}
	if colour == jpegGray || colour == jpegYCbCr {
		args = append(args, "-grayscale")
	}
	w, h, ch, pix := pnm(l.t, l.run(l.djpeg, append(args, in)...))
	if ch == 1 {
		return w, h, pix
	}
	g := make([]byte, w*h)
	for i := range g {
		g[i] = luma8(pix[3*i], pix[3*i+1], pix[3*i+2])
	}
	return w, h, g
}

// script99 is a cjpeg -scans script of 99 scans (cjpeg reads at most
// 100): the DCs, Y's coefficients 1..47 alone and 48..63 together in a
// first pass at Al=1 and in refinement passes, and each chroma component's
// AC in one scan.
func script99() string {
	var b strings.Builder
	b.WriteString("0,1,2: 0-0, 0, 0;\n")
	for k := 1; k <= 47; k++ {
		fmt.Fprintf(&b, "0: %d-%d, 0, 1;\n", k, k)
	}
	b.WriteString("0: 48-63, 0, 1;\n1: 1-63, 0, 0;\n2: 1-63, 0, 0;\n")
	for k := 1; k <= 47; k++ {
		fmt.Fprintf(&b, "0: %d-%d, 1, 0;\n", k, k)
	}
	b.WriteString("0: 48-63, 1, 0;\n")
	return b.String()
}

// jpegCorpus makes the generated corpus: name -> file.
func jpegCorpus(t *testing.T, l *libjpeg) map[string][]byte {
	src := photo(203, 157, 21)
	scans := l.file("scans.txt", []byte(script99()))
	files := map[string][]byte{}
	for name, args := range map[string][]string{
		"baseline 4:2:0":          {"-quality", "90"},
		"baseline 4:4:4":          {"-sample", "1x1"},
		"baseline 4:2:2":          {"-sample", "2x1"},
		"baseline 4:1:1":          {"-sample", "4x1"},
		"baseline 4:4:0":          {"-sample", "1x2"},
		"baseline 1x4":            {"-sample", "1x4"},
		"baseline 4x2":            {"-sample", "4x2"},
		"baseline Y subsampled":   {"-sample", "1x1,2x2,2x2"},
		"restart every row":       {"-restart", "1"},
		"restart every 3 blocks":  {"-restart", "3B", "-sample", "1x1"},
		"optimised tables":        {"-optimize"},
		"progressive":             {"-progressive"},
		"progressive 4:4:4":       {"-progressive", "-sample", "1x1"},
		"progressive restarts":    {"-progressive", "-restart", "2B"},
		"progressive 99 scans":    {"-scans", scans},
		"arithmetic":              {"-arithmetic"},
		"arithmetic restarts":     {"-arithmetic", "-restart", "5B"},
		"arithmetic 1x4":          {"-arithmetic", "-sample", "1x4"},
		"arithmetic progressive":  {"-arithmetic", "-progressive"},
		"arithmetic 99 scans":     {"-arithmetic", "-scans", scans},
		"gray":                    {"-grayscale"},
		"gray progressive":        {"-grayscale", "-progressive"},
		"gray arithmetic":         {"-grayscale", "-arithmetic", "-restart", "1"},
		"rgb":                     {"-rgb"},
		"rgb subsampled G and B":  {"-rgb", "-sample", "2x2,1x1,1x1"},
		"rgb progressive 4:2:2":   {"-rgb", "-progressive", "-sample", "2x1,1x1,1x1"},
		"quality 100 16-bit-free": {"-quality", "100"},
		"quality 10":              {"-quality", "10"},
	} {
		files[name] = l.compress(src, args...)
	}
	for _, size := range [][2]int{{1, 1}, {9, 7}, {17, 33}, {64, 8}} {
		small := photo(size[0], size[1], 5)
		files[fmt.Sprintf("baseline %dx%d", size[0], size[1])] = l.compress(small)
		files[fmt.Sprintf("progressive %dx%d 1x4", size[0], size[1])] = l.compress(small, "-progressive", "-sample", "1x4")
	}
	// More scans than cjpeg writes, by this package's test writer.
	files["progressive 129 scans"] = writeProgressive(coefficients(t, files["baseline 4:2:0"]), script129(3))
	files["gray progressive 129 scans"] = writeProgressive(coefficients(t, files["gray"]), script129(1))
	// CMYK (Adobe, inverted) and YCCK, as Photoshop writes them, made by
	// Pillow and ImageMagick.
	files["cmyk (Pillow)"] = newPillow(t).make("jpeg_cmyk", src, 0)
	if p, err := exec.LookPath("convert"); err == nil {
		in := l.file("cmyk-src.ppm", ppm(src))
		out := filepath.Join(l.dir, "ycck.jpg")
		l.run(p, in, "-colorspace", "CMYK", "-quality", "95", out)
		if data, err := os.ReadFile(out); err == nil {
			files["ycck (ImageMagick)"] = data
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("ImageMagick's convert is required under CI")
	}
	return files
}

func TestJPEGAgainstLibjpeg(t *testing.T) {
	l := newLibjpeg(t)
	for name, data := range jpegCorpus(t, l) {
		t.Run(name, func(t *testing.T) {
			h, _, maxd, mean := l.sub(t).againstDjpeg(data)
			t.Logf("%s, %s: max |diff| %d, mean %.4f against djpeg", h.colour, jpegProcess(h), maxd, mean)
			tol := 1
			if h.colour != jpegGray && h.colour != jpegYCbCr {
				tol = 2 // three channels' rounding through luma
			}
			if maxd > tol || mean > 0.05 {
				t.Errorf("differs from djpeg by up to %d (mean %.4f), want <= %d", maxd, mean, tol)
			}
		})
	}
}

// againstDjpeg decodes the gray image of data in pixels and compares it
// with djpeg's reference.
func (l *libjpeg) againstDjpeg(data []byte) (h *jpegHeader, got *raster, maxd int, mean float64) {
	l.t.Helper()
	h, err := parseJPEGHeader(data)
	if err != nil {
		l.t.Fatal(err)
	}
	got, err = jpegGrayRaster(context.Background(), data, jpegLimitsOf(DefaultOptions()), h)
	if err != nil {
		l.t.Fatal(err)
	}
	w, ht, want := l.reference(data, h.colour)
	if got.W != w || got.H != ht {
		l.t.Fatalf("%dx%d, djpeg %dx%d", got.W, got.H, w, ht)
	}
	maxd, mean = compare(pixels(got), want)
	return h, got, maxd, mean
}

// jpegProcess names the coding process of a header.
func jpegProcess(h *jpegHeader) string {
	s := "sequential"
	if h.progressive {
		s = "progressive"
	}
	if h.arithmetic {
		s += " arithmetic"
	}
	var f []string
	for _, c := range h.comps {
		f = append(f, strconv.Itoa(c.h)+"x"+strconv.Itoa(c.v))
	}
	return s + " " + strings.Join(f, ",")
}

// A truncated file fails as corrupt_image; a damaged one succeeds or fails
// with a code; neither panics.
func TestJPEGCorruptAndTruncated(t *testing.T) {
	l := newLibjpeg(t)
	for name, data := range jpegCorpus(t, l) {
		t.Run(name, func(t *testing.T) {
			for _, frac := range []float64{0.3, 0.5, 0.8} {
				n := int(float64(len(data)) * frac)
				_, err := Process(context.Background(), data[:n], Options{})
				if Code(err) != "corrupt_image" {
					t.Errorf("cut at %d of %d: %v, want corrupt_image", n, len(data), err)
				}
			}
			bad := bytes.Clone(data)
			for i := len(bad) / 3; i < len(bad)-2; i += len(bad)/7 + 1 {
				bad[i] ^= 0x5a
				if _, err := Process(context.Background(), bad, Options{}); err != nil && Code(err) == "" {
					t.Errorf("byte %d flipped: unclassified error %v", i, err)
				}
			}
		})
	}
}

// goTestJPEGs returns the JPEGs of the Go distribution's image test data
// (real video frames in every sampling and process image/jpeg reads).
func goTestJPEGs(t *testing.T) map[string][]byte {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(goroot)), "src", "image", "testdata")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.jpeg"))
	if len(paths) == 0 {
		t.Fatalf("no JPEGs in %s", dir)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = data
	}
	return files
}

// colourBars is a chart of saturated colours, where a JPEG's stored Y and
// the luma of its decoded RGB part most.
func colourBars(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	bars := [][3]uint8{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {0, 255, 255}, {255, 0, 255}, {255, 255, 255}, {0, 0, 0}}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := bars[(x*len(bars)/w+y*3/h)%len(bars)]
			copy(m.Pix[y*m.Stride+4*x:], []byte{c[0], c[1], c[2], 255})
		}
	}
	return m
}

// TestJPEGGrayIsStoredY pins down what gray means for a JPEG: the stored Y
// (or gray) component, which is what libjpeg decodes with -grayscale and
// what the DCT path keeps; for RGB, CMYK and YCCK files, the luma of the
// decoded colours. It logs how far the stored Y is from the luma of the
// displayed RGB (Pillow's convert("L")), which differ where decoded colours
// clip. Real files: the Go distribution's test images.
func TestJPEGGrayIsStoredY(t *testing.T) {
	l := newLibjpeg(t)
	p := newPillow(t)
	files := goTestJPEGs(t)
	files["colour bars q90 4:2:0"] = l.compress(colourBars(256, 96), "-quality", "90")
	files["colour bars q90 4:4:4"] = l.compress(colourBars(256, 96), "-quality", "90", "-sample", "1x1")
	files["photo q90 4:2:0"] = l.compress(photo(256, 192, 91), "-quality", "90")
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		data := files[name]
		t.Run(name, func(t *testing.T) {
			// (video-001.progressive.truncated.jpeg is a whole file: its
			// progression stops after 4 scans, then EOI.)
			h, got, maxd, mean := l.sub(t).againstDjpeg(data)
			tol, tolMean := 2, 0.05
			if name == "video-001.progressive.truncated.jpeg" {
				// Where a progression stops early, libjpeg estimates the
				// missing low AC coefficients from the neighbours' DCs
				// ("block smoothing"); this reader leaves them zero.
				tol, tolMean = 3, 0.25
			}
			if maxd > tol || mean > tolMean {
				t.Errorf("%s %s: %d (mean %.4f) from libjpeg's gray", h.colour, jpegProcess(h), maxd, mean)
			}
			_, _, _, pil := p.read("luma", data)
			pmax, pmean := compare(pixels(got), pil)
			t.Logf("%s %s: from djpeg %d (mean %.4f); from Pillow's L (luma of the displayed RGB) %d (mean %.3f)",
				h.colour, jpegProcess(h), maxd, mean, pmax, pmean)
		})
	}
}
