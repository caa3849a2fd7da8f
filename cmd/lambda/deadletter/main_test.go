package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/cmd/lambda/internal/lambdatest"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/process"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/metrics"
)

// TestDeadLetterFunction runs the function on the dead-lettered upload of
// testdata (an image whose worker never finished) and reads the failure
// event it puts on the imagepipe bus. The local stack speaks no SQS yet, so
// the DLQ URLs are left empty (nothing is parked here; the moto test parks).
func TestDeadLetterFunction(t *testing.T) {
	st := lambdatest.Start(t, map[string]string{
		process.EnvProcessedBucket: local.ProcessedBucket,
		process.EnvEventBusName:    local.CustomBus,
		process.EnvMaxReceiveCount: "5",
		metrics.EnvStack:           local.StackName,
	})
	h, err := awsenv.Build(context.Background(), nil, newHandler)
	if err != nil {
		t.Fatal(err)
	}
	raw := lambdatest.Invoke(t, h, "sqs-dead-upload.json")
	var resp events.SQSEventResponse
	if err := json.Unmarshal(raw, &resp); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("response %s (%v), want no failures", raw, err)
	}
	msgs, err := st.Queue(local.NotifyQueue).Receive(context.Background(), 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("completion events queued for notify: %d (%v), want 1", len(msgs), err)
	}
	var ev eventbus.Event
	var d eventbus.ImageDetail
	if err := json.Unmarshal(msgs[0].Body, &ev); err != nil || json.Unmarshal(ev.Detail, &d) != nil {
		t.Fatalf("event %s", msgs[0].Body)
	}
	const id = "5f2b3c4d6e7f80912a3b4c5d6e7f8091"
	if ev.DetailType != eventbus.DetailTypeFailed || d.ImageID != id || d.Error == nil || d.Error.Code != process.CodeRetriesExhausted ||
		!d.Error.Retryable || d.Attempt != 5 || d.CompletionID != id+":b1946ac92492d2347c6235b4d2611184" {
		t.Fatalf("%s %+v, want a retryable retries_exhausted after 5 attempts", ev.DetailType, d)
	}
}
