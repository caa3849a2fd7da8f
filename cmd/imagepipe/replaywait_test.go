package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/bus"
	"github.com/imagepipe/imagepipe/local/localtest"
	"github.com/imagepipe/imagepipe/local/queue"
)

// TestReplayWaitsForImages replays the uploads of a running local stack:
// the replay goes to the stack's uploads rule only (another rule on the
// default bus that matches the same S3 events gets nothing), and the
// command waits until each image is re-processed and tells how each ended:
// redone (its outputs had been deleted), skipped as a duplicate, or failed.
func TestReplayWaitsForImages(t *testing.T) {
	for _, k := range []string{local.EnvAccessKeyID, local.EnvSecretAccessKey, local.EnvData, "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
		t.Setenv(k, "")
	}
	st := localtest.Start(t)
	ctx := context.Background()
	// Software of someone else on the default bus: every S3 event.
	other := st.NewQueue("other-software", queue.Options{})
	if err := st.Router().AddRule(&bus.Rule{Name: "other-software-s3", Bus: "default", Pattern: `{"source":["aws.s3"]}`, Target: other}); err != nil {
		t.Fatal(err)
	}

	s3c := st.S3Client()
	ids := map[string]string{"redo": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "dup": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "bad": "cccccccccccccccccccccccccccccccc"}
	var img bytes.Buffer
	if err := png.Encode(&img, testImage(24, 16)); err != nil {
		t.Fatal(err)
	}
	for name, id := range ids {
		body := img.Bytes()
		if name == "bad" {
			body = []byte("not an image")
		}
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(local.UploadsBucket), Key: aws.String("uploads/" + id + ".png"),
			Body: bytes.NewReader(body), ContentType: aws.String("image/png")}); err != nil {
			t.Fatal(err)
		}
	}
	for name, id := range ids {
		want := "done"
		if name == "bad" {
			want = "failed"
		}
		if got := waitForStatus(t, st, id); got != want {
			t.Fatalf("%s: status %q, want %q", name, got, want)
		}
	}
	if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(local.ProcessedBucket), Key: aws.String("processed/" + ids["redo"] + "/gray.png")}); err != nil {
		t.Fatal(err)
	}
	otherBefore := drain(t, other)

	var out, errb bytes.Buffer
	code := run(ctx, []string{"replay", "--data", st.DataDir(), "--endpoint", st.EdgeURL(), "--from", "-10m", "--to", "+1m", "--name", "wait-test", "--timeout", "60s"}, &out, &errb)
	t.Logf("imagepipe replay:\n%s%s", out.String(), errb.String())
	if code != 1 || !strings.Contains(errb.String(), "replay wait-test: 1 of 3 images failed") {
		t.Errorf("exit %d, stderr %q; want 1 saying that 1 of 3 images failed", code, errb.String())
	}
	for _, want := range []string{
		"to rule " + local.UploadsRule + " of",
		"replay wait-test: waiting for the 3 images uploaded from",
		"replay wait-test: 3 images: 1 redone, 1 skipped as duplicates, 1 failed (not_an_image 1)",
		"  failed " + ids["bad"] + " uploads/" + ids["bad"] + ".png: not_an_image: ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(local.ProcessedBucket), Key: aws.String("processed/" + ids["redo"] + "/gray.png")}); err != nil {
		t.Errorf("the deleted output is not back: %v", err)
	}
	if replayed := replayedIn(t, drain(t, other)); replayed != 0 || len(otherBefore) != 3 {
		t.Errorf("the other software's rule got %d replayed events (and %d originals), want none (and 3)", replayed, len(otherBefore))
	}

	// --all-rules is the old behaviour, said out loud: every rule of the
	// bus gets the events again.
	out.Reset()
	errb.Reset()
	code = run(ctx, []string{"replay", "--data", st.DataDir(), "--endpoint", st.EdgeURL(), "--from", "-10m", "--to", "+1m", "--name", "all-rules", "--all-rules", "--timeout", "60s"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "to every rule (--all-rules)") || !strings.Contains(out.String(), "3 images: 0 redone, 2 skipped as duplicates, 1 failed") {
		t.Errorf("--all-rules: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if replayed := replayedIn(t, drain(t, other)); replayed != 3 {
		t.Errorf("with --all-rules the other rule got %d replayed events, want 3", replayed)
	}

	// A wait that runs out of time says what is pending.
	paused := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	if _, err := paused.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(local.UploadsBucket), Key: aws.String("uploads/" + ids["dup"] + ".png"),
		Body: bytes.NewReader(img.Bytes()), ContentType: aws.String("image/png")}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	code = run(ctx, []string{"replay", "--data", paused.DataDir(), "--endpoint", paused.EdgeURL(), "--from", "-10m", "--to", "+1m", "--name", "stuck", "--timeout", "2s"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "pending "+ids["dup"]+" uploads/"+ids["dup"]+".png") || !strings.Contains(errb.String(), "stopped waiting for 1 image of replay stuck") {
		t.Errorf("timeout: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// waitForStatus polls GET /v1/images/{id} until it is done or failed.
func waitForStatus(t *testing.T, st *local.Stack, id string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, st.APIURL()+"/v1/images/"+id, nil)
		req.Header.Set("x-api-key", st.APIKey())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Status string }
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK && (v.Status == "done" || v.Status == "failed") {
			return v.Status
		}
		if time.Now().After(deadline) {
			t.Fatalf("image %s: no final status within 30 s (HTTP %d)", id, resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

// drain takes every message of q.
func drain(t *testing.T, q *queue.Queue) []queue.Message {
	t.Helper()
	var all []queue.Message
	for {
		msgs, err := q.Receive(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return all
		}
		for _, m := range msgs {
			if err := q.Delete(context.Background(), m.ReceiptHandle); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, msgs...)
	}
}

func replayedIn(t *testing.T, msgs []queue.Message) int {
	t.Helper()
	n := 0
	for _, m := range msgs {
		var ev eventbus.Event
		if err := json.Unmarshal(m.Body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ReplayName != "" {
			n++
		}
	}
	return n
}
