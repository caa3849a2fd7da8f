package imaging

// Arithmetic-coded scans (T.81 Annex D, F.1.4 and G.1.3): the QM decoder
// and its statistical model for DC and AC coefficients, sequential and
// progressive. Written from the recommendation's flow charts.

// qeEntry is one row of T.81 Table D.2: the LPS probability estimate and
// the next states.
type qeEntry struct {
	qe         uint32
	nmps, nlps uint8
	swap       bool
}

// qeTable is T.81 Table D.2, plus entry 113: the fixed estimate of about
// 0.5 that codes signs and correction bits and never adapts.
var qeTable = [114]qeEntry{
	{0x5a1d, 1, 1, true}, {0x2586, 2, 14, false}, {0x1114, 3, 16, false}, {0x080b, 4, 18, false},
	{0x03d8, 5, 20, false}, {0x01da, 6, 23, false}, {0x00e5, 7, 25, false}, {0x006f, 8, 28, false},
	{0x0036, 9, 30, false}, {0x001a, 10, 33, false}, {0x000d, 11, 35, false}, {0x0006, 12, 9, false},
	{0x0003, 13, 10, false}, {0x0001, 13, 12, false}, {0x5a7f, 15, 15, true}, {0x3f25, 16, 36, false},
	{0x2cf2, 17, 38, false}, {0x207c, 18, 39, false}, {0x17b9, 19, 40, false}, {0x1182, 20, 42, false},
	{0x0cef, 21, 43, false}, {0x09a1, 22, 45, false}, {0x072f, 23, 46, false}, {0x055c, 24, 48, false},
	{0x0406, 25, 49, false}, {0x0303, 26, 51, false}, {0x0240, 27, 52, false}, {0x01b1, 28, 54, false},
	{0x0144, 29, 56, false}, {0x00f5, 30, 57, false}, {0x00b7, 31, 59, false}, {0x008a, 32, 60, false},
	{0x0068, 33, 62, false}, {0x004e, 34, 63, false}, {0x003b, 35, 32, false}, {0x002c, 9, 33, false},
	{0x5ae1, 37, 37, true}, {0x484c, 38, 64, false}, {0x3a0d, 39, 65, false}, {0x2ef1, 40, 67, false},
	{0x261f, 41, 68, false}, {0x1f33, 42, 69, false}, {0x19a8, 43, 70, false}, {0x1518, 44, 72, false},
	{0x1177, 45, 73, false}, {0x0e74, 46, 74, false}, {0x0bfb, 47, 75, false}, {0x09f8, 48, 77, false},
	{0x0861, 49, 78, false}, {0x0706, 50, 79, false}, {0x05cd, 51, 48, false}, {0x04de, 52, 50, false},
	{0x040f, 53, 50, false}, {0x0363, 54, 51, false}, {0x02d4, 55, 52, false}, {0x025c, 56, 53, false},
	{0x01f8, 57, 54, false}, {0x01a4, 58, 55, false}, {0x0160, 59, 56, false}, {0x0125, 60, 57, false},
	{0x00f6, 61, 58, false}, {0x00cb, 62, 59, false}, {0x00ab, 63, 61, false}, {0x008f, 32, 61, false},
	{0x5b12, 65, 65, true}, {0x4d04, 66, 80, false}, {0x412c, 67, 81, false}, {0x37d8, 68, 82, false},
	{0x2fe8, 69, 83, false}, {0x293c, 70, 84, false}, {0x2379, 71, 86, false}, {0x1edf, 72, 87, false},
	{0x1aa9, 73, 87, false}, {0x174e, 74, 72, false}, {0x1424, 75, 72, false}, {0x119c, 76, 74, false},
	{0x0f6b, 77, 74, false}, {0x0d51, 78, 75, false}, {0x0bb6, 79, 77, false}, {0x0a40, 48, 77, false},
	{0x5832, 81, 80, true}, {0x4d1c, 82, 88, false}, {0x438e, 83, 89, false}, {0x3bdd, 84, 90, false},
	{0x34ee, 85, 91, false}, {0x2eae, 86, 92, false}, {0x299a, 87, 93, false}, {0x2516, 71, 86, false},
	{0x5570, 89, 88, true}, {0x4ca9, 90, 95, false}, {0x44d9, 91, 96, false}, {0x3e22, 92, 97, false},
	{0x3824, 93, 99, false}, {0x32b4, 94, 99, false}, {0x2e17, 86, 93, false}, {0x56a8, 96, 95, true},
	{0x4f46, 97, 101, false}, {0x47e5, 98, 102, false}, {0x41cf, 99, 103, false}, {0x3c3d, 100, 104, false},
	{0x375e, 93, 99, false}, {0x5231, 102, 105, false}, {0x4c0f, 103, 106, false}, {0x4639, 104, 107, false},
	{0x415e, 99, 103, false}, {0x5627, 106, 105, true}, {0x50e7, 107, 108, false}, {0x4b85, 103, 109, false},
	{0x5597, 109, 110, false}, {0x504f, 107, 111, false}, {0x5a10, 111, 110, true}, {0x5522, 109, 112, false},
	{0x59eb, 111, 112, true},
	{0x5a1d, 113, 113, false},
}

// fixedBin is the state of the non-adaptive bin (entry 113, MPS 0).
const fixedBin = 113

// qmDecoder is the arithmetic decoder of T.81 D.2. A bin is a state index
// (low 7 bits) and its more probable symbol (bit 7).
type qmDecoder struct {
	data []byte
	pos  int
	c    uint32 // code register: Cx in the high 16 bits
	a    uint32 // interval
	ct   int    // bits left in the low byte of c
	stop bool   // at a marker or the end: zeros from here on
}

func (q *qmDecoder) init() {
	q.c, q.stop = 0, false
	q.byteIn()
	q.c <<= 8
	q.byteIn()
	q.c <<= 8
	q.ct = 0
	q.a = 0x10000
}

// byteIn adds the next byte of the data below Cx (T.81 D.2.6). At a marker
// the data is over and zeros are read, which is what the encoder's flush
// counts on.
func (q *qmDecoder) byteIn() {
	if q.stop || q.pos >= len(q.data) {
		q.stop = true
		return
	}
	b := q.data[q.pos]
	if b != 0xff {
		q.c += uint32(b) << 8
		q.pos++
		return
	}
	p := q.pos + 1
	for p < len(q.data) && q.data[p] == 0xff {
		p++
	}
	if p < len(q.data) && q.data[p] == 0 {
		q.c += 0xff << 8
		q.pos = p + 1
		return
	}
	q.pos = p - 1
	q.stop = true
}

// decode decodes one binary decision with the bin st (T.81 D.2.4).
func (q *qmDecoder) decode(st *uint8) int {
	s := *st
	e := &qeTable[s&0x7f]
	mps := int(s >> 7)
	q.a -= e.qe
	var d int
	if q.c>>16 < q.a {
		if q.a >= 0x8000 {
			return mps
		}
		// Conditional MPS exchange.
		if q.a < e.qe {
			d = 1 - mps
			if e.swap {
				mps = 1 - mps
			}
			s = e.nlps
		} else {
			d = mps
			s = e.nmps
		}
	} else {
		// Conditional LPS exchange.
		q.c -= q.a << 16
		if q.a < e.qe {
			d = mps
			s = e.nmps
		} else {
			d = 1 - mps
			if e.swap {
				mps = 1 - mps
			}
			s = e.nlps
		}
		q.a = e.qe
	}
	*st = s | uint8(mps)<<7
	for q.a < 0x8000 {
		if q.ct == 0 {
			q.byteIn()
			q.ct = 8
		}
		q.a <<= 1
		q.c <<= 1
		q.ct--
	}
	return d
}

// arithScan decodes the blocks of one arithmetic-coded scan.
type arithScan struct {
	qmDecoder
	d           *jpegDecoder
	progressive bool
	td, ta      []int
	ss, se      int
	ah, al      uint
	dcStats     [4][64]uint8
	acStats     [4][256]uint8
	fixed       uint8
	dcCtx       [4]int
	pred        [4]int32
}

func (s *arithScan) reset() {
	s.dcStats = [4][64]uint8{}
	s.acStats = [4][256]uint8{}
	s.dcCtx = [4]int{}
	s.pred = [4]int32{}
	s.fixed = fixedBin
	s.init()
}

func (s *arithScan) restart() error {
	p, err := skipRestart(s.data, s.pos)
	if err != nil {
		return err
	}
	s.pos = p
	s.reset()
	return nil
}

// overrun: arithmetic data cannot be told from its zero padding, but data
// that ends without a marker was cut.
func (s *arithScan) overrun() bool { return s.stop && s.pos >= len(s.data) }

func (s *arithScan) end() int { return entropyEnd(s.data, s.pos) }

// decodeDC decodes a DC difference (T.81 F.1.4.4.1, Figures F.19-F.24).
func (s *arithScan) decodeDC(i int) (int32, error) {
	tbl := s.td[i]
	st := &s.dcStats[tbl]
	ctx := s.dcCtx[i]
	if s.decode(&st[ctx]) == 0 {
		s.dcCtx[i] = 0
		return 0, nil
	}
	sign := s.decode(&st[ctx+1])
	k := ctx + 2 + sign
	m := 0
	if s.decode(&st[k]) != 0 {
		m = 1
		k = 20
		for s.decode(&st[k]) != 0 {
			m <<= 1
			if m == 0x8000 {
				return 0, corruptf("bad arithmetic DC magnitude")
			}
			k++
		}
	}
	// Conditioning of the next difference (F.1.4.4.1.2).
	switch {
	case m < (1<<s.d.dcL[tbl])>>1:
		s.dcCtx[i] = 0
	case m > (1<<s.d.dcU[tbl])>>1:
		s.dcCtx[i] = 12 + 4*sign
	default:
		s.dcCtx[i] = 4 + 4*sign
	}
	return s.value(st[k+14:], m, sign), nil
}

// value decodes the bits of a magnitude below its leading one m with the
// bin st[0] (T.81 Figure F.24) and returns the signed value.
func (s *arithScan) value(st []uint8, m, sign int) int32 {
	v := m
	for m >>= 1; m != 0; m >>= 1 {
		if s.decode(&st[0]) != 0 {
			v |= m
		}
	}
	v++
	if sign != 0 {
		v = -v
	}
	return int32(v)
}

// decodeAC decodes the AC coefficients ss..se of a first pass (T.81
// F.1.4.4.2, Figures F.20-F.24), shifted left by al.
func (s *arithScan) decodeAC(blk *[64]int16, nz *uint64, i int) error {
	tbl := s.ta[i]
	st := &s.acStats[tbl]
	kx := int(s.d.acK[tbl])
	for k := s.ss; k <= s.se; k++ {
		b := 3 * (k - 1)
		if s.decode(&st[b]) != 0 {
			break // end of block
		}
		for s.decode(&st[b+1]) == 0 {
			b += 3
			k++
			if k > s.se {
				return corruptf("arithmetic AC index out of range")
			}
		}
		sign := s.decode(&s.fixed)
		b += 2
		m := s.decode(&st[b])
		if m != 0 && s.decode(&st[b]) != 0 {
			m <<= 1
			b = 217
			if k <= kx {
				b = 189
			}
			for s.decode(&st[b]) != 0 {
				m <<= 1
				if m == 0x8000 {
					return corruptf("bad arithmetic AC magnitude")
				}
				b++
			}
		}
		blk[zigzag[k]] = int16(s.value(st[b+14:], m, sign) << s.al)
		*nz |= 1 << uint(k)
	}
	return nil
}

// refineAC decodes an AC refinement pass (T.81 G.1.3.3).
func (s *arithScan) refineAC(blk *[64]int16, i int) error {
	st := &s.acStats[s.ta[i]]
	p1, m1 := int16(1)<<s.al, int16(-1)<<s.al
	// The end of block of the previous passes.
	kex := s.se
	for ; kex > 0; kex-- {
		if blk[zigzag[kex]] != 0 {
			break
		}
	}
	for k := s.ss; k <= s.se; k++ {
		b := 3 * (k - 1)
		if k > kex && s.decode(&st[b]) != 0 {
			break // end of block
		}
		for {
			z := zigzag[k]
			if c := blk[z]; c != 0 {
				if s.decode(&st[b+2]) != 0 {
					if c < 0 {
						blk[z] = c + m1
					} else {
						blk[z] = c + p1
					}
				}
				break
			}
			if s.decode(&st[b+1]) != 0 {
				if s.decode(&s.fixed) != 0 {
					blk[z] = m1
				} else {
					blk[z] = p1
				}
				break
			}
			b += 3
			k++
			if k > s.se {
				return corruptf("arithmetic AC index out of range")
			}
		}
	}
	return nil
}

func (s *arithScan) block(blk *[64]int16, nz *uint64, i int) error {
	if !s.progressive {
		v, err := s.decodeDC(i)
		if err != nil {
			return err
		}
		s.pred[i] += v
		blk[0] = int16(s.pred[i])
		return s.decodeAC(blk, nz, i)
	}
	switch {
	case s.ss == 0 && s.ah == 0:
		v, err := s.decodeDC(i)
		if err != nil {
			return err
		}
		s.pred[i] += v
		blk[0] = int16(s.pred[i] << s.al)
	case s.ss == 0:
		if s.decode(&s.fixed) != 0 {
			blk[0] |= 1 << s.al
		}
	case s.ah == 0:
		return s.decodeAC(blk, nz, i)
	default:
		return s.refineAC(blk, i)
	}
	return nil
}

// scanArith decodes an arithmetic-coded scan.
func (d *jpegDecoder) scanArith(sc *jpegScan, p int) (int, error) {
	s := &arithScan{d: d, progressive: d.hdr.progressive, td: sc.td, ta: sc.ta, ss: sc.ss, se: sc.se, ah: sc.ah, al: sc.al}
	if !s.progressive {
		s.ss, s.se = 1, 63
	}
	s.data, s.pos = d.data, p
	s.reset()
	if err := d.iterate(sc, s); err != nil {
		return 0, err
	}
	if s.overrun() {
		return 0, corruptf("unexpected end of data")
	}
	return s.end(), nil
}
