package notify

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/metrics"
)

// memS3 keeps objects in memory, with ETags and S3's conditional writes;
// err, when set, answers every call.
type memS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	err     error
}

var _ status.S3API = (*memS3)(nil)

func etagOf(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	b, ok := m.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: &s3types.NoSuchKey{}}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b)), ETag: aws.String(etagOf(b))}, nil
}

func (m *memS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	key := aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
	old, exists := m.objects[key]
	failed := &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject",
		Err: &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}}
	if in.IfNoneMatch != nil && exists {
		return nil, failed
	}
	if in.IfMatch != nil && (!exists || aws.ToString(in.IfMatch) != etagOf(old)) {
		return nil, failed
	}
	m.objects[key] = b
	return &s3.PutObjectOutput{ETag: aws.String(etagOf(b))}, nil
}

const imageID = "0123456789abcdef0123456789abcdef"

func completion(t *testing.T, detailType, etag string, d eventbus.ImageDetail) eventbus.Event {
	t.Helper()
	d.ImageID = imageID
	d.Source = eventbus.ImageSource{Bucket: "uploads", Key: "uploads/" + imageID + ".png", ETag: etag, Size: 1234, Format: "png"}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return eventbus.Event{Version: "0", ID: "ev-" + etag, DetailType: detailType, Source: eventbus.SourceProcess,
		Account: "123456789012", Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Region: "us-east-1", Detail: raw}
}

var (
	processedDetail = eventbus.ImageDetail{DurationMS: 41, Attempt: 1, Outputs: []eventbus.Output{
		{Name: "gray", Bucket: "processed", Key: "processed/" + imageID + "/gray.png", ContentType: "image/png", Width: 40, Height: 30, Bytes: 999},
	}}
	failedDetail = eventbus.ImageDetail{DurationMS: 3, Attempt: 1, Error: &eventbus.ImageError{Code: "source_missing", Message: "gone"}}
)

// Each step is one event on top of the record the earlier steps left.
func TestStatusFollowsCompletions(t *testing.T) {
	steps := []struct {
		name   string
		ev     func(t *testing.T) eventbus.Event
		status string // the record's status after the step; "" for no record
		etag   string
	}{
		{"not a completion event", func(t *testing.T) eventbus.Event {
			ev := completion(t, eventbus.DetailTypeProcessed, "e1", processedDetail)
			ev.DetailType = eventbus.DetailTypeObjectCreated
			return ev
		}, "", ""},
		{"invalid image id", func(t *testing.T) eventbus.Event {
			ev := completion(t, eventbus.DetailTypeProcessed, "e1", processedDetail)
			ev.Detail = json.RawMessage(`{"image_id":"../x"}`)
			return ev
		}, "", ""},
		{"processed without a pending record", func(t *testing.T) eventbus.Event {
			return completion(t, eventbus.DetailTypeProcessed, "e1", processedDetail)
		}, status.Done, "e1"},
		{"late failure of the same upload keeps the result", func(t *testing.T) eventbus.Event {
			return completion(t, eventbus.DetailTypeFailed, "e1", failedDetail)
		}, status.Done, "e1"},
		{"failure of a new upload replaces it", func(t *testing.T) eventbus.Event {
			return completion(t, eventbus.DetailTypeFailed, "e2", failedDetail)
		}, status.Failed, "e2"},
	}
	store := &memS3{objects: map[string][]byte{}}
	h, err := newHandler(Config{ProcessedBucket: "processed"}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	statuses := status.Store{Client: store, Bucket: "processed"}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := h.Handle(context.Background(), st.ev(t)); err != nil {
				t.Fatal(err)
			}
			rec, err := statuses.Get(context.Background(), imageID)
			if st.status == "" {
				if !errors.Is(err, status.ErrNotFound) {
					t.Fatalf("record %+v, %v; want none", rec, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status != st.status || rec.SourceETag != st.etag {
				t.Errorf("record %s for ETag %s, want %s for %s", rec.Status, rec.SourceETag, st.status, st.etag)
			}
			if (rec.Status == status.Done) != (len(rec.Outputs) == 1 && rec.Error == nil) {
				t.Errorf("%s record with outputs %+v and error %+v", rec.Status, rec.Outputs, rec.Error)
			}
		})
	}
}

func TestStatusErrorIsReturnedForRetry(t *testing.T) {
	store := &memS3{objects: map[string][]byte{}, err: errors.New("connection reset")}
	h, err := newHandler(Config{ProcessedBucket: "processed"}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(context.Background(), completion(t, eventbus.DetailTypeProcessed, "e1", processedDetail)); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Handle = %v, want the S3 error", err)
	}
}

func TestLogLineHasEmbeddedMetrics(t *testing.T) {
	var buf bytes.Buffer
	store := &memS3{objects: map[string][]byte{}}
	h, err := newHandler(Config{ProcessedBucket: "processed", Stack: "prod"}, store, slog.New(slog.NewJSONHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// The completion event's time is 12:00:00; the status is written 2.5 s later.
	h.now = func() time.Time { return time.Date(2025, 3, 1, 12, 0, 2, 500e6, time.UTC) }
	ev := completion(t, eventbus.DetailTypeFailed, "e1", failedDetail)
	ev.ReplayName = "nightly"
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	var line struct {
		Outcome   string `json:"outcome"`
		ImageID   string `json:"image_id"`
		ErrorCode string `json:"error_code"`
		Replay    string `json:"replay_name"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log %q is not one JSON line: %v", buf.String(), err)
	}
	if line.Outcome != status.Failed || line.ImageID != imageID || line.ErrorCode != "source_missing" || line.Replay != "nightly" {
		t.Errorf("log line %s", buf.String())
	}
	got := extracted(t, buf.Bytes())
	want := map[string]float64{
		"StatusUpdates Count Outcome=failed,Stack=prod":   1,
		"StatusDelay Milliseconds Stack=prod":             2500,
		"PeakMemory Megabytes Function=notify,Stack=prod": -1, // any positive value
	}
	if len(got) != len(want) {
		t.Errorf("metrics %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || (v >= 0 && g != v) || g <= 0 {
			t.Errorf("metric %s = %v (present %v), want %v", k, g, ok, v)
		}
	}

	// A late failure of an upload already done writes no status: the line
	// says so and counts no update.
	buf.Reset()
	ok := completion(t, eventbus.DetailTypeProcessed, "e2", processedDetail)
	if err := h.Handle(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := h.Handle(context.Background(), completion(t, eventbus.DetailTypeFailed, "e2", failedDetail)); err != nil {
		t.Fatal(err)
	}
	got = extracted(t, buf.Bytes())
	if _, counted := got["StatusUpdates Count Outcome=failed,Stack=prod"]; counted || !strings.Contains(buf.String(), "status kept") {
		t.Errorf("late failure logged %s", buf.String())
	}
}

// extracted reads the embedded metrics of log lines as CloudWatch would:
// "Name Unit Dim=v,..." -> value.
func extracted(t *testing.T, lines []byte) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range bytes.Split(bytes.TrimSpace(lines), []byte("\n")) {
		ds, err := metrics.Extract(line)
		if err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
		for _, d := range ds {
			var dims []string
			for k, v := range d.Dimensions {
				dims = append(dims, k+"="+v)
			}
			sort.Strings(dims)
			out[d.Name+" "+string(d.Unit)+" "+strings.Join(dims, ",")] = d.Values[0]
		}
	}
	return out
}

// TestCompletionAppliedOnce: a completion delivered again (a duplicate, a
// replay of the completions archive), or delivered twice at once, changes
// the record once and logs one metric line; a completion of the same
// version with another outcome still applies (a retry after the dead-letter
// queue makes a failed image done).
func TestCompletionAppliedOnce(t *testing.T) {
	var buf bytes.Buffer // slog's handler serializes the writes
	store := &memS3{objects: map[string][]byte{}}
	h, err := newHandler(Config{ProcessedBucket: "processed"}, store, slog.New(slog.NewJSONHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	statuses := status.Store{Client: store, Bucket: "processed"}
	exhausted := eventbus.ImageDetail{Attempt: 5, Error: &eventbus.ImageError{Code: "retries_exhausted", Message: "gave up", Retryable: true}}
	failed := completion(t, eventbus.DetailTypeFailed, "e1", exhausted)
	done := completion(t, eventbus.DetailTypeProcessed, "e1", processedDetail)
	replayed := done
	replayed.ReplayName = "replay-1"
	replayed.ID = "another-event-id"

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := h.Handle(ctx, failed); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, ev := range []eventbus.Event{done, done, replayed} {
		if err := h.Handle(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := statuses.Get(ctx, imageID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != status.Done || rec.CompletionID != imageID+":e1" {
		t.Fatalf("record %s %s, want done for %s:e1", rec.Status, rec.CompletionID, imageID)
	}
	var got []string
	for _, tr := range rec.History {
		got = append(got, tr.Status+"/"+tr.ErrorCode)
	}
	if strings.Join(got, ",") != "failed/retries_exhausted,done/" {
		t.Fatalf("history %v, want one failed/retries_exhausted then one done", got)
	}
	if n := strings.Count(buf.String(), `"StatusUpdates":1`); n != 2 {
		t.Fatalf("%d status updates counted, want 2 (one per transition):\n%s", n, buf.String())
	}
}
