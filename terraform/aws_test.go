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
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local/localtest"
	"github.com/imagepipe/imagepipe/metrics"
)

const testRegion = "us-east-1"

// stackOutputs are the terraform outputs the test needs.
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
	ProcessDLQInboxURL     string                       `json:"process_dlq_inbox_url"`
	EventsDLQInboxURL      string                       `json:"events_dlq_inbox_url"`
	TapQueueURL            string                       `json:"tap_queue_url"`
	RuleARNs               map[string]string            `json:"rule_arns"`
	FunctionNames          map[string]string            `json:"function_names"`
	FunctionEnvironment    map[string]map[string]string `json:"function_environment"`
	Functions              map[string]functionOutput    `json:"functions"`
	APIKey                 string                       `json:"api_key"`
	AlarmNames             []string                     `json:"alarm_names"`
	DashboardName          string                       `json:"dashboard_name"`
}

// testStack is one stack the test applies into the one moto_server.
type testStack struct {
	name, region string
	vars         []string // besides the common ones
	// targets, when set, limit the apply to these resources (and what
	// they need).
	targets []string
	tf      *terraformCLI
	out     stackOutputs
	// destroyed: the test destroyed it already (no cleanup destroy).
	destroyed bool
}

// args returns cmd (a terraform subcommand and its flags) followed by the
// stack's -var arguments.
func (s *testStack) args(endpoint, dist string, cmd ...string) []string {
	out := append([]string(nil), cmd...)
	out = append(out, []string{
		"-var", "emulator=true",
		"-var", "aws_endpoint_url=" + endpoint,
		"-var", "region=" + s.region,
		"-var", "name=" + s.name,
		"-var", "lambda_dist_dir=" + dist,
		"-var", `cors_allowed_origins=["` + testPageOrigin + `"]`,
	}...)
	for _, v := range s.vars {
		out = append(out, "-var", v)
	}
	return out
}

// globalNames are the resources whose names are global to an account
// (IAM, CloudFront) or to all of S3: a second region of the same stack
// must be able to create them.
var globalNames = []string{
	"aws_iam_role.presign", "aws_iam_role.process", "aws_iam_role.notify",
	"aws_s3_bucket.uploads", "aws_s3_bucket.processed", "aws_s3_bucket.site",
	"aws_cloudfront_origin_access_control.site",
}

// TestMotoApplyAndFlow applies stacks side by side into one moto_server
// with emulator = true, at the same time: "imagepipe" and "ip-second" in
// one region, and the account-wide resources (IAM roles, buckets) of
// "imagepipe" in a second region. Each terraform run costs seconds of CPU
// just to load the provider, so the second region's stack also carries the
// checks that need runs of their own: a plan with bad values, and destroy
// semantics. Then it checks that nothing collides, the alarms and
// dashboards of each stack, runs the flow of flow_test.go through the
// first stack (the real binaries under the runtime emulator, with
// `imagepipe replay --aws` while the mapping runs), checks that the second
// stack's uploads reach only its own queue, and destroys the stacks.
func TestMotoApplyAndFlow(t *testing.T) {
	tfBin := requireTool(t, "terraform")
	requireTool(t, "moto_server")
	goBin := requireTool(t, "go")
	requireTool(t, "aws")
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

	endpoint := localtest.Moto(t)
	dist := filepath.Join(t.TempDir(), "dist")
	writeStandInZips(t, dist, "presign", "process", "notify", "deadletter")

	// The CLI, built while terraform applies, for `imagepipe replay --aws`.
	cliBin := filepath.Join(t.TempDir(), "imagepipe")
	cliBuilt := make(chan error, 1)
	go func() {
		out, err := exec.CommandContext(ctx, goBin, "build", "-o", cliBin, "../cmd/imagepipe").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go build ./cmd/imagepipe: %w\n%s", err, out)
		}
		cliBuilt <- err
	}()

	main := &testStack{name: "imagepipe", region: testRegion, vars: []string{"force_destroy_buckets=true"}}
	second := &testStack{name: "ip-second", region: testRegion, vars: []string{"manage_api_gateway_account=false", "force_destroy_buckets=true"}}
	otherRegion := &testStack{name: "imagepipe", region: "eu-west-1", targets: globalNames, vars: []string{"manage_api_gateway_account=false"}}
	stacks := []*testStack{main, second, otherRegion}

	// Working copies laid out like the repository, so that
	// ${path.module}/../eventbus/patterns and ../web/static resolve.
	for _, s := range stacks {
		work := t.TempDir()
		tfDir := filepath.Join(work, "terraform")
		copyFiles(t, ".", tfDir, "*.tf")
		copyFiles(t, filepath.Join("..", "eventbus", "patterns"), filepath.Join(work, "eventbus", "patterns"), "*.json")
		copyFiles(t, filepath.Join("..", "web", "static"), filepath.Join(work, "web", "static"), "*")
		s.tf = newTerraformCLI(t, tfBin, tfDir)
	}

	// Destroy whatever was created, even after a failed apply or flow, all
	// stacks at once.
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer dcancel()
		start := time.Now()
		var left []*testStack
		for _, s := range stacks {
			if !s.destroyed {
				left = append(left, s)
			}
		}
		errs := runAll(left, func(s *testStack) error {
			out, err := s.tf.run(dctx, s.args(endpoint, dist, "destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false", "-parallelism=32", "-var", "force_destroy_buckets=true")...)
			if err != nil {
				return fmt.Errorf("destroy %s in %s: %w", s.name, s.region, err)
			}
			t.Logf("destroy of %s in %s: done %s after the start; slowest: %s", s.name, s.region, time.Since(start).Round(time.Second), slowest(out, 3))
			return nil
		})
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})

	start := time.Now()
	var regionChecks []string
	errs := runAll(stacks, func(s *testStack) error {
		if _, err := s.tf.run(ctx, "init", "-input=false", "-no-color", "-plugin-dir="+pluginDir); err != nil {
			return err
		}
		if s == otherRegion {
			regionChecks = append(regionChecks, checkPlanRefusesBadValues(ctx, endpoint, dist, s)...)
		}
		args := []string{"apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=32"}
		for _, r := range s.targets {
			args = append(args, "-target="+r)
		}
		out, err := s.tf.run(ctx, s.args(endpoint, dist, args...)...)
		if err != nil {
			return fmt.Errorf("apply %s in %s: %w", s.name, s.region, err)
		}
		added, err := addedCount(out)
		if err != nil {
			return err
		}
		t.Logf("apply of %s in %s against moto: %d resources, done %s after the start; slowest: %s", s.name, s.region, added, time.Since(start).Round(time.Second), slowest(out, 3))
		if err := s.tf.outputs(ctx, &s.out); err != nil {
			return err
		}
		if s == otherRegion {
			regionChecks = append(regionChecks, checkDestroy(ctx, endpoint, dist, s)...)
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	t.Run("the second region's stack: bad values stop at plan, destroy stops at non-empty buckets", func(t *testing.T) {
		for _, p := range regionChecks {
			t.Error(p)
		}
	})
	t.Run("stacks side by side", func(t *testing.T) { checkSideBySide(t, main, second, otherRegion) })
	t.Run("site and API of "+main.name, func(t *testing.T) { checkSiteAndAPI(ctx, t, endpoint, main.tf) })
	for _, s := range []*testStack{main, second} {
		t.Run("alarms and dashboard of "+s.name, func(t *testing.T) { checkMonitoring(ctx, t, endpoint, s) })
	}
	t.Run("flow through "+main.name+", replay --aws to the uploads rule only", func(t *testing.T) {
		if err := <-cliBuilt; err != nil {
			t.Fatal(err)
		}
		runFlow(ctx, t, endpoint, main.out, replayCLI{bin: cliBin, stack: main.name, region: main.region})
	})
	t.Run("uploads of "+second.name+" go to its own queue", func(t *testing.T) { checkOwnUploads(ctx, t, endpoint, second, main) })
	t.Run("nothing left in either stack's queues", func(t *testing.T) {
		c := sqs.NewFromConfig(awsConfig(endpoint))
		for _, s := range []*testStack{main, second} {
			for _, q := range []string{s.out.ProcessQueueURL, s.out.ProcessDLQURL, s.out.EventsDLQURL, s.out.ProcessDLQInboxURL, s.out.EventsDLQInboxURL, s.out.TapQueueURL} {
				for _, attr := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
					if n := queueAttribute(ctx, t, c, q, attr); n != "0" {
						t.Errorf("%s: %s = %s, want 0 (another stack's event, or one left behind)", q, attr, n)
					}
				}
			}
		}
	})
}

// checkPlanRefusesBadValues: a plan with values AWS would refuse stops at
// the variables' validations, each with its message.
func checkPlanRefusesBadValues(ctx context.Context, endpoint, dist string, s *testStack) []string {
	out, err := s.tf.run(ctx, s.args(endpoint, dist, "plan", "-input=false", "-no-color", "-lock=false",
		"-var", "process_batch_size=100", "-var", "notify_max_event_age_seconds=86400",
		"-var", "uploads_bucket_name="+strings.Repeat("b", 64), "-var", "application_log_level=WARN")...)
	if err == nil {
		return []string{"plan with bad values succeeded:\n" + tail([]byte(out), 2000)}
	}
	var problems []string
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"process_batch_size must be a whole number between 1 and 10000, and above 10",
		"notify_max_event_age_seconds must be a whole number between 60 and 21600",
		"uploads_bucket_name must be a valid S3 bucket name",
		"application_log_level must be TRACE, DEBUG or INFO",
	} {
		if !strings.Contains(flat, want) {
			problems = append(problems, fmt.Sprintf("plan with bad values: output lacks %q:\n%s", want, tail([]byte(out), 2000)))
		}
	}
	return problems
}

// runAll runs fn for each stack at once and returns their errors.
func runAll(stacks []*testStack, fn func(*testStack) error) []error {
	errs := make([]error, len(stacks))
	var wg sync.WaitGroup
	for i, s := range stacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(s)
		}()
	}
	wg.Wait()
	return errs
}

// checkSideBySide: the stacks' names are their own, and the second region
// got its own IAM roles and buckets.
func checkSideBySide(t *testing.T, a, b, other *testStack) {
	names := func(o stackOutputs) []string {
		n := []string{o.UploadsBucket, o.ProcessedBucket, o.EventBusName, o.UploadsArchiveName, o.CompletionsArchiveName,
			o.ProcessQueueURL, o.ProcessDLQURL, o.EventsDLQURL, o.DashboardName}
		for _, v := range o.RuleARNs {
			n = append(n, v)
		}
		for _, v := range o.FunctionNames {
			n = append(n, v)
		}
		return append(n, o.AlarmNames...)
	}
	seen := map[string]string{}
	for _, s := range []*testStack{a, b} {
		for _, n := range names(s.out) {
			if n == "" {
				t.Errorf("%s: an output is empty: %+v", s.name, s.out)
				continue
			}
			if owner, dup := seen[n]; dup && owner != s.name {
				t.Errorf("%s and %s both have %s", owner, s.name, n)
			}
			seen[n] = s.name
			if !strings.Contains(n, s.name) {
				t.Errorf("%s: %s does not carry the stack's name", s.name, n)
			}
		}
		for fn, env := range s.out.FunctionEnvironment {
			if fn != "presign" && env[metrics.EnvStack] != s.name {
				t.Errorf("%s: function %s has %s=%q, want the stack's name (the Stack dimension of its metrics)", s.name, fn, metrics.EnvStack, env[metrics.EnvStack])
			}
		}
	}
	if a.out.UploadsBucket == other.out.UploadsBucket || !strings.HasSuffix(other.out.UploadsBucket, "-"+other.region) {
		t.Errorf("uploads bucket in %s: %q (in %s: %q), want its own, ending in the region", other.region, other.out.UploadsBucket, a.region, a.out.UploadsBucket)
	}
}

// cwDimension is a CloudWatch dimension as the aws CLI prints it.
type cwDimension struct{ Name, Value string }

// awsCLI runs the aws CLI against moto and decodes its JSON answer. The Go
// SDK's CloudWatch client speaks a protocol (RPCv2 CBOR) that moto's server
// does not answer; botocore's does.
func awsCLI(ctx context.Context, t *testing.T, endpoint, region string, out any, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, requireTool(t, "aws"), append([]string{"--endpoint-url", endpoint, "--region", region, "--output", "json"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=" + filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(t.TempDir(), "none"), "AWS_EC2_METADATA_DISABLED=true"}
	raw, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("aws %s: %v in %s", strings.Join(args, " "), err, raw)
	}
}

// checkMonitoring reads the stack's alarms and dashboard back from moto.
func checkMonitoring(ctx context.Context, t *testing.T, endpoint string, s *testStack) {
	anchors, err := runbookAnchors(runbookPath)
	if err != nil {
		t.Fatal(err)
	}
	var described struct {
		MetricAlarms []struct {
			AlarmName, AlarmDescription string
			Dimensions                  []cwDimension
			Metrics                     []struct {
				MetricStat *struct {
					Metric struct{ Dimensions []cwDimension }
				}
			}
		}
	}
	awsCLI(ctx, t, endpoint, s.region, &described, "cloudwatch", "describe-alarms", "--alarm-name-prefix", s.name+"-")
	var got []string
	kinds := map[string]bool{}
	link := regexp.MustCompile(`docs/runbook\.md#([a-z0-9-]+)$`)
	for _, a := range described.MetricAlarms {
		name := a.AlarmName
		got = append(got, name)
		desc := a.AlarmDescription
		m := link.FindStringSubmatch(desc)
		if m == nil || !anchors[m[1]] || len(desc) < 100 {
			t.Errorf("alarm %s: description %q does not end with a runbook section", name, desc)
		} else {
			kinds[m[1]] = true
		}
		// Every dimension names this stack's resources.
		dims := a.Dimensions
		for _, q := range a.Metrics {
			if q.MetricStat != nil {
				dims = append(dims, q.MetricStat.Metric.Dimensions...)
			}
		}
		for _, d := range dims {
			if !strings.HasPrefix(d.Value, s.name) && d.Name != "Stage" {
				t.Errorf("alarm %s watches %s=%s, not the stack's", name, d.Name, d.Value)
			}
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, s.out.AlarmNames) {
		t.Errorf("alarms %v, want the outputs' %v", got, s.out.AlarmNames)
	}
	for _, k := range []string{"function-errors", "function-throttles", "queue-backlog", "dead-letter-queue", "image-failure-rate", "api-5xx-errors", "api-latency"} {
		if !kinds[k] {
			t.Errorf("no alarm links #%s", k)
		}
	}
	for role, fn := range s.out.FunctionNames {
		for _, suffix := range []string{"errors", "throttles"} {
			if !slices.Contains(got, s.name+"-"+role+"-"+suffix) {
				t.Errorf("no %s alarm for function %s", suffix, fn)
			}
		}
	}

	var d struct{ DashboardBody string }
	awsCLI(ctx, t, endpoint, s.region, &d, "cloudwatch", "get-dashboard", "--dashboard-name", s.out.DashboardName)
	var body struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Title   string            `json:"title"`
				Metrics []json.RawMessage `json:"metrics"`
				Alarms  []string          `json:"alarms"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(d.DashboardBody), &body); err != nil {
		t.Fatalf("dashboard body: %v", err)
	}
	titles := map[string]bool{}
	namespaces := map[string]bool{}
	for _, w := range body.Widgets {
		titles[w.Properties.Title] = true
		if w.Type == "alarm" && len(w.Properties.Alarms) != len(s.out.AlarmNames) {
			t.Errorf("the alarm widget shows %d alarms, want %d", len(w.Properties.Alarms), len(s.out.AlarmNames))
		}
		for _, raw := range w.Properties.Metrics {
			var row []any
			if err := json.Unmarshal(raw, &row); err != nil {
				t.Fatalf("widget %q: metric row %s: %v", w.Properties.Title, raw, err)
			}
			checkMetricRow(t, s, w.Properties.Title, row, namespaces)
		}
	}
	for _, want := range []string{"Images per minute", "Failures by error code", "Processing time and queue-to-done latency (ms)", "Input size",
		"Queues: backlog and dead letters", "Lambda duration p99 (ms)", "Lambda errors, throttles and concurrency", "API requests and errors", "API latency (ms)"} {
		if !titles[want] {
			t.Errorf("dashboard has no widget %q", want)
		}
	}
	for _, ns := range []string{metrics.Namespace, "AWS/Lambda", "AWS/SQS", "AWS/ApiGateway"} {
		if !namespaces[ns] {
			t.Errorf("dashboard shows nothing of %s", ns)
		}
	}
}

// checkMetricRow checks one row of a dashboard metric widget: a metric of
// the catalog with this stack's Stack dimension, or an AWS metric of this
// stack's resources; an expression searches this stack only.
func checkMetricRow(t *testing.T, s *testStack, widget string, row []any, namespaces map[string]bool) {
	t.Helper()
	if len(row) == 1 {
		opts, _ := row[0].(map[string]any)
		expr, _ := opts["expression"].(string)
		if !strings.Contains(expr, `Stack=\"`+s.name+`\"`) && !strings.Contains(expr, `Stack="`+s.name+`"`) {
			t.Errorf("widget %q: expression %q is not limited to the stack", widget, expr)
		}
		namespaces[metrics.Namespace] = true
		return
	}
	if len(row) > 0 && row[0] == "..." {
		return // the previous row again with other options
	}
	var fields []string
	for _, f := range row {
		if str, ok := f.(string); ok {
			fields = append(fields, str)
		}
	}
	if len(fields) < 4 {
		t.Errorf("widget %q: row %v has no dimension", widget, row)
		return
	}
	ns, name := fields[0], fields[1]
	namespaces[ns] = true
	if ns == metrics.Namespace {
		if _, ok := metrics.Lookup(name); !ok {
			t.Errorf("widget %q: %s is not a metric the functions emit", widget, name)
		}
	}
	for i := 2; i+1 < len(fields); i += 2 {
		if v := fields[i+1]; !strings.HasPrefix(v, s.name) && fields[i] != "Stage" {
			t.Errorf("widget %q: %s %s=%s is not the stack's", widget, name, fields[i], v)
		}
	}
}

// checkDestroy: without force_destroy_buckets, destroy removes everything
// but the buckets that hold objects and stops with BucketNotEmpty; once
// force_destroy_buckets = true is applied, destroy empties and removes
// them.
func checkDestroy(ctx context.Context, endpoint, dist string, s *testStack) []string {
	s3c := s3.NewFromConfig(awsConfig(endpoint), func(o *s3.Options) { o.UsePathStyle = true; o.Region = s.region })
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.out.ProcessedBucket), Key: aws.String("processed/keep-me.txt"), Body: strings.NewReader("data")}); err != nil {
		return []string{err.Error()}
	}
	out, err := s.tf.run(ctx, s.args(endpoint, dist, "destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false", "-parallelism=32")...)
	if err == nil || !strings.Contains(out, "BucketNotEmpty") {
		return []string{fmt.Sprintf("destroy of a stack whose bucket holds objects: err %v, output lacks BucketNotEmpty:\n%s", err, tail([]byte(out), 3000))}
	}
	var problems []string
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.out.ProcessedBucket)}); err != nil {
		problems = append(problems, fmt.Sprintf("the non-empty bucket is gone after the failed destroy: %v", err))
	}
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.out.UploadsBucket)}); err == nil {
		problems = append(problems, "the empty uploads bucket is still there after destroy")
	}
	if _, err := s.tf.run(ctx, s.args(endpoint, dist, "apply", "-auto-approve", "-input=false", "-no-color", "-target=aws_s3_bucket.processed", "-var", "force_destroy_buckets=true")...); err != nil {
		return append(problems, err.Error())
	}
	if _, err := s.tf.run(ctx, s.args(endpoint, dist, "destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false", "-var", "force_destroy_buckets=true")...); err != nil {
		return append(problems, err.Error())
	}
	s.destroyed = true
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.out.ProcessedBucket)}); err == nil {
		problems = append(problems, fmt.Sprintf("bucket %s still there after destroy with force_destroy_buckets", s.out.ProcessedBucket))
	}
	return problems
}

// checkOwnUploads: an object put in one stack's uploads bucket reaches that
// stack's process queue through its own rule, and not the other stack's.
func checkOwnUploads(ctx context.Context, t *testing.T, endpoint string, s, other *testStack) {
	cfg := awsConfig(endpoint)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	sqsc := sqs.NewFromConfig(cfg)
	key := fmt.Sprintf("uploads/%032x.jpg", time.Now().UnixNano())
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.out.UploadsBucket), Key: aws.String(key),
		Body: bytes.NewReader(testJPEG(t, 8, 8)), ContentType: aws.String("image/jpeg")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for found := false; !found; {
		got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.out.ProcessQueueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got.Messages {
			var ev eventbus.Event
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &ev) == nil && objectKey(ev) == key {
				found = true
			}
			if _, err := sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(s.out.ProcessQueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
		if !found && time.Now().After(deadline) {
			t.Fatalf("the upload %s did not reach %s within 30 s", key, s.out.ProcessQueueURL)
		}
	}
	for _, q := range []string{other.out.ProcessQueueURL} {
		for _, attr := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
			if n := queueAttribute(ctx, t, sqsc, q, attr); n != "0" {
				t.Errorf("%s: %s = %s after %s's upload, want 0", q, attr, n, s.name)
			}
		}
	}
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
