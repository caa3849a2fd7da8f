package console

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLines(t *testing.T) {
	at := time.Date(2026, 11, 28, 8, 19, 39, 123e6, time.Local)
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{
			name: "who, message, fields",
			log: func(l *slog.Logger) {
				l.With("function", "process").LogAttrs(context.Background(), slog.LevelInfo, "image processed",
					slog.String("image_id", "be8e"), slog.Int("width", 640), slog.Duration("took", 1500*time.Millisecond))
			},
			want: "08:19:39.123 INFO  process  image processed  image_id=be8e width=640 took=1.5s",
		},
		{
			name: "quoting and errors",
			log: func(l *slog.Logger) {
				l.LogAttrs(context.Background(), slog.LevelWarn, "image will be retried",
					slog.String("reason", `no "known" signature`), slog.Any("err", errors.New("get x: SlowDown")), slog.String("empty", ""))
			},
			want: `08:19:39.123 WARN  image will be retried  reason="no \"known\" signature" err="get x: SlowDown" empty=""`,
		},
		{
			name: "maps and slices as JSON, groups as dotted keys",
			log: func(l *slog.Logger) {
				l.With("component", "bus").WithGroup("rule").LogAttrs(context.Background(), slog.LevelInfo, "matched",
					slog.Any("meta", map[string]int{"a": 1}), slog.Any("ids", []string{"x", "y"}), slog.Group("target", "queue", "q"))
			},
			want: `08:19:39.123 INFO  bus      matched  rule.meta={"a":1} rule.ids=["x","y"] rule.target.queue=q`,
		},
		{
			name: "a message on one line",
			log:  func(l *slog.Logger) { l.LogAttrs(context.Background(), slog.LevelError, "two\nlines") },
			want: `08:19:39.123 ERROR two\nlines`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := New(&buf, slog.LevelDebug)
			tc.log(slog.New(fixedTime{h, at}))
			if got := strings.TrimSuffix(buf.String(), "\n"); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if strings.Count(buf.String(), "\n") != 1 {
				t.Errorf("%q is not one line", buf.String())
			}
		})
	}
}

func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(New(&buf, nil))
	l.Debug("hidden")
	l.Info("shown")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "shown") {
		t.Errorf("log %q", got)
	}
}

// fixedTime sets every record's time, so that lines compare exactly.
type fixedTime struct {
	slog.Handler
	at time.Time
}

func (f fixedTime) Handle(ctx context.Context, r slog.Record) error {
	r.Time = f.at
	return f.Handler.Handle(ctx, r)
}
func (f fixedTime) WithAttrs(as []slog.Attr) slog.Handler {
	return fixedTime{f.Handler.WithAttrs(as), f.at}
}
func (f fixedTime) WithGroup(n string) slog.Handler { return fixedTime{f.Handler.WithGroup(n), f.at} }
