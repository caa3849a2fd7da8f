package imaging

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"
	"testing"
)

// A TIFF writer for tests: strips or tiles, chunky or planar, fill order,
// predictor, every compression the decoder reads (LZW as literal codes),
// and the pixels a test can predict.

type tiffSpec struct {
	name        string
	w, h        int
	spp, bps    int
	photometric int
	extra       int // ExtraSamples value for a 4th (2nd) sample, -1 none
	planar      bool
	tile        int // tile size, 0 for strips
	rps         int // rows per strip
	compression int
	predictor   int
	fillOrder   int
	bigEndian   bool
	inkSet      int
}

func (s tiffSpec) maxv() uint32 { return 1<<s.bps - 1 }

// sample is the stored value of sample c of pixel (x, y).
func (s tiffSpec) sample(x, y, c int) uint16 {
	v := uint32(x*29+y*71+c*97) ^ uint32(x*y*3+c)
	if c == s.spp-1 && s.extra >= 0 && s.spp > 1 { // alpha: opaque on a third
		if (x+2*y)%3 == 0 {
			return uint16(s.maxv())
		}
		v = uint32(x * 13)
	}
	if s.photometric == 3 {
		v %= 12
	}
	return uint16(v % (s.maxv() + 1))
}

// want is the expected luma (8 or 16 bits) and alpha of a pixel.
func (s tiffSpec) want(x, y int) (l, a uint32) {
	deep := s.bps > 8
	scale := func(v uint16) uint32 {
		if deep {
			return (uint32(v)*65535 + s.maxv()/2) / s.maxv()
		}
		return uint32(v) * 255 / s.maxv()
	}
	maxv := uint32(255)
	if deep {
		maxv = 65535
	}
	smp := func(c int) uint32 { return scale(s.sample(x, y, c)) }
	switch s.photometric {
	case 0:
		l = maxv - smp(0)
	case 1:
		l = smp(0)
	case 2:
		if deep {
			l = uint32(luma16(uint16(smp(0)), uint16(smp(1)), uint16(smp(2))))
		} else {
			l = uint32(luma8(uint8(smp(0)), uint8(smp(1)), uint8(smp(2))))
		}
	case 3:
		r, g, b := tiffPal(int(s.sample(x, y, 0)))
		l = uint32(luma8(r, g, b))
	case 5:
		k := maxv - smp(3)
		r, g, b := mulDiv(maxv-smp(0), k, maxv), mulDiv(maxv-smp(1), k, maxv), mulDiv(maxv-smp(2), k, maxv)
		l = uint32(luma8(uint8(r), uint8(g), uint8(b)))
	}
	a = maxv
	if s.extra == 1 || s.extra == 2 {
		a = smp(s.spp - 1)
		if s.extra == 1 && a != 0 && a != maxv {
			l = min(maxv, (l*maxv+a/2)/a)
		}
	}
	return l, a
}

func tiffPal(i int) (r, g, b uint8) { return uint8(i * 20), uint8(250 - i*17), uint8(i * i) }

// lzwLiterals writes TIFF LZW with literal codes only, clearing the table
// before it needs 10-bit codes.
func lzwLiterals(data []byte) []byte {
	var out []byte
	var acc uint32
	var n uint
	put := func(code uint32) {
		acc = acc<<9 | code
		n += 9
		for n >= 8 {
			out = append(out, byte(acc>>(n-8)))
			n -= 8
		}
	}
	for i, b := range data {
		if i%200 == 0 {
			put(256)
		}
		put(uint32(b))
	}
	put(257)
	if n > 0 {
		out = append(out, byte(acc<<(8-n)))
	}
	return out
}

func packBits(data []byte) []byte {
	var out []byte
	for len(data) > 0 {
		run := 1
		for run < len(data) && run < 128 && data[run] == data[0] {
			run++
		}
		if run >= 3 {
			out = append(out, byte(int8(1-run)), data[0])
			data = data[run:]
			continue
		}
		lit := min(len(data), 128)
		for i := 1; i+2 < lit; i++ {
			if data[i] == data[i+1] && data[i] == data[i+2] {
				lit = i
				break
			}
		}
		out = append(out, byte(lit-1))
		out = append(out, data[:lit]...)
		data = data[lit:]
	}
	return out
}

func (s tiffSpec) encode() []byte {
	var bo interface {
		binary.ByteOrder
		binary.AppendByteOrder
	} = binary.LittleEndian
	if s.bigEndian {
		bo = binary.BigEndian
	}
	planes, sppB := 1, s.spp
	if s.planar {
		planes, sppB = s.spp, 1
	}
	bw, bh := s.w, s.rps
	if s.tile > 0 {
		bw, bh = s.tile, s.tile
	}
	if bh == 0 {
		bh = s.h
	}
	across, down := (s.w+bw-1)/bw, (s.h+bh-1)/bh
	rowBytes := (bw*sppB*s.bps + 7) / 8
	var blocks [][]byte
	for p := 0; p < planes; p++ {
		for j := 0; j < down; j++ {
			for i := 0; i < across; i++ {
				rows := bh
				if s.tile == 0 {
					rows = min(bh, s.h-j*bh)
				}
				var raw []byte
				for r := 0; r < rows; r++ {
					row := make([]byte, rowBytes)
					for bx := 0; bx < bw; bx++ {
						x, y := i*bw+bx, j*bh+r
						for c := 0; c < sppB; c++ {
							ch := c
							if s.planar {
								ch = p
							}
							var v uint16
							if x < s.w && y < s.h {
								v = s.sample(x, y, ch)
							}
							at := (bx*sppB + c) * s.bps
							if s.bps == 16 {
								bo.PutUint16(row[at/8:], v)
							} else {
								for k := 0; k < s.bps; k++ {
									bit := at + k
									row[bit/8] |= byte(v>>(s.bps-1-k)&1) << (7 - bit%8)
								}
							}
						}
					}
					if s.predictor == 2 {
						if s.bps == 8 {
							for k := len(row) - 1; k >= sppB; k-- {
								row[k] -= row[k-sppB]
							}
						} else {
							for k := len(row)/2 - 1; k >= sppB; k-- {
								bo.PutUint16(row[2*k:], bo.Uint16(row[2*k:])-bo.Uint16(row[2*(k-sppB):]))
							}
						}
					}
					raw = append(raw, row...)
				}
				switch s.compression {
				case 5:
					raw = lzwLiterals(raw)
				case 8:
					var z bytes.Buffer
					zw := zlib.NewWriter(&z)
					zw.Write(raw)
					zw.Close()
					raw = z.Bytes()
				case 32773:
					raw = packBits(raw)
				}
				if s.fillOrder == 2 {
					for k := range raw {
						raw[k] = bits.Reverse8(raw[k])
					}
				}
				blocks = append(blocks, raw)
			}
		}
	}
	// Layout: header, blocks, then the IFD and its out-of-line values.
	var out []byte
	if s.bigEndian {
		out = append(out, "MM\x00*"...)
	} else {
		out = append(out, "II*\x00"...)
	}
	out = append(out, 0, 0, 0, 0)
	var offsets, counts []uint32
	for _, b := range blocks {
		offsets, counts = append(offsets, uint32(len(out))), append(counts, uint32(len(b)))
		out = append(out, b...)
		if len(out)%2 == 1 {
			out = append(out, 0)
		}
	}
	type entry struct {
		tag, typ uint16
		vals     []uint32
	}
	short := func(tag int, v ...uint32) entry { return entry{uint16(tag), 3, v} }
	long := func(tag int, v ...uint32) entry { return entry{uint16(tag), 4, v} }
	bps := make([]uint32, s.spp)
	for i := range bps {
		bps[i] = uint32(s.bps)
	}
	es := []entry{
		long(256, uint32(s.w)), long(257, uint32(s.h)), short(258, bps...), short(259, uint32(max(1, s.compression))),
		short(262, uint32(s.photometric)), short(277, uint32(s.spp)),
	}
	if s.fillOrder != 0 {
		es = append(es, short(266, uint32(s.fillOrder)))
	}
	if s.planar {
		es = append(es, short(284, 2))
	}
	if s.predictor != 0 {
		es = append(es, short(317, uint32(s.predictor)))
	}
	if s.extra >= 0 && s.spp > 1 && (s.photometric == 1 && s.spp == 2 || s.photometric == 2 && s.spp == 4 || s.photometric == 5 && s.spp == 5) {
		es = append(es, short(338, uint32(s.extra)))
	}
	if s.inkSet != 0 {
		es = append(es, short(332, uint32(s.inkSet)))
	}
	if s.photometric == 3 {
		n := 1 << s.bps
		cmap := make([]uint32, 3*n)
		for i := 0; i < n; i++ {
			r, g, b := tiffPal(i)
			cmap[i], cmap[n+i], cmap[2*n+i] = uint32(r)*257, uint32(g)*257, uint32(b)*257
		}
		es = append(es, short(320, cmap...))
	}
	if s.tile > 0 {
		es = append(es, long(322, uint32(s.tile)), long(323, uint32(s.tile)), long(324, offsets...), long(325, counts...))
	} else {
		es = append(es, long(273, offsets...), long(278, uint32(bh)), long(279, counts...))
	}
	sort.Slice(es, func(i, j int) bool { return es[i].tag < es[j].tag })
	ifd := uint32(len(out))
	bo.PutUint32(out[4:], ifd)
	extraAt := ifd + 2 + 12*uint32(len(es)) + 4
	var ifdb, extra []byte
	ifdb = bo.AppendUint16(ifdb, uint16(len(es)))
	for _, e := range es {
		ifdb = bo.AppendUint16(ifdb, e.tag)
		ifdb = bo.AppendUint16(ifdb, e.typ)
		ifdb = bo.AppendUint32(ifdb, uint32(len(e.vals)))
		var val []byte
		for _, v := range e.vals {
			if e.typ == 3 {
				val = bo.AppendUint16(val, uint16(v))
			} else {
				val = bo.AppendUint32(val, v)
			}
		}
		if len(val) <= 4 {
			ifdb = append(ifdb, append(val, make([]byte, 4-len(val))...)...)
		} else {
			ifdb = bo.AppendUint32(ifdb, extraAt+uint32(len(extra)))
			extra = append(extra, val...)
		}
	}
	ifdb = append(ifdb, 0, 0, 0, 0)
	return append(append(out, ifdb...), extra...)
}

func tiffSpecs() []tiffSpec {
	base := tiffSpec{w: 45, h: 37, spp: 3, bps: 8, photometric: 2, extra: -1, rps: 8, compression: 8}
	var ss []tiffSpec
	add := func(name string, f func(*tiffSpec)) {
		s := base
		s.name = name
		f(&s)
		ss = append(ss, s)
	}
	for _, c := range []int{1, 5, 8, 32773} {
		add(fmt.Sprintf("rgb8 strips compression %d", c), func(s *tiffSpec) { s.compression = c })
		add(fmt.Sprintf("rgb8 FillOrder=2 compression %d", c), func(s *tiffSpec) { s.compression, s.fillOrder = c, 2 })
		add(fmt.Sprintf("rgb8 tiled planar compression %d", c), func(s *tiffSpec) { s.compression, s.tile, s.planar = c, 16, true })
	}
	add("rgb8 one strip big-endian", func(s *tiffSpec) { s.rps, s.bigEndian = 0, true })
	add("rgb8 strips planar", func(s *tiffSpec) { s.planar = true })
	add("rgb8 tiled chunky", func(s *tiffSpec) { s.tile = 16 })
	add("rgb8 tiled planar FillOrder=2 LZW predictor", func(s *tiffSpec) { s.tile, s.planar, s.fillOrder, s.compression, s.predictor = 32, true, 2, 5, 2 })
	add("rgb8 predictor deflate", func(s *tiffSpec) { s.predictor = 2 })
	add("rgb16 predictor deflate big-endian", func(s *tiffSpec) { s.bps, s.predictor, s.bigEndian = 16, 2, true })
	add("rgb16 tiled planar", func(s *tiffSpec) { s.bps, s.tile, s.planar = 16, 16, true })
	add("rgba8 unassociated", func(s *tiffSpec) { s.spp, s.extra = 4, 2 })
	add("rgba8 associated planar", func(s *tiffSpec) { s.spp, s.extra, s.planar = 4, 1, true })
	add("rgbx8 unspecified extra", func(s *tiffSpec) { s.spp, s.extra = 4, 0 })
	add("rgba16 unassociated", func(s *tiffSpec) { s.spp, s.extra, s.bps = 4, 2, 16 })
	for _, b := range []int{1, 2, 4, 8, 12, 16} {
		add(fmt.Sprintf("gray%d", b), func(s *tiffSpec) { s.spp, s.bps, s.photometric = 1, b, 1 })
	}
	add("gray4 WhiteIsZero packbits", func(s *tiffSpec) { s.spp, s.bps, s.photometric, s.compression = 1, 4, 0, 32773 })
	add("gray8 WhiteIsZero", func(s *tiffSpec) { s.spp, s.bps, s.photometric = 1, 8, 0 })
	add("gray+alpha8", func(s *tiffSpec) { s.spp, s.photometric, s.extra = 2, 1, 2 })
	add("palette4", func(s *tiffSpec) { s.spp, s.bps, s.photometric = 1, 4, 3 })
	add("palette8 tiled", func(s *tiffSpec) { s.spp, s.photometric, s.tile = 1, 3, 16 })
	add("cmyk8", func(s *tiffSpec) { s.spp, s.photometric, s.inkSet = 4, 5, 1 })
	add("cmyk8 planar", func(s *tiffSpec) { s.spp, s.photometric, s.planar = 4, 5, true })
	return ss
}

// TestTIFFVariants: every layout gives the pixels its samples say.
func TestTIFFVariants(t *testing.T) {
	for _, s := range tiffSpecs() {
		t.Run(s.name, func(t *testing.T) {
			data := s.encode()
			res, err := Process(context.Background(), data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Info.Width != s.w || res.Info.Height != s.h {
				t.Fatalf("info %+v", res.Info)
			}
			j := &job{ctx: context.Background(), data: data, opts: DefaultOptions()}
			if err := steps[:2].run(context.Background(), j); err != nil {
				t.Fatal(err)
			}
			r := j.gray
			if r.Deep != (s.bps > 8) {
				t.Fatalf("deep=%v for %d bits", r.Deep, s.bps)
			}
			for y := 0; y < s.h; y++ {
				row := r.row(y)
				for x := 0; x < s.w; x++ {
					wl, wa := s.want(x, y)
					var l, a uint32
					switch {
					case r.Deep && r.Alpha:
						l, a = uint32(row[4*x])<<8|uint32(row[4*x+1]), uint32(row[4*x+2])<<8|uint32(row[4*x+3])
					case r.Deep:
						l, a = uint32(row[2*x])<<8|uint32(row[2*x+1]), 65535
					case r.Alpha:
						l, a = uint32(row[2*x]), uint32(row[2*x+1])
					default:
						l, a = uint32(row[x]), 255
					}
					if l != wl || a != wa {
						t.Fatalf("(%d,%d): L %d A %d, want %d %d", x, y, l, a, wl, wa)
					}
				}
			}
		})
	}
}

// TestTIFFVariantsPillow: libtiff (through Pillow) reads the 8-bit
// variants the same way, so the writer above is no private dialect.
func TestTIFFVariantsPillow(t *testing.T) {
	p := newPillow(t)
	for _, s := range tiffSpecs() {
		if s.bps != 8 || s.extra >= 1 {
			continue // Pillow widens or keeps these its own way
		}
		t.Run(s.name, func(t *testing.T) {
			data := s.encode()
			_, _, ours, _ := lumaOf(t, data)
			_, _, mode, theirs := p.read("luma", data)
			if maxd, mean := compare(ours, theirs); maxd > 0 || len(ours) != len(theirs) {
				t.Fatalf("Pillow (%s) differs: max %d mean %.2f", mode, maxd, mean)
			}
		})
	}
}

// TestTIFFRefused: what is not decoded is refused as unsupported_format,
// never turned into noise.
func TestTIFFRefused(t *testing.T) {
	base := tiffSpec{w: 20, h: 10, spp: 3, bps: 8, photometric: 2, extra: -1, rps: 4, compression: 1}
	bigtiff := append([]byte("II+\x00\x08\x00\x00\x00"), make([]byte, 64)...)
	cases := map[string][]byte{"BigTIFF": bigtiff, "BigTIFF big-endian": append([]byte("MM\x00+\x00\x08\x00\x00"), make([]byte, 64)...)}
	for name, f := range map[string]func(*tiffSpec){
		"JPEG compression":      func(s *tiffSpec) { s.compression = 7 },
		"old JPEG compression":  func(s *tiffSpec) { s.compression = 6 },
		"floating predictor":    func(s *tiffSpec) { s.predictor = 3 },
		"YCbCr":                 func(s *tiffSpec) { s.photometric = 6 },
		"CIELab":                func(s *tiffSpec) { s.photometric = 8 },
		"RGB 4-bit":             func(s *tiffSpec) { s.bps = 4 },
		"32-bit gray":           func(s *tiffSpec) { s.spp, s.photometric, s.bps = 1, 1, 32 },
		"predictor on 4 bits":   func(s *tiffSpec) { s.spp, s.photometric, s.bps, s.predictor = 1, 1, 4, 2 },
		"CMYK other ink set":    func(s *tiffSpec) { s.spp, s.photometric, s.inkSet = 4, 5, 2 },
		"unknown compression 9": func(s *tiffSpec) { s.compression = 9 },
	} {
		s := base
		f(&s)
		if s.bps == 32 {
			s.bps = 16
			d := s.encode()
			cases[name] = bytes.Replace(d, []byte{0x02, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00}, []byte{0x02, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x20, 0x00}, 1)
			continue
		}
		comp := s.compression
		if comp == 7 || comp == 6 || comp == 9 {
			s.compression = 1
			d := s.encode()
			cases[name] = bytes.Replace(d, []byte{0x03, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00}, []byte{0x03, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, byte(comp), 0x00}, 1)
			continue
		}
		cases[name] = s.encode()
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Probe(data); Code(err) != "unsupported_format" {
				t.Errorf("Probe: %v, want unsupported_format", err)
			}
			if _, err := Process(context.Background(), data, Options{}); Code(err) != "unsupported_format" {
				t.Errorf("Process: %v, want unsupported_format", err)
			}
		})
	}
}
