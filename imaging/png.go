package imaging

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/adler32"
	"hash/crc32"
	"io"
)

// A PNG writer for gray and gray+alpha rasters (color types 0 and 4, 8 or
// 16 bits). The standard library's encoder has no gray+alpha type, and this
// one filters and deflates bands of rows on all cores: each band is a run
// of deflate blocks ending in a sync flush, so the bands concatenate into
// one valid zlib stream (as pigz does). Only IHDR, IDAT and IEND are
// written: no metadata.

// pngLevel trades size for speed; level 2 is close to the default level's
// size on photos at a fraction of its time (see BenchmarkEncodePNG).
const pngLevel = 2

// pngBand is the least amount of raw data worth a separate deflate band.
const pngBand = 256 << 10

func encodePNG(r *raster) ([]byte, error) {
	rowLen := r.W * r.bpp()
	rows := r.H
	bands := max(1, min(8, rows*(rowLen+1)/pngBand))
	type band struct {
		raw  []byte // filtered rows, for the Adler-32
		comp bytes.Buffer
		err  error
	}
	bs := make([]band, bands)
	parallel(bands, 1, func(b0, b1 int) {
		for bi := b0; bi < b1; bi++ {
			b := &bs[bi]
			y0, y1 := rows*bi/bands, rows*(bi+1)/bands
			b.raw = make([]byte, 0, (y1-y0)*(rowLen+1))
			for y := y0; y < y1; y++ {
				var prev []byte
				if y > 0 {
					prev = r.row(y - 1)
				}
				b.raw = filterRow(b.raw, r.row(y), prev, r.bpp())
			}
			zw, err := flate.NewWriter(&b.comp, pngLevel)
			if err != nil {
				b.err = err
				return
			}
			if _, err := zw.Write(b.raw); err != nil {
				b.err = err
				return
			}
			if bi == bands-1 {
				b.err = zw.Close()
			} else {
				b.err = zw.Flush()
			}
		}
	})
	z := adler32.New()
	size := 0
	for i := range bs {
		if bs[i].err != nil {
			return nil, bs[i].err
		}
		z.Write(bs[i].raw)
		size += bs[i].comp.Len()
	}
	var out bytes.Buffer
	out.Grow(size + 128)
	out.WriteString("\x89PNG\r\n\x1a\n")
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(r.W))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(r.H))
	ihdr[8] = 8
	if r.Deep {
		ihdr[8] = 16
	}
	if r.Alpha {
		ihdr[9] = 4
	}
	writeChunk(&out, "IHDR", ihdr[:])
	// The zlib stream: header, the bands, Adler-32; cut into IDAT chunks.
	stream := make([]byte, 0, size+6)
	stream = append(stream, 0x78, 0x9c)
	for i := range bs {
		stream = append(stream, bs[i].comp.Bytes()...)
	}
	stream = binary.BigEndian.AppendUint32(stream, z.Sum32())
	for len(stream) > 0 {
		n := min(len(stream), 1<<20)
		writeChunk(&out, "IDAT", stream[:n])
		stream = stream[n:]
	}
	writeChunk(&out, "IEND", nil)
	return out.Bytes(), nil
}

func writeChunk(w io.Writer, typ string, data []byte) {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(data)))
	copy(hdr[4:], typ)
	c := crc32.NewIEEE()
	c.Write(hdr[4:])
	c.Write(data)
	w.Write(hdr[:])
	w.Write(data)
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], c.Sum32())
	w.Write(sum[:])
}

// filterRow appends the filter type byte and the filtered row, choosing
// the filter with the least sum of absolute values (the PNG specification's
// suggested heuristic). prev is nil for the first row.
func filterRow(dst, cur, prev []byte, bpp int) []byte {
	n := len(cur)
	start := len(dst)
	if prev == nil {
		// Only None and Sub are meaningful; Sub is better on photos.
		dst = append(dst, 1)
		dst = append(dst, cur[:bpp]...)
		for i := bpp; i < n; i++ {
			dst = append(dst, cur[i]-cur[i-bpp])
		}
		return dst
	}
	dst = append(dst, make([]byte, 1+n)...)
	out := dst[start+1:]
	var tmp [5][]byte
	best, bestSum := 0, -1
	for f := 0; f < 5; f++ {
		buf := out
		if f > 0 {
			buf = make([]byte, n)
		}
		sum := 0
		for i := 0; i < n; i++ {
			var a, c uint8
			if i >= bpp {
				a, c = cur[i-bpp], prev[i-bpp]
			}
			b := prev[i]
			var v uint8
			switch f {
			case 0:
				v = cur[i]
			case 1:
				v = cur[i] - a
			case 2:
				v = cur[i] - b
			case 3:
				v = cur[i] - uint8((uint16(a)+uint16(b))/2)
			case 4:
				v = cur[i] - paeth(a, b, c)
			}
			buf[i] = v
			sum += int(int8(v) ^ int8(v)>>7)
			if bestSum >= 0 && sum >= bestSum {
				break
			}
		}
		if bestSum < 0 || sum < bestSum {
			best, bestSum = f, sum
		}
		tmp[f] = buf
	}
	dst[start] = byte(best)
	if best != 0 {
		copy(out, tmp[best])
	}
	return dst
}

func paeth(a, b, c uint8) uint8 {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
