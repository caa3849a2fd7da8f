package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"io"
	"math/bits"

	"github.com/klauspost/compress/zlib"
	"golang.org/x/image/ccitt"
	"golang.org/x/image/tiff/lzw"
)

// The TIFF decoder: the first image of a classic (32-bit offset) TIFF, in
// strips or tiles, chunky or planar, fill order 1 or 2, uncompressed, LZW,
// Deflate, PackBits or CCITT G3/G4, horizontal predictor; bilevel, gray
// and palette of 1 to 16 bits, RGB and CMYK of 8 or 16 bits, with an
// alpha extra sample or not. Each band of rows (a strip, or a row of
// tiles) is decompressed as a stream, one row at a time, straight into the
// gray raster. Anything else is refused as unsupported_format, never
// guessed at.

const (
	tiffImageWidth      = 256
	tiffImageLength     = 257
	tiffBitsPerSample   = 258
	tiffCompression     = 259
	tiffPhotometric     = 262
	tiffFillOrder       = 266
	tiffStripOffsets    = 273
	tiffSamplesPerPixel = 277
	tiffRowsPerStrip    = 278
	tiffStripByteCounts = 279
	tiffT4Options       = 292
	tiffPlanarConfig    = 284
	tiffPredictor       = 317
	tiffColorMap        = 320
	tiffTileWidth       = 322
	tiffTileLength      = 323
	tiffTileOffsets     = 324
	tiffTileByteCounts  = 325
	tiffInkSet          = 332
	tiffExtraSamples    = 338
	tiffSampleFormat    = 339
)

func tiffUnsupported(format string, args ...any) error {
	return newError(ErrUnsupportedFormat, fmt.Errorf("tiff: "+format, args...))
}

func tiffCorrupt(format string, args ...any) error {
	return newError(ErrCorrupt, fmt.Errorf("tiff: "+format, args...))
}

type tiffEntry struct {
	typ   uint16
	count uint32
	val   []byte // the value field, or the bytes it points at
}

// tiffIFD is the first IFD of a TIFF file.
type tiffIFD struct {
	bo   binary.ByteOrder
	data []byte
	tags map[uint16]tiffEntry
}

var tiffTypeSize = map[uint16]int{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}

func readIFD(b []byte) (*tiffIFD, error) {
	if len(b) < 8 {
		return nil, tiffCorrupt("short header")
	}
	d := &tiffIFD{data: b, tags: map[uint16]tiffEntry{}}
	switch string(b[:4]) {
	case "II*\x00":
		d.bo = binary.LittleEndian
	case "MM\x00*":
		d.bo = binary.BigEndian
	default:
		return nil, tiffCorrupt("bad header")
	}
	off := int64(d.bo.Uint32(b[4:]))
	if off < 8 || off+2 > int64(len(b)) {
		return nil, tiffCorrupt("IFD offset %d out of the file", off)
	}
	n := int64(d.bo.Uint16(b[off:]))
	if off+2+12*n > int64(len(b)) {
		return nil, tiffCorrupt("IFD runs past the end of the file")
	}
	for i := int64(0); i < n; i++ {
		e := b[off+2+12*i:]
		tag, typ, count := d.bo.Uint16(e), d.bo.Uint16(e[2:]), d.bo.Uint32(e[4:])
		size, ok := tiffTypeSize[typ]
		if !ok {
			continue // unknown types are skipped, as libtiff does
		}
		total := int64(size) * int64(count)
		val := e[8:12]
		if total > 4 {
			p := int64(d.bo.Uint32(e[8:]))
			if p < 0 || p+total > int64(len(b)) {
				if tag == tagICCProfile || tag == tagOrientation {
					continue // metadata only: ignore
				}
				return nil, tiffCorrupt("tag %d: value out of the file", tag)
			}
			val = b[p : p+total]
		} else {
			val = val[:total]
		}
		d.tags[tag] = tiffEntry{typ, count, val}
	}
	return d, nil
}

// bytes returns the raw value of an entry.
func (d *tiffIFD) bytes(e tiffEntry) ([]byte, error) { return e.val, nil }

// uints returns a tag of type BYTE, SHORT or LONG as integers, or nil when
// the tag is absent.
func (d *tiffIFD) uints(tag uint16) ([]uint64, error) {
	e, ok := d.tags[tag]
	if !ok {
		return nil, nil
	}
	v := make([]uint64, e.count)
	for i := range v {
		switch e.typ {
		case 1, 7:
			v[i] = uint64(e.val[i])
		case 3:
			v[i] = uint64(d.bo.Uint16(e.val[2*i:]))
		case 4, 13:
			v[i] = uint64(d.bo.Uint32(e.val[4*i:]))
		default:
			return nil, tiffCorrupt("tag %d has type %d", tag, e.typ)
		}
	}
	return v, nil
}

// uint returns the first value of a tag, or def when it is absent.
func (d *tiffIFD) uint(tag uint16, def uint64) (uint64, error) {
	v, err := d.uints(tag)
	if err != nil || len(v) == 0 {
		return def, err
	}
	return v[0], nil
}

// tiffDec is the layout of the image and the state of one decode.
type tiffDec struct {
	ifd         *tiffIFD
	w, h        int
	bps         int // bits per sample, the same for every sample
	spp         int // samples per pixel, extras included
	color       int // color samples: 1 (gray, palette), 3 (RGB), 4 (CMYK)
	photometric uint64
	compression uint64
	predictor   uint64
	planar      bool
	reverse     bool // FillOrder 2: bits of each byte are stored reversed
	alpha       int  // 0 none, 1 associated (premultiplied), 2 unassociated
	t4opts      uint64
	// blocks: strips (width w) or tiles
	bw, bh  int
	across  int
	down    int
	offsets []uint64
	counts  []uint64
	lut8    [256]uint8 // palette luma for bit depths up to 8
	ct      *colorTransform
	out     *grayWriter
	deep    bool
}

func (t *tiffDec) parse(cm *colorInfo) error {
	d := t.ifd
	get := func(tag uint16, def uint64) uint64 {
		v, err := d.uint(tag, def)
		if err != nil {
			return def
		}
		return v
	}
	w, h := get(tiffImageWidth, 0), get(tiffImageLength, 0)
	if w == 0 || h == 0 || w > 1<<30 || h > 1<<30 {
		return tiffCorrupt("size %dx%d", w, h)
	}
	t.w, t.h = int(w), int(h)
	t.spp = int(get(tiffSamplesPerPixel, 1))
	if t.spp < 1 || t.spp > 8 {
		return tiffUnsupported("%d samples per pixel", t.spp)
	}
	bps, err := d.uints(tiffBitsPerSample)
	if err != nil {
		return err
	}
	if len(bps) == 0 {
		bps = []uint64{1}
	}
	t.bps = int(bps[0])
	for _, b := range bps {
		if int(b) != t.bps {
			return tiffUnsupported("samples of different sizes %v", bps)
		}
	}
	if t.bps < 1 || t.bps > 16 {
		return tiffUnsupported("%d bits per sample", t.bps)
	}
	if f := get(tiffSampleFormat, 1); f != 1 {
		return tiffUnsupported("sample format %d (only unsigned integers)", f)
	}
	t.compression = get(tiffCompression, 1)
	t.predictor = get(tiffPredictor, 1)
	t.planar = get(tiffPlanarConfig, 1) == 2 && t.spp > 1
	t.reverse = get(tiffFillOrder, 1) == 2
	t.t4opts = get(tiffT4Options, 0)
	if _, ok := d.tags[tiffPhotometric]; !ok {
		return tiffCorrupt("no PhotometricInterpretation")
	}
	t.photometric = get(tiffPhotometric, 0)
	switch t.photometric {
	case 0, 1: // WhiteIsZero, BlackIsZero
		t.color = 1
	case 2:
		t.color = 3
		if t.bps != 8 && t.bps != 16 {
			return tiffUnsupported("RGB with %d bits per sample", t.bps)
		}
	case 3:
		t.color = 1
		if t.bps > 8 {
			return tiffUnsupported("palette with %d bits per sample", t.bps)
		}
	case 5:
		if ink := get(tiffInkSet, 1); ink != 1 {
			return tiffUnsupported("separated image with ink set %d (only CMYK)", ink)
		}
		t.color = 4
		if t.bps != 8 && t.bps != 16 {
			return tiffUnsupported("CMYK with %d bits per sample", t.bps)
		}
	case 6:
		return tiffUnsupported("YCbCr photometric interpretation")
	default:
		return tiffUnsupported("photometric interpretation %d", t.photometric)
	}
	if t.spp < t.color {
		return tiffCorrupt("%d samples per pixel for photometric interpretation %d", t.spp, t.photometric)
	}
	if t.spp > t.color {
		extra, _ := d.uints(tiffExtraSamples)
		if len(extra) > 0 && (extra[0] == 1 || extra[0] == 2) {
			t.alpha = int(extra[0])
		}
	}
	switch t.compression {
	case 1, 5, 8, 32946, 32773:
	case 3, 4:
		if t.bps != 1 || t.spp != 1 {
			return tiffUnsupported("CCITT compression of %d-bit, %d-sample pixels", t.bps, t.spp)
		}
		if t.compression == 3 && t.t4opts&1 != 0 {
			return tiffUnsupported("CCITT G3 with 2D coding")
		}
	case 6, 7:
		return tiffUnsupported("JPEG-compressed TIFF")
	default:
		return tiffUnsupported("compression %d", t.compression)
	}
	switch t.predictor {
	case 1:
	case 2:
		if t.bps != 8 && t.bps != 16 {
			return tiffUnsupported("horizontal predictor with %d bits per sample", t.bps)
		}
	default:
		return tiffUnsupported("predictor %d", t.predictor)
	}
	if err := t.layout(); err != nil {
		return err
	}
	if t.photometric == 3 {
		cmap, err := d.uints(tiffColorMap)
		if err != nil {
			return err
		}
		n := 1 << t.bps
		if len(cmap) < 3*n {
			return tiffCorrupt("color map of %d entries for %d-bit samples", len(cmap), t.bps)
		}
		for i := 0; i < n; i++ {
			r, g, b := uint8(cmap[i]>>8), uint8(cmap[n+i]>>8), uint8(cmap[2*n+i]>>8)
			if cm.t != nil && !cm.t.gray {
				t.lut8[i] = cm.t.luma8(r, g, b)
			} else {
				t.lut8[i] = luma8(r, g, b)
			}
		}
	}
	gray := t.color == 1 && t.photometric != 3
	if cm.t != nil && (cm.t.gray != gray || t.color == 4) {
		if t.photometric != 3 || cm.t.gray {
			cm.warning = fmt.Sprintf("icc_ignored: profile %q does not fit the TIFF's photometric interpretation %d; gray is computed from the stored numbers", cm.t.name, t.photometric)
		}
		cm.t = nil
	}
	if t.color == 4 && cm.profile != "" && cm.warning == "" {
		cm.warning = fmt.Sprintf("icc_not_applied: CMYK profile %q: gray is computed from the stored numbers", cm.profile)
	}
	t.ct = cm.t
	t.deep = t.bps > 8
	return nil
}

// layout reads the strip or tile geometry.
func (t *tiffDec) layout() error {
	d := t.ifd
	var err error
	if _, tiled := d.tags[tiffTileWidth]; tiled {
		tw, _ := d.uint(tiffTileWidth, 0)
		th, _ := d.uint(tiffTileLength, 0)
		if tw < 1 || th < 1 || tw > 1<<16 || th > 1<<16 {
			return tiffCorrupt("tile size %dx%d", tw, th)
		}
		t.bw, t.bh = int(tw), int(th)
		if t.bw*t.bps*t.sppInBlock()%8 != 0 {
			return tiffUnsupported("tile rows that are not whole bytes")
		}
		t.across = (t.w + t.bw - 1) / t.bw
		t.down = (t.h + t.bh - 1) / t.bh
		if t.compression == 3 || t.compression == 4 {
			return tiffUnsupported("tiled CCITT")
		}
		if t.across*t.planes() > 1024 {
			return tiffUnsupported("%d tiles across", t.across*t.planes())
		}
		t.offsets, err = d.uints(tiffTileOffsets)
		if err == nil {
			t.counts, err = d.uints(tiffTileByteCounts)
		}
	} else {
		rps, _ := d.uint(tiffRowsPerStrip, uint64(t.h))
		t.bw, t.bh = t.w, int(min(max(rps, 1), uint64(t.h)))
		t.across, t.down = 1, (t.h+t.bh-1)/t.bh
		t.offsets, err = d.uints(tiffStripOffsets)
		if err == nil {
			t.counts, err = d.uints(tiffStripByteCounts)
		}
		if err == nil && t.counts == nil && len(t.offsets) == 1 && t.compression == 1 {
			// One uncompressed strip without a count: the rest of the file.
			t.counts = []uint64{uint64(len(d.data)) - min(t.offsets[0], uint64(len(d.data)))}
		}
	}
	if err != nil {
		return err
	}
	n := t.across * t.down * t.planes()
	// Each block costs a decompressor: a layout of a few pixels per block
	// is refused from the header rather than ground through.
	if int64(n) > max(4096, int64(t.w)*int64(t.h)/64) {
		return tiffUnsupported("%d strips or tiles for %dx%d pixels", n, t.w, t.h)
	}
	if len(t.offsets) < n || len(t.counts) < n {
		return tiffCorrupt("%d blocks, %d offsets and %d byte counts", n, len(t.offsets), len(t.counts))
	}
	return nil
}

func (t *tiffDec) planes() int {
	if t.planar {
		return t.spp
	}
	return 1
}

func (t *tiffDec) sppInBlock() int {
	if t.planar {
		return 1
	}
	return t.spp
}

// blockRowBytes is the length of one row of a block.
func (t *tiffDec) blockRowBytes() int { return (t.bw*t.sppInBlock()*t.bps + 7) / 8 }

// open returns the decompressed stream of block i.
func (t *tiffDec) open(i int, rows int) (io.Reader, error) {
	data := t.ifd.data
	off, n := t.offsets[i], t.counts[i]
	if off > uint64(len(data)) {
		return nil, tiffCorrupt("block %d at %d, past the end of the file", i, off)
	}
	raw := data[off:min(off+n, uint64(len(data)))]
	if t.reverse && t.compression != 3 && t.compression != 4 {
		rev := make([]byte, len(raw)) // CCITT reads either order itself
		for k, v := range raw {
			rev[k] = bits.Reverse8(v)
		}
		raw = rev
	}
	src := bytes.NewReader(raw)
	switch t.compression {
	case 1:
		return src, nil
	case 5:
		return lzw.NewReader(src, lzw.MSB, 8), nil
	case 8, 32946:
		zr, err := zlib.NewReader(src)
		if err != nil {
			return nil, tiffCorrupt("block %d: %v", i, err)
		}
		return zr, nil
	case 32773:
		return &packBitsReader{src: raw}, nil
	case 3, 4:
		order := ccitt.MSB
		if t.reverse {
			order = ccitt.LSB
		}
		sub := ccitt.Group3
		if t.compression == 4 {
			sub = ccitt.Group4
		}
		// Black runs come out as 1 bits whatever the photometric
		// interpretation, as libtiff has them; the interpretation applies
		// after.
		return ccitt.NewReader(src, order, sub, t.bw, rows, &ccitt.Options{Invert: true}), nil
	}
	return nil, tiffUnsupported("compression %d", t.compression)
}

// tiffConfig reads the first IFD and refuses what decodeTIFF cannot do.
func tiffConfig(data []byte) (image.Config, error) {
	ifd, err := readIFD(data)
	if err != nil {
		return image.Config{}, err
	}
	t := &tiffDec{ifd: ifd}
	if err := t.parse(&colorInfo{}); err != nil {
		return image.Config{}, err
	}
	return image.Config{ColorModel: color.GrayModel, Width: t.w, Height: t.h}, nil
}

// decodeTIFF returns the gray raster of the first image of a TIFF.
func decodeTIFF(ctx context.Context, data []byte, cm *colorInfo) (*raster, error) {
	ifd, err := readIFD(data)
	if err != nil {
		return nil, err
	}
	t := &tiffDec{ifd: ifd}
	if err := t.parse(cm); err != nil {
		return nil, err
	}
	t.out = newGrayWriter(t.w, t.h, t.deep)
	planes := t.planes()
	rb := t.blockRowBytes()
	// One row of each plane, chunky order within a plane.
	planeRows := make([][]byte, planes)
	for p := range planeRows {
		planeRows[p] = make([]byte, t.across*rb)
	}
	var chunky []byte
	if t.planar {
		chunky = make([]byte, (t.w*t.spp*t.bps+7)/8)
	}
	readers := make([]io.Reader, planes*t.across)
	for band := 0; band < t.down; band++ {
		y0 := band * t.bh
		rows := min(t.bh, t.h-y0)
		blockRows := rows // CCITT needs the rows of the block
		if t.isTiled() {
			blockRows = t.bh
		}
		for p := 0; p < planes; p++ {
			for i := 0; i < t.across; i++ {
				idx := p*t.across*t.down + band*t.across + i
				r, err := t.open(idx, blockRows)
				if err != nil {
					return nil, err
				}
				readers[p*t.across+i] = r
			}
		}
		for y := y0; y < y0+rows; y++ {
			if (y-y0)%checkEvery == 0 {
				if err := canceled(ctx, "tiff"); err != nil {
					return nil, err
				}
			}
			for p := 0; p < planes; p++ {
				row := planeRows[p]
				for i := 0; i < t.across; i++ {
					seg := row[i*rb : (i+1)*rb]
					if _, err := io.ReadFull(readers[p*t.across+i], seg); err != nil {
						return nil, tiffCorrupt("row %d: %v", y, err)
					}
					if t.predictor == 2 {
						t.undoPredictor(seg)
					}
				}
			}
			src := planeRows[0]
			if t.planar {
				t.interleave(chunky, planeRows)
				src = chunky
			}
			t.convert(y, src)
		}
		for _, r := range readers {
			if c, ok := r.(io.Closer); ok {
				c.Close()
			}
		}
	}
	return t.out.r, nil
}

func (t *tiffDec) isTiled() bool { _, ok := t.ifd.tags[tiffTileWidth]; return ok }

// undoPredictor reverses horizontal differencing in one block row.
func (t *tiffDec) undoPredictor(seg []byte) {
	n := t.sppInBlock()
	if t.bps == 8 {
		for i := n; i < len(seg); i++ {
			seg[i] += seg[i-n]
		}
		return
	}
	bo := t.ifd.bo
	for i := 2 * n; i+1 < len(seg); i += 2 {
		bo.PutUint16(seg[i:], bo.Uint16(seg[i:])+bo.Uint16(seg[i-2*n:]))
	}
}

// interleave makes a chunky row out of one row of each plane.
func (t *tiffDec) interleave(dst []byte, planes [][]byte) {
	switch t.bps {
	case 8:
		for p, src := range planes {
			for x := 0; x < t.w; x++ {
				dst[x*t.spp+p] = src[x]
			}
		}
	case 16:
		for p, src := range planes {
			for x := 0; x < t.w; x++ {
				dst[2*(x*t.spp+p)], dst[2*(x*t.spp+p)+1] = src[2*x], src[2*x+1]
			}
		}
	default:
		clear(dst)
		for p, src := range planes {
			for x := 0; x < t.w; x++ {
				putBits(dst, (x*t.spp+p)*t.bps, t.bps, getBits(src, x*t.bps, t.bps))
			}
		}
	}
}

func getBits(b []byte, at, n int) uint32 {
	var v uint32
	for k := 0; k < n; k++ {
		bit := at + k
		v = v<<1 | uint32(b[bit>>3]>>(7-bit&7)&1)
	}
	return v
}

func putBits(b []byte, at, n int, v uint32) {
	for k := n - 1; k >= 0; k-- {
		bit := at + k
		b[bit>>3] |= byte(v&1) << (7 - bit&7)
		v >>= 1
	}
}

// sample returns sample s of pixel x of a chunky row, scaled to 8 bits
// (bps <= 8) or 16 bits.
func (t *tiffDec) sample(row []byte, x, s int) uint32 {
	i := x*t.spp + s
	switch t.bps {
	case 8:
		return uint32(row[i])
	case 16:
		return uint32(t.ifd.bo.Uint16(row[2*i:]))
	}
	v := getBits(row, i*t.bps, t.bps)
	if t.bps < 8 {
		if t.photometric == 3 {
			return v
		}
		return v * 255 / (1<<t.bps - 1)
	}
	return (v*65535 + (1<<t.bps-1)/2) / (1<<t.bps - 1)
}

// convert writes the luma (and alpha) of one chunky row.
func (t *tiffDec) convert(y int, row []byte) {
	out := t.out
	maxv := uint32(255)
	if t.deep {
		maxv = 65535
	}
	if t.alpha == 0 && t.bps == 8 && !t.deep {
		d := out.r.row(y)
		switch {
		case t.photometric == 2 && t.ct == nil:
			for x := range d {
				s := row[x*t.spp : x*t.spp+3 : x*t.spp+3]
				d[x] = luma8(s[0], s[1], s[2])
			}
			return
		case t.photometric == 1 && t.ct == nil && t.spp == 1:
			copy(d, row[:t.w])
			return
		}
	}
	p := out.pairs(t.w)
	for x := 0; x < t.w; x++ {
		var l uint32
		switch t.photometric {
		case 0, 1:
			l = t.sample(row, x, 0)
			if t.photometric == 0 {
				l = maxv - l
			}
			if t.ct != nil {
				if t.deep {
					l = uint32(t.ct.luma16(uint16(l), 0, 0))
				} else {
					l = uint32(t.ct.gray8lut[l])
				}
			}
		case 3:
			l = uint32(t.lut8[t.sample(row, x, 0)])
		case 2:
			r, g, b := t.sample(row, x, 0), t.sample(row, x, 1), t.sample(row, x, 2)
			switch {
			case t.ct != nil && t.deep:
				l = uint32(t.ct.luma16(uint16(r), uint16(g), uint16(b)))
			case t.ct != nil:
				l = uint32(t.ct.luma8(uint8(r), uint8(g), uint8(b)))
			case t.deep:
				l = uint32(luma16(uint16(r), uint16(g), uint16(b)))
			default:
				l = uint32(luma8(uint8(r), uint8(g), uint8(b)))
			}
		case 5:
			// Pillow's CMYK to RGB: (max-C)(max-K)/max per channel.
			c, m, yy, k := t.sample(row, x, 0), t.sample(row, x, 1), t.sample(row, x, 2), t.sample(row, x, 3)
			nk := maxv - k
			r, g, b := mulDiv(maxv-c, nk, maxv), mulDiv(maxv-m, nk, maxv), mulDiv(maxv-yy, nk, maxv)
			if t.deep {
				l = uint32(luma16(uint16(r), uint16(g), uint16(b)))
			} else {
				l = uint32(luma8(uint8(r), uint8(g), uint8(b)))
			}
		}
		a := maxv
		if t.alpha != 0 {
			a = t.sample(row, x, t.color)
			if t.alpha == 1 && a != 0 && a != maxv {
				l = min(maxv, (l*maxv+a/2)/a)
			}
		}
		if t.deep {
			p[4*x], p[4*x+1], p[4*x+2], p[4*x+3] = uint8(l>>8), uint8(l), uint8(a>>8), uint8(a)
		} else {
			p[2*x], p[2*x+1] = uint8(l), uint8(a)
		}
	}
	out.putPairs(y, 0, 1, p)
}

// mulDiv is a*b/m rounded.
func mulDiv(a, b, m uint32) uint32 { return (a*b + m/2) / m }

// packBitsReader decodes PackBits (Apple's byte-oriented run length).
type packBitsReader struct {
	src []byte
	run int  // bytes left in the current run
	lit bool // the run is literal bytes (else one byte repeated)
	rep byte
}

func (r *packBitsReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.run == 0 {
			if len(r.src) == 0 {
				if n > 0 {
					return n, nil
				}
				return 0, io.EOF
			}
			h := int8(r.src[0])
			r.src = r.src[1:]
			switch {
			case h >= 0:
				r.run, r.lit = int(h)+1, true
			case h != -128:
				if len(r.src) == 0 {
					return n, io.ErrUnexpectedEOF
				}
				r.run, r.lit, r.rep = 1-int(h), false, r.src[0]
				r.src = r.src[1:]
			}
			continue
		}
		k := min(r.run, len(p)-n)
		if r.lit {
			if len(r.src) < k {
				return n, io.ErrUnexpectedEOF
			}
			copy(p[n:], r.src[:k])
			r.src = r.src[k:]
		} else {
			for i := 0; i < k; i++ {
				p[n+i] = r.rep
			}
		}
		n += k
		r.run -= k
	}
	return n, nil
}
