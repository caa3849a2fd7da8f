//go:build unix

package terraform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/eventbus"
)

// deadLetterFlow: an upload whose message ran out of receives (moved to the
// process dead-letter inbox, as SQS's redrive does) is handed by the
// inbox's mapping to the deadletter binary; its image ends failed with
// retries_exhausted (the failure event through the tap to the notify
// binary), the message is parked in the process DLQ, and redriven to the
// process queue it makes the image done.
func deadLetterFlow(ctx context.Context, t *testing.T, h *harness, s3c *s3.Client, sqsc *sqs.Client, out stackOutputs) {
	t.Helper()
	// The redrive policies as deployed: process -> inbox after 5, the
	// inboxes -> their DLQs after 10.
	for _, tc := range []struct{ queue, target, max string }{
		{out.ProcessQueueURL, out.ProcessDLQInboxURL, "5"},
		{out.ProcessDLQInboxURL, out.ProcessDLQURL, "10"},
		{out.EventsDLQInboxURL, out.EventsDLQURL, "10"},
	} {
		var rp struct {
			Target string `json:"deadLetterTargetArn"`
			Max    any    `json:"maxReceiveCount"`
		}
		raw := queueAttribute(ctx, t, sqsc, tc.queue, sqstypes.QueueAttributeNameRedrivePolicy)
		if err := json.Unmarshal([]byte(raw), &rp); err != nil {
			t.Fatalf("redrive policy of %s: %q: %v", tc.queue, raw, err)
		}
		if want := queueAttribute(ctx, t, sqsc, tc.target, sqstypes.QueueAttributeNameQueueArn); rp.Target != want || fmt.Sprint(rp.Max) != tc.max {
			t.Errorf("redrive policy of %s: %s, want %s after %s receives", tc.queue, raw, want, tc.max)
		}
	}
	role := roleOfQueue(t, out, out.ProcessDLQInboxURL)
	if role != "deadletter" {
		t.Fatalf("the process dead-letter inbox is read by %q, want deadletter", role)
	}

	// An upload whose worker never finished: its event, taken off the
	// process queue before any function sees it, lands in the inbox.
	id := fmt.Sprintf("%032x", time.Now().UnixNano())
	key := "uploads/" + id + ".jpg"
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(out.UploadsBucket), Key: aws.String(key),
		Body: bytes.NewReader(testJPEG(t, 40, 30)), ContentType: aws.String("image/jpeg")}); err != nil {
		t.Fatal(err)
	}
	moveMessage(ctx, t, sqsc, out.ProcessQueueURL, out.ProcessDLQInboxURL, key)

	// One poll of the inbox's mapping with the deadletter binary.
	b, ok, err := h.sqsSource(role, h.fns[role]).Poll(ctx)
	if err != nil || !ok || len(b.Records) != 1 || b.Err != nil || len(b.Failed) != 0 || len(b.Deleted) != 1 {
		t.Fatalf("the dead letter's batch: ok %v, err %v, %s", ok, err, describe(b))
	}
	api := &apiClient{base: h.apiURL, key: out.APIKey}
	h.start("eventbridge")
	h.waitFor("the notify binary handling the retries_exhausted failure of "+id, time.Minute, func() bool {
		for _, inv := range h.invokes {
			var ev eventbus.Event
			var d eventbus.ImageDetail
			if inv.Err == nil && json.Unmarshal(inv.Event, &ev) == nil && json.Unmarshal(ev.Detail, &d) == nil &&
				d.ImageID == id && ev.DetailType == eventbus.DetailTypeFailed && d.Error != nil &&
				d.Error.Code == "retries_exhausted" && d.Error.Retryable && strings.HasPrefix(d.CompletionID, id+":") {
				return true
			}
		}
		return false
	})
	h.stop()
	if st := api.status(ctx, t, id); st.Status != "failed" {
		t.Fatalf("status after the dead letter = %q, want failed", st.Status)
	}

	// Parked in the process DLQ; redriven (by hand: moto has no
	// StartMessageMoveTask), it is processed and the image ends done.
	moveMessage(ctx, t, sqsc, out.ProcessDLQURL, out.ProcessQueueURL, key)
	h.start()
	defer h.stop()
	h.waitFor("the redriven image's Image Processed at notify", time.Minute, func() bool {
		for _, inv := range h.invokes {
			var ev eventbus.Event
			if inv.Err == nil && json.Unmarshal(inv.Event, &ev) == nil && ev.DetailType == eventbus.DetailTypeProcessed && strings.Contains(string(ev.Detail), id) {
				return true
			}
		}
		return false
	})
	if st := api.status(ctx, t, id); st.Status != "done" {
		t.Fatalf("status after the redrive = %q, want done", st.Status)
	}
}

// moveMessage waits for the message about key in queue from, sends its body
// to queue to and deletes it from from.
func moveMessage(ctx context.Context, t *testing.T, c *sqs.Client, from, to, key string) {
	t.Helper()
	msgs := receiveMatching(ctx, t, c, from, time.Minute, func(ev eventbus.Event) bool { return objectKey(ev) == key })
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(to), MessageBody: msgs[0].Body}); err != nil {
		t.Fatal(err)
	}
	deleteMessages(ctx, t, c, from, msgs)
}

// receiveMatching long-polls queue url until a message whose event matches
// arrives, or fails after timeout. Other messages are left alone (they
// become visible again later).
func receiveMatching(ctx context.Context, t *testing.T, c *sqs.Client, url string, timeout time.Duration, match func(eventbus.Event) bool) []sqstypes.Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 5,
		})
		if err != nil {
			t.Fatalf("receive from %s: %v", url, err)
		}
		var matched []sqstypes.Message
		for _, m := range out.Messages {
			var ev eventbus.Event
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &ev) == nil && match(ev) {
				matched = append(matched, m)
			}
		}
		if len(matched) > 0 {
			return matched
		}
	}
	t.Fatalf("no matching message on %s within %s", url, timeout)
	return nil
}

func deleteMessages(ctx context.Context, t *testing.T, c *sqs.Client, url string, msgs []sqstypes.Message) {
	t.Helper()
	for _, m := range msgs {
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatalf("delete message from %s: %v", url, err)
		}
	}
}
