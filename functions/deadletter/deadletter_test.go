package deadletter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/deadletter"
	"github.com/imagepipe/imagepipe/functions/process"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

const (
	processDLQ = "https://sqs.example/000000000000/process-dlq"
	eventsDLQ  = "https://sqs.example/000000000000/events-dlq"
)

// parker records the messages parked; fail, when set, refuses them.
type parker struct {
	mu   sync.Mutex
	sent map[string][]*sqs.SendMessageInput
	fail error
}

func (p *parker) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return nil, p.fail
	}
	if p.sent == nil {
		p.sent = map[string][]*sqs.SendMessageInput{}
	}
	p.sent[aws.ToString(in.QueueUrl)] = append(p.sent[aws.ToString(in.QueueUrl)], in)
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

func (p *parker) count(url string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent[url])
}

type env struct {
	t        *testing.T
	st       *local.Stack
	s3       *s3.Client
	h        *deadletter.Handler
	park     *parker
	statuses status.Store
	logs     *logLines
}

// logLines collects the function's log lines (slog's handler serializes
// the writes).
type logLines struct{ bytes.Buffer }

// line returns the first log line with the message, decoded.
func (b *logLines) line(t *testing.T, msg string) map[string]any {
	t.Helper()
	for l := range strings.SplitSeq(b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	t.Fatalf("no log line %q in:\n%s", msg, b.String())
	return nil
}

// newEnv runs the function against a paused local stack: real S3 and
// EventBridge on the wire, nothing consuming the queues.
func newEnv(t *testing.T) *env {
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	cfg := process.DefaultConfig(local.ProcessedBucket)
	cfg.EventBusName = local.CustomBus
	p := &parker{}
	s3c := st.S3Client()
	pub := eventbus.NewEventBridge(eventbridge.NewFromConfig(st.AWSConfig()), local.CustomBus)
	logs := &logLines{}
	h, err := deadletter.New(deadletter.Config{Worker: cfg, ProcessDLQURL: processDLQ, EventsDLQURL: eventsDLQ}, s3c, pub, p, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st, s3: s3c, h: h, park: p, statuses: status.Store{Client: s3c, Bucket: local.ProcessedBucket}, logs: logs}
}

// upload stores a small PNG under uploads/<id>.png and returns its event.
func (e *env) upload(id string) eventbus.Event {
	e.t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	img.Set(1, 1, color.NRGBA{1, 2, 3, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		e.t.Fatal(err)
	}
	key := "uploads/" + id + ".png"
	out, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(local.UploadsBucket), Key: aws.String(key), Body: bytes.NewReader(buf.Bytes())})
	if err != nil {
		e.t.Fatal(err)
	}
	detail, _ := json.Marshal(eventbus.ObjectCreated{Version: "0", Bucket: eventbus.S3Bucket{Name: local.UploadsBucket},
		Object: eventbus.S3Object{Key: key, Size: int64(buf.Len()), ETag: strings.Trim(aws.ToString(out.ETag), `"`), Sequencer: "01"}, Reason: "PutObject"})
	return eventbus.Event{Version: "0", ID: "ev-" + id, DetailType: eventbus.DetailTypeObjectCreated, Source: eventbus.SourceS3,
		Account: local.Account, Time: time.Now().UTC(), Region: local.Region, Resources: []string{"arn:aws:s3:::" + local.UploadsBucket}, Detail: detail}
}

func record(t *testing.T, id string, body any) events.SQSMessage {
	raw, ok := body.(string)
	if !ok {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: raw, EventSource: "aws:sqs",
		EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:imagepipe-process-dlq-inbox", AWSRegion: "us-east-1",
		Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		MessageAttributes: map[string]events.SQSMessageAttribute{
			"ERROR_CODE": {DataType: "String", StringValue: aws.String("SQSError")},
		}}
}

// invoke runs the handler through the Lambda library, as Lambda would.
func (e *env) invoke(msgs ...events.SQSMessage) []string {
	e.t.Helper()
	payload, err := json.Marshal(events.SQSEvent{Records: msgs})
	if err != nil {
		e.t.Fatal(err)
	}
	raw, err := lambda.NewHandler(e.h.Handle).Invoke(context.Background(), payload)
	if err != nil {
		e.t.Fatal(err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// completions drains the completion events queued for notify.
func (e *env) completions() []eventbus.Event {
	e.t.Helper()
	var out []eventbus.Event
	q := e.st.Queue(local.NotifyQueue)
	for {
		msgs, err := q.Receive(context.Background(), 10)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			var ev eventbus.Event
			if err := json.Unmarshal(m.Body, &ev); err != nil {
				e.t.Fatal(err)
			}
			out = append(out, ev)
			_ = q.Delete(context.Background(), m.ReceiptHandle)
		}
	}
}

func detailOf(t *testing.T, ev eventbus.Event) eventbus.ImageDetail {
	var d eventbus.ImageDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDeadUploadEndsFailedOnce: an upload event dead-lettered without the
// image ever being finished gives one retryable retries_exhausted failure
// with the version's completion_id, the message is parked with its
// attributes, and a second delivery of the same dead letter sends nothing
// more once the status shows it.
func TestDeadUploadEndsFailedOnce(t *testing.T) {
	e := newEnv(t)
	id := "0123456789abcdef0123456789abcdef"
	ev := e.upload(id)
	if failed := e.invoke(record(t, "d1", ev)); failed != nil {
		t.Fatalf("failures %v", failed)
	}
	evs := e.completions()
	if len(evs) != 1 || evs[0].DetailType != eventbus.DetailTypeFailed {
		t.Fatalf("completions %+v, want one failure", evs)
	}
	d := detailOf(t, evs[0])
	maxReceives := process.DefaultConfig(local.ProcessedBucket).MaxReceiveCount
	var src eventbus.ObjectCreated
	_ = json.Unmarshal(ev.Detail, &src)
	if d.Error == nil || d.Error.Code != process.CodeRetriesExhausted || !d.Error.Retryable || d.CompletionID != id+":"+src.Object.ETag || d.Attempt != maxReceives {
		t.Fatalf("failure %+v, want retryable retries_exhausted for %s on attempt %d", d, id+":"+src.Object.ETag, maxReceives)
	}
	// Its log line is the last attempt's, and its metrics are the
	// deadletter function's.
	if l := e.logs.line(t, "image failed"); l["attempt"] != float64(maxReceives) || l["Function"] != deadletter.Function || l["dead_letter"] != true {
		t.Fatalf("log line %v, want attempt %d, Function %s, dead_letter", l, maxReceives, deadletter.Function)
	}
	if e.park.count(processDLQ) != 1 || e.park.count(eventsDLQ) != 0 {
		t.Fatalf("parked %v, want the message in the process DLQ", e.park.sent)
	}
	in := e.park.sent[processDLQ][0]
	if aws.ToString(in.MessageBody) != record(t, "d1", ev).Body || in.MessageAttributes["ERROR_CODE"].StringValue == nil ||
		aws.ToString(in.MessageAttributes[deadletter.SourceAttribute].StringValue) != "arn:aws:sqs:us-east-1:000000000000:imagepipe-process-dlq-inbox" {
		t.Fatalf("parked message %+v", in)
	}

	// notify applies the failure; the dead letter delivered again is
	// parked again but emits nothing.
	notifyEvent(t, e, evs[0])
	if failed := e.invoke(record(t, "d1", ev)); failed != nil {
		t.Fatalf("second delivery: %v", failed)
	}
	if evs := e.completions(); len(evs) != 0 {
		t.Fatalf("second delivery emitted %+v", evs)
	}
}

// notifyEvent applies a completion to the status as notify would.
func notifyEvent(t *testing.T, e *env, ev eventbus.Event) {
	t.Helper()
	// A dead-lettered completion event is applied by the function itself:
	// use that path to apply it here.
	if failed := e.invoke(record(t, "apply-"+ev.ID, ev)); failed != nil {
		t.Fatalf("apply %s: %v", ev.ID, failed)
	}
}

// TestDeadUploadOfAFinishedImage: if the image was committed (its event
// maybe never published), the dead letter publishes its "Image Processed"
// rather than a failure.
func TestDeadUploadOfAFinishedImage(t *testing.T) {
	e := newEnv(t)
	id := "11111111111111111111111111111111"
	ev := e.upload(id)
	cfg := process.DefaultConfig(local.ProcessedBucket)
	cfg.EventBusName = local.CustomBus
	worker, err := process.New(cfg, e.s3, failingPublisher{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The worker commits the manifest, then its publication fails.
	resp, err := worker.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(t, "w1", ev)}})
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("worker: %v %+v, want its publication to fail", err, resp)
	}
	if failed := e.invoke(record(t, "d1", ev)); failed != nil {
		t.Fatalf("failures %v", failed)
	}
	evs := e.completions()
	if len(evs) != 1 || evs[0].DetailType != eventbus.DetailTypeProcessed || detailOf(t, evs[0]).ImageID != id {
		t.Fatalf("completions %+v, want the image's Image Processed", evs)
	}
}

type failingPublisher struct{}

func (failingPublisher) Publish(context.Context, ...eventbus.Entry) error {
	return errors.New("PutEvents: InternalFailure")
}

// TestDeadCompletionIsApplied: a completion EventBridge could not deliver
// to notify (the event itself), or that notify kept failing on (inside a
// Lambda asynchronous invocation record), is applied to the status record
// and parked in the events DLQ; a body that is no event is parked too.
func TestDeadCompletionIsApplied(t *testing.T) {
	e := newEnv(t)
	mk := func(id, detailType string, errCode string) eventbus.Event {
		d := eventbus.ImageDetail{ImageID: id, CompletionID: id + ":e1", Source: eventbus.ImageSource{Bucket: local.UploadsBucket, Key: "uploads/" + id + ".png", ETag: "e1"}}
		if errCode != "" {
			d.Error = &eventbus.ImageError{Code: errCode, Message: "x"}
		}
		raw, _ := json.Marshal(d)
		return eventbus.Event{Version: "0", ID: "c-" + id, DetailType: detailType, Source: eventbus.SourceProcess, Account: local.Account, Time: time.Now().UTC(), Region: local.Region, Resources: []string{}, Detail: raw}
	}
	done := mk("22222222222222222222222222222222", eventbus.DetailTypeProcessed, "")
	failed := mk("33333333333333333333333333333333", eventbus.DetailTypeFailed, "not_an_image")
	asyncRecord := map[string]any{
		"version": "1.0", "timestamp": time.Now().UTC().Format(time.RFC3339),
		"requestContext":  map[string]any{"requestId": "r", "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:imagepipe-notify:$LATEST", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
		"requestPayload":  failed,
		"responseContext": map[string]any{"statusCode": 200, "functionError": "Unhandled"},
	}
	if f := e.invoke(record(t, "a", done), record(t, "b", asyncRecord), record(t, "c", "not json at all")); f != nil {
		t.Fatalf("failures %v", f)
	}
	for id, want := range map[string]string{"22222222222222222222222222222222": status.Done, "33333333333333333333333333333333": status.Failed} {
		rec, err := e.statuses.Get(context.Background(), id)
		if err != nil || rec.Status != want {
			t.Errorf("status of %s: %+v %v, want %s", id, rec, err, want)
		}
	}
	if e.park.count(eventsDLQ) != 3 {
		t.Fatalf("parked %d in the events DLQ, want 3", e.park.count(eventsDLQ))
	}
}

// TestUnparkableDeadLetterComesBack: if the message cannot be parked it is
// a batch item failure (SQS moves it on after the inbox's maxReceiveCount).
func TestUnparkableDeadLetterComesBack(t *testing.T) {
	e := newEnv(t)
	e.park.fail = errors.New("AccessDenied")
	ev := e.upload("44444444444444444444444444444444")
	if failed := e.invoke(record(t, "d1", ev)); len(failed) != 1 || failed[0] != "d1" {
		t.Fatalf("failures %v, want d1", failed)
	}
}
