package imaging

import (
	"bytes"
	"encoding/binary"
)

// Huffman-coded scans (T.81 F.2.2, G.1.2): the tables, a bit reader, the
// streamed sequential decoder (the hot path: registers only, a combined
// lookup of code, run and value) and the coders of the other scans.

// lutBits is the lookahead of the symbol tables (huffTable.lut).
const lutBits = 10

// huffTable decodes one Huffman table.
type huffTable struct {
	lut     [1 << lutBits]uint16 // (length << 8) | symbol, 0 when the code is longer than lutBits
	maxCode [18]int32            // largest code of each length, -1 if none
	valPtr  [17]int32            // index in vals of the first code of each length, minus that code
	vals    [256]uint8
	counts  [16]uint8 // codes of each length 1..16
	ok      bool
}

func (t *huffTable) build(counts *[16]uint8, vals []uint8) error {
	*t = huffTable{counts: *counts}
	copy(t.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.valPtr[l] = k - code
		if code+n > 1<<l {
			return corruptf("bad Huffman table")
		}
		t.maxCode[l] = -1
		if n > 0 {
			if l <= lutBits {
				for i := int32(0); i < n; i++ {
					lo := (code + i) << (lutBits - l)
					hi := (code + i + 1) << (lutBits - l)
					for j := lo; j < hi; j++ {
						t.lut[j] = uint16(l)<<8 | uint16(vals[k+i])
					}
				}
			}
			k += n
			code += n
			t.maxCode[l] = code - 1
		}
		code <<= 1
	}
	t.maxCode[17] = 0x7fffffff
	t.ok = true
	return nil
}

// fastBits is the lookahead of the tables of the streamed decoder
// (fastTable): a code and its extra bits within it are decoded by one
// lookup.
const fastBits = 11

// A fastTable maps the next fastBits bits of the data to a code and its
// extra bits decoded together, 0 when they do not fit (or the code is
// invalid): the slow path then decodes them.
//
//	bits 0-7    bits used (code length + size)
//	bits 8-15   AC: zig-zag positions advanced: run + 1, 16 for ZRL, fastEOB for end of block
//	bits 16-31  the value (signed); in a token table, value + 16 (see fastTokens)
type fastTable [1 << fastBits]uint32

const fastEOB = 0x80

// eachCode calls f with every code of at most fastBits bits: its length,
// the code and its symbol.
func (t *huffTable) eachCode(f func(l int, code int, sym uint8)) {
	code, k := 0, 0
	for l := 1; l <= fastBits; l++ {
		for i := 0; i < int(t.counts[l-1]); i++ {
			f(l, code, t.vals[k])
			code++
			k++
		}
		code <<= 1
	}
}

// fill sets the entries of a code of length l whose extra bits x (size
// s) leave the rest of the lookahead free.
func (f *fastTable) fill(l, code int, s uint, x int, e uint32) {
	used := l + int(s)
	lo := (code<<s | x) << (fastBits - used)
	for j := lo; j < lo+1<<(fastBits-used); j++ {
		f[j] = e
	}
}

// fastDC fills f for a DC table: the size category and the difference.
func (t *huffTable) fastDC(f *fastTable) {
	*f = fastTable{}
	t.eachCode(func(l, code int, s uint8) {
		if s > 15 || l+int(s) > fastBits {
			return
		}
		for x := 0; x < 1<<s; x++ {
			v := int32(0)
			if s > 0 {
				v = extend(int32(x), uint(s))
			}
			f.fill(l, code, uint(s), x, uint32(v)<<16|uint32(l+int(s)))
		}
	})
}

// fastAC fills f for an AC table of a sequential scan, with the values of
// sizes up to maxSize (at most 15). With tokens set the entry holds
// tokIndex(0, value) instead of the value, an index into a yTokenizer's
// tables (ZRL and EOB have that of zero), and fastSlowEntry instead of 0
// for the codes not in it; that takes a maxSize of 4 at most (values
// -15..15).
func (t *huffTable) fastAC(f *fastTable, tokens bool, maxSize uint) {
	*f = fastTable{}
	t.eachCode(func(l, code int, rs uint8) {
		r, s := uint32(rs>>4), uint(rs&15)
		if s == 0 {
			adv := uint32(fastEOB)
			if r == 15 {
				adv = 16
			}
			var v uint32
			if tokens {
				v = uint32(tokIndex(0, 0))
			}
			f.fill(l, code, 0, 0, v<<16|adv<<8|uint32(l))
			return
		}
		if l+int(s) > fastBits || s > maxSize {
			return
		}
		for x := 0; x < 1<<s; x++ {
			v := uint32(extend(int32(x), s))
			if tokens {
				v = uint32(tokIndex(0, int32(v)))
			}
			f.fill(l, code, s, x, v<<16|(r+1)<<8|uint32(l+int(s)))
		}
	})
	if tokens {
		for j, e := range f {
			if e == 0 {
				f[j] = fastSlowEntry
			}
		}
	}
}

// fastSkip fills f for reading past the blocks of an AC table of a
// sequential scan: for each lookahead, the codes with their extra bits
// that fit in it, decoded one after the other up to an end of block:
//
//	bits 0-4    bits used by them all
//	bits 5-11   positions advanced by them all (at most 62)
//	bit 12      the last of them is an end of block
//	bits 16-20  bits used by the first
//	bits 21-28  positions advanced by the first (fastEOB for an end of block)
//	bit 29      the first is a coefficient
//
// 0 when not even the first fits. single is the table fastAC made.
func (f *fastTable) skip(single *fastTable) {
	for j := range f {
		e1 := single[j]
		if e1 == 0 {
			f[j] = 0
			continue
		}
		first := (e1&0xff)<<16 | (e1>>8&0xff)<<21
		if e1>>16 != 0 {
			first |= 1 << 29
		}
		used, adv, eob := uint32(0), uint32(0), uint32(0)
		for e := e1; e != 0; {
			l, a := e&0xff, e>>8&0xff
			if used+l > fastBits {
				break
			}
			if a == fastEOB {
				used, eob = used+l, 1
				break
			}
			if adv+a > 62 {
				break
			}
			used, adv = used+l, adv+a
			e = single[(j<<used)&(1<<fastBits-1)]
		}
		if used == 0 { // an end of block alone, or a first code past 62
			used, adv = e1&0xff, e1>>8&0xff
			if adv == fastEOB {
				adv, eob = 0, 1
			} else {
				used, adv = 0, 63 // never taken whole
			}
		}
		f[j] = first | eob<<12 | adv<<5 | used
	}
}

// extend turns s received bits into a signed value (T.81 F.2.2.1).
func extend(v int32, s uint) int32 {
	return v + ((v-1<<(s-1))>>31)&(-1<<s+1)
}

// slow decodes a code longer than lutBits from the left-aligned bits in
// acc, returning its symbol and length (0 for an invalid code).
func (t *huffTable) slow(acc uint64) (uint8, int) {
	for l := lutBits + 1; l <= 16; l++ {
		c := int32(acc >> (64 - uint(l)))
		if c <= t.maxCode[l] {
			return t.vals[(c+t.valPtr[l])&0xff], l
		}
	}
	return 0, 0
}

// symbol decodes one symbol from the left-aligned bits in acc: its value
// and code length (0 for an invalid code).
func (t *huffTable) symbol(acc uint64) (uint8, int) {
	if e := t.lut[acc>>(64-lutBits)]; e != 0 {
		return uint8(e), int(e >> 8)
	}
	return t.slow(acc)
}

// bitReader reads entropy-coded data MSB first. The data is first copied
// into a small buffer without its stuffing (0xFF00 becomes 0xFF), up to
// the next marker, so that topping up the accumulator is one 8-byte load
// with no test for 0xFF; past a marker or the end of the data it supplies
// zero bits and counts them, so that reading into them is seen as
// truncation.
//
// The hot loops keep acc, n and p in registers and refill as
//
//	if n < fastBits {
//		if p > lim { slow path: b.refill }
//		acc |= binary.BigEndian.Uint64(buf[p:]) >> n
//		p += (63 - n) >> 3
//		n |= 56
//	}
//
// which leaves 56 to 63 valid bits; the bits below them are more of the
// data (the next byte, loaded again at the next refill) or zeros.
type bitReader struct {
	acc  uint64 // n valid bits, left-aligned
	n    int
	p    int    // next byte of buf to load
	lim  int    // p <= lim: buf[p:p+8] are bytes of the data
	buf  []byte // the unstuffed data in buf[:top], then zeros
	top  int
	src  []byte
	sp   int  // next byte of src to unstuff
	stop bool // src is unstuffed up to a marker or its end
	fake int  // bits at the bottom of acc that came from past the data
}

// bitChunk is how much unstuffed data a bitReader holds.
const bitChunk = 4096

func newBitReader(src []byte, p int) *bitReader {
	return &bitReader{src: src, sp: p, lim: -1, buf: make([]byte, bitChunk+16)}
}

// unstuff moves the unread bytes to the front of the buffer and copies
// more of the data after them, up to a marker.
func (b *bitReader) unstuff() {
	b.top = copy(b.buf, b.buf[b.p:b.top])
	b.p = 0
	src := b.src
	for b.top < bitChunk && !b.stop {
		s := src[b.sp:min(len(src), b.sp+bitChunk-b.top)]
		i := bytes.IndexByte(s, 0xff)
		if i < 0 {
			b.top += copy(b.buf[b.top:], s)
			b.sp += len(s)
			b.stop = b.sp >= len(src)
			continue
		}
		b.top += copy(b.buf[b.top:], s[:i])
		b.sp += i
		// 0xFF: a stuffed data byte when zero follows (after any fill
		// bytes, as libjpeg reads it), else a marker.
		q := b.sp + 1
		for q < len(src) && src[q] == 0xff {
			q++
		}
		if q < len(src) && src[q] == 0 {
			b.buf[b.top] = 0xff
			b.top++
			b.sp = q + 1
			continue
		}
		b.sp = q - 1 // at the marker's last 0xFF
		b.stop = true
	}
	clear(b.buf[b.top : b.top+8])
	b.lim = b.top - 8
}

// refill tops up acc (n valid bits) to at least 56 bits; p is the next
// byte of the buffer. It is the slow path of the refill in the hot loops,
// taken when p is past lim: it unstuffs more data, or at the end supplies
// zeros.
func (b *bitReader) refill(acc uint64, n, p int) (uint64, int, int) {
	if p > b.lim && !b.stop {
		b.p = p
		b.unstuff()
		p = b.p
	}
	acc |= binary.BigEndian.Uint64(b.buf[p:]) >> (uint(n) & 63)
	nb := (63 - n) >> 3
	p += nb
	n += 8 * nb
	if p > b.top {
		b.fake += 8 * (p - b.top)
		p = b.top
	}
	return acc, n, p
}

func (b *bitReader) fill() { b.acc, b.n, b.p = b.refill(b.acc, b.n, b.p) }

func (b *bitReader) overrun() bool { return b.n < b.fake }

func (b *bitReader) decode(t *huffTable) (uint8, error) {
	if b.n < 16 {
		b.fill()
	}
	s, l := t.symbol(b.acc)
	if l == 0 {
		return 0, corruptf("bad Huffman code")
	}
	b.acc <<= uint(l)
	b.n -= l
	return s, nil
}

// receive reads s extra bits as a signed value.
func (b *bitReader) receive(s uint) int32 {
	if s == 0 {
		return 0
	}
	return extend(b.bits(s), s)
}

// bits reads n bits as an unsigned value.
func (b *bitReader) bits(n uint) int32 {
	if b.n < int(n) {
		b.fill()
	}
	v := int32(b.acc >> (64 - n))
	b.acc <<= n
	b.n -= int(n)
	return v
}

// restart skips to just after the next RSTn marker (skipping what is left
// of the interval, as libjpeg does).
func (b *bitReader) restart() error {
	p, err := skipRestart(b.src, b.sp)
	if err != nil {
		return err
	}
	b.sp, b.stop = p, false
	b.acc, b.n, b.fake = 0, 0, 0
	b.p, b.top, b.lim = 0, 0, -1
	return nil
}

// skipRestart finds the RSTn marker at or after p (skipping bytes left in
// the interval, as libjpeg does) and returns the position after it.
func skipRestart(data []byte, p int) (int, error) {
	q := nextMarkerAt(data, p)
	if q < 0 || data[q] < 0xd0 || data[q] > 0xd7 {
		return 0, corruptf("missing restart marker")
	}
	return q + 1, nil
}

// end returns the position of the marker that ends the scan's data.
func (b *bitReader) end() int { return entropyEnd(b.src, b.sp) }

// huffSeq decodes the blocks of a sequential scan that is not streamed
// (one scan of several in a file).
type huffSeq struct {
	*bitReader
	dc, ac []*huffTable
	pred   [4]int32
}

func (s *huffSeq) restart() error {
	s.pred = [4]int32{}
	return s.bitReader.restart()
}

func (s *huffSeq) block(blk *[64]int16, nz *uint64, i int) error {
	t, err := s.decode(s.dc[i])
	if err != nil {
		return err
	}
	if t > 15 {
		return corruptf("bad DC size %d", t)
	}
	s.pred[i] += s.receive(uint(t))
	blk[0] = int16(s.pred[i])
	for k := 1; k < 64; {
		rs, err := s.decode(s.ac[i])
		if err != nil {
			return err
		}
		r, sz := int(rs>>4), uint(rs&15)
		if sz == 0 {
			if r != 15 {
				break
			}
			k += 16
			continue
		}
		k += r
		if k > 63 {
			return corruptf("AC index out of range")
		}
		blk[zigzag[k]] = int16(s.receive(sz))
		*nz |= 1 << uint(k)
		k++
	}
	return nil
}

// huffProg decodes the blocks of a progressive scan (T.81 G.1.2).
type huffProg struct {
	*bitReader
	dc, ac []*huffTable
	pred   [4]int32
	ss, se int
	ah, al uint
	eobrun int
}

func (g *huffProg) restart() error {
	g.pred, g.eobrun = [4]int32{}, 0
	return g.bitReader.restart()
}

func (g *huffProg) block(blk *[64]int16, _ *uint64, i int) error {
	if g.ss == 0 { // DC
		if g.ah == 0 {
			t, err := g.decode(g.dc[i])
			if err != nil {
				return err
			}
			if t > 15 {
				return corruptf("bad DC size %d", t)
			}
			g.pred[i] += g.receive(uint(t))
			blk[0] = int16(g.pred[i] << g.al)
		} else if g.bits(1) != 0 {
			blk[0] |= 1 << g.al
		}
		return nil
	}
	act := g.ac[i]
	if g.ah == 0 { // AC, first pass
		if g.eobrun > 0 {
			g.eobrun--
			return nil
		}
		for k := g.ss; k <= g.se; {
			rs, err := g.decode(act)
			if err != nil {
				return err
			}
			r, s := int(rs>>4), uint(rs&15)
			if s == 0 {
				if r < 15 {
					g.eobrun = 1<<r - 1
					if r > 0 {
						g.eobrun += int(g.bits(uint(r)))
					}
					break
				}
				k += 16
				continue
			}
			k += r
			if k > g.se {
				return corruptf("AC index out of range")
			}
			blk[zigzag[k]] = int16(g.receive(s) << g.al)
			k++
		}
		return nil
	}
	// AC, refinement: one more bit of every nonzero coefficient, and new
	// coefficients of magnitude 1 placed among the zero ones.
	p1, m1 := int16(1)<<g.al, int16(-1)<<g.al
	refine := func(z uint8) {
		if c := blk[z]; g.bits(1) != 0 && c&p1 == 0 {
			if c >= 0 {
				blk[z] = c + p1
			} else {
				blk[z] = c + m1
			}
		}
	}
	k := g.ss
	if g.eobrun == 0 {
		for ; k <= g.se; k++ {
			rs, err := g.decode(act)
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
				if g.bits(1) != 0 {
					val = p1
				}
			} else if r != 15 {
				g.eobrun = 1 << r
				if r > 0 {
					g.eobrun += int(g.bits(uint(r)))
				}
				break
			}
			// Skip r zero coefficients (refining the nonzero ones passed),
			// stopping on the zero coefficient that gets val.
			for ; k <= g.se; k++ {
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
				if k > g.se {
					return corruptf("refinement past the band")
				}
				blk[zigzag[k]] = val
			}
		}
	}
	if g.eobrun > 0 {
		for ; k <= g.se; k++ {
			if z := zigzag[k]; blk[z] != 0 {
				refine(z)
			}
		}
		g.eobrun--
	}
	return nil
}

// scanHuffman decodes a Huffman-coded scan that is not streamed.
func (d *jpegDecoder) scanHuffman(sc *jpegScan, p int) (int, error) {
	ns := len(sc.comps)
	dc, ac := make([]*huffTable, ns), make([]*huffTable, ns)
	for i := range sc.comps {
		dc[i], ac[i] = &d.dc[sc.td[i]], &d.ac[sc.ta[i]]
	}
	br := newBitReader(d.data, p)
	var bc blockCoder
	if d.hdr.progressive {
		bc = &huffProg{bitReader: br, dc: dc, ac: ac, ss: sc.ss, se: sc.se, ah: sc.ah, al: sc.al}
	} else {
		bc = &huffSeq{bitReader: br, dc: dc, ac: ac}
	}
	if err := d.iterate(sc, bc); err != nil {
		return 0, err
	}
	if bc.overrun() {
		return 0, corruptf("unexpected end of data")
	}
	return bc.end(), nil
}
