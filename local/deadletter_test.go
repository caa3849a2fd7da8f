package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
	"github.com/imagepipe/imagepipe/local/queue"
)

// TestDeadLetterEndsTheImageAndStaysRetryable: an upload whose message ran
// out of receives without the worker ever answering (the process was killed
// each time) lands in the dead-letter inbox; the image ends failed with
// retries_exhausted within seconds, the message is parked in the
// dead-letter queue, and moving it back to the process queue (what a
// redrive does) makes the image done.
func TestDeadLetterEndsTheImageAndStaysRetryable(t *testing.T) {
	dir := t.TempDir()
	paused, up := uploadPaused(t, dir)
	// As SQS's redrive would: the message leaves the process queue for the
	// dead-letter inbox, never having reached the function.
	ctx := context.Background()
	moveAll(t, paused.Queue(local.ProcessQueue), paused.Queue(local.ProcessDLQInbox), 1)
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := paused.Close(closeCtx); err != nil {
		t.Fatal(err)
	}

	st := localtest.Start(t, func(c *local.Config) { c.DataDir = dir })
	a := newAPI(t, st)
	start := time.Now()
	v := a.waitStatus(up.ImageID)
	if v.Status != "failed" || v.Error == nil || v.Error.Code != "retries_exhausted" {
		t.Fatalf("after the dead letter: %+v, want failed with retries_exhausted", v)
	}
	t.Logf("failed %s after the restart", time.Since(start).Round(time.Millisecond))
	// The function parks the message, then the runner deletes it from the
	// inbox once the function has answered: wait for both.
	type queues struct{ parked, inbox queue.Stats }
	q := waitFor(t, "the message parked in the dead-letter queue and gone from the inbox", func() (queues, bool) {
		p, err1 := st.Queue(local.ProcessDLQ).Stats(ctx)
		in, err2 := st.Queue(local.ProcessDLQInbox).Stats(ctx)
		return queues{p, in}, err1 == nil && err2 == nil && p.Visible == 1 && in.Visible+in.InFlight == 0
	})
	if q.parked.Visible != 1 || q.inbox.Visible+q.inbox.InFlight != 0 {
		t.Fatalf("dead-letter queue %+v, inbox %+v", q.parked, q.inbox)
	}

	// Redrive: the parked message goes back to the process queue.
	moveAll(t, st.Queue(local.ProcessDLQ), st.Queue(local.ProcessQueue), 1)
	v = waitFor(t, "the redriven image done", func() (api.ImageView, bool) {
		var view api.ImageView
		if code, raw := a.do(http.MethodGet, "/v1/images/"+up.ImageID, a.key, nil, &view); code != http.StatusOK {
			t.Fatalf("GET: %d %s", code, raw)
		}
		return view, view.Status == "done"
	})
	if v.Outputs["gray"].Width != 64 {
		t.Fatalf("redriven image: %+v", v)
	}
}

// moveAll moves every visible message of from to to, and checks how many.
func moveAll(t *testing.T, from, to *queue.Queue, want int) {
	t.Helper()
	ctx := context.Background()
	msgs, err := from.Receive(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != want {
		t.Fatalf("%d messages in %s, want %d", len(msgs), from.Name(), want)
	}
	for _, m := range msgs {
		var ev eventbus.Event
		if err := json.Unmarshal(m.Body, &ev); err != nil || ev.DetailType != eventbus.DetailTypeObjectCreated {
			t.Fatalf("message in %s: %s", from.Name(), m.Body)
		}
		if _, err := to.Send(ctx, m.Body); err != nil {
			t.Fatal(err)
		}
		if err := from.Delete(ctx, m.ReceiptHandle); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDamagedStateIsRefusedAtStart: a state.db that fails its check stops
// the start with what to do, instead of starting "healthy".
func TestDamagedStateIsRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "state.db"), []byte(strings.Repeat("damaged ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := local.Start(context.Background(), local.Config{DataDir: dir, APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0"})
	var de *queue.DamagedError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("Start on a damaged state.db: %v, want a DamagedError saying what to do", err)
	}
}
