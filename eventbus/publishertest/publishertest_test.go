package publishertest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/eventbus/publishertest"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/bus"
	"github.com/imagepipe/imagepipe/local/localtest"
	"github.com/imagepipe/imagepipe/local/queue"
)

const contractPattern = `{"source":["` + publishertest.Source + `"]}`

func suffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TestLocalStack runs the contract against the EventBridge adapter over
// the local stack's edge, reading back from a queue target of a rule added
// to the stack's bus "imagepipe".
func TestLocalStack(t *testing.T) {
	st, err := local.Start(context.Background(), local.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	client := eventbridge.NewFromConfig(st.AWSConfig())

	publishertest.Run(t, func(t *testing.T) publishertest.Fixture {
		name := "contract-" + suffix()
		q := st.NewQueue(name, queue.Options{})
		if err := st.Router().AddRule(&bus.Rule{Name: name, Bus: local.CustomBus, Pattern: contractPattern, Target: q}); err != nil {
			t.Fatal(err)
		}
		return publishertest.Fixture{
			Publisher: eventbus.NewEventBridge(client, local.CustomBus),
			Account:   local.Account,
			Region:    local.Region,
			Receive:   func(ctx context.Context) ([]eventbus.Event, error) { return receiveLocal(ctx, q) },
		}
	})
}

// receiveLocal takes what the queue holds, waiting up to half a second for
// a first message.
func receiveLocal(ctx context.Context, q *queue.Queue) ([]eventbus.Event, error) {
	wait := time.NewTimer(500 * time.Millisecond)
	defer wait.Stop()
	for {
		woken := q.Wait()
		msgs, err := q.Receive(ctx, 10)
		if err != nil {
			return nil, err
		}
		if len(msgs) > 0 {
			out := make([]eventbus.Event, 0, len(msgs))
			for _, m := range msgs {
				var ev eventbus.Event
				if err := json.Unmarshal(m.Body, &ev); err != nil {
					return nil, fmt.Errorf("message %s: %w", m.ID, err)
				}
				out = append(out, ev)
				if err := q.Delete(ctx, m.ReceiptHandle); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		select {
		case <-woken:
		case <-wait.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TestMoto runs the contract against moto_server's EventBridge: a custom
// bus, a rule per subtest with an SQS queue target that the test reads.
func TestMoto(t *testing.T) {
	endpoint := localtest.Moto(t)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
	}
	eb := eventbridge.NewFromConfig(cfg)
	sq := sqs.NewFromConfig(cfg)
	ctx := context.Background()
	busName := "contract-" + suffix()
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(busName)}); err != nil {
		t.Fatal(err)
	}

	publishertest.Run(t, func(t *testing.T) publishertest.Fixture {
		name := "contract-" + suffix()
		q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(busName), EventPattern: aws.String(contractPattern)}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(busName),
			Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
			t.Fatal(err)
		}
		// Each subtest has its own rule: remove it after, so that moto does
		// not deliver later subtests' events to this queue too.
		t.Cleanup(func() {
			_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(name), EventBusName: aws.String(busName), Ids: []string{"queue"}})
			_, _ = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(name), EventBusName: aws.String(busName)})
		})
		return publishertest.Fixture{
			Publisher: eventbus.NewEventBridge(eb, busName),
			Account:   "",
			Region:    "us-east-1",
			Receive: func(ctx context.Context) ([]eventbus.Event, error) {
				out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
				if err != nil {
					return nil, err
				}
				if len(out.Messages) == 0 {
					// moto's long polling hands out one message per call,
					// so the test polls without it, a little apart.
					t := time.NewTimer(200 * time.Millisecond)
					defer t.Stop()
					select {
					case <-t.C:
					case <-ctx.Done():
					}
					return nil, nil
				}
				evs := make([]eventbus.Event, 0, len(out.Messages))
				for _, m := range out.Messages {
					var ev eventbus.Event
					if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
						return nil, fmt.Errorf("message body %s: %w", aws.ToString(m.Body), err)
					}
					evs = append(evs, ev)
					if _, err := sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
						return nil, err
					}
				}
				return evs, nil
			},
		}
	})
}
