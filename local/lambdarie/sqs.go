package lambdarie

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is the part of the SQS client the event sources use.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// Invoker is what an event source invokes: a Function, or any
// lambda.Handler.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// SQSEventSource is an SQS event source mapping: it receives batches from
// the queue, invokes the function with an events.SQSEvent, and deletes
// what succeeded. With ReportBatchItemFailures the response's
// batchItemFailures stay in the queue (they come back after the
// visibility timeout; the queue's redrive policy dead-letters them in
// the end); a function error leaves the whole batch.
type SQSEventSource struct {
	Client   SQSAPI
	QueueURL string
	QueueARN string
	Region   string
	// BatchSize is the most records per invocation (default 10); Window
	// is the maximum batching window: receive until BatchSize or Window.
	BatchSize int
	Window    time.Duration
	// ReportBatchItemFailures is function_response_types =
	// ["ReportBatchItemFailures"].
	ReportBatchItemFailures bool
	// MaxConcurrency is the most invocations at once (default 2).
	MaxConcurrency int
	Function       Invoker
	Logger         *slog.Logger
	// OnBatch, when set, is told about every batch (tests, benchmarks).
	OnBatch func(Batch)
}

// Batch is one invocation of the mapping and its outcome.
type Batch struct {
	Records []events.SQSMessage
	// Failed holds the message ids left in the queue for redelivery,
	// Deleted those removed from it.
	Failed  []string
	Deleted []string
	// Response is the function's response payload; Err the invocation's
	// error (the whole batch is then left in the queue).
	Response []byte
	Err      error
}

// maxBatchBytes is the payload limit of an invocation: Lambda stops
// filling a batch there.
const maxBatchBytes = MaxSyncPayload

func (s *SQSEventSource) defaults() {
	if s.BatchSize <= 0 {
		s.BatchSize = 10
	}
	if s.MaxConcurrency <= 0 {
		s.MaxConcurrency = 2
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run polls with MaxConcurrency pollers until ctx is done, then lets the
// invocations under way finish.
func (s *SQSEventSource) Run(ctx context.Context) error {
	s.defaults()
	if s.Client == nil || s.Function == nil || s.QueueURL == "" {
		return fmt.Errorf("lambdarie: SQS event source needs a client, a queue URL and a function")
	}
	poll := func(ctx context.Context) error { _, _, err := s.Poll(ctx); return err }
	runPollers(ctx, s.MaxConcurrency, poll, s.Logger.With("queue", s.QueueURL))
	return nil
}

// runPollers runs n loops of poll until ctx is done and waits for them. A
// receive is never cancelled: SQS would still hand a message to the
// abandoned long poll, hiding it for the visibility timeout; the loops
// stop between polls instead.
func runPollers(ctx context.Context, n int, poll func(context.Context) error, log *slog.Logger) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := poll(context.WithoutCancel(ctx)); err != nil && ctx.Err() == nil {
					log.Warn("receive failed", "err", err)
					sleep(ctx, time.Second)
				}
			}
		})
	}
	wg.Wait()
}

// Poll receives one batch (up to BatchSize messages, waiting at most
// Window for more once the first arrived, or up to a 1 s long poll when
// the queue is empty), invokes the function with it and settles it.
// ok is false when nothing was received. The invocation and the deletes
// are not cancelled by ctx: a batch received is always settled.
func (s *SQSEventSource) Poll(ctx context.Context) (b Batch, ok bool, err error) {
	s.defaults()
	msgs, err := s.receive(ctx)
	if err != nil || len(msgs) == 0 {
		return Batch{}, false, err
	}
	b = s.settle(context.WithoutCancel(ctx), msgs)
	if s.OnBatch != nil {
		s.OnBatch(b)
	}
	return b, true, nil
}

func (s *SQSEventSource) receive(ctx context.Context) ([]sqstypes.Message, error) {
	var msgs []sqstypes.Message
	var size int
	var deadline time.Time
	for len(msgs) < s.BatchSize && size < maxBatchBytes {
		wait := int32(1)
		if len(msgs) > 0 {
			left := time.Until(deadline)
			if s.Window <= 0 || left <= 0 {
				break
			}
			wait = int32(min(max(left.Round(time.Second)/time.Second, 0), 20))
		}
		out, err := s.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(s.QueueURL),
			MaxNumberOfMessages:         int32(min(s.BatchSize-len(msgs), 10)),
			WaitTimeSeconds:             wait,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if len(msgs) > 0 {
				break // settle what was received
			}
			return nil, err
		}
		if len(msgs) == 0 && len(out.Messages) > 0 {
			deadline = time.Now().Add(s.Window)
		}
		for _, m := range out.Messages {
			msgs = append(msgs, m)
			size += len(aws.ToString(m.Body))
		}
		if len(msgs) == 0 {
			return nil, nil
		}
	}
	return msgs, nil
}

// settle invokes the function with msgs and deletes what succeeded.
func (s *SQSEventSource) settle(ctx context.Context, msgs []sqstypes.Message) Batch {
	b := Batch{Records: make([]events.SQSMessage, len(msgs))}
	byID := map[string]sqstypes.Message{}
	for i, m := range msgs {
		b.Records[i] = s.record(m)
		byID[aws.ToString(m.MessageId)] = m
	}
	payload, err := json.Marshal(events.SQSEvent{Records: b.Records})
	if err != nil {
		b.Err = err
		return b
	}
	b.Response, b.Err = s.Function.Invoke(ctx, payload)
	log := s.Logger.With("queue", s.QueueURL, "messages", len(msgs))
	if b.Err != nil {
		log.Warn("invocation failed: the whole batch comes back after the visibility timeout", "err", b.Err)
		for id := range byID {
			b.Failed = append(b.Failed, id)
		}
		return b
	}
	failed := map[string]bool{}
	if s.ReportBatchItemFailures {
		ids, err := BatchItemFailures(b.Response, byID)
		if err != nil {
			b.Err = err
			log.Warn("invalid partial batch response: the whole batch is a failure", "err", err)
			for id := range byID {
				b.Failed = append(b.Failed, id)
			}
			return b
		}
		for _, id := range ids {
			failed[id] = true
		}
	}
	var del []sqstypes.DeleteMessageBatchRequestEntry
	for _, m := range msgs {
		id := aws.ToString(m.MessageId)
		if failed[id] {
			b.Failed = append(b.Failed, id)
			continue
		}
		del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(del))), ReceiptHandle: m.ReceiptHandle})
		b.Deleted = append(b.Deleted, id)
	}
	for start := 0; start < len(del); start += 10 {
		chunk := del[start:min(start+10, len(del))]
		out, err := s.Client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.QueueURL), Entries: chunk})
		if err != nil {
			log.Warn("delete failed: those messages come again", "err", err)
			continue
		}
		for _, f := range out.Failed {
			log.Warn("delete failed: the message comes again", "entry", aws.ToString(f.Id), "code", aws.ToString(f.Code), "message", aws.ToString(f.Message))
		}
	}
	return b
}

// BatchItemFailures reads a partial batch response as Lambda does: null,
// empty, {} or an empty list mean every record succeeded; an invalid
// document, an empty or missing itemIdentifier, or one that is not in the
// batch make the whole batch a failure (the error).
func BatchItemFailures(resp []byte, batch map[string]sqstypes.Message) ([]string, error) {
	if len(resp) == 0 || string(resp) == "null" {
		return nil, nil
	}
	var doc struct {
		BatchItemFailures []map[string]*string `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(resp, &doc); err != nil {
		return nil, fmt.Errorf("response %.200q is not a partial batch response: %w", resp, err)
	}
	var ids []string
	for _, f := range doc.BatchItemFailures {
		id := f["itemIdentifier"]
		if id == nil || *id == "" {
			return nil, fmt.Errorf("a batchItemFailures entry has no itemIdentifier: %.200s", resp)
		}
		if _, ok := batch[*id]; !ok {
			return nil, fmt.Errorf("itemIdentifier %q is not a message of the batch", *id)
		}
		ids = append(ids, *id)
	}
	return ids, nil
}

// record is the event record Lambda makes of a message.
func (s *SQSEventSource) record(m sqstypes.Message) events.SQSMessage {
	r := events.SQSMessage{
		MessageId:              aws.ToString(m.MessageId),
		ReceiptHandle:          aws.ToString(m.ReceiptHandle),
		Body:                   aws.ToString(m.Body),
		Md5OfBody:              aws.ToString(m.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes:             m.Attributes,
		MessageAttributes:      map[string]events.SQSMessageAttribute{},
		EventSource:            "aws:sqs",
		EventSourceARN:         s.QueueARN,
		AWSRegion:              s.Region,
	}
	if r.Attributes == nil {
		r.Attributes = map[string]string{}
	}
	for k, a := range m.MessageAttributes {
		r.MessageAttributes[k] = events.SQSMessageAttribute{
			StringValue: a.StringValue, BinaryValue: a.BinaryValue,
			StringListValues: a.StringListValues, BinaryListValues: a.BinaryListValues,
			DataType: aws.ToString(a.DataType),
		}
	}
	return r
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
