// Package runner is the local stack's Lambda: it calls the same function
// handlers that run on AWS Lambda, through a Handler (the method of
// aws-lambda-go's lambda.Handler, so the JSON round trip is Lambda's), with a timeout per invocation and
// a bound on concurrent invocations.
//
// An SQS mapping reads batches from a queue and honours
// batchItemFailures, like an event source mapping with
// ReportBatchItemFailures
// (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html). An async
// mapping plays Lambda's asynchronous invocation queue for EventBridge
// targets: one event per invocation, retried with backoff, then
// dead-lettered (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html).
package runner

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/imagepipe/imagepipe/internal/gostack"
	"github.com/imagepipe/imagepipe/local/queue"
)

// Mode says how messages are handed to the function.
type Mode int

const (
	// SQS hands batches as events.SQSEvent.
	SQS Mode = iota
	// Async hands each message body as the whole payload.
	Async
)

// Mapping connects a queue to a function.
type Mapping struct {
	Name     string // the function's name, for logs and the Lambda context
	Queue    *queue.Queue
	QueueARN string
	Region   string
	Function Handler
	Mode     Mode
	// BatchSize is the most messages per invocation (SQS mode; default 10).
	BatchSize int
	// Concurrency bounds the invocations at once (default 2).
	Concurrency int
	// Timeout is the function timeout (default 30 s).
	Timeout time.Duration
	// RetryDelay is the first backoff of a failed async invocation; it
	// doubles per attempt (default 1 s).
	RetryDelay time.Duration
	Logger     *slog.Logger

	// maxIdle is the longest wait for a send before the queue is read
	// again (1 s; a test sets it longer to show that no send is missed).
	maxIdle time.Duration
}

func (m *Mapping) defaults() {
	if m.BatchSize <= 0 {
		m.BatchSize = 10
	}
	if m.Mode == Async {
		m.BatchSize = 1
	}
	if m.Concurrency <= 0 {
		m.Concurrency = 2
	}
	if m.Timeout <= 0 {
		m.Timeout = 30 * time.Second
	}
	if m.RetryDelay <= 0 {
		m.RetryDelay = time.Second
	}
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	if m.maxIdle <= 0 {
		m.maxIdle = time.Second
	}
}

// Run polls the queue until ctx is done, then waits for the invocations
// under way to finish (each within its timeout) and returns nil.
func (m *Mapping) Run(ctx context.Context) error {
	m.defaults()
	if m.Queue == nil || m.Function == nil {
		return errors.New("runner: mapping needs a queue and a function")
	}
	slots := make(chan struct{}, m.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		wake := m.Queue.Wait()
		msgs, err := m.Queue.Receive(context.WithoutCancel(ctx), m.BatchSize)
		if err != nil {
			<-slots
			m.Logger.Error("receive failed", "queue", m.Queue.Name(), "err", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		if len(msgs) == 0 {
			<-slots
			if !m.idle(ctx, wake) {
				return nil
			}
			continue
		}
		wg.Add(1)
		go func() {
			gostack.Grow()
			defer func() { <-slots; wg.Done() }()
			m.invoke(context.WithoutCancel(ctx), msgs)
		}()
		// A batch short of BatchSize took every visible message: the next
		// receive would find none unless one was sent since (wake says
		// so). Waiting here saves an empty receive per invocation.
		if len(msgs) < m.BatchSize && !m.idle(ctx, wake) {
			return nil
		}
	}
}

// idle waits for a send, for the next hidden message to become visible
// (at most maxIdle), or for ctx. It returns false when ctx is done.
func (m *Mapping) idle(ctx context.Context, wake <-chan struct{}) bool {
	d := m.maxIdle
	if next, err := m.Queue.NextVisible(ctx); err == nil && !next.IsZero() {
		d = min(max(time.Until(next), 5*time.Millisecond), m.maxIdle)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	return true
}

func (m *Mapping) invoke(ctx context.Context, msgs []queue.Message) {
	var payload []byte
	var err error
	if m.Mode == Async {
		payload = msgs[0].Body
	} else {
		payload, err = json.Marshal(m.sqsEvent(msgs))
		if err != nil {
			m.Logger.Error("encode SQS event", "err", err)
			return
		}
	}
	deadline := time.Now().Add(m.Timeout)
	ictx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	requestID := newRequestID()
	ictx = lambdacontext.NewContext(ictx, &lambdacontext.LambdaContext{
		AwsRequestID:       requestID,
		InvokedFunctionArn: "arn:aws:lambda:" + m.Region + ":000000000000:function:" + m.Name,
	})
	start := time.Now()
	out, err := m.Function.Invoke(ictx, payload)
	log := m.Logger.With("function", m.Name, "request_id", requestID, "messages", len(msgs), "duration_ms", time.Since(start).Milliseconds())
	if err == nil && ictx.Err() != nil {
		err = fmt.Errorf("task timed out after %s", m.Timeout)
	}
	if err != nil {
		log.Warn("invocation failed", "err", err)
		if m.Mode == Async {
			m.retryLater(ctx, msgs[0])
		}
		return // SQS: every message comes back after its visibility timeout
	}
	failed := map[string]bool{}
	if m.Mode == SQS {
		var resp events.SQSEventResponse
		if len(out) > 0 && string(out) != "null" {
			if err := json.Unmarshal(out, &resp); err != nil {
				log.Warn("invalid function response: retrying the whole batch", "err", err)
				return
			}
		}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
	}
	for _, msg := range msgs {
		if failed[msg.ID] {
			continue
		}
		if err := m.Queue.Delete(ctx, msg.ReceiptHandle); err != nil {
			log.Warn("delete failed: the message will come again", "message_id", msg.ID, "err", err)
		}
	}
	log.Debug("invocation done", "failed", len(failed))
}

// retryLater brings a failed async event back after a backoff that doubles
// per attempt; the queue's MaxReceiveCount dead-letters it in the end.
func (m *Mapping) retryLater(ctx context.Context, msg queue.Message) {
	d := m.RetryDelay << (msg.ReceiveCount - 1)
	if err := m.Queue.ChangeVisibility(ctx, msg.ReceiptHandle, d); err != nil {
		m.Logger.Warn("could not schedule the retry: it comes back after the visibility timeout", "err", err)
	}
}

func (m *Mapping) sqsEvent(msgs []queue.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, msg := range msgs {
		sum := md5.Sum(msg.Body)
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:     msg.ID,
			ReceiptHandle: msg.ReceiptHandle,
			Body:          string(msg.Body),
			Md5OfBody:     hex.EncodeToString(sum[:]),
			Attributes: map[string]string{
				"ApproximateReceiveCount":          strconv.Itoa(msg.ReceiveCount),
				"SentTimestamp":                    strconv.FormatInt(msg.SentAt.UnixMilli(), 10),
				"ApproximateFirstReceiveTimestamp": strconv.FormatInt(msg.FirstReceived.UnixMilli(), 10),
				"SenderId":                         "AIDAIMAGEPIPELOCAL",
			},
			MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSource:       "aws:sqs",
			EventSourceARN:    m.QueueARN,
			AWSRegion:         m.Region,
		})
	}
	return ev
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
