package process

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/imaging"
)

const (
	uploadsBucket   = "uploads-test"
	processedBucket = "processed-test"
)

// fakeS3 keeps objects in memory and answers with the error types of the
// SDK. getErr, when set, may answer a GetObject with an error instead.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string]fakeObject // by bucket + "/" + key
	puts    []string              // bucket/key of every PutObject, in order
	deletes []string              // bucket/key of every DeleteObject
	getErr  func(bucket, key string) error
	putErr  func(bucket, key string) error
}

type fakeObject struct {
	data        []byte
	contentType string
	meta        map[string]string
	etag        string
	modified    time.Time
}

var _ s3API = (*fakeS3)(nil)

func newFakeS3() *fakeS3 { return &fakeS3{objects: map[string]fakeObject{}} }

// opError wraps err the way the SDK does.
func opError(op string, err error) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: err}
}

// httpError is what the SDK returns for an S3 error answer: an API error
// inside the HTTP response error.
func httpError(op string, status int, code, msg string) error {
	return opError(op, &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
			Err:      &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultServer},
		},
		RequestID: "4442587FB7D0A2F9",
	})
}

func (f *fakeS3) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, opError("GetObject", &smithy.CanceledError{Err: err})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, k := aws.ToString(in.Bucket), aws.ToString(in.Key)
	if f.getErr != nil {
		if err := f.getErr(b, k); err != nil {
			return nil, err
		}
	}
	o, ok := f.objects[b+"/"+k]
	if !ok {
		return nil, opError("GetObject", &s3types.NoSuchKey{Message: aws.String("The specified key does not exist.")})
	}
	return &s3.GetObjectOutput{
		Body:          io.NopCloser(bytes.NewReader(o.data)),
		ContentLength: aws.Int64(int64(len(o.data))),
		ContentType:   aws.String(o.contentType),
		ETag:          aws.String(`"` + o.etag + `"`),
		Metadata:      o.meta,
		LastModified:  aws.Time(o.modified),
	}, nil
}

func (f *fakeS3) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, opError("PutObject", &smithy.CanceledError{Err: err})
	}
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
	if err := f.condition(key, in.IfMatch, in.IfNoneMatch, "PutObject"); err != nil {
		return nil, err
	}
	if f.putErr != nil {
		if err := f.putErr(aws.ToString(in.Bucket), aws.ToString(in.Key)); err != nil {
			return nil, err
		}
	}
	etag := f.store(key, data, aws.ToString(in.ContentType), in.Metadata)
	f.puts = append(f.puts, key)
	return &s3.PutObjectOutput{ETag: aws.String(`"` + etag + `"`)}, nil
}

// condition applies S3's If-Match / If-None-Match rules; the caller holds mu.
func (f *fakeS3) condition(key string, ifMatch, ifNoneMatch *string, op string) error {
	o, exists := f.objects[key]
	if ifNoneMatch != nil && exists {
		return httpError(op, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	if ifMatch != nil {
		if !exists {
			return opError(op, &s3types.NoSuchKey{Message: aws.String("The specified key does not exist.")})
		}
		if strings.Trim(*ifMatch, `"`) != o.etag {
			return httpError(op, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
		}
	}
	return nil
}

func (f *fakeS3) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
	if err := f.condition(key, in.IfMatch, nil, "DeleteObject"); err != nil {
		return nil, err
	}
	delete(f.objects, key)
	f.deletes = append(f.deletes, key)
	return &s3.DeleteObjectOutput{}, nil
}

func (f *fakeS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, opError("HeadObject", &smithy.CanceledError{Err: err})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, opError("HeadObject", &s3types.NotFound{})
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(o.data))), ETag: aws.String(`"` + o.etag + `"`), Metadata: o.meta}, nil
}

// store keeps an object; the caller holds mu (or is the only user).
func (f *fakeS3) store(key string, data []byte, contentType string, meta map[string]string) string {
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])
	f.objects[key] = fakeObject{data: data, contentType: contentType, meta: meta, etag: etag, modified: time.Now()}
	return etag
}

// upload stores an upload and returns the detail of its "Object Created".
func (f *fakeS3) upload(key string, data []byte) eventbus.ObjectCreated {
	f.mu.Lock()
	defer f.mu.Unlock()
	etag := f.store(uploadsBucket+"/"+key, data, "application/octet-stream", nil)
	return objectCreated(key, int64(len(data)), etag)
}

func (f *fakeS3) putCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.puts)
}

func (f *fakeS3) object(key string) (fakeObject, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[key]
	return o, ok
}

func objectCreated(key string, size int64, etag string) eventbus.ObjectCreated {
	return eventbus.ObjectCreated{
		Version: "0", Bucket: eventbus.S3Bucket{Name: uploadsBucket},
		Object:    eventbus.S3Object{Key: key, Size: size, ETag: etag, Sequencer: "00617F08299329D189"},
		RequestID: "N4N7GDK58NMKJ12R", Requester: "123456789012", Reason: "PutObject",
	}
}

// recorder is an eventbus.Publisher that keeps what it is given.
type recorder struct {
	mu      sync.Mutex
	entries []eventbus.Entry
}

var _ eventbus.Publisher = (*recorder)(nil)

func (r *recorder) Publish(ctx context.Context, entries ...eventbus.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, entries...)
	return nil
}

// published is one recorded completion event, decoded.
type published struct {
	DetailType string
	Detail     eventbus.ImageDetail
	Raw        json.RawMessage
}

func (r *recorder) events(t *testing.T) []published {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []published
	for _, e := range r.entries {
		if e.Source != eventbus.SourceProcess || e.EventBusName != eventbus.DefaultBusName {
			t.Errorf("event from %q to bus %q, want %q to %q", e.Source, e.EventBusName, eventbus.SourceProcess, eventbus.DefaultBusName)
		}
		var d eventbus.ImageDetail
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatalf("detail of %s: %v", e.DetailType, err)
		}
		out = append(out, published{DetailType: e.DetailType, Detail: d, Raw: e.Detail})
	}
	return out
}

func newTestHandler(t *testing.T, opts ...func(*Config)) (*Handler, *fakeS3, *recorder) {
	t.Helper()
	cfg := DefaultConfig(processedBucket)
	cfg.Concurrency = 4
	for _, o := range opts {
		o(&cfg)
	}
	fs, rec := newFakeS3(), &recorder{}
	h, err := newHandler(cfg, fs, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h, fs, rec
}

// message is the SQS message of an EventBridge rule target: the body is
// the whole event.
func message(t *testing.T, id string, attempt int, d eventbus.ObjectCreated, replay string) events.SQSMessage {
	t.Helper()
	detail, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(eventbus.Event{
		Version: "0", ID: "17793124-05d4-b198-2fde-7ededc63b103", DetailType: eventbus.DetailTypeObjectCreated,
		Source: eventbus.SourceS3, Account: "123456789012", Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Region: "us-east-1", Resources: []string{"arn:aws:s3:::" + d.Bucket.Name}, Detail: detail, ReplayName: replay,
	})
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{
		MessageId: id, ReceiptHandle: "rh-" + id, Body: string(body), EventSource: "aws:sqs",
		EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:imagepipe-process", AWSRegion: "us-east-1",
		Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(attempt), "SentTimestamp": "1740830400000"},
	}
}

func handle(t *testing.T, ctx context.Context, h *Handler, msgs ...events.SQSMessage) []string {
	t.Helper()
	resp, err := h.Handle(ctx, events.SQSEvent{Records: msgs})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

// testImage has distinct colours, so that a gray output differs from it.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 200, A: 255})
		}
	}
	return img
}

func testJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const imageID = "0123456789abcdef0123456789abcdef"

func TestDuplicateDeliveryIsANoOp(t *testing.T) {
	h, fs, rec := newTestHandler(t)
	ctx := context.Background()
	key := "uploads/" + imageID + ".jpg"
	d := fs.upload(key, testJPEG(t, 64, 48))

	if failed := handle(t, ctx, h, message(t, "m1", 1, d, "")); failed != nil {
		t.Fatalf("first delivery failed: %v", failed)
	}
	evs := rec.events(t)
	if len(evs) != 1 || evs[0].DetailType != eventbus.DetailTypeProcessed {
		t.Fatalf("after the first delivery: %+v, want one %q", evs, eventbus.DetailTypeProcessed)
	}
	if got := evs[0].Detail; got.ImageID != imageID || got.Source.ETag != d.Object.ETag || got.Source.Format != "jpeg" || got.Attempt != 1 {
		t.Errorf("detail %+v", got)
	}
	for _, o := range evs[0].Detail.Outputs {
		if o.Path != imaging.PathDCT {
			t.Errorf("output %s made on path %q, want %q (a JPEG's coefficients)", o.Name, o.Path, imaging.PathDCT)
		}
	}
	gray, ok := fs.object(processedBucket + "/processed/" + imageID + "/gray.jpg")
	if !ok {
		t.Fatalf("no gray output; puts %v", fs.puts)
	}
	if gray.meta[metaSourceETag] != d.Object.ETag {
		t.Errorf("gray output metadata %v, want source-etag %s", gray.meta, d.Object.ETag)
	}
	img, err := jpeg.Decode(bytes.NewReader(gray.data))
	if err != nil {
		t.Fatal(err)
	}
	if _, isGray := img.(*image.Gray); !isGray || img.Bounds() != image.Rect(0, 0, 64, 48) {
		t.Errorf("gray output is %T %v, want a 64x48 *image.Gray", img, img.Bounds())
	}
	puts := fs.putCount()

	// The same S3 event again, as a second SQS message (at least once).
	if failed := handle(t, ctx, h, message(t, "m2", 1, d, "")); failed != nil {
		t.Fatalf("duplicate failed: %v", failed)
	}
	if n := len(rec.events(t)); n != 1 {
		t.Errorf("%d events after the duplicate, want still 1", n)
	}
	// It takes the lease, finds the manifest under it and gives the lease
	// back: no output, manifest or status written.
	for _, k := range fs.puts[puts:] {
		if k != processedBucket+"/"+leaseKey(imageID) {
			t.Errorf("the duplicate wrote %s (all its PutObject calls: %v)", k, fs.puts[puts:])
		}
	}
	if _, held := fs.object(processedBucket + "/" + leaseKey(imageID)); held {
		t.Error("the duplicate did not give the lease back")
	}

	// A new upload to the same key has a new ETag: that is new work.
	d2 := fs.upload(key, testJPEG(t, 32, 32))
	if d2.Object.ETag == d.Object.ETag {
		t.Fatal("test images have the same ETag")
	}
	if failed := handle(t, ctx, h, message(t, "m3", 1, d2, "")); failed != nil {
		t.Fatalf("re-upload failed: %v", failed)
	}
	evs = rec.events(t)
	if len(evs) != 2 || evs[1].DetailType != eventbus.DetailTypeProcessed || evs[1].Detail.Source.ETag != d2.Object.ETag {
		t.Errorf("after a re-upload: %+v, want a second %q for ETag %s", evs, eventbus.DetailTypeProcessed, d2.Object.ETag)
	}
}

func TestErrorClasses(t *testing.T) {
	deadline := func(context.Context) (context.Context, context.CancelFunc) {
		return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	}
	tests := []struct {
		name string
		cfg  func(*Config)
		// data is the upload; nil means the object is not there.
		data   func(t *testing.T) []byte
		getErr error // the answer of GetObject on the source
		ctx    func(context.Context) (context.Context, context.CancelFunc)
		// retried: in batchItemFailures with no event; otherwise
		// acknowledged with a failure event of code.
		retried bool
		code    string
	}{
		{name: "not an image", data: func(*testing.T) []byte { return []byte("this is a text file, not a JPEG\n") }, code: imaging.ErrNotAnImage.Code},
		{name: "empty object", data: func(*testing.T) []byte { return []byte{} }, code: imaging.ErrNotAnImage.Code},
		{name: "too many pixels", cfg: func(c *Config) { c.Imaging.MaxPixels = 1000 }, data: func(t *testing.T) []byte { return testPNG(t, 40, 30) }, code: imaging.ErrTooManyPixels.Code},
		{name: "source gone (NoSuchKey)", code: CodeSourceMissing},
		{name: "source gone (404 NotFound)", data: func(t *testing.T) []byte { return testPNG(t, 8, 8) },
			getErr: httpError("GetObject", 404, "NotFound", "Not Found"), code: CodeSourceMissing},
		{name: "S3 500", data: func(t *testing.T) []byte { return testPNG(t, 8, 8) },
			getErr: httpError("GetObject", 500, "InternalError", "We encountered an internal error. Please try again."), retried: true},
		{name: "S3 throttling", data: func(t *testing.T) []byte { return testPNG(t, 8, 8) },
			getErr: httpError("GetObject", 503, "SlowDown", "Please reduce your request rate."), retried: true},
		{name: "S3 call timed out", data: func(t *testing.T) []byte { return testPNG(t, 8, 8) },
			getErr: opError("GetObject", &smithy.CanceledError{Err: context.DeadlineExceeded}), retried: true},
		{name: "function deadline passed", data: func(t *testing.T) []byte { return testPNG(t, 8, 8) }, ctx: deadline, retried: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*Config)
			if tt.cfg != nil {
				opts = append(opts, tt.cfg)
			}
			h, fs, rec := newTestHandler(t, opts...)
			key := "uploads/" + imageID + ".png"
			d := objectCreated(key, 123, "b1946ac92492d2347c6235b4d2611184")
			if tt.data != nil {
				d = fs.upload(key, tt.data(t))
			}
			if tt.getErr != nil {
				fs.getErr = func(bucket, k string) error {
					if bucket == uploadsBucket && k == key {
						return tt.getErr
					}
					return nil
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.ctx != nil {
				ctx, cancel = tt.ctx(ctx)
			}
			defer cancel()

			failed := handle(t, ctx, h, message(t, "msg-1", 1, d, ""))
			evs := rec.events(t)
			for _, k := range fs.puts {
				if strings.HasPrefix(k, processedBucket+"/") && k != processedBucket+"/"+status.Key(imageID) && k != processedBucket+"/"+leaseKey(imageID) {
					t.Errorf("wrote %s for a failed image", k)
				}
			}
			if _, held := fs.object(processedBucket + "/" + leaseKey(imageID)); held {
				t.Error("the lease was not released")
			}
			if tt.retried {
				if !slices.Equal(failed, []string{"msg-1"}) {
					t.Errorf("batchItemFailures %v, want [msg-1]", failed)
				}
				if len(evs) != 0 {
					t.Errorf("a transient failure emitted %+v", evs)
				}
				return
			}
			if failed != nil {
				t.Errorf("batchItemFailures %v, want the permanent failure acknowledged", failed)
			}
			if len(evs) != 1 || evs[0].DetailType != eventbus.DetailTypeFailed || evs[0].Detail.Error == nil {
				t.Fatalf("events %+v, want one %q with an error", evs, eventbus.DetailTypeFailed)
			}
			e := evs[0].Detail.Error
			if e.Code != tt.code || e.Retryable || e.Message == "" {
				t.Errorf("error %+v, want code %q, retryable false and a reason", e, tt.code)
			}
			if strings.Contains(e.Message, e.Code) {
				t.Errorf("message %q repeats the code %q", e.Message, e.Code)
			}
			if got := evs[0].Detail; got.ImageID != imageID || got.Source.Key != key || got.Attempt != 1 {
				t.Errorf("detail %+v", got)
			}
		})
	}
}

func TestPartialBatchFailure(t *testing.T) {
	h, fs, rec := newTestHandler(t)
	ids := []string{"11111111111111111111111111111111", "22222222222222222222222222222222", "33333333333333333333333333333333"}
	good := fs.upload("uploads/"+ids[0]+".png", testPNG(t, 20, 10))
	transient := fs.upload("uploads/"+ids[1]+".png", testPNG(t, 20, 10))
	permanent := fs.upload("uploads/"+ids[2]+".jpg", []byte("not an image"))
	fs.getErr = func(bucket, key string) error {
		if key == transient.Object.Key {
			return httpError("GetObject", 503, "SlowDown", "Please reduce your request rate.")
		}
		return nil
	}
	failed := handle(t, context.Background(), h,
		message(t, "good", 1, good, ""), message(t, "transient", 1, transient, ""), message(t, "permanent", 1, permanent, ""))
	if !slices.Equal(failed, []string{"transient"}) {
		t.Errorf("batchItemFailures %v, want [transient]", failed)
	}
	got := map[string]string{}
	for _, ev := range rec.events(t) {
		got[ev.Detail.ImageID] = ev.DetailType
	}
	want := map[string]string{ids[0]: eventbus.DetailTypeProcessed, ids[2]: eventbus.DetailTypeFailed}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events by image %v, want %v", got, want)
	}
}

func TestLastAttemptEmitsRetriesExhausted(t *testing.T) {
	tests := []struct {
		name    string
		attempt int
		data    []byte
		code    string // "" for no event
	}{
		{name: "attempt 2 of 3", attempt: 2},
		{name: "attempt 3 of 3", attempt: 3, code: CodeRetriesExhausted},
		{name: "attempt 4 of 3 (redrive policy changed)", attempt: 4, code: CodeRetriesExhausted},
		{name: "permanent on the last attempt", attempt: 3, data: []byte("plain text"), code: imaging.ErrNotAnImage.Code},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, fs, rec := newTestHandler(t, func(c *Config) { c.MaxReceiveCount = 3 })
			key := "uploads/" + imageID + ".png"
			d := fs.upload(key, testPNG(t, 8, 8))
			if tt.data != nil {
				d = fs.upload(key, tt.data)
			} else {
				fs.getErr = func(bucket, k string) error {
					if k == key {
						return httpError("GetObject", 500, "InternalError", "We encountered an internal error. Please try again.")
					}
					return nil
				}
			}
			failed := handle(t, context.Background(), h, message(t, "msg-1", tt.attempt, d, ""))
			transient := tt.data == nil
			if transient != (len(failed) == 1) {
				t.Errorf("batchItemFailures %v; want the message there: %v", failed, transient)
			}
			evs := rec.events(t)
			if tt.code == "" {
				if len(evs) != 0 {
					t.Errorf("events %+v before the last attempt", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].DetailType != eventbus.DetailTypeFailed || evs[0].Detail.Error == nil {
				t.Fatalf("events %+v, want one failure", evs)
			}
			got := evs[0].Detail
			if got.Error.Code != tt.code || got.Attempt != tt.attempt {
				t.Errorf("failure %+v attempt %d, want %s at attempt %d", got.Error, got.Attempt, tt.code, tt.attempt)
			}
			if tt.code == CodeRetriesExhausted {
				// Retryable: the message goes on to the dead-letter queue,
				// from where it can be redriven.
				if !got.Error.Retryable || !strings.Contains(got.Error.Message, strconv.Itoa(tt.attempt)+" attempts") || !strings.Contains(got.Error.Message, "InternalError") {
					t.Errorf("error %+v, want retryable with the attempts and the cause", got.Error)
				}
			}
		})
	}
}

func TestReplayNameOnCompletionEvents(t *testing.T) {
	h, fs, rec := newTestHandler(t)
	ok := fs.upload("uploads/"+imageID+".png", testPNG(t, 16, 16))
	bad := fs.upload("uploads/fedcba9876543210fedcba9876543210.png", []byte("no image"))
	handle(t, context.Background(), h, message(t, "a", 1, ok, "nightly-2025-03-01"), message(t, "b", 1, bad, "nightly-2025-03-01"))
	evs := rec.events(t)
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	for _, ev := range evs {
		if ev.Detail.ReplayName != "nightly-2025-03-01" {
			t.Errorf("%s of %s: replay_name %q", ev.DetailType, ev.Detail.ImageID, ev.Detail.ReplayName)
		}
	}

	// Outside a replay the field is left out.
	h, fs, rec = newTestHandler(t)
	handle(t, context.Background(), h, message(t, "c", 1, fs.upload("uploads/"+imageID+".png", testPNG(t, 16, 16)), ""))
	evs = rec.events(t)
	if len(evs) != 1 || bytes.Contains(evs[0].Raw, []byte("replay_name")) {
		t.Errorf("events %+v, want one without replay_name", evs)
	}
}

func TestImageErrorMessageIsTheCause(t *testing.T) {
	cause := errors.New("no known image signature")
	tests := []struct {
		name string
		err  error
		code string
		msg  string
	}{
		{"imaging error", &imaging.Error{Code: "not_an_image", Err: cause}, "not_an_image", "no known image signature"},
		{"wrapped imaging error", fmt.Errorf("probe: %w", &imaging.Error{Code: "corrupt_image", Err: cause}), "corrupt_image", "no known image signature"},
		{"bare sentinel", imaging.ErrTooLarge, "too_large", "too large"},
		{"not an imaging error", errors.New("something else"), "", "something else"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := imageError(tt.err)
			if got.Code != tt.code || got.Message != tt.msg || got.Retryable {
				t.Errorf("imageError = %+v, want code %q message %q", got, tt.code, tt.msg)
			}
		})
	}
}

// An object put under uploads/ by other means than the API (aws s3 cp
// cat.jpg s3://…/uploads/cat.jpg) is processed under an id derived from
// its key, the same id each time.
func TestKeyNotMadeByTheAPI(t *testing.T) {
	h, fs, rec := newTestHandler(t)
	d := fs.upload("uploads/holiday/cat photo.jpg", testJPEG(t, 32, 24))
	if failed := handle(t, context.Background(), h, message(t, "a", 1, d, "")); len(failed) != 0 {
		t.Fatalf("batch item failures %v", failed)
	}
	evs := rec.events(t)
	if len(evs) != 1 || evs[0].DetailType != eventbus.DetailTypeProcessed {
		t.Fatalf("events %+v, want one %q", evs, eventbus.DetailTypeProcessed)
	}
	id := evs[0].Detail.ImageID
	if !status.ValidID(id) {
		t.Fatalf("image id %q is not an image id", id)
	}
	if _, ok := fs.object(processedBucket + "/processed/" + id + "/gray.jpg"); !ok {
		t.Errorf("no gray output under processed/%s/", id)
	}
	again, ok := ImageIDFromKey("uploads/holiday/cat photo.jpg")
	other, _ := ImageIDFromKey("uploads/holiday/dog.jpg")
	if !ok || again != id || other == id {
		t.Errorf("ids: %q then %q (ok %v); another key %q", id, again, ok, other)
	}
	if _, ok := ImageIDFromKey("elsewhere/cat.jpg"); ok {
		t.Error("a key outside uploads/ got an image id")
	}
}

// When the last attempt fails because its deadline passed, the
// retries_exhausted event still goes out.
func TestLastAttemptPastItsDeadline(t *testing.T) {
	h, fs, rec := newTestHandler(t, func(c *Config) { c.MaxReceiveCount = 3 })
	d := fs.upload("uploads/"+imageID+".png", testPNG(t, 8, 8))
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if failed := handle(t, ctx, h, message(t, "msg-1", 3, d, "")); len(failed) != 1 {
		t.Errorf("batchItemFailures %v, want the message", failed)
	}
	evs := rec.events(t)
	if len(evs) != 1 || evs[0].Detail.Error == nil || evs[0].Detail.Error.Code != CodeRetriesExhausted {
		t.Fatalf("events %+v, want one %s", evs, CodeRetriesExhausted)
	}
}

// What the image steps warn about (here a CMYK ICC profile on an RGB PNG,
// which is not applied) goes out on the completion event.
func TestImagingWarningsOnTheEvent(t *testing.T) {
	h, fs, rec := newTestHandler(t)
	data := pngWithCMYKProfile(t, testPNG(t, 16, 16))
	handle(t, context.Background(), h, message(t, "a", 1, fs.upload("uploads/"+imageID+".png", data), ""))
	evs := rec.events(t)
	if len(evs) != 1 || evs[0].DetailType != eventbus.DetailTypeProcessed {
		t.Fatalf("events %+v", evs)
	}
	if w := evs[0].Detail.Warnings; len(w) != 1 || !strings.HasPrefix(w[0], "icc_not_applied:") {
		t.Errorf("warnings %q, want one icc_not_applied", w)
	}
}

// pngWithCMYKProfile adds an iCCP chunk holding a minimal CMYK profile.
func pngWithCMYKProfile(t *testing.T, p []byte) []byte {
	prof := make([]byte, 132)
	binary.BigEndian.PutUint32(prof, 132)
	copy(prof[12:], "prtrCMYKXYZ ")
	copy(prof[36:], "acsp")
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(prof)
	zw.Close()
	body := append([]byte("press\x00\x00"), z.Bytes()...)
	var c bytes.Buffer
	binary.Write(&c, binary.BigEndian, uint32(len(body)))
	c.WriteString("iCCP")
	c.Write(body)
	binary.Write(&c, binary.BigEndian, crc32.ChecksumIEEE(append([]byte("iCCP"), body...)))
	at := 8 + 25 // after the signature and IHDR
	return append(append(append([]byte{}, p[:at]...), c.Bytes()...), p[at:]...)
}
