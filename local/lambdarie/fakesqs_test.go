package lambdarie_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeSQS is an in-memory SQS with visibility timeouts and receive
// counts, for the event sources' unit tests (the moto test in terraform/
// runs them against moto's SQS).
type fakeSQS struct {
	mu    sync.Mutex
	seq   int
	msgs  map[string][]*fakeMsg // by queue URL
	now   func() time.Time
	vis   time.Duration
	sends int
	added chan struct{} // closed and replaced on every add
}

type fakeMsg struct {
	id, body, handle string
	receives         int
	sent, visibleAt  time.Time
}

func newFakeSQS() *fakeSQS {
	return &fakeSQS{msgs: map[string][]*fakeMsg{}, now: time.Now, vis: 30 * time.Second, added: make(chan struct{})}
}

func (f *fakeSQS) add(url, body string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("msg-%d", f.seq)
	f.msgs[url] = append(f.msgs[url], &fakeMsg{id: id, body: body, sent: f.now()})
	close(f.added)
	f.added = make(chan struct{})
	return id
}

// count returns the visible and the hidden messages of a queue.
func (f *fakeSQS) count(url string) (visible, hidden int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs[url] {
		if f.now().Before(m.visibleAt) {
			hidden++
		} else {
			visible++
		}
	}
	return
}

func (f *fakeSQS) bodies(url string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.msgs[url] {
		out = append(out, m.body)
	}
	return out
}

// reveal makes every message of url visible (the visibility timeout ran
// out).
func (f *fakeSQS) reveal(url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs[url] {
		m.visibleAt = time.Time{}
	}
}

// ReceiveMessage long-polls as SQS does: with WaitTimeSeconds and an
// empty queue it waits for a send.
func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	deadline := time.After(time.Duration(in.WaitTimeSeconds) * time.Second)
	for {
		out, added := f.receive(in)
		if len(out.Messages) > 0 || in.WaitTimeSeconds == 0 {
			return out, nil
		}
		select {
		case <-added:
		case <-deadline:
			return out, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (f *fakeSQS) receive(in *sqs.ReceiveMessageInput) (*sqs.ReceiveMessageOutput, chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vis := f.vis
	if in.VisibilityTimeout > 0 {
		vis = time.Duration(in.VisibilityTimeout) * time.Second
	}
	out := &sqs.ReceiveMessageOutput{}
	for _, m := range f.msgs[aws.ToString(in.QueueUrl)] {
		if len(out.Messages) >= int(in.MaxNumberOfMessages) {
			break
		}
		if f.now().Before(m.visibleAt) {
			continue
		}
		m.receives++
		m.visibleAt = f.now().Add(vis)
		f.seq++
		m.handle = fmt.Sprintf("rh-%d", f.seq)
		out.Messages = append(out.Messages, sqstypes.Message{
			MessageId: aws.String(m.id), ReceiptHandle: aws.String(m.handle), Body: aws.String(m.body),
			Attributes: map[string]string{
				"ApproximateReceiveCount": strconv.Itoa(m.receives),
				"SentTimestamp":           strconv.FormatInt(m.sent.UnixMilli(), 10),
			},
		})
	}
	return out, f.added
}

func (f *fakeSQS) find(url, handle string) (int, bool) {
	for i, m := range f.msgs[url] {
		if m.handle == handle {
			return i, true
		}
	}
	return 0, false
}

func (f *fakeSQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	url := aws.ToString(in.QueueUrl)
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		i, ok := f.find(url, aws.ToString(e.ReceiptHandle))
		if !ok {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ReceiptHandleIsInvalid")})
			continue
		}
		f.msgs[url] = append(f.msgs[url][:i], f.msgs[url][i+1:]...)
		out.Successful = append(out.Successful, sqstypes.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	url := aws.ToString(in.QueueUrl)
	i, ok := f.find(url, aws.ToString(in.ReceiptHandle))
	if !ok {
		return nil, fmt.Errorf("ReceiptHandleIsInvalid")
	}
	f.msgs[url][i].visibleAt = f.now().Add(time.Duration(in.VisibilityTimeout) * time.Second)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	id := f.add(aws.ToString(in.QueueUrl), aws.ToString(in.MessageBody))
	f.mu.Lock()
	f.sends++
	f.mu.Unlock()
	return &sqs.SendMessageOutput{MessageId: aws.String(id)}, nil
}

// invokerFunc is an Invoker from a function.
type invokerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}
