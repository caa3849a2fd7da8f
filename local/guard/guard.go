// Package guard keeps slow, stalled and idle clients from holding the local
// stack's servers: it sets the servers' header and idle timeouts, and it
// watches every request body and every response body as it flows, with a
// longest stall between two reads or writes and a minimum average transfer
// rate once a grace period is over. A client trickling a byte every few
// seconds is cut off within seconds, not minutes, whatever the size of its
// body; a client that stops reading its response frees the server.
//
// Amazon S3 behaves alike: a connection that neither sends nor reads for
// about 20 seconds gets "RequestTimeout: Your socket connection to the server
// was not read from or written to within the timeout period."
package guard

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Config sets the limits. The zero value of a field means its default.
type Config struct {
	// ReadHeaderTimeout bounds the reading of a request's line and headers
	// (default 10 s).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that waits that long for
	// its next request (default 30 s).
	IdleTimeout time.Duration
	// StallTimeout is the longest a body may wait for its next bytes, in
	// either direction (default 20 s).
	StallTimeout time.Duration
	// MinRate is the least average rate, in bytes per second, of a body
	// that is still flowing after Grace (default 1024).
	MinRate int64
	// Grace is how long a body may flow at any rate (default 10 s).
	Grace time.Duration
	// MaxBodyTime bounds the whole transfer of one body (default 15 min).
	MaxBodyTime time.Duration
}

// Defaults of Config.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
	DefaultStallTimeout      = 20 * time.Second
	DefaultMinRate           = 1024
	DefaultGrace             = 10 * time.Second
	DefaultMaxBodyTime       = 15 * time.Minute
)

func (c Config) withDefaults() Config {
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.MinRate <= 0 {
		c.MinRate = DefaultMinRate
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.MaxBodyTime <= 0 {
		c.MaxBodyTime = DefaultMaxBodyTime
	}
	return c
}

// ErrTooSlow is the error a guarded body's Read or Write returns when the
// client moves its bytes slower than the minimum rate, or not at all for
// longer than the stall timeout.
var ErrTooSlow = errors.New("the client moved its bytes too slowly")

// Server returns an http.Server for h with the timeouts of cfg and every
// body guarded.
func Server(h http.Handler, cfg Config) *http.Server {
	cfg = cfg.withDefaults()
	return &http.Server{
		Handler:           Handler(h, cfg),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
	}
}

// Handler guards the request and response bodies of h.
func Handler(h http.Handler, cfg Config) http.Handler {
	cfg = cfg.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &body{ReadCloser: r.Body, rc: rc, cfg: cfg}
		}
		h.ServeHTTP(&writer{ResponseWriter: w, rc: rc, cfg: cfg}, r)
	})
}

// meter keeps one body's rate.
type meter struct {
	start time.Time
	n     int64
}

// check returns ErrTooSlow (wrapped) when the body is past its grace and
// below the minimum rate, or past its whole time.
func (m *meter) check(cfg Config, now time.Time, what string) error {
	if m.start.IsZero() {
		m.start = now
		return nil
	}
	elapsed := now.Sub(m.start)
	if elapsed > cfg.MaxBodyTime {
		return fmt.Errorf("%w: the %s took longer than %s", ErrTooSlow, what, cfg.MaxBodyTime)
	}
	if elapsed > cfg.Grace && float64(m.n) < float64(cfg.MinRate)*elapsed.Seconds() {
		return fmt.Errorf("%w: the %s moved %d bytes in %s, under %d bytes/s", ErrTooSlow, what, m.n, elapsed.Round(time.Millisecond), cfg.MinRate)
	}
	return nil
}

// deadline is when the next transfer must have happened by.
func (m *meter) deadline(cfg Config, now time.Time) time.Time {
	return minTime(now.Add(cfg.StallTimeout), m.start.Add(cfg.MaxBodyTime))
}

// body is a guarded request body.
type body struct {
	io.ReadCloser
	rc   *http.ResponseController
	cfg  Config
	m    meter
	done bool
	err  error
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	now := time.Now()
	if err := b.m.check(b.cfg, now, "request body"); err != nil {
		b.err = err
		return 0, err
	}
	// Without support for deadlines (a test's ResponseRecorder), only the
	// rate is checked.
	_ = b.rc.SetReadDeadline(b.m.deadline(b.cfg, now))
	n, err := b.ReadCloser.Read(p)
	b.m.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && isTimeout(err) {
		err = fmt.Errorf("%w: no byte of the request body for %s", ErrTooSlow, b.cfg.StallTimeout)
		b.err = err
	}
	if errors.Is(err, io.EOF) && !b.done {
		// The body is in: the handler may take its time now, and the
		// server's watch for a closed connection must not time out.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// writer is a guarded response.
type writer struct {
	http.ResponseWriter
	rc  *http.ResponseController
	cfg Config
	m   meter
	err error
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	now := time.Now()
	if err := w.m.check(w.cfg, now, "response body"); err != nil {
		w.err = err
		return 0, err
	}
	_ = w.rc.SetWriteDeadline(w.m.deadline(w.cfg, now))
	n, err := w.ResponseWriter.Write(p)
	w.m.n += int64(n)
	if err != nil && isTimeout(err) {
		err = fmt.Errorf("%w: the client read nothing of the response for %s", ErrTooSlow, w.cfg.StallTimeout)
		w.err = err
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer
// (Flush, deadlines, Hijack).
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *writer) Flush() {
	_ = w.rc.Flush()
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
