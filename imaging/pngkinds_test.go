package imaging

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// A PNG writer for tests: any color type and bit depth, Adam7 or not,
// tRNS of every kind, a different filter on each row. image/png writes
// neither interlaced files nor most bit depths.

type pngKind struct {
	name   string
	ctype  byte
	depth  int
	trns   bool // add a tRNS chunk (a color key, or palette alphas)
	chunks [][2]string
}

func (k pngKind) channels() int { return [7]int{1, 0, 3, 1, 2, 0, 4}[k.ctype] }

// sample is the deterministic value of channel c of pixel (x, y).
func (k pngKind) sample(x, y, c int) uint16 {
	max := uint32(1)<<k.depth - 1
	if k.ctype == 3 {
		max = uint32(min(1<<k.depth, 40)) - 1
	}
	v := uint32(x*37+y*101+c*53) ^ uint32(x*y*7)
	if k.ctype == 4 && c == 1 || k.ctype == 6 && c == 3 {
		if (x+y)%3 == 0 {
			return uint16(max) // opaque
		}
		v = uint32(x * 31)
	}
	return uint16(v % (max + 1))
}

func pngChunk(b *bytes.Buffer, typ string, payload []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(payload)))
	b.Write(n[:])
	b.WriteString(typ)
	b.Write(payload)
	binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(append([]byte(typ), payload...)))
	b.Write(n[:])
}

func (k pngKind) encode(w, h int, interlace bool) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = byte(k.depth), k.ctype
	if interlace {
		ihdr[12] = 1
	}
	pngChunk(&out, "IHDR", ihdr)
	for _, c := range k.chunks {
		pngChunk(&out, c[0], []byte(c[1]))
	}
	if k.ctype == 3 {
		var plte, trns []byte
		for i := 0; i < 40; i++ {
			plte = append(plte, byte(i*6), byte(250-i*5), byte(i*i))
			trns = append(trns, byte(255-i*9%256))
		}
		pngChunk(&out, "PLTE", plte[:3*min(40, 1<<k.depth)])
		if k.trns {
			pngChunk(&out, "tRNS", trns[:min(len(trns), 1<<k.depth)-1]) // the last entries opaque
		}
	} else if k.trns {
		key := make([]byte, 2*k.channels())
		for c := 0; c < k.channels(); c++ {
			binary.BigEndian.PutUint16(key[2*c:], k.sample(3, 5, c)) // the color of pixel (3,5)
		}
		pngChunk(&out, "tRNS", key)
	}
	var raw bytes.Buffer
	passes := [][4]int{{0, 0, 1, 1}}
	if interlace {
		passes = adam7[:]
	}
	bpp := max(1, k.channels()*k.depth/8)
	for _, p := range passes {
		pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		if pw <= 0 || ph <= 0 {
			continue
		}
		n := (pw*k.channels()*k.depth + 7) / 8
		prev := make([]byte, n)
		for j := 0; j < ph; j++ {
			y := p[1] + j*p[3]
			row := make([]byte, n)
			for i := 0; i < pw; i++ {
				x := p[0] + i*p[2]
				for c := 0; c < k.channels(); c++ {
					v := k.sample(x, y, c)
					at := (i*k.channels() + c) * k.depth
					if k.depth == 16 {
						binary.BigEndian.PutUint16(row[at/8:], v)
					} else {
						row[at/8] |= byte(v) << (8 - k.depth - at%8)
					}
				}
			}
			f := byte(y % 5)
			raw.WriteByte(f)
			raw.Write(testFilterRow(f, row, prev, bpp))
			prev = row
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	pngChunk(&out, "IDAT", z.Bytes())
	pngChunk(&out, "IEND", nil)
	return out.Bytes()
}

func testFilterRow(f byte, cur, prev []byte, bpp int) []byte {
	out := make([]byte, len(cur))
	left := func(i int) byte {
		if i >= bpp {
			return cur[i-bpp]
		}
		return 0
	}
	ul := func(i int) byte {
		if i >= bpp {
			return prev[i-bpp]
		}
		return 0
	}
	for i := range cur {
		switch f {
		case 0:
			out[i] = cur[i]
		case 1:
			out[i] = cur[i] - left(i)
		case 2:
			out[i] = cur[i] - prev[i]
		case 3:
			out[i] = cur[i] - byte((int(left(i))+int(prev[i]))/2)
		case 4:
			out[i] = cur[i] - paeth(left(i), prev[i], ul(i))
		}
	}
	return out
}

func pngKinds() []pngKind {
	var ks []pngKind
	for _, d := range []int{1, 2, 4, 8, 16} {
		ks = append(ks, pngKind{name: fmt.Sprintf("gray%d", d), ctype: 0, depth: d})
	}
	for _, d := range []int{2, 8, 16} {
		ks = append(ks, pngKind{name: fmt.Sprintf("gray%d+key", d), ctype: 0, depth: d, trns: true})
	}
	for _, d := range []int{8, 16} {
		ks = append(ks,
			pngKind{name: fmt.Sprintf("rgb%d", d), ctype: 2, depth: d},
			pngKind{name: fmt.Sprintf("rgb%d+key", d), ctype: 2, depth: d, trns: true},
			pngKind{name: fmt.Sprintf("gray+alpha%d", d), ctype: 4, depth: d},
			pngKind{name: fmt.Sprintf("rgba%d", d), ctype: 6, depth: d})
	}
	for _, d := range []int{1, 2, 4, 8} {
		ks = append(ks, pngKind{name: fmt.Sprintf("palette%d", d), ctype: 3, depth: d})
		ks = append(ks, pngKind{name: fmt.Sprintf("palette%d+tRNS", d), ctype: 3, depth: d, trns: true})
	}
	return ks
}
