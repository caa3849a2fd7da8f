package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testImage(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	return m
}

// bombPNG is a PNG header claiming w x h pixels, with no real data.
func bombPNG(w, h int) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 2
	for _, c := range []struct {
		typ  string
		data []byte
	}{{"IHDR", ihdr}, {"IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}}, {"IEND", nil}} {
		binary.Write(&b, binary.BigEndian, uint32(len(c.data)))
		b.WriteString(c.typ)
		b.Write(c.data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(c.typ), c.data...)))
	}
	return b.Bytes()
}

func TestConvert(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "new")
	write := func(name string, data []byte) string {
		p := filepath.Join(in, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var jb, pb bytes.Buffer
	jpeg.Encode(&jb, testImage(600, 400), nil)
	png.Encode(&pb, testImage(300, 500))
	cat := write("cat.jpg", jb.Bytes())
	dog := write("dog.png", pb.Bytes())
	disguised := write("disguised.png", jb.Bytes()) // JPEG bytes, PNG name

	var stdout, stderr bytes.Buffer
	code := runConvert(context.Background(), []string{"--json", "--out", out, "--thumb-sizes", "256,64", cat, dog, disguised}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := jsonLines(t, stdout.Bytes())
	if len(lines) != 3 {
		t.Fatalf("%d JSON lines:\n%s", len(lines), stdout.String())
	}
	want := []struct {
		base, ext, format string
		gw, gh, tw, th    int
		mismatch          string
	}{
		{"cat", "jpg", "jpeg", 600, 400, 256, 171, ""},
		{"dog", "png", "png", 300, 500, 154, 256, ""},
		{"disguised", "jpg", "jpeg", 600, 400, 256, 171, "png"},
	}
	for i, w := range want {
		l := lines[i]
		if l.Format != w.format || l.Error != nil || l.Mismatch != w.mismatch {
			t.Fatalf("line %d: %+v", i, l)
		}
		for _, o := range []struct {
			name string
			w, h int
		}{{"gray", w.gw, w.gh}, {"thumb", w.tw, w.th}, {"thumb_64", 0, 0}} {
			p := filepath.Join(out, w.base+"."+o.name+"."+w.ext)
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			img, format, err := image.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if format != w.format {
				t.Fatalf("%s is %s", p, format)
			}
			if _, ok := img.(*image.Gray); !ok {
				t.Fatalf("%s decodes as %T, want gray", p, img)
			}
			b := img.Bounds()
			if o.w > 0 && (b.Dx() != o.w || b.Dy() != o.h) {
				t.Fatalf("%s is %v, want %dx%d", p, b, o.w, o.h)
			}
			if o.w == 0 && max(b.Dx(), b.Dy()) != 64 {
				t.Fatalf("%s is %v, want longest side 64", p, b)
			}
		}
		if len(l.Outputs) != 3 || l.Outputs[0].Name != "gray" || l.Outputs[0].Bytes == 0 {
			t.Fatalf("line %d outputs %+v", i, l.Outputs)
		}
		if wantPath := map[string]string{"jpeg": "dct", "png": "pixels"}[w.format]; l.Path != wantPath {
			t.Errorf("line %d: path %q, want %q", i, l.Path, wantPath)
		}
	}
}

func TestConvertRefused(t *testing.T) {
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.png")
	text := filepath.Join(dir, "notes.txt")
	good := filepath.Join(dir, "ok.png")
	var pb bytes.Buffer
	png.Encode(&pb, testImage(20, 10))
	os.WriteFile(bomb, bombPNG(60000, 60000), 0o644)
	os.WriteFile(text, []byte("just text"), 0o644)
	os.WriteFile(good, pb.Bytes(), 0o644)
	var stdout, stderr bytes.Buffer
	code := runConvert(context.Background(), []string{"--out", dir, bomb, text, good, "--json"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"imagepipe convert: " + bomb + ": too_many_pixels: ",
		"imagepipe convert: " + text + ": not_an_image: ",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	lines := jsonLines(t, stdout.Bytes())
	if len(lines) != 3 || lines[0].Error == nil || lines[0].Error.Code != "too_many_pixels" ||
		lines[1].Error == nil || lines[1].Error.Code != "not_an_image" || lines[2].Error != nil {
		t.Fatalf("lines:\n%s", stdout.String())
	}
	for _, l := range lines[:2] {
		if l.Error.Message == "" || strings.Contains(l.Error.Message, l.Error.Code) || strings.Contains(stderr.String(), l.Error.Code+": "+l.Error.Code) {
			t.Errorf("error %+v: want the reason once, without its code", l.Error)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bomb.gray.png")); !os.IsNotExist(err) {
		t.Errorf("refused file has an output: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ok.gray.png")); err != nil {
		t.Errorf("good file after refused ones: %v", err)
	}

	// --max-pixels lowers the limit.
	stdout.Reset()
	stderr.Reset()
	if code := runConvert(context.Background(), []string{"--out", dir, "--max-pixels", "100", good}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "too_many_pixels") {
		t.Fatalf("--max-pixels 100: exit %d, %s", code, stderr.String())
	}
	// Missing file: non-zero, named.
	stderr.Reset()
	if code := runConvert(context.Background(), []string{"--out", dir, filepath.Join(dir, "missing.jpg")}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "missing.jpg") {
		t.Fatalf("missing file: exit %d, %s", code, stderr.String())
	}
}

func TestConvertUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, 0, "Example:"},
		{"no files", nil, 2, "no FILE"},
		{"bad flag", []string{"--nope", "x.jpg"}, 2, "flag provided but not defined"},
		{"bad sizes", []string{"--thumb-sizes", "256,big", "x.jpg"}, 2, "--thumb-sizes"},
		{"bad quality", []string{"--quality", "101", "x.jpg"}, 2, "JPEGQuality"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runConvert(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String()+stdout.String(), tc.want) {
				t.Fatalf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.want, stdout.String(), stderr.String())
			}
		})
	}
	// Through the command registry.
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"help", "convert"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "imagepipe convert") || stderr.Len() != 0 {
		t.Fatalf("imagepipe help convert: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
}

// TestConvertDirectories: -r converts the images of a tree, skips and
// counts what is not an image, names same-named files apart, and prints a
// line per file for people.
func TestConvertDirectories(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	var jb, pb bytes.Buffer
	jpeg.Encode(&jb, testImage(60, 40), nil)
	png.Encode(&pb, testImage(30, 50))
	for name, data := range map[string][]byte{
		"cat.jpg": jb.Bytes(), "a/cat.jpg": jb.Bytes(), "a/b/dog.png": pb.Bytes(), "a/notes.txt": []byte("text"),
	} {
		p := filepath.Join(in, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runConvert(context.Background(), []string{"--out", out, in}, &stdout, &stderr); code != 0 ||
		strings.Count(stdout.String(), "\n") != 1 || !strings.Contains(stderr.String(), "1 converted, 0 refused, 3 skipped (in a subdirectory (use -r): 3)") {
		t.Fatalf("without -r: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := runConvert(context.Background(), []string{"-r", "--out", out, in}, &stdout, &stderr); code != 0 {
		t.Fatalf("-r: exit %d\n%s", code, stderr.String())
	}
	got := stdout.String()
	for _, want := range []string{
		filepath.Join(in, "a", "b", "dog.png") + ": png 30x50 → " + filepath.Join(out, "dog.gray.png") + " ",
		filepath.Join(in, "a", "cat.jpg") + ": jpeg 60x40 → " + filepath.Join(out, "cat.gray.jpg") + " ",
		filepath.Join(in, "cat.jpg") + ": jpeg 60x40 → " + filepath.Join(out, "cat-2.gray.jpg") + " ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("stdout lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "{") || !strings.Contains(stderr.String(), "3 converted, 0 refused, 1 skipped (not an image: 1)") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", got, stderr.String())
	}
}

func jsonLines(t *testing.T, b []byte) []convertLine {
	t.Helper()
	var lines []convertLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l convertLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// With the collector off, the memory limit of a file leaves room for what
// its pixels can take (so that a huge image is not collected over and
// over) and bounds the garbage of a small one.
func TestConvertMemoryLimit(t *testing.T) {
	const floor = 256 << 20
	huge := bombPNG(8000, 6250)
	for _, tc := range []struct {
		name      string
		data      []byte
		maxPixels int64
		want      int64
	}{
		{"50 MP", huge, 50_000_000, 2 * (int64(len(huge)) + 50_000_000*8)},
		{"50 MP over max-pixels", huge, 1_000_000, floor},
		{"small", bombPNG(640, 480), 50_000_000, floor},
		{"not an image", []byte("hello"), 50_000_000, floor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := convertMemoryLimit(tc.data, tc.maxPixels); got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
}
