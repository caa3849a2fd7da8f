package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/client"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/bus"
	"github.com/imagepipe/imagepipe/local/localtest"
	"github.com/imagepipe/imagepipe/local/queue"
)

// BenchmarkRequestsPerImage counts what one image costs in requests, the
// input of `make cost`: each op is one upload through the API (POST
// /v1/uploads, the PUT to the presigned URL), the worker and notify, then
// one GET /v1/images/{id} once the status is done. Reported per image:
//
//   - s3-put/img, s3-get/img, s3-delete/img: the functions' S3 requests by
//     price class (PUT, COPY, POST, LIST; GET, HEAD; DELETE), counted by
//     the SDK; the client's own PUT of the upload is not among them;
//   - events-put/img: the functions' PutEvents entries (custom events);
//   - s3-event-bytes/img, completion-bytes/img: the size of the S3 "Object
//     Created" event and of the completion events (what the archives store);
//   - log-bytes/img: the functions' log lines, JSON as on Lambda, embedded
//     metrics included (what CloudWatch Logs ingests from them);
//   - source-bytes/img, output-bytes/img: the upload and its outputs (what
//     S3 stores).
//
// The waits are not sleeps: the completion event arrives on a queue; the
// status record, written by notify just after, is read with an uncounted
// client until it is done.
func BenchmarkRequestsPerImage(b *testing.B) {
	for _, size := range []struct {
		name string
		w, h int
	}{{"2MP", 1632, 1224}, {"12MP", 4000, 3000}} {
		b.Run(size.name, func(b *testing.B) {
			data, err := photoJPEG(size.w, size.h)
			if err != nil {
				b.Fatal(err)
			}
			ops := &opCounter{}
			logs := &functionLog{}
			st := localtest.Start(b, func(c *local.Config) {
				c.APIOptions = append(c.APIOptions, ops.add)
				c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
				c.MetricsInLogs = true
			})
			m, err := newMeter(st)
			if err != nil {
				b.Fatal(err)
			}
			// One image outside the count: first-use costs (bucket checks,
			// lazily built clients) are not per image.
			if _, err := m.image(data); err != nil {
				b.Fatal(err)
			}
			ops.reset()
			logs.reset()
			var sizes imageBytes
			n := 0
			for b.Loop() {
				s, err := m.image(data)
				if err != nil {
					b.Fatal(err)
				}
				sizes.add(s)
				n++
			}
			b.StopTimer()
			per := func(v int64) float64 { return float64(v) / float64(n) }
			counts := ops.snapshot()
			b.ReportMetric(per(counts["s3-put"]), "s3-put/img")
			b.ReportMetric(per(counts["s3-get"]), "s3-get/img")
			b.ReportMetric(per(counts["s3-delete"]), "s3-delete/img")
			b.ReportMetric(per(counts["events-put"]), "events-put/img")
			b.ReportMetric(per(sizes.s3Event), "s3-event-bytes/img")
			b.ReportMetric(per(sizes.completion), "completion-bytes/img")
			b.ReportMetric(per(logs.bytes()), "log-bytes/img")
			b.ReportMetric(per(sizes.source), "source-bytes/img")
			b.ReportMetric(per(sizes.outputs), "output-bytes/img")
			if other := counts["other"]; other > 0 {
				b.Logf("requests of no known price class: %v", counts)
			}
			b.Logf("%d images; SDK operations: %v", n, ops.byOperation())
		})
	}
}

// opCounter counts the SDK operations of the stack's functions by price
// class (and by name, for the log).
type opCounter struct {
	mu    sync.Mutex
	class map[string]int64
	op    map[string]int64
}

func (c *opCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.class, c.op = map[string]int64{}, map[string]int64{}
}

func (c *opCounter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int64{}
	for k, v := range c.class {
		out[k] = v
	}
	return out
}

func (c *opCounter) byOperation() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for k, v := range c.op {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// add is the SDK middleware: it counts every operation (on loopback no
// request is retried), and PutEvents by its entries, each billed as an
// event.
func (c *opCounter) add(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CountRequests",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
			n := int64(1)
			if p, ok := in.Parameters.(*eventbridge.PutEventsInput); ok {
				n = int64(len(p.Entries))
			}
			c.mu.Lock()
			if c.class == nil {
				c.class, c.op = map[string]int64{}, map[string]int64{}
			}
			c.op[service+"."+op]++
			c.class[priceClass(service, op)] += n
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// priceClass is S3's request price class of an operation, or events-put
// for EventBridge's PutEvents.
func priceClass(service, op string) string {
	switch {
	case service == "S3" && (strings.HasPrefix(op, "Put") || strings.HasPrefix(op, "Copy") || strings.HasPrefix(op, "List") ||
		strings.HasPrefix(op, "Create") || op == "UploadPart" || op == "CompleteMultipartUpload" || op == "PostObject"):
		return "s3-put"
	case service == "S3" && (strings.HasPrefix(op, "Get") || strings.HasPrefix(op, "Head")):
		return "s3-get"
	case service == "S3" && (strings.HasPrefix(op, "Delete") || op == "AbortMultipartUpload"):
		return "s3-delete"
	case service == "EventBridge" && op == "PutEvents":
		return "events-put"
	}
	return "other"
}

// functionLog sums the JSON lines the functions log (records carrying a
// "function" attribute, which only the local stack adds: its length is
// taken off).
type functionLog struct {
	mu sync.Mutex
	n  int64
}

func (l *functionLog) Write(p []byte) (int, error) {
	var rec map[string]any
	if json.Unmarshal(p, &rec) == nil {
		if fn, ok := rec["function"].(string); ok {
			if _, stack := rec["component"]; !stack {
				l.mu.Lock()
				l.n += int64(len(p) - len(`"function":"",`) - len(fn))
				l.mu.Unlock()
			}
		}
	}
	return len(p), nil
}

func (l *functionLog) reset() {
	l.mu.Lock()
	l.n = 0
	l.mu.Unlock()
}

func (l *functionLog) bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// imageBytes are the sizes of one image's events and objects.
type imageBytes struct{ s3Event, completion, source, outputs int64 }

func (a *imageBytes) add(b imageBytes) {
	a.s3Event += b.s3Event
	a.completion += b.completion
	a.source += b.source
	a.outputs += b.outputs
}

// meter runs images through a stack one at a time.
type meter struct {
	st          *local.Stack
	api         *client.Client
	s3          *s3.Client // not counted
	uploads     *queue.Queue
	completions *queue.Queue
}

// newMeter taps both buses: the uploads rule's events and every completion
// go to queues of the benchmark.
func newMeter(st *local.Stack) (*meter, error) {
	m := &meter{st: st}
	m.uploads = st.NewQueue("meter-uploads", queue.Options{})
	m.completions = st.NewQueue("meter-completions", queue.Options{})
	uploads, err := eventbus.RulePattern(eventbus.RuleUploadsToQueue, local.RuleVars())
	if err != nil {
		return nil, err
	}
	for _, r := range []*bus.Rule{
		{Name: "meter-uploads", Bus: "default", Pattern: uploads, Target: m.uploads},
		{Name: "meter-completions", Bus: local.CustomBus, Pattern: `{"source":["` + eventbus.SourceProcess + `"]}`, Target: m.completions},
	} {
		if err := st.Router().AddRule(r); err != nil {
			return nil, err
		}
	}
	if m.api, err = client.New(st.APIURL(), st.APIKey()); err != nil {
		return nil, err
	}
	cfg := st.AWSConfig()
	cfg.APIOptions = nil
	m.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	return m, nil
}

// image uploads data, waits until its status is done, reads it once through
// the API and returns the sizes of its events and objects.
func (m *meter) image(data []byte) (imageBytes, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	up, err := m.api.Upload(ctx, "photo.jpg", "image/jpeg", data)
	if err != nil {
		return imageBytes{}, err
	}
	sizes := imageBytes{source: int64(len(data))}
	if sizes.s3Event, err = take(ctx, m.uploads, func(body []byte) bool { return bytes.Contains(body, []byte(up.ImageID)) }); err != nil {
		return sizes, fmt.Errorf("image %s: S3 event: %w", up.ImageID, err)
	}
	if sizes.completion, err = take(ctx, m.completions, func(body []byte) bool { return bytes.Contains(body, []byte(up.ImageID)) }); err != nil {
		return sizes, fmt.Errorf("image %s: completion event: %w", up.ImageID, err)
	}
	if err := m.statusDone(ctx, up.ImageID); err != nil {
		return sizes, err
	}
	v, err := m.api.Image(ctx, up.ImageID)
	if err != nil {
		return sizes, err
	}
	if v.Status != api.StatusDone {
		return sizes, fmt.Errorf("image %s: %s", up.ImageID, v.Status)
	}
	for _, o := range v.Outputs {
		sizes.outputs += o.Bytes
	}
	return sizes, nil
}

// take receives from q until an event that match accepts, and returns its
// size; other events are dropped.
func take(ctx context.Context, q *queue.Queue, match func([]byte) bool) (int64, error) {
	for {
		wake := q.Wait()
		msgs, err := q.Receive(ctx, 10)
		if err != nil {
			return 0, err
		}
		for _, msg := range msgs {
			_ = q.Delete(ctx, msg.ReceiptHandle)
			if match(msg.Body) {
				return int64(len(msg.Body)), nil
			}
		}
		if len(msgs) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// statusDone reads the status record with the uncounted client until it
// says done: notify writes it right after the completion event.
func (m *meter) statusDone(ctx context.Context, id string) error {
	for {
		out, err := m.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(local.ProcessedBucket), Key: aws.String("processed/status/" + id + ".json")})
		if err == nil {
			var rec struct{ Status string }
			err = json.NewDecoder(out.Body).Decode(&rec)
			out.Body.Close()
			if err == nil && rec.Status == api.StatusDone {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("image %s: status not done", id), ctx.Err(), err)
		case <-time.After(time.Millisecond):
		}
	}
}
