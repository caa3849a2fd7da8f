package local_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/bus"
	"github.com/imagepipe/imagepipe/local/queue"
)

// TestReplayRecreatesOutputs is the end-to-end replay: three uploads are
// processed, their outputs deleted, the uploads archive's window replayed
// through the edge's StartReplay; the outputs come back. Test rules with
// queue targets on both buses show what was delivered: the replayed upload
// events carry replay-name, the completion events the worker put during the
// replay are new events (PutEvents cannot set replay-name), and a replay of
// the completions archive hands the archived completions to a rule, marked
// with replay-name, without archiving them again.
func TestReplayRecreatesOutputs(t *testing.T) {
	ctx := context.Background()
	st, err := local.Start(ctx, local.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())

	uploadsPattern, err := eventbus.RulePattern(eventbus.RuleUploadsToQueue, map[string]string{"uploads_bucket": local.UploadsBucket})
	if err != nil {
		t.Fatal(err)
	}
	seenUploads := st.NewQueue("e2e-uploads", queue.Options{})
	seenCompletions := st.NewQueue("e2e-completions", queue.Options{})
	for _, r := range []*bus.Rule{
		{Name: "e2e-uploads", Bus: "default", Pattern: uploadsPattern, Target: seenUploads},
		{Name: "e2e-completions", Bus: local.CustomBus, Pattern: `{"source":["` + eventbus.SourceProcess + `"]}`, Target: seenCompletions},
	} {
		if err := st.Router().AddRule(r); err != nil {
			t.Fatal(err)
		}
	}

	s3c := st.S3Client()
	statuses := status.Store{Client: s3c, Bucket: local.ProcessedBucket}
	windowStart := time.Now().Add(-2 * time.Second)
	ids := make([]string, 3)
	for i := range ids {
		ids[i] = newID()
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(local.UploadsBucket), Key: aws.String("uploads/" + ids[i] + ".png"),
			Body: bytes.NewReader(colorPNG(t, 40+i, 30)), ContentType: aws.String("image/png"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	var outputs []string
	for _, id := range ids {
		rec := waitFor(t, "image "+id+" done", func() (*status.Record, bool) {
			rec, err := statuses.Get(ctx, id)
			return rec, err == nil && rec.Status == status.Done
		})
		if len(rec.Outputs) == 0 {
			t.Fatalf("image %s has no outputs", id)
		}
		for _, o := range rec.Outputs {
			outputs = append(outputs, o.Key)
		}
	}
	original := drainEvents(t, seenCompletions, 3)
	drainEvents(t, seenUploads, 3)
	windowEnd := time.Now().Add(time.Second)

	for _, key := range outputs {
		if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(local.ProcessedBucket), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
		if exists(t, s3c, key) {
			t.Fatalf("%s still there after DeleteObject", key)
		}
	}
	eventsBefore, _, err := st.Router().ArchiveStats(ctx, local.CompletionsArchive)
	if err != nil {
		t.Fatal(err)
	}

	eb := eventbridge.NewFromConfig(st.AWSConfig())
	arn := func(resource string) string {
		return "arn:aws:events:" + local.Region + ":" + local.Account + ":" + resource
	}
	if _, err := eb.StartReplay(ctx, &eventbridge.StartReplayInput{
		ReplayName:     aws.String("e2e-uploads"),
		EventSourceArn: aws.String(arn("archive/" + local.UploadsArchive)),
		EventStartTime: aws.Time(windowStart), EventEndTime: aws.Time(windowEnd),
		Destination: &ebtypes.ReplayDestination{Arn: aws.String(arn("event-bus/default")),
			FilterArns: []string{arn("rule/" + local.UploadsRule), arn("rule/e2e-uploads")}},
	}); err != nil {
		t.Fatal(err)
	}
	d := waitReplay(t, eb, "e2e-uploads")
	if d.State != ebtypes.ReplayStateCompleted || d.EventLastReplayedTime == nil {
		t.Fatalf("replay ended %s (%s), last replayed %v", d.State, aws.ToString(d.StateReason), d.EventLastReplayedTime)
	}

	for _, key := range outputs {
		waitFor(t, key+" back", func() (struct{}, bool) { return struct{}{}, exists(t, s3c, key) })
	}
	checkGray(t, s3c, outputs[0])

	replayedUploads := drainEvents(t, seenUploads, 3)
	for _, ev := range replayedUploads {
		if ev.ReplayName != "e2e-uploads" {
			t.Errorf("replayed upload event %s has replay-name %q", ev.ID, ev.ReplayName)
		}
	}
	fresh := drainEvents(t, seenCompletions, 3)
	if got, want := imageIDs(t, fresh), sortedCopy(ids); !equal(got, want) {
		t.Errorf("completions during the replay are for %v, want %v", got, want)
	}
	for _, ev := range fresh {
		if ev.DetailType != eventbus.DetailTypeProcessed || ev.ReplayName != "" {
			t.Errorf("completion %s: %s, replay-name %q; want a new %q event", ev.ID, ev.DetailType, ev.ReplayName, eventbus.DetailTypeProcessed)
		}
	}

	// Replay the completions of the first run to the test rule only.
	eventsAfterFirst, _, err := st.Router().ArchiveStats(ctx, local.CompletionsArchive)
	if err != nil {
		t.Fatal(err)
	}
	if eventsAfterFirst != eventsBefore+3 {
		t.Errorf("events archive grew from %d to %d during the uploads replay, want +3 new completions", eventsBefore, eventsAfterFirst)
	}
	if _, err := eb.StartReplay(ctx, &eventbridge.StartReplayInput{
		ReplayName:     aws.String("e2e-completions"),
		EventSourceArn: aws.String(arn("archive/" + local.CompletionsArchive)),
		EventStartTime: aws.Time(windowStart), EventEndTime: aws.Time(windowEnd),
		Destination: &ebtypes.ReplayDestination{Arn: aws.String(arn("event-bus/" + local.CustomBus)),
			FilterArns: []string{arn("rule/" + local.CustomBus + "/e2e-completions")}},
	}); err != nil {
		t.Fatal(err)
	}
	if d := waitReplay(t, eb, "e2e-completions"); d.State != ebtypes.ReplayStateCompleted {
		t.Fatalf("completions replay ended %s (%s)", d.State, aws.ToString(d.StateReason))
	}
	// The window holds the first run's completions and those of the
	// uploads replay (event times have a resolution of a second).
	archived := append(append([]eventbus.Event(nil), original...), fresh...)
	replayed := drainEvents(t, seenCompletions, len(archived))
	archivedIDs := map[string]bool{}
	for _, ev := range archived {
		archivedIDs[ev.ID] = true
	}
	for _, ev := range replayed {
		if ev.ReplayName != "e2e-completions" || !archivedIDs[ev.ID] {
			t.Errorf("replayed completion %s: replay-name %q, an archived event: %v", ev.ID, ev.ReplayName, archivedIDs[ev.ID])
		}
		delete(archivedIDs, ev.ID)
	}
	if len(archivedIDs) > 0 {
		t.Errorf("%d archived completions were not replayed", len(archivedIDs))
	}
	if n, _, err := st.Router().ArchiveStats(ctx, local.CompletionsArchive); err != nil || n != eventsAfterFirst {
		t.Errorf("events archive holds %d events after replaying it (%v), want %d: replayed events are not archived", n, err, eventsAfterFirst)
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func colorPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: uint8(x * 6), G: uint8(y * 8), B: 200, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// waitFor polls check until it reports true, for at most 60 s.
func waitFor[T any](t *testing.T, what string, check func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, ok := check()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitReplay(t *testing.T, eb *eventbridge.Client, name string) *eventbridge.DescribeReplayOutput {
	t.Helper()
	return waitFor(t, "replay "+name, func() (*eventbridge.DescribeReplayOutput, bool) {
		d, err := eb.DescribeReplay(context.Background(), &eventbridge.DescribeReplayInput{ReplayName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		switch d.State {
		case ebtypes.ReplayStateCompleted, ebtypes.ReplayStateFailed, ebtypes.ReplayStateCancelled:
			return d, true
		}
		return d, false
	})
}

func exists(t *testing.T, c *s3.Client, key string) bool {
	t.Helper()
	_, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(local.ProcessedBucket), Key: aws.String(key)})
	var nf *s3types.NotFound
	switch {
	case err == nil:
		return true
	case errors.As(err, &nf):
		return false
	default:
		t.Fatalf("head %s: %v", key, err)
		return false
	}
}

// checkGray decodes an output and checks that its pixels are gray.
func checkGray(t *testing.T, c *s3.Client, key string) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(local.ProcessedBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	img, _, err := image.Decode(out.Body)
	if err != nil {
		t.Fatalf("decode %s: %v", key, err)
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r != g || g != bl {
				t.Fatalf("%s: pixel (%d,%d) is not gray: %d %d %d", key, x, y, r, g, bl)
			}
		}
	}
	if b.Dx() == 0 {
		t.Fatalf("%s is empty", key)
	}
}

// drainEvents waits for n events on q and takes them; more than n (in the
// batches read) fails the test.
func drainEvents(t *testing.T, q *queue.Queue, n int) []eventbus.Event {
	t.Helper()
	var out []eventbus.Event
	waitFor(t, "events on "+q.Name(), func() (struct{}, bool) {
		msgs, err := q.Receive(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var ev eventbus.Event
			if err := json.Unmarshal(m.Body, &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
			if err := q.Delete(context.Background(), m.ReceiptHandle); err != nil {
				t.Fatal(err)
			}
		}
		return struct{}{}, len(out) >= n
	})
	if more, err := q.Receive(context.Background(), 10); err != nil || len(more) > 0 {
		t.Fatalf("more than %d events on %s (%d more, %v)", n, q.Name(), len(more), err)
	}
	if len(out) != n {
		t.Fatalf("%d events on %s, want %d", len(out), q.Name(), n)
	}
	return out
}

func imageIDs(t *testing.T, evs []eventbus.Event) []string {
	t.Helper()
	var ids []string
	for _, ev := range evs {
		var d eventbus.ImageDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ImageID)
	}
	sort.Strings(ids)
	return ids
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
