package cloudwatch

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/metrics"
)

func TestTextFormat(t *testing.T) {
	r := New()
	at := time.UnixMilli(0)
	line := func(d map[string]string, s ...metrics.Sample) {
		r.Line(extract(t, metrics.Line{Dimensions: d, Samples: s}, at))
	}
	line(map[string]string{metrics.Stack: "s", metrics.ErrorCode: `too"big`}, metrics.Sample{Metric: metrics.ImagesFailed, Value: 1})
	line(map[string]string{metrics.Stack: "s", metrics.ErrorCode: `too"big`}, metrics.Sample{Metric: metrics.ImagesFailed, Value: 2})
	line(map[string]string{metrics.Stack: "s"}, metrics.Sample{Metric: metrics.ProcessingTime, Value: 250})
	line(map[string]string{metrics.Stack: "s"}, metrics.Sample{Metric: metrics.ProcessingTime, Value: 500})
	line(map[string]string{metrics.Stack: "s", metrics.Function: "f"}, metrics.Sample{Metric: metrics.PeakMemory, Value: 2})
	line(map[string]string{metrics.Stack: "s", metrics.Function: "f"}, metrics.Sample{Metric: metrics.PeakMemory, Value: 1})
	r.Gauge("imagepipe_queue_messages", "Queue depth.", func(context.Context) []GaugeSample {
		return []GaugeSample{{Labels: map[string]string{"queue": "q"}, Value: 3}}
	})
	var buf bytes.Buffer
	if err := r.WriteText(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	want := `# HELP imagepipe_images_failed_total Images failed, by error code: Image Processing Failed emitted.
# TYPE imagepipe_images_failed_total counter
imagepipe_images_failed_total{error_code="too\"big",stack="s"} 3
# HELP imagepipe_peak_memory_bytes Peak resident memory of the function's process.
# TYPE imagepipe_peak_memory_bytes gauge
imagepipe_peak_memory_bytes{function="f",stack="s"} 2097152
# HELP imagepipe_processing_time_seconds Worker time per image done, from receiving the event to emitting Image Processed.
# TYPE imagepipe_processing_time_seconds histogram
imagepipe_processing_time_seconds_bucket{stack="s",le="0.005"} 0
imagepipe_processing_time_seconds_bucket{stack="s",le="0.01"} 0
imagepipe_processing_time_seconds_bucket{stack="s",le="0.025"} 0
imagepipe_processing_time_seconds_bucket{stack="s",le="0.05"} 0
imagepipe_processing_time_seconds_bucket{stack="s",le="0.1"} 0
imagepipe_processing_time_seconds_bucket{stack="s",le="0.25"} 1
imagepipe_processing_time_seconds_bucket{stack="s",le="0.5"} 2
imagepipe_processing_time_seconds_bucket{stack="s",le="1"} 2
imagepipe_processing_time_seconds_bucket{stack="s",le="2.5"} 2
imagepipe_processing_time_seconds_bucket{stack="s",le="5"} 2
imagepipe_processing_time_seconds_bucket{stack="s",le="10"} 2
imagepipe_processing_time_seconds_bucket{stack="s",le="30"} 2
imagepipe_processing_time_seconds_bucket{stack="s",le="60"} 2
imagepipe_processing_time_seconds_bucket{stack="s",le="120"} 2
imagepipe_processing_time_seconds_bucket{stack="s",le="300"} 2
imagepipe_processing_time_seconds_bucket{stack="s",le="+Inf"} 2
imagepipe_processing_time_seconds_sum{stack="s"} 0.75
imagepipe_processing_time_seconds_count{stack="s"} 2
# HELP imagepipe_queue_messages Queue depth.
# TYPE imagepipe_queue_messages gauge
imagepipe_queue_messages{queue="q"} 3
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// extract turns a metrics.Line into what CloudWatch reads from its JSON
// log line.
func extract(t *testing.T, l metrics.Line, at time.Time) []metrics.Datum {
	t.Helper()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).LogAttrs(context.Background(), slog.LevelInfo, "x", l.Attrs(at)...)
	d, err := metrics.Extract(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// recorder keeps the records a handler is given.
type recorder struct {
	level slog.Level
	recs  *[]slog.Record
	attrs []slog.Attr
}

func (r recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	rec.AddAttrs(r.attrs...)
	*r.recs = append(*r.recs, rec)
	return nil
}
func (r recorder) WithAttrs(as []slog.Attr) slog.Handler {
	r.attrs = append(append([]slog.Attr(nil), r.attrs...), as...)
	return r
}
func (r recorder) WithGroup(string) slog.Handler { return r }

func keys(rec slog.Record) string {
	var k []string
	rec.Attrs(func(a slog.Attr) bool { k = append(k, a.Key); return true })
	return strings.Join(k, ",")
}

func TestHandlerCountsAndStrips(t *testing.T) {
	line := metrics.Line{Dimensions: map[string]string{metrics.Stack: "s"}, Samples: []metrics.Sample{{Metric: metrics.ImagesDone, Value: 1}}}
	tests := []struct {
		name     string
		keep     bool
		level    slog.Level // of the next handler
		wantKeys string     // of the record passed on; "" for none
	}{
		{name: "readable console", keep: false, level: slog.LevelInfo, wantKeys: "image_id,function"},
		{name: "JSON lines", keep: true, level: slog.LevelInfo, wantKeys: "image_id,ImagesDone,Stack,_aws,function"},
		{name: "discarded log still counts", keep: false, level: slog.LevelError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New()
			var recs []slog.Record
			log := slog.New(r.Handler(recorder{level: tc.level, recs: &recs}, tc.keep)).With("function", "process")
			log.LogAttrs(context.Background(), slog.LevelInfo, "image processed", append([]slog.Attr{slog.String("image_id", "i")}, line.Attrs(time.Now())...)...)
			log.Debug("not a metric line")
			var buf bytes.Buffer
			_ = r.WriteText(context.Background(), &buf)
			if !strings.Contains(buf.String(), `imagepipe_images_done_total{stack="s"} 1`) {
				t.Errorf("not counted:\n%s", buf.String())
			}
			switch {
			case tc.wantKeys == "" && len(recs) != 0:
				t.Errorf("passed on %d records, want none", len(recs))
			case tc.wantKeys != "" && (len(recs) != 1 || keys(recs[0]) != tc.wantKeys):
				t.Errorf("passed on %d records (keys %v), want one with %s", len(recs), func() string {
					if len(recs) > 0 {
						return keys(recs[0])
					}
					return ""
				}(), tc.wantKeys)
			}
		})
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"ImagesDone": "images_done", "ErrorCode": "error_code", "QueueToDoneTime": "queue_to_done_time", "APILatency": "api_latency", "Stack": "stack", "5XXError": "5_xx_error"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkHandler is the cost the local CloudWatch adds to each metric
// line a function logs: encode the document as Lambda would, extract it as
// CloudWatch would, count it, and pass the stripped line on.
func BenchmarkHandler(b *testing.B) {
	r := New()
	log := slog.New(r.Handler(slog.DiscardHandler, false)).With("function", "process")
	line := metrics.Line{Dimensions: map[string]string{metrics.Stack: "imagepipe", metrics.Function: "process"}, Samples: []metrics.Sample{
		{Metric: metrics.ImagesDone, Value: 1}, {Metric: metrics.ProcessingTime, Value: 45}, {Metric: metrics.InputBytes, Value: 2 << 20},
		{Metric: metrics.InputMegapixels, Value: 2.07}, {Metric: metrics.QueueToDoneTime, Value: 60}, {Metric: metrics.PeakMemory, Value: 80},
	}}
	ctx := context.Background()
	for b.Loop() {
		log.LogAttrs(ctx, slog.LevelInfo, "image processed", append([]slog.Attr{slog.String("image_id", "0123456789abcdef0123456789abcdef")}, line.Attrs(time.Now())...)...)
	}
}
