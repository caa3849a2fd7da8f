package sqsserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// BenchmarkSendReceiveDelete is one message's round trip through the
// edge's SQS protocol with the SDK (SigV4 verified, durable queue):
// SendMessage, ReceiveMessage, DeleteMessage; and the same ten at a time
// (SendMessage ×10, one ReceiveMessage and one DeleteMessageBatch).
func BenchmarkSendReceiveDelete(b *testing.B) {
	ctx := context.Background()
	st := localtest.Start(b, func(c *local.Config) { c.Paused = true })
	c := sqs.NewFromConfig(st.AWSConfig())
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	body := aws.String(`{"version":"0","source":"aws.s3","detail-type":"Object Created","detail":{"object":{"key":"uploads/cat.jpg"}}}`)
	b.Run("one", func(b *testing.B) {
		c0 := localtest.CPUTime()
		for b.Loop() {
			if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: body}); err != nil {
				b.Fatal(err)
			}
			out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl})
			if err != nil || len(out.Messages) != 1 {
				b.Fatal(err, len(out.Messages))
			}
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(localtest.CPUTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})
	b.Run("batch-of-10", func(b *testing.B) {
		c0 := localtest.CPUTime()
		for b.Loop() {
			for range 10 {
				if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: body}); err != nil {
					b.Fatal(err)
				}
			}
			out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
			if err != nil || len(out.Messages) != 10 {
				b.Fatal(err, len(out.Messages))
			}
			var del []sqstypes.DeleteMessageBatchRequestEntry
			for i, m := range out.Messages {
				del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(string(rune('a' + i))), ReceiptHandle: m.ReceiptHandle})
			}
			if _, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: q.QueueUrl, Entries: del}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(localtest.CPUTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})
}
