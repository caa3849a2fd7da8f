package imaging

import (
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A PNG luma decoder for the common case: 8-bit gray, RGB, palette, gray
// with alpha and RGBA, not interlaced. Rows are inflated on one core while
// another unfilters them and computes luma straight into the raster, so
// the RGBA image that image/png would build (4 bytes a pixel) never
// exists. Everything else (interlaced, 1/2/4/16-bit, color-key tRNS)
// reports errFallback and goes through image/png. Chunk CRCs and the zlib
// checksum are verified as image/png does.

func pngCorrupt(format string, args ...any) error {
	return fmt.Errorf("png: "+format, args...)
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
			r.err = pngCorrupt("IDAT checksum mismatch")
			return 0, r.err
		}
		r.cur = r.data[8 : 8+n]
		r.data = r.data[12+n:]
	}
	k := copy(p, r.cur)
	r.cur = r.cur[k:]
	return k, nil
}

// decodePNGLuma returns the luma (and alpha) raster of a PNG, or
// errFallback.
func decodePNGLuma(data []byte) (*raster, error) {
	if !hasPrefix(data, "\x89PNG\r\n\x1a\n") {
		return nil, pngCorrupt("not a PNG")
	}
	var (
		w, h     int
		ctype    byte
		lut      [256][2]uint8 // palette: luma, alpha
		havePLTE bool
		haveIHDR bool
	)
	for i := range lut {
		lut[i] = [2]uint8{0, 0xff}
	}
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
		switch typ {
		case "IHDR":
			if len(body) != 13 || haveIHDR {
				return nil, pngCorrupt("bad IHDR")
			}
			haveIHDR = true
			w, h = int(binary.BigEndian.Uint32(body)), int(binary.BigEndian.Uint32(body[4:]))
			depth, interlace := body[8], body[12]
			ctype = body[9]
			if w <= 0 || h <= 0 || w > 1<<24 || h > 1<<24 {
				return nil, pngCorrupt("bad size")
			}
			if depth != 8 || interlace != 0 || body[10] != 0 || body[11] != 0 {
				return nil, errFallback
			}
			switch ctype {
			case 0, 2, 3, 4, 6:
			default:
				return nil, errFallback
			}
		case "PLTE":
			if !haveIHDR || len(body)%3 != 0 || len(body) > 768 {
				return nil, errFallback
			}
			havePLTE = true
			for i := 0; i < len(body)/3; i++ {
				lut[i][0] = luma8(body[3*i], body[3*i+1], body[3*i+2])
			}
		case "tRNS":
			if ctype != 3 || !havePLTE {
				return nil, errFallback // color-key transparency
			}
			for i, a := range body[:min(len(body), 256)] {
				lut[i][1] = a
			}
		case "IEND":
			return nil, pngCorrupt("no IDAT")
		default:
			if typ[0]&0x20 == 0 && typ != "IHDR" { // unknown critical chunk
				return nil, errFallback
			}
		}
		p = end + 4
	}
	if !haveIHDR || (ctype == 3 && !havePLTE) {
		return nil, pngCorrupt("missing IHDR or PLTE")
	}
	bpp := map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
	alpha := ctype == 4 || ctype == 6 || (ctype == 3 && hasAlpha(&lut))
	if int64(w)*int64(bpp) > 1<<30 {
		return nil, errFallback
	}
	zr, err := zlib.NewReader(&idatReader{data: data[p:]})
	if err != nil {
		return nil, pngCorrupt("%v", err)
	}
	out := newRaster(w, h, alpha, false)
	rowLen := w * bpp
	// Bands of raw rows go from the inflating goroutine (this one) to the
	// converter through a ring of buffers.
	bandRows := max(1, (256<<10)/(rowLen+1))
	type band struct {
		y0, n int
		raw   []byte
	}
	free, full := make(chan *band, 4), make(chan *band, 4)
	for i := 0; i < 4; i++ {
		free <- &band{raw: make([]byte, bandRows*(rowLen+1))}
	}
	done := make(chan error, 1)
	opaque := true
	go func() {
		prev := make([]byte, rowLen)
		cur := make([]byte, rowLen)
		for b := range full {
			for i := 0; i < b.n; i++ {
				raw := b.raw[i*(rowLen+1) : (i+1)*(rowLen+1)]
				if err := unfilter(raw[0], raw[1:], cur, prev, bpp); err != nil {
					done <- err
					free <- b
					for b := range full { // let the reader finish
						free <- b
					}
					return
				}
				if !lumaRow(out.row(b.y0+i), cur, ctype, &lut) {
					opaque = false
				}
				prev, cur = cur, prev
			}
			free <- b
		}
		done <- nil
	}()
	var rerr error
	for y := 0; y < h && rerr == nil; {
		b := <-free
		b.y0, b.n = y, min(bandRows, h-y)
		if _, err := io.ReadFull(zr, b.raw[:b.n*(rowLen+1)]); err != nil {
			rerr = pngCorrupt("image data: %v", err)
			free <- b
			break
		}
		full <- b
		y += b.n
	}
	close(full)
	if err := <-done; err != nil && rerr == nil {
		rerr = err
	}
	if rerr != nil {
		return nil, rerr
	}
	// The zlib checksum is verified at the end of the stream.
	var one [1]byte
	if n, err := io.ReadFull(zr, one[:]); n != 0 || (err != io.EOF && err != io.ErrUnexpectedEOF) {
		if n != 0 {
			return nil, pngCorrupt("too much image data")
		}
		if !errors.Is(err, io.EOF) {
			return nil, pngCorrupt("image data: %v", err)
		}
	}
	if alpha && opaque {
		out = dropAlpha(out)
	}
	return out, nil
}

func hasAlpha(lut *[256][2]uint8) bool {
	for _, e := range lut {
		if e[1] != 0xff {
			return true
		}
	}
	return false
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
		copy(cur[:bpp], raw[:bpp])
		for i := bpp; i < n; i++ {
			cur[i] = raw[i] + cur[i-bpp]
		}
	case 2:
		for i := range cur {
			cur[i] = raw[i] + prev[i]
		}
	case 3:
		for i := 0; i < bpp; i++ {
			cur[i] = raw[i] + prev[i]/2
		}
		for i := bpp; i < n; i++ {
			cur[i] = raw[i] + uint8((uint16(cur[i-bpp])+uint16(prev[i]))/2)
		}
	case 4:
		for i := 0; i < bpp; i++ {
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

// lumaRow converts one unfiltered row; it reports whether every pixel was
// opaque.
func lumaRow(dst, src []byte, ctype byte, lut *[256][2]uint8) bool {
	op := true
	switch ctype {
	case 0:
		copy(dst, src)
	case 2:
		for x := range dst {
			s := src[3*x : 3*x+3 : 3*x+3]
			dst[x] = luma8(s[0], s[1], s[2])
		}
	case 3:
		if len(dst) == len(src) { // no alpha in the palette
			for x, i := range src {
				dst[x] = lut[i][0]
			}
			break
		}
		for x, i := range src {
			dst[2*x], dst[2*x+1] = lut[i][0], lut[i][1]
			op = op && lut[i][1] == 0xff
		}
	case 4:
		copy(dst, src)
		for x := 1; x < len(src); x += 2 {
			op = op && src[x] == 0xff
		}
	case 6:
		a := byte(0xff)
		for x := 0; x < len(dst)/2; x++ {
			s := src[4*x : 4*x+4 : 4*x+4]
			dst[2*x], dst[2*x+1] = luma8(s[0], s[1], s[2]), s[3]
			a &= s[3]
		}
		op = a == 0xff
	}
	return op
}

// dropAlpha returns the luma of a gray+alpha raster whose alpha is all
// opaque.
func dropAlpha(r *raster) *raster {
	d := newRaster(r.W, r.H, false, r.Deep)
	parallel(r.H, minRows, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			s, o := r.row(y), d.row(y)
			for x := range o {
				o[x] = s[2*x]
			}
		}
	})
	return d
}
