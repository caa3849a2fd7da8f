package imaging

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// bombPNG is a small valid-looking PNG whose header claims w x h RGB
// pixels, its IDAT a few KB of compressed zeros.
func bombPNG(w, h int) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 2
	writeChunk(&out, "IHDR", ihdr[:])
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(make([]byte, 5<<20))
	zw.Close()
	writeChunk(&out, "IDAT", z.Bytes())
	writeChunk(&out, "IEND", nil)
	return out.Bytes()
}

func TestErrorCodes(t *testing.T) {
	jpg := encodeWith(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, photo(300, 200, 9), nil) })
	png8 := encodePNGStd(t, scene(40, 30))
	badCRC := bytes.Clone(png8)
	badCRC[len(badCRC)-20] ^= 0xff // inside the IDAT data
	sof12 := bytes.Clone(jpg)
	if i := bytes.Index(sof12, []byte{0xff, 0xc0}); i > 0 {
		sof12[i+4] = 12 // sample precision
	}
	lossless := bytes.Clone(jpg)
	if i := bytes.Index(lossless, []byte{0xff, 0xc0}); i > 0 {
		lossless[i+1] = 0xc3 // SOF3: lossless
	}
	for _, tc := range []struct {
		name string
		data []byte
		opts Options
		want *Error
	}{
		{"empty", nil, Options{}, ErrNotAnImage},
		{"text", []byte("hello, this is not an image\n"), Options{}, ErrNotAnImage},
		{"html", []byte("<!doctype html><html></html>"), Options{}, ErrNotAnImage},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), Options{}, ErrNotAnImage},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), Options{}, ErrUnsupportedFormat},
		{"avif", []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1"), Options{}, ErrUnsupportedFormat},
		{"jpeg xl", []byte("\xff\x0a\xfa\x7f"), Options{}, ErrUnsupportedFormat},
		{"12-bit jpeg", sof12, Options{}, ErrUnsupportedFormat},
		{"lossless jpeg", lossless, Options{}, ErrUnsupportedFormat},
		{"jpeg header only", jpg[:20], Options{}, ErrCorrupt},
		{"truncated jpeg", jpg[:len(jpg)/2], Options{}, ErrCorrupt},
		{"truncated png", png8[:len(png8)-30], Options{}, ErrCorrupt},
		{"png bad crc", badCRC, Options{}, ErrCorrupt},
		{"gif header only", []byte("GIF89a\x10\x00\x10\x00"), Options{}, ErrCorrupt},
		{"too large", jpg, Options{MaxBytes: int64(len(jpg) - 1)}, ErrTooLarge},
		{"too many pixels", jpg, Options{MaxPixels: 300*200 - 1}, ErrTooManyPixels},
		{"pixel bomb", bombPNG(60000, 60000), Options{}, ErrTooManyPixels},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Process(context.Background(), tc.data, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %s", err, tc.want.Code)
			}
			if Code(err) != tc.want.Code {
				t.Fatalf("Code = %q, want %q", Code(err), tc.want.Code)
			}
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(e.Error(), tc.want.Code) {
				t.Fatalf("error text %q", err)
			}
			for _, other := range []*Error{ErrNotAnImage, ErrUnsupportedFormat, ErrCorrupt, ErrTooManyPixels, ErrTooLarge} {
				if other != tc.want && errors.Is(err, other) {
					t.Fatalf("%v also matches %s", err, other.Code)
				}
			}
		})
	}
	// Wrapped further, still classified.
	_, err := Process(context.Background(), []byte("nope"), Options{})
	wrapped := fmt.Errorf("get uploads/x: %w", err)
	if Code(wrapped) != "not_an_image" || !errors.Is(wrapped, ErrNotAnImage) {
		t.Fatalf("wrapped: %v", wrapped)
	}
	if Code(errors.New("other")) != "" || Code(nil) != "" {
		t.Fatal("Code of a non-imaging error should be empty")
	}
}

func TestProcessCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Process(ctx, encodePNGStd(t, scene(10, 10)), Options{})
	if !errors.Is(err, context.Canceled) || Code(err) != "" {
		t.Fatalf("err %v, want context.Canceled and no imaging code", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Options{}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Options{MaxBytes: -1, MaxPixels: -1, JPEGQuality: 101, ThumbSizes: []int{0, 256, 256}}.Validate()
	for _, want := range []string{"MaxBytes", "MaxPixels", "JPEGQuality", "size 0", "given twice"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want it to mention %q", err, want)
		}
	}
	if _, err := Process(context.Background(), nil, Options{JPEGQuality: 500}); err == nil || Code(err) != "" {
		t.Errorf("Process with bad options: %v", err)
	}
}

// TestPixelBombMemory runs Process on a 5 KB PNG claiming 60000x60000 in a
// child process (this test binary again) and checks the child's peak RSS.
func TestPixelBombMemory(t *testing.T) {
	if os.Getenv("IMAGING_BOMB_CHILD") == "1" {
		data := bombPNG(60000, 60000)
		_, err := Process(context.Background(), data, Options{})
		fmt.Printf("BOMB bytes=%d code=%s\n", len(data), Code(err))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPixelBombMemory$", "-test.count=1")
	cmd.Env = append(os.Environ(), "IMAGING_BOMB_CHILD=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	var size int
	var code string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "BOMB bytes=%d code=%s", &size, &code); err == nil {
			break
		}
	}
	if code != "too_many_pixels" || size > 6<<10 {
		t.Fatalf("child: %d-byte input gave code %q\n%s", size, code, out.String())
	}
	peak := childPeakRSS(cmd)
	t.Logf("child peak RSS %d KiB for a %d-byte PNG claiming 60000x60000", peak>>10, size)
	if peak <= 0 || peak >= 60<<20 {
		t.Fatalf("child peak RSS %d bytes, want under 60 MB", peak)
	}
}

// childPeakRSS returns the maximum resident set size of a finished child.
func childPeakRSS(cmd *exec.Cmd) int64 {
	ru := cmd.ProcessState.SysUsage()
	return maxRSS(ru)
}

func TestReason(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("decode: %w", newError(ErrCorrupt, errors.New("unexpected EOF"))), "unexpected EOF"},
		{ErrTooManyPixels, "too many pixels"},
		{errors.New("disk full"), "disk full"},
	} {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
