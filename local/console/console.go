// Package console is the local stack's log handler for a terminal: one
// readable line per record,
//
//	15:04:05.000 INFO  process  image processed  image_id=be8e4bcc… key=uploads/be8e4bcc….jpg duration_ms=53
//
// with the time, the level, the part of the stack that speaks (the
// "function" or "component" attribute), the message and the other
// attributes as key=value. Values that are not plain (maps, slices,
// structs) are written as compact JSON, never as Go syntax; groups become
// dotted keys. `imagepipe dev --log-format json` uses slog's JSON handler
// instead.
package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Handler writes readable lines to a writer.
type Handler struct {
	mu     *sync.Mutex
	w      io.Writer
	level  slog.Leveler
	who    string   // function or component
	prefix []string // rendered key=value of WithAttrs
	groups []string
}

// New returns a handler writing to w at level and above (nil: INFO).
func New(w io.Writer, level slog.Leveler) *Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &Handler{mu: &sync.Mutex{}, w: w, level: level}
}

// Enabled reports whether level is written.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs returns a handler that adds attrs to every line.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.prefix = append([]string(nil), h.prefix...)
	for _, a := range attrs {
		if len(h.groups) == 0 && (a.Key == "function" || a.Key == "component") && c.who == "" {
			c.who = a.Value.String()
			continue
		}
		c.prefix = appendAttr(c.prefix, h.groups, a)
	}
	return &c
}

// WithGroup returns a handler whose later attributes are under name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.groups = append(append([]string(nil), h.groups...), name)
	return &c
}

// Handle writes one line.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format("15:04:05.000"))
	b.WriteByte(' ')
	fmt.Fprintf(&b, "%-5s ", r.Level.String())
	who := h.who
	fields := h.prefix
	r.Attrs(func(a slog.Attr) bool {
		if len(h.groups) == 0 && who == "" && (a.Key == "function" || a.Key == "component") {
			who = a.Value.String()
			return true
		}
		fields = appendAttr(fields, h.groups, a)
		return true
	})
	if who != "" {
		fmt.Fprintf(&b, "%-8s ", who)
	}
	b.WriteString(oneLine(r.Message))
	if len(fields) > 0 {
		b.WriteString("  ")
		b.WriteString(strings.Join(fields, " "))
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func appendAttr(out []string, groups []string, a slog.Attr) []string {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return out
	}
	if a.Value.Kind() == slog.KindGroup {
		g := groups
		if a.Key != "" {
			g = append(append([]string(nil), groups...), a.Key)
		}
		for _, c := range a.Value.Group() {
			out = appendAttr(out, g, c)
		}
		return out
	}
	key := strings.Join(append(append([]string(nil), groups...), a.Key), ".")
	return append(out, key+"="+value(a.Value))
}

func value(v slog.Value) string {
	switch v.Kind() {
	case slog.KindString:
		return quote(v.String())
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool:
		return v.String()
	}
	x := v.Any()
	if err, ok := x.(error); ok {
		return quote(err.Error())
	}
	if s, ok := x.(fmt.Stringer); ok {
		return quote(s.String())
	}
	raw, err := json.Marshal(x)
	if err != nil {
		return quote(fmt.Sprint(x))
	}
	return string(raw)
}

// quote leaves plain words alone and quotes anything with spaces, quotes
// or control characters, so a line stays one line.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if unicode.IsSpace(r) || r == '"' || r == '=' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func oneLine(s string) string {
	if strings.ContainsAny(s, "\n\r") {
		return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
	}
	return s
}
