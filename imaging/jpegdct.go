package imaging

import "sync/atomic"

// The DCT path: the gray JPEG made from the stored Y (or gray)
// coefficients of a JPEG, without an inverse or forward DCT.
//
// Each Y block is requantised where the input's step is finer than the
// output quality's (round(c * qin / qout)); where it is coarser or equal
// the coefficient is kept as it is and the output table takes the input's
// step, so the output decodes to exactly the input's Y. EXIF orientation
// is applied to the coefficients: a transpose swaps u and v, a mirror
// negates the odd frequencies across it, and the blocks are laid out in
// the new order; this needs whole blocks along every edge that moves (the
// geometry of jpegtran -perfect), else the pixel path is taken.
//
// The thumbnails come from the same blocks: the DC coefficient is the mean
// of its 8x8 pixels, so the DCs are the image at 1/8 scale; 1/4 and 1/2
// scale are the 2x2 and 4x4 cell means computed from the coefficients
// (reduceTable). The smallest of these at least as large as the thumbnail
// goes through the Lanczos-3 stage of the pixel path; a thumbnail larger
// than half the image comes from a full inverse DCT.

// orientationFitsBlocks reports whether orientation o can move whole 8x8
// blocks of a w x h image: every edge that a mirror moves must be a
// multiple of 8.
func orientationFitsBlocks(w, h, o int) bool {
	flipX := o == 2 || o == 3 || o == 7 || o == 8 // the stored right edge moves
	flipY := o == 3 || o == 4 || o == 6 || o == 7 // the stored bottom edge moves
	return (!flipX || w%8 == 0) && (!flipY || h%8 == 0)
}

// dctThumb is one thumbnail of the DCT path.
type dctThumb struct {
	size     int // longest side asked for
	tw, th   int // size in the stored orientation
	cell     int // pixels per plane sample: 8, 4, 2, or 1 (full inverse DCT)
	sameSize bool
}

// cellPlane is a plane of cell means made while decoding.
type cellPlane struct {
	cell int
	p    *plane
	t    *reduceTable
}

// dctSink makes the tokens of the gray output and the thumbnails' planes.
type dctSink struct {
	h       *jpegHeader
	orient  int
	quality int
	thumbs  []dctThumb

	tok  *jpegTokens
	keep bool      // orientation 1 and no requantisation: copy
	outK [64]uint8 // stored natural index -> output zig-zag position
	neg  [64]bool  // by stored natural index: the coefficient changes sign
	mul  [64]int64 // by output zig-zag position: qin/qout in 32-bit fixed point
	hint atomic.Int64

	cells []cellPlane // 4 and 2, made while decoding
	dcp   *plane      // the 1/8 plane, made from the DCs at the end
	full  *raster
	idct  idctTable
	tz    *yTokenizer // set when the decoder may tokenize Y itself
}

// tokIndex is the index of value v (-16..15) at zig-zag position k in the
// tables of a yTokenizer: by value, then position.
func tokIndex(k int, v int32) int { return int(v+16)<<6 | k }

// yTokenizer is what the Huffman decoder needs to turn Y coefficients
// straight into tokens (orientations that keep the order of coefficients
// within a block, 1 to 4, and thumbnails that need no full inverse DCT):
// by zig-zag position, the sign change and the requantisation.
type yTokenizer struct {
	tok  *jpegTokens
	keep bool // the input's symbols are the output's
	neg  [64]bool
	mul  [64]int64
	// small[tokIndex(k, v)] is the token body (size << 4 | extra bits)
	// of value v at position k after the sign change and requantisation,
	// 0 when it becomes zero, for -15 <= v <= 15.
	small    [64 * 32]uint16
	useSmall bool
	// fast[tokIndex(k, v)] is small's token body where its size is 1 to 3
	// (every run has a byte token: tokRunByte), fastZero where it is 0,
	// else 0; runByte is a copy
	// of tokRunByte, next to it.
	fast    [64 * 32]uint8
	runByte [64 << 6]uint8
	// count[tokIndex(k, v)] counts the input values -16..15 at position k
	// (reconStats.small, for the requantised positions' output steps).
	count [64 * 32]uint32
	recon *reconStats // nil when nothing is requantised
	hist  [256]uint32 // by symbol, of the tokens written the slow way
	histB [256]uint32 // by byte, of the tokens written by fastAC
	esc   bool        // the block tokenizeBlock wrote has an escaped word
	// The scan's tables of the Y component.
	dcTab    *fastTable
	acTab    fastTable // fastAC with tokens
	dcT, acT *huffTable
	// For thumbnails at 1/4 or 1/2 scale (cells set): the coefficients of
	// the block just read as they are stored (natural order; only those
	// at the positions in mask, by zig-zag index, are meaningful), which
	// the decoder hands to cells with the block's DC in blk[0].
	cells func(x, y int, blk *[64]int16, nz uint64)
	blk   [64]int16
	mask  uint64
}

func newDCTSink(orient, quality int, sizes []int) *dctSink {
	s := &dctSink{orient: orient, quality: quality}
	for _, n := range sizes {
		s.thumbs = append(s.thumbs, dctThumb{size: n})
	}
	return s
}

func (s *dctSink) begin(h *jpegHeader) ([]bool, error) {
	s.h = h
	want := make([]bool, len(h.comps))
	want[0] = true
	w, ht := h.w, h.h
	ow, oh := w, ht
	if s.orient >= 5 {
		ow, oh = ht, w
	}
	bw, bh := ceilDiv(w, 8), ceilDiv(ht, 8)
	s.tok = newJPEGTokens(ow, oh, bw, bh, s.orient)
	for i := range s.thumbs {
		t := &s.thumbs[i]
		tw, th := thumbSize(ow, oh, t.size)
		if s.orient >= 5 {
			tw, th = th, tw
		}
		t.tw, t.th = tw, th
		t.sameSize = tw == w && th == ht
		if t.sameSize {
			continue
		}
		t.cell = 1
		for _, f := range []int{8, 4, 2} {
			if ceilDiv(w, f) >= tw && ceilDiv(ht, f) >= th {
				t.cell = f
				break
			}
		}
		switch {
		case t.cell == 1 && s.full == nil:
			c := h.comps[0]
			s.full = &raster{W: w, H: ht, Stride: c.pw * 8, Pix: make([]byte, c.pw*8*c.ph*8)}
		case t.cell == 4 || t.cell == 2:
			if !s.hasCell(t.cell) {
				pw, ph := ceilDiv(w, t.cell), ceilDiv(ht, t.cell)
				s.cells = append(s.cells, cellPlane{cell: t.cell, p: &plane{pw, ph, make([]float32, pw*ph)}})
			}
		}
	}
	return want, nil
}

func (s *dctSink) hasCell(cell int) bool {
	for _, c := range s.cells {
		if c.cell == cell {
			return true
		}
	}
	return false
}

// prepare builds the output table and the per-coefficient maps.
func (s *dctSink) prepare() error {
	qin := &s.h.comps[0].quant
	target := quantTable(s.quality)
	s.keep = s.orient == 1
	flipU := s.orient == 2 || s.orient == 3 || s.orient == 6 || s.orient == 7
	flipV := s.orient == 3 || s.orient == 4 || s.orient == 7 || s.orient == 8
	for n := 0; n < 64; n++ { // output natural index: row v, column u
		v, u := n/8, n%8
		src := n
		if s.orient >= 5 {
			src = u*8 + v
		}
		s.neg[src] = (flipU && u%2 == 1) != (flipV && v%2 == 1)
		k := unzigzag[n]
		s.outK[src] = k
		q, t := int64(qin[src]), int64(target[n])
		var qout, mul int64
		switch {
		case q > 255:
			qout, mul = 255, q*requantOne/255
		case q >= t:
			qout, mul = q, requantOne
		default:
			qout, mul = t, q*requantOne/t
		}
		s.tok.quant[n] = uint16(qout)
		if k == 0 {
			s.tok.dcMul = mul
		} else {
			s.mul[k] = mul
		}
		if mul != requantOne {
			s.keep = false
			if s.tok.recon == nil {
				s.tok.recon = &reconStats{}
			}
		}
		s.tok.qin[k] = q
	}
	if r := s.tok.recon; r != nil {
		r.mul = s.mul
	}
	for i := range s.cells {
		s.cells[i].t = &reduceTable{}
		s.cells[i].t.init(qin, 8/s.cells[i].cell)
	}
	if s.full != nil {
		s.idct.init(qin)
	}
	if s.orient <= 4 && s.full == nil {
		tz := &yTokenizer{tok: s.tok, keep: s.keep, recon: s.tok.recon}
		if len(s.cells) > 0 {
			tz.cells = s.fillCells
		}
		small := true
		for k := 1; k < 64; k++ {
			tz.neg[k], tz.mul[k] = s.neg[zigzag[k]], s.mul[k]
			for v0 := int32(-15); v0 < 16; v0++ {
				v := v0
				if tz.neg[k] {
					v = -v
				}
				v = requant(v, tz.mul[k])
				size, b := magnitude(v)
				small = small && size <= shortToken
				tz.small[tokIndex(k, v0)] = uint16(size<<4 | b)
				switch {
				case size == 0:
					tz.fast[tokIndex(k, v0)] = fastZero
				case size <= 3:
					tz.fast[tokIndex(k, v0)] = uint8(size<<4 | b)
				}
			}
		}
		tz.useSmall = small // steps over 255 can scale values past 8 bits: no table
		tz.runByte = tokRunByte
		s.tz = tz
	}
	return nil
}

// tokenizer returns what the Huffman decoder needs to tokenize Y itself,
// or nil when the sink needs the blocks.
func (s *dctSink) tokenizer() *yTokenizer { return s.tz }

func (s *dctSink) ordered() bool { return false }

// row tokenizes the Y blocks of a row of MCUs (when the decoder did not)
// and fills the thumbnails' planes.
func (s *dctSink) row(r *mcuRow) error {
	c := &s.h.comps[0]
	t := s.tok
	var hist [256]uint32
	var z [64]int32
	var stats *reconStats
	if t.recon != nil {
		stats = &reconStats{}
	}
	for y := 0; y < c.v; y++ {
		sy := r.y*c.v + y
		if sy >= t.bh {
			break
		}
		off := make([]uint32, t.bw+1)
		per := s.hint.Load()
		if per == 0 {
			per = int64(t.bw) * 20
		}
		toks := make([]byte, 0, per+64)
		for sx := 0; sx < t.bw; sx++ {
			k := y*c.pw + sx
			blk := (*[64]int16)(r.blk[0][64*k:])
			nz := r.nz[0][k]
			t.dc[sy*t.bw+sx] = blk[0]
			var mask uint64
			if s.keep {
				for m := nz &^ 1; m != 0; m &= m - 1 {
					k := bitsTrailing(m) & 63
					z[k] = max(-1023, min(1023, int32(blk[zigzag[k]])))
				}
				mask = nz &^ 1
			} else {
				for m := nz &^ 1; m != 0; m &= m - 1 {
					nat := zigzag[bitsTrailing(m)&63]
					ok := s.outK[nat] & 63
					v := int32(blk[nat])
					if s.neg[nat] {
						v = -v
					}
					q := requant(v, s.mul[ok])
					if stats != nil {
						stats.add(int(ok), v, q)
					}
					if q != 0 {
						z[ok] = q
						mask |= 1 << ok
					}
				}
			}
			toks = appendTokens(toks, &z, mask, &hist)
			off[sx+1] = uint32(len(toks))
			s.fillCells(sx, sy, blk, nz)
			if s.full != nil {
				idct8x8(blk[:], &s.idct, s.full.Pix[sy*8*s.full.Stride+sx*8:], s.full.Stride)
			}
		}
		t.addRow(sy, toks, off)
		s.hint.Store(int64(len(toks)) + 64)
	}
	t.addHist(&hist)
	if stats != nil {
		t.mu.Lock()
		t.recon.merge(stats)
		t.mu.Unlock()
	}
	return nil
}

// fillCells writes the cell means of stored block (x, y) into the
// thumbnails' planes.
func (s *dctSink) fillCells(x, y int, blk *[64]int16, nz uint64) {
	var cells [16]float32
	for _, cp := range s.cells {
		n, p := 8/cp.cell, cp.p
		cp.t.reduce(blk, nz, &cells)
		if n == 2 && 2*y+1 < p.h && 2*x+1 < p.w { // 1/4 scale inside the plane: the usual case
			o := 2*y*p.w + 2*x
			r0, r1 := p.p[o:o+2:o+2], p.p[o+p.w:o+p.w+2:o+p.w+2]
			r0[0], r0[1], r1[0], r1[1] = cells[0], cells[1], cells[2], cells[3]
			continue
		}
		for j := 0; j < n && y*n+j < p.h; j++ {
			row := p.p[(y*n+j)*p.w:]
			for i := 0; i < n && x*n+i < p.w; i++ {
				row[x*n+i] = cells[j*n+i]
			}
		}
	}
}

func (s *dctSink) end() error {
	if tz := s.tz; tz != nil {
		addByteHist(&tz.hist, &tz.histB)
		s.tok.addHist(&tz.hist)
		if r := tz.recon; r != nil {
			for k := 1; k < 64; k++ {
				for i := range r.small[k] {
					r.small[k][i] += tz.count[tokIndex(k, int32(i-16))]
				}
			}
		}
	}
	return nil
}

// thumbnail makes thumbnail i, upright; nil when it is the gray image
// itself.
func (s *dctSink) thumbnail(i int) *raster {
	t := s.thumbs[i]
	if t.sameSize {
		return nil
	}
	if t.cell == 1 {
		return thumbnail(orient(s.full, s.orient), t.size)
	}
	var p plane
	if t.cell == 8 {
		p = *s.dcPlane()
	} else {
		for _, c := range s.cells {
			if c.cell == t.cell {
				p = *c.p
			}
		}
	}
	sx := float64(s.h.w) / float64(t.cell) / float64(t.tw)
	sy := float64(s.h.h) / float64(t.cell) / float64(t.th)
	r := fromPlanes([]plane{lanczos(p, t.tw, t.th, sx, sy)}, false, false)
	return orient(r, s.orient)
}

// dcPlane returns the image at 1/8 scale: each block's mean, its DC.
func (s *dctSink) dcPlane() *plane {
	if s.dcp == nil {
		t := s.tok
		q := float32(s.h.comps[0].quant[0]) / 8
		p := &plane{t.bw, t.bh, make([]float32, t.bw*t.bh)}
		for i, v := range t.dc {
			p.p[i] = float32(v)*q + 128
		}
		s.dcp = p
	}
	return s.dcp
}
