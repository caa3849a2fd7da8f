package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// progress draws, on a terminal, an overall line (files finished of all,
// bytes sent, speed, time left) and one bar per file in flight, redrawn in
// place; lines printed through it appear above them. Elsewhere it prints
// plain notes. Sizes are SI (1 kB = 1000 B), as on the page.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	quiet bool // no notes (--quiet)
	width int
	bars  []*bar
	drawn int
	stop  chan struct{}
	ended chan struct{}
	once  sync.Once

	files     int   // to send in all
	total     int64 // their bytes
	finished  int
	sent      atomic.Int64
	started   time.Time
	samples   []sample // recent (time, sent), for the speed
	clock     func() time.Time
	lastSpeed float64
}

type sample struct {
	at   time.Time
	sent int64
}

type bar struct {
	p     *progress
	name  string
	total int64
	sent  atomic.Int64
	state atomic.Value // string
}

func (b *bar) phase(s string) { b.state.Store(s) }

// set restarts the bar (a retried PUT); the overall count follows.
func (b *bar) set(n int64) { b.p.sent.Add(n - b.sent.Swap(n)) }
func (b *bar) add(n int64) { b.sent.Add(n); b.p.sent.Add(n) }

// minWidth is the narrowest terminal the bars are drawn for; narrower ones
// get plain notes.
const minWidth = 40

// newProgress draws on w when it is a terminal at least minWidth wide and
// draw is true; otherwise it prints notes (unless quiet).
func newProgress(w io.Writer, draw, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet, stop: make(chan struct{}), ended: make(chan struct{}), clock: time.Now}
	p.started = p.clock()
	if f, ok := w.(*os.File); ok && draw && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		p.width = 80
		if wd, _, err := term.GetSize(int(f.Fd())); err == nil && wd > 0 {
			p.width = wd
		}
		p.tty = p.width >= minWidth
	}
	if p.tty {
		go p.loop()
	} else {
		close(p.ended)
	}
	return p
}

// plan sets what the run has to send, for the overall line.
func (p *progress) plan(files int, bytes int64) {
	p.mu.Lock()
	p.files, p.total = files, bytes
	p.mu.Unlock()
}

// unplan takes a file that is not sent after all out of the bytes to send.
func (p *progress) unplan(bytes int64) {
	p.mu.Lock()
	p.total -= bytes
	p.mu.Unlock()
}

func (p *progress) loop() {
	defer close(p.ended)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.redraw()
			p.mu.Unlock()
		}
	}
}

func (p *progress) start(name string, total int64) *bar {
	b := &bar{p: p, name: name, total: total}
	b.phase("waiting")
	p.mu.Lock()
	p.bars = append(p.bars, b)
	p.mu.Unlock()
	return b
}

// done removes a file's bar; the file counts as finished.
func (p *progress) done(b *bar) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.bars {
		if x == b {
			p.bars = append(p.bars[:i], p.bars[i+1:]...)
			break
		}
	}
	p.finished++
	if p.tty {
		p.redraw()
	}
}

// note prints a progress line when there are no bars to show it.
func (p *progress) note(line string) {
	if p.tty || p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, line)
}

// println prints a permanent line to w (stdout or stderr) above the bars.
func (p *progress) println(w io.Writer, line string) {
	p.write(func() { fmt.Fprintln(w, line) })
}

// write runs f with the bars cleared, for output that must not mix with
// them.
func (p *progress) write(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	f()
	if p.tty {
		p.draw()
	}
}

func (p *progress) clear() {
	for ; p.drawn > 0; p.drawn-- {
		fmt.Fprint(p.w, "\x1b[1A\x1b[2K")
	}
}

func (p *progress) redraw() {
	p.clear()
	p.draw()
}

func (p *progress) draw() {
	if p.files == 0 && len(p.bars) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString(p.overall(p.width-1) + "\n")
	p.drawn++
	for _, x := range p.bars {
		b.WriteString(x.render(p.width-1) + "\n")
		p.drawn++
	}
	fmt.Fprint(p.w, b.String())
}

// speed is the bytes per second sent over the last few seconds.
func (p *progress) speed(now time.Time) float64 {
	sent := p.sent.Load()
	p.samples = append(p.samples, sample{now, sent})
	for len(p.samples) > 2 && now.Sub(p.samples[1].at) >= 5*time.Second {
		p.samples = p.samples[1:]
	}
	first := p.samples[0]
	if dt := now.Sub(first.at).Seconds(); dt >= 0.5 {
		p.lastSpeed = float64(sent-first.sent) / dt
	}
	return p.lastSpeed
}

// overall is the first line: "3/12 files · 4.5 MB of 20.1 MB · 2.3 MB/s ·
// 7s left", cut to width from the end.
func (p *progress) overall(width int) string {
	now := p.clock()
	sent := min(p.sent.Load(), p.total)
	parts := []string{fmt.Sprintf("%d/%d files", p.finished, p.files), humanSize(sent) + " of " + humanSize(p.total)}
	if v := p.speed(now); v > 0 {
		parts = append(parts, humanSize(int64(v))+"/s")
		if left := p.total - sent; left > 0 && now.Sub(p.started) >= time.Second {
			parts = append(parts, humanDuration(time.Duration(float64(left)/v*float64(time.Second)))+" left")
		}
	}
	line := parts[0]
	for _, s := range parts[1:] {
		if utf8.RuneCountInString(line+" · "+s) > width {
			break
		}
		line += " · " + s
	}
	return truncate(line, width)
}

// render is one file's line, fitted to width: the name, then a bar, the
// percentage and the sizes while uploading, or what the file waits for.
func (b *bar) render(width int) string {
	nameW := min(24, max(10, width/3))
	name := truncate(b.name, nameW)
	name += strings.Repeat(" ", nameW-utf8.RuneCountInString(name))
	state, _ := b.state.Load().(string)
	if state != "upload" {
		return truncate(name+" "+state+"…", width)
	}
	sent := min(b.sent.Load(), b.total)
	pct := 100
	if b.total > 0 {
		pct = int(sent * 100 / b.total)
	}
	stats := fmt.Sprintf(" %3d%% %s/%s", pct, humanSize(sent), humanSize(b.total))
	cells := width - nameW - 3 - utf8.RuneCountInString(stats) // " [" and "]"
	if cells < 8 {
		stats = fmt.Sprintf(" %3d%%", pct)
		cells = width - nameW - 3 - len(stats)
	}
	cells = min(cells, 30)
	if cells < 1 {
		return truncate(name+stats, width)
	}
	filled := cells
	if b.total > 0 {
		filled = int(sent * int64(cells) / b.total)
	}
	return name + " [" + strings.Repeat("=", filled) + strings.Repeat(" ", cells-filled) + "]" + stats
}

// truncate cuts s to width runes, ending it with "…" when cut.
func truncate(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	if width <= 1 {
		return string([]rune(s)[:max(width, 0)])
	}
	return string([]rune(s)[:width-1]) + "…"
}

// close removes the bars; it is safe to call more than once.
func (p *progress) close() {
	p.once.Do(func() {
		if p.tty {
			close(p.stop)
		}
		<-p.ended
		p.mu.Lock()
		p.bars = nil
		p.clear()
		p.mu.Unlock()
	})
}

// humanDuration is a short duration for people: 850ms, 4.2s, 3m10s, 1h5m.
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}
