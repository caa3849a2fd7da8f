package imaging

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"sync"
)

// The gray baseline JPEG writer. Whatever makes the blocks (the forward
// DCT of a raster here, or the coefficients of a JPEG being transcoded in
// jpegdct.go), they become jpegTokens: per block its DC and its AC
// coefficients as Huffman symbols with their extra bits, and the count of
// every symbol. The tables are then the optimal ones for those counts
// (T.81 K.2), and rows of blocks are entropy-coded on all cores, one
// restart interval per row, and concatenated. Only SOI, DQT, SOF0, DHT,
// DRI, SOS and EOI are written: no metadata.

// zigzag[i] is the natural (row-major) index of the i-th coefficient in
// zig-zag order.
var zigzag = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

// unzigzag[n] is the zig-zag position of natural index n.
var unzigzag = func() (u [64]uint8) {
	for k, n := range zigzag {
		u[n] = uint8(k)
	}
	return u
}()

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

// aanScale[k] is the AAN DCT's output scale of frequency k.
var aanScale = func() (s [8]float64) {
	s[0] = 1
	for k := 1; k < 8; k++ {
		s[k] = math.Cos(float64(k)*math.Pi/16) * math.Sqrt2
	}
	return s
}()

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

// hasFF reports whether a byte of v is 0xFF (a zero byte of ^v).
func hasFF(v uint32) bool {
	return (^v-0x01010101)&v&0x80808080 != 0
}

// magnitude returns the JPEG size category of v and its extra bits.
func magnitude(v int32) (uint32, uint32) {
	// Branch-free: signs are unpredictable.
	sign := v >> 31
	a := (v ^ sign) - sign
	v += sign
	var n uint32
	if a < int32(len(bitLen)) {
		n = uint32(bitLen[a])
	} else {
		n = uint32(bits.Len32(uint32(a)))
	}
	return n, uint32(v) & (1<<(n&31) - 1)
}

// bitLen[a] is the bit length of a, for the common magnitudes.
var bitLen = func() (t [2048]uint8) {
	for i := range t {
		t[i] = uint8(bits.Len32(uint32(i)))
	}
	return t
}()

// A token is one AC Huffman symbol (run << 4 | size, or 0x00 end of
// block, 0xF0 sixteen zeros) with its extra bits, as a word of 16 bits
// that indexes the writer's table of codes (tokenTable):
//
//	run << 8 | size << 4 | extra bits   size 0 to 4
//	tokCode | symbol, tokRaw + size << 10 | extra bits
//	                                    size 5 to 10: the code, then the bits
//
// Words are stored as bytes: the commonest words (tokByte) are one byte
// each, any other is tokEscape and the word's two bytes, high first. A
// 12 MP photo's tokens take half the memory they would as words (4 MB
// less to fault in), and the writer's table of bytes fits in a few cache
// lines.
const (
	tokEOB  = 0x000
	tokZRL  = 0xf00
	tokCode = 0x1000
	tokRaw  = 0x1000 // plus size << 10: 0x2400 and up
)

// shortToken is the largest size category a one-word token holds.
const shortToken = 4

// tokEscape is the byte before a word that has no byte of its own.
const tokEscape = 0xff

// tokByte[w] is the byte of short word w (tokEscape for none) and
// tokWord[b] the word of byte b: end of block and ZRL, every value of
// size 1 to 3 after any run (so that the tokenizer's fast loop needs no
// escape), and of size 4 after no zeros; 242 bytes. tokRunByte[(run+1)
// << 6 | size << 4 | extra bits] is the byte of a value of size 1 to 3
// after run zeros; it is 0 (the byte of an end of block, never a value's)
// for size 0 or a run over 15, up to 62.
var tokByte, tokWord, tokRunByte = func() (b [1 << 12]uint8, w [256]uint16, rb [64 << 6]uint8) {
	for i := range b {
		b[i] = tokEscape
	}
	n := 0
	add := func(word uint16) {
		b[word], w[n] = uint8(n), word
		n++
	}
	add(tokEOB)
	add(tokZRL)
	for size, runs := range [...]int{1: 16, 2: 16, 3: 16, 4: 1} {
		for run := 0; run < runs; run++ {
			for bits := 0; bits < 1<<size; bits++ {
				add(uint16(run<<8 | size<<4 | bits))
				if size <= 3 {
					rb[(run+1)<<6+size<<4|bits] = b[run<<8|size<<4|bits]
				}
			}
		}
	}
	return b, w, rb
}()

// appendWord appends the bytes of token word w.
func appendWord(dst []byte, w uint16) []byte {
	if w < 1<<12 {
		if b := tokByte[w]; b != tokEscape {
			return append(dst, b)
		}
	}
	return append(dst, tokEscape, byte(w>>8), byte(w))
}

// putWord writes the bytes of token word w at dst[cnt:] and returns the
// count after them, noting an escape in *esc.
func putWord(dst *[tokRoom]byte, cnt int, w uint16, esc *bool) int {
	if w < 1<<12 {
		if b := tokByte[w]; b != tokEscape {
			dst[cnt&(tokRoom-1)] = b
			return cnt + 1
		}
	}
	*esc = true
	dst[cnt&(tokRoom-1)] = tokEscape
	dst[(cnt+1)&(tokRoom-1)] = byte(w >> 8)
	dst[(cnt+2)&(tokRoom-1)] = byte(w)
	return cnt + 3
}

// tokRoom is room for the tokens of any block: 63 coefficients of two
// escaped words each, and an end of block; a power of two.
const tokRoom = 512

// addByteHist adds the symbol counts of the byte tokens counted by byte
// in hb to the symbol counts in h.
func addByteHist(h *[256]uint32, hb *[256]uint32) {
	for b, n := range hb {
		if n != 0 && b != tokEscape {
			h[uint8(tokWord[b]>>4)] += n
		}
	}
}

// appendToken appends the token of a nonzero coefficient v after run zeros
// (run < 16) and counts its symbol.
func appendToken(dst []byte, run int, v int32, hist *[256]uint32) []byte {
	n, b := magnitude(v)
	sym := uint32(run)<<4 | n
	hist[sym&0xff]++
	if n <= shortToken {
		return appendWord(dst, uint16(sym<<4|b))
	}
	return append(dst, tokEscape, byte((tokCode|sym)>>8), byte(sym), tokEscape, byte((tokRaw+n<<10|b)>>8), byte(b))
}

// appendTokens appends the AC tokens of one block given its coefficients
// in zig-zag order (only the positions set in mask are read; each within
// +-1023) and counts the symbols.
func appendTokens(dst []byte, z *[64]int32, mask uint64, hist *[256]uint32) []byte {
	last := 0
	for m := mask &^ 1; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		run := i - last - 1
		last = i
		for run >= 16 {
			dst = append(dst, tokByte[tokZRL])
			hist[0xf0]++
			run -= 16
		}
		dst = appendToken(dst, run, z[i&63], hist)
	}
	if last != 63 {
		dst = append(dst, tokByte[tokEOB])
		hist[0]++
	}
	return dst
}

// jpegTokens is a gray image as entropy-coder input. The blocks are stored
// as they were read (bw x bh); orient says how they are laid out in the
// output (EXIF orientation; the coefficients inside the blocks are already
// transformed). The tokens are in chunks: the decoder appends to chunks
// of its own (reserve, add), rows tokenized elsewhere are chunks each
// (addRow); ref says where each block's are.
type jpegTokens struct {
	w, h   int // output size in pixels (oriented)
	bw, bh int // stored blocks across and down
	orient int
	chunks [][]byte
	ref    []uint64 // per stored block: chunk << 44 | start << 12 | escaped << 11 | bytes
	total  int      // bytes of tokens in all
	cur    []byte   // the chunk add appends to
	dc     []int16  // per stored block, as read
	dcMul  int64    // requantises dc to the output table (32-bit fixed point)
	quant  [64]uint16
	qin    [64]int64   // the input's step by output zig-zag position, where coefficients are requantised
	recon  *reconStats // nil when nothing is requantised
	mu     sync.Mutex
	hist   [256]uint32 // AC symbol counts
}

func newJPEGTokens(w, h, bw, bh, orient int) *jpegTokens {
	return &jpegTokens{w: w, h: h, bw: bw, bh: bh, orient: orient, dcMul: requantOne,
		ref: make([]uint64, bw*bh), dc: make([]int16, bw*bh)}
}

// tokChunk is the size of the chunks the decoder appends to, in bytes.
const tokChunk = 1 << 20

// reserve returns room for the tokens of one block at the end of the
// chunk being appended to.
func (t *jpegTokens) reserve() *[tokRoom]byte {
	if cap(t.cur)-len(t.cur) < tokRoom {
		t.cur = make([]byte, 0, tokChunk)
		t.chunks = append(t.chunks, t.cur[:tokChunk])
	}
	return (*[tokRoom]byte)(t.cur[len(t.cur) : len(t.cur)+tokRoom])
}

// add records the cnt bytes just written at reserve's room as the tokens
// of stored block b; esc says whether they hold an escaped word.
func (t *jpegTokens) add(b, cnt int, esc bool) {
	var e uint64
	if esc {
		e = 1 << 11
	}
	t.ref[b] = uint64(len(t.chunks)-1)<<44 | uint64(len(t.cur))<<12 | e | uint64(cnt)
	t.cur = t.cur[:len(t.cur)+cnt]
	t.total += cnt
}

// addRow records toks as the tokens of stored row y, those of block x at
// off[x]..off[x+1].
func (t *jpegTokens) addRow(y int, toks []byte, off []uint32) {
	t.mu.Lock()
	c := uint64(len(t.chunks))
	t.chunks = append(t.chunks, toks)
	t.total += len(toks)
	t.mu.Unlock()
	for x := 0; x < t.bw; x++ {
		var e uint64
		if bytes.IndexByte(toks[off[x]:off[x+1]], tokEscape) >= 0 {
			e = 1 << 11
		}
		t.ref[y*t.bw+x] = c<<44 | uint64(off[x])<<12 | e | uint64(off[x+1]-off[x])
	}
}

// tokens returns the tokens of stored block b, and whether they hold an
// escaped word.
func (t *jpegTokens) tokens(b int) ([]byte, bool) {
	r := t.ref[b]
	s := r >> 12 & (1<<32 - 1)
	return t.chunks[r>>44][s : s+r&0x7ff], r&(1<<11) != 0
}

// addHist merges the symbol counts of some rows.
func (t *jpegTokens) addHist(h *[256]uint32) {
	t.mu.Lock()
	for i, n := range h {
		t.hist[i] += n
	}
	t.mu.Unlock()
}

// block returns the stored block (x, y) shown at output block (ox, oy).
func (t *jpegTokens) block(ox, oy int) (int, int) {
	x, y := ox, oy
	switch t.orient {
	case 2:
		x = t.bw - 1 - ox
	case 3:
		x, y = t.bw-1-ox, t.bh-1-oy
	case 4:
		y = t.bh - 1 - oy
	case 5:
		x, y = oy, ox
	case 6:
		x, y = oy, t.bh-1-ox
	case 7:
		x, y = t.bw-1-oy, t.bh-1-ox
	case 8:
		x, y = t.bw-1-oy, ox
	}
	return x, y
}

// reconStats gathers what sets the output table where coefficients are
// requantised. The quantised values (so the tokens, so the size) are those
// of the output quality's steps; the steps written to the table, which the
// decoder multiplies them by, are the least-squares fit of the input's
// dequantised values: sum(q*v)*qin / sum(q*q) per position. Requantised
// values mostly sit below the middle of their new intervals (a value of
// 1 at step 12 becomes 1 at step 18), so the fitted step is smaller than
// the nominal one and the output is closer to the input at no cost in
// bits.
type reconStats struct {
	mul      [64]int64      // requantisation by output zig-zag position; requantOne where kept
	small    [64][32]uint32 // counts of input values -16..15 by output position
	num, den [64]float64    // sum(q*v) and sum(q*q) of the other values
}

// add counts input value v (after any sign change) requantised to q at
// output position k.
func (r *reconStats) add(k int, v, q int32) {
	if uint32(v+16) < 32 {
		r.small[k&63][(v+16)&31]++
		return
	}
	r.num[k&63] += float64(q) * float64(v)
	r.den[k&63] += float64(q) * float64(q)
}

func (r *reconStats) merge(o *reconStats) {
	for k := range r.small {
		for i, n := range o.small[k] {
			r.small[k][i] += n
		}
		r.num[k] += o.num[k]
		r.den[k] += o.den[k]
	}
}

// finishTable sets the output steps of the requantised AC positions to
// their least-squares fits.
func (t *jpegTokens) finishTable() {
	r := t.recon
	for k := 1; k < 64; k++ {
		if r.mul[k] == requantOne {
			continue
		}
		num, den := r.num[k], r.den[k]
		for i, n := range r.small[k] {
			v := int32(i - 16)
			q := requant(v, r.mul[k])
			num += float64(n) * float64(q) * float64(v)
			den += float64(n) * float64(q) * float64(q)
		}
		if den > 0 {
			t.quant[zigzag[k]] = uint16(max(1, min(255, int64(num*float64(t.qin[k])/den+0.5))))
		}
	}
}

// requant scales a coefficient by mul, the ratio of the input's step to
// the output's in 32-bit fixed point (rounded down, so that the scaled
// value of a tie stays below it), rounding to nearest with ties toward
// zero (the smaller magnitude costs fewer bits and errs as much), and
// clamps it to what baseline coding can carry.
func requant(v int32, mul int64) int32 {
	a := int64(v)
	if a < 0 {
		a = -a
	}
	r := int32(min((a*mul+requantOne/2-1)>>32, 1023))
	if v < 0 {
		return -r
	}
	return r
}

const requantOne = 1 << 32

// optimalHuffman returns the code lengths (counts per length 1..16) and the
// symbols in code order of an optimal table for the symbol counts freq,
// limited to 16 bits and never using the all-ones code (T.81 K.2).
func optimalHuffman(freq *[256]uint32) ([16]uint8, []uint8) {
	var f [257]int64
	for i, n := range freq {
		f[i] = int64(n)
	}
	f[256] = 1 // reserves the all-ones code
	var size [257]int
	var next [257]int
	for i := range next {
		next[i] = -1
	}
	for {
		// The two least frequent; on ties the larger symbol, so the
		// reserved one ends up with the longest code.
		v1, v2 := -1, -1
		for i := range f {
			if f[i] == 0 {
				continue
			}
			if v1 < 0 || f[i] <= f[v1] {
				v2, v1 = v1, i
			} else if v2 < 0 || f[i] <= f[v2] {
				v2 = i
			}
		}
		if v2 < 0 {
			break
		}
		f[v1] += f[v2]
		f[v2] = 0
		for size[v1]++; next[v1] >= 0; size[v1]++ {
			v1 = next[v1]
		}
		next[v1] = v2
		for size[v2]++; next[v2] >= 0; size[v2]++ {
			v2 = next[v2]
		}
	}
	var count [300]int
	for _, s := range size {
		if s > 0 {
			count[s]++
		}
	}
	// Limit the lengths to 16 (Figure K.3).
	for i := len(count) - 1; i > 16; i-- {
		for count[i] > 0 {
			j := i - 2
			for count[j] == 0 {
				j--
			}
			count[i] -= 2
			count[i-1]++
			count[j+1] += 2
			count[j]--
		}
	}
	// Drop the reserved symbol's code, one of the longest.
	for i := 16; i > 0; i-- {
		if count[i] > 0 {
			count[i]--
			break
		}
	}
	var counts [16]uint8
	for i := 1; i <= 16; i++ {
		counts[i-1] = uint8(count[i])
	}
	// Symbols by code length, then by value (Figure K.4).
	var vals []uint8
	for l := 1; l < len(count); l++ {
		for s := 0; s < 256; s++ {
			if size[s] == l {
				vals = append(vals, uint8(s))
			}
		}
	}
	n := 0
	for _, c := range counts {
		n += int(c)
	}
	return counts, vals[:n]
}

// rowWalk says where the blocks of output row oy are stored: the first at
// stored block (x, y), the next ones each (dx, dy) further.
func (t *jpegTokens) rowWalk(oy int) (x, y, dx, dy int) {
	x, y = t.block(0, oy)
	x1, y1 := t.block(1, oy)
	return x, y, x1 - x, y1 - y
}

// encode writes the tokens as a baseline JPEG.
func (t *jpegTokens) encode() []byte {
	obw, obh := ceilDiv(t.w, 8), ceilDiv(t.h, 8)
	// The DCs, requantised, and the counts of the DC symbols (the
	// predictor starts at zero on every row: a restart interval per row).
	var dcHist [256]uint32
	var dcNum, dcDen float64
	for oy := 0; oy < obh; oy++ {
		x, y, dx, dy := t.rowWalk(oy)
		pred := int32(0)
		for ox := 0; ox < obw; ox++ {
			b := y*t.bw + x
			x, y = x+dx, y+dy
			v := int32(t.dc[b])
			if t.dcMul != requantOne {
				in := v
				v = requant(v, t.dcMul)
				dcNum += float64(v) * float64(in)
				dcDen += float64(v) * float64(v)
			}
			v = max(-1023, min(1023, v))
			n, bits := magnitude(v - pred)
			t.dc[b] = int16(n<<12 | bits) // the DC's token now: size << 12 | extra bits
			dcHist[n]++
			pred = v
		}
	}
	if t.recon != nil {
		t.finishTable()
	}
	if dcDen > 0 {
		t.quant[0] = uint16(max(1, min(255, int64(dcNum*float64(t.qin[0])/dcDen+0.5))))
	}
	dcCounts, dcVals := optimalHuffman(&dcHist)
	acCounts, acVals := optimalHuffman(&t.hist)
	dcCode, acCode := dcTable(&dcCounts, dcVals), newTokenTable(&acCounts, acVals)

	// The headers, then the bands' data: each band is coded into its own
	// region of the one output buffer, sized from its tokens and the
	// tables' bits per token, and the bands are then moved down to follow
	// each other, so that the data is not copied into fresh memory.
	hdr := t.header(&dcCounts, dcVals, &acCounts, acVals)
	var dcBits, acBits float64
	huffCodes(&dcCounts, dcVals, func(sym uint8, _, l uint64) { dcBits += float64(dcHist[sym]) * float64(l+uint64(sym&15)) })
	huffCodes(&acCounts, acVals, func(sym uint8, _, l uint64) { acBits += float64(t.hist[sym]) * float64(l+uint64(sym&15)) })
	perBlock, perWord := dcBits/8/float64(obw*obh), acBits/8/float64(max(1, t.total))
	bands := min(obh, 4*parallelism())
	sizes := make([]int, bands+1) // start of each band's region
	sizes[0] = len(hdr)
	for bi := 0; bi < bands; bi++ {
		y0, y1 := obh*bi/bands, obh*(bi+1)/bands
		words := 0
		for oy := y0; oy < y1; oy++ {
			x, y, dx, dy := t.rowWalk(oy)
			for ox := 0; ox < obw; ox++ {
				words += int(t.ref[y*t.bw+x] & 0x7ff)
				x, y = x+dx, y+dy
			}
		}
		sizes[bi+1] = sizes[bi] + bandRegion(float64(words)*perWord+float64(obw*(y1-y0))*perBlock, y1-y0)
	}
	// Not make and copy in one (runtime.makeslicecopy clears the whole
	// buffer first, in this goroutine): fresh memory is zero already, and
	// the bands touch their own regions in parallel.
	out := make([]byte, sizes[bands]+2)
	copy(out[:len(hdr)], hdr)
	parts := make([][]byte, bands)
	inPlace := make([]bool, bands)
	parallel(bands, 1, func(b0, b1 int) {
		for bi := b0; bi < b1; bi++ {
			y0, y1 := obh*bi/bands, obh*(bi+1)/bands
			w := bitWriter{buf: out[sizes[bi]:sizes[bi+1]:sizes[bi+1]], words: make([]uint32, obw*blockWords+1)}
			for oy := y0; oy < y1; oy++ {
				x, y, dx, dy := t.rowWalk(oy)
				n := 0
				for ox := 0; ox < obw; ox++ {
					b := y*t.bw + x
					toks, esc := t.tokens(b)
					n = w.code(n, uint16(t.dc[b]), toks, esc, dcCode, acCode)
					x, y = x+dx, y+dy
				}
				w.write(n)
				w.pad()
				if oy != obh-1 {
					w.buf = append(w.buf[:w.pos], 0xff, 0xd0+byte(oy%8))
					w.pos += 2
					w.buf = w.buf[:cap(w.buf)]
				}
			}
			parts[bi] = w.buf[:w.pos]
			inPlace[bi] = &w.buf[0] == &out[sizes[bi]] // else it outgrew its region
		}
	})
	if slices.Contains(inPlace, false) {
		size := len(hdr) + 2
		for _, p := range parts {
			size += len(p)
		}
		out = make([]byte, size)
		copy(out, hdr)
	}
	n := len(hdr)
	for _, p := range parts {
		n += copy(out[n:], p) // down, or into the new buffer
	}
	return append(out[:n], 0xff, 0xd9)
}

// bandRegion is the room given to a band of rows of blocks whose codes
// take about size bytes: an eighth more for the stuffed bytes and the
// uneven bits per token, and the restart markers (a band that needs more
// is coded into a buffer of its own).
var bandRegion = func(size float64, rows int) int { return int(size*1.125) + 3*rows + 1024 }

// header returns the markers of the gray baseline JPEG up to its scan's
// data.
func (t *jpegTokens) header(dcCounts *[16]uint8, dcVals []uint8, acCounts *[16]uint8, acVals []uint8) []byte {
	obw := ceilDiv(t.w, 8)
	var out bytes.Buffer
	out.Write([]byte{0xff, 0xd8})
	// DQT: one 8-bit table, id 0, zig-zag order.
	out.Write([]byte{0xff, 0xdb, 0, 67, 0})
	for _, z := range zigzag {
		out.WriteByte(byte(t.quant[z]))
	}
	// SOF0: 8-bit, one component (id 1, 1x1, table 0).
	out.Write([]byte{0xff, 0xc0, 0, 11, 8, byte(t.h >> 8), byte(t.h), byte(t.w >> 8), byte(t.w), 1, 1, 0x11, 0})
	writeDHT(&out, 0x00, dcCounts, dcVals)
	writeDHT(&out, 0x10, acCounts, acVals)
	// DRI: one row of blocks per restart interval.
	out.Write([]byte{0xff, 0xdd, 0, 4, byte(obw >> 8), byte(obw)})
	// SOS: component 1 with tables 0/0, spectral 0..63.
	out.Write([]byte{0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 63, 0})
	return out.Bytes()
}

// huffCodes calls f with each symbol of a Huffman table, its code and the
// code's length.
func huffCodes(counts *[16]uint8, vals []uint8, f func(sym uint8, code, l uint64)) {
	code, k := uint64(0), 0
	for l := uint64(1); l <= 16; l++ {
		for i := 0; i < int(counts[l-1]); i++ {
			f(vals[k], code, l)
			code++
			k++
		}
		code <<= 1
	}
}

// A writer's table entry: the bits to write, right-aligned, << 8 | their
// number.

// dcTable returns, for each DC symbol (size), its code shifted left past
// the extra bits and the length of both.
func dcTable(counts *[16]uint8, vals []uint8) *[16]uint64 {
	var t [16]uint64
	huffCodes(counts, vals, func(sym uint8, code, l uint64) {
		size := uint64(sym & 15)
		t[sym&15] = code<<size<<8 | (l + size)
	})
	return &t
}

// tokenTable is the writer's table of an AC Huffman table: the bits of
// every token byte (b; 0 for tokEscape) and word (e, see tokEOB).
type tokenTable struct {
	b [256]uint64
	e [1 << 14]uint64
}

func newTokenTable(counts *[16]uint8, vals []uint8) *tokenTable {
	t := &tokenTable{}
	huffCodes(counts, vals, func(sym uint8, code, l uint64) {
		size := uint64(sym & 15)
		t.e[tokCode|uint64(sym)] = code<<8 | l
		if size > shortToken {
			return
		}
		for b := uint64(0); b < 1<<size; b++ {
			t.e[uint64(sym)<<4|b] = (code<<size|b)<<8 | (l + size)
		}
	})
	for size := uint64(1); size <= 10; size++ {
		for b := uint64(0); b < 1<<size; b++ {
			t.e[tokRaw+size<<10|b] = b<<8 | size
		}
	}
	for b, w := range tokWord {
		if b != tokEscape {
			t.b[b] = t.e[w]
		}
	}
	return t
}

// bitWriter writes entropy-coded data into buf from pos, stuffing a zero
// after each 0xFF byte: a row of blocks is coded into words of 32 bits
// (code), then the words are written (write). acc holds nacc pending
// bits, left-aligned.
type bitWriter struct {
	buf   []byte
	pos   int
	acc   uint64
	nacc  uint
	words []uint32
}

// blockWords is more words than a block can fill: 64 codes of at most 27
// bits with their extra bits; a power of two.
const blockWords = 64

// code entropy-codes one block, its DC token and its AC tokens, into
// w.words from n, leaving the bits that do not fill a word pending, and
// returns the next n.
func (w *bitWriter) code(n int, dc uint16, toks []byte, esc bool, dcCode *[16]uint64, t *tokenTable) int {
	e := dcCode[dc>>12]
	e |= uint64(dc&0xfff) << 8 // the extra bits below the code
	var i int
	w.acc, w.nacc, i = appendCodes(w.acc, w.nacc, e, toks, esc, (*[blockWords]uint32)(w.words[n:n+blockWords]), t)
	return n + i
}

// appendCodes appends the code e (a table entry) and the codes of toks to
// the nacc bits of acc, writing each 32 bits into words, and returns the
// bits left and the words written; esc says whether toks hold an escaped
// word (nearly every block holds none, and takes one loop).
//
//go:noinline
func appendCodes(acc uint64, nacc uint, e uint64, toks []byte, esc bool, words *[blockWords]uint32, t *tokenTable) (uint64, uint, int) {
	_, _ = t.b[0], words[0]
	acc, nacc, i := appendCode(acc, nacc, 0, e, words)
	for esc {
		k := bytes.IndexByte(toks, tokEscape) // the bytes before are tokens of their own
		if k < 0 {
			break
		}
		for _, tok := range toks[:k] {
			acc, nacc, i = appendCode(acc, nacc, i, t.b[tok], words)
		}
		acc, nacc, i = appendCode(acc, nacc, i, t.e[(uint(toks[k+1])<<8|uint(toks[k+2]))&(1<<14-1)], words)
		toks = toks[k+3:]
	}
	for _, tok := range toks {
		acc, nacc, i = appendCode(acc, nacc, i, t.b[tok], words)
	}
	return acc, nacc, i
}

// appendCode appends the code e (a table entry) to the nacc bits of acc,
// storing the top 32 bits in words[i] (i moves on when they are full),
// and returns the bits left and the next i. The bits are left-aligned in
// acc, so that a word leaves it by a shift of 32; a code's bits join
// after the nacc already there: at most 31 + 27 bits. There is no branch,
// which would mispredict every word or so: the store is made every time,
// and the shift is a conditional move. A word stored before it is full
// is stored again when it is, at the same i: a block fills 54 words at
// most, fewer than blockWords.
func appendCode(acc uint64, nacc uint, i int, e uint64, words *[blockWords]uint32) (uint64, uint, int) {
	nacc += uint(e & 63)
	acc |= e >> 8 << ((64 - nacc) & 63)
	words[i&(blockWords-1)] = uint32(acc >> 32)
	shifted := acc << 32
	full := nacc >> 5 // 0 or 1: nacc < 64
	if full != 0 {
		acc = shifted
	}
	return acc, nacc & 31, i + int(full)
}

// write writes the first n words, and leaves room for pad and a restart
// marker after them.
func (w *bitWriter) write(n int) {
	if room := len(w.buf) - w.pos; room < 8*n+16 {
		// Not room for the worst case (every byte stuffed): count.
		need := 4*n + 16
		for _, v := range w.words[:n] {
			if hasFF(v) {
				need += 4
			}
		}
		if room < need {
			w.buf = slices.Grow(w.buf[:w.pos], 8*n+16+len(w.buf)/4)
			w.buf = w.buf[:cap(w.buf)]
		}
	}
	buf, pos := w.buf, w.pos
	for _, v := range w.words[:n] {
		if hasFF(v) {
			pos = putStuffed(buf, pos, v)
			continue
		}
		binary.BigEndian.PutUint32(buf[pos:], v)
		pos += 4
	}
	w.pos = pos
}

// putStuffed writes the 4 bytes of v at buf[pos:], each 0xFF followed by
// a zero, and returns the position after them.
func putStuffed(buf []byte, pos int, v uint32) int {
	for s := 24; s >= 0; s -= 8 {
		b := byte(v >> s)
		buf[pos] = b
		pos++
		if b == 0xff {
			buf[pos] = 0
			pos++
		}
	}
	return pos
}

// pad writes the pending bits, padded with one bits to a byte boundary.
func (w *bitWriter) pad() {
	for ; w.nacc >= 8; w.nacc -= 8 {
		w.put(byte(w.acc >> 56))
		w.acc <<= 8
	}
	if w.nacc > 0 {
		w.put(byte(w.acc>>56) | byte(0xff>>w.nacc))
	}
	w.acc, w.nacc = 0, 0
}

func (w *bitWriter) put(b byte) {
	w.buf[w.pos] = b
	w.pos++
	if b == 0xff {
		w.buf[w.pos] = 0
		w.pos++
	}
}

func writeDHT(out *bytes.Buffer, class byte, counts *[16]uint8, vals []uint8) {
	n := 2 + 1 + 16 + len(vals)
	out.Write([]byte{0xff, 0xc4, byte(n >> 8), byte(n), class})
	out.Write(counts[:])
	out.Write(vals)
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

// centered[v] is v - 128 as a float32 (a table is faster than converting).
var centered = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) - 128
	}
	return t
}()

// encodeGrayJPEG writes r (8-bit gray, no alpha) as a baseline JPEG with
// optimal Huffman tables: forward DCT and tokens of rows of blocks on all
// cores.
func encodeGrayJPEG(r *raster, quality int) []byte {
	q := quantTable(quality)
	var recip [64]float32 // natural order: 1 / (quant * aanScale[u] * aanScale[v] * 8)
	for u := 0; u < 8; u++ {
		for v := 0; v < 8; v++ {
			recip[u*8+v] = float32(1 / (float64(q[u*8+v]) * aanScale[u] * aanScale[v] * 8))
		}
	}
	bw, bh := ceilDiv(r.W, 8), ceilDiv(r.H, 8)
	t := newJPEGTokens(r.W, r.H, bw, bh, 1)
	for i, v := range q {
		t.quant[i] = uint16(v)
	}
	parallel(bh, 4, func(y0, y1 int) {
		var hist [256]uint32
		var blk [64]float32
		var z [64]int32
		for by := y0; by < y1; by++ {
			off := make([]uint32, bw+1)
			toks := make([]byte, 0, bw*16)
			for bx := 0; bx < bw; bx++ {
				x0 := 8 * bx
				for y := 0; y < 8; y++ {
					row := r.row(min(8*by+y, r.H-1))
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
				// Quantize (rounding half up: the bias keeps the value
				// positive so the conversion's truncation is a floor) and
				// note the nonzero coefficients in zig-zag order.
				var nz uint64
				for i, n := range zigzag {
					v := int32(blk[n]*recip[n]+4096.5) - 4096
					z[i] = max(-1023, min(1023, v))
					nz |= uint64((uint32(v)|uint32(-v))>>31) << i
				}
				t.dc[by*bw+bx] = int16(z[0])
				toks = appendTokens(toks, &z, nz, &hist)
				off[bx+1] = uint32(len(toks))
			}
			t.addRow(by, toks, off)
		}
		t.addHist(&hist)
	})
	return t.encode()
}
