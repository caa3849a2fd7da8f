//go:build unix

package terraform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/imagepipe/imagepipe/local/lambdarie"
	"github.com/imagepipe/imagepipe/local/lambdarie/rietest"
)

// functionOutput is one entry of the `functions` output.
type functionOutput struct {
	FunctionName string        `json:"function_name"`
	MemorySize   int           `json:"memory_size"`
	Timeout      int           `json:"timeout"`
	LogFormat    string        `json:"log_format"`
	LogLevel     string        `json:"log_level"`
	Trigger      triggerOutput `json:"trigger"`
}

// triggerOutput is what invokes a function; the fields used depend on Type.
type triggerOutput struct {
	Type string `json:"type"`
	// apigateway
	Stage               string                               `json:"stage"`
	Routes              []string                             `json:"routes"`
	RoutesWithoutAPIKey []string                             `json:"routes_without_api_key"`
	BinaryMediaTypes    []string                             `json:"binary_media_types"`
	APIKeyID            string                               `json:"api_key_id"`
	GatewayResponses    map[string]lambdarie.GatewayResponse `json:"gateway_responses"`
	// sqs (an event source mapping)
	QueueURL              string   `json:"queue_url"`
	QueueARN              string   `json:"queue_arn"`
	BatchSize             int      `json:"batch_size"`
	WindowSeconds         int      `json:"maximum_batching_window_in_seconds"`
	FunctionResponseTypes []string `json:"function_response_types"`
	MaximumConcurrency    int      `json:"maximum_concurrency"`
	// eventbridge (a rule target, invoked asynchronously)
	RuleARN           string `json:"rule_arn"`
	MaxRetryAttempts  int    `json:"maximum_retry_attempts"`
	MaxEventAgeSecs   int    `json:"maximum_event_age_in_seconds"`
	OnFailureQueueURL string `json:"on_failure_queue_url"`
	EmulatorQueueURL  string `json:"emulator_queue_url"`
}

// harness runs every function of the stack as its bootstrap under the
// runtime emulator, with the environment and settings of the Terraform
// outputs, and plays each one's trigger against moto.
type harness struct {
	t        *testing.T
	dir      string
	endpoint string
	out      stackOutputs
	sqs      *sqs.Client
	fns      map[string]*lambdarie.Function
	apiURL   string // the emulated API's stage URL, like api_url

	mu      sync.Mutex
	changed chan struct{}
	batches []lambdarie.Batch
	invokes []lambdarie.AsyncInvocation
	cancels []context.CancelFunc
	wg      sync.WaitGroup
	logMu   sync.Mutex
}

// startHarness checks that every function of function_names has its
// settings, environment and bootstrap, and starts the functions (no
// process runs before the first invocation) and the emulated API.
func startHarness(t *testing.T, endpoint string, out stackOutputs, sqsc *sqs.Client) *harness {
	t.Helper()
	dir := rietest.Binaries(t)
	h := &harness{t: t, dir: dir, endpoint: endpoint, out: out, sqs: sqsc, fns: map[string]*lambdarie.Function{}, changed: make(chan struct{})}
	roles := sortedRoles(out.FunctionNames)
	if len(roles) == 0 {
		t.Fatal("function_names is empty")
	}
	for _, role := range roles {
		f, ok := out.Functions[role]
		if !ok {
			t.Fatalf("function %s is in function_names but not in the functions output", role)
		}
		if f.FunctionName != out.FunctionNames[role] {
			t.Errorf("functions.%s.function_name = %q, function_names says %q", role, f.FunctionName, out.FunctionNames[role])
		}
		if _, ok := out.FunctionEnvironment[role]; !ok {
			t.Fatalf("function %s has no function_environment", role)
		}
		if _, err := os.Stat(rietest.Bootstrap(dir, role)); err != nil {
			t.Fatalf("function %s has no bootstrap (is it in the Makefile's LAMBDA_FUNCTIONS?): %v", role, err)
		}
		h.fns[role] = h.newFunction(role, out.FunctionEnvironment[role])
	}
	for role := range out.Functions {
		if _, ok := out.FunctionNames[role]; !ok {
			t.Errorf("functions output has %s, function_names does not", role)
		}
	}

	var apis []string
	for _, role := range roles {
		tr := out.Functions[role].Trigger
		switch tr.Type {
		case "apigateway":
			apis = append(apis, role)
			api := &lambdarie.RESTAPI{
				Function: h.fns[role], Routes: tr.Routes, Stage: tr.Stage, BinaryMediaTypes: tr.BinaryMediaTypes,
				APIKey: out.APIKey, APIKeyID: tr.APIKeyID, RoutesWithoutAPIKey: tr.RoutesWithoutAPIKey,
				GatewayResponses: tr.GatewayResponses, AccountID: "123456789012",
			}
			mux := http.NewServeMux()
			mux.Handle("/"+tr.Stage+"/", http.StripPrefix("/"+tr.Stage, api))
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			h.apiURL = srv.URL + "/" + tr.Stage
		case "sqs", "eventbridge":
		default:
			t.Fatalf("function %s: trigger type %q is not played by the harness", role, tr.Type)
		}
	}
	if len(apis) != 1 {
		t.Fatalf("want exactly one function behind the API, got %v", apis)
	}
	return h
}

func sortedRoles(m map[string]string) []string {
	roles := make([]string, 0, len(m))
	for r := range m {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// newFunction is role's bootstrap with env as its environment and the
// settings of the functions output, pointed at moto.
func (h *harness) newFunction(role string, env map[string]string) *lambdarie.Function {
	h.t.Helper()
	f := h.out.Functions[role]
	tr := f.Trigger
	concurrency := 1
	if tr.Type == "sqs" {
		concurrency = max(tr.MaximumConcurrency, 1)
	}
	fn, err := lambdarie.New(lambdarie.Config{
		Name:        f.FunctionName,
		Bootstrap:   rietest.Bootstrap(h.dir, role),
		Emulator:    rietest.Emulator(h.dir),
		Env:         env,
		AWS:         lambdarie.AWS{EndpointURL: h.endpoint, Region: testRegion, AccessKeyID: "test", SecretAccessKey: "test"},
		MemoryMB:    f.MemorySize,
		Timeout:     time.Duration(f.Timeout) * time.Second,
		LogFormat:   f.LogFormat,
		LogLevel:    f.LogLevel,
		Concurrency: concurrency,
		Log:         h.logLine(role),
	})
	if err != nil {
		h.t.Fatalf("function %s: %v", role, err)
	}
	h.t.Cleanup(func() { fn.Close() })
	return fn
}

// logLine sends a function's lines to the test log and keeps its init
// durations for the summary.
func (h *harness) logLine(role string) func(string) {
	return func(line string) {
		h.logMu.Lock()
		defer h.logMu.Unlock()
		if !lambdarie.IsEmulatorLine(line) || strings.Contains(line, "INIT REPORT") || strings.HasPrefix(line, "REPORT") {
			h.t.Log(role + ": " + line)
		}
	}
}

// sqsSource is the event source mapping of an "sqs" trigger.
func (h *harness) sqsSource(role string, fn lambdarie.Invoker) *lambdarie.SQSEventSource {
	tr := h.out.Functions[role].Trigger
	return &lambdarie.SQSEventSource{
		Client: h.sqs, QueueURL: tr.QueueURL, QueueARN: tr.QueueARN, Region: testRegion,
		BatchSize: tr.BatchSize, Window: time.Duration(tr.WindowSeconds) * time.Second,
		ReportBatchItemFailures: contains(tr.FunctionResponseTypes, "ReportBatchItemFailures"),
		MaxConcurrency:          tr.MaximumConcurrency, Function: fn,
		OnBatch: func(b lambdarie.Batch) { h.record(func() { h.batches = append(h.batches, b) }) },
	}
}

// asyncSource is the asynchronous invocation of an "eventbridge" trigger,
// fed by the emulator tap. Lambda waits about a minute before a retry;
// the harness waits a second.
func (h *harness) asyncSource(role string, fn *lambdarie.Function) *lambdarie.AsyncEventSource {
	tr := h.out.Functions[role].Trigger
	if tr.EmulatorQueueURL == "" {
		h.t.Fatalf("function %s: eventbridge trigger without emulator_queue_url (apply with emulator = true)", role)
	}
	return &lambdarie.AsyncEventSource{
		Client: h.sqs, QueueURL: tr.EmulatorQueueURL, Function: fn, FunctionARN: fn.ARN(),
		MaxRetryAttempts: tr.MaxRetryAttempts, MaxEventAge: time.Duration(tr.MaxEventAgeSecs) * time.Second,
		RetryDelay: time.Second, OnFailureQueueURL: tr.OnFailureQueueURL,
		OnEvent: func(inv lambdarie.AsyncInvocation) { h.record(func() { h.invokes = append(h.invokes, inv) }) },
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (h *harness) record(f func()) {
	h.mu.Lock()
	f()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// start runs the sqs and eventbridge triggers in the background until
// stop: those of the given types, or all.
func (h *harness) start(types ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancels = append(h.cancels, cancel)
	for role, f := range h.out.Functions {
		if len(types) > 0 && !contains(types, f.Trigger.Type) {
			continue
		}
		var run func(context.Context) error
		switch f.Trigger.Type {
		case "sqs":
			run = h.sqsSource(role, h.fns[role]).Run
		case "eventbridge":
			run = h.asyncSource(role, h.fns[role]).Run
		default:
			continue
		}
		h.wg.Go(func() { _ = run(ctx) })
	}
}

// stop stops the triggers and waits for the invocations under way.
func (h *harness) stop() {
	for _, c := range h.cancels {
		c()
	}
	h.wg.Wait()
	h.cancels = nil
}

// waitFor waits until cond (called under the lock) holds, or fails.
func (h *harness) waitFor(what string, timeout time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		ok, ch := cond(), h.changed
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			h.t.Fatalf("%s: not seen within %s", what, timeout)
		}
	}
}

// eventOf decodes an SQS record's EventBridge event.
func replayNameOf(body string) string {
	var ev struct {
		ReplayName string `json:"replay-name"`
	}
	_ = json.Unmarshal([]byte(body), &ev)
	return ev.ReplayName
}

// describe is a one-line summary of a batch for failure messages.
func describe(b lambdarie.Batch) string {
	return fmt.Sprintf("%d records, failed %v, deleted %d, err %v", len(b.Records), b.Failed, len(b.Deleted), b.Err)
}
