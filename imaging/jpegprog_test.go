package imaging

import (
	"bytes"
	"context"
	"testing"
)

// A progressive JPEG writer for tests: the coefficients of a decoded file
// under any scan script of spectral selection, with successive
// approximation for single-coefficient bands. cjpeg and jpegtran read at
// most 100 scans from a script; this writes as many as asked, including
// the many-scan bombs of the bounded-work tests.

// Annex K.3 tables (luminance DC, K.5 luminance AC): every symbol the
// writer emits has a code.
var (
	testDCBits = [16]uint8{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}
	testDCVals = []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	testACBits = [16]uint8{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d}
	testACVals = []uint8{
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

// coefSink keeps every block of every component.
type coefSink struct {
	h    *jpegHeader
	coef [][]int16 // per component, pw x ph blocks, natural order
}

func (s *coefSink) begin(h *jpegHeader) ([]bool, error) {
	s.h = h
	s.coef = make([][]int16, len(h.comps))
	want := make([]bool, len(h.comps))
	for i, c := range h.comps {
		want[i] = true
		s.coef[i] = make([]int16, c.pw*c.ph*64)
	}
	return want, nil
}
func (s *coefSink) prepare() error { return nil }
func (s *coefSink) ordered() bool  { return false }
func (s *coefSink) row(r *mcuRow) error {
	for i, c := range s.h.comps {
		n := c.pw * c.v * 64
		copy(s.coef[i][r.y*n:(r.y+1)*n], r.blk[i])
	}
	return nil
}
func (s *coefSink) end() error { return nil }

// coefficients decodes every block of a JPEG.
func coefficients(t testing.TB, data []byte) *coefSink {
	t.Helper()
	s := &coefSink{}
	if _, err := decodeJPEG(context.Background(), data, jpegLimits{}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// testBits is a bit writer with byte stuffing.
type testBits struct {
	out  bytes.Buffer
	acc  uint64
	nacc uint
}

func (w *testBits) put(code uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | uint64(code>>uint(i)&1)
		w.nacc++
		if w.nacc == 8 {
			b := byte(w.acc)
			w.out.WriteByte(b)
			if b == 0xff {
				w.out.WriteByte(0)
			}
			w.acc, w.nacc = 0, 0
		}
	}
}

func (w *testBits) flush() {
	for w.nacc != 0 {
		w.put(1, 1)
	}
}

type testCode struct {
	code [256]uint32
	n    [256]uint
}

func testHuff(counts [16]uint8, vals []uint8) *testCode {
	var c testCode
	code, k := uint32(0), 0
	for l := 1; l <= 16; l++ {
		for i := 0; i < int(counts[l-1]); i++ {
			c.code[vals[k]], c.n[vals[k]] = code, uint(l)
			code++
			k++
		}
		code <<= 1
	}
	return &c
}

func (w *testBits) sym(c *testCode, s uint8) {
	if c.n[s] == 0 {
		panic("no code for symbol")
	}
	w.put(c.code[s], c.n[s])
}

// value writes a nonzero value's size category through c (with run r
// for AC) and its extra bits.
func (w *testBits) value(c *testCode, run int, v int32) {
	n, b := magnitude(v)
	w.sym(c, uint8(run<<4)|uint8(n))
	w.put(b, uint(n))
}

// progScan is one scan of a test script: components (frame indices),
// spectral band, successive approximation; eobs > 0 makes an AC first pass
// code every block as one end-of-band run (values ignored): the bomb's
// scans.
type progScan struct {
	comps          []int
	ss, se, ah, al int
}

// blockSource gives the quantised coefficients (natural order) of block
// (bx, by) of component ci of a frame.
type blockSource interface {
	header() *jpegHeader
	block(ci, bx, by int) []int16
}

func (s *coefSink) header() *jpegHeader { return s.h }
func (s *coefSink) block(ci, bx, by int) []int16 {
	c := s.h.comps[ci]
	return s.coef[ci][64*(by*c.pw+bx):][:64]
}

// writeProgressive writes the coefficients of s as a progressive JPEG with
// the given scans.
func writeProgressive(s blockSource, scans []progScan) []byte {
	return writeJPEG(s, scans, false)
}

// writeBaseline writes the coefficients of s as a baseline JPEG: one
// interleaved scan.
func writeBaseline(s blockSource) []byte {
	all := make([]int, len(s.header().comps))
	for i := range all {
		all[i] = i
	}
	return writeJPEG(s, []progScan{{comps: all, se: 63}}, true)
}

func writeJPEG(s blockSource, scans []progScan, baseline bool) []byte {
	h := s.header()
	var out bytes.Buffer
	out.Write([]byte{0xff, 0xd8})
	for i, c := range h.comps {
		out.Write([]byte{0xff, 0xdb, 0, 67, byte(i)})
		for _, z := range zigzag {
			out.WriteByte(byte(min(255, c.quant[z])))
		}
	}
	nc := len(h.comps)
	sof := byte(0xc2)
	if baseline {
		sof = 0xc0
	}
	if h.adobe >= 0 {
		out.Write([]byte{0xff, 0xee, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, byte(h.adobe)})
	}
	out.Write([]byte{0xff, sof, 0, byte(8 + 3*nc), 8, byte(h.h >> 8), byte(h.h), byte(h.w >> 8), byte(h.w), byte(nc)})
	for i, c := range h.comps {
		hv := byte(c.h<<4 | c.v)
		if nc == 1 {
			hv = 0x11
		}
		out.Write([]byte{c.id, hv, byte(i)})
	}
	dht := func(class byte, counts [16]uint8, vals []uint8) {
		n := 3 + 16 + len(vals)
		out.Write([]byte{0xff, 0xc4, byte(n >> 8), byte(n), class})
		out.Write(counts[:])
		out.Write(vals)
	}
	dht(0x00, testDCBits, testDCVals)
	dht(0x10, testACBits, testACVals)
	dc, ac := testHuff(testDCBits, testDCVals), testHuff(testACBits, testACVals)
	shift := func(v int16, al int) int32 { // toward zero, as the encoder's point transform
		if v < 0 {
			return -(int32(-v) >> al)
		}
		return int32(v) >> al
	}
	for _, sc := range scans {
		ns := len(sc.comps)
		out.Write([]byte{0xff, 0xda, 0, byte(6 + 2*ns), byte(ns)})
		for _, ci := range sc.comps {
			out.Write([]byte{h.comps[ci].id, 0x00})
		}
		out.Write([]byte{byte(sc.ss), byte(sc.se), byte(sc.ah<<4 | sc.al)})
		var w testBits
		var pred [4]int32
		acFirst := func(blk []int16, ss, se, al int) {
			run := 0
			for k := ss; k <= se; k++ {
				v := shift(blk[zigzag[k]], al)
				if v == 0 {
					run++
					continue
				}
				for run >= 16 {
					w.sym(ac, 0xf0)
					run -= 16
				}
				w.value(ac, run, v)
				run = 0
			}
			if run > 0 {
				w.sym(ac, 0x00) // end of band, a run of one block
			}
		}
		block := func(i, ci int, blk []int16) {
			switch {
			case baseline:
				v := int32(blk[0])
				if d := v - pred[i]; d == 0 {
					w.sym(dc, 0)
				} else {
					w.value(dc, 0, d)
				}
				pred[i] = v
				acFirst(blk, 1, 63, 0)
			case sc.ss == 0 && sc.ah == 0:
				v := int32(blk[0]) >> sc.al // DC: an arithmetic shift
				if d := v - pred[i]; d == 0 {
					w.sym(dc, 0)
				} else {
					w.value(dc, 0, d)
				}
				pred[i] = v
			case sc.ss == 0:
				w.put(uint32(blk[0]>>sc.al)&1, 1)
			case sc.ah == 0:
				acFirst(blk, sc.ss, sc.se, sc.al)
			default: // refinement of one coefficient
				c := blk[zigzag[sc.ss]]
				if shift(c, sc.ah) != 0 {
					w.sym(ac, 0x00)
					w.put(uint32(shift(c, sc.al))&1, 1)
				} else if v := shift(c, sc.al); v != 0 {
					w.sym(ac, 0x01)
					w.put(uint32(1+v)/2, 1) // 1 for +1, 0 for -1
				} else {
					w.sym(ac, 0x00)
				}
			}
		}
		if ns == 1 {
			ci := sc.comps[0]
			c := h.comps[ci]
			for by := 0; by < c.bh; by++ {
				for bx := 0; bx < c.bw; bx++ {
					block(0, ci, s.block(ci, bx, by))
				}
			}
		} else {
			for my := 0; my < h.my; my++ {
				for mx := 0; mx < h.mx; mx++ {
					for i, ci := range sc.comps {
						c := h.comps[ci]
						for y := 0; y < c.v; y++ {
							for x := 0; x < c.h; x++ {
								block(i, ci, s.block(ci, mx*c.h+x, my*c.v+y))
							}
						}
					}
				}
			}
		}
		w.flush()
		out.Write(w.out.Bytes())
	}
	out.Write([]byte{0xff, 0xd9})
	return out.Bytes()
}

// script129 is 129 scans: the DCs, every AC coefficient of Y alone in a
// first pass at Al=1 and in a refinement pass, each chroma component's AC
// in one scan.
func script129(nc int) []progScan {
	all := []int{0}
	if nc == 3 {
		all = []int{0, 1, 2}
	}
	s := []progScan{{comps: all}}
	for k := 1; k <= 63; k++ {
		s = append(s, progScan{comps: []int{0}, ss: k, se: k, al: 1})
	}
	if nc == 3 {
		s = append(s, progScan{comps: []int{1}, ss: 1, se: 63}, progScan{comps: []int{2}, ss: 1, se: 63})
	}
	for k := 1; k <= 63; k++ {
		s = append(s, progScan{comps: []int{0}, ss: k, se: k, ah: 1})
	}
	return s
}
