package imaging

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/zlib"
)

// The PNG decoder: every color type and bit depth, interlaced or not,
// tRNS of every kind. Rows are inflated on one core while another
// unfilters them and writes luma (and alpha, only when some pixel is not
// opaque) straight into the gray raster, so the RGBA image that image/png
// would build (up to 8 bytes a pixel) never exists. Chunk CRCs and the
// zlib checksum are verified as image/png does. An embedded profile is
// applied to each row (colorTransform). Inflating is most of the work:
// github.com/klauspost/compress's inflater takes about a quarter less CPU
// than compress/flate on photos (BenchmarkInflate).

func pngCorrupt(format string, args ...any) error {
	return newError(ErrCorrupt, fmt.Errorf("png: "+format, args...))
}

// idatReader reads the concatenated payloads of consecutive IDAT chunks.
type idatReader struct {
	data []byte // the file, positioned at the first IDAT's length field
	cur  []byte // rest of the current payload
	err  error
}

func (r *idatReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if len(r.data) < 12 || string(r.data[4:8]) != "IDAT" {
			r.err = io.EOF
			return 0, r.err
		}
		n := int64(binary.BigEndian.Uint32(r.data))
		if n > int64(len(r.data))-12 {
			r.err = io.ErrUnexpectedEOF
			return 0, r.err
		}
		chunk := r.data[4 : 8+n]
		if crc32.ChecksumIEEE(chunk) != binary.BigEndian.Uint32(r.data[8+n:]) {
			r.err = errors.New("IDAT checksum mismatch")
			return 0, r.err
		}
		r.cur = r.data[8 : 8+n]
		r.data = r.data[12+n:]
	}
	k := copy(p, r.cur)
	r.cur = r.cur[k:]
	return k, nil
}

// adam7 is the interlace pattern: x0, y0, dx, dy of each pass.
var adam7 = [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}

// pngDec is the state of one decode.
type pngDec struct {
	w, h      int
	ctype     byte
	depth     int
	interlace bool
	lut       [256][2]uint8 // palette: luma, alpha
	key       [3]uint16     // tRNS color key of types 0 and 2
	hasKey    bool
	alpha     bool // some pixel may be transparent
	ct        *colorTransform
	out       *grayWriter
	bpp       int // bytes per complete pixel for the filters, at least 1
}

// decodePNG returns the luma (and alpha) raster of a PNG. cm's transform
// is applied when it fits the color type; a profile that does not fit is
// dropped with a warning.
func decodePNG(ctx context.Context, data []byte, cm *colorInfo) (*raster, error) {
	if !hasPrefix(data, "\x89PNG\r\n\x1a\n") {
		return nil, pngCorrupt("not a PNG")
	}
	d := &pngDec{}
	for i := range d.lut {
		d.lut[i] = [2]uint8{0, 0xff} // out-of-range index: opaque black, as image/png
	}
	var haveIHDR bool
	var plte []byte
	p := 8
	for {
		if p+12 > len(data) {
			return nil, pngCorrupt("truncated before IDAT")
		}
		n := int64(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		if n > int64(len(data)-p-12) {
			return nil, pngCorrupt("truncated %s chunk", typ)
		}
		end := p + 8 + int(n)
		body := data[p+8 : end]
		if typ == "IDAT" {
			break // checked by idatReader
		}
		if crc32.ChecksumIEEE(data[p+4:end]) != binary.BigEndian.Uint32(data[end:]) {
			return nil, pngCorrupt("%s checksum mismatch", typ)
		}
		if !haveIHDR && typ != "IHDR" {
			return nil, pngCorrupt("%s before IHDR", typ)
		}
		switch typ {
		case "IHDR":
			if len(body) != 13 || haveIHDR {
				return nil, pngCorrupt("bad IHDR")
			}
			haveIHDR = true
			if err := d.header(body); err != nil {
				return nil, err
			}
		case "PLTE":
			if len(body)%3 != 0 || len(body) == 0 || len(body) > 768 || plte != nil {
				return nil, pngCorrupt("bad PLTE")
			}
			plte = body
		case "tRNS":
			if err := d.trns(body); err != nil {
				return nil, err
			}
		case "IEND":
			return nil, pngCorrupt("no IDAT")
		}
		p = end + 4
	}
	if !haveIHDR || (d.ctype == 3 && plte == nil) {
		return nil, pngCorrupt("missing IHDR or PLTE")
	}
	if cm.t != nil && cm.t.gray != (d.ctype == 0 || d.ctype == 4) {
		cm.warning = fmt.Sprintf("icc_ignored: profile %q does not fit PNG color type %d; gray is computed from the stored numbers", cm.t.name, d.ctype)
		cm.t = nil
	}
	d.ct = cm.t
	if d.ctype == 3 {
		for i := 0; i < len(plte)/3; i++ {
			r, g, b := plte[3*i], plte[3*i+1], plte[3*i+2]
			if d.ct != nil {
				d.lut[i][0] = d.ct.luma8(r, g, b)
			} else {
				d.lut[i][0] = luma8(r, g, b)
			}
		}
	}
	d.out = newGrayWriter(d.w, d.h, d.depth == 16)
	if err := d.pixels(ctx, data[p:]); err != nil {
		return nil, err
	}
	return d.out.r, nil
}

func (d *pngDec) header(b []byte) error {
	w, h := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if w == 0 || h == 0 || w > 1<<24 || h > 1<<24 {
		return pngCorrupt("bad size %dx%d", w, h)
	}
	d.w, d.h = int(w), int(h)
	d.depth, d.ctype = int(b[8]), b[9]
	ok := false
	switch d.ctype {
	case 0:
		ok = d.depth == 1 || d.depth == 2 || d.depth == 4 || d.depth == 8 || d.depth == 16
	case 3:
		ok = d.depth == 1 || d.depth == 2 || d.depth == 4 || d.depth == 8
	case 2, 4, 6:
		ok = d.depth == 8 || d.depth == 16
	}
	if !ok {
		return pngCorrupt("color type %d with bit depth %d", d.ctype, d.depth)
	}
	if b[10] != 0 || b[11] != 0 || b[12] > 1 {
		return pngCorrupt("unknown compression, filter or interlace method")
	}
	d.interlace = b[12] == 1
	d.alpha = d.ctype == 4 || d.ctype == 6
	d.bpp = max(1, d.channels()*d.depth/8)
	return nil
}

func (d *pngDec) channels() int { return [7]int{1, 0, 3, 1, 2, 0, 4}[d.ctype] }

func (d *pngDec) trns(b []byte) error {
	switch d.ctype {
	case 0:
		if len(b) < 2 {
			return pngCorrupt("bad tRNS")
		}
		d.key[0], d.hasKey = uint16(be16(b)), true
	case 2:
		if len(b) < 6 {
			return pngCorrupt("bad tRNS")
		}
		d.key, d.hasKey = [3]uint16{uint16(be16(b)), uint16(be16(b[2:])), uint16(be16(b[4:]))}, true
	case 3:
		if len(b) > 256 {
			return pngCorrupt("bad tRNS")
		}
		for i, a := range b {
			d.lut[i][1] = a
		}
	default:
		return nil // ignored, as image/png and Pillow do
	}
	d.alpha = true
	return nil
}

// rowBytes is the length of one unfiltered row of n pixels.
func (d *pngDec) rowBytes(n int) int { return (n*d.channels()*d.depth + 7) / 8 }

// pass is a run of rows of the same length: one pass of an interlaced
// image, or the whole of a plain one.
type pngPass struct{ x0, y0, dx, dy, w, h int }

func (d *pngDec) passes() []pngPass {
	if !d.interlace {
		return []pngPass{{0, 0, 1, 1, d.w, d.h}}
	}
	var ps []pngPass
	for _, a := range adam7 {
		w, h := (d.w-a[0]+a[2]-1)/a[2], (d.h-a[1]+a[3]-1)/a[3]
		if w > 0 && h > 0 {
			ps = append(ps, pngPass{a[0], a[1], a[2], a[3], w, h})
		}
	}
	return ps
}

// pixels inflates the image data on this goroutine and hands bands of
// filtered rows to a converter goroutine through a ring of buffers.
func (d *pngDec) pixels(ctx context.Context, idat []byte) error {
	if int64(d.w)*int64(d.channels()*d.depth) > 8<<30 {
		return pngCorrupt("row too long")
	}
	zr, err := zlib.NewReader(&idatReader{data: idat})
	if err != nil {
		return pngCorrupt("image data: %v", err)
	}
	type band struct {
		pass, y, n int // pass index, first row in the pass, rows
		raw        []byte
	}
	passes := d.passes()
	maxRow := d.rowBytes(d.w) + 1
	bandRows := max(1, (256<<10)/maxRow)
	free, full := make(chan *band, 4), make(chan *band, 4)
	for i := 0; i < 4; i++ {
		free <- &band{raw: make([]byte, bandRows*maxRow)}
	}
	done := make(chan error, 1)
	go func() {
		var err error
		prev := make([]byte, maxRow-1)
		cur := make([]byte, maxRow-1)
		lastPass := -1
		for b := range full {
			if err != nil {
				free <- b
				continue
			}
			ps := passes[b.pass]
			n := d.rowBytes(ps.w)
			if b.pass != lastPass {
				clear(prev)
				lastPass = b.pass
			}
			for i := 0; i < b.n; i++ {
				raw := b.raw[i*(n+1) : (i+1)*(n+1)]
				if err = unfilter(raw[0], raw[1:], cur[:n], prev[:n], d.bpp); err != nil {
					break
				}
				d.row(ps.y0+(b.y+i)*ps.dy, ps.x0, ps.dx, cur[:n], ps.w)
				prev, cur = cur, prev
			}
			free <- b
		}
		done <- err
	}()
	var rerr error
read:
	for pi, ps := range passes {
		n := d.rowBytes(ps.w) + 1
		for y := 0; y < ps.h; {
			if rerr = canceled(ctx, "png"); rerr != nil {
				break read
			}
			b := <-free
			b.pass, b.y, b.n = pi, y, min(bandRows*maxRow/n, ps.h-y)
			if _, err := io.ReadFull(zr, b.raw[:b.n*n]); err != nil {
				rerr = pngCorrupt("image data: %v", err)
				free <- b
				break read
			}
			full <- b
			y += b.n
		}
	}
	close(full)
	if err := <-done; err != nil && rerr == nil {
		rerr = err
	}
	if rerr != nil {
		return rerr
	}
	// The zlib checksum is verified at the end of the stream.
	var one [1]byte
	if n, err := io.ReadFull(zr, one[:]); n != 0 {
		return pngCorrupt("too much image data")
	} else if err != io.EOF {
		return pngCorrupt("image data: %v", err)
	}
	return nil
}

// unfilter reverses the filter of one row into cur; prev is the previous
// unfiltered row (zeros for the first).
func unfilter(f byte, raw, cur, prev []byte, bpp int) error {
	n := len(cur)
	raw, prev = raw[:n:n], prev[:n:n]
	switch f {
	case 0:
		copy(cur, raw)
	case 1:
		copy(cur[:min(bpp, n)], raw)
		for i := bpp; i < n; i++ {
			cur[i] = raw[i] + cur[i-bpp]
		}
	case 2:
		for i := range cur {
			cur[i] = raw[i] + prev[i]
		}
	case 3:
		for i := 0; i < min(bpp, n); i++ {
			cur[i] = raw[i] + prev[i]/2
		}
		for i := bpp; i < n; i++ {
			cur[i] = raw[i] + uint8((uint16(cur[i-bpp])+uint16(prev[i]))/2)
		}
	case 4:
		for i := 0; i < min(bpp, n); i++ {
			cur[i] = raw[i] + prev[i]
		}
		for i := bpp; i < n; i++ {
			cur[i] = raw[i] + paeth(cur[i-bpp], prev[i], prev[i-bpp])
		}
	default:
		return pngCorrupt("bad filter type %d", f)
	}
	return nil
}

// row converts one unfiltered row of w pixels that land at x0, x0+dx, ...
// of raster row y.
func (d *pngDec) row(y, x0, dx int, src []byte, w int) {
	out := d.out
	if !d.alpha && dx == 1 {
		d.lumaRow(out.r.row(y), src, w)
		return
	}
	// With alpha, or interlaced: through (luma, alpha) pairs.
	p := out.pairs(w)
	d.pairRow(p, src, w)
	out.putPairs(y, x0, dx, p)
}

// lumaRow writes the luma of a row without alpha into dst.
func (d *pngDec) lumaRow(dst, src []byte, w int) {
	ct := d.ct
	switch {
	case d.ctype == 2 && d.depth == 8:
		if ct != nil {
			for x := 0; x < w; x++ {
				s := src[3*x : 3*x+3 : 3*x+3]
				dst[x] = ct.luma8(s[0], s[1], s[2])
			}
			return
		}
		for x := 0; x < w; x++ {
			s := src[3*x : 3*x+3 : 3*x+3]
			dst[x] = luma8(s[0], s[1], s[2])
		}
	case d.ctype == 0 && d.depth == 8:
		if ct != nil {
			for x, v := range src[:w] {
				dst[x] = ct.gray8lut[v]
			}
			return
		}
		copy(dst, src[:w])
	case d.ctype == 3 && d.depth == 8:
		for x, i := range src[:w] {
			dst[x] = d.lut[i][0]
		}
	case d.depth == 16:
		for x := 0; x < w; x++ {
			var l uint16
			if d.ctype == 0 {
				l = uint16(src[2*x])<<8 | uint16(src[2*x+1])
				if ct != nil {
					l = ct.luma16(l, 0, 0)
				}
			} else {
				s := src[6*x : 6*x+6 : 6*x+6]
				r, g, b := uint16(s[0])<<8|uint16(s[1]), uint16(s[2])<<8|uint16(s[3]), uint16(s[4])<<8|uint16(s[5])
				if ct != nil {
					l = ct.luma16(r, g, b)
				} else {
					l = luma16(r, g, b)
				}
			}
			dst[2*x], dst[2*x+1] = uint8(l>>8), uint8(l)
		}
	default: // 1, 2, 4 bits, gray or palette
		d.smallRow(src, w, func(x int, l, _ uint8) { dst[x] = l })
	}
}

// smallRow unpacks 1, 2 or 4-bit samples of gray or palette images.
func (d *pngDec) smallRow(src []byte, w int, put func(x int, l, a uint8)) {
	shift := 8 - d.depth
	mask := uint8(1<<d.depth - 1)
	scale := 255 / mask
	for x := 0; x < w; x++ {
		bit := x * d.depth
		v := src[bit>>3] >> (shift - bit&7) & mask
		if d.ctype == 3 {
			put(x, d.lut[v][0], d.lut[v][1])
			continue
		}
		a := uint8(0xff)
		if d.hasKey && uint16(v) == d.key[0] {
			a = 0
		}
		l := v * scale
		if d.ct != nil {
			l = d.ct.gray8lut[l]
		}
		put(x, l, a)
	}
}

// pairRow writes (luma, alpha) pairs of one row, in the output's depth.
func (d *pngDec) pairRow(p, src []byte, w int) {
	ct := d.ct
	if d.depth < 8 {
		d.smallRow(src, w, func(x int, l, a uint8) { p[2*x], p[2*x+1] = l, a })
		return
	}
	if d.depth == 8 {
		for x := 0; x < w; x++ {
			var l, a uint8 = 0, 0xff
			switch d.ctype {
			case 0:
				v := src[x]
				l = v
				if ct != nil {
					l = ct.gray8lut[v]
				}
				if d.hasKey && uint16(v) == d.key[0] {
					a = 0
				}
			case 2:
				s := src[3*x : 3*x+3 : 3*x+3]
				if ct != nil {
					l = ct.luma8(s[0], s[1], s[2])
				} else {
					l = luma8(s[0], s[1], s[2])
				}
				if d.hasKey && uint16(s[0]) == d.key[0] && uint16(s[1]) == d.key[1] && uint16(s[2]) == d.key[2] {
					a = 0
				}
			case 3:
				l, a = d.lut[src[x]][0], d.lut[src[x]][1]
			case 4:
				l, a = src[2*x], src[2*x+1]
				if ct != nil {
					l = ct.gray8lut[l]
				}
			case 6:
				s := src[4*x : 4*x+4 : 4*x+4]
				if ct != nil {
					l = ct.luma8(s[0], s[1], s[2])
				} else {
					l = luma8(s[0], s[1], s[2])
				}
				a = s[3]
			}
			p[2*x], p[2*x+1] = l, a
		}
		return
	}
	for x := 0; x < w; x++ {
		var l, a uint16 = 0, 0xffff
		switch d.ctype {
		case 0, 4:
			n := 2 * d.channels()
			v := uint16(src[n*x])<<8 | uint16(src[n*x+1])
			l = v
			if ct != nil {
				l = ct.luma16(v, 0, 0)
			}
			if d.ctype == 4 {
				a = uint16(src[n*x+2])<<8 | uint16(src[n*x+3])
			} else if d.hasKey && v == d.key[0] {
				a = 0
			}
		case 2, 6:
			n := 2 * d.channels()
			s := src[n*x : n*x+n : n*x+n]
			r, g, b := uint16(s[0])<<8|uint16(s[1]), uint16(s[2])<<8|uint16(s[3]), uint16(s[4])<<8|uint16(s[5])
			if ct != nil {
				l = ct.luma16(r, g, b)
			} else {
				l = luma16(r, g, b)
			}
			if d.ctype == 6 {
				a = uint16(s[6])<<8 | uint16(s[7])
			} else if d.hasKey && r == d.key[0] && g == d.key[1] && b == d.key[2] {
				a = 0
			}
		}
		p[4*x], p[4*x+1], p[4*x+2], p[4*x+3] = uint8(l>>8), uint8(l), uint8(a>>8), uint8(a)
	}
}
