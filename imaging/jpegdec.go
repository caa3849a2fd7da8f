package imaging

import (
	"errors"
	"fmt"
	"sync"
)

// A JPEG luma decoder for the common case: baseline or extended sequential
// Huffman, 8-bit, one interleaved scan, gray or YCbCr. Only the Y blocks
// are inverse-transformed (the gray output is the Y plane, so chroma is
// entropy-decoded and dropped), and the inverse DCT of each row of MCUs
// runs on other cores while the next row is entropy-decoded. Everything
// else (progressive, arithmetic, 12-bit, RGB, CMYK/YCCK, several scans)
// reports errFallback and goes through image/jpeg.

var errFallback = errors.New("imaging: left to the standard decoder")

// corruptf makes a corrupt-input error.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("jpeg: "+format, args...)
}

// huffTable decodes one Huffman table: a 9-bit lookahead for short codes
// and the canonical limits for longer ones.
type huffTable struct {
	fast    [1 << 9]uint16 // (length << 8) | symbol, 0 when the code is longer than 9 bits
	maxCode [18]int32      // largest code of each length, -1 if none
	valPtr  [17]int32      // index in vals of the first code of each length, minus that code
	vals    [256]uint8
	// fastAC decodes (run, size) and the value together when the code and
	// its extra bits fit in 9 bits: value<<16 | run<<8 | total bits.
	fastAC [1 << 9]int32
	ok     bool
}

const fastBits = 9

func (h *huffTable) build(counts *[16]uint8, vals []uint8) error {
	*h = huffTable{}
	copy(h.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		h.valPtr[l] = k - code
		if code+n > 1<<l {
			return corruptf("bad Huffman table")
		}
		if n == 0 {
			h.maxCode[l] = -1
		} else {
			if l <= fastBits {
				for i := int32(0); i < n; i++ {
					c := code + i
					lo := c << (fastBits - l)
					hi := (c + 1) << (fastBits - l)
					for j := lo; j < hi; j++ {
						h.fast[j] = uint16(l)<<8 | uint16(vals[k+i])
					}
				}
			}
			k += n
			code += n
			h.maxCode[l] = code - 1
		}
		code <<= 1
	}
	h.maxCode[17] = 0x7fffffff
	// Combined AC entries.
	for j := range h.fast {
		e := h.fast[j]
		if e == 0 {
			continue
		}
		l, rs := int(e>>8), int(e&0xff)
		run, size := rs>>4, rs&15
		if size == 0 || l+size > fastBits {
			continue
		}
		bits := (j << l & (1<<fastBits - 1)) >> (fastBits - size) // the size bits after the code
		v := int32(bits)
		if v < 1<<(size-1) {
			v += -1<<size + 1
		}
		h.fastAC[j] = v<<16 | int32(run)<<8 | int32(l+size)
	}
	h.ok = true
	return nil
}

// bitReader reads the entropy-coded segment MSB first, unstuffing 0xFF00.
// At a marker or the end of the data it supplies zero bits and counts
// them, so that reading into them can be detected as truncation.
type bitReader struct {
	data []byte
	pos  int
	acc  uint64 // n valid bits, left-aligned
	n    uint
	fake uint // bits at the bottom of acc that came from past the data
	stop bool // at a marker or the end
}

func (b *bitReader) fill() {
	for b.n <= 56 {
		if !b.stop && b.pos < len(b.data) {
			c := b.data[b.pos]
			if c != 0xff {
				b.pos++
				b.acc |= uint64(c) << (56 - b.n)
				b.n += 8
				continue
			}
			if b.pos+1 < len(b.data) && b.data[b.pos+1] == 0 {
				b.pos += 2
				b.acc |= 0xff << (56 - b.n)
				b.n += 8
				continue
			}
		}
		b.stop = true
		b.n += 8
		b.fake += 8
	}
}

// overrun reports whether bits past the data were consumed.
func (b *bitReader) overrun() bool { return b.n < b.fake }

func (b *bitReader) decode(h *huffTable) (uint8, error) {
	if b.n < 16 {
		b.fill()
	}
	if e := h.fast[b.acc>>(64-fastBits)]; e != 0 {
		l := uint(e >> 8)
		b.acc <<= l
		b.n -= l
		return uint8(e), nil
	}
	for l := fastBits + 1; l <= 16; l++ {
		c := int32(b.acc >> (64 - uint(l)))
		if c <= h.maxCode[l] {
			b.acc <<= uint(l)
			b.n -= uint(l)
			return h.vals[(c+h.valPtr[l])&0xff], nil
		}
	}
	return 0, corruptf("bad Huffman code")
}

// receive reads s extra bits as a signed value (T.81 F.2.2.1 EXTEND).
func (b *bitReader) receive(s uint) int32 {
	if s == 0 {
		return 0
	}
	if b.n < s {
		b.fill()
	}
	v := int32(b.acc >> (64 - s))
	b.acc <<= s
	b.n -= s
	// Branch-free EXTEND: negative values have a leading 0 bit.
	return v + ((v-1<<(s-1))>>31)&(-1<<s+1)
}

// bits reads n bits as an unsigned value.
func (b *bitReader) bits(n uint) int32 {
	if b.n < n {
		b.fill()
	}
	v := int32(b.acc >> (64 - n))
	b.acc <<= n
	b.n -= n
	return v
}

// restart skips to just after the next RSTn marker.
func (b *bitReader) restart() error {
	b.acc, b.n, b.fake, b.stop = 0, 0, 0, false
	for p := b.pos; p+1 < len(b.data); p++ {
		if b.data[p] == 0xff && b.data[p+1] >= 0xd0 && b.data[p+1] <= 0xd7 {
			b.pos = p + 2
			return nil
		}
		if b.data[p] == 0xff && b.data[p+1] != 0 && b.data[p+1] != 0xff {
			return corruptf("missing restart marker")
		}
	}
	return corruptf("missing restart marker")
}

type jpegComp struct {
	id, h, v, tq int
	td, ta       int // Huffman tables of the scan
}

// decodeJPEGLuma returns the Y plane of a JPEG as a raster, or errFallback.
func decodeJPEGLuma(data []byte) (*raster, error) {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return nil, corruptf("missing SOI")
	}
	var (
		quant     [4][64]uint16
		dc, ac    [4]huffTable
		comps     []jpegComp
		w, h      int
		ri        int
		adobe     = -1 // APP14 transform, -1 when absent
		jfif      bool
		haveFrame bool
		prog      *progressive // set by SOF2
	)
	p := 2
	for {
		// Next marker, skipping fill bytes.
		for p < len(data) && data[p] != 0xff {
			p++ // tolerate junk between segments
		}
		for p < len(data) && data[p] == 0xff {
			p++
		}
		if p >= len(data) {
			if prog != nil {
				return nil, corruptf("unexpected end of data")
			}
			return nil, corruptf("no scan")
		}
		m := data[p]
		p++
		if m == 0xd8 || (m >= 0xd0 && m <= 0xd7) || m == 0x01 {
			continue
		}
		if m == 0xd9 {
			if prog != nil && prog.coef != nil {
				return prog.finish(), nil
			}
			return nil, corruptf("no scan before EOI")
		}
		if p+2 > len(data) {
			return nil, corruptf("truncated segment")
		}
		n := be16(data[p:])
		if n < 2 || p+n > len(data) {
			return nil, corruptf("truncated segment")
		}
		seg := data[p+2 : p+n]
		p += n
		switch {
		case m == 0xc0 || m == 0xc1 || m == 0xc2: // baseline, extended sequential, progressive; Huffman
			if haveFrame || len(seg) < 6 {
				return nil, corruptf("bad SOF")
			}
			haveFrame = true
			if seg[0] != 8 {
				return nil, errFallback
			}
			h, w = be16(seg[1:]), be16(seg[3:])
			nc := int(seg[5])
			if w == 0 || h == 0 || (nc != 1 && nc != 3) || len(seg) < 6+3*nc {
				return nil, errFallback
			}
			for i := 0; i < nc; i++ {
				c := seg[6+3*i:]
				hs, vs := int(c[1]>>4), int(c[1]&15)
				if hs < 1 || hs > 4 || vs < 1 || vs > 4 || c[2] > 3 {
					return nil, corruptf("bad component")
				}
				comps = append(comps, jpegComp{id: int(c[0]), h: hs, v: vs, tq: int(c[2])})
			}
			if m == 0xc2 {
				prog = &progressive{w: w, h: h}
			}
		case m >= 0xc3 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc:
			return nil, errFallback // lossless, hierarchical, arithmetic
		case m == 0xc4: // DHT
			for len(seg) > 0 {
				if len(seg) < 17 {
					return nil, corruptf("bad DHT")
				}
				class, id := seg[0]>>4, seg[0]&15
				var counts [16]uint8
				copy(counts[:], seg[1:17])
				total := 0
				for _, c := range counts {
					total += int(c)
				}
				if class > 1 || id > 3 || total > 256 || len(seg) < 17+total {
					return nil, corruptf("bad DHT")
				}
				t := &dc[id]
				if class == 1 {
					t = &ac[id]
				}
				if err := t.build(&counts, seg[17:17+total]); err != nil {
					return nil, err
				}
				seg = seg[17+total:]
			}
		case m == 0xdb: // DQT
			for len(seg) > 0 {
				prec, id := seg[0]>>4, seg[0]&15
				size := 64 << prec
				if prec > 1 || id > 3 || len(seg) < 1+size {
					return nil, corruptf("bad DQT")
				}
				for i := 0; i < 64; i++ {
					v := uint16(seg[1+i])
					if prec == 1 {
						v = uint16(be16(seg[1+2*i:]))
					}
					quant[id][zigzag[i]] = v
				}
				seg = seg[1+size:]
			}
		case m == 0xdd: // DRI
			if len(seg) < 2 {
				return nil, corruptf("bad DRI")
			}
			ri = be16(seg)
		case m == 0xe0:
			jfif = hasPrefix(seg, "JFIF\x00")
		case m == 0xee:
			if hasPrefix(seg, "Adobe") && len(seg) >= 12 {
				adobe = int(seg[11])
			}
		case m == 0xda: // SOS
			if !haveFrame {
				return nil, corruptf("scan before frame")
			}
			if len(comps) == 3 {
				// What image/jpeg treats as RGB rather than YCbCr.
				if adobe == 0 || (!jfif && adobe < 0 && comps[0].id == 'R' && comps[1].id == 'G' && comps[2].id == 'B') {
					return nil, errFallback
				}
			}
			if prog != nil {
				np, err := prog.scan(data, p, seg, comps, &quant, &dc, &ac, ri)
				if err != nil {
					return nil, err
				}
				p = np
				continue
			}
			if len(seg) < 1 || int(seg[0]) != len(comps) || len(seg) < 1+2*len(comps)+3 {
				return nil, errFallback // not one interleaved scan of every component
			}
			for i := range comps {
				id, tabs := int(seg[1+2*i]), seg[2+2*i]
				if id != comps[i].id {
					return nil, errFallback
				}
				comps[i].td, comps[i].ta = int(tabs>>4), int(tabs&15)
				if comps[i].td > 3 || comps[i].ta > 3 || !dc[comps[i].td].ok || !ac[comps[i].ta].ok {
					return nil, corruptf("missing Huffman table")
				}
			}
			ss, se, a := seg[1+2*len(comps)], seg[2+2*len(comps)], seg[3+2*len(comps)]
			if ss != 0 || se != 63 || a != 0 {
				return nil, corruptf("bad sequential scan")
			}
			return decodeLumaScan(data[p:], w, h, comps, &quant, &dc, &ac, ri)
		}
	}
}

// decodeLumaScan decodes the interleaved scan and inverse-transforms the
// Y blocks.
func decodeLumaScan(scan []byte, w, h int, comps []jpegComp, quant *[4][64]uint16,
	dc, ac *[4]huffTable, ri int) (*raster, error) {
	hmax, vmax := 1, 1
	for _, c := range comps {
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	y := comps[0]
	if len(comps) == 1 {
		// A single-component scan is not interleaved: one block per MCU.
		y.h, y.v, hmax, vmax = 1, 1, 1, 1
		comps = []jpegComp{y}
	}
	if y.h != hmax || y.v != vmax {
		return nil, errFallback // luma subsampled below chroma: unusual
	}
	mcuW, mcuH := 8*hmax, 8*vmax
	mx, my := (w+mcuW-1)/mcuW, (h+mcuH-1)/mcuH
	stride := mx * mcuW
	plane := make([]byte, stride*my*mcuH)

	var tbl idctTable
	tbl.init(&quant[y.tq])
	blocksPerRow := mx * y.h * y.v // Y blocks of one MCU row, in MCU order

	// Rows of Y coefficients go from the entropy decoder to the IDCT
	// workers through a small ring of buffers.
	type mcuRow struct {
		row  int
		coef []int16
	}
	workers := parallelism()
	nbuf := 2 + 2*workers
	free := make(chan *mcuRow, nbuf)
	full := make(chan *mcuRow, nbuf)
	for i := 0; i < nbuf; i++ {
		free <- &mcuRow{coef: make([]int16, 64*blocksPerRow)}
	}
	var wg sync.WaitGroup
	idctRow := func(r *mcuRow) {
		for b := 0; b < blocksPerRow; b++ {
			mcu, k := b/(y.h*y.v), b%(y.h*y.v)
			bx := mcu*mcuW + 8*(k%y.h)
			by := r.row*mcuH + 8*(k/y.h)
			blk := r.coef[64*b : 64*b+64 : 64*b+64]
			idct8x8(blk, &tbl, plane[by*stride+bx:], stride)
			clear(blk)
		}
	}
	for i := 0; i < workers; i++ {
		wg.Go(func() {
			for r := range full {
				idctRow(r)
				free <- r
			}
		})
	}
	// Entropy decoding, in this goroutine.
	br := bitReader{data: scan}
	var pred [3]int32
	var scratch [64]int16
	mcus := 0
	var derr error
decode:
	for row := 0; row < my; row++ {
		r := <-free
		r.row = row
		b := 0
		for col := 0; col < mx; col++ {
			if ri > 0 && mcus > 0 && mcus%ri == 0 {
				if err := br.restart(); err != nil {
					derr = err
					free <- r
					break decode
				}
				pred = [3]int32{}
			}
			mcus++
			for ci := range comps {
				c := &comps[ci]
				for k := 0; k < c.h*c.v; k++ {
					blk := scratch[:]
					store := ci == 0
					if store {
						blk = r.coef[64*b : 64*b+64]
						b++
					}
					if err := decodeBlock(&br, &dc[c.td], &ac[c.ta], &pred[ci], blk, store); err != nil {
						derr = err
						free <- r
						break decode
					}
				}
			}
		}
		if br.overrun() {
			derr = corruptf("unexpected end of data")
			free <- r
			break
		}
		full <- r
	}
	close(full)
	wg.Wait()
	if derr != nil {
		return nil, derr
	}
	return &raster{W: w, H: h, Pix: plane, Stride: stride}, nil
}

// decodeBlock decodes one block's coefficients (natural order, not
// dequantized) into blk when store is set, and only skips them otherwise.
func decodeBlock(br *bitReader, dc, ac *huffTable, pred *int32, blk []int16, store bool) error {
	t, err := br.decode(dc)
	if err != nil {
		return err
	}
	if t > 11 {
		return corruptf("bad DC size %d", t)
	}
	*pred += br.receive(uint(t))
	if store {
		blk[0] = int16(*pred)
	}
	for k := 1; k < 64; {
		if br.n < 32 {
			br.fill()
		}
		if e := ac.fastAC[br.acc>>(64-fastBits)]; e != 0 {
			l := uint(e & 0xff)
			br.acc <<= l
			br.n -= l
			k += int(e>>8) & 0xff
			if k > 63 {
				return corruptf("AC index out of range")
			}
			if store {
				blk[zigzag[k]] = int16(e >> 16)
			}
			k++
			continue
		}
		rs, err := br.decode(ac)
		if err != nil {
			return err
		}
		run, size := int(rs>>4), uint(rs&15)
		if size == 0 {
			if run != 15 {
				break // end of block
			}
			k += 16
			continue
		}
		k += run
		if k > 63 || size > 10 {
			return corruptf("bad AC coefficient")
		}
		v := br.receive(size)
		if store {
			blk[zigzag[k]] = int16(v)
		}
		k++
	}
	return nil
}

// idctTable holds the dequantization factors with the AAN scale folded in
// (and the final division by 8).
type idctTable [64]float32

func (t *idctTable) init(q *[64]uint16) {
	for u := 0; u < 8; u++ {
		for v := 0; v < 8; v++ {
			t[u*8+v] = float32(float64(q[u*8+v]) * aanScale[u] * aanScale[v] / 8)
		}
	}
}

// idct8x8 is the AAN floating-point inverse DCT of one block of quantized
// coefficients (natural order), writing 8x8 clamped samples at dst with
// the given stride.
func idct8x8(coef []int16, t *idctTable, dst []byte, stride int) {
	var ws [64]float32
	coef = coef[:64:64]
	// Columns.
	for c := 0; c < 8; c++ {
		if coef[8+c]|coef[16+c]|coef[24+c]|coef[32+c]|coef[40+c]|coef[48+c]|coef[56+c] == 0 {
			dcv := float32(coef[c]) * t[c]
			for r := 0; r < 8; r++ {
				ws[r*8+c] = dcv
			}
			continue
		}
		idct8(&ws, c, 8,
			float32(coef[c])*t[c], float32(coef[8+c])*t[8+c], float32(coef[16+c])*t[16+c], float32(coef[24+c])*t[24+c],
			float32(coef[32+c])*t[32+c], float32(coef[40+c])*t[40+c], float32(coef[48+c])*t[48+c], float32(coef[56+c])*t[56+c])
	}
	// Rows, in place, then out.
	for r := 0; r < 8; r++ {
		o := r * 8
		idct8(&ws, o, 1, ws[o], ws[o+1], ws[o+2], ws[o+3], ws[o+4], ws[o+5], ws[o+6], ws[o+7])
		d := dst[r*stride : r*stride+8 : r*stride+8]
		for i := range d {
			v := int32(ws[o+i] + 128.5)
			if uint32(v) > 255 {
				v = ^(v >> 31) & 255 // 0 below, 255 above
			}
			d[i] = uint8(v)
		}
	}
}

// idct8 is the 8-point AAN inverse DCT of dequantized, prescaled inputs,
// writing outputs at ws[o+k*s].
func idct8(ws *[64]float32, o, s int, i0, i1, i2, i3, i4, i5, i6, i7 float32) {
	// Even part.
	t10, t11 := i0+i4, i0-i4
	t13 := i2 + i6
	t12 := (i2-i6)*1.414213562 - t13
	t0, t3 := t10+t13, t10-t13
	t1, t2 := t11+t12, t11-t12
	// Odd part.
	z13, z10 := i5+i3, i5-i3
	z11, z12 := i1+i7, i1-i7
	t7 := z11 + z13
	t11 = (z11 - z13) * 1.414213562
	z5 := (z10 + z12) * 1.847759065
	t10 = 1.082392200*z12 - z5
	t12 = -2.613125930*z10 + z5
	t6 := t12 - t7
	t5 := t11 - t6
	t4 := t10 + t5
	ws[o] = t0 + t7
	ws[o+7*s] = t0 - t7
	ws[o+s] = t1 + t6
	ws[o+6*s] = t1 - t6
	ws[o+2*s] = t2 + t5
	ws[o+5*s] = t2 - t5
	ws[o+4*s] = t3 + t4
	ws[o+3*s] = t3 - t4
}

// progressive decodes the luma of a progressive JPEG: the scans of the Y
// component are decoded into a coefficient grid (interleaved DC scans are
// decoded with their chroma blocks dropped; chroma-only scans are skipped
// without decoding), and the grid is inverse-transformed at EOI.
type progressive struct {
	w, h       int
	comps      []jpegComp
	y          jpegComp
	hmax, vmax int
	mx, my     int // MCUs across and down
	bw, bh     int // Y blocks across and down, padded to whole MCUs
	coef       []int16
	tbl        idctTable
	eobrun     int
}

func (g *progressive) init(comps []jpegComp, quant *[4][64]uint16) error {
	g.comps = comps
	g.hmax, g.vmax = 1, 1
	for _, c := range comps {
		g.hmax, g.vmax = max(g.hmax, c.h), max(g.vmax, c.v)
	}
	g.y = comps[0]
	if len(comps) == 1 {
		g.y.h, g.y.v, g.hmax, g.vmax = 1, 1, 1, 1
	}
	if g.y.h != g.hmax || g.y.v != g.vmax {
		return errFallback
	}
	g.mx, g.my = (g.w+8*g.hmax-1)/(8*g.hmax), (g.h+8*g.vmax-1)/(8*g.vmax)
	g.bw, g.bh = g.mx*g.y.h, g.my*g.y.v
	g.coef = make([]int16, g.bw*g.bh*64)
	g.tbl.init(&quant[g.y.tq])
	return nil
}

// nextMarker returns the position of the first marker at or after p that
// ends an entropy-coded segment (not a stuffed 0xFF00 or an RSTn).
func nextMarker(data []byte, p int) int {
	for ; p+1 < len(data); p++ {
		if data[p] == 0xff {
			if c := data[p+1]; c != 0 && c != 0xff && (c < 0xd0 || c > 0xd7) {
				return p
			}
		}
	}
	return len(data)
}

// scan decodes one scan starting at data[p:] (just after its header seg)
// and returns the position after it.
func (g *progressive) scan(data []byte, p int, seg []byte, comps []jpegComp, quant *[4][64]uint16,
	dc, ac *[4]huffTable, ri int) (int, error) {
	if len(seg) < 1 {
		return 0, corruptf("bad SOS")
	}
	ns := int(seg[0])
	if ns < 1 || ns > len(comps) || len(seg) < 1+2*ns+3 {
		return 0, corruptf("bad SOS")
	}
	ss, se, ah, al := int(seg[1+2*ns]), int(seg[2+2*ns]), int(seg[3+2*ns]>>4), uint(seg[3+2*ns]&15)
	if ss > se || se > 63 || (ss == 0 && se != 0) || (ss > 0 && ns != 1) || al > 13 {
		return 0, corruptf("bad progressive scan %d..%d", ss, se)
	}
	// The scan's components, as indices into comps, with their tables.
	sc := make([]jpegComp, ns)
	idx := make([]int, ns)
	hasY := false
	for i := 0; i < ns; i++ {
		id, tabs := int(seg[1+2*i]), seg[2+2*i]
		idx[i] = -1
		for j := range comps {
			if comps[j].id == id {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return 0, corruptf("scan of an unknown component")
		}
		sc[i] = comps[idx[i]]
		sc[i].td, sc[i].ta = int(tabs>>4), int(tabs&15)
		if sc[i].td > 3 || sc[i].ta > 3 {
			return 0, corruptf("bad table selector")
		}
		if (ss == 0 && ah == 0 && !dc[sc[i].td].ok) || (ss > 0 && !ac[sc[i].ta].ok) {
			return 0, corruptf("missing Huffman table")
		}
		hasY = hasY || idx[i] == 0
	}
	if !hasY {
		return nextMarker(data, p), nil // chroma only: not needed
	}
	if g.coef == nil {
		if err := g.init(comps, quant); err != nil {
			return 0, err
		}
	}
	br := bitReader{data: data, pos: p}
	g.eobrun = 0
	var pred [4]int32
	var scratch [64]int16
	n := 0 // MCUs decoded, for restarts
	restart := func() error {
		if ri > 0 && n > 0 && n%ri == 0 {
			if err := br.restart(); err != nil {
				return err
			}
			pred, g.eobrun = [4]int32{}, 0
		}
		n++
		return nil
	}
	if ns == 1 {
		// Not interleaved: the component's own blocks in raster order.
		nbx, nby := (g.w+7)/8, (g.h+7)/8
		for by := 0; by < nby; by++ {
			for bx := 0; bx < nbx; bx++ {
				if err := restart(); err != nil {
					return 0, err
				}
				blk := g.coef[(by*g.bw+bx)*64:][:64]
				if err := g.block(&br, blk, ss, se, ah, al, &dc[sc[0].td], &ac[sc[0].ta], &pred[0]); err != nil {
					return 0, err
				}
			}
			if br.overrun() {
				return 0, corruptf("unexpected end of data")
			}
		}
	} else {
		for my := 0; my < g.my; my++ {
			for mx := 0; mx < g.mx; mx++ {
				if err := restart(); err != nil {
					return 0, err
				}
				for i, c := range sc {
					for k := 0; k < c.h*c.v; k++ {
						blk := scratch[:]
						if idx[i] == 0 {
							bx, by := mx*g.y.h+k%g.y.h, my*g.y.v+k/g.y.h
							blk = g.coef[(by*g.bw+bx)*64:][:64]
						} else {
							scratch[0] = 0
						}
						if err := g.block(&br, blk, ss, se, ah, al, &dc[c.td], &ac[c.ta], &pred[i]); err != nil {
							return 0, err
						}
					}
				}
			}
			if br.overrun() {
				return 0, corruptf("unexpected end of data")
			}
		}
	}
	if br.overrun() {
		return 0, corruptf("unexpected end of data")
	}
	return nextMarker(data, br.pos), nil
}

// block decodes one block's part of a progressive scan (T.81 G.1.2).
func (g *progressive) block(br *bitReader, blk []int16, ss, se, ah int, al uint, dct, act *huffTable, pred *int32) error {
	blk = blk[:64:64]
	if ss == 0 { // DC
		if ah == 0 {
			t, err := br.decode(dct)
			if err != nil {
				return err
			}
			if t > 11 {
				return corruptf("bad DC size %d", t)
			}
			*pred += br.receive(uint(t))
			blk[0] = int16(*pred << al)
		} else if br.bits(1) != 0 {
			blk[0] |= 1 << al
		}
		return nil
	}
	if ah == 0 { // AC, first pass
		if g.eobrun > 0 {
			g.eobrun--
			return nil
		}
		for k := ss; k <= se; {
			rs, err := br.decode(act)
			if err != nil {
				return err
			}
			r, s := int(rs>>4), uint(rs&15)
			if s == 0 {
				if r < 15 {
					g.eobrun = 1<<r - 1
					if r > 0 {
						g.eobrun += int(br.bits(uint(r)))
					}
					break
				}
				k += 16
				continue
			}
			k += r
			if k > se || s > 10 {
				return corruptf("bad AC coefficient")
			}
			blk[zigzag[k]] = int16(br.receive(s) << al)
			k++
		}
		return nil
	}
	// AC, refinement: one more bit of every nonzero coefficient, and new
	// coefficients of magnitude 1 placed among the zero ones.
	p1, m1 := int16(1)<<al, int16(-1)<<al
	refine := func(z uint8) {
		if c := blk[z]; br.bits(1) != 0 && c&p1 == 0 {
			if c >= 0 {
				blk[z] = c + p1
			} else {
				blk[z] = c + m1
			}
		}
	}
	k := ss
	if g.eobrun == 0 {
		for ; k <= se; k++ {
			rs, err := br.decode(act)
			if err != nil {
				return err
			}
			r, s := int(rs>>4), int(rs&15)
			var val int16
			if s != 0 {
				if s != 1 {
					return corruptf("bad refinement size %d", s)
				}
				val = m1
				if br.bits(1) != 0 {
					val = p1
				}
			} else if r != 15 {
				g.eobrun = 1 << r
				if r > 0 {
					g.eobrun += int(br.bits(uint(r)))
				}
				break
			}
			// Skip r zero coefficients (refining the nonzero ones passed),
			// stopping on the zero coefficient that gets val.
			for ; k <= se; k++ {
				z := zigzag[k]
				if blk[z] != 0 {
					refine(z)
				} else {
					if r == 0 {
						break
					}
					r--
				}
			}
			if val != 0 {
				if k > se {
					return corruptf("refinement past the band")
				}
				blk[zigzag[k]] = val
			}
		}
	}
	if g.eobrun > 0 {
		for ; k <= se; k++ {
			if z := zigzag[k]; blk[z] != 0 {
				refine(z)
			}
		}
		g.eobrun--
	}
	return nil
}

// finish inverse-transforms the coefficient grid into the Y plane.
func (g *progressive) finish() *raster {
	stride := g.bw * 8
	plane := make([]byte, stride*g.bh*8)
	parallel(g.bh, 4, func(b0, b1 int) {
		for by := b0; by < b1; by++ {
			for bx := 0; bx < g.bw; bx++ {
				idct8x8(g.coef[(by*g.bw+bx)*64:][:64], &g.tbl, plane[by*8*stride+bx*8:], stride)
			}
		}
	})
	return &raster{W: g.w, H: g.h, Pix: plane, Stride: stride}
}
