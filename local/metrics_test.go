package local_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/console"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// promSample is one sample line of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	promName   = `[a-zA-Z_:][a-zA-Z0-9_:]*`
	promLine   = regexp.MustCompile(`^(` + promName + `)(\{.*\})? (\S+)$`)
	promLabel  = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)`)
	promHeader = regexp.MustCompile(`^# (HELP|TYPE) (` + promName + `) (.+)$`)
)

// parseProm reads the text exposition format strictly: every sample
// belongs to a family declared with HELP and TYPE before it, histograms
// have cumulative buckets ending in +Inf equal to _count.
func parseProm(t *testing.T, text string) (map[string]string, []promSample) {
	t.Helper()
	types := map[string]string{}
	helps := map[string]bool{}
	var samples []promSample
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if m := promHeader.FindStringSubmatch(line); m != nil {
			if m[1] == "HELP" {
				helps[m[2]] = true
			} else {
				switch m[3] {
				case "counter", "gauge", "histogram":
				default:
					t.Errorf("family %s has type %q", m[2], m[3])
				}
				types[m[2]] = m[3]
			}
			continue
		}
		m := promLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a Prometheus text line: %q", line)
		}
		s := promSample{name: m[1], labels: map[string]string{}}
		rest := strings.TrimSuffix(strings.TrimPrefix(m[2], "{"), "}")
		for rest != "" {
			lm := promLabel.FindStringSubmatch(rest)
			if lm == nil {
				t.Fatalf("bad labels in %q", line)
			}
			v, err := strconv.Unquote(`"` + lm[2] + `"`)
			if err != nil {
				t.Fatalf("bad label value in %q: %v", line, err)
			}
			s.labels[lm[1]] = v
			rest = rest[len(lm[0]):]
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("bad value in %q: %v", line, err)
		}
		s.value = v
		family := s.name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f, ok := strings.CutSuffix(s.name, suffix); ok && types[f] == "histogram" {
				family = f
			}
		}
		if types[family] == "" || !helps[family] {
			t.Errorf("sample %q before its family's HELP and TYPE", line)
		}
		samples = append(samples, s)
	}
	// Histograms: buckets cumulative, +Inf == count.
	buckets := map[string][]promSample{}
	for _, s := range samples {
		if f, ok := strings.CutSuffix(s.name, "_bucket"); ok && types[f] == "histogram" {
			key := f + labelsWithout(s.labels, "le")
			buckets[key] = append(buckets[key], s)
		}
	}
	for key, bs := range buckets {
		for i := 1; i < len(bs); i++ {
			if bs[i].value < bs[i-1].value {
				t.Errorf("%s: buckets not cumulative: %v", key, bs)
			}
		}
		last := bs[len(bs)-1]
		if last.labels["le"] != "+Inf" {
			t.Errorf("%s: last bucket le=%s, want +Inf", key, last.labels["le"])
		}
	}
	return types, samples
}

func labelsWithout(l map[string]string, drop string) string {
	var parts []string
	for k, v := range l {
		if k != drop {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// value finds the sample with exactly these labels (-1 when missing).
func value(samples []promSample, name string, labels map[string]string) float64 {
	for _, s := range samples {
		if s.name == name && fmt.Sprint(s.labels) == fmt.Sprint(labels) {
			return s.value
		}
	}
	return -1
}

func scrape(t *testing.T, st *local.Stack) string {
	t.Helper()
	resp, err := http.Get(st.APIURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	return string(raw)
}

// TestMetricsAfterUploads scrapes GET /metrics of a local stack after one
// good and one bad upload: the numbers the functions' embedded metrics
// carry (what CloudWatch shows on AWS), and the queue depths. The console
// log has one readable line per event.
func TestMetricsAfterUploads(t *testing.T) {
	var logs localtest.Buffer
	st := localtest.Start(t, func(c *local.Config) { c.Logger = slog.New(console.New(&logs, slog.LevelInfo)) })
	a := newAPI(t, st)
	good := encodePNG(t, colourful(120, 80))
	bad := []byte("not an image at all")
	ids := map[string]string{}
	for name, data := range map[string][]byte{"good.png": good, "bad.png": bad} {
		up := a.createUpload(name, "image/png", len(data))
		if code, body := put(t, up.Upload.URL, up.Upload.Headers, data); code != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", name, code, body)
		}
		ids[name] = up.ImageID
	}
	if v := a.waitStatus(ids["good.png"]); v.Status != "done" {
		t.Fatalf("good.png: %+v", v)
	}
	if v := a.waitStatus(ids["bad.png"]); v.Status != "failed" {
		t.Fatalf("bad.png: %+v", v)
	}

	stack := map[string]string{"stack": "imagepipe"}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"imagepipe_status_updates_total", map[string]string{"stack": "imagepipe", "outcome": "done"}, 1},
		{"imagepipe_status_updates_total", map[string]string{"stack": "imagepipe", "outcome": "failed"}, 1},
		{"imagepipe_images_done_total", stack, 1},
		{"imagepipe_images_failed_total", map[string]string{"stack": "imagepipe", "error_code": "not_an_image"}, 1},
		{"imagepipe_processing_time_seconds_count", stack, 1},
		{"imagepipe_queue_to_done_time_seconds_count", stack, 1},
		{"imagepipe_input_bytes_count", stack, 1},
		{"imagepipe_input_bytes_sum", stack, float64(len(good))},
		{"imagepipe_input_megapixels_sum", stack, 120 * 80 / 1e6},
		{"imagepipe_status_delay_seconds_count", stack, 2},
		{"imagepipe_queue_messages", map[string]string{"queue": local.ProcessDLQ, "state": "visible"}, 0},
		{"imagepipe_queue_messages", map[string]string{"queue": local.ProcessQueue, "state": "in_flight"}, 0},
	}
	mismatches := func(samples []promSample) []string {
		var out []string
		for _, c := range checks {
			if got := value(samples, c.name, c.labels); math.Abs(got-c.want) > 1e-9 {
				out = append(out, fmt.Sprintf("%s%v = %v, want %v", c.name, c.labels, got, c.want))
			}
		}
		return out
	}
	// The status the API just answered with can be written before the
	// functions log their metrics and the runner deletes the message: the
	// counts arrive within moments of each other, so wait for all of them.
	var samples []promSample
	var text string
	deadline := time.Now().Add(10 * time.Second)
	for {
		text = scrape(t, st)
		_, samples = parseProm(t, text)
		bad := mismatches(samples)
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, m := range bad {
				t.Error(m)
			}
			t.Fatalf("metrics not as expected within 10 s:\n%s", text)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	if got := value(samples, "imagepipe_peak_memory_bytes", map[string]string{"stack": "imagepipe", "function": "process"}); got < 1<<20 {
		t.Errorf("peak memory of process = %v bytes", got)
	}
	if t.Failed() {
		t.Logf("GET /metrics:\n%s", text)
	}

	// The console: one line per event, nothing only CloudWatch reads.
	out := logs.String()
	for _, want := range []string{"process  image processed  ", "process  image failed  ", "notify   image done  ", "code=not_an_image"} {
		if !strings.Contains(out, want) {
			t.Errorf("console log lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"_aws", "map[", "CloudWatchMetrics", "ImagesDone="} {
		if strings.Contains(out, bad) {
			t.Errorf("console log shows %q:\n%s", bad, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} (INFO|WARN|ERROR|DEBUG) `).MatchString(line) {
			t.Errorf("console line %q does not start with the time and level", line)
		}
	}
}

// TestMetricsWithJSONLogs: with JSON lines (imagepipe dev --log-format
// json) the lines keep their embedded metrics, as on Lambda, and GET
// /metrics counts them all the same.
func TestMetricsWithJSONLogs(t *testing.T) {
	var logs localtest.Buffer
	st := localtest.Start(t, func(c *local.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		c.MetricsInLogs = true
	})
	a := newAPI(t, st)
	data := encodeJPEG(t, colourful(64, 64))
	up := a.createUpload("a.jpg", "image/jpeg", len(data))
	if code, body := put(t, up.Upload.URL, up.Upload.Headers, data); code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if v := a.waitStatus(up.ImageID); v.Status != "done" {
		t.Fatalf("status %+v", v)
	}
	// notify can write the status before the worker has logged its line
	// (it logs once its message is settled): wait for both, as
	// TestMetrics does.
	var done float64
	var found bool
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, samples := parseProm(t, scrape(t, st))
		done = value(samples, "imagepipe_images_done_total", map[string]string{"stack": "imagepipe"})
		found = false
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"msg":"image processed"`) {
				found = strings.Contains(line, `"_aws":{`) && strings.Contains(line, `"ImagesDone":1`)
			}
		}
		if (done == 1 && found) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	if done != 1 {
		t.Errorf("images done = %v, want 1", done)
	}
	if !found {
		t.Errorf("the JSON line of the processed image lacks its embedded metrics:\n%s", logs.String())
	}
}
