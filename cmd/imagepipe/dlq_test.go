package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// startOn starts a stack on dir, with the worker's timeout given (0: the
// default).
func startOn(t *testing.T, dir string, functionTimeout time.Duration) *local.Stack {
	t.Helper()
	st, err := local.Start(context.Background(), local.Config{DataDir: dir, APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0",
		FunctionTimeout: functionTimeout, Logger: slog.New(slog.NewTextHandler(&stackLog, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func closeStack(t *testing.T, st *local.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// deadLetterUploads uploads files with the CLI, and puts objects under
// the keys of raw straight into the uploads bucket, on a stack whose worker
// times out at once, and waits until their events are in the dead-letter
// queue; it returns their image ids, the files' first.
func deadLetterUploads(t *testing.T, dir string, raw map[string][]byte, files ...string) []string {
	t.Helper()
	st := startOn(t, dir, time.Millisecond)
	defer closeStack(t, st)
	var ids []string
	if len(files) > 0 {
		res := runCLI(t, cliOpts{env: cliEnv(st)}, append([]string{"upload", "--json"}, files...)...)
		if res.code != 0 {
			t.Fatalf("upload: %s", res.stderr)
		}
		for _, f := range files {
			ids = append(ids, cliJSONLines(t, res.stdout)[filepath.Base(f)].ImageID)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		ids = append(ids, putUpload(t, st, key, raw[key]))
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n, _ := st.Queue(local.ProcessDLQ).Stats(context.Background())
		if n.Visible+n.InFlight >= len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the uploads did not reach the dead-letter queue: %+v\n%s", n, stackLog.String())
		}
	}
	return ids
}

// TestDeadLettersBackToDone: images whose work kept failing end failed
// (retries_exhausted) and sit in the dead-letter queue, parked there by
// the deadletter function; `imagepipe dlq list` shows them, `imagepipe
// retry` brings one back to done and says how another failed again,
// `aws sqs start-message-move-task` brings one back, as on AWS, and
// `imagepipe dlq redrive` a fourth.
func TestDeadLettersBackToDone(t *testing.T) {
	dir := t.TempDir()
	src := t.TempDir()
	a := cliWriteFile(t, filepath.Join(src, "a.png"), cliPNG(t, cliImage(20, 10)))
	b := cliWriteFile(t, filepath.Join(src, "b.png"), cliPNG(t, cliImage(10, 20)))
	c := cliWriteFile(t, filepath.Join(src, "c.png"), cliPNG(t, cliImage(12, 12)))
	// Bytes that are no image: its retry fails again, for another reason.
	ids := deadLetterUploads(t, dir, map[string][]byte{"uploads/dead-bad.png": []byte("not a png")}, a, b)

	st := startOn(t, dir, 0)
	defer closeStack(t, st)
	target := []string{"--data", st.DataDir(), "--endpoint", st.EdgeURL()}

	res := runCLI(t, cliOpts{}, append([]string{"dlq", "list", "--json"}, target...)...)
	var listed []string
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var d deadLetter
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("dlq list line %q: %v", l, err)
		}
		listed = append(listed, d.ImageID)
		if !strings.HasPrefix(d.Key, "uploads/") || d.ParkedAt.IsZero() || d.EventTime.IsZero() || d.EventTime.After(d.ParkedAt) ||
			d.Status != "failed" || d.Error != "retries_exhausted" {
			t.Errorf("dead letter %+v", d)
		}
	}
	slices.Sort(listed)
	if res.code != 0 || !slices.Equal(listed, slices.Sorted(slices.Values(ids))) || !strings.HasSuffix(res.stderr, "3 messages in "+local.ProcessDLQ+"\n") {
		t.Fatalf("dlq list: exit %d, images %v, want %v\n%s", res.code, listed, ids, res.stderr)
	}
	res = runCLI(t, cliOpts{}, append([]string{"dlq", "list"}, target...)...)
	if lines := strings.Split(strings.TrimSpace(res.stdout), "\n"); res.code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "IMAGE ") ||
		!strings.Contains(lines[1], " failed (retries_exhausted) ") || !strings.Contains(lines[1], " uploads/") {
		t.Errorf("dlq list: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	// Listing takes nothing away.
	if n, _ := st.Queue(local.ProcessDLQ).Stats(context.Background()); n.Visible != 3 {
		t.Errorf("after dlq list the DLQ shows %+v visible, want 3", n)
	}

	// imagepipe retry: the first image is processed again, its dead letter
	// removed.
	res = runCLI(t, cliOpts{}, append([]string{"retry", "--wait", "--timeout", "60s", ids[0]}, target...)...)
	if res.code != 0 || !strings.Contains(res.stdout, ids[0]+": sent again (1 dead letter removed)\n") || !strings.Contains(res.stdout, ids[0]+": done\n") {
		t.Fatalf("retry: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, cliOpts{}, append([]string{"retry", ids[0]}, target...)...)
	if res.code != 0 || !strings.Contains(res.stdout, ids[0]+": not retried: it is done\n") {
		t.Errorf("retry of a done image: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	// A retry that fails again is said as soon as its failure is recorded,
	// not at the timeout.
	res = runCLI(t, cliOpts{}, append([]string{"retry", "--wait", "--timeout", "60s", ids[2]}, target...)...)
	if res.code != 1 || !strings.Contains(res.stdout, ids[2]+": sent again (1 dead letter removed)\n") || !strings.Contains(res.stdout, ids[2]+": failed again: not_an_image: ") {
		t.Fatalf("retry of an image that fails again: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}

	// The aws CLI, exactly as on AWS: the second image.
	arn := func(q string) string { return "arn:aws:sqs:" + local.Region + ":" + local.Account + ":" + q }
	if _, stderr, code := localtest.AWSCLI(t, st, "sqs", "start-message-move-task", "--source-arn", arn(local.ProcessDLQ), "--destination-arn", arn(local.ProcessQueue)); code != 0 {
		t.Fatalf("aws sqs start-message-move-task: %s", stderr)
	}
	var tasks struct{ Results []struct{ Status string } }
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		stdout, stderr, code := localtest.AWSCLI(t, st, "sqs", "list-message-move-tasks", "--source-arn", arn(local.ProcessDLQ))
		if code != 0 || json.Unmarshal([]byte(stdout), &tasks) != nil || len(tasks.Results) == 0 {
			t.Fatalf("aws sqs list-message-move-tasks: %s %s", stdout, stderr)
		}
		if tasks.Results[0].Status == "COMPLETED" || time.Now().After(deadline) {
			break
		}
	}
	res = runCLI(t, cliOpts{env: cliEnv(st)}, "status", "--wait", "--timeout", "60s", "--json", ids[1])
	if res.code != 0 || !strings.Contains(res.stdout, `"status":"done"`) {
		t.Fatalf("after the aws CLI's move task: %s %v\nstatus: exit %d\n%s%s", tasks.Results[0].Status, ids[1], res.code, res.stdout, res.stderr)
	}
	closeStack(t, st)

	// imagepipe dlq redrive --wait: a third image, its dead letter hidden
	// by a receive for a while (a dlq list elsewhere): the redrive waits
	// until it shows, or the move would leave it behind.
	idsC := deadLetterUploads(t, dir, nil, c)
	st = startOn(t, dir, 0)
	target = []string{"--data", st.DataDir(), "--endpoint", st.EdgeURL()}
	held, err := st.Queue(local.ProcessDLQ).Receive(context.Background(), 10)
	if err != nil || len(held) != 1 {
		t.Fatalf("receive the dead letter: %v %d", err, len(held))
	}
	if err := st.Queue(local.ProcessDLQ).ChangeVisibility(context.Background(), held[0].ReceiptHandle, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	res = runCLI(t, cliOpts{}, append([]string{"dlq", "redrive", "--wait", "--timeout", "60s"}, target...)...)
	if !strings.Contains(res.stderr, "1 messages of "+local.ProcessDLQ+" are hidden by an earlier receive") {
		t.Errorf("dlq redrive did not say it waits for a hidden message:\n%s", res.stderr)
	}
	if res.code != 0 || !strings.Contains(res.stdout, "completed: 1 of 1 messages moved\n") || !strings.Contains(res.stdout, idsC[0]+": done\n") {
		t.Fatalf("dlq redrive: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, cliOpts{}, append([]string{"dlq", "list"}, target...)...)
	if res.code != 0 || !strings.HasSuffix(res.stderr, fmt.Sprintf("0 messages in %s\n", local.ProcessDLQ)) {
		t.Errorf("dlq list after the redrive: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

// TestRetryRefuses: retry says why it leaves an image as it is.
func TestRetryRefuses(t *testing.T) {
	st := testStack(t)
	// Not an image: failed for good, its id derived from its key.
	id := putUpload(t, st, "uploads/retry-bad.jpg", []byte("not a jpeg"))
	target := []string{"--data", st.DataDir(), "--endpoint", st.EdgeURL()}
	res := runCLI(t, cliOpts{env: cliEnv(st)}, "status", "--wait", "--timeout", "30s", id)
	if res.code != 1 {
		t.Fatalf("status of the bad upload: exit %d %s%s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, cliOpts{}, append([]string{"retry", id}, target...)...)
	if res.code != 1 || !strings.Contains(res.stdout, id+": not retried: it failed with not_an_image, which the same bytes fail with again (upload a fixed file, or --force once the pipeline changed)\n") {
		t.Errorf("retry of a permanent failure: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	// --force sends it all the same; the same failure is not recorded twice,
	// so at the timeout it is still failed.
	res = runCLI(t, cliOpts{}, append([]string{"retry", "--force", "--wait", "--timeout", "3s", id}, target...)...)
	if res.code != 1 || !strings.Contains(res.stdout, id+": sent again\n") || !strings.Contains(res.stdout, id+": still failed after 3s: not_an_image: ") {
		t.Errorf("retry --force: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, cliOpts{}, append([]string{"retry", "0123456789abcdef0123456789abcdef", "nope"}, target...)...)
	if res.code != 2 || !strings.Contains(res.stderr, `"nope" is not an image id`) {
		t.Errorf("retry of a malformed id: exit %d %s", res.code, res.stderr)
	}
}
