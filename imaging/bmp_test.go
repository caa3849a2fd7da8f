package imaging

import (
	"context"
	"encoding/binary"
	"os/exec"
	"testing"
)

// BMP variants written here, read by Pillow and by us.

type bmpSpec struct {
	name        string
	w, h        int
	bpp         int
	compression uint32
	header      int      // 12 (OS/2), 40, 108 (V4) or 124 (V5)
	masks       []uint32 // bit fields (R, G, B[, A])
	topDown     bool
	rle         []byte // RLE data instead of rows
}

func (s bmpSpec) px(x, y int) uint32 { return uint32(x*37+y*91) ^ uint32(x*y*5) }

func (s bmpSpec) encode() []byte {
	le := binary.LittleEndian
	var pal []byte
	entry := 4
	if s.header == 12 {
		entry = 3
	}
	if s.bpp <= 8 {
		for i := 0; i < 1<<s.bpp; i++ {
			pal = append(pal, byte(i*13), byte(i*91), byte(i*37)) // B, G, R
			if entry == 4 {
				pal = append(pal, 0)
			}
		}
	}
	hdr := make([]byte, s.header)
	le.PutUint32(hdr, uint32(s.header))
	if s.header == 12 {
		le.PutUint16(hdr[4:], uint16(s.w))
		le.PutUint16(hdr[6:], uint16(s.h))
		le.PutUint16(hdr[8:], 1)
		le.PutUint16(hdr[10:], uint16(s.bpp))
	} else {
		h := int32(s.h)
		if s.topDown {
			h = -h
		}
		le.PutUint32(hdr[4:], uint32(s.w))
		le.PutUint32(hdr[8:], uint32(h))
		le.PutUint16(hdr[12:], 1)
		le.PutUint16(hdr[14:], uint16(s.bpp))
		le.PutUint32(hdr[16:], s.compression)
		for i, m := range s.masks {
			if s.header > 40 {
				le.PutUint32(hdr[40+4*i:], m)
			}
		}
	}
	var masks []byte
	if s.header == 40 && s.compression == 3 {
		for _, m := range s.masks[:3] {
			masks = le.AppendUint32(masks, m)
		}
	}
	var pix []byte
	if s.rle != nil {
		pix = s.rle
	} else {
		stride := (s.w*s.bpp + 31) / 32 * 4
		for i := 0; i < s.h; i++ {
			y := s.h - 1 - i
			if s.topDown {
				y = i
			}
			row := make([]byte, stride)
			for x := 0; x < s.w; x++ {
				v := s.px(x, y)
				switch s.bpp {
				case 1, 2, 4, 8:
					v &= 1<<s.bpp - 1
					bit := x * s.bpp
					row[bit/8] |= byte(v) << (8 - s.bpp - bit%8)
				case 16:
					le.PutUint16(row[2*x:], uint16(v*2654435761>>7))
				case 24:
					row[3*x], row[3*x+1], row[3*x+2] = byte(v), byte(v>>3), byte(v*7)
				case 32:
					w := v * 2654435761
					if (x+y)%3 == 0 {
						w |= 0xff000000 // opaque where there is alpha
					}
					le.PutUint32(row[4*x:], w)
				}
			}
			pix = append(pix, row...)
		}
	}
	off := 14 + len(hdr) + len(masks) + len(pal)
	out := []byte("BM")
	out = le.AppendUint32(out, uint32(off+len(pix)))
	out = le.AppendUint32(out, 0)
	out = le.AppendUint32(out, uint32(off))
	out = append(append(append(append(out, hdr...), masks...), pal...), pix...)
	return out
}

func bmpSpecs() []bmpSpec {
	// RLE8: runs, an absolute run (odd length, padded), end of line, a
	// delta over pixels and rows, data ending without end-of-bitmap.
	rle8 := []byte{
		5, 3, 0, 3, 9, 8, 7, 0, 4, 1, 0, 0, // row 0: 3x5, 9 8 7 + pad, 1x4, EOL
		2, 10, 0, 2, 3, 2, 6, 11, 0, 0, // row 1: 10 10, delta (3, 2), 11x6, EOL
		16, 4, 0, 0, // a whole row
		0, 1, // end of bitmap
	}
	rle4 := []byte{
		7, 0x12, 0, 5, 0x34, 0x56, 0x70, 0, 0, 0, // row 0: 1 2 1 2 1 2 1, 3 4 5 6 7 (+pad), EOL
		0, 2, 4, 1, 9, 0xab, 0, 0, // delta (4, 1), a b a b a b a b a, EOL
	}
	return []bmpSpec{
		{name: "1-bit", w: 35, h: 9, bpp: 1, header: 40},
		{name: "4-bit", w: 33, h: 9, bpp: 4, header: 40},
		{name: "8-bit OS/2", w: 31, h: 9, bpp: 8, header: 12},
		{name: "8-bit top-down", w: 31, h: 9, bpp: 8, header: 40, topDown: true},
		{name: "16-bit 5-5-5", w: 29, h: 11, bpp: 16, header: 40},
		{name: "16-bit 5-6-5 bit fields", w: 29, h: 11, bpp: 16, header: 40, compression: 3, masks: []uint32{0xf800, 0x7e0, 0x1f}},
		{name: "16-bit 5-5-5 bit fields V4", w: 29, h: 11, bpp: 16, header: 108, compression: 3, masks: []uint32{0x7c00, 0x3e0, 0x1f, 0}},
		{name: "24-bit V5", w: 27, h: 7, bpp: 24, header: 124},
		{name: "32-bit BGRX", w: 27, h: 7, bpp: 32, header: 40},
		{name: "32-bit bit fields with alpha V4", w: 27, h: 7, bpp: 32, header: 108, compression: 3, masks: []uint32{0xff0000, 0xff00, 0xff, 0xff000000}},
		{name: "RLE8", w: 16, h: 6, bpp: 8, header: 40, compression: 1, rle: rle8},
		{name: "RLE4", w: 14, h: 4, bpp: 4, header: 40, compression: 2, rle: rle4},
	}
}

// TestBMPVariants compares with Pillow, and RLE with ImageMagick: Pillow
// 9.4 reads two bytes too many after an RLE delta and an extra pixel after
// an odd RLE4 literal run.
func TestBMPVariants(t *testing.T) {
	p := newPillow(t)
	im := needTool(t, "/usr/bin/convert-im6.q16", "-version")
	for _, s := range bmpSpecs() {
		t.Run(s.name, func(t *testing.T) {
			data := s.encode()
			res, err := Process(context.Background(), data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Info.Width != s.w || res.Info.Height != s.h || res.Info.Format != "bmp" {
				t.Fatalf("info %+v", res.Info)
			}
			_, _, ours, opaque := lumaOf(t, data)
			_, _, mode, theirs := p.read("luma", data)
			if s.rle != nil {
				mode, theirs = "ImageMagick", imageMagickLuma(t, im, p.file("rle.bmp", data))
			}
			if len(ours) != len(theirs) {
				t.Fatalf("Pillow %s: %d pixels, ours %d", mode, len(theirs), len(ours))
			}
			n := 0
			for i := range ours {
				if opaque[i] {
					n++
					if ours[i] != theirs[i] {
						t.Fatalf("pixel %d: %d, Pillow %d", i, ours[i], theirs[i])
					}
				}
			}
			if n < len(ours)/4 {
				t.Fatalf("only %d opaque pixels", n)
			}
		})
	}
}

// imageMagickLuma reads a file with ImageMagick as 8-bit RGB and returns
// its luma.
func imageMagickLuma(t *testing.T, convert, path string) []byte {
	out, err := exec.Command(convert, path, "-depth", "8", "rgb:-").Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("%s %s: %v", convert, path, err)
	}
	l := make([]byte, len(out)/3)
	for i := range l {
		l[i] = luma8(out[3*i], out[3*i+1], out[3*i+2])
	}
	return l
}

func TestBMPRefused(t *testing.T) {
	for name, s := range map[string]bmpSpec{
		"embedded JPEG": {w: 4, h: 4, bpp: 24, header: 40, compression: 4, rle: []byte{0xff, 0xd8}},
		"embedded PNG":  {w: 4, h: 4, bpp: 24, header: 40, compression: 5, rle: []byte{0x89, 'P'}},
		"64-bit":        {w: 4, h: 4, bpp: 64, header: 40, rle: make([]byte, 128)},
	} {
		if _, err := Process(context.Background(), s.encode(), Options{}); Code(err) != "unsupported_format" {
			t.Errorf("%s: %v, want unsupported_format", name, err)
		}
	}
	trunc := bmpSpecs()[4].encode()
	if _, err := Process(context.Background(), trunc[:len(trunc)-10], Options{}); Code(err) != "corrupt_image" {
		t.Errorf("truncated: %v, want corrupt_image", err)
	}
}
