package imaging

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Bounded work: scan and work limits checked from the headers, the
// context checked per scan and per row of MCUs, no second decode.

// jpegBomb writes a spec-valid progressive gray JPEG of w x h: a DC scan
// (every block flat mid-gray) and then scans that each code every block's
// AC band 1..63 as zero with end-of-band runs: a few dozen bytes a scan,
// each one a pass over the whole image.
func jpegBomb(w, h, scans int, eoi bool) []byte {
	var out bytes.Buffer
	out.Write([]byte{0xff, 0xd8})
	out.Write([]byte{0xff, 0xdb, 0, 67, 0})
	out.Write(bytes.Repeat([]byte{1}, 64))
	out.Write([]byte{0xff, 0xc2, 0, 11, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})
	// DC: Annex K.3; AC: the fifteen end-of-band runs, 4-bit codes.
	var acBits [16]uint8
	acBits[3] = 15
	acVals := make([]uint8, 15)
	for r := range acVals {
		acVals[r] = uint8(r << 4)
	}
	for _, t := range []struct {
		class  byte
		counts [16]uint8
		vals   []uint8
	}{{0x00, testDCBits, testDCVals}, {0x10, acBits, acVals}} {
		n := 3 + 16 + len(t.vals)
		out.Write([]byte{0xff, 0xc4, byte(n >> 8), byte(n), t.class})
		out.Write(t.counts[:])
		out.Write(t.vals)
	}
	dc, ac := testHuff(testDCBits, testDCVals), testHuff(acBits, acVals)
	blocks := ceilDiv(w, 8) * ceilDiv(h, 8)
	var wb testBits
	out.Write([]byte{0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 0, 0})
	for range blocks {
		wb.sym(dc, 0)
	}
	wb.flush()
	out.Write(wb.out.Bytes())
	// Every AC scan is the same bytes.
	wb = testBits{}
	for n := blocks; n > 0; {
		run := min(n, 1<<15-1)
		r := bits.Len(uint(run)) - 1
		wb.sym(ac, uint8(r<<4))
		wb.put(uint32(run-1<<r), uint(r))
		n -= run
	}
	wb.flush()
	scan := append([]byte{0xff, 0xda, 0, 8, 1, 1, 0x00, 1, 63, 0}, wb.out.Bytes()...)
	for range scans - 1 {
		out.Write(scan)
	}
	if eoi {
		out.Write([]byte{0xff, 0xd9})
	}
	return out.Bytes()
}

// pollCtx is a context that counts the decoder's polls of Done and is
// cancelled at poll cancelAt (never when 0).
type pollCtx struct {
	context.Context
	polls    atomic.Int64
	cancelAt int64
	done     chan struct{}
	once     sync.Once
}

func newPollCtx(cancelAt int64) *pollCtx {
	return &pollCtx{Context: context.Background(), cancelAt: cancelAt, done: make(chan struct{})}
}

func (c *pollCtx) Done() <-chan struct{} {
	if n := c.polls.Add(1); n == c.cancelAt {
		c.once.Do(func() { close(c.done) })
	}
	return c.done
}

func (c *pollCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

func TestJPEGBombDecodes(t *testing.T) {
	// Within the limits a bomb is just a flat gray image.
	data := jpegBomb(203, 157, 50, true)
	res, err := Process(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := yPlane(t, res.Outputs[0].Data, 1)
	if g.W != 203 || g.H != 157 || g.Pix[0] != 128 || g.Pix[len(g.Pix)-1] != 128 {
		t.Fatalf("%dx%d, first %d", g.W, g.H, g.Pix[0])
	}
}

// Too many scans, or scans that would decode the image's blocks too many
// times over, are refused from the scan headers: the decoder never starts.
func TestJPEGTooComplex(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  []byte
		opts  Options
		wants string
	}{
		{"200000 scans at 7000x7000", jpegBomb(7000, 7000, 200000, true), Options{}, "too_complex"},
		{"820 scans without EOI", jpegBomb(2000, 1500, 820, false), Options{}, "more than 500 scans"},
		{"480 passes over 16 MP", jpegBomb(4000, 4000, 480, true), Options{}, "decode more than"},
		{"scan limit lowered", jpegBomb(64, 64, 11, true), Options{MaxScans: 10}, "more than 10 scans"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newPollCtx(0)
			start := time.Now()
			_, err := Process(ctx, tc.data, tc.opts)
			t.Logf("%d bytes refused in %v: %v", len(tc.data), time.Since(start).Round(time.Microsecond), err)
			if Code(err) != "too_complex" || !errors.Is(err, ErrTooComplex) {
				t.Fatalf("err %v, want too_complex", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tc.wants)) {
				t.Errorf("err %q does not say %q", err, tc.wants)
			}
			if n := ctx.polls.Load(); n != 0 {
				t.Errorf("the decoder polled the context %d times: it started", n)
			}
		})
	}
	// The reader's own check, for callers that skip Process's limits step.
	_, err := decodeJPEG(context.Background(), jpegBomb(64, 64, 30, true), jpegLimits{maxScans: 20}, &lumaSink{})
	if Code(err) != "too_complex" {
		t.Fatalf("decodeJPEG: %v, want too_complex", err)
	}
}

// A done context stops the decoder at its next poll: before each scan and
// each row of MCUs. The test cancels at the Nth poll and checks that the
// decoder polled no more than once after.
func TestJPEGCancelledMidDecode(t *testing.T) {
	opts := Options{MaxScans: 1 << 20, MaxPixels: 1 << 30}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"many scans", jpegBomb(2000, 2000, 2000, true)},
		{"rows of one scan", encodeGrayJPEG(toGray(photo(640, 2000, 3)), 90)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const at = 40
			ctx := newPollCtx(at)
			_, err := Process(ctx, tc.data, opts)
			if !errors.Is(err, context.Canceled) || Code(err) != "" {
				t.Fatalf("err %v, want context.Canceled and no code", err)
			}
			if n := ctx.polls.Load(); n != at {
				t.Fatalf("decoder polled %d times, cancelled at poll %d: it went on after cancellation", n, at)
			}
		})
	}
}

// A file that fails is decoded once: without EOI the 800-scan file polls no
// more than the complete one.
func TestJPEGFailedDecodeNotRepeated(t *testing.T) {
	opts := Options{MaxScans: 1000}
	good, cut := jpegBomb(800, 600, 800, true), jpegBomb(800, 600, 800, false)
	okCtx, badCtx := newPollCtx(0), newPollCtx(0)
	if _, err := Process(okCtx, good, opts); err != nil {
		t.Fatal(err)
	}
	_, err := Process(badCtx, cut, opts)
	if Code(err) != "corrupt_image" {
		t.Fatalf("without EOI: %v, want corrupt_image", err)
	}
	if badCtx.polls.Load() > okCtx.polls.Load() {
		t.Fatalf("the failing decode polled %d times, the whole one %d: decoded twice", badCtx.polls.Load(), okCtx.polls.Load())
	}
}

// BenchmarkJPEGCancel measures how long Process takes to return once the
// context is cancelled in the middle of a many-scan decode (cancel-ms).
func BenchmarkJPEGCancel(b *testing.B) {
	data := jpegBomb(7000, 7000, 3000, true)
	opts := Options{MaxScans: 1 << 20, MaxPixels: 1 << 32}
	var total time.Duration
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		probe := &pollProbe{Context: ctx}
		done := make(chan error, 1)
		go func() {
			_, err := Process(probe, data, opts)
			done <- err
		}()
		for probe.polls.Load() < 2000 { // well into the scans
			select {
			case err := <-done:
				b.Fatalf("returned before cancellation: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
		t0 := time.Now()
		cancel()
		err := <-done
		total += time.Since(t0)
		n++
		if !errors.Is(err, context.Canceled) {
			b.Fatalf("err %v", err)
		}
	}
	b.ReportMetric(float64(total)/float64(time.Millisecond)/float64(n), "cancel-ms")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
}

// pollProbe counts the polls of a real context's Done.
type pollProbe struct {
	context.Context
	polls atomic.Int64
}

func (c *pollProbe) Done() <-chan struct{} {
	c.polls.Add(1)
	return c.Context.Done()
}

// peakRSSSelf is this process's peak resident set (VmHWM, which exec
// resets, unlike a child's ru_maxrss, which also counts the parent's pages
// it ran in before exec), in bytes; -1 when unknown.
func peakRSSSelf() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			var kb int64
			fmt.Sscan(string(v), &kb)
			return kb << 10
		}
	}
	return -1
}

// TestJPEGBombTable runs each bomb in a child process and reports the time
// and peak RSS of the refusal or decode (the closing note's bomb table);
// it asserts the codes and that memory stays near the input's size.
func TestJPEGBombTable(t *testing.T) {
	bombs := []struct {
		name        string
		data        func() []byte
		code        string
		maxRSSMiB   int64
		scans, w, h int
	}{
		{"200000 scans 7000x7000", func() []byte { return jpegBomb(7000, 7000, 200000, true) }, "too_complex", 80, 200000, 7000, 7000},
		{"820 scans 2000x1500", func() []byte { return jpegBomb(2000, 1500, 820, true) }, "too_complex", 40, 820, 2000, 1500},
		{"820 scans without EOI", func() []byte { return jpegBomb(2000, 1500, 820, false) }, "too_complex", 40, 820, 2000, 1500},
		{"499 scans 2000x1500", func() []byte { return jpegBomb(2000, 1500, 499, true) }, "", 60, 499, 2000, 1500},
	}
	if inChild("TestJPEGBombTable", func(i int) []byte { return bombs[i].data() }) {
		return
	}
	for i, bomb := range bombs {
		t.Run(bomb.name, func(t *testing.T) {
			c := runInChild(t, "TestJPEGBombTable", i)
			want := bomb.code
			if want == "" {
				want = "decoded"
			}
			t.Logf("%d scans of %dx%d, %d KiB: %s in %d ms (child CPU %v), peak RSS %d MiB",
				bomb.scans, bomb.w, bomb.h, c.bytes>>10, c.code, c.ms, c.cpu.Round(time.Millisecond), c.rss>>20)
			if c.code != want {
				t.Errorf("code %q, want %q", c.code, want)
			}
			if c.rss>>20 > bomb.maxRSSMiB {
				t.Errorf("peak RSS %d MiB, want at most %d", c.rss>>20, bomb.maxRSSMiB)
			}
		})
	}
}

// childEnv names the test and case a child process runs.
const childEnv = "IMAGING_JPEG_CHILD"

// childRun is what a child process reports of its Process call.
type childRun struct {
	bytes      int
	ms         int64
	rss        int64  // peak resident set, bytes
	code, path string // "decoded" or the error code; the gray output's path
	cpu        time.Duration
}

// inChild reports whether this process is the child that runInChild
// started for test; if so it runs Process on case i's data and prints
// what runInChild reads.
func inChild(test string, data func(i int) []byte) bool {
	v, ok := strings.CutPrefix(os.Getenv(childEnv), test+":")
	if !ok {
		return false
	}
	i, _ := strconv.Atoi(v)
	d := data(i)
	start := time.Now()
	res, err := Process(context.Background(), d, Options{})
	code, path := "decoded", "-"
	switch {
	case err == nil:
		path = res.Outputs[0].Path
	case Code(err) != "":
		code = Code(err)
	default:
		code = "unclassified"
	}
	fmt.Printf("CHILD bytes=%d ms=%d hwm=%d code=%s path=%s\n", len(d), time.Since(start).Milliseconds(), peakRSSSelf(), code, path)
	return true
}

// runInChild runs case i of test in a child process (this test binary
// again) and returns what it reported.
func runInChild(t *testing.T, test string, i int) childRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+test+":"+strconv.Itoa(i))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	var c childRun
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "CHILD bytes=%d ms=%d hwm=%d code=%s path=%s", &c.bytes, &c.ms, &c.rss, &c.code, &c.path); err == nil {
			break
		}
	}
	if c.code == "" {
		t.Fatalf("child said nothing:\n%s", out.String())
	}
	c.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return c
}

// flatSource is a frame whose every block is flat mid-gray (all zero).
type flatSource struct {
	h   *jpegHeader
	blk [64]int16
}

func (f *flatSource) header() *jpegHeader       { return f.h }
func (f *flatSource) block(_, _, _ int) []int16 { return f.blk[:] }

// flatJPEG is a w x h frame with the given sampling factors (h, v per
// component) and APP14 transform (-1: none), all blocks flat.
func flatJPEG(w, h int, factors [][2]int, adobe int, progressive bool) []byte {
	hdr := &jpegHeader{w: w, h: h, adobe: adobe, hmax: 1, vmax: 1}
	for i, f := range factors {
		hdr.comps = append(hdr.comps, jpegComp{id: uint8(i + 1), h: f[0], v: f[1], quant: [64]uint16{0: 8}})
		hdr.hmax, hdr.vmax = max(hdr.hmax, f[0]), max(hdr.vmax, f[1])
	}
	for i := range hdr.comps {
		for k := range hdr.comps[i].quant {
			hdr.comps[i].quant[k] = 8
		}
	}
	hdr.mx, hdr.my = ceilDiv(w, 8*hdr.hmax), ceilDiv(h, 8*hdr.vmax)
	for i := range hdr.comps {
		c := &hdr.comps[i]
		c.cw, c.ch = ceilDiv(w*c.h, hdr.hmax), ceilDiv(h*c.v, hdr.vmax)
		c.bw, c.bh = ceilDiv(c.cw, 8), ceilDiv(c.ch, 8)
		c.pw, c.ph = hdr.mx*c.h, hdr.my*c.v
	}
	src := &flatSource{h: hdr}
	if !progressive {
		return writeBaseline(src)
	}
	all := make([]int, len(factors))
	for i := range all {
		all[i] = i
	}
	scans := []progScan{{comps: all}}
	for i := range factors {
		scans = append(scans, progScan{comps: []int{i}, ss: 1, se: 63})
	}
	return writeProgressive(src, scans)
}

// TestJPEGLargeMemory decodes 49 MP JPEGs in a child process and checks
// its peak RSS: a baseline file streams (rows of MCUs, never a full-size
// colour plane), so it needs about its gray raster; a progressive one
// keeps the coefficients of the components it reads.
func TestJPEGLargeMemory(t *testing.T) {
	const w, h = 7000, 7000
	cases := []struct {
		name   string
		data   func() []byte
		maxMiB int64
	}{
		// The target for any 50 MP input: 1.5 x the gray raster + 40 MB.
		{"CMYK baseline", func() []byte { return flatJPEG(w, h, [][2]int{{1, 1}, {1, 1}, {1, 1}, {1, 1}}, 0, false) }, 113},
		{"YCbCr 4:2:0 baseline (DCT path)", func() []byte { return flatJPEG(w, h, [][2]int{{2, 2}, {1, 1}, {1, 1}}, -1, false) }, 113},
		// Progressive: the Y coefficients (2 bytes a pixel) are kept.
		{"YCbCr 4:2:0 progressive (DCT path)", func() []byte { return flatJPEG(w, h, [][2]int{{2, 2}, {1, 1}, {1, 1}}, -1, true) }, 200},
	}
	if inChild("TestJPEGLargeMemory", func(i int) []byte { return cases[i].data() }) {
		return
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := runInChild(t, "TestJPEGLargeMemory", i)
			t.Logf("%dx%d, %d KiB, path %s: %d ms (child CPU %v, under load), peak RSS %d MiB", w, h, c.bytes>>10, c.path, c.ms, c.cpu.Round(time.Millisecond), c.rss>>20)
			if c.code != "decoded" {
				t.Fatalf("child: %s", c.code)
			}
			if c.rss>>20 > tc.maxMiB {
				t.Errorf("peak RSS %d MiB, want at most %d", c.rss>>20, tc.maxMiB)
			}
		})
	}
}
