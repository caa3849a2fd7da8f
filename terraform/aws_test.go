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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/eventbus"
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
	FunctionNames          map[string]string            `json:"function_names"`
	Functions              map[string]functionOutput    `json:"functions"`
	APIKey                 string                       `json:"api_key"`
}

// TestMotoApplyAndFlow applies the stack to moto_server with emulator = true,
// runs images through the real Lambda binaries under the runtime emulator
// against moto's S3, SQS and EventBridge (API Gateway, the event source
// mapping and the asynchronous invocation played by local/lambdarie),
// replays the uploads archive, checks partial batch failures and init
// errors, and destroys the stack.
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
