package process

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/imaging"
	"github.com/imagepipe/imagepipe/metrics"
)

// flakyPublisher fails the publications for which fail returns true.
type flakyPublisher struct {
	recorder
	fail func(n int) bool // n counts the calls, from 1
	n    atomic.Int32
	// after runs after each successful publication.
	after func()
}

func (p *flakyPublisher) Publish(ctx context.Context, entries ...eventbus.Entry) error {
	if p.fail != nil && p.fail(int(p.n.Add(1))) {
		return errors.New("PutEvents: InternalFailure")
	}
	if err := p.recorder.Publish(ctx, entries...); err != nil {
		return err
	}
	if p.after != nil {
		p.after()
	}
	return nil
}

func newFlakyHandler(t *testing.T, pub *flakyPublisher, opts ...func(*Config)) (*Handler, *fakeS3) {
	t.Helper()
	cfg := DefaultConfig(processedBucket)
	cfg.Concurrency = 4
	for _, o := range opts {
		o(&cfg)
	}
	fs := newFakeS3()
	h, err := newHandler(cfg, fs, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h, fs
}

func (f *fakeS3) manifest(t *testing.T, id string) manifest {
	t.Helper()
	o, ok := f.object(processedBucket + "/" + manifestKey(id))
	if !ok {
		t.Fatalf("no manifest for %s", id)
	}
	var m manifest
	if err := json.Unmarshal(o.data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCompletionIDOnEveryEvent: "Image Processed" and "Image Processing
// Failed" carry completion_id = image id + ":" + source ETag.
func TestCompletionIDOnEveryEvent(t *testing.T) {
	h, fs, rec := newTestHandler(t)
	ok := fs.upload("uploads/"+imageID+".png", testPNG(t, 16, 16))
	badID := "fedcba9876543210fedcba9876543210"
	bad := fs.upload("uploads/"+badID+".png", []byte("no image"))
	handle(t, context.Background(), h, message(t, "a", 1, ok, ""), message(t, "b", 1, bad, ""))
	evs := rec.events(t)
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	for _, ev := range evs {
		want := ev.Detail.ImageID + ":" + ev.Detail.Source.ETag
		if ev.Detail.CompletionID != want || !strings.Contains(string(ev.Raw), `"completion_id":"`+want+`"`) {
			t.Errorf("%s: completion_id %q, want %q", ev.DetailType, ev.Detail.CompletionID, want)
		}
	}
	if m := fs.manifest(t, imageID); m.CompletionID != imageID+":"+ok.Object.ETag || m.Unpublished {
		t.Errorf("manifest %+v, want the completion id and published", m)
	}
}

// TestRetryAfterTheCommitOnlyPublishes: the event of a committed image
// that did not go out (PutEvents failed after the manifest was written) is
// published by the retry, without doing the work again, once; a later
// duplicate does nothing.
func TestRetryAfterTheCommitOnlyPublishes(t *testing.T) {
	pub := &flakyPublisher{fail: func(n int) bool { return n == 1 }}
	h, fs := newFlakyHandler(t, pub)
	d := fs.upload("uploads/"+imageID+".jpg", testJPEG(t, 40, 30))
	ctx := context.Background()
	if failed := handle(t, ctx, h, message(t, "m1", 1, d, "")); !slices.Equal(failed, []string{"m1"}) {
		t.Fatalf("first attempt: failures %v, want m1 (the publication failed)", failed)
	}
	if m := fs.manifest(t, imageID); !m.Unpublished {
		t.Fatal("the manifest was marked published though its event failed")
	}
	puts := fs.putCount()
	if failed := handle(t, ctx, h, message(t, "m1", 2, d, "")); failed != nil {
		t.Fatalf("retry: failures %v", failed)
	}
	evs := pub.events(t)
	if len(evs) != 1 || evs[0].DetailType != eventbus.DetailTypeProcessed || evs[0].Detail.CompletionID != imageID+":"+d.Object.ETag {
		t.Fatalf("events after the retry: %+v, want one Image Processed", evs)
	}
	var outputsAgain []string
	for _, k := range fs.puts[puts:] {
		if !strings.HasSuffix(k, "/manifest.json") && !strings.HasSuffix(k, "/lease.json") {
			outputsAgain = append(outputsAgain, k)
		}
	}
	if len(outputsAgain) != 0 {
		t.Errorf("the retry wrote %v: the work was done again", outputsAgain)
	}
	if m := fs.manifest(t, imageID); m.Unpublished {
		t.Error("the manifest is still unpublished after the retry published")
	}
	if failed := handle(t, ctx, h, message(t, "m2", 1, d, "")); failed != nil || len(pub.events(t)) != 1 {
		t.Fatalf("a later duplicate: failures %v, %d events, want none and still 1", failed, len(pub.events(t)))
	}
}

// TestLeaseKeepsConcurrentDeliveriesApart: while another delivery holds
// the image's lease the message comes back, with no work and no event; a
// lease of an earlier receive of the same message, or an expired one, is
// taken over; the lease is released after the work.
func TestLeaseKeepsConcurrentDeliveriesApart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		owner   string
		expires time.Duration
		held    bool
	}{
		{"held by another delivery", "other-message", time.Minute, true},
		{"held by an earlier receive of this message", "m1", time.Minute, false},
		{"expired", "other-message", -time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, fs, rec := newTestHandler(t)
			d := fs.upload("uploads/"+imageID+".png", testPNG(t, 16, 16))
			raw, _ := json.Marshal(lease{Owner: tc.owner, SourceETag: d.Object.ETag, Acquired: time.Now(), Expires: time.Now().Add(tc.expires)})
			fs.store(processedBucket+"/"+leaseKey(imageID), raw, "application/json", nil)
			failed := handle(t, context.Background(), h, message(t, "m1", 2, d, ""))
			evs := rec.events(t)
			if tc.held {
				if !slices.Equal(failed, []string{"m1"}) || len(evs) != 0 {
					t.Fatalf("failures %v events %+v, want the message back and nothing done", failed, evs)
				}
				if _, ok := fs.object(processedBucket + "/processed/" + imageID + "/gray.png"); ok {
					t.Fatal("outputs written under another delivery's lease")
				}
				return
			}
			if failed != nil || len(evs) != 1 {
				t.Fatalf("failures %v events %+v, want the image done", failed, evs)
			}
			if _, ok := fs.object(processedBucket + "/" + leaseKey(imageID)); ok {
				t.Error("the lease was not released")
			}
		})
	}
}

// TestDuplicatePutsAtOnceGiveOneCompletion: the two S3 events of two PUTs
// of one presigned URL, in one batch, give one "Image Processed"; the
// delivery that lost the lease is done by its retry, as a no-op.
func TestDuplicatePutsAtOnceGiveOneCompletion(t *testing.T) {
	for range 20 {
		h, fs, rec := newTestHandler(t)
		d := fs.upload("uploads/"+imageID+".jpg", testJPEG(t, 320, 240))
		failed := handle(t, context.Background(), h, message(t, "put-1", 1, d, ""), message(t, "put-2", 1, d, ""))
		if len(failed) > 1 {
			t.Fatalf("failures %v", failed)
		}
		if len(failed) == 1 {
			if again := handle(t, context.Background(), h, message(t, failed[0], 2, d, "")); again != nil {
				t.Fatalf("retry of %s failed: %v", failed[0], again)
			}
		}
		if evs := rec.events(t); len(evs) != 1 || evs[0].DetailType != eventbus.DetailTypeProcessed {
			t.Fatalf("events %+v, want exactly one Image Processed", evs)
		}
	}
}

// TestSupersededEventIsAcknowledged: the event of a version that has been
// overwritten since is acknowledged without work or event; the newer
// version's event does the work.
func TestSupersededEventIsAcknowledged(t *testing.T) {
	h, fs, rec := newTestHandler(t)
	key := "uploads/" + imageID + ".png"
	old := fs.upload(key, testPNG(t, 16, 16))
	cur := fs.upload(key, testPNG(t, 24, 24))
	if failed := handle(t, context.Background(), h, message(t, "old", 1, old, "")); failed != nil || len(rec.events(t)) != 0 {
		t.Fatalf("old version: failures %v events %+v, want acknowledged, nothing done", failed, rec.events(t))
	}
	if failed := handle(t, context.Background(), h, message(t, "cur", 1, cur, "")); failed != nil {
		t.Fatalf("current version: %v", failed)
	}
	if evs := rec.events(t); len(evs) != 1 || evs[0].Detail.Source.ETag != cur.Object.ETag {
		t.Fatalf("events %+v, want one for the current version", evs)
	}
}

// TestNoImageStartedTooCloseToTheDeadline: once less than StartMargin is
// left, the remaining messages are returned unstarted (they come back),
// and the work under way gets a deadline ahead of the invocation's.
func TestNoImageStartedTooCloseToTheDeadline(t *testing.T) {
	var offset atomic.Int64
	// After the first image, the clock jumps to 5 s before the deadline.
	pub := &flakyPublisher{after: func() { offset.Store(int64(55 * time.Second)) }}
	h, fs := newFlakyHandler(t, pub, func(c *Config) { c.Concurrency = 1; c.StartMargin = 10 * time.Second; c.FinishMargin = 2 * time.Second })
	h.now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	var mu sync.Mutex
	var workDeadlines []time.Time
	h.s3 = deadlineSpy{fs, func(d time.Time, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		if ok {
			workDeadlines = append(workDeadlines, d)
		}
	}}
	ids := []string{"11111111111111111111111111111111", "22222222222222222222222222222222", "33333333333333333333333333333333"}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(60*time.Second))
	defer cancel()
	invocation, _ := ctx.Deadline()
	failed := handle(t, ctx, h,
		message(t, "first", 1, fs.upload("uploads/"+ids[0]+".png", testPNG(t, 8, 8)), ""),
		message(t, "second", 1, fs.upload("uploads/"+ids[1]+".png", testPNG(t, 8, 8)), ""),
		message(t, "third", 1, fs.upload("uploads/"+ids[2]+".png", testPNG(t, 8, 8)), ""))
	if !slices.Equal(failed, []string{"second", "third"}) {
		t.Fatalf("failures %v, want second and third returned unstarted", failed)
	}
	if evs := pub.events(t); len(evs) != 1 || evs[0].Detail.ImageID != ids[0] {
		t.Fatalf("events %+v, want only the first image's", evs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(workDeadlines) == 0 {
		t.Fatal("the work's S3 calls had no deadline")
	}
	for _, d := range workDeadlines {
		if !d.Before(invocation.Add(-time.Second)) {
			t.Fatalf("work deadline %s is not ahead of the invocation's %s", d, invocation)
		}
	}
}

// deadlineSpy reports the deadline of every GetObject's context.
type deadlineSpy struct {
	*fakeS3
	saw func(time.Time, bool)
}

func (s deadlineSpy) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	s.saw(ctx.Deadline())
	return s.fakeS3.GetObject(ctx, in, opts...)
}

// TestMemoryBudget: an image that alone needs more than the budget is
// refused with what to change; the budget follows the memory limit.
func TestMemoryBudget(t *testing.T) {
	h, fs, rec := newTestHandler(t, func(c *Config) { c.MemoryBudget = 4 << 20 })
	d := fs.upload("uploads/"+imageID+".png", testPNG(t, 1000, 800)) // 800,000 px x 6 B
	if failed := handle(t, context.Background(), h, message(t, "m", 1, d, "")); failed != nil {
		t.Fatalf("failures %v, want a permanent failure", failed)
	}
	evs := rec.events(t)
	if len(evs) != 1 || evs[0].Detail.Error == nil || evs[0].Detail.Error.Code != imaging.ErrTooManyPixels.Code || !strings.Contains(evs[0].Detail.Error.Message, "memory") {
		t.Fatalf("events %+v, want too_many_pixels naming the memory", evs)
	}

	// 1536 MB function: GOMEMLIMIT 1382 MiB; two workers with 25 MiB sources.
	limit := int64(1536) << 20 * 9 / 10
	budget := DeriveMemoryBudget(limit, 2, 25<<20)
	if want := limit - 64<<20 - 50<<20; budget != want {
		t.Fatalf("budget %d, want %d", budget, want)
	}
	worst := memoryNeed(imaging.Info{Format: "png", Width: 10000, Height: 5000})
	if 2*worst > budget || 5*worst <= budget {
		t.Fatalf("a 50 MP PNG needs %d MiB of %d: want the two workers' at once to fit, five not", worst>>20, budget>>20)
	}
	if jpeg := memoryNeed(imaging.Info{Format: "jpeg", Width: 10000, Height: 5000}); 4*jpeg > budget {
		t.Errorf("four 50 MP JPEGs (%d MiB each) do not fit %d MiB", jpeg>>20, budget>>20)
	}

	old := debug.SetMemoryLimit(limit)
	defer debug.SetMemoryLimit(old)
	t.Setenv(EnvProcessedBucket, processedBucket)
	t.Setenv(EnvEventBusName, "imagepipe")
	t.Setenv(metrics.EnvStack, "test")
	cfg, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if want := DeriveMemoryBudget(limit, cfg.Concurrency, cfg.Imaging.MaxBytes) >> 20 << 20; cfg.MemoryBudget != want {
		t.Errorf("ConfigFromEnv budget %d, want %d from the memory limit", cfg.MemoryBudget, want)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv(EnvMemoryBudgetMB, "300")
	if cfg, err := ConfigFromEnv(); err != nil || cfg.MemoryBudget != 300<<20 {
		t.Errorf("MEMORY_BUDGET_MB=300: %v %d", err, cfg.MemoryBudget)
	}
	t.Setenv(envPixelBudget, "100000000")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), EnvMemoryBudgetMB) {
		t.Errorf("PIXEL_BUDGET set: %v, want a refusal naming %s", err, EnvMemoryBudgetMB)
	}
}

// TestUnpublishedButAppliedIsNotPublishedAgain: a crash between the event
// going out and the manifest being marked published leaves the mark
// missing; if notify has applied the completion meanwhile, the retry only
// marks the manifest (no second copy of the event).
func TestUnpublishedButAppliedIsNotPublishedAgain(t *testing.T) {
	h, fs, rec, d, m := processedButUnmarked(t)
	ctx := context.Background()
	fs.setStatus(imageID, status.Record{ImageID: imageID, Status: status.Done, CompletionID: m.CompletionID})

	if failed := handle(t, ctx, h, message(t, "m1", 2, d, "")); failed != nil {
		t.Fatal(failed)
	}
	if n := len(rec.events(t)); n != 1 {
		t.Fatalf("%d events, want still the first one", n)
	}
	if fs.manifest(t, imageID).Unpublished {
		t.Fatal("the manifest was not marked published")
	}
}

// TestRetryRightAfterACrashWaitsForTheFirstCopy: a retry that finds a
// manifest written moments ago and still unpublished gives notify a moment
// to show the completion (its event was out, the crash only lost the mark)
// rather than publishing a second copy at once.
func TestRetryRightAfterACrashWaitsForTheFirstCopy(t *testing.T) {
	h, fs, rec, d, m := processedButUnmarked(t)
	ctx := context.Background()
	// notify applies the first copy a little later.
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		time.Sleep(300 * time.Millisecond) // the delay being tested: notify behind the retry
		fs.setStatus(imageID, status.Record{ImageID: imageID, Status: status.Done, CompletionID: m.CompletionID})
	}()
	if failed := handle(t, ctx, h, message(t, "m1", 2, d, "")); failed != nil {
		t.Fatal(failed)
	}
	<-applied
	if n := len(rec.events(t)); n != 1 {
		t.Fatalf("%d events, want still the first one", n)
	}
	if fs.manifest(t, imageID).Unpublished {
		t.Fatal("the manifest was not marked published")
	}
}

// processedButUnmarked processes an image, then leaves its manifest as a
// crash between the event going out and the mark being written would: the
// event out (in rec), the manifest still unpublished.
func processedButUnmarked(t *testing.T) (*Handler, *fakeS3, *recorder, eventbus.ObjectCreated, manifest) {
	t.Helper()
	h, fs, rec := newTestHandler(t)
	d := fs.upload("uploads/"+imageID+".png", testPNG(t, 16, 16))
	if failed := handle(t, context.Background(), h, message(t, "m1", 1, d, "")); failed != nil {
		t.Fatal(failed)
	}
	m := fs.manifest(t, imageID)
	m.Unpublished = true
	raw, _ := json.Marshal(m)
	fs.mu.Lock()
	fs.store(processedBucket+"/"+manifestKey(imageID), raw, "application/json", nil)
	fs.mu.Unlock()
	return h, fs, rec, d, m
}

// setStatus writes the image's status record as notify would.
func (f *fakeS3) setStatus(id string, st status.Record) {
	raw, _ := json.Marshal(st)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.store(processedBucket+"/"+status.Key(id), raw, "application/json", nil)
}
