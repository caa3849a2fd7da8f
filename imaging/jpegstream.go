package imaging

import "encoding/binary"

// The streamed sequential Huffman decoder: one scan of every component
// (nearly every camera JPEG), decoded MCU by MCU with rows handed to the
// sink as they are done. It is the hot path of the package, so each kind
// of block has its own loop: tokenizeBlock turns Y blocks straight into
// the gray output's tokens (the DCT path), decodeBlock fills a block of
// coefficients (the pixel path), skipBlock reads past the blocks of
// components nobody reads. Each loop keeps the bit accumulator in
// registers, refills it with one load (bitReader) and decodes a code,
// its run and its value with one lookup (fastTable); codes that do not
// fit go the slow way.

// Modes of a component in streamHuffman.
const (
	modeSkip  = iota // decoded and dropped
	modeBlock        // into the row buffer, for the sink
	modeToken        // straight into the gray output's tokens (yTokenizer)
)

// streamComp is one component of a streamed scan.
type streamComp struct {
	dc, ac   *fastTable // fastDC, fastAC
	skip     *fastTable // fastTable.skip
	dcT, acT *huffTable
	ci       int
	h, v     int
	pw       int
	mode     int
}

// streamHuffman decodes a sequential scan of every component, handing rows
// of MCUs to the sink as they are done.
func (d *jpegDecoder) streamHuffman(sc *jpegScan, p int) (int, error) {
	h := &d.hdr
	var tz *yTokenizer
	if ts, ok := d.sink.(interface{ tokenizer() *yTokenizer }); ok {
		tz = ts.tokenizer()
	}
	ns := len(sc.comps)
	var comps [4]streamComp
	buffers := false
	// The fast tables, built once for each table the scan uses.
	type built struct {
		t    *huffTable
		f    *fastTable
		kind int
	}
	var made []built
	var table func(t *huffTable, kind int) *fastTable
	table = func(t *huffTable, kind int) *fastTable {
		for _, b := range made {
			if b.t == t && b.kind == kind {
				return b.f
			}
		}
		f := new(fastTable)
		switch kind {
		case 0:
			t.fastDC(f)
		case 1:
			t.fastAC(f, false, 15)
		default:
			f.skip(table(t, 1))
		}
		made = append(made, built{t, f, kind})
		return f
	}
	for i, ci := range sc.comps {
		c := &h.comps[ci]
		dcT, acT := &d.dc[sc.td[i]], &d.ac[sc.ta[i]]
		comps[i] = streamComp{dc: table(dcT, 0), dcT: dcT, acT: acT, ci: ci, h: c.h, v: c.v, pw: c.pw}
		switch {
		case ci == 0 && tz != nil:
			comps[i].mode = modeToken
			tz.dcTab, tz.dcT, tz.acT = comps[i].dc, dcT, acT
			maxSize := uint(shortToken)
			if !tz.useSmall {
				maxSize = 0 // every value the slow way
			}
			acT.fastAC(&tz.acTab, true, maxSize)
			comps[i].skip = table(acT, 2) // for the blocks past the image's edge
		case d.want[ci]:
			comps[i].mode = modeBlock
			comps[i].ac = table(acT, 1)
			buffers = true
		default:
			comps[i].skip = table(acT, 2)
		}
	}
	rows, cols := h.my, h.mx
	if ns == 1 {
		c := &h.comps[sc.comps[0]]
		rows, cols = c.bh, c.bw
	}
	br := newBitReader(d.data, p)
	var pred [4]int32
	mcus := 0
	var tok *jpegTokens
	if tz != nil {
		tok = tz.tok
	}
	for my := 0; my < rows; my++ {
		var rb *mcuRow
		if buffers {
			rb = d.rowBuffer()
			rb.y = my
		}
		for mx := 0; mx < cols; mx++ {
			if d.ri > 0 && mcus > 0 && mcus%d.ri == 0 {
				if br.overrun() {
					return 0, corruptf("unexpected end of data")
				}
				if err := br.restart(); err != nil {
					return 0, err
				}
				pred = [4]int32{}
			}
			mcus++
			for i := 0; i < ns; i++ {
				c := &comps[i]
				// The usual blocks first, in loops of their own: Y blocks
				// all inside the image, and skipped components.
				if c.mode == modeToken && (my+1)*c.v <= tok.bh && (mx+1)*c.h <= tok.bw {
					for y := 0; y < c.v; y++ {
						b := (my*c.v+y)*tok.bw + mx*c.h
						for x := 0; x < c.h; x, b = x+1, b+1 {
							diff, cnt, err := tz.tokenizeBlock(br, tok.reserve())
							if err != nil {
								return 0, err
							}
							tok.add(b, cnt, tz.esc)
							pred[i] += diff
							tok.dc[b] = int16(pred[i])
							if tz.cells != nil {
								tz.blk[0] = int16(pred[i])
								tz.cells(mx*c.h+x, my*c.v+y, &tz.blk, tz.mask)
							}
						}
					}
					continue
				}
				if c.mode == modeSkip {
					for k := c.h * c.v; k > 0; k-- {
						diff, err := br.skipBlock(c)
						if err != nil {
							return 0, err
						}
						pred[i] += diff
					}
					continue
				}
				for y := 0; y < c.v; y++ {
					for x := 0; x < c.h; x++ {
						var diff int32
						var err error
						sy, sx := my*c.v+y, mx*c.h+x
						switch {
						case c.mode == modeToken && sy < tok.bh && sx < tok.bw:
							var cnt int
							diff, cnt, err = tz.tokenizeBlock(br, tok.reserve())
							tok.add(sy*tok.bw+sx, cnt, tz.esc)
							tok.dc[sy*tok.bw+sx] = int16(pred[i] + diff)
							if err == nil && tz.cells != nil {
								tz.blk[0] = int16(pred[i] + diff)
								tz.cells(sx, sy, &tz.blk, tz.mask)
							}
						case c.mode == modeBlock:
							k := y*c.pw + sx
							blk := (*[64]int16)(rb.blk[c.ci][64*k:])
							diff, err = br.decodeBlock(c, blk, &rb.nz[c.ci][k])
							blk[0] = int16(pred[i] + diff)
						default:
							diff, err = br.skipBlock(c)
						}
						if err != nil {
							return 0, err
						}
						pred[i] += diff
					}
				}
			}
		}
		if br.overrun() {
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
	return br.end(), nil
}

// dc decodes the DC difference of a block.
func (b *bitReader) dc(f *fastTable, t *huffTable) (int32, error) {
	if b.n < fastBits {
		b.fill()
	}
	if e := f[b.acc>>(64-fastBits)]; e != 0 {
		b.acc <<= e & 63
		b.n -= int(e & 0xff)
		return int32(e) >> 16, nil
	}
	s, err := b.decode(t)
	if err != nil {
		return 0, err
	}
	if s > 15 {
		return 0, corruptf("bad DC size %d", s)
	}
	return b.receive(uint(s)), nil
}

// ac decodes an AC symbol and its value the slow way.
func (b *bitReader) ac(t *huffTable) (uint8, int32, error) {
	rs, err := b.decode(t)
	if err != nil {
		return 0, 0, err
	}
	return rs, b.receive(uint(rs & 15)), nil
}

// decodeBlock decodes the AC coefficients of a block into blk (natural
// order), setting the zig-zag positions of the nonzero ones in nz, and
// returns its DC difference.
func (b *bitReader) decodeBlock(c *streamComp, blk *[64]int16, nz *uint64) (int32, error) {
	diff, err := b.dc(c.dc, c.dcT)
	if err != nil {
		return 0, err
	}
	acc, n, p, lim, buf := b.acc, b.n, b.p, b.lim, b.buf
	tab := c.ac
	var mask uint64
	for k := 0; ; {
		if n < fastBits {
			if p > lim {
				acc, n, p = b.refill(acc, n, p)
				lim = b.lim
			} else {
				acc |= binary.BigEndian.Uint64(buf[p:]) >> (uint(n) & 63)
				p += (63 - n) >> 3
				n |= 56
			}
		}
		e := tab[acc>>(64-fastBits)]
		var v int32
		if e != 0 {
			acc <<= e & 63
			n -= int(e & 0xff)
			k += int(e>>8) & 0xff
			v = int32(e) >> 16
		} else {
			b.acc, b.n, b.p = acc, n, p
			rs, val, err := b.ac(c.acT)
			acc, n, p, lim = b.acc, b.n, b.p, b.lim
			if err != nil {
				return 0, err
			}
			r, s := int(rs>>4), rs&15
			switch {
			case s != 0:
				k += r + 1
				v = val
			case r == 15:
				k += 16
			default:
				k += fastEOB
			}
		}
		if uint(k) >= 63 {
			if k > 63 {
				if v != 0 {
					return 0, corruptf("AC index out of range")
				}
				break // end of block, or zeros past its end (as libjpeg reads them)
			}
			if v != 0 {
				blk[zigzag[63]] = int16(v)
				mask |= 1 << 63
			}
			break
		}
		if v != 0 {
			blk[zigzag[k&63]] = int16(v)
			mask |= 1 << (k & 63)
		}
	}
	*nz = mask
	b.acc, b.n, b.p = acc, n, p
	return diff, nil
}

// skipBlock reads past a block, returning its DC difference. Several
// codes go by in one lookup (fastTable.skip) while they stay inside the
// block.
func (b *bitReader) skipBlock(c *streamComp) (int32, error) {
	diff, err := b.dc(c.dc, c.dcT)
	if err != nil {
		return 0, err
	}
	acc, n, p, lim, buf := b.acc, b.n, b.p, b.lim, b.buf
	tab := c.skip
	for k := 0; ; {
		if n < fastBits {
			if p > lim {
				acc, n, p = b.refill(acc, n, p)
				lim = b.lim
			} else {
				acc |= binary.BigEndian.Uint64(buf[p:]) >> (uint(n) & 63)
				p += (63 - n) >> 3
				n |= 56
			}
		}
		e := tab[acc>>(64-fastBits)]
		if e != 0 && k+int(e>>5&127) < 63 {
			acc <<= e & 31
			n -= int(e & 31)
			k += int(e>>5) & 127
			if e&(1<<12) != 0 {
				break // end of block
			}
			continue
		}
		coef := true
		if e != 0 { // the first code alone
			acc <<= (e >> 16) & 31
			n -= int(e>>16) & 31
			k += int(e>>21) & 0xff
			coef = e&(1<<29) != 0
		} else {
			b.acc, b.n, b.p = acc, n, p
			rs, _, err := b.ac(c.acT)
			acc, n, p, lim = b.acc, b.n, b.p, b.lim
			if err != nil {
				return 0, err
			}
			r, s := int(rs>>4), rs&15
			switch {
			case s != 0:
				k += r + 1
			case r == 15:
				k, coef = k+16, false
			default:
				k, coef = k+fastEOB, false
			}
		}
		if uint(k) >= 63 {
			if k > 63 && coef {
				return 0, corruptf("AC index out of range")
			}
			break
		}
	}
	b.acc, b.n, b.p = acc, n, p
	return diff, nil
}

// tokenizeBlock decodes one Y block and writes its AC coefficients to dst
// as the output's tokens, each coefficient sign-changed and requantised as
// tz says and the runs of zeros recounted; it counts the symbols and the
// input values, and returns the block's DC difference and the number of
// bytes written (at most tokRoom), setting tz.esc when they hold an
// escaped word. With tz.cells set it also stores the
// coefficients as read in tz.blk and their positions in tz.mask.
func (tz *yTokenizer) tokenizeBlock(b *bitReader, dst *[tokRoom]byte) (int32, int, error) {
	var diff int32
	tz.esc = false
	if b.n < fastBits {
		b.fill()
	}
	if e := tz.dcTab[b.acc>>(64-fastBits)]; e != 0 {
		b.acc <<= e & 63
		b.n -= int(e & 0xff)
		diff = int32(e) >> 16
	} else {
		var err error
		if diff, err = b.dc(tz.dcTab, tz.dcT); err != nil {
			return 0, 0, err
		}
	}
	k, last, cnt := 0, 0, 0 // zig-zag position of the last coefficient read, and of the last written; bytes written
	cells := tz.cells != nil
	var mask uint64 // with cells: the zig-zag positions read
	for {
		var e uint32
		var why int
		var d int
		if cells {
			k, d, cnt, mask, e, why = tz.fastACCells(b, 0, dst, k, k-last, cnt, mask)
		} else {
			k, d, cnt, e, why = tz.fastAC(b, 0, dst, k, k-last, cnt)
		}
		last = k - d
		switch why {
		case fastRefill:
			b.fill()
			continue
		case fastSlow:
			// A long code or a large value.
			rs, v, err := b.ac(tz.acT)
			if err != nil {
				return 0, 0, err
			}
			r, s := int(rs>>4), rs&15
			if s == 0 {
				if r != 15 {
					break // end of block
				}
				if k += 16; k >= 63 {
					break
				}
				continue
			}
			if k += r + 1; k > 63 {
				return 0, 0, corruptf("AC index out of range")
			}
			if cells {
				tz.blk[zigzag[k&63]] = int16(v)
				mask |= 1 << (k & 63)
			}
			if cnt, last = tz.value(dst, cnt, last, k, v); k < 63 {
				continue
			}
		case fastToken: // a coefficient (counted) that needs ZRLs before it, or has no byte token
			if tb := tz.small[(int(e>>16)|k)&(64*32-1)]; tb != 0 {
				cnt = tz.putToken(dst, cnt, k-last-1, tb)
				last = k
			}
			continue
		default: // k reached 63 or past it
			if k > 63 {
				if e>>16 != 16<<6 {
					return 0, 0, corruptf("AC index out of range")
				}
				break // end of block, or zeros past its end (as libjpeg reads them)
			}
			i := (int(e>>16) | 63) & (64*32 - 1)
			tz.count[i]++
			if cells {
				tz.blk[zigzag[63]] = int16(e>>22) - 16
				mask |= 1 << 63
			}
			if tb := tz.small[i]; tb != 0 {
				cnt = tz.putToken(dst, cnt, 62-last, tb)
				last = 63
			}
		}
		break
	}
	if last != 63 {
		dst[cnt&(tokRoom-1)] = tokByte[tokEOB]
		cnt++
		tz.hist[0]++
	}
	tz.mask = mask
	return diff, cnt, nil
}

// fastRun is how many codes fastAC reads after topping up its bits to 56
// or more, each with fastBits at most.
const fastRun = 5

const _ uint = 56 - fastRun*fastBits // does not compile when they would not fit

// fastSlowEntry stands in the tokenizer's AC table for the codes that are
// not in it (a long code or a large value): it uses no bits and moves on
// by 64 positions, so that fastAC's test for the block's end catches it
// too, and takes it back.
const fastSlowEntry = 64 << 8

// fastZero is yTokenizer.fast's value for a value that is zero once
// requantised (and for a ZRL's zero): the run of zeros goes on through
// it. Token bodies are at most 0x37.
const fastZero = 0x3f

// Why fastAC stopped.
const (
	fastRefill = iota // the data to refill from is not in the buffer
	fastSlow          // a code or value not in the table
	fastToken         // a nonzero coefficient after 16 zeros or more, or of size 4
	fastEnd           // at position 63 or past it
)

// fastAC is the hot loop of tokenizeBlock: the coefficients after
// position k whose code and value fit the fast table, until the block's
// last position, its end or something the loop does not do. d is the
// distance from the last coefficient written to k. It returns k, d and the
// bytes written, why it stopped and for fastEnd and fastToken the last
// table entry. It calls nothing and its body is
// one path, so that its values stay in registers; the second argument is
// not used: it takes the register that a shift by a variable needs on
// amd64.
func (tz *yTokenizer) fastAC(b *bitReader, _ uint, dst *[tokRoom]byte, k, d, cnt int) (int, int, int, uint32, int) {
	acc, n := b.acc, b.n
	_, _ = tz.hist[0], dst[0] // the nil checks, once
	for {
		// Top up to 56 bits or more whenever the data is in the buffer,
		// so that the next fastRun codes need no test of the bits left
		// (each takes fastBits at most): testing before every code
		// mispredicted once per top-up.
		end := cnt + fastRun // each code read writes a byte, returns, or takes end back by one
		if p := b.p; p <= b.lim {
			nb := (63 - n) >> 3
			acc |= binary.BigEndian.Uint64(b.buf[p:]) >> (uint(n) & 63)
			b.p = p + nb
			n += nb << 3
		} else if n < fastBits {
			b.acc, b.n = acc, n
			return k, d, cnt, 0, fastRefill
		} else {
			end = cnt + 1 // near the end of what is unstuffed: a test for each code
		}
		for cnt < end {
			e := tz.acTab[acc>>(64-fastBits)]
			acc <<= e & 63
			n -= int(e & 0xff)
			adv := int(e>>8) & 0xff
			k += adv
			if uint(k) >= 63 { // or a code not in the table: fastSlowEntry
				b.acc, b.n = acc, n
				if e == fastSlowEntry {
					return k - adv, d, cnt, 0, fastSlow
				}
				return k, d + adv, cnt, e, fastEnd
			}
			d += adv
			// Nearly every coefficient: the sign change, requantisation, size
			// and extra bits are one lookup.
			i := (int(e>>16) | k) & (64*32 - 1)
			tz.count[i]++
			// 0 for a value with no byte token, or after more than 16
			// zeros: one test for both, and no bounds check (d < 64).
			tb := tz.fast[i]
			t := tz.runByte[(uint(d)<<6|uint(tb))&(64<<6-1)]
			if t == 0 {
				if tb == fastZero { // a zero (a ZRL's 16th, or requantised): the run goes on
					end-- // a code read without a byte written
					continue
				}
				b.acc, b.n = acc, n
				return k, d, cnt, e, fastToken
			}
			d = 0
			dst[cnt&(tokRoom-1)] = t
			cnt++
			tz.histB[t]++
		}
	}
}

// fastACCells is fastAC for a tokenizer with cells: each coefficient read
// is also stored in tz.blk and its position set in mask. It is fastAC with
// those two stores, kept apart so that the loop without cells (the usual
// one: thumbnails from the DCs) keeps its registers.
func (tz *yTokenizer) fastACCells(b *bitReader, _ uint, dst *[tokRoom]byte, k, d, cnt int, mask uint64) (int, int, int, uint64, uint32, int) {
	acc, n := b.acc, b.n
	_, _ = tz.hist[0], dst[0] // the nil checks, once
	for {
		// Top up to 56 bits or more whenever the data is in the buffer,
		// so that the next fastRun codes need no test of the bits left
		// (each takes fastBits at most): testing before every code
		// mispredicted once per top-up.
		end := cnt + fastRun // each code read writes a byte, returns, or takes end back by one
		if p := b.p; p <= b.lim {
			nb := (63 - n) >> 3
			acc |= binary.BigEndian.Uint64(b.buf[p:]) >> (uint(n) & 63)
			b.p = p + nb
			n += nb << 3
		} else if n < fastBits {
			b.acc, b.n = acc, n
			return k, d, cnt, mask, 0, fastRefill
		} else {
			end = cnt + 1 // near the end of what is unstuffed: a test for each code
		}
		for cnt < end {
			e := tz.acTab[acc>>(64-fastBits)]
			acc <<= e & 63
			n -= int(e & 0xff)
			adv := int(e>>8) & 0xff
			k += adv
			if uint(k) >= 63 { // or a code not in the table: fastSlowEntry
				b.acc, b.n = acc, n
				if e == fastSlowEntry {
					return k - adv, d, cnt, mask, 0, fastSlow
				}
				return k, d + adv, cnt, mask, e, fastEnd
			}
			d += adv
			// The value is (e>>16)>>6 - 16 (tokIndex); a ZRL stores a zero.
			tz.blk[zigzag[k&63]] = int16(e>>22) - 16
			mask |= 1 << (k & 63)
			i := (int(e>>16) | k) & (64*32 - 1)
			tz.count[i]++
			// 0 for a value with no byte token, or after more than 16
			// zeros: one test for both, and no bounds check (d < 64).
			tb := tz.fast[i]
			t := tz.runByte[(uint(d)<<6|uint(tb))&(64<<6-1)]
			if t == 0 {
				if tb == fastZero { // a zero (a ZRL's 16th, or requantised): the run goes on
					end-- // a code read without a byte written
					continue
				}
				b.acc, b.n = acc, n
				return k, d, cnt, mask, e, fastToken
			}
			d = 0
			dst[cnt&(tokRoom-1)] = t
			cnt++
			tz.histB[t]++
		}
	}
}

// putZRL writes the ZRL tokens of a run of zeros of 16 or more.
func putZRL(dst *[tokRoom]byte, cnt, run int, hist *[256]uint32) int {
	for ; run >= 16; run -= 16 {
		dst[cnt&(tokRoom-1)] = tokByte[tokZRL]
		cnt++
		hist[0xf0]++
	}
	return cnt
}

// putToken writes the token of a coefficient whose size and extra bits
// are tb, after run zeros.
func (tz *yTokenizer) putToken(dst *[tokRoom]byte, cnt, run int, tb uint16) int {
	if run >= 16 {
		cnt = putZRL(dst, cnt, run, &tz.hist)
		run &= 15
	}
	t := uint16(run)<<8 | tb
	tz.hist[uint8(t>>4)]++
	return putWord(dst, cnt, t, &tz.esc)
}

// value tokenizes coefficient v at zig-zag position k the long way (a
// value the fast table does not hold), returning the bytes written and
// the position of the last coefficient written.
func (tz *yTokenizer) value(dst *[tokRoom]byte, cnt, last, k int, v int32) (int, int) {
	if uint32(v+15) < 31 && tz.useSmall {
		i := tokIndex(k, v) & (64*32 - 1)
		tz.count[i]++
		if tb := tz.small[i]; tb != 0 {
			return tz.putToken(dst, cnt, k-last-1, tb), k
		}
		return cnt, last
	}
	if !tz.keep {
		if tz.neg[k&63] {
			v = -v
		}
		q := requant(v, tz.mul[k&63])
		if tz.recon != nil {
			tz.recon.add(k, v, q)
		}
		if v = q; v == 0 {
			return cnt, last
		}
	}
	v = max(-1023, min(1023, v))
	size, b := magnitude(v)
	if size <= shortToken {
		return tz.putToken(dst, cnt, k-last-1, uint16(size<<4|b)), k
	}
	run := k - last - 1
	if run >= 16 {
		cnt = putZRL(dst, cnt, run, &tz.hist)
		run &= 15
	}
	sym := uint32(run)<<4 | size
	tz.hist[sym]++
	cnt = putWord(dst, cnt, uint16(tokCode|sym), &tz.esc)
	return putWord(dst, cnt, uint16(tokRaw+size<<10|b), &tz.esc), k
}
