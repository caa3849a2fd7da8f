package imaging

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
)

// A baseline JPEG writer for 8-bit gray rasters, written for speed: an
// AAN floating-point forward DCT and a 64-bit bit writer, with one restart
// interval per row of blocks so that bands of rows are entropy-coded on all
// cores and simply concatenated. The tables are the standard ones of ITU-T
// T.81 Annex K, the quantization scaled by quality as the IJG library does.
// Only SOI, DQT, SOF0, DHT, DRI, SOS and EOI are written: no metadata.

// zigzag[i] is the natural (row-major) index of the i-th coefficient in
// zig-zag order.
var zigzag = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

// Annex K.1 luminance quantization table, natural order.
var stdLumaQuant = [64]int{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}

// Annex K.3 luminance Huffman tables: code counts per length 1..16, values.
var (
	dcLumaBits = [16]uint8{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}
	dcLumaVals = []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	acLumaBits = [16]uint8{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d}
	acLumaVals = []uint8{
		0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
		0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
		0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
		0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
		0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
		0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
		0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
		0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
		0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
		0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
		0xf9, 0xfa,
	}
)

// huffCode is a code (right-aligned) and its length, indexed by symbol.
type huffCode [256]struct {
	code uint32
	n    uint8
}

func buildHuffCode(counts [16]uint8, vals []uint8) *huffCode {
	var h huffCode
	code, k := uint32(0), 0
	for l := 1; l <= 16; l++ {
		for i := 0; i < int(counts[l-1]); i++ {
			h[vals[k]].code, h[vals[k]].n = code, uint8(l)
			code++
			k++
		}
		code <<= 1
	}
	return &h
}

var (
	dcLumaCode = buildHuffCode(dcLumaBits, dcLumaVals)
	acLumaCode = buildHuffCode(acLumaBits, acLumaVals)
	// aanScale[k] is the AAN DCT's output scale of frequency k.
	aanScale = func() (s [8]float64) {
		s[0] = 1
		for k := 1; k < 8; k++ {
			s[k] = math.Cos(float64(k)*math.Pi/16) * math.Sqrt2
		}
		return s
	}()
)

// quantTable returns the IJG-scaled luminance table for quality q (1..100),
// natural order, each entry in 1..255 (baseline).
func quantTable(q int) [64]int {
	q = max(1, min(100, q))
	scale := 200 - 2*q
	if q < 50 {
		scale = 5000 / q
	}
	var t [64]int
	for i, v := range stdLumaQuant {
		t[i] = max(1, min(255, (v*scale+50)/100))
	}
	return t
}

// bitWriter packs codes MSB-first into a byte slice, stuffing a zero after
// every 0xFF byte.
type bitWriter struct {
	out  []byte
	acc  uint64 // pending bits, right-aligned
	nacc uint   // number of pending bits
}

func (w *bitWriter) emit(code uint32, n uint8) {
	w.acc = w.acc<<n | uint64(code)
	w.nacc += uint(n)
	if w.nacc >= 32 {
		w.nacc -= 32
		v := uint32(w.acc >> w.nacc)
		// Fast path: no 0xFF byte among the four.
		if !hasFF(v) {
			w.out = binary.BigEndian.AppendUint32(w.out, v)
		} else {
			for s := 24; s >= 0; s -= 8 {
				b := byte(v >> s)
				w.out = append(w.out, b)
				if b == 0xff {
					w.out = append(w.out, 0)
				}
			}
		}
	}
}

// hasFF reports whether a byte of v is 0xFF (a zero byte of ^v).
func hasFF(v uint32) bool {
	return (^v-0x01010101)&v&0x80808080 != 0
}

// flush pads with one bits to a byte boundary.
func (w *bitWriter) flush() {
	for w.nacc >= 8 {
		w.nacc -= 8
		b := byte(w.acc >> w.nacc)
		w.out = append(w.out, b)
		if b == 0xff {
			w.out = append(w.out, 0)
		}
	}
	if w.nacc > 0 {
		pad := 8 - w.nacc
		b := byte(w.acc<<pad) | byte(1<<pad-1)
		w.out = append(w.out, b)
		if b == 0xff {
			w.out = append(w.out, 0)
		}
	}
	w.acc, w.nacc = 0, 0
}

// fdct8 is the AAN forward DCT of one 8-point vector (stride s), in place,
// outputs scaled by aanScale (removed in quantization).
func fdct8(d []float32, o, s int) {
	d0, d1, d2, d3 := d[o], d[o+s], d[o+2*s], d[o+3*s]
	d4, d5, d6, d7 := d[o+4*s], d[o+5*s], d[o+6*s], d[o+7*s]
	t0, t7 := d0+d7, d0-d7
	t1, t6 := d1+d6, d1-d6
	t2, t5 := d2+d5, d2-d5
	t3, t4 := d3+d4, d3-d4
	// Even part.
	t10, t13 := t0+t3, t0-t3
	t11, t12 := t1+t2, t1-t2
	d[o] = t10 + t11
	d[o+4*s] = t10 - t11
	z1 := (t12 + t13) * 0.707106781
	d[o+2*s] = t13 + z1
	d[o+6*s] = t13 - z1
	// Odd part.
	t10 = t4 + t5
	t11 = t5 + t6
	t12 = t6 + t7
	z5 := (t10 - t12) * 0.382683433
	z2 := 0.541196100*t10 + z5
	z4 := 1.306562965*t12 + z5
	z3 := t11 * 0.707106781
	z11, z13 := t7+z3, t7-z3
	d[o+5*s] = z13 + z2
	d[o+3*s] = z13 - z2
	d[o+s] = z11 + z4
	d[o+7*s] = z11 - z4
}

// jpegEncoder holds the per-quality tables.
type jpegEncoder struct {
	quant [64]int
	recip [64]float32 // natural order: 1 / (quant * aanScale[u] * aanScale[v] * 8)
}

func newJPEGEncoder(quality int) *jpegEncoder {
	e := &jpegEncoder{quant: quantTable(quality)}
	for u := 0; u < 8; u++ {
		for v := 0; v < 8; v++ {
			e.recip[u*8+v] = float32(1 / (float64(e.quant[u*8+v]) * aanScale[u] * aanScale[v] * 8))
		}
	}
	return e
}

// encodeRow entropy-codes one row of blocks (8 pixel rows starting at y0,
// edges replicated) into w, with the DC predictor starting at 0.
func (e *jpegEncoder) encodeRow(w *bitWriter, r *raster, y0 int) {
	var blk [64]float32
	var q [64]int32
	pred := int32(0)
	for x0 := 0; x0 < r.W; x0 += 8 {
		for y := 0; y < 8; y++ {
			row := r.row(min(y0+y, r.H-1))
			if x0+8 <= r.W {
				s := row[x0 : x0+8 : x0+8]
				b := blk[y*8 : y*8+8 : y*8+8]
				for x := range b {
					b[x] = centered[s[x]]
				}
			} else {
				for x := 0; x < 8; x++ {
					blk[y*8+x] = centered[row[min(x0+x, r.W-1)]]
				}
			}
		}
		for i := 0; i < 8; i++ {
			fdct8(blk[:], i*8, 1)
		}
		for i := 0; i < 8; i++ {
			fdct8(blk[:], i, 8)
		}
		// Quantize (rounding half up: the bias keeps the value positive so
		// the conversion's truncation is a floor) and note the nonzero
		// coefficients in zig-zag order.
		var nz uint64
		for i, z := range zigzag {
			v := int32(blk[z]*e.recip[z]+4096.5) - 4096
			q[i] = v
			nz |= uint64((uint32(v)|uint32(-v))>>31) << i
		}
		// DC.
		diff := q[0] - pred
		pred = q[0]
		n, b := magnitude(diff)
		c := dcLumaCode[n]
		w.emit(c.code<<n|b, c.n+n)
		// AC: walk the nonzero coefficients.
		last := 0
		for m := nz &^ 1; m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m)
			run := i - last - 1
			last = i
			for run >= 16 {
				c := acLumaCode[0xf0]
				w.emit(c.code, c.n)
				run -= 16
			}
			n, b := magnitude(q[i])
			c := acLumaCode[uint8(run)<<4|n]
			w.emit(c.code<<n|b, c.n+n)
		}
		if last != 63 {
			c := acLumaCode[0]
			w.emit(c.code, c.n)
		}
	}
	w.flush()
}

// centered[v] is v - 128 as a float32 (a table is faster than converting).
var centered = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) - 128
	}
	return t
}()

// magnitude returns the JPEG size category of v and its extra bits.
func magnitude(v int32) (uint8, uint32) {
	// Branch-free: signs are unpredictable.
	sign := v >> 31
	a := (v ^ sign) - sign
	v += sign
	var n uint8
	if a < int32(len(bitLen)) {
		n = bitLen[a]
	} else {
		n = uint8(bits.Len32(uint32(a)))
	}
	return n, uint32(v) & (1<<n - 1)
}

// bitLen[a] is the bit length of a, for the common magnitudes.
var bitLen = func() (t [2048]uint8) {
	for i := range t {
		t[i] = uint8(bits.Len32(uint32(i)))
	}
	return t
}()

// encodeGrayJPEG writes r (8-bit gray, no alpha) as a baseline JPEG.
func encodeGrayJPEG(r *raster, quality int) []byte {
	e := newJPEGEncoder(quality)
	rows := (r.H + 7) / 8
	blocksPerRow := (r.W + 7) / 8
	// Bands of block rows, each written with an RST marker after every
	// row but the image's last.
	bands := min(rows, 4*max(1, parallelism()))
	parts := make([][]byte, bands)
	parallel(bands, 1, func(b0, b1 int) {
		for bi := b0; bi < b1; bi++ {
			y0, y1 := rows*bi/bands, rows*(bi+1)/bands
			w := bitWriter{out: make([]byte, 0, (y1-y0)*r.W*8/4)}
			for ry := y0; ry < y1; ry++ {
				e.encodeRow(&w, r, ry*8)
				if ry != rows-1 {
					w.out = append(w.out, 0xff, 0xd0+byte(ry%8))
				}
			}
			parts[bi] = w.out
		}
	})
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	var out bytes.Buffer
	out.Grow(size + 700)
	out.Write([]byte{0xff, 0xd8})
	// DQT: one 8-bit table, id 0, zig-zag order.
	out.Write([]byte{0xff, 0xdb, 0, 67, 0})
	for _, z := range zigzag {
		out.WriteByte(byte(e.quant[z]))
	}
	// SOF0: 8-bit, one component (id 1, 1x1, table 0).
	out.Write([]byte{0xff, 0xc0, 0, 11, 8, byte(r.H >> 8), byte(r.H), byte(r.W >> 8), byte(r.W), 1, 1, 0x11, 0})
	// DHT: DC table 0 and AC table 0.
	writeDHT(&out, 0x00, dcLumaBits, dcLumaVals)
	writeDHT(&out, 0x10, acLumaBits, acLumaVals)
	// DRI: one row of blocks per restart interval.
	out.Write([]byte{0xff, 0xdd, 0, 4, byte(blocksPerRow >> 8), byte(blocksPerRow)})
	// SOS: component 1 with tables 0/0, spectral 0..63.
	out.Write([]byte{0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 63, 0})
	for _, p := range parts {
		out.Write(p)
	}
	out.Write([]byte{0xff, 0xd9})
	return out.Bytes()
}

func writeDHT(out *bytes.Buffer, class byte, counts [16]uint8, vals []uint8) {
	n := 2 + 1 + 16 + len(vals)
	out.Write([]byte{0xff, 0xc4, byte(n >> 8), byte(n), class})
	out.Write(counts[:])
	out.Write(vals)
}
