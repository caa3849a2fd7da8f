package imaging

import (
	"compress/lzw"
	"context"
	"errors"
	"fmt"
	"io"
)

// The GIF decoder: the first frame, its LZW stream decoded row by row
// straight into the gray raster through a luma table of its palette. The
// raster has the logical screen's size; where the first frame does not
// cover it, the pixels are transparent (as before), and the frame is
// clipped to the screen (as Pillow does). Indexes past the palette are
// opaque black.

func gifCorrupt(format string, args ...any) error {
	return newError(ErrCorrupt, fmt.Errorf("gif: "+format, args...))
}

// gifBlocks reads the data sub-blocks of an image as one stream.
type gifBlocks struct {
	data []byte
	cur  []byte
	end  bool
}

func (r *gifBlocks) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.end {
			return 0, io.EOF
		}
		if len(r.data) == 0 {
			return 0, io.ErrUnexpectedEOF
		}
		n := int(r.data[0])
		if n == 0 {
			r.end = true
			return 0, io.EOF
		}
		if 1+n > len(r.data) {
			r.cur, r.data = r.data[1:], nil
			continue
		}
		r.cur, r.data = r.data[1:1+n], r.data[1+n:]
	}
	k := copy(p, r.cur)
	r.cur = r.cur[k:]
	return k, nil
}

// skipBlocks returns data after a run of sub-blocks and its terminator.
func skipBlocks(data []byte) ([]byte, error) {
	for {
		if len(data) == 0 {
			return nil, gifCorrupt("truncated extension")
		}
		n := int(data[0])
		if 1+n > len(data) {
			return nil, gifCorrupt("truncated extension")
		}
		data = data[1+n:]
		if n == 0 {
			return data, nil
		}
	}
}

func decodeGIF(ctx context.Context, data []byte) (*raster, error) {
	if len(data) < 13 {
		return nil, gifCorrupt("short header")
	}
	sw, sh := int(data[6])|int(data[7])<<8, int(data[8])|int(data[9])<<8
	flags := data[10]
	p := data[13:]
	var global []byte
	if flags&0x80 != 0 {
		n := 3 << (flags&7 + 1)
		if len(p) < n {
			return nil, gifCorrupt("truncated color table")
		}
		global, p = p[:n], p[n:]
	}
	transparent := -1
	for {
		if len(p) == 0 {
			return nil, gifCorrupt("no image")
		}
		switch p[0] {
		case 0x21: // extension
			if len(p) < 2 {
				return nil, gifCorrupt("truncated extension")
			}
			if p[1] == 0xf9 && len(p) >= 8 && p[2] == 4 {
				transparent = -1
				if p[3]&1 != 0 {
					transparent = int(p[6])
				}
			}
			var err error
			if p, err = skipBlocks(p[2:]); err != nil {
				return nil, err
			}
		case 0x2c: // image descriptor
			return gifFrame(ctx, p, sw, sh, global, transparent)
		case 0x3b:
			return nil, gifCorrupt("no image before the trailer")
		default:
			return nil, gifCorrupt("unknown block 0x%02x", p[0])
		}
	}
}

func gifFrame(ctx context.Context, p []byte, sw, sh int, pal []byte, transparent int) (*raster, error) {
	if len(p) < 10 {
		return nil, gifCorrupt("truncated image descriptor")
	}
	fx, fy := int(p[1])|int(p[2])<<8, int(p[3])|int(p[4])<<8
	fw, fh := int(p[5])|int(p[6])<<8, int(p[7])|int(p[8])<<8
	flags := p[9]
	p = p[10:]
	if flags&0x80 != 0 {
		n := 3 << (flags&7 + 1)
		if len(p) < n {
			return nil, gifCorrupt("truncated color table")
		}
		pal, p = p[:n], p[n:]
	}
	if pal == nil {
		return nil, gifCorrupt("no color table")
	}
	// The frame is decoded whole, clipped or not: its size must be of the
	// order of the screen's (which the pixel limit bounds), or a small file
	// could make a huge amount of LZW work.
	if int64(fw)*int64(fh) > 2*int64(sw)*int64(sh)+1<<20 {
		return nil, gifCorrupt("first frame %dx%d on a %dx%d screen", fw, fh, sw, sh)
	}
	if len(p) < 1 {
		return nil, gifCorrupt("no image data")
	}
	lit := int(p[0])
	if lit > 8 && lit < 12 { // past the spec; a few encoders write it
		return nil, newError(ErrUnsupportedFormat, fmt.Errorf("gif: LZW minimum code size %d (over 8)", lit))
	}
	if lit < 2 || lit > 8 {
		return nil, gifCorrupt("LZW code size %d", lit)
	}
	var lut [256][2]uint8
	for i := range lut {
		lut[i] = [2]uint8{0, 0xff}
		if 3*i+2 < len(pal) {
			lut[i][0] = luma8(pal[3*i], pal[3*i+1], pal[3*i+2])
		}
	}
	if transparent >= 0 {
		lut[transparent][1] = 0
	}
	// Outside the first frame the pixels are transparent: zero luma and
	// alpha from the start.
	covers := fx == 0 && fy == 0 && fw >= sw && fh >= sh
	out := &grayWriter{r: newRaster(sw, sh, !covers, false)}
	zr := lzw.NewReader(&gifBlocks{data: p[1:]}, lzw.LSB, lit)
	defer zr.Close()
	idx := make([]byte, fw)
	interlace := flags&0x40 != 0
	for i := 0; i < fh; i++ {
		if i%checkEvery == 0 {
			if err := canceled(ctx, "gif"); err != nil {
				return nil, err
			}
		}
		if _, err := io.ReadFull(zr, idx); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, gifCorrupt("not enough image data")
			}
			return nil, gifCorrupt("%v", err)
		}
		y := i
		if interlace {
			y = gifInterlacedRow(i, fh)
		}
		y += fy
		if y >= sh || fx >= sw {
			if !interlace {
				break // the rest is off the screen too
			}
			continue
		}
		n := min(fw, sw-fx)
		pairs := out.pairs(n)
		for x, v := range idx[:n] {
			pairs[2*x], pairs[2*x+1] = lut[v][0], lut[v][1]
		}
		out.putPairs(y, fx, 1, pairs)
	}
	return out.r, nil
}

// gifInterlacedRow maps the i-th stored row of an interlaced frame of h
// rows to its row: every 8th from 0, every 8th from 4, every 4th from 2,
// every 2nd from 1.
func gifInterlacedRow(i, h int) int {
	for _, pass := range [4][2]int{{0, 8}, {4, 8}, {2, 4}, {1, 2}} {
		n := (h - pass[0] + pass[1] - 1) / pass[1]
		if i < n {
			return pass[0] + i*pass[1]
		}
		i -= n
	}
	return h
}
