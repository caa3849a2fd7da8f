// Package deadletter is the function on imagepipe's dead-letter queues. A
// message lands in a dead-letter inbox when its retries ran out: an S3
// upload event the worker never finished (its invocations failed, timed
// out or ran out of memory), or a completion event EventBridge could not
// deliver to notify or notify kept failing on. Without this function such
// an image would stay "pending" forever, with no event saying why.
//
// For each message it makes sure the image's status is final, then parks
// the message in the dead-letter queue proper, where it stays for an
// operator to look at and redrive (SQS's StartMessageMoveTask, with the
// process queue as destination):
//   - an upload event: process.Handler.GiveUp, which emits "Image
//     Processing Failed" with code retries_exhausted (retryable), unless
//     the image turns out to be finished or already failed so;
//   - a completion event (as EventBridge dead-letters it, or inside a
//     Lambda asynchronous invocation record): notify applies it to the
//     status record directly, since the way to notify is what failed.
//
// A message the function cannot handle stays in the inbox and is retried;
// after the inbox's own maxReceiveCount SQS moves it to the dead-letter
// queue anyway (and the inbox's alarm says the function is failing).
//
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/notify"
	"github.com/imagepipe/imagepipe/functions/process"
)

// Environment variables read by ConfigFromEnv (besides the worker's
// PROCESSED_BUCKET, EVENT_BUS_NAME and MAX_RECEIVE_COUNT).
const (
	EnvProcessDLQURL = "PROCESS_DLQ_URL"
	EnvEventsDLQURL  = "EVENTS_DLQ_URL"
)

// SourceAttribute is the message attribute naming the queue a parked
// message was dead-lettered from.
const SourceAttribute = "imagepipe_dead_letter_from"

// Config is what the function needs to know.
type Config struct {
	// Worker is the process function's configuration (bucket, bus,
	// maxReceiveCount).
	Worker process.Config
	// ProcessDLQURL parks upload events; EventsDLQURL everything else.
	// Empty: the message is not kept once handled.
	ProcessDLQURL string
	EventsDLQURL  string
}

// ConfigFromEnv reads the configuration from the environment.
func ConfigFromEnv() (Config, error) {
	w, err := process.ConfigFromEnv()
	c := Config{Worker: w, ProcessDLQURL: os.Getenv(EnvProcessDLQURL), EventsDLQURL: os.Getenv(EnvEventsDLQURL)}
	return c, err
}

// Function is the function's name, the Function dimension of its metrics.
const Function = "deadletter"

// SQSAPI is the part of the SQS client the function uses.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Handler is the dead-letter function.
type Handler struct {
	cfg      Config
	worker   *process.Handler
	notifier *notify.Handler
	sqs      SQSAPI
	log      *slog.Logger
}

// New returns the function.
func New(cfg Config, client *s3.Client, pub eventbus.Publisher, queues SQSAPI, logger *slog.Logger) (*Handler, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if queues == nil {
		return nil, errors.New("deadletter: nil SQS client")
	}
	// Its metrics are its own (Function dimension), whichever handler's
	// code writes them.
	cfg.Worker.Function = Function
	worker, err := process.New(cfg.Worker, client, pub, logger)
	if err != nil {
		return nil, err
	}
	notifier, err := notify.New(notify.Config{ProcessedBucket: cfg.Worker.ProcessedBucket, Stack: cfg.Worker.Stack, Function: Function}, client, logger)
	if err != nil {
		return nil, err
	}
	return &Handler{cfg: cfg, worker: worker, notifier: notifier, sqs: queues, log: logger}, nil
}

// Handle handles one batch of dead letters; the messages that could not be
// handled come back (batchItemFailures).
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, msg := range ev.Records {
		if err := h.handle(ctx, msg); err != nil {
			h.log.Warn("dead letter not handled: it will be retried", "message_id", msg.MessageId, "from", msg.EventSourceARN, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp, nil
}

func (h *Handler) handle(ctx context.Context, msg events.SQSMessage) error {
	ev, ok := decode(msg.Body)
	park := h.cfg.EventsDLQURL
	switch {
	case !ok:
		h.log.Error("dead letter that is not an event: parked as it is", "message_id", msg.MessageId, "from", msg.EventSourceARN)
	case ev.Source == eventbus.SourceS3 && ev.DetailType == eventbus.DetailTypeObjectCreated:
		park = h.cfg.ProcessDLQURL
		raw, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		upload := msg
		upload.Body = string(raw)
		if err := h.worker.GiveUp(ctx, upload); err != nil {
			return err
		}
	case ev.Source == eventbus.SourceProcess:
		// notify could not be reached, or kept failing: apply it here.
		if err := h.notifier.Handle(ctx, ev); err != nil {
			return fmt.Errorf("apply completion %s: %w", ev.ID, err)
		}
	default:
		h.log.Warn("dead letter of an event imagepipe does not handle: parked", "message_id", msg.MessageId, "source", ev.Source, "detail_type", ev.DetailType)
	}
	return h.park(ctx, park, msg)
}

// decode finds the event in a dead letter: the message body itself (an SQS
// redrive or an EventBridge target's dead-letter queue), or the
// requestPayload of a Lambda asynchronous invocation record.
func decode(body string) (eventbus.Event, bool) {
	var ev eventbus.Event
	if json.Unmarshal([]byte(body), &ev) == nil && ev.DetailType != "" {
		return ev, true
	}
	var record struct {
		RequestPayload eventbus.Event `json:"requestPayload"`
	}
	if json.Unmarshal([]byte(body), &record) == nil && record.RequestPayload.DetailType != "" {
		return record.RequestPayload, true
	}
	return ev, false
}

// park keeps the message in the dead-letter queue at url, with the
// attributes it came with and the queue it came from.
func (h *Handler) park(ctx context.Context, url string, msg events.SQSMessage) error {
	if url == "" {
		return nil
	}
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range msg.MessageAttributes {
		a := sqstypes.MessageAttributeValue{DataType: aws.String(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
		if a.DataType == nil || *a.DataType == "" {
			a.DataType = aws.String("String")
		}
		attrs[k] = a
	}
	if len(attrs) < 10 {
		attrs[SourceAttribute] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(msg.EventSourceARN)}
	}
	if n, err := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"]); err == nil && len(attrs) < 10 {
		attrs["imagepipe_inbox_receives"] = sqstypes.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(n))}
	}
	if _, err := h.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(msg.Body), MessageAttributes: attrs}); err != nil {
		return fmt.Errorf("park message %s in %s: %w", msg.MessageId, url, err)
	}
	return nil
}
