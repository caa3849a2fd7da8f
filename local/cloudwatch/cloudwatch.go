// Package cloudwatch is the local stack's CloudWatch: it reads the
// embedded metric format documents the functions log (what CloudWatch Logs
// extracts metrics from on AWS, see the metrics package) and serves the same
// numbers at GET /metrics in the Prometheus text exposition format
// (https://prometheus.io/docs/instrumenting/exposition_formats/), next to
// gauges of the local queues.
//
// A metric becomes a Prometheus family named imagepipe_<snake_case name>:
// Count metrics are counters (_total), Milliseconds are histograms in
// seconds (_seconds), Bytes histograms in bytes, Megabytes gauges in bytes
// (the highest value seen), other units histograms. The dimensions of the
// document become labels (Stack -> stack, ErrorCode -> error_code).
package cloudwatch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/imagepipe/imagepipe/metrics"
)

// Registry holds the metrics seen so far.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
	gauges   []gaugeFunc
}

type kind int

const (
	counter kind = iota
	histogram
	gauge
)

type family struct {
	name, help string
	kind       kind
	buckets    []float64
	series     map[string]*series // by label string
}

type series struct {
	labels string
	value  float64  // counter total, gauge value
	counts []uint64 // histogram: per bucket (not cumulative)
	sum    float64  // histogram
	count  uint64   // histogram
}

// GaugeSample is one value of a gauge read at scrape time.
type GaugeSample struct {
	Labels map[string]string
	Value  float64
}

type gaugeFunc struct {
	name, help string
	collect    func(context.Context) []GaugeSample
}

// New returns an empty registry.
func New() *Registry { return &Registry{families: map[string]*family{}} }

// Gauge adds a family whose samples are read at each scrape (queue
// depths). name is the full Prometheus name.
func (r *Registry) Gauge(name, help string, collect func(context.Context) []GaugeSample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gauges = append(r.gauges, gaugeFunc{name: name, help: help, collect: collect})
}

var (
	secondsBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	bytesBuckets   = []float64{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20}
	valueBuckets   = []float64{0.01, 0.1, 0.5, 1, 2, 5, 10, 25, 50, 100}
)

// Line adds the data CloudWatch would extract from one log line (see
// metrics.Extract). A metric published with several dimension sets counts
// once, with the labels of its most detailed set.
func (r *Registry) Line(data []metrics.Datum) {
	best := map[string]metrics.Datum{}
	var order []string
	for _, d := range data {
		b, seen := best[d.Name]
		if !seen {
			order = append(order, d.Name)
		}
		if !seen || len(d.Dimensions) > len(b.Dimensions) {
			best[d.Name] = d
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range order {
		r.observe(best[name])
	}
}

func (r *Registry) observe(d metrics.Datum) {
	base := strings.ToLower(d.Namespace) + "_" + snake(d.Name)
	help := string(d.Unit) + " from the functions' embedded metrics."
	if m, ok := metrics.Lookup(d.Name); ok && d.Namespace == metrics.Namespace {
		help = m.Help
	}
	var (
		k     kind
		name  = base
		scale = 1.0
		bkts  []float64
	)
	switch d.Unit {
	case metrics.Count:
		k, name = counter, base+"_total"
	case metrics.Milliseconds:
		k, name, scale, bkts = histogram, base+"_seconds", 1.0/1000, secondsBuckets
	case "Seconds":
		k, name, bkts = histogram, base+"_seconds", secondsBuckets
	case metrics.Bytes:
		k, bkts = histogram, bytesBuckets
		if !strings.HasSuffix(name, "_bytes") {
			name += "_bytes"
		}
	case metrics.Megabytes:
		k, name, scale = gauge, base+"_bytes", 1<<20
	default:
		k, bkts = histogram, valueBuckets
	}
	f, ok := r.families[name]
	if !ok {
		f = &family{name: name, help: help, kind: k, buckets: bkts, series: map[string]*series{}}
		r.families[name] = f
	}
	labels := labelString(d.Dimensions)
	s, ok := f.series[labels]
	if !ok {
		s = &series{labels: labels}
		if f.kind == histogram {
			s.counts = make([]uint64, len(f.buckets)+1)
		}
		f.series[labels] = s
	}
	for _, v := range d.Values {
		v *= scale
		switch f.kind {
		case counter:
			s.value += v
		case gauge:
			s.value = math.Max(s.value, v)
		case histogram:
			i := sort.SearchFloat64s(f.buckets, v)
			s.counts[i]++
			s.sum += v
			s.count++
		}
	}
}

func labelString(dims map[string]string) string {
	keys := make([]string, 0, len(dims))
	for k := range dims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = snake(k) + "=" + strconv.Quote(dims[k])
	}
	return strings.Join(parts, ",")
}

// snake turns ImagesDone into images_done and ErrorCode into error_code.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, c := range rs {
		if unicode.IsUpper(c) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		if c == '-' || c == ' ' || c == '.' {
			c = '_'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// WriteText writes every family in the Prometheus text format, sorted by
// name.
func (r *Registry) WriteText(ctx context.Context, w io.Writer) error {
	r.mu.Lock()
	gauges := append([]gaugeFunc(nil), r.gauges...)
	var buf bytes.Buffer
	names := make([]string, 0, len(r.families))
	for n := range r.families {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r.families[n].write(&buf)
	}
	r.mu.Unlock()
	for _, g := range gauges {
		samples := g.collect(ctx)
		fmt.Fprintf(&buf, "# HELP %s %s\n# TYPE %s gauge\n", g.name, escapeHelp(g.help), g.name)
		for _, s := range samples {
			fmt.Fprintf(&buf, "%s%s %s\n", g.name, braces(labelString(s.Labels)), formatFloat(s.Value))
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (f *family) write(w *bytes.Buffer) {
	typ := map[kind]string{counter: "counter", histogram: "histogram", gauge: "gauge"}[f.kind]
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, typ)
	keys := make([]string, 0, len(f.series))
	for k := range f.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := f.series[k]
		if f.kind != histogram {
			fmt.Fprintf(w, "%s%s %s\n", f.name, braces(s.labels), formatFloat(s.value))
			continue
		}
		var cum uint64
		for i, le := range f.buckets {
			cum += s.counts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", f.name, braces(join(s.labels, `le="`+formatFloat(le)+`"`)), cum)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", f.name, braces(join(s.labels, `le="+Inf"`)), s.count)
		fmt.Fprintf(w, "%s_sum%s %s\n", f.name, braces(s.labels), formatFloat(s.sum))
		fmt.Fprintf(w, "%s_count%s %d\n", f.name, braces(s.labels), s.count)
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func braces(labels string) string {
	if labels == "" {
		return ""
	}
	return "{" + labels + "}"
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// ServeHTTP answers GET /metrics.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var buf bytes.Buffer
	if err := r.WriteText(req.Context(), &buf); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// Handler returns a slog.Handler that reads the embedded metrics of each
// record into the registry and hands the record to next: as it is when
// keep is true (JSON lines, the document whole), or without the "_aws"
// member and the metric and dimension values it names, which only make
// sense to CloudWatch (a readable console line).
func (r *Registry) Handler(next slog.Handler, keep bool) slog.Handler {
	return &tap{reg: r, next: next, keep: keep}
}

type tap struct {
	reg   *Registry
	next  slog.Handler
	keep  bool
	attrs []slog.Attr // from WithAttrs, outside any group
	group bool
}

// Enabled takes every INFO record and above, where the metrics are, even
// when next discards them: the metrics are counted all the same.
func (t *tap) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || t.next.Enabled(ctx, l)
}

func (t *tap) WithAttrs(as []slog.Attr) slog.Handler {
	c := *t
	c.next = t.next.WithAttrs(as)
	if !t.group {
		c.attrs = append(append([]slog.Attr(nil), t.attrs...), as...)
	}
	return &c
}

func (t *tap) WithGroup(name string) slog.Handler {
	c := *t
	c.next = t.next.WithGroup(name)
	c.group = c.group || name != ""
	return &c
}

func (t *tap) Handle(ctx context.Context, rec slog.Record) error {
	hasEMF := false
	rec.Attrs(func(a slog.Attr) bool {
		hasEMF = a.Key == metrics.AWSKey
		return !hasEMF
	})
	if !hasEMF || t.group {
		return t.handleNext(ctx, rec)
	}
	// The document as the Lambda logger would write it, read as CloudWatch
	// Logs would.
	var doc bytes.Buffer
	j := slog.NewJSONHandler(&doc, nil).WithAttrs(t.attrs)
	_ = j.Handle(ctx, rec.Clone())
	data, err := metrics.Extract(doc.Bytes())
	if err != nil {
		rec.AddAttrs(slog.String("metrics_error", err.Error()))
		return t.handleNext(ctx, rec)
	}
	t.reg.Line(data)
	if t.keep {
		return t.handleNext(ctx, rec)
	}
	drop := map[string]bool{metrics.AWSKey: true}
	for _, d := range data {
		drop[d.Name] = true
		for k := range d.Dimensions {
			drop[k] = true
		}
	}
	out := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		if !drop[a.Key] {
			out.AddAttrs(a)
		}
		return true
	})
	return t.handleNext(ctx, out)
}

func (t *tap) handleNext(ctx context.Context, rec slog.Record) error {
	if !t.next.Enabled(ctx, rec.Level) {
		return nil
	}
	return t.next.Handle(ctx, rec)
}
