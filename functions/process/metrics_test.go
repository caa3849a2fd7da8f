package process

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/imagepipe/imagepipe/metrics"
)

// lockedBuffer is a bytes.Buffer safe for the handler's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// take returns what was written since the last take.
func (l *lockedBuffer) take() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := bytes.Clone(l.b.Bytes())
	l.b.Reset()
	return out
}

// emitted is one metric value of the lines a handler wrote, in a form easy
// to compare: "Name Unit Dim=v,Dim=v = value".
func emitted(t *testing.T, lines []byte) (msgs []string, data []string, values map[string]float64) {
	t.Helper()
	values = map[string]float64{}
	for _, line := range bytes.Split(bytes.TrimSpace(lines), []byte("\n")) {
		ds, err := metrics.Extract(line)
		if errors.Is(err, metrics.ErrNotEMF) {
			continue
		}
		if err != nil {
			t.Fatalf("line breaks the embedded metric format: %v\n%s", err, line)
		}
		msg := string(line[bytes.Index(line, []byte(`"message":"`))+11:])
		msgs = append(msgs, msg[:strings.IndexByte(msg, '"')])
		for _, d := range ds {
			if d.Namespace != metrics.Namespace || len(d.Values) != 1 {
				t.Errorf("datum %+v: want namespace %q and one value", d, metrics.Namespace)
			}
			var dims []string
			for k, v := range d.Dimensions {
				dims = append(dims, k+"="+v)
			}
			sort.Strings(dims)
			key := d.Name + " " + string(d.Unit) + " " + strings.Join(dims, ",")
			data = append(data, key)
			values[key] = d.Values[0]
		}
	}
	sort.Strings(data)
	return msgs, data, values
}

// TestWorkerWritesEmbeddedMetrics reads the log lines the worker writes,
// through the JSON handler Lambda's logger uses, as CloudWatch Logs would:
// one document per outcome with the catalog's names and units.
func TestWorkerWritesEmbeddedMetrics(t *testing.T) {
	var out lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{ReplaceAttr: lambdacontext.ReplaceAttr}))
	cfg := DefaultConfig(processedBucket)
	cfg.Stack, cfg.MaxReceiveCount = "prod", 3
	fs, rec := newFakeS3(), &recorder{}
	h, err := newHandler(cfg, fs, rec, logger)
	if err != nil {
		t.Fatal(err)
	}
	// The message entered the queue at SentTimestamp (2025-03-01T12:00:00Z,
	// see message); the clock says 1.5 s later.
	h.now = func() time.Time { return time.UnixMilli(1740830400000 + 1500) }
	ctx := context.Background()
	jpg := testJPEG(t, 64, 48)
	d := fs.upload("uploads/"+imageID+".jpg", jpg)
	peak := "PeakMemory Megabytes Function=process,Stack=prod"

	tests := []struct {
		name  string
		run   func()
		msg   string
		want  []string
		check func(t *testing.T, values map[string]float64)
	}{
		{
			name: "done", msg: "image processed",
			run: func() { handle(t, ctx, h, message(t, "m1", 1, d, "")) },
			want: []string{
				"ImagesDone Count Stack=prod", "InputBytes Bytes Stack=prod", "InputMegapixels None Stack=prod",
				peak, "ProcessingTime Milliseconds Stack=prod", "QueueToDoneTime Milliseconds Stack=prod",
			},
			check: func(t *testing.T, v map[string]float64) {
				if v["ImagesDone Count Stack=prod"] != 1 || v["InputBytes Bytes Stack=prod"] != float64(len(jpg)) ||
					math.Abs(v["InputMegapixels None Stack=prod"]-64*48/1e6) > 1e-9 || v["QueueToDoneTime Milliseconds Stack=prod"] != 1500 {
					t.Errorf("values %v: want 1 image, %d bytes, %v MP, 1500 ms from the queue", v, len(jpg), 64*48/1e6)
				}
				if v[peak] < 1 {
					t.Errorf("peak memory %v MB", v[peak])
				}
			},
		},
		{
			name: "duplicate", msg: "duplicate of a finished image: nothing to do",
			run:  func() { handle(t, ctx, h, message(t, "m2", 1, d, "")) },
			want: []string{"DuplicatesSkipped Count Stack=prod", peak},
		},
		{
			name: "refused", msg: "image failed",
			run: func() {
				handle(t, ctx, h, message(t, "m3", 1, fs.upload("uploads/11111111111111111111111111111111.png", []byte("text")), ""))
			},
			want: []string{"ImagesFailed Count ErrorCode=not_an_image,Stack=prod", "ImagesFailed Count Stack=prod", peak},
		},
		{
			name: "transient", msg: "image will be retried",
			run: func() {
				fs.getErr = func(_, key string) error {
					if strings.Contains(key, "2222") {
						return httpError("GetObject", 503, "SlowDown", "Please reduce your request rate.")
					}
					return nil
				}
				handle(t, ctx, h, message(t, "m4", 1, fs.upload("uploads/22222222222222222222222222222222.png", testPNG(t, 4, 4)), ""))
			},
			want: []string{peak, "TransientErrors Count Stack=prod"},
		},
		{
			name: "retries exhausted", msg: "image failed",
			run: func() {
				handle(t, ctx, h, message(t, "m5", 3, fs.upload("uploads/22222222222222222222222222222222.png", testPNG(t, 4, 4)), ""))
			},
			want: []string{"ImagesFailed Count ErrorCode=retries_exhausted,Stack=prod", "ImagesFailed Count Stack=prod", peak},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run()
			msgs, data, values := emitted(t, out.take())
			if len(msgs) != 1 || msgs[0] != tc.msg {
				t.Errorf("metric lines %q, want one %q", msgs, tc.msg)
			}
			if strings.Join(data, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("metrics:\n%s\nwant:\n%s", strings.Join(data, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, name := range data {
				m, ok := metrics.Lookup(strings.Fields(name)[0])
				if !ok || string(m.Unit) != strings.Fields(name)[1] {
					t.Errorf("%s is not in the catalog with that unit", name)
				}
			}
			if tc.check != nil {
				tc.check(t, values)
			}
		})
	}
	if n := len(rec.events(t)); n != 3 {
		t.Errorf("%d completion events, want 3 (done, refused, retries exhausted)", n)
	}
}
