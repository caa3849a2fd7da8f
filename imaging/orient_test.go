package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// exifTIFF returns a TIFF structure whose IFD0 holds only the Orientation.
func exifTIFF(o int, bo binary.ByteOrder) []byte {
	b := make([]byte, 8+2+12+4)
	if bo == binary.LittleEndian {
		copy(b, "II*\x00")
	} else {
		copy(b, "MM\x00*")
	}
	bo.PutUint32(b[4:], 8)
	bo.PutUint16(b[8:], 1)
	bo.PutUint16(b[10:], tagOrientation)
	bo.PutUint16(b[12:], 3) // SHORT
	bo.PutUint32(b[14:], 1)
	bo.PutUint16(b[18:], uint16(o))
	return b
}

// jpegWithExif inserts an APP1 Exif segment after SOI.
func jpegWithExif(data, tiffData []byte) []byte {
	payload := append([]byte("Exif\x00\x00"), tiffData...)
	seg := []byte{0xff, 0xe1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	out := append([]byte{}, data[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, data[2:]...)
}

// cornerScene: mid gray with a black 8x8 patch at stored (0,0) and a white
// one at the stored end of row 0.
func cornerScene(w, h int) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = 128
	}
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			m.SetGray(x, y, color.Gray{0})
			m.SetGray(w-1-x, y, color.Gray{255})
		}
	}
	return m
}

// TestOrientation checks all eight EXIF orientations by where the stored
// first row's ends land in the output, following the EXIF definitions
// ("0th row at the top/bottom/left/right, 0th column at ...").
func TestOrientation(t *testing.T) {
	const w, h = 48, 32
	type corner int
	const (
		tl corner = iota
		tr
		bl
		br
	)
	want := map[int][2]corner{ // orientation: where stored (0,0) and (w-1,0) go
		1: {tl, tr}, 2: {tr, tl}, 3: {br, bl}, 4: {bl, br},
		5: {tl, bl}, 6: {tr, br}, 7: {br, tr}, 8: {bl, tl},
	}
	src := cornerScene(w, h)
	plainPNG := encodePNGStd(t, src)
	plainJPEG := encodeWith(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, src, &jpeg.Options{Quality: 95}) })
	for o := 1; o <= 8; o++ {
		for _, enc := range []struct {
			name string
			data []byte
		}{
			{"jpeg II", jpegWithExif(plainJPEG, exifTIFF(o, binary.LittleEndian))},
			{"jpeg MM", jpegWithExif(plainJPEG, exifTIFF(o, binary.BigEndian))},
			{"png eXIf", pngWithChunk(plainPNG, "eXIf", exifTIFF(o, binary.BigEndian))},
		} {
			t.Run(enc.name+"/"+string(rune('0'+o)), func(t *testing.T) {
				info, err := Probe(enc.data)
				if err != nil || info.Orientation != o || info.Width != w || info.Height != h {
					t.Fatalf("Probe = %+v, %v", info, err)
				}
				res, err := Process(context.Background(), enc.data, Options{ThumbSizes: []int{24}})
				if err != nil {
					t.Fatal(err)
				}
				dw, dh := w, h
				if o >= 5 {
					dw, dh = h, w
				}
				img := decodeOutput(t, res.Outputs[0])
				if img.Bounds().Dx() != dw || img.Bounds().Dy() != dh {
					t.Fatalf("gray %v, want %dx%d", img.Bounds(), dw, dh)
				}
				at := func(c corner) int {
					x, y := 3, 3
					if c == tr || c == br {
						x = dw - 4
					}
					if c == bl || c == br {
						y = dh - 4
					}
					return int(color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y)
				}
				black, white := want[o][0], want[o][1]
				if v := at(black); v > 20 {
					t.Errorf("corner %d should be black, is %d", black, v)
				}
				if v := at(white); v < 235 {
					t.Errorf("corner %d should be white, is %d", white, v)
				}
				for c := tl; c <= br; c++ {
					if c != black && c != white {
						if v := at(c); v < 110 || v > 146 {
							t.Errorf("corner %d should be gray, is %d", c, v)
						}
					}
				}
				tw, th := 24, 16
				if o >= 5 {
					tw, th = 16, 24
				}
				if o := res.Outputs[1]; o.Width != tw || o.Height != th {
					t.Errorf("thumb %dx%d, want %dx%d", o.Width, o.Height, tw, th)
				}
			})
		}
	}
}

// Malformed EXIF never panics and means orientation 1.
func TestOrientationMalformed(t *testing.T) {
	good := exifTIFF(6, binary.LittleEndian)
	for _, tc := range []struct {
		name string
		tiff []byte
	}{
		{"empty", nil},
		{"short header", good[:6]},
		{"IFD offset past end", append(append([]byte{}, good[:4]...), 0xff, 0xff, 0, 0)},
		{"entry cut", good[:15]},
		{"value 9", exifTIFF(9, binary.LittleEndian)},
		{"value 0", exifTIFF(0, binary.BigEndian)},
		{"bad byte order", append([]byte("XX"), good[2:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if o := tiffOrientation(tc.tiff); o != 1 {
				t.Errorf("orientation %d, want 1", o)
			}
			j := jpegWithExif(encodeWith(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, cornerScene(16, 8), nil) }), tc.tiff)
			if o := jpegOrientation(j); o != 1 {
				t.Errorf("in JPEG: orientation %d, want 1", o)
			}
		})
	}
	// Every prefix of a JPEG with EXIF: no panic.
	j := jpegWithExif(encodeWith(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, cornerScene(16, 8), nil) }), good)
	for n := range len(j) {
		jpegOrientation(j[:n])
		pngOrientation(j[:n])
		webpOrientation(j[:n])
	}
}

// orient on rasters larger than its tiles, every kind, against a
// pixel-by-pixel application of the EXIF table in orient's doc.
func TestOrientLarge(t *testing.T) {
	for _, kind := range []struct{ alpha, deep bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		r := newRaster(203, 131, kind.alpha, kind.deep)
		for i := range r.Pix {
			r.Pix[i] = uint8(i*31 + i/7)
		}
		bpp := r.bpp()
		for o := 1; o <= 8; o++ {
			d := orient(r, o)
			w, h := r.W, r.H
			for y := 0; y < d.H; y++ {
				for x := 0; x < d.W; x++ {
					s := map[int][2]int{
						1: {x, y}, 2: {w - 1 - x, y}, 3: {w - 1 - x, h - 1 - y}, 4: {x, h - 1 - y},
						5: {y, x}, 6: {y, h - 1 - x}, 7: {w - 1 - y, h - 1 - x}, 8: {w - 1 - y, x},
					}[o]
					sx, sy := s[0], s[1]
					got := d.Pix[y*d.Stride+x*bpp : y*d.Stride+x*bpp+bpp]
					want := r.Pix[sy*r.Stride+sx*bpp : sy*r.Stride+sx*bpp+bpp]
					if !bytes.Equal(got, want) {
						t.Fatalf("alpha=%v deep=%v orientation %d: (%d,%d) differs", kind.alpha, kind.deep, o, x, y)
					}
				}
			}
		}
	}
}
