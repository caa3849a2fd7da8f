package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/deadletter"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// signal is an io.Writer that says when a text was written.
type signalWriter struct {
	mu   sync.Mutex
	b    bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestCommandsOnAWS runs events tail, dlq list and retry with --aws
// against moto_server through the default SDK configuration, with the
// resources named as Terraform names them: what moto can check of the AWS
// side (it has no StartMessageMoveTask, so dlq redrive is checked on the
// local edge only).
func TestCommandsOnAWS(t *testing.T) {
	endpoint := localtest.Moto(t)
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eb, sqsc := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("imagepipe")}); err != nil {
		t.Fatal(err)
	}

	t.Run("events tail", func(t *testing.T) {
		var out bytes.Buffer
		errw := &signalWriter{want: ": tailing ", seen: make(chan struct{})}
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"events", "tail", "--aws", "--json", "--count", "2", "--timeout", "60s"}, &out, errw)
		}()
		select {
		case <-errw.seen:
		case code := <-done:
			t.Fatalf("tail ended at once: %d\n%s", code, errw.String())
		}
		for _, e := range []struct{ bus, dt string }{{"default", "On the default bus"}, {"imagepipe", "On the imagepipe bus"}} {
			if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
				EventBusName: aws.String(e.bus), Source: aws.String("imagepipe.test"), DetailType: aws.String(e.dt), Detail: aws.String(`{"n":1}`)}}}); err != nil {
				t.Fatal(err)
			}
		}
		if code := <-done; code != 0 {
			t.Fatalf("tail: exit %d\n%s", code, errw.String())
		}
		var types []string
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var ev eventbus.Event
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			types = append(types, ev.DetailType)
		}
		if strings.Join(types, ",") != "On the default bus,On the imagepipe bus" && strings.Join(types, ",") != "On the imagepipe bus,On the default bus" {
			t.Errorf("tail printed %v", types)
		}
		qs, _ := sqsc.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(tailPrefix)})
		var rules []string
		for _, bus := range []string{"default", "imagepipe"} {
			rs, _ := eb.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(bus), NamePrefix: aws.String(tailPrefix)})
			for _, r := range rs.Rules {
				rules = append(rules, aws.ToString(r.Name))
			}
		}
		if len(qs.QueueUrls) != 0 || len(rules) != 0 {
			t.Errorf("left on AWS: queues %v, rules %v", qs.QueueUrls, rules)
		}
	})

	t.Run("dlq list and retry", func(t *testing.T) {
		uploads, processed := "imagepipe-uploads-test", "imagepipe-processed-test"
		for role, b := range map[string]string{"uploads": uploads, "processed": processed} {
			if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
				t.Fatal(err)
			}
			// As Terraform tags them: the commands find them so.
			if _, err := s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(b), Tagging: &s3types.Tagging{TagSet: []s3types.Tag{
				{Key: aws.String(tagStack), Value: aws.String("imagepipe")}, {Key: aws.String(tagBucket), Value: aws.String(role)}}}}); err != nil {
				t.Fatal(err)
			}
		}
		id := status.NewID()
		key := "uploads/" + id + ".png"
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(uploads), Key: aws.String(key), Body: bytes.NewReader(cliPNG(t, cliImage(8, 8))), ContentType: aws.String("image/png")}); err != nil {
			t.Fatal(err)
		}
		store := status.Store{Client: s3c, Bucket: processed}
		if err := store.Put(ctx, &status.Record{ImageID: id, Status: status.Failed, Key: key, SourceETag: "e", CreatedAt: time.Now(), UpdatedAt: time.Now(),
			Error: &eventbus.ImageError{Code: "retries_exhausted", Message: "gave up", Retryable: true}}); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"imagepipe-process", "imagepipe-process-dlq-inbox", "imagepipe-process-dlq"} {
			if _, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q)}); err != nil {
				t.Fatal(err)
			}
		}
		dlq, _ := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("imagepipe-process-dlq")})
		detail, _ := json.Marshal(eventbus.ObjectCreated{Bucket: eventbus.S3Bucket{Name: uploads}, Object: eventbus.S3Object{Key: key, Size: 10}})
		body, _ := json.Marshal(eventbus.Event{Version: "0", ID: "1", Source: eventbus.SourceS3, DetailType: eventbus.DetailTypeObjectCreated, Time: time.Now(), Detail: detail})
		// As the deadletter function parks it: the event as it came, and
		// the inbox it came from.
		from := "arn:aws:sqs:us-east-1:123456789012:imagepipe-process-dlq-inbox"
		if _, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: dlq.QueueUrl, MessageBody: aws.String(string(body)),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{deadletter.SourceAttribute: {DataType: aws.String("String"), StringValue: &from}}}); err != nil {
			t.Fatal(err)
		}

		var out, errb bytes.Buffer
		if code := run(ctx, []string{"dlq", "list", "--aws", "--json"}, &out, &errb); code != 0 ||
			!strings.Contains(out.String(), `"from":"imagepipe-process-dlq-inbox","image_id":"`+id+`"`) || !strings.Contains(out.String(), `"status":"failed","error":"retries_exhausted"`) {
			t.Fatalf("dlq list --aws: exit %d\n%s%s", code, out.String(), errb.String())
		}
		out.Reset()
		errb.Reset()
		if code := run(ctx, []string{"retry", "--aws", id}, &out, &errb); code != 0 || out.String() != id+": sent again (1 dead letter removed)\n" {
			t.Fatalf("retry --aws: exit %d\n%s%s", code, out.String(), errb.String())
		}
		head, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(uploads), Key: aws.String(key)})
		if err != nil || head.Metadata["imagepipe-retry"] == "" || aws.ToString(head.ContentType) != "image/png" {
			t.Errorf("the upload after retry: %v %+v", err, head)
		}
		left, _ := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, MaxNumberOfMessages: 10})
		if len(left.Messages) != 0 {
			t.Errorf("the dead letter is still there: %+v", left.Messages)
		}
	})
}
