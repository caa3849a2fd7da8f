package imaging

import (
	"encoding/binary"
	"math/bits"
)

// Huffman-coded scans (T.81 F.2.2, G.1.2): the tables, a bit reader, the
// streamed sequential decoder (the hot path: registers only, a combined
// lookup of code, run and value) and the coders of the other scans.

// lutBits is the lookahead of the decoding tables.
const lutBits = 10

// huffTable decodes one Huffman table.
type huffTable struct {
	lut [1 << lutBits]uint16 // (length << 8) | symbol, 0 when the code is longer than lutBits
	// ac decodes a sequential AC symbol and its value together when both
	// fit in lutBits: value<<16 | run<<8 | size<<4 | bits used, run 0xff
	// for end of block, 0 when it does not fit (or for ZRL).
	ac      [1 << lutBits]int32
	maxCode [18]int32 // largest code of each length, -1 if none
	valPtr  [17]int32 // index in vals of the first code of each length, minus that code
	vals    [256]uint8
	ok      bool
}

func (t *huffTable) build(counts *[16]uint8, vals []uint8) error {
	*t = huffTable{}
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
	for j, e := range t.lut {
		if e == 0 {
			continue
		}
		l, rs := int(e>>8), int(e&0xff)
		run, size := rs>>4, rs&15
		switch {
		case size == 0 && run != 15:
			t.ac[j] = 0xff<<8 | int32(l) // end of block
		case size == 0 || l+size > lutBits:
			// ZRL, or the value does not fit
		default:
			v := int32(j>>(lutBits-l-size)) & (1<<size - 1)
			v = extend(v, uint(size))
			t.ac[j] = v<<16 | int32(run)<<8 | int32(size)<<4 | int32(l+size)
		}
	}
	t.ok = true
	return nil
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

// bitReader reads entropy-coded data MSB first, unstuffing 0xFF00. At a
// marker or the end of the data it supplies zero bits and counts them, so
// that reading into them is seen as truncation.
type bitReader struct {
	data []byte
	pos  int
	acc  uint64 // n valid bits, left-aligned
	n    int
	fake int  // bits at the bottom of acc that came from past the data
	stop bool // at a marker or the end
}

// noFF reports whether no byte of v is 0xFF.
func noFF(v uint64) bool {
	return (^v-0x0101010101010101)&v&0x8080808080808080 == 0
}

// refill tops up an accumulator that the caller keeps in registers to
// more than 56 bits: eight bytes at a time when none is 0xFF, else byte by
// byte. The position and the state at the end of the data stay in b.
func (b *bitReader) refill(acc uint64, n int) (uint64, int) {
	if !b.stop && b.pos+8 <= len(b.data) {
		if v := binary.BigEndian.Uint64(b.data[b.pos:]); noFF(v) {
			nb := uint(63-n) >> 3
			acc |= v >> ((64 - 8*nb) & 63) << ((64 - uint(n) - 8*nb) & 63)
			b.pos += int(nb)
			return acc, n + int(8*nb)
		}
	}
	return b.refillSlow(acc, n)
}

func (b *bitReader) refillSlow(acc uint64, n int) (uint64, int) {
	data := b.data
	for n <= 56 {
		if !b.stop && b.pos < len(data) {
			c := data[b.pos]
			if c != 0xff {
				b.pos++
				acc |= uint64(c) << ((56 - n) & 63)
				n += 8
				continue
			}
			// 0xFF: a stuffed data byte when zero follows (after any fill
			// bytes, as libjpeg reads it), else a marker.
			q := b.pos + 1
			for q < len(data) && data[q] == 0xff {
				q++
			}
			if q < len(data) && data[q] == 0 {
				b.pos = q + 1
				acc |= 0xff << ((56 - n) & 63)
				n += 8
				continue
			}
			b.pos = q - 1 // at the marker's last 0xFF
		}
		b.stop = true
		n += 8
		b.fake += 8
	}
	return acc, n
}

func (b *bitReader) fill() { b.acc, b.n = b.refill(b.acc, b.n) }

func (b *bitReader) overrun() bool { return b.n < b.fake }

func (b *bitReader) decode(t *huffTable) (uint8, error) {
	if b.n < 16 {
		b.fill()
	}
	if e := t.lut[b.acc>>(64-lutBits)]; e != 0 {
		l := int(e >> 8)
		b.acc <<= uint(l)
		b.n -= l
		return uint8(e), nil
	}
	s, l := t.slow(b.acc)
	if l == 0 {
		return 0, corruptf("bad Huffman code")
	}
	b.acc <<= uint(l)
	b.n -= l
	return s, nil
}

// receive reads s extra bits as a signed value.
func (b *bitReader) receive(s uint) int32 {
	if b.n < int(s) {
		b.fill()
	}
	v := int32(b.acc >> (64 - s))
	b.acc <<= s
	b.n -= int(s)
	if s == 0 {
		return 0
	}
	return extend(v, s)
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

// restart skips to just after the next RSTn marker.
func (b *bitReader) restart() error {
	p, err := skipRestart(b.data, b.pos)
	if err != nil {
		return err
	}
	b.pos, b.acc, b.n, b.fake, b.stop = p, 0, 0, 0, false
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

func (b *bitReader) end() int { return entropyEnd(b.data, b.pos) }

// Modes of a component in streamHuffman.
const (
	modeSkip  = iota // decoded and dropped
	modeBlock        // into the row buffer, for the sink
	modeToken        // straight into the gray output's tokens (yTokenizer)
)

// streamHuffman decodes a sequential scan of every component, handing rows
// of MCUs to the sink as they are done. This is the hot path: the bit
// accumulator lives in registers, most AC coefficients are one lookup, and
// for the DCT path the Y coefficients become output tokens as they are
// read (tokenizeBlock), without a block in between.
func (d *jpegDecoder) streamHuffman(sc *jpegScan, p int) (int, error) {
	h := &d.hdr
	type scanComp struct {
		dc, ac *huffTable
		ci     int
		h, v   int
		pw     int
		mode   int
	}
	var tz *yTokenizer
	if ts, ok := d.sink.(interface{ tokenizer() *yTokenizer }); ok {
		tz = ts.tokenizer()
	}
	ns := len(sc.comps)
	var comps [4]scanComp
	buffers := false
	for i, ci := range sc.comps {
		c := &h.comps[ci]
		comps[i] = scanComp{dc: &d.dc[sc.td[i]], ac: &d.ac[sc.ta[i]], ci: ci, h: c.h, v: c.v, pw: c.pw}
		switch {
		case ci == 0 && tz != nil:
			comps[i].mode = modeToken
		case d.want[ci]:
			comps[i].mode = modeBlock
			buffers = true
		}
	}
	rows, cols := h.my, h.mx
	if ns == 1 {
		c := &h.comps[sc.comps[0]]
		rows, cols = c.bh, c.bw
	}
	br := &bitReader{data: d.data, pos: p}
	acc, n := uint64(0), 0
	var pred [4]int32
	mcus := 0
	var tok *jpegTokens
	if tz != nil {
		tok = tz.tok
		for i := range tok.rows {
			tok.rows[i].off = make([]uint32, 1, tok.bw+1)
		}
	}
	for my := 0; my < rows; my++ {
		var rb *mcuRow
		if buffers {
			rb = d.rowBuffer()
			rb.y = my
		}
		for mx := 0; mx < cols; mx++ {
			if d.ri > 0 && mcus > 0 && mcus%d.ri == 0 {
				if n < br.fake {
					return 0, corruptf("unexpected end of data")
				}
				if err := br.restart(); err != nil {
					return 0, err
				}
				acc, n = 0, 0
				pred = [4]int32{}
			}
			mcus++
			for i := 0; i < ns; i++ {
				c := &comps[i]
				dct, act := c.dc, c.ac
				for y := 0; y < c.v; y++ {
					for x := 0; x < c.h; x++ {
						// DC.
						if n < 32 {
							acc, n = br.refill(acc, n)
						}
						var s uint
						if e := dct.lut[acc>>(64-lutBits)]; e != 0 {
							l := uint(e >> 8)
							acc <<= l & 63
							n -= int(l)
							s = uint(e & 0xff)
						} else {
							sym, l := dct.slow(acc)
							if l == 0 {
								return 0, corruptf("bad Huffman code")
							}
							acc <<= uint(l) & 63
							n -= l
							s = uint(sym)
						}
						if s > 15 {
							return 0, corruptf("bad DC size %d", s)
						}
						if s > 0 {
							v := int32(acc >> ((64 - s) & 63))
							acc <<= s & 63
							n -= int(s)
							pred[i] += extend(v, s)
						}
						mode := c.mode
						sy, sx := my*c.v+y, mx*c.h+x
						if mode == modeToken && sy < tok.bh && sx < tok.bw {
							tok.dc[sy*tok.bw+sx] = int16(pred[i])
							var cnt int
							var err error
							tz.act = act
							if tz.recon != nil && sy%4 == 0 {
								tz.sample = tz.recon // a row of blocks in four fits the steps
							}
							acc, n, cnt, err = tz.tokenizeBlock(br, acc, n)
							tz.sample = nil
							if err != nil {
								return 0, err
							}
							if tz.blk != nil {
								tz.blk[0] = int16(pred[i])
								tz.cells(sx, sy, tz.blk, tz.mask)
								*tz.blk, tz.mask = [64]int16{}, 0
							}
							tr := &tok.rows[sy]
							if tr.tok == nil {
								// Sized like the row before, so that it rarely grows.
								tr.tok = make([]uint16, 0, tz.rowHint+tok.bw*4)
							}
							tr.tok = append(tr.tok, tz.out[:cnt]...)
							if len(tr.off) == tok.bw {
								tz.rowHint = len(tr.tok) + len(tr.tok)/16
							}
							tr.off = append(tr.off, uint32(len(tr.tok)))
							continue
						}
						var blk *[64]int16
						var nz *uint64
						if mode == modeBlock {
							k := y*c.pw + sx
							blk, nz = (*[64]int16)(rb.blk[c.ci][64*k:]), &rb.nz[c.ci][k]
							blk[0] = int16(pred[i])
						}
						var err error
						if acc, n, err = br.decodeAC(acc, n, act, blk, nz); err != nil {
							return 0, err
						}
					}
				}
			}
		}
		if n < br.fake {
			return 0, corruptf("unexpected end of data")
		}
		if rb != nil {
			d.pool.send(rb, true)
		}
		if err := d.ctxErr(); err != nil {
			return 0, err
		}
		if err := d.pool.err(); err != nil {
			return 0, err
		}
	}
	return entropyEnd(br.data, br.pos), nil
}

// decodeAC decodes the AC coefficients of a sequential block into blk
// (natural order), setting the zig-zag positions of the nonzero ones in
// nz; with blk nil it only reads past them (the chroma of the DCT path).
// The accumulator goes in and out in registers.
func (br *bitReader) decodeAC(acc uint64, n int, act *huffTable, blk *[64]int16, nz *uint64) (uint64, int, error) {
	var mask uint64
	for k := 1; k < 64; k++ {
		if n < 32 {
			acc, n = br.refill(acc, n)
		}
		var v int32
		if e := act.ac[acc>>(64-lutBits)]; e != 0 {
			acc <<= uint(e) & 15
			n -= int(e & 15)
			r := int(e>>8) & 0xff
			if r == 0xff {
				break
			}
			k += r
			v = e >> 16
		} else {
			rs, l := act.symbol(acc)
			if l == 0 {
				return acc, n, corruptf("bad Huffman code")
			}
			acc <<= uint(l) & 63
			n -= l
			r, s := int(rs>>4), uint(rs&15)
			if s == 0 {
				if r != 15 {
					break
				}
				k += 15
				continue
			}
			k += r
			v = extend(int32(acc>>((64-s)&63)), s)
			acc <<= s & 63
			n -= int(s)
		}
		if k > 63 {
			return acc, n, corruptf("AC index out of range")
		}
		if blk != nil {
			blk[zigzag[k&63]] = int16(v)
			mask |= 1 << (k & 63)
		}
	}
	if blk != nil {
		*nz = mask
	}
	return acc, n, nil
}

// symbol decodes one symbol from the left-aligned bits in acc: its value
// and code length (0 for an invalid code).
func (t *huffTable) symbol(acc uint64) (uint8, int) {
	if e := t.lut[acc>>(64-lutBits)]; e != 0 {
		return uint8(e), int(e >> 8)
	}
	return t.slow(acc)
}

// tokenizeBlock decodes the AC coefficients of one Y block and writes them
// to tz.out as the output's tokens, each coefficient sign-changed and
// requantised as tz says and the runs of zeros recounted, and counts the
// symbols. It returns the number of words written. When tz.blk is not nil
// the coefficients as read are also stored there (natural order) and their
// zig-zag positions set in tz.mask, for the thumbnails' cell means. Few
// values live across the loop, so that they stay in registers: the rest is
// reached through tz. Its symbol decoding is decodeAC's, written out again:
// a call per coefficient would cost this hot loop a third more time.
func (tz *yTokenizer) tokenizeBlock(br *bitReader, acc uint64, n int) (uint64, int, int, error) {
	act := tz.act
	last, cnt := 0, 0 // zig-zag position of the last nonzero output coefficient, words written
	for k := 1; k < 64; k++ {
		if n < 32 {
			acc, n = br.refill(acc, n)
		}
		var v int32
		if e := act.ac[acc>>(64-lutBits)]; e != 0 {
			acc <<= uint(e) & 15
			n -= int(e & 15)
			r := int(e>>8) & 0xff
			if r == 0xff {
				break
			}
			k += r
			v = e >> 16
		} else {
			rs, l := act.symbol(acc)
			if l == 0 {
				return acc, n, 0, corruptf("bad Huffman code")
			}
			acc <<= uint(l) & 63
			n -= l
			r, s := int(rs>>4), uint(rs&15)
			if s == 0 {
				if r != 15 {
					break
				}
				k += 15
				continue
			}
			k += r
			v = extend(int32(acc>>((64-s)&63)), s)
			acc <<= s & 63
			n -= int(s)
		}
		if k > 63 {
			return acc, n, 0, corruptf("AC index out of range")
		}
		if tz.blk != nil {
			tz.blk[zigzag[k&63]] = int16(v)
			tz.mask |= 1 << (k & 63)
		}
		if uint32(v+16) < 32 && tz.useSmall {
			// Small values (nearly all): the sign change, requantisation,
			// size and extra bits are one lookup.
			e := tz.small[k&63][(v+16)&31]
			if tz.sample != nil {
				tz.sample.small[k&63][(v+16)&31]++
			}
			if e == 0 {
				continue // requantised to zero: the run goes on
			}
			run := k - last - 1
			last = k
			for run >= 16 {
				tz.out[cnt&255] = tokZRL
				cnt++
				tz.hist[0xf0]++
				run -= 16
			}
			t := uint32(run)<<12 | uint32(e)
			tz.hist[(t>>8)&0xff]++
			tz.out[cnt&255] = uint16(t)
			cnt++
			continue
		}
		if !tz.keep {
			if tz.neg[k&63] {
				v = -v
			}
			q := requant(v, tz.mul[k&63])
			if tz.sample != nil {
				tz.sample.add(k, v, q)
			}
			if v = q; v == 0 {
				continue
			}
		}
		// The token: ZRLs for runs past 15, then size and extra bits.
		run := k - last - 1
		last = k
		for run >= 16 {
			tz.out[cnt&255] = tokZRL
			cnt++
			tz.hist[0xf0]++
			run -= 16
		}
		sign := v >> 31
		a := (v ^ sign) - sign
		if a > 1023 {
			a = 1023
			v = (1023 ^ sign) - sign
		}
		size := uint32(bits.Len32(uint32(a)))
		sym := uint32(run)<<4 | size
		b := uint32(v+sign) & (1<<(size&31) - 1)
		tz.hist[sym&0xff]++
		tz.out[cnt&255] = uint16(sym<<8 | b&0xff)
		cnt++
		if size > 8 {
			tz.out[cnt&255] = uint16(b >> 8)
			cnt++
		}
	}
	if last != 63 {
		tz.out[cnt&255] = tokEOB
		cnt++
		tz.hist[0]++
	}
	return acc, n, cnt, nil
}

// huffSeq decodes the blocks of a sequential scan that is not streamed
// (one scan of several in a file).
type huffSeq struct {
	bitReader
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
	bitReader
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
	br := bitReader{data: d.data, pos: p}
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
