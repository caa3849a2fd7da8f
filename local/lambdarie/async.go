package lambdarie

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// AsyncEventSource plays an EventBridge rule whose target is a function:
// EventBridge invokes it asynchronously, one event per invocation, and
// Lambda's asynchronous invocation retries a failed event
// MaxRetryAttempts times with a growing delay, then sends an invocation
// record to the on-failure destination (or drops the event without one).
//
// The events come from a queue the rule delivers to instead of the
// function (the emulator tap of terraform/, since moto cannot invoke a
// function). That queue is also the durable retry queue: an event stays in
// it, hidden for the retry delay, until it succeeds or is given up, so a
// harness killed in between loses nothing.
type AsyncEventSource struct {
	Client   SQSAPI
	QueueURL string
	Function Invoker
	// FunctionARN names the function in invocation records.
	FunctionARN string
	// MaxRetryAttempts (0-2; Lambda's default 2) and MaxEventAge (60 s-6 h;
	// default 6 h) are the function's event invoke config.
	MaxRetryAttempts int
	MaxEventAge      time.Duration
	// RetryDelay is the wait before the first retry; it doubles for the
	// next. Lambda waits about 1 minute, then 2 (the default here).
	RetryDelay time.Duration
	// OnFailureQueueURL is the on-failure destination, an SQS queue; ""
	// drops given-up events, as Lambda does without a destination.
	OnFailureQueueURL string
	// Visibility hides an event while it is invoked (default 15 minutes,
	// Lambda's longest timeout).
	Visibility  time.Duration
	Concurrency int
	Logger      *slog.Logger
	// OnEvent, when set, is told about every invocation.
	OnEvent func(AsyncInvocation)
}

// AsyncInvocation is one attempt at an event.
type AsyncInvocation struct {
	Event   []byte
	Attempt int
	Err     error
	// GaveUp is set when this attempt was the last: the event went to the
	// on-failure destination (Condition RetriesExhausted or
	// EventAgeExceeded) or was dropped.
	GaveUp    bool
	Condition string
}

func (a *AsyncEventSource) defaults() {
	if a.MaxRetryAttempts < 0 {
		a.MaxRetryAttempts = 0
	}
	if a.MaxEventAge <= 0 {
		a.MaxEventAge = 6 * time.Hour
	}
	if a.RetryDelay <= 0 {
		a.RetryDelay = time.Minute
	}
	if a.Visibility <= 0 {
		a.Visibility = 15 * time.Minute
	}
	if a.Concurrency <= 0 {
		a.Concurrency = 2
	}
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run invokes the function for every event until ctx is done.
func (a *AsyncEventSource) Run(ctx context.Context) error {
	a.defaults()
	if a.Client == nil || a.Function == nil || a.QueueURL == "" {
		return errors.New("lambdarie: async event source needs a client, a queue URL and a function")
	}
	poll := func(ctx context.Context) error { _, err := a.Poll(ctx); return err }
	runPollers(ctx, a.Concurrency, poll, a.Logger.With("queue", a.QueueURL))
	return nil
}

// Poll takes one event (a 1 s long poll), invokes the function with it
// and settles it. It returns false when there was none.
func (a *AsyncEventSource) Poll(ctx context.Context) (bool, error) {
	a.defaults()
	out, err := a.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(a.QueueURL),
		MaxNumberOfMessages:         1,
		WaitTimeSeconds:             1,
		VisibilityTimeout:           int32(a.Visibility / time.Second),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil || len(out.Messages) == 0 {
		return false, err
	}
	a.handle(context.WithoutCancel(ctx), out.Messages[0])
	return true, nil
}

func (a *AsyncEventSource) handle(ctx context.Context, m sqstypes.Message) {
	body := []byte(aws.ToString(m.Body))
	attempt, _ := strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
	attempt = max(attempt, 1)
	inv := AsyncInvocation{Event: body, Attempt: attempt}
	log := a.Logger.With("queue", a.QueueURL, "attempt", attempt)
	defer func() {
		if a.OnEvent != nil {
			a.OnEvent(inv)
		}
	}()

	if sent, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		if age := time.Since(time.UnixMilli(sent)); age > a.MaxEventAge {
			inv.GaveUp, inv.Condition = true, "EventAgeExceeded"
			inv.Err = fmt.Errorf("event is %s old, over the maximum event age %s", age.Round(time.Second), a.MaxEventAge)
			a.giveUp(ctx, m, inv, nil)
			return
		}
	}
	resp, err := a.Function.Invoke(ctx, body)
	inv.Err = err
	if err == nil {
		a.delete(ctx, m, log)
		return
	}
	if attempt > a.MaxRetryAttempts {
		inv.GaveUp, inv.Condition = true, "RetriesExhausted"
		a.giveUp(ctx, m, inv, resp)
		return
	}
	delay := a.RetryDelay << (attempt - 1)
	log.Warn("invocation failed: retrying", "in", delay, "err", err)
	if _, cerr := a.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(a.QueueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: int32(max(delay/time.Second, 1)),
	}); cerr != nil {
		log.Warn("could not schedule the retry: it comes after the visibility timeout", "err", cerr)
	}
}

// InvocationRecord is what Lambda sends to an on-failure destination.
type InvocationRecord struct {
	Version         string          `json:"version"`
	Timestamp       string          `json:"timestamp"`
	RequestContext  RecordContext   `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext RecordResponse  `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload,omitempty"`
}

// RecordContext is the requestContext of an invocation record.
type RecordContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// RecordResponse is the responseContext of an invocation record.
type RecordResponse struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

func (a *AsyncEventSource) giveUp(ctx context.Context, m sqstypes.Message, inv AsyncInvocation, resp []byte) {
	log := a.Logger.With("queue", a.QueueURL, "attempt", inv.Attempt, "condition", inv.Condition)
	if a.OnFailureQueueURL == "" {
		log.Error("event dropped: no on-failure destination", "err", inv.Err)
		a.delete(ctx, m, log)
		return
	}
	rec := InvocationRecord{
		Version:   "1.0",
		Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: RecordContext{
			RequestID: newRequestID(), FunctionARN: a.FunctionARN + ":$LATEST",
			Condition: inv.Condition, ApproximateInvokeCount: inv.Attempt,
		},
		RequestPayload:  json.RawMessage(inv.Event),
		ResponseContext: RecordResponse{StatusCode: 200, ExecutedVersion: "$LATEST"},
	}
	if !json.Valid(inv.Event) {
		rec.RequestPayload, _ = json.Marshal(string(inv.Event))
	}
	if inv.Condition == "RetriesExhausted" {
		rec.ResponseContext.FunctionError = "Unhandled"
		var fe *FunctionError
		switch {
		case errors.As(inv.Err, &fe) && json.Valid(fe.Payload):
			rec.ResponsePayload = fe.Payload
		case len(resp) > 0 && json.Valid(resp):
			rec.ResponsePayload = resp
		default:
			rec.ResponsePayload, _ = json.Marshal(map[string]string{"errorMessage": fmt.Sprint(inv.Err), "errorType": "Runtime.Unknown"})
		}
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		log.Error("encode the invocation record", "err", err)
		return
	}
	if _, err := a.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(a.OnFailureQueueURL), MessageBody: aws.String(string(raw))}); err != nil {
		// Keep the event: it comes back and is given up again.
		log.Error("could not send to the on-failure destination: the event is kept", "err", err)
		return
	}
	log.Warn("event given up: sent to the on-failure destination", "destination", a.OnFailureQueueURL, "err", inv.Err)
	a.delete(ctx, m, log)
}

func (a *AsyncEventSource) delete(ctx context.Context, m sqstypes.Message, log *slog.Logger) {
	if _, err := a.Client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{
		QueueUrl: aws.String(a.QueueURL),
		Entries:  []sqstypes.DeleteMessageBatchRequestEntry{{Id: aws.String("0"), ReceiptHandle: m.ReceiptHandle}},
	}); err != nil {
		log.Warn("delete failed: the event comes again", "err", err)
	}
}
