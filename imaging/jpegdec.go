package imaging

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// The JPEG reader: markers, frame and scans into quantised coefficient
// blocks, handed one MCU row at a time to a sink (jpegSink) that turns them
// into what the pipeline needs: Huffman tokens of the gray output (the DCT
// path, jpegdct.go), the Y plane (jpegluma.go) or gray from full colour
// (jpegcolor.go).
//
// It reads every process of ITU-T T.81 that libjpeg reads: baseline,
// extended sequential and progressive, Huffman or arithmetic coded
// (jpegarith.go), 8-bit, 1, 3 or 4 components with any sampling factors
// 1..4, restart intervals, interleaved or not. Lossless, hierarchical and
// 12-bit JPEGs are refused as unsupported_format.
//
// A file of one interleaved sequential scan (nearly every camera JPEG) is
// streamed: rows of MCUs go to the sink as they are decoded, on other cores,
// and no coefficient is kept. Progressive and multi-scan files keep the
// coefficients of the components the sink reads (scans of the others are
// skipped unread when they are not interleaved with them) and hand them
// over at the end: each coefficient is decoded once.
//
// The work is bounded: the scans are counted and their blocks summed from
// the scan headers before any entropy-coded data is read (jpegComplexity),
// the context is checked before every scan and every row of MCUs, and a
// file that fails is never decoded a second time by another decoder.

// jpegColour is how the components of a JPEG make colour.
type jpegColour uint8

const (
	jpegGray jpegColour = iota
	jpegYCbCr
	jpegRGB
	jpegCMYK // Adobe-inverted CMYK, as Photoshop writes it
	jpegYCCK
)

func (c jpegColour) String() string {
	return [...]string{"gray", "YCbCr", "RGB", "CMYK", "YCCK"}[c]
}

// jpegComp is one component of the frame.
type jpegComp struct {
	id      uint8
	h, v    int        // sampling factors
	tq      int        // quantisation table selector
	cw, ch  int        // samples across and down
	bw, bh  int        // blocks covering cw x ch
	pw, ph  int        // blocks padded to whole MCUs
	quant   [64]uint16 // the table in force at the component's first scan, natural order
	latched bool
}

// jpegHeader is what the markers before the entropy-coded data say.
type jpegHeader struct {
	sof         byte
	progressive bool
	arithmetic  bool
	w, h        int
	comps       []jpegComp
	hmax, vmax  int
	mx, my      int // MCUs across and down
	colour      jpegColour
	adobe       int // APP14 transform, -1 without APP14
	jfif        bool
}

// yFull reports whether component 0 (Y or gray) has the image's full
// resolution, so that its blocks are the gray image's blocks.
func (h *jpegHeader) yFull() bool {
	return h.comps[0].h == h.hmax && h.comps[0].v == h.vmax
}

// jpegLimits bound the work of one decode.
type jpegLimits struct {
	maxScans int   // scans in the file (0: no limit)
	maxWork  int64 // blocks entropy-decoded, summed over the scans (0: no limit)
}

// Errors of the reader.
func corruptf(format string, args ...any) error {
	return newError(ErrCorrupt, fmt.Errorf("jpeg: "+format, args...))
}

func unsupportedf(format string, args ...any) error {
	return newError(ErrUnsupportedFormat, fmt.Errorf("jpeg: "+format, args...))
}

func tooComplexf(format string, args ...any) error {
	return newError(ErrTooComplex, fmt.Errorf("jpeg: "+format, args...))
}

// mcuRow is one row of MCUs handed to a sink.
type mcuRow struct {
	y   int       // index of the MCU row
	blk [][]int16 // per component, pw*v blocks of 64 quantised coefficients in natural order, a row of blocks after another; nil for components the sink does not read
	// nz per component and block: bit k set when the coefficient at
	// zig-zag position k (1..63) is not zero.
	nz [][]uint64
}

// jpegSink turns finished blocks into something.
type jpegSink interface {
	// begin is called at the first scan and says which components the
	// sink reads.
	begin(h *jpegHeader) (want []bool, err error)
	// prepare is called once, before the first row, when the
	// quantisation tables of the components read are latched.
	prepare() error
	// ordered sinks get their rows in order on one goroutine; others get
	// them on several goroutines in any order.
	ordered() bool
	row(r *mcuRow) error
	// end is called after the last row.
	end() error
}

// jpegDecoder is the state of one decode.
type jpegDecoder struct {
	ctx  context.Context
	data []byte
	lim  jpegLimits
	sink jpegSink

	hdr       jpegHeader
	haveFrame bool
	quant     [4][64]uint16 // natural order
	qdef      [4]bool
	dc, ac    [4]huffTable
	dcL, dcU  [4]uint8 // arithmetic DC conditioning (DAC)
	acK       [4]uint8 // arithmetic AC conditioning (DAC)
	ri        int      // restart interval in MCUs

	scans    int
	work     int64
	want     []bool
	begun    bool
	prepared bool
	stream   bool      // rows are handed over as the (single) scan is decoded
	coef     [][]int16 // progressive and multi-scan: the blocks of the wanted components
	seen     []bool    // sequential multi-scan: components scanned so far
	complete bool      // every block the sink needs has been decoded
	pool     *rowPool
}

// decodeJPEG reads data and feeds sink. It returns the header.
func decodeJPEG(ctx context.Context, data []byte, lim jpegLimits, sink jpegSink) (*jpegHeader, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	d := &jpegDecoder{ctx: ctx, data: data, lim: lim, sink: sink}
	d.hdr.adobe = -1
	for i := range d.dcL {
		d.dcL[i], d.dcU[i], d.acK[i] = 0, 1, 5 // T.81 defaults
	}
	err := d.run()
	if d.pool != nil {
		if perr := d.pool.close(); err == nil {
			err = perr
		}
	}
	if err != nil {
		return nil, err
	}
	return &d.hdr, nil
}

// ctxErr returns the context's error, wrapped.
func (d *jpegDecoder) ctxErr() error {
	select {
	case <-d.ctx.Done():
		return fmt.Errorf("imaging: decode jpeg: %w", d.ctx.Err())
	default:
		return nil
	}
}

// nextMarkerAt returns the position of the marker byte (after 0xFF and
// fill bytes) at or after p, skipping junk between segments, or -1.
func nextMarkerAt(data []byte, p int) int {
	for {
		i := bytes.IndexByte(data[min(p, len(data)):], 0xff)
		if i < 0 {
			return -1
		}
		p += i
		for p < len(data) && data[p] == 0xff {
			p++
		}
		if p >= len(data) {
			return -1
		}
		if data[p] != 0 {
			return p
		}
	}
}

// segments walks the marker segments from SOI: f is called with each
// marker and its payload (nil for markers without one) and the position
// just after it; it returns the position to go on from (after the
// entropy-coded data for SOS) or an error. The walk ends at EOI, at the
// end of the data (eoi false) or when f says stop.
func segments(data []byte, f func(m byte, seg []byte, next int) (int, bool, error)) (eoi bool, err error) {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return false, corruptf("missing SOI")
	}
	p := 2
	for {
		q := nextMarkerAt(data, p)
		if q < 0 {
			return false, nil
		}
		m := data[q]
		p = q + 1
		if m == 0xd9 {
			return true, nil
		}
		var seg []byte
		if !(m == 0xd8 || (m >= 0xd0 && m <= 0xd7) || m == 0x01) {
			if p+2 > len(data) {
				return false, corruptf("truncated segment")
			}
			n := be16(data[p:])
			if n < 2 || p+n > len(data) {
				return false, corruptf("truncated segment")
			}
			seg = data[p+2 : p+n]
			p += n
		}
		next, stop, err := f(m, seg, p)
		if err != nil || stop {
			return false, err
		}
		p = next
	}
}

// entropyEnd returns the position of the first marker at or after p that
// ends an entropy-coded segment (not a stuffed 0xFF00, not RSTn), or
// len(data).
func entropyEnd(data []byte, p int) int {
	for p < len(data) {
		i := bytes.IndexByte(data[p:], 0xff)
		if i < 0 {
			return len(data)
		}
		p += i
		if p+1 >= len(data) {
			return len(data)
		}
		if c := data[p+1]; c != 0 && c != 0xff && (c < 0xd0 || c > 0xd7) {
			return p
		}
		p++
	}
	return len(data)
}

func (d *jpegDecoder) run() error {
	eoi, err := segments(d.data, func(m byte, seg []byte, next int) (int, bool, error) {
		if err := d.marker(m, seg); err != nil {
			return 0, false, err
		}
		if m != 0xda {
			return next, false, nil
		}
		end, err := d.scan(seg, next)
		if err != nil {
			return 0, false, err
		}
		// A streamed file is complete after its scan: whatever follows
		// does not change the image.
		return end, d.stream && d.complete, nil
	})
	if err != nil {
		return err
	}
	if !d.haveFrame {
		return corruptf("no frame")
	}
	if !d.begun {
		return corruptf("no scan")
	}
	if !eoi && (d.hdr.progressive || !d.complete) {
		return corruptf("unexpected end of data")
	}
	if !d.hdr.progressive && !d.complete {
		return corruptf("no scan of some components")
	}
	if !d.stream {
		if err := d.deliverStored(); err != nil {
			return err
		}
	}
	if err := d.pool.close(); err != nil {
		return err
	}
	return d.sink.end()
}

// marker handles the segments before and between scans.
func (d *jpegDecoder) marker(m byte, seg []byte) error {
	switch {
	case m == 0xc0 || m == 0xc1 || m == 0xc2 || m == 0xc9 || m == 0xca:
		return d.frame(m, seg)
	case m == 0xc3 || m == 0xcb:
		return unsupportedf("lossless JPEG")
	case m >= 0xc5 && m <= 0xc7, m >= 0xcd && m <= 0xcf:
		return unsupportedf("hierarchical JPEG")
	case m == 0xde:
		return unsupportedf("hierarchical JPEG")
	case m == 0xc4:
		return d.defineHuffman(seg)
	case m == 0xdb:
		return d.defineQuant(seg)
	case m == 0xdd:
		if len(seg) < 2 {
			return corruptf("bad DRI")
		}
		d.ri = be16(seg)
	case m == 0xcc:
		return d.defineArith(seg)
	case m == 0xdc:
		return unsupportedf("DNL marker")
	case m == 0xe0:
		if hasPrefix(seg, "JFIF\x00") {
			d.hdr.jfif = true
		}
	case m == 0xee:
		if hasPrefix(seg, "Adobe") && len(seg) >= 12 && !d.begun {
			d.hdr.adobe = int(seg[11])
		}
	}
	return nil
}

// parseJPEGHeader reads the markers up to the first scan, without
// decoding anything.
func parseJPEGHeader(data []byte) (*jpegHeader, error) {
	d := &jpegDecoder{data: data}
	d.hdr.adobe = -1
	_, err := segments(data, func(m byte, seg []byte, next int) (int, bool, error) {
		if m == 0xda {
			return 0, true, nil
		}
		return next, false, d.marker(m, seg)
	})
	if err != nil {
		return nil, err
	}
	if !d.haveFrame {
		return nil, corruptf("no frame before the first scan")
	}
	d.hdr.colour = d.colour()
	return &d.hdr, nil
}

func (d *jpegDecoder) frame(m byte, seg []byte) error {
	if d.haveFrame {
		return corruptf("second frame")
	}
	if len(seg) < 6 {
		return corruptf("bad SOF")
	}
	d.haveFrame = true
	h := &d.hdr
	h.sof = m
	h.progressive = m == 0xc2 || m == 0xca
	h.arithmetic = m >= 0xc9
	if seg[0] != 8 {
		return unsupportedf("%d-bit samples", seg[0])
	}
	h.h, h.w = be16(seg[1:]), be16(seg[3:])
	nc := int(seg[5])
	if h.w == 0 {
		return corruptf("width 0")
	}
	if h.h == 0 {
		return unsupportedf("height defined by a DNL marker")
	}
	if nc != 1 && nc != 3 && nc != 4 {
		return unsupportedf("%d components", nc)
	}
	if len(seg) < 6+3*nc {
		return corruptf("bad SOF")
	}
	h.comps = make([]jpegComp, nc)
	h.hmax, h.vmax = 1, 1
	for i := range h.comps {
		c := seg[6+3*i:]
		hs, vs := int(c[1]>>4), int(c[1]&15)
		if hs < 1 || hs > 4 || vs < 1 || vs > 4 || c[2] > 3 {
			return corruptf("bad component %d", i)
		}
		for j := 0; j < i; j++ {
			if h.comps[j].id == c[0] {
				return corruptf("component id %d twice", c[0])
			}
		}
		h.comps[i] = jpegComp{id: c[0], h: hs, v: vs, tq: int(c[2])}
		h.hmax, h.vmax = max(h.hmax, hs), max(h.vmax, vs)
	}
	if nc == 1 {
		// A single component is never interleaved: its MCU is one block
		// whatever its factors say.
		h.comps[0].h, h.comps[0].v, h.hmax, h.vmax = 1, 1, 1, 1
	}
	h.mx, h.my = ceilDiv(h.w, 8*h.hmax), ceilDiv(h.h, 8*h.vmax)
	for i := range h.comps {
		c := &h.comps[i]
		c.cw, c.ch = ceilDiv(h.w*c.h, h.hmax), ceilDiv(h.h*c.v, h.vmax)
		c.bw, c.bh = ceilDiv(c.cw, 8), ceilDiv(c.ch, 8)
		c.pw, c.ph = h.mx*c.h, h.my*c.v
	}
	return nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (d *jpegDecoder) defineHuffman(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return corruptf("bad DHT")
		}
		class, id := seg[0]>>4, seg[0]&15
		var counts [16]uint8
		copy(counts[:], seg[1:17])
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if class > 1 || id > 3 || total > 256 || len(seg) < 17+total {
			return corruptf("bad DHT")
		}
		t := &d.dc[id]
		if class == 1 {
			t = &d.ac[id]
		}
		if err := t.build(&counts, seg[17:17+total]); err != nil {
			return err
		}
		seg = seg[17+total:]
	}
	return nil
}

func (d *jpegDecoder) defineQuant(seg []byte) error {
	for len(seg) > 0 {
		prec, id := seg[0]>>4, seg[0]&15
		size := 64 << prec
		if prec > 1 || id > 3 || len(seg) < 1+size {
			return corruptf("bad DQT")
		}
		for i := 0; i < 64; i++ {
			v := uint16(seg[1+i])
			if prec == 1 {
				v = uint16(be16(seg[1+2*i:]))
			}
			if v == 0 {
				v = 1 // a zero step would divide by zero in the requantiser; libjpeg reads it as given
			}
			d.quant[id][zigzag[i]] = v
		}
		d.qdef[id] = true
		seg = seg[1+size:]
	}
	return nil
}

// defineArith reads DAC: the conditioning of arithmetic-coded DC and AC.
func (d *jpegDecoder) defineArith(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 2 {
			return corruptf("bad DAC")
		}
		class, id, v := seg[0]>>4, seg[0]&15, seg[1]
		if class > 1 || id > 3 {
			return corruptf("bad DAC")
		}
		if class == 0 {
			l, u := v&15, v>>4
			if l > u {
				return corruptf("bad DAC conditioning %d > %d", l, u)
			}
			d.dcL[id], d.dcU[id] = l, u
		} else {
			if v < 1 || v > 63 {
				return corruptf("bad DAC conditioning %d", v)
			}
			d.acK[id] = v
		}
		seg = seg[2:]
	}
	return nil
}

// colour decides how the components make colour, as libjpeg does: a JFIF
// file is YCbCr, else Adobe's transform says, else the component ids.
func (d *jpegDecoder) colour() jpegColour {
	h := &d.hdr
	switch len(h.comps) {
	case 1:
		return jpegGray
	case 3:
		switch {
		case h.jfif:
			return jpegYCbCr
		case h.adobe == 0:
			return jpegRGB
		case h.adobe > 0:
			return jpegYCbCr
		case h.comps[0].id == 'R' && h.comps[1].id == 'G' && h.comps[2].id == 'B':
			return jpegRGB
		}
		return jpegYCbCr
	default:
		if h.adobe == 2 {
			return jpegYCCK
		}
		return jpegCMYK
	}
}

// jpegScan is one scan's header.
type jpegScan struct {
	comps  []int // frame component indices, in scan order
	td, ta []int // table selectors of each
	ss, se int   // spectral selection
	ah, al uint  // successive approximation
}

func (d *jpegDecoder) parseScan(seg []byte) (*jpegScan, error) {
	if len(seg) < 1 {
		return nil, corruptf("bad SOS")
	}
	ns := int(seg[0])
	if ns < 1 || ns > 4 || len(seg) < 1+2*ns+3 {
		return nil, corruptf("bad SOS")
	}
	sc := &jpegScan{comps: make([]int, ns), td: make([]int, ns), ta: make([]int, ns)}
	blocks := 0
	for i := 0; i < ns; i++ {
		id, tabs := seg[1+2*i], seg[2+2*i]
		sc.comps[i] = -1
		for j, c := range d.hdr.comps {
			if c.id == id {
				sc.comps[i] = j
			}
		}
		if sc.comps[i] < 0 {
			return nil, corruptf("scan of an unknown component %d", id)
		}
		for j := 0; j < i; j++ {
			if sc.comps[j] == sc.comps[i] {
				return nil, corruptf("component %d twice in a scan", id)
			}
		}
		sc.td[i], sc.ta[i] = int(tabs>>4), int(tabs&15)
		if sc.td[i] > 3 || sc.ta[i] > 3 {
			return nil, corruptf("bad table selector")
		}
		c := d.hdr.comps[sc.comps[i]]
		blocks += c.h * c.v
	}
	if ns > 1 && blocks > 10 {
		return nil, corruptf("%d blocks in an MCU", blocks)
	}
	p := seg[1+2*ns:]
	sc.ss, sc.se, sc.ah, sc.al = int(p[0]), int(p[1]), uint(p[2]>>4), uint(p[2]&15)
	if d.hdr.progressive {
		if sc.ss > sc.se || sc.se > 63 || (sc.ss == 0 && sc.se != 0) || (sc.ss > 0 && ns != 1) || sc.al > 13 || sc.ah > 13 {
			return nil, corruptf("bad progressive scan %d..%d", sc.ss, sc.se)
		}
	} else if sc.ss != 0 || sc.se != 63 || sc.ah != 0 || sc.al != 0 {
		// libjpeg ignores these in sequential scans; so do we.
		sc.ss, sc.se, sc.ah, sc.al = 0, 63, 0, 0
	}
	return sc, nil
}

// scanBlocks is the number of blocks a scan visits.
func (h *jpegHeader) scanBlocks(sc *jpegScan) int64 {
	if len(sc.comps) == 1 {
		c := h.comps[sc.comps[0]]
		return int64(c.bw) * int64(c.bh)
	}
	n := int64(0)
	for _, ci := range sc.comps {
		c := h.comps[ci]
		n += int64(c.pw) * int64(c.ph)
	}
	return n
}

// begin is the set-up at the first scan.
func (d *jpegDecoder) begin(sc *jpegScan) error {
	d.begun = true
	h := &d.hdr
	h.colour = d.colour()
	want, err := d.sink.begin(h)
	if err != nil {
		return err
	}
	if len(want) != len(h.comps) {
		return fmt.Errorf("imaging: jpeg sink wants %d components of %d", len(want), len(h.comps))
	}
	d.want = want
	d.pool = newRowPool(d.sink)
	d.stream = !h.progressive && len(sc.comps) == len(h.comps)
	if d.stream {
		return nil
	}
	d.coef = make([][]int16, len(h.comps))
	d.seen = make([]bool, len(h.comps))
	for i, c := range h.comps {
		if want[i] {
			d.coef[i] = make([]int16, c.pw*c.ph*64)
		}
	}
	return nil
}

// scan decodes one scan whose header is seg and whose data starts at p,
// and returns the position after its entropy-coded data.
func (d *jpegDecoder) scan(seg []byte, p int) (int, error) {
	if !d.haveFrame {
		return 0, corruptf("scan before frame")
	}
	if err := d.ctxErr(); err != nil {
		return 0, err
	}
	sc, err := d.parseScan(seg)
	if err != nil {
		return 0, err
	}
	d.scans++
	if d.lim.maxScans > 0 && d.scans > d.lim.maxScans {
		return 0, tooComplexf("more than %d scans", d.lim.maxScans)
	}
	d.work += d.hdr.scanBlocks(sc)
	if d.lim.maxWork > 0 && d.work > d.lim.maxWork {
		return 0, tooComplexf("scans decode more than %d blocks", d.lim.maxWork)
	}
	if !d.begun {
		if err := d.begin(sc); err != nil {
			return 0, err
		}
	}
	// Latch the quantisation tables of the components at their first scan.
	for _, ci := range sc.comps {
		c := &d.hdr.comps[ci]
		if !c.latched {
			if !d.qdef[c.tq] {
				return 0, corruptf("missing quantisation table %d", c.tq)
			}
			c.quant, c.latched = d.quant[c.tq], true
		}
	}
	// Huffman tables of the scan.
	for i := range sc.comps {
		if d.hdr.arithmetic {
			break
		}
		if (sc.ss == 0 && sc.ah == 0 && !d.dc[sc.td[i]].ok) || (sc.se > 0 && !d.ac[sc.ta[i]].ok) {
			return 0, corruptf("missing Huffman table")
		}
	}
	wanted := false
	for _, ci := range sc.comps {
		wanted = wanted || d.want[ci]
	}
	if !wanted {
		return entropyEnd(d.data, p), nil // nothing the sink reads: not decoded
	}
	if d.stream {
		if !d.prepared {
			if err := d.sink.prepare(); err != nil {
				return 0, err
			}
			d.prepared = true
		}
		var end int
		if d.hdr.arithmetic {
			end, err = d.scanArith(sc, p)
		} else {
			end, err = d.streamHuffman(sc, p)
		}
		if err == nil {
			d.complete = true
		}
		return end, err
	}
	var end int
	if d.hdr.arithmetic {
		end, err = d.scanArith(sc, p)
	} else {
		end, err = d.scanHuffman(sc, p)
	}
	if err != nil {
		return 0, err
	}
	for _, ci := range sc.comps {
		d.seen[ci] = true
	}
	if !d.hdr.progressive {
		d.complete = true
		for i, w := range d.want {
			d.complete = d.complete && (!w || d.seen[i])
		}
	}
	return end, nil
}

// deliverStored hands the kept coefficients to the sink, a row of MCUs at a
// time.
func (d *jpegDecoder) deliverStored() error {
	if !d.prepared {
		if err := d.sink.prepare(); err != nil {
			return err
		}
		d.prepared = true
	}
	h := &d.hdr
	for my := 0; my < h.my; my++ {
		if err := d.ctxErr(); err != nil {
			return err
		}
		if err := d.pool.err(); err != nil {
			return err
		}
		r := &mcuRow{y: my, blk: make([][]int16, len(h.comps))}
		for i, c := range h.comps {
			if d.coef[i] != nil {
				n := c.pw * c.v * 64
				r.blk[i] = d.coef[i][my*n : (my+1)*n]
			}
		}
		d.pool.send(r, false)
	}
	return nil
}

// rowPool runs a sink's rows on worker goroutines (one for an ordered
// sink) while the decoder goes on.
type rowPool struct {
	sink    jpegSink
	rows    chan poolItem
	free    chan *mcuRow
	wg      sync.WaitGroup
	mu      sync.Mutex
	first   error
	closed  bool
	workers int
}

type poolItem struct {
	r     *mcuRow
	reuse bool // a streaming buffer: cleared and given back after use
}

func newRowPool(sink jpegSink) *rowPool {
	p := &rowPool{sink: sink, workers: parallelism()}
	if sink.ordered() {
		p.workers = 1
	}
	p.rows = make(chan poolItem, 2*p.workers)
	p.free = make(chan *mcuRow, 2+2*p.workers)
	for i := 0; i < p.workers; i++ {
		p.wg.Go(func() {
			for it := range p.rows {
				if p.err() == nil {
					if it.r.nz == nil {
						it.r.nz = blockMasks(it.r.blk)
					}
					if err := p.sink.row(it.r); err != nil {
						p.fail(err)
					}
				}
				if it.reuse {
					for _, b := range it.r.blk {
						clear(b)
					}
					for _, m := range it.r.nz {
						clear(m)
					}
					select {
					case p.free <- it.r:
					default: // enough spare buffers
					}
				}
			}
		})
	}
	return p
}

// buffer returns a cleared row buffer of the given shape.
func (p *rowPool) buffer(alloc func() *mcuRow) *mcuRow {
	select {
	case r := <-p.free:
		return r
	default:
		return alloc()
	}
}

func (p *rowPool) send(r *mcuRow, reuse bool) { p.rows <- poolItem{r, reuse} }

func (p *rowPool) fail(err error) {
	p.mu.Lock()
	if p.first == nil {
		p.first = err
	}
	p.mu.Unlock()
}

func (p *rowPool) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first
}

// close waits for the rows sent so far and returns the first error.
func (p *rowPool) close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	closed := p.closed
	p.closed = true
	p.mu.Unlock()
	if !closed {
		close(p.rows)
		p.wg.Wait()
	}
	return p.err()
}

// blockMasks computes the nonzero masks of stored blocks.
func blockMasks(blk [][]int16) [][]uint64 {
	nz := make([][]uint64, len(blk))
	for c, b := range blk {
		if b == nil {
			continue
		}
		m := make([]uint64, len(b)/64)
		for i := range m {
			blk := (*[64]int16)(b[64*i:])
			var v uint64
			for k := 1; k < 64; k++ {
				if blk[zigzag[k]] != 0 {
					v |= 1 << k
				}
			}
			m[i] = v
		}
		nz[c] = m
	}
	return nz
}

// jpegComplexity walks the markers of a file, reading only the scan
// headers, and refuses it as too_complex when its scans or the blocks they
// decode exceed the limits. Past a scan it looks for the next marker (a
// pass over the bytes looking for 0xFF, about a millisecond for 5 MB); a
// first scan that is sequential and holds every component is the whole
// image, and the walk stops there.
func jpegComplexity(data []byte, lim jpegLimits) error {
	d := &jpegDecoder{data: data}
	d.hdr.adobe = -1
	_, err := segments(data, func(m byte, seg []byte, next int) (int, bool, error) {
		if m == 0xda {
			if !d.haveFrame {
				return 0, false, corruptf("scan before frame")
			}
			sc, err := d.parseScan(seg)
			if err != nil {
				return 0, false, err
			}
			d.scans++
			if lim.maxScans > 0 && d.scans > lim.maxScans {
				return 0, false, tooComplexf("more than %d scans (limit %d)", lim.maxScans, lim.maxScans)
			}
			d.work += d.hdr.scanBlocks(sc)
			if lim.maxWork > 0 && d.work > lim.maxWork {
				return 0, false, tooComplexf("its scans decode more than %d blocks (%d scans so far)", lim.maxWork, d.scans)
			}
			if !d.hdr.progressive && len(sc.comps) == len(d.hdr.comps) {
				// One sequential scan of every component is the whole
				// image: the decoder streams it and reads no further.
				return 0, true, nil
			}
			return entropyEnd(data, next), false, nil
		}
		switch {
		case m == 0xc0 || m == 0xc1 || m == 0xc2 || m == 0xc9 || m == 0xca:
			return next, false, d.frame(m, seg)
		}
		return next, false, nil
	})
	return err
}
