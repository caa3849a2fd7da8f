//go:build unix

package terraform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local/lambdarie"
)

// replayCLI is how runFlow runs `imagepipe replay --aws`: the CLI binary,
// and the stack it replays (its Terraform name and region).
type replayCLI struct {
	bin, stack, region string
}

// runFlow is the moto flow through the binaries.
func runFlow(ctx context.Context, t *testing.T, endpoint string, out stackOutputs, replay replayCLI) {
	cfg := awsConfig(endpoint)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	sqsc := sqs.NewFromConfig(cfg)
	ebc := eventbridge.NewFromConfig(cfg)

	h := startHarness(t, endpoint, out, sqsc)
	// The mapping first: notify waits until the worker's mark is seen.
	h.start("sqs")
	defer h.stop()
	api := &apiClient{base: h.apiURL, key: out.APIKey}

	// --- API Gateway answers by itself without the key, and for no route
	if code, body := api.do(ctx, t, http.MethodPost, "/v1/uploads", "", nil); code != http.StatusForbidden || !strings.Contains(body, `"Forbidden"`) {
		t.Errorf("POST /v1/uploads without a key: %d %s, want 403 Forbidden", code, body)
	}
	if code, body := api.do(ctx, t, http.MethodGet, "/v1/nothing", out.APIKey, nil); code != http.StatusForbidden || !strings.Contains(body, "Missing Authentication Token") {
		t.Errorf("GET /v1/nothing: %d %s, want 403 Missing Authentication Token", code, body)
	}

	// --- 1. POST /v1/uploads: API Gateway -> presign binary
	img := testJPEG(t, 64, 48)
	uploadStarted := time.Now().UTC()
	code, body := api.do(ctx, t, http.MethodPost, "/v1/uploads", out.APIKey,
		[]byte(fmt.Sprintf(`{"filename":"cat.jpg","content_type":"image/jpeg","size":%d}`, len(img))))
	if code != http.StatusCreated {
		t.Fatalf("POST /v1/uploads: status %d, body %s", code, body)
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
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatalf("POST /v1/uploads body %s: %v", body, err)
	}
	if created.ImageID == "" || !strings.HasPrefix(created.Key, "uploads/") || !strings.HasPrefix(created.Upload.URL, endpoint+"/") {
		t.Fatalf("POST /v1/uploads answered %s (want a URL presigned for %s)", body, endpoint)
	}
	if st := api.status(ctx, t, created.ImageID); st.Status != "pending" {
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

	// --- 3. S3 -> uploads rule -> queue -> mapping -> process binary: the
	// worker marked the image (a conditional write on moto's S3); notify
	// has not run. Then completion event -> tap -> notify binary: done.
	var first lambdarie.Batch
	var s3ev eventbus.Event
	h.waitFor("the mapping's batch with the Object Created event of "+created.Key, time.Minute, func() bool {
		for _, b := range h.batches {
			for _, r := range b.Records {
				var ev eventbus.Event
				if json.Unmarshal([]byte(r.Body), &ev) == nil && objectKey(ev) == created.Key {
					s3ev, first = ev, b
					return true
				}
			}
		}
		return false
	})
	if s3ev.DetailType != eventbus.DetailTypeObjectCreated || first.Err != nil || len(first.Failed) != 0 {
		t.Fatalf("the upload's batch: detail-type %q, %s", s3ev.DetailType, describe(first))
	}
	if st := api.status(ctx, t, created.ImageID); st.Status != "processing" {
		t.Errorf("status after the worker, before notify = %q, want processing", st.Status)
	}
	h.start("eventbridge")
	var done eventbus.Event
	h.waitFor("the notify binary handling Image Processed of "+created.ImageID, time.Minute, func() bool {
		for _, inv := range h.invokes {
			var ev eventbus.Event
			if json.Unmarshal(inv.Event, &ev) == nil && ev.DetailType == eventbus.DetailTypeProcessed &&
				strings.Contains(string(ev.Detail), created.ImageID) && inv.Err == nil {
				done = ev
				return true
			}
		}
		return false
	})
	var detail eventbus.ImageDetail
	if err := json.Unmarshal(done.Detail, &detail); err != nil {
		t.Fatal(err)
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
	st := api.status(ctx, t, created.ImageID)
	if st.Status != "done" {
		t.Fatalf("status after notify = %q, want done", st.Status)
	}
	grayURL := st.Outputs["gray"].URL
	if grayURL == "" {
		t.Fatalf("status has no gray URL: %+v", st)
	}
	checkListing(ctx, t, api, created.ImageID, uploadStarted.Add(-time.Second))
	getResp, err := http.Get(grayURL)
	if err != nil {
		t.Fatal(err)
	}
	grayBytes, _ := io.ReadAll(getResp.Body)
	getResp.Body.Close()
	if getResp.StatusCode != http.StatusOK || int64(len(grayBytes)) != gray.Bytes {
		t.Errorf("GET presigned gray URL: %s, %d bytes, want 200 and %d bytes", getResp.Status, len(grayBytes), gray.Bytes)
	}

	// --- 4. `imagepipe replay --aws --stack <name>` replays the uploads
	// archive to the uploads rule alone and waits for the image; the
	// mapping hands the replayed event to the process binary, which takes
	// the duplicate as a no-op success and records it. moto's S3 hands its
	// events to the rules directly and never to an archive, so the test puts
	// the event S3 sent on the default bus itself (what S3 does on AWS).
	// moto records the replay's FilterArns but delivers to every matching
	// rule anyway; EventBridge applies it.
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
	replayName := fmt.Sprintf("test-%d", time.Now().UnixNano())
	cmd := exec.CommandContext(ctx, replay.bin, "replay", "--aws", "--stack", replay.stack,
		"--from", uploadStarted.Add(-time.Minute).Format(time.RFC3339), "--to", time.Now().Add(time.Minute).UTC().Format(time.RFC3339),
		"--name", replayName, "--timeout", "2m")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_ENDPOINT_URL=" + endpoint, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=" + replay.region,
		"AWS_CONFIG_FILE=" + filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("imagepipe replay --aws: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Logf("imagepipe replay --aws:\n%s", stdout.String())
	for _, want := range []string{
		"from archive " + out.UploadsArchiveName,
		"to rule " + replay.stack + "-uploads-to-queue of",
		"replay " + replayName + ": completed",
		"waiting for the 1 image uploaded from",
		"replay " + replayName + ": 1 image: 0 redone, 1 skipped as duplicates, 0 failed",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("imagepipe replay output lacks %q", want)
		}
	}
	var replayed lambdarie.Batch
	h.waitFor("the replayed upload event through the mapping", time.Minute, func() bool {
		for _, b := range h.batches {
			for _, r := range b.Records {
				if replayNameOf(r.Body) == replayName {
					replayed = b
					return true
				}
			}
		}
		return false
	})
	if replayed.Err != nil || len(replayed.Failed) != 0 {
		t.Errorf("the replayed duplicate failed: %s", describe(replayed))
	}
	d, err := ebc.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: aws.String(replayName)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Destination.FilterArns, []string{out.RuleARNs["uploads-to-queue"]}) {
		t.Errorf("the replay went to %v, want only the uploads rule %s", d.Destination.FilterArns, out.RuleARNs["uploads-to-queue"])
	}
	h.stop()

	// --- 5. a batch with one poison message: exactly that item fails
	// (left for redelivery), the others are deleted.
	poisonBatch(ctx, t, h, s3c, sqsc, out)

	// --- 6. a missing variable fails the init, with a log line naming it
	missingVariables(ctx, t, h)

	// --- 7. a dead letter ends its image failed, and its redrive done
	deadLetterFlow(ctx, t, h, s3c, sqsc, out)

	// Nothing is left in a dead-letter queue or inbox.
	for _, q := range []string{out.ProcessDLQURL, out.EventsDLQURL, out.ProcessDLQInboxURL, out.EventsDLQInboxURL} {
		if n := queueAttribute(ctx, t, sqsc, q, sqstypes.QueueAttributeNameApproximateNumberOfMessages); n != "0" {
			t.Errorf("%s holds %s messages, want 0", q, n)
		}
	}
}

// poisonBatch puts three images in the uploads bucket (their S3 events
// reach the process queue) and one message about a bucket that does not
// exist (a transient error for the worker, every time), waits for all
// four in the queue, and plays one poll of the mapping with the process
// binary.
func poisonBatch(ctx context.Context, t *testing.T, h *harness, s3c *s3.Client, sqsc *sqs.Client, out stackOutputs) {
	t.Helper()
	role := roleOfQueue(t, out, out.ProcessQueueURL)
	img := testJPEG(t, 32, 24)
	var ids []string
	for i := range 3 {
		id := fmt.Sprintf("%032x", time.Now().UnixNano()+int64(i))
		ids = append(ids, id)
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(out.UploadsBucket), Key: aws.String("uploads/" + id + ".jpg"),
			Body: bytes.NewReader(img), ContentType: aws.String("image/jpeg"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	poisonDetail, _ := json.Marshal(eventbus.ObjectCreated{
		Version: "0", Bucket: eventbus.S3Bucket{Name: "imagepipe-no-such-bucket"},
		Object: eventbus.S3Object{Key: "uploads/" + strings.Repeat("e", 32) + ".jpg", Size: 10, ETag: "0123"},
	})
	poison, _ := json.Marshal(eventbus.Event{
		Version: "0", ID: "poison", DetailType: eventbus.DetailTypeObjectCreated, Source: eventbus.SourceS3,
		Account: "123456789012", Time: time.Now().UTC(), Region: testRegion, Detail: poisonDetail,
	})
	sent, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(out.ProcessQueueURL), MessageBody: aws.String(string(poison))})
	if err != nil {
		t.Fatal(err)
	}
	poisonID := aws.ToString(sent.MessageId)
	waitQueue(ctx, t, sqsc, out.ProcessQueueURL, sqstypes.QueueAttributeNameApproximateNumberOfMessages, "4")

	src := h.sqsSource(role, h.fns[role])
	b, ok, err := src.Poll(ctx)
	if err != nil || !ok {
		t.Fatalf("poll the process queue: ok %v, err %v", ok, err)
	}
	if len(b.Records) != 4 || b.Err != nil {
		t.Fatalf("batch: %s; want the 4 messages and no invocation error", describe(b))
	}
	if !slices.Equal(b.Failed, []string{poisonID}) {
		t.Errorf("batch item failures %v, want exactly the poison message %s", b.Failed, poisonID)
	}
	if len(b.Deleted) != 3 || slices.Contains(b.Deleted, poisonID) {
		t.Errorf("deleted %v, want the 3 other messages", b.Deleted)
	}
	if n := queueAttribute(ctx, t, sqsc, out.ProcessQueueURL, sqstypes.QueueAttributeNameApproximateNumberOfMessages); n != "0" {
		t.Errorf("%s visible messages after the batch, want 0", n)
	}
	if n := queueAttribute(ctx, t, sqsc, out.ProcessQueueURL, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible); n != "1" {
		t.Errorf("%s in-flight messages after the batch, want 1 (the poison message, back after the visibility timeout)", n)
	}
	// The three images finish: their completion events reach notify.
	h.start()
	api := &apiClient{base: h.apiURL, key: out.APIKey}
	for _, id := range ids {
		h.waitFor("notify of "+id, time.Minute, func() bool {
			for _, inv := range h.invokes {
				if inv.Err == nil && strings.Contains(string(inv.Event), id) {
					return true
				}
			}
			return false
		})
		if st := api.status(ctx, t, id); st.Status != "done" {
			t.Errorf("image %s of the batch: status %q, want done", id, st.Status)
		}
	}
	h.stop()
	// Remove the poison message now rather than after its redeliveries.
	for _, r := range b.Records {
		if r.MessageId == poisonID {
			if _, err := sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(out.ProcessQueueURL), ReceiptHandle: aws.String(r.ReceiptHandle)}); err != nil {
				t.Errorf("delete the poison message: %v", err)
			}
		}
	}
}

// roleOfQueue is the function whose sqs trigger reads queueURL.
func roleOfQueue(t *testing.T, out stackOutputs, queueURL string) string {
	t.Helper()
	for role, f := range out.Functions {
		if f.Trigger.Type == "sqs" && f.Trigger.QueueURL == queueURL {
			return role
		}
	}
	t.Fatalf("no function reads %s", queueURL)
	return ""
}

// missingVariables starts every function once without each variable of
// its Terraform environment. A variable that names a resource of the stack
// (a bucket, the bus) has no default: the init must fail, with a log line
// naming it, and the harness must report the init error. Any other one
// may have a default; if the init fails anyway, the log must name it.
func missingVariables(ctx context.Context, t *testing.T, h *harness) {
	t.Helper()
	resources := map[string]bool{h.out.UploadsBucket: true, h.out.ProcessedBucket: true, h.out.EventBusName: true}
	for _, role := range sortedRoles(h.out.FunctionNames) {
		env := h.out.FunctionEnvironment[role]
		for name, value := range env {
			less := map[string]string{}
			for k, v := range env {
				if k != name {
					less[k] = v
				}
			}
			fn := h.newFunction(role, less)
			res, err := fn.InvokeReport(ctx, []byte(`{}`))
			fn.Close()
			var ie *lambdarie.InitError
			switch {
			case errors.As(err, &ie):
				if !strings.Contains(strings.Join(lambdarie.FunctionLines(ie.Log), "\n"), name) || !strings.Contains(err.Error(), name) {
					t.Errorf("%s without %s: the init failed without naming it: %v", role, name, err)
				}
				t.Logf("%s without %s: %v", role, name, err)
			case resources[value]:
				t.Errorf("%s without %s (a resource name, %q): err = %v, want an init error", role, name, value, err)
			case err != nil:
				t.Errorf("%s without %s: %v, want a default or an init error", role, name, err)
			case !res.Cold:
				t.Errorf("%s without %s: the invocation was not a cold start", role, name)
			}
		}
	}
}

// waitQueue waits until a queue attribute has the wanted value.
func waitQueue(ctx context.Context, t *testing.T, c *sqs.Client, url string, name sqstypes.QueueAttributeName, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := queueAttribute(ctx, t, c, url, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s of %s is %s after 30s, want %s", name, url, got, want)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// apiClient calls the emulated API Gateway stage.
type apiClient struct {
	base string
	key  string
}

func (a *apiClient) do(ctx context.Context, t *testing.T, method, path, key string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

type statusOutput struct {
	URL string `json:"url"`
}

type imageStatusBody struct {
	ImageID string                  `json:"image_id"`
	Status  string                  `json:"status"`
	Outputs map[string]statusOutput `json:"outputs"`
}

// status asks GET /v1/images/{id}.
func (a *apiClient) status(ctx context.Context, t *testing.T, id string) imageStatusBody {
	t.Helper()
	code, body := a.do(ctx, t, http.MethodGet, "/v1/images/"+id, a.key, nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/images/%s: status %d, body %s", id, code, body)
	}
	var st imageStatusBody
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("GET /v1/images/%s body %s: %v", id, body, err)
	}
	if st.ImageID != id {
		t.Errorf("GET /v1/images/%s answered image_id %q", id, st.ImageID)
	}
	return st
}
