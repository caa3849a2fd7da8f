package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Info is what the header of an input says about it.
type Info struct {
	Format      string // jpeg, png, gif, webp, tiff or bmp
	ContentType string // image/jpeg, ...
	Width       int    // as stored, before orientation
	Height      int    // as stored, before orientation
	Orientation int    // EXIF orientation 1..8 (1 when absent or invalid)
}

// Pixels returns Width*Height, for pixel budgets.
func (i Info) Pixels() int64 { return int64(i.Width) * int64(i.Height) }

// OrientedSize returns the width and height after the EXIF orientation is
// applied (swapped for orientations 5 to 8).
func (i Info) OrientedSize() (w, h int) {
	if i.Orientation >= 5 {
		return i.Height, i.Width
	}
	return i.Width, i.Height
}

type format struct {
	name, contentType string
	match             func([]byte) bool
	decodeConfig      func([]byte) (image.Config, error)
	orientation       func([]byte) int
}

var formats = []format{
	{"jpeg", "image/jpeg", func(b []byte) bool { return hasPrefix(b, "\xff\xd8\xff") }, jpegConfig, jpegOrientation},
	{"png", "image/png", func(b []byte) bool { return hasPrefix(b, "\x89PNG\r\n\x1a\n") },
		func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }, pngOrientation},
	{"gif", "image/gif", func(b []byte) bool { return hasPrefix(b, "GIF87a") || hasPrefix(b, "GIF89a") },
		func(b []byte) (image.Config, error) { return gif.DecodeConfig(bytes.NewReader(b)) }, nil},
	{"webp", "image/webp", func(b []byte) bool { return hasPrefix(b, "RIFF") && len(b) >= 12 && string(b[8:12]) == "WEBP" },
		func(b []byte) (image.Config, error) { return webp.DecodeConfig(bytes.NewReader(b)) }, webpOrientation},
	{"tiff", "image/tiff", func(b []byte) bool { return hasPrefix(b, "II*\x00") || hasPrefix(b, "MM\x00*") },
		tiffConfig, tiffOrientation},
	{"bmp", "image/bmp", func(b []byte) bool { return hasPrefix(b, "BM") && len(b) >= 26 },
		bmpConfig, nil},
}

// Image formats that are recognised but not supported: refused as
// unsupported_format rather than not_an_image.
var unsupported = []struct {
	name  string
	match func([]byte) bool
}{
	{"heif/avif", func(b []byte) bool {
		if len(b) < 12 || string(b[4:8]) != "ftyp" {
			return false
		}
		switch string(b[8:12]) {
		case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis":
			return true
		}
		return false
	}},
	{"jpeg xl", func(b []byte) bool {
		return hasPrefix(b, "\xff\x0a") || hasPrefix(b, "\x00\x00\x00\x0cJXL \r\n\x87\n")
	}},
	{"jpeg 2000", func(b []byte) bool {
		return hasPrefix(b, "\x00\x00\x00\x0cjP  \r\n\x87\n") || hasPrefix(b, "\xff\x4f\xff\x51")
	}},
	{"ico", func(b []byte) bool { return hasPrefix(b, "\x00\x00\x01\x00") && len(b) >= 6 && b[4]|b[5] != 0 }},
	{"psd", func(b []byte) bool { return hasPrefix(b, "8BPS") }},
	{"svg", func(b []byte) bool {
		head := b[:min(len(b), 512)]
		return bytes.Contains(head, []byte("<svg"))
	}},
	{"apng/mng", func(b []byte) bool { return hasPrefix(b, "\x8aMNG\r\n\x1a\n") }},
	{"exr", func(b []byte) bool { return hasPrefix(b, "\x76\x2f\x31\x01") }},
	{"qoi", func(b []byte) bool { return hasPrefix(b, "qoif") }},
	{"BigTIFF", func(b []byte) bool { return hasPrefix(b, "II+\x00") || hasPrefix(b, "MM\x00+") }},
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

func sniff(data []byte) *format {
	for i := range formats {
		if formats[i].match(data) {
			return &formats[i]
		}
	}
	return nil
}

// Sniff returns the format name and content type of data from its first
// bytes, or "" for both when data is not one of the supported formats.
func Sniff(data []byte) (format, contentType string) {
	if f := sniff(data); f != nil {
		return f.name, f.contentType
	}
	return "", ""
}

// Probe reads only the header of data: the format (from the bytes), the
// stored dimensions and the EXIF orientation. It never decodes pixels.
func Probe(data []byte) (Info, error) {
	f := sniff(data)
	if f == nil {
		for _, u := range unsupported {
			if u.match(data) {
				return Info{}, newError(ErrUnsupportedFormat, fmt.Errorf("%s images are not supported", u.name))
			}
		}
		if len(data) == 0 {
			return Info{}, newError(ErrNotAnImage, errors.New("empty input"))
		}
		return Info{}, newError(ErrNotAnImage, errors.New("no known image signature"))
	}
	if f.name == "webp" && len(data) >= 21 && string(data[12:16]) == "VP8X" && data[20]&0x02 != 0 {
		return Info{}, newError(ErrUnsupportedFormat, errors.New("animated WebP images are not supported"))
	}
	cfg, err := f.decodeConfig(data)
	if err != nil {
		return Info{}, decodeError(f.name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Info{}, newError(ErrCorrupt, fmt.Errorf("%s header: %dx%d pixels", f.name, cfg.Width, cfg.Height))
	}
	info := Info{Format: f.name, ContentType: f.contentType, Width: cfg.Width, Height: cfg.Height, Orientation: 1}
	if f.orientation != nil {
		info.Orientation = f.orientation(data)
	}
	return info, nil
}

// decodeError classifies an error of a format package.
func decodeError(format string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e // this package's decoders classify their own errors
	}
	var (
		ju jpeg.UnsupportedError
		pu png.UnsupportedError
		tu tiff.UnsupportedError
	)
	switch {
	case errors.As(err, &ju), errors.As(err, &pu), errors.As(err, &tu):
		return newError(ErrUnsupportedFormat, fmt.Errorf("%s: %w", format, err))
	case errors.Is(err, bmp.ErrUnsupported):
		return newError(ErrUnsupportedFormat, fmt.Errorf("%s: %w", format, err))
	}
	return newError(ErrCorrupt, fmt.Errorf("%s: %w", format, err))
}

// be and le read integers without panicking on short input.
func be16(b []byte) int { return int(binary.BigEndian.Uint16(b)) }
func be32(b []byte) int { return int(binary.BigEndian.Uint32(b)) }
