package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/cmd/lambda/internal/lambdatest"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/process"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/metrics"
)

// The upload that testdata/sqs-object-created.json is about.
const (
	imageID   = "5f2b3c4d6e7f80912a3b4c5d6e7f8091"
	uploadKey = "uploads/" + imageID + ".jpg"
	// fixtureETag is the ETag the fixture's event carries.
	fixtureETag = "b1946ac92492d2347c6235b4d2611184"
)

// TestProcessFunction puts a JPEG where the fixture's event says, runs the
// function on the SQS batch and reads the gray output back.
func TestProcessFunction(t *testing.T) {
	st := lambdatest.Start(t, map[string]string{
		process.EnvProcessedBucket: local.ProcessedBucket,
		process.EnvEventBusName:    local.CustomBus,
		metrics.EnvStack:           local.StackName,
	})
	ctx := context.Background()
	s3c := st.S3Client()

	src := color.NRGBA{R: 200, G: 100, B: 50, A: 255}
	img := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = src.R, src.G, src.B, src.A
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	put, err := s3c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(local.UploadsBucket), Key: aws.String(uploadKey),
		Body: bytes.NewReader(buf.Bytes()), ContentType: aws.String("image/jpeg"),
	})
	if err != nil {
		t.Fatal(err)
	}

	h, err := awsenv.Build(ctx, nil, newHandler)
	if err != nil {
		t.Fatal(err)
	}
	// The event is about the object put above: its ETag (an event about
	// another version of the key would be acknowledged as superseded).
	raw := lambdatest.InvokeEdited(t, h, "sqs-object-created.json", func(s string) string {
		return strings.ReplaceAll(s, fixtureETag, strings.Trim(aws.ToString(put.ETag), `"`))
	})
	var resp events.SQSEventResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("response %s: %v", raw, err)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batchItemFailures %+v", resp.BatchItemFailures)
	}

	out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(local.ProcessedBucket), Key: aws.String("processed/" + imageID + "/gray.jpg")})
	if err != nil {
		t.Fatalf("gray output: %v", err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	gray, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	g, ok := gray.(*image.Gray)
	if !ok || g.Bounds() != img.Bounds() {
		t.Fatalf("gray output is %T %v, want a %v *image.Gray", gray, gray.Bounds(), img.Bounds())
	}
	want := (int(src.R)*299 + int(src.G)*587 + int(src.B)*114) / 1000
	if got := int(g.GrayAt(32, 24).Y); got < want-3 || got > want+3 {
		t.Errorf("gray value %d, want %d±3", got, want)
	}

	// "Image Processed" went to the imagepipe bus, whose rule queued it
	// for notify (paused, so it stays there).
	stats, err := st.Queue(local.NotifyQueue).Stats(ctx)
	if err != nil || stats.Visible != 1 {
		t.Fatalf("notify queue %+v, %v; want the one completion event", stats, err)
	}
	msgs, err := st.Queue(local.NotifyQueue).Receive(ctx, 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("receive: %v %v", msgs, err)
	}
	var ev eventbus.Event
	if err := json.Unmarshal(msgs[0].Body, &ev); err != nil || ev.DetailType != eventbus.DetailTypeProcessed || ev.Source != eventbus.SourceProcess {
		t.Fatalf("completion %s: %v", msgs[0].Body, err)
	}
}
