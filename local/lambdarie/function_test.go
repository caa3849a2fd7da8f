package lambdarie_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/lambdarie"
	"github.com/imagepipe/imagepipe/local/lambdarie/rietest"
	"github.com/imagepipe/imagepipe/local/localtest"
)

var (
	binOnce sync.Once
	binDir  string
)

// binaries builds the bootstraps and the emulator once for the package.
func binaries(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() { binDir = rietest.Binaries(&onceT{T: t}) })
	if binDir == "" {
		t.Fatal("the Lambda binaries could not be built (see the first test's log)")
	}
	return binDir
}

// onceT keeps the directory of the first build for the whole package
// (t.TempDir would remove it when the first test ends).
type onceT struct{ *testing.T }

func (o *onceT) TempDir() string {
	dir, err := os.MkdirTemp("", "lambdarie-bin-")
	if err != nil {
		o.Fatal(err)
	}
	return dir
}

// stackFunction is a Function for one of imagepipe's binaries against a
// paused local stack.
func stackFunction(t *testing.T, st *local.Stack, role string, env map[string]string, mod func(*lambdarie.Config)) *lambdarie.Function {
	t.Helper()
	dir := binaries(t)
	creds := st.Credentials()
	var mu sync.Mutex
	cfg := lambdarie.Config{
		Name:      "imagepipe-" + role,
		Bootstrap: rietest.Bootstrap(dir, role),
		Emulator:  rietest.Emulator(dir),
		Env:       env,
		AWS:       lambdarie.AWS{EndpointURL: st.EdgeURL(), Region: local.Region, AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
		Timeout:   10 * time.Second,
		Log: func(line string) {
			mu.Lock()
			defer mu.Unlock()
			t.Log(role + ": " + line)
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	fn, err := lambdarie.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fn.Close() })
	return fn
}

func fixture(t testing.TB, role, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "cmd", "lambda", role, "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestPresignBinary answers the API Gateway fixture with 201 and a URL
// presigned for the stack's edge, and reports a cold then a warm start.
func TestPresignBinary(t *testing.T) {
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	fn := stackFunction(t, st, "presign", map[string]string{"UPLOADS_BUCKET": local.UploadsBucket, "PROCESSED_BUCKET": local.ProcessedBucket}, nil)
	ctx := context.Background()
	payload := fixture(t, "presign", "apigw-post-uploads.json")
	for i, wantCold := range []bool{true, false} {
		res, err := fn.InvokeReport(ctx, payload)
		if err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(res.Payload, &resp); err != nil {
			t.Fatalf("response %s: %v", res.Payload, err)
		}
		if resp.StatusCode != http.StatusCreated || !strings.Contains(resp.Body, st.EdgeURL()+"/"+local.UploadsBucket+"/uploads/") {
			t.Fatalf("invocation %d: %d %s", i, resp.StatusCode, resp.Body)
		}
		if res.Cold != wantCold {
			t.Errorf("invocation %d: cold = %v, want %v", i, res.Cold, wantCold)
		}
		if wantCold && res.InitDuration <= 0 {
			t.Errorf("cold invocation without an init duration: %+v", res)
		}
		if res.Duration <= 0 {
			t.Errorf("invocation %d has no REPORT duration", i)
		}
		// A Go program's resident memory is megabytes, never less.
		if res.PeakRSS < 1<<20 || res.PeakRSS > 1<<30 {
			t.Errorf("invocation %d: peak RSS %d bytes, want the bootstrap's VmHWM", i, res.PeakRSS)
		}
	}
}

// TestInitErrorMissingVariable: without PROCESSED_BUCKET the notify
// bootstrap fails its init, says why in one log line, and the invocation
// is an *InitError; the next invocation tries a new environment.
func TestInitErrorMissingVariable(t *testing.T) {
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	fn := stackFunction(t, st, "notify", nil, nil)
	for i := range 2 {
		res, err := fn.InvokeReport(context.Background(), fixture(t, "notify", "eventbridge-image-processed.json"))
		var ie *lambdarie.InitError
		if !errors.As(err, &ie) {
			t.Fatalf("invocation %d: err = %v, want an *InitError", i, err)
		}
		if !res.Cold && i > 0 {
			t.Errorf("invocation %d after a failed init ran in the old environment", i)
		}
		lines := lambdarie.FunctionLines(ie.Log)
		found := false
		for _, l := range lines {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["level"] == "ERROR" && strings.Contains(l, "PROCESSED_BUCKET is required") {
				found = true
			}
		}
		if !found {
			t.Fatalf("no JSON ERROR line naming PROCESSED_BUCKET in the init log: %q", ie.Log)
		}
		if !strings.Contains(err.Error(), "PROCESSED_BUCKET is required") {
			t.Errorf("the error does not say why: %v", err)
		}
	}
}

// TestFunctionErrorKeepsEnvironment: an error the handler returns is a
// *FunctionError and the environment serves the next invocation warm.
func TestFunctionErrorKeepsEnvironment(t *testing.T) {
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	fn := stackFunction(t, st, "notify", map[string]string{"PROCESSED_BUCKET": "no-such-bucket", "IMAGEPIPE_STACK": local.StackName}, nil)
	ev := fixture(t, "notify", "eventbridge-image-processed.json")
	for i := range 2 {
		res, err := fn.InvokeReport(context.Background(), ev)
		var fe *lambdarie.FunctionError
		if !errors.As(err, &fe) || !strings.Contains(fe.Message, "no-such-bucket") {
			t.Fatalf("invocation %d: err = %v, want a function error about the bucket", i, err)
		}
		if res.Cold != (i == 0) {
			t.Errorf("invocation %d: cold = %v", i, res.Cold)
		}
	}
}

// buildTestFn builds testdata/testfn as Lambda bootstraps are built.
func buildTestFn(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/testfn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testfn: %v\n%s", err, out)
	}
	return bin
}

// testFunction runs testdata/testfn under the emulator.
func testFunction(t *testing.T, timeout time.Duration) *lambdarie.Function {
	t.Helper()
	dir := binaries(t)
	bin := buildTestFn(t)
	var mu sync.Mutex
	fn, err := lambdarie.New(lambdarie.Config{
		Name: "testfn", Bootstrap: bin, Emulator: rietest.Emulator(dir),
		Env: map[string]string{"TESTFN_VALUE": "v"}, AWS: lambdarie.AWS{Region: "us-east-1"}, Timeout: timeout,
		Log: func(line string) {
			mu.Lock()
			defer mu.Unlock()
			t.Log(line[:min(len(line), 200)])
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fn.Close() })
	return fn
}

// TestEnvironmentLifecycle: a timeout and a crash throw the environment
// away (the next invocation is cold), a returned error does not; huge
// output neither blocks the emulator nor is kept whole.
func TestEnvironmentLifecycle(t *testing.T) {
	fn := testFunction(t, time.Second)
	ctx := context.Background()
	invoke := func(payload string) (lambdarie.Result, error) {
		t.Helper()
		return fn.InvokeReport(ctx, []byte(payload))
	}
	res, err := invoke(`{}`)
	if err != nil || !res.Cold || !strings.Contains(string(res.Payload), `"env":"v"`) {
		t.Fatalf("first invocation: %s, cold %v, err %v", res.Payload, res.Cold, err)
	}
	res, err = invoke(`{"error":"no good"}`)
	var fe *lambdarie.FunctionError
	if !errors.As(err, &fe) || fe.Message != "no good" || res.Cold {
		t.Fatalf("returned error: err %v, cold %v; want a function error in the warm environment", err, res.Cold)
	}
	res, err = invoke(`{"sleep_ms":3000}`)
	var te *lambdarie.TimeoutError
	if !errors.As(err, &te) || res.Cold {
		t.Fatalf("sleep past the timeout: err %v, cold %v; want a timeout", err, res.Cold)
	}
	res, err = invoke(`{}`)
	if err != nil || !res.Cold {
		t.Fatalf("after a timeout: err %v, cold %v; want a new environment", err, res.Cold)
	}
	res, err = invoke(`{"exit":true}`)
	if !errors.As(err, &fe) || fe.Type != "Runtime.ExitError" || !strings.Contains(fe.Message, "exiting mid-invocation") {
		t.Fatalf("exit mid-invocation: err %v; want Runtime.ExitError with the function's last words", err)
	}
	res, err = invoke(`{"lines":200}`)
	if err != nil || !res.Cold {
		t.Fatalf("after a crash, 20 MB of output: err %v, cold %v", err, res.Cold)
	}
	for _, l := range res.Log {
		if len(l) > 70<<10 {
			t.Fatalf("a %d-byte line was kept whole", len(l))
		}
	}
}

// TestRelativePaths: the bootstrap and the emulator may be given relative
// to the working directory (imagepipe dev --lambda-binaries dist/host),
// although the emulator runs in the bootstrap's directory.
func TestRelativePaths(t *testing.T) {
	emulator := rietest.Emulator(binaries(t))
	bin := buildTestFn(t)
	work := filepath.Dir(filepath.Dir(bin))
	t.Chdir(work)
	relBin, _ := filepath.Rel(work, bin)
	relEmu, err := filepath.Rel(work, emulator)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := lambdarie.New(lambdarie.Config{Name: "testfn", Bootstrap: relBin, Emulator: relEmu,
		Env: map[string]string{"TESTFN_VALUE": "v"}, AWS: lambdarie.AWS{Region: "us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close()
	if out, err := fn.Invoke(context.Background(), []byte(`{}`)); err != nil || !strings.Contains(string(out), `"ok":true`) {
		t.Fatalf("invoke with %s and %s: %s, %v", relBin, relEmu, out, err)
	}
}

// TestBinaryLogsOnlyJSON: with Lambda's JSON log format every line a
// function prints is a JSON object (CloudWatch parses them), also when it
// reads back an object stored without a checksum (the second notify of an
// image reads the status record the first wrote).
func TestBinaryLogsOnlyJSON(t *testing.T) {
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	fn := stackFunction(t, st, "notify", map[string]string{"PROCESSED_BUCKET": local.ProcessedBucket, "IMAGEPIPE_STACK": local.StackName}, nil)
	ev := fixture(t, "notify", "eventbridge-image-processed.json")
	for i := range 2 {
		res, err := fn.InvokeReport(context.Background(), ev)
		if err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
		lines := lambdarie.FunctionLines(res.Log)
		if len(lines) == 0 {
			t.Fatalf("invocation %d printed nothing", i)
		}
		for _, l := range lines {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) != nil {
				t.Errorf("invocation %d printed a line that is not JSON: %q", i, l)
			}
		}
	}
}
