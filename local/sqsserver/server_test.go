package sqsserver_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
	"github.com/imagepipe/imagepipe/local/queue"
)

func client(st *local.Stack) *sqs.Client { return sqs.NewFromConfig(st.AWSConfig()) }

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestMoveTasks: a dead-letter queue's messages moved back to the queue
// that dead-lettered them, one task at a time, counted, and refused for a
// queue that is no dead-letter queue.
func TestMoveTasks(t *testing.T) {
	ctx := context.Background()
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	c := client(st)
	dlq := st.Queue(local.ProcessDLQ)
	for i := range 25 {
		if _, err := dlq.Send(ctx, []byte(`{"n":`+string(rune('a'+i))+`}`)); err != nil {
			t.Fatal(err)
		}
	}
	arn := func(n string) *string {
		return aws.String("arn:aws:sqs:" + local.Region + ":" + local.Account + ":" + n)
	}
	task, err := c.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: arn(local.ProcessDLQ), DestinationArn: arn(local.ProcessQueue)})
	if err != nil {
		t.Fatal(err)
	}
	var last sqstypes.ListMessageMoveTasksResultEntry
	for deadline := time.Now().Add(10 * time.Second); ; {
		l, err := c.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: arn(local.ProcessDLQ)})
		if err != nil {
			t.Fatal(err)
		}
		last = l.Results[0]
		if aws.ToString(last.Status) != "RUNNING" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if aws.ToString(last.Status) != "COMPLETED" || last.ApproximateNumberOfMessagesMoved != 25 || aws.ToInt64(last.ApproximateNumberOfMessagesToMove) != 25 || last.TaskHandle != nil {
		t.Errorf("task %s: %+v, want COMPLETED, 25 of 25 moved, no handle once done", aws.ToString(task.TaskHandle), last)
	}
	stats, _ := st.Queue(local.ProcessQueue).Stats(ctx)
	left, _ := dlq.Stats(ctx)
	if stats.Visible != 25 || left.Visible+left.InFlight != 0 {
		t.Errorf("process queue holds %+v, the DLQ %+v; want all 25 moved", stats, left)
	}
	msgs, _ := st.Queue(local.ProcessQueue).Receive(ctx, 1)
	if len(msgs) != 1 || msgs[0].ReceiveCount != 1 {
		t.Errorf("a moved message starts its receives again: %+v", msgs)
	}

	_, err = c.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: arn(local.ProcessQueue)})
	if code := errorCode(err); code != "InvalidParameterValue" || !strings.Contains(err.Error(), "Dead Letter Queue") {
		t.Errorf("from a queue that is no DLQ: %v (%s)", err, code)
	}
	_, err = c.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: arn("nope")})
	if code := errorCode(err); code != "ResourceNotFoundException" {
		t.Errorf("from a missing queue: %v (%s)", err, code)
	}
	// Without a destination: back to the one queue that dead-letters there.
	if _, err := dlq.Send(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: arn(local.ProcessDLQ), MaxNumberOfMessagesPerSecond: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	// The process queue dead-letters into the inbox, the inbox into the DLQ
	// (where the deadletter function parks what it handled).
	for dl, src := range map[string]string{local.ProcessDLQ: local.ProcessDLQInbox, local.ProcessDLQInbox: local.ProcessQueue} {
		srcs, err := c.ListDeadLetterSourceQueues(ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(st.EdgeURL() + "/" + local.Account + "/" + dl)})
		if err != nil || len(srcs.QueueUrls) != 1 || !strings.HasSuffix(srcs.QueueUrls[0], "/"+src) {
			t.Errorf("list-dead-letter-source-queues of %s: %v %+v, want %s", dl, err, srcs, src)
		}
	}
}

// TestLongPollAndBatch: a receive that waits wakes when a message comes;
// a batch delete says which entries failed.
func TestLongPollAndBatch(t *testing.T) {
	ctx := context.Background()
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	c := client(st)
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("poll")})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *sqs.ReceiveMessageOutput, 1)
	go func() {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 10})
		if err != nil {
			t.Error(err)
		}
		got <- out
	}()
	time.Sleep(200 * time.Millisecond) // the receive is waiting (or not yet: either way it gets the message)
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("hello")}); err != nil {
		t.Fatal(err)
	}
	select {
	case out := <-got:
		if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "hello" {
			t.Fatalf("long poll got %+v", out.Messages)
		}
		del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: q.QueueUrl, Entries: []sqstypes.DeleteMessageBatchRequestEntry{
			{Id: aws.String("a"), ReceiptHandle: out.Messages[0].ReceiptHandle},
			{Id: aws.String("b"), ReceiptHandle: aws.String("garbage")},
		}})
		if err != nil || len(del.Successful) != 1 || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Code) != "ReceiptHandleIsInvalid" {
			t.Errorf("batch delete: %v %+v", err, del)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("the long poll did not wake up for the message")
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("x"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{"a": {DataType: aws.String("String"), StringValue: aws.String("b")}}})
	if code := errorCode(err); code != "InvalidParameterValue" {
		t.Errorf("attributes the local queue cannot keep: %v (%s)", err, code)
	}
	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(st.EdgeURL() + "/" + local.Account + "/" + local.ProcessQueue)}); errorCode(err) != "InvalidParameterValue" {
		t.Errorf("deleting the stack's own queue: %v", err)
	}
}

// TestSignaturesAndProtocol: requests are SigV4 verified; the former query
// protocol is refused with what to do.
func TestSignaturesAndProtocol(t *testing.T) {
	ctx := context.Background()
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	cfg := st.AWSConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(st.Credentials().AccessKeyID, "not-the-secret", "")
	_, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{})
	if code := errorCode(err); code != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v (%s)", err, code)
	}
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIANOTKNOWN", "x", "")
	_, err = sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{})
	if code := errorCode(err); code != "InvalidClientTokenId" {
		t.Errorf("unknown key: %v (%s)", err, code)
	}
	req, _ := http.NewRequest(http.MethodPost, st.EdgeURL()+"/", strings.NewReader("Action=ListQueues&Version=2012-11-05"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIA/20261201/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Header.Get("X-Amzn-Query-Error"), "UnsupportedOperation") {
		t.Errorf("query protocol: %s %v", resp.Status, resp.Header)
	}
}

// TestCreatedQueuesEndWithTheStack: a queue made through CreateQueue (a
// tool's) and its messages are gone after a restart; the stack's own stay.
func TestCreatedQueuesEndWithTheStack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	start := func() *local.Stack {
		st, err := local.Start(ctx, local.Config{DataDir: dir, APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", Paused: true})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := start()
	c := client(st)
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("tool")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("left")}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Queue(local.ProcessDLQ).Send(ctx, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st = start()
	defer st.Close(ctx)
	c = client(st)
	if _, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("tool")}); errorCode(err) != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("the tool's queue after a restart: %v", err)
	}
	if n, _ := st.NewQueue("tool", queue.Options{}).Stats(ctx); n.Visible != 0 {
		t.Errorf("its messages are still stored: %+v", n)
	}
	if n, _ := st.Queue(local.ProcessDLQ).Stats(ctx); n.Visible != 1 {
		t.Errorf("the stack's own queue lost its message: %+v", n)
	}
}
