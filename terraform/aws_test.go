//go:build unix

package terraform_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/notify"
	"github.com/imagepipe/imagepipe/functions/presign"
	"github.com/imagepipe/imagepipe/functions/process"
)

const testRegion = "us-east-1"

// stackOutputs are the terraform outputs the flow needs.
type stackOutputs struct {
	APIURL                 string                       `json:"api_url"`
	UploadsBucket          string                       `json:"uploads_bucket"`
	ProcessedBucket        string                       `json:"processed_bucket"`
	EventBusName           string                       `json:"event_bus_name"`
	UploadsArchiveName     string                       `json:"uploads_archive_name"`
	CompletionsArchiveName string                       `json:"completions_archive_name"`
	ProcessQueueURL        string                       `json:"process_queue_url"`
	ProcessDLQURL          string                       `json:"process_dlq_url"`
	EventsDLQURL           string                       `json:"events_dlq_url"`
	TapQueueURL            string                       `json:"tap_queue_url"`
	RuleARNs               map[string]string            `json:"rule_arns"`
	FunctionEnvironment    map[string]map[string]string `json:"function_environment"`
}

// TestMotoApplyAndFlow applies the stack to moto_server with emulator = true,
// runs one image through the real handlers against moto's S3, SQS and
// EventBridge, replays the uploads archive, and destroys the stack.
func TestMotoApplyAndFlow(t *testing.T) {
	tfBin := requireTool(t, "terraform")
	motoBin := requireTool(t, "moto_server")
	pluginDir := os.Getenv("TF_PLUGIN_DIR")
	if pluginDir == "" {
		pluginDir = "/opt/tf-plugins"
	}
	if _, err := os.Stat(pluginDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("terraform provider mirror %s is required under CI=true: %v", pluginDir, err)
		}
		t.Skipf("terraform provider mirror %s is missing (set TF_PLUGIN_DIR): %v", pluginDir, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	endpoint := startMoto(t, motoBin)

	// A working copy laid out like the repository, so that
	// ${path.module}/../eventbus/patterns resolves, with stand-in zips
	// (moto stores function code but never runs it).
	work := t.TempDir()
	tfDir := filepath.Join(work, "terraform")
	copyFiles(t, ".", tfDir, "*.tf")
	copyFiles(t, filepath.Join("..", "eventbus", "patterns"), filepath.Join(work, "eventbus", "patterns"), "*.json")
	copyFiles(t, filepath.Join("..", "web", "static"), filepath.Join(work, "web", "static"), "*")
	dist := filepath.Join(work, "dist")
	writeStandInZips(t, dist, "presign", "process", "notify")

	tf := newTerraformCLI(t, tfBin, tfDir)
	vars := []string{
		"-var", "emulator=true",
		"-var", "aws_endpoint_url=" + endpoint,
		"-var", "region=" + testRegion,
		"-var", "lambda_dist_dir=" + dist,
		"-var", "force_destroy_buckets=true",
		"-var", `cors_allowed_origins=["` + testPageOrigin + `"]`,
	}

	if _, err := tf.run(ctx, "init", "-input=false", "-no-color", "-plugin-dir="+pluginDir); err != nil {
		t.Fatal(err)
	}

	// Destroy whatever was created, even after a failed apply or flow.
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer dcancel()
		start := time.Now()
		args := append([]string{"destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false", "-parallelism=32"}, vars...)
		out, err := tf.run(dctx, args...)
		if err != nil {
			t.Errorf("destroy: %v", err)
			return
		}
		t.Logf("destroy took %s; slowest: %s", time.Since(start).Round(time.Second), slowest(out, 5))
	})

	start := time.Now()
	applyOut, err := tf.run(ctx, append([]string{"apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=32"}, vars...)...)
	if err != nil {
		t.Fatal(err)
	}
	added, err := addedCount(applyOut)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("apply against moto: %d resources in %s; slowest: %s", added, time.Since(start).Round(time.Second), slowest(applyOut, 5))

	var out stackOutputs
	if err := tf.outputs(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if out.TapQueueURL == "" {
		t.Fatal("tap_queue_url is empty with emulator = true")
	}
	if !strings.HasSuffix(out.APIURL, "/prod") {
		t.Errorf("api_url = %q, want the prod stage URL", out.APIURL)
	}

	checkSiteAndAPI(ctx, t, endpoint, tf)
	runFlow(ctx, t, endpoint, out)
}

func writeStandInZips(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
		hdr.SetMode(0o755)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "#!/bin/sh\necho 'stand-in for %s: moto does not run functions' >&2\nexit 1\n", name)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".zip"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// awsConfig is an SDK configuration that talks to moto only.
func awsConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// setFunctionEnv sets the environment terraform gave a function, so the
// handler's ConfigFromEnv reads exactly what Lambda would.
func setFunctionEnv(t *testing.T, out stackOutputs, function string) {
	t.Helper()
	env, ok := out.FunctionEnvironment[function]
	if !ok || len(env) == 0 {
		t.Fatalf("no environment for function %q in the outputs", function)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func runFlow(ctx context.Context, t *testing.T, endpoint string, out stackOutputs) {
	cfg := awsConfig(endpoint)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	sqsc := sqs.NewFromConfig(cfg)
	ebc := eventbridge.NewFromConfig(cfg)
	logger := slog.New(slog.NewJSONHandler(t.Output(), nil))

	// --- the three handlers, configured from the environment terraform set
	setFunctionEnv(t, out, "presign")
	pcfg, err := presign.ConfigFromEnv()
	if err != nil {
		t.Fatalf("presign config from the terraform environment: %v", err)
	}
	api, err := presign.New(pcfg, s3c, logger)
	if err != nil {
		t.Fatal(err)
	}
	setFunctionEnv(t, out, "process")
	wcfg, err := process.ConfigFromEnv()
	if err != nil {
		t.Fatalf("process config from the terraform environment: %v", err)
	}
	worker, err := process.New(wcfg, s3c, eventbus.NewEventBridge(ebc, wcfg.EventBusName), logger)
	if err != nil {
		t.Fatal(err)
	}
	setFunctionEnv(t, out, "notify")
	ncfg, err := notify.ConfigFromEnv()
	if err != nil {
		t.Fatalf("notify config from the terraform environment: %v", err)
	}
	notifier, err := notify.New(ncfg, s3c, logger)
	if err != nil {
		t.Fatal(err)
	}

	// --- 1. POST /v1/uploads through the API Gateway adapter
	img := testJPEG(t, 64, 48)
	uploadStarted := time.Now().UTC()
	resp, err := api.HandleAPIGateway(ctx, events.APIGatewayProxyRequest{
		HTTPMethod: http.MethodPost,
		Resource:   "/v1/uploads",
		Path:       "/v1/uploads",
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       fmt.Sprintf(`{"filename":"cat.jpg","content_type":"image/jpeg","size":%d}`, len(img)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/uploads: status %d, body %s", resp.StatusCode, resp.Body)
	}
	var created struct {
		ImageID string `json:"image_id"`
		Key     string `json:"key"`
		Upload  struct {
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"upload"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &created); err != nil {
		t.Fatalf("POST /v1/uploads body %s: %v", resp.Body, err)
	}
	if created.ImageID == "" || !strings.HasPrefix(created.Key, "uploads/") || created.Upload.URL == "" {
		t.Fatalf("POST /v1/uploads answered %s", resp.Body)
	}
	if st := imageStatus(ctx, t, api, created.ImageID); st.Status != "pending" {
		t.Errorf("status before processing = %q, want pending", st.Status)
	}

	// --- 2. PUT the bytes to the presigned URL
	putReq, err := http.NewRequestWithContext(ctx, created.Upload.Method, created.Upload.URL, bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range created.Upload.Headers {
		putReq.Header.Set(k, v)
	}
	putReq.ContentLength = int64(len(img))
	putResp, err := http.DefaultClient.Do(putReq)
	if err != nil {
		t.Fatal(err)
	}
	putBody, _ := io.ReadAll(putResp.Body)
	putResp.Body.Close()
	if putResp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to presigned URL: %s %s", putResp.Status, putBody)
	}

	// --- 3. the S3 event reaches the process queue through the uploads rule
	queueARN := queueAttribute(ctx, t, sqsc, out.ProcessQueueURL, sqstypes.QueueAttributeNameQueueArn)
	msgs := receiveMatching(ctx, t, sqsc, out.ProcessQueueURL, 30*time.Second, func(ev eventbus.Event) bool {
		return ev.Source == eventbus.SourceS3 && objectKey(ev) == created.Key && ev.ReplayName == ""
	})
	var s3ev eventbus.Event
	if err := json.Unmarshal([]byte(*msgs[0].Body), &s3ev); err != nil {
		t.Fatal(err)
	}
	if s3ev.DetailType != eventbus.DetailTypeObjectCreated {
		t.Errorf("queued event detail-type = %q, want %q", s3ev.DetailType, eventbus.DetailTypeObjectCreated)
	}

	// --- 4. the process handler on the received batch (as the event source mapping would)
	processBatch(ctx, t, worker, sqsc, out.ProcessQueueURL, queueARN, msgs)
	// The worker marked it (a conditional write on moto's S3); notify has not run.
	if st := imageStatus(ctx, t, api, created.ImageID); st.Status != "processing" {
		t.Errorf("status after the worker, before notify = %q, want processing", st.Status)
	}

	// --- 5. the completion event arrives on the tap, and its outputs exist
	tapped := receiveMatching(ctx, t, sqsc, out.TapQueueURL, 30*time.Second, func(ev eventbus.Event) bool {
		return ev.Source == eventbus.SourceProcess && strings.Contains(string(ev.Detail), created.ImageID)
	})
	var done eventbus.Event
	if err := json.Unmarshal([]byte(*tapped[0].Body), &done); err != nil {
		t.Fatal(err)
	}
	if done.DetailType != eventbus.DetailTypeProcessed {
		t.Fatalf("completion event %q, want %q: %s", done.DetailType, eventbus.DetailTypeProcessed, done.Detail)
	}
	var detail eventbus.ImageDetail
	if err := json.Unmarshal(done.Detail, &detail); err != nil {
		t.Fatal(err)
	}
	if detail.ImageID != created.ImageID {
		t.Errorf("completion image_id = %q, want %q", detail.ImageID, created.ImageID)
	}
	names := map[string]eventbus.Output{}
	for _, o := range detail.Outputs {
		names[o.Name] = o
		if o.Bucket != out.ProcessedBucket || !strings.HasPrefix(o.Key, "processed/"+created.ImageID+"/") {
			t.Errorf("output %s at s3://%s/%s, want under s3://%s/processed/%s/", o.Name, o.Bucket, o.Key, out.ProcessedBucket, created.ImageID)
		}
	}
	gray, ok := names["gray"]
	if !ok {
		t.Fatalf("completion event has no gray output: %s", done.Detail)
	}
	if _, ok := names["thumb"]; !ok {
		t.Errorf("completion event has no thumb output: %s", done.Detail)
	}
	checkGray(ctx, t, s3c, gray, 64, 48)

	// --- 6. notify on the completion event, then the status is readable
	if err := notifier.Handle(ctx, done); err != nil {
		t.Fatalf("notify: %v", err)
	}
	deleteMessages(ctx, t, sqsc, out.TapQueueURL, tapped)
	st := imageStatus(ctx, t, api, created.ImageID)
	if st.Status != "done" {
		t.Fatalf("status after notify = %q, want done", st.Status)
	}
	grayURL := st.Outputs["gray"].URL
	if grayURL == "" {
		t.Fatalf("status has no gray URL: %+v", st)
	}
	getResp, err := http.Get(grayURL)
	if err != nil {
		t.Fatal(err)
	}
	grayBytes, _ := io.ReadAll(getResp.Body)
	getResp.Body.Close()
	if getResp.StatusCode != http.StatusOK || int64(len(grayBytes)) != gray.Bytes {
		t.Errorf("GET presigned gray URL: %s, %d bytes, want 200 and %d bytes", getResp.Status, len(grayBytes), gray.Bytes)
	}

	// --- 7. StartReplay of the uploads archive re-delivers the upload event.
	// moto's S3 hands its events to the rules directly and never to an
	// archive, so the test puts the very event S3 sent on the default bus
	// itself (what S3 does on AWS); the archive's pattern decides whether it
	// is kept.
	put, err := ebc.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String("default"),
		Source:       aws.String(s3ev.Source),
		DetailType:   aws.String(s3ev.DetailType),
		Detail:       aws.String(string(s3ev.Detail)),
		Resources:    s3ev.Resources,
		Time:         aws.Time(s3ev.Time),
	}}})
	if err != nil || put.FailedEntryCount != 0 {
		t.Fatalf("put the S3 event on the default bus: %v %+v", err, put)
	}
	direct := receiveMatching(ctx, t, sqsc, out.ProcessQueueURL, 30*time.Second, func(ev eventbus.Event) bool {
		return ev.ReplayName == "" && objectKey(ev) == created.Key
	})
	deleteMessages(ctx, t, sqsc, out.ProcessQueueURL, direct)
	archive, err := ebc.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String(out.UploadsArchiveName)})
	if err != nil {
		t.Fatal(err)
	}
	replayName := fmt.Sprintf("test-%d", time.Now().UnixNano())
	if _, err := ebc.StartReplay(ctx, &eventbridge.StartReplayInput{
		ReplayName:     aws.String(replayName),
		EventSourceArn: archive.ArchiveArn,
		EventStartTime: aws.Time(uploadStarted.Add(-time.Minute)),
		EventEndTime:   aws.Time(time.Now().UTC()),
		Destination: &ebtypes.ReplayDestination{
			Arn:        archive.EventSourceArn,
			FilterArns: []string{out.RuleARNs["uploads-to-queue"]},
		},
	}); err != nil {
		t.Fatalf("StartReplay: %v", err)
	}
	replayed := receiveMatching(ctx, t, sqsc, out.ProcessQueueURL, 30*time.Second, func(ev eventbus.Event) bool {
		return ev.ReplayName == replayName && objectKey(ev) == created.Key
	})
	// A replayed duplicate of a finished image is a no-op success.
	processBatch(ctx, t, worker, sqsc, out.ProcessQueueURL, queueARN, replayed)

	// Nothing went to a dead-letter queue.
	for _, q := range []string{out.ProcessDLQURL, out.EventsDLQURL} {
		if n := queueAttribute(ctx, t, sqsc, q, sqstypes.QueueAttributeNameApproximateNumberOfMessages); n != "0" {
			t.Errorf("%s holds %s messages, want 0", q, n)
		}
	}
}

// testJPEG is a colourful w x h JPEG.
func testJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 200, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type statusOutput struct {
	URL string `json:"url"`
}

type imageStatusBody struct {
	ImageID string                  `json:"image_id"`
	Status  string                  `json:"status"`
	Outputs map[string]statusOutput `json:"outputs"`
}

// imageStatus asks GET /v1/images/{id} through the API Gateway adapter.
func imageStatus(ctx context.Context, t *testing.T, api *presign.Handler, id string) imageStatusBody {
	t.Helper()
	resp, err := api.HandleAPIGateway(ctx, events.APIGatewayProxyRequest{
		HTTPMethod:     http.MethodGet,
		Resource:       "/v1/images/{id}",
		Path:           "/v1/images/" + id,
		PathParameters: map[string]string{"id": id},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/images/%s: status %d, body %s", id, resp.StatusCode, resp.Body)
	}
	var st imageStatusBody
	if err := json.Unmarshal([]byte(resp.Body), &st); err != nil {
		t.Fatalf("GET /v1/images/%s body %s: %v", id, resp.Body, err)
	}
	if st.ImageID != id {
		t.Errorf("GET /v1/images/%s answered image_id %q", id, st.ImageID)
	}
	return st
}

func queueAttribute(ctx context.Context, t *testing.T, c *sqs.Client, url string, name sqstypes.QueueAttributeName) string {
	t.Helper()
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{name},
	})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := out.Attributes[string(name)]
	if !ok {
		t.Fatalf("queue %s has no attribute %s", url, name)
	}
	return v
}

// objectKey is detail.object.key of an S3 event ("" for other events).
func objectKey(ev eventbus.Event) string {
	var d eventbus.ObjectCreated
	if json.Unmarshal(ev.Detail, &d) != nil {
		return ""
	}
	return d.Object.Key
}

// receiveMatching long-polls queue url until at least one message whose
// event matches arrives, or fails after timeout. Messages that do not match
// are left alone (they become visible again later).
func receiveMatching(ctx context.Context, t *testing.T, c *sqs.Client, url string, timeout time.Duration, match func(eventbus.Event) bool) []sqstypes.Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var seen []string
	for time.Now().Before(deadline) {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(url),
			MaxNumberOfMessages:         10,
			WaitTimeSeconds:             1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("receive from %s: %v", url, err)
		}
		var matched []sqstypes.Message
		for _, m := range out.Messages {
			var ev eventbus.Event
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err == nil && match(ev) {
				matched = append(matched, m)
				continue
			}
			seen = append(seen, aws.ToString(m.Body))
		}
		if len(matched) > 0 {
			return matched
		}
	}
	t.Fatalf("no matching message on %s within %s; saw %d others: %.2000s", url, timeout, len(seen), strings.Join(seen, "\n"))
	return nil
}

func deleteMessages(ctx context.Context, t *testing.T, c *sqs.Client, url string, msgs []sqstypes.Message) {
	t.Helper()
	for _, m := range msgs {
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatalf("delete message from %s: %v", url, err)
		}
	}
}

// processBatch hands msgs to the worker as the SQS event source mapping
// would, requires every item to succeed, and deletes them as the mapping
// does after a successful batch.
func processBatch(ctx context.Context, t *testing.T, worker *process.Handler, c *sqs.Client, url, queueARN string, msgs []sqstypes.Message) {
	t.Helper()
	ev := events.SQSEvent{}
	for _, m := range msgs {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:      aws.ToString(m.MessageId),
			ReceiptHandle:  aws.ToString(m.ReceiptHandle),
			Body:           aws.ToString(m.Body),
			Md5OfBody:      aws.ToString(m.MD5OfBody),
			Attributes:     m.Attributes,
			EventSource:    "aws:sqs",
			EventSourceARN: queueARN,
			AWSRegion:      testRegion,
		})
	}
	resp, err := worker.Handle(ctx, ev)
	if err != nil {
		t.Fatalf("process handler: %v", err)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("process handler reported failures %+v", resp.BatchItemFailures)
	}
	deleteMessages(ctx, t, c, url, msgs)
}

// checkGray reads the gray output from S3 and checks its size and that
// every pixel is gray.
func checkGray(ctx context.Context, t *testing.T, c *s3.Client, o eventbus.Output, w, h int) {
	t.Helper()
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)})
	if err != nil {
		t.Fatalf("get gray output s3://%s/%s: %v", o.Bucket, o.Key, err)
	}
	defer obj.Body.Close()
	img, _, err := image.Decode(obj.Body)
	if err != nil {
		t.Fatalf("decode gray output: %v", err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("gray output is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	if o.Width != w || o.Height != h {
		t.Errorf("event says gray is %dx%d, want %dx%d", o.Width, o.Height, w, h)
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r != g || g != bl {
				t.Fatalf("gray output pixel (%d,%d) = %d,%d,%d is not gray", x, y, r>>8, g>>8, bl>>8)
			}
		}
	}
}
