package lambdarie_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/imagepipe/imagepipe/local/lambdarie"
)

const queueURL = "http://sqs.local/000000000000/q"

// TestSQSEventSourceResponses: how a mapping with ReportBatchItemFailures
// settles a batch of three for each kind of response Lambda's
// documentation lists.
func TestSQSEventSourceResponses(t *testing.T) {
	tests := []struct {
		name     string
		respond  func(ids []string) ([]byte, error)
		failed   int // how many of the three stay in the queue
		batchErr bool
	}{
		{"null", func([]string) ([]byte, error) { return []byte("null"), nil }, 0, false},
		{"empty object", func([]string) ([]byte, error) { return []byte("{}"), nil }, 0, false},
		{"empty list", func([]string) ([]byte, error) { return []byte(`{"batchItemFailures":[]}`), nil }, 0, false},
		{"one failure", func(ids []string) ([]byte, error) {
			return []byte(`{"batchItemFailures":[{"itemIdentifier":"` + ids[1] + `"}]}`), nil
		}, 1, false},
		{"function error", func([]string) ([]byte, error) {
			return nil, &lambdarie.FunctionError{Type: "wrapError", Message: "boom"}
		}, 3, true},
		{"invalid JSON", func([]string) ([]byte, error) { return []byte(`{"batchItemFailures":`), nil }, 3, true},
		{"empty identifier", func([]string) ([]byte, error) {
			return []byte(`{"batchItemFailures":[{"itemIdentifier":""}]}`), nil
		}, 3, true},
		{"null identifier", func([]string) ([]byte, error) {
			return []byte(`{"batchItemFailures":[{"itemIdentifier":null}]}`), nil
		}, 3, true},
		{"wrong key", func(ids []string) ([]byte, error) {
			return []byte(`{"batchItemFailures":[{"itemId":"` + ids[0] + `"}]}`), nil
		}, 3, true},
		{"unknown identifier", func([]string) ([]byte, error) {
			return []byte(`{"batchItemFailures":[{"itemIdentifier":"not-in-batch"}]}`), nil
		}, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newFakeSQS()
			for _, b := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
				q.add(queueURL, b)
			}
			var got events.SQSEvent
			src := &lambdarie.SQSEventSource{
				Client: q, QueueURL: queueURL, QueueARN: "arn:aws:sqs:us-east-1:000000000000:q", Region: "us-east-1",
				BatchSize: 10, ReportBatchItemFailures: true,
				Function: invokerFunc(func(_ context.Context, p []byte) ([]byte, error) {
					if err := json.Unmarshal(p, &got); err != nil {
						t.Fatal(err)
					}
					var ids []string
					for _, r := range got.Records {
						ids = append(ids, r.MessageId)
					}
					return tc.respond(ids)
				}),
			}
			b, ok, err := src.Poll(context.Background())
			if err != nil || !ok {
				t.Fatalf("poll: ok %v err %v", ok, err)
			}
			if len(got.Records) != 3 || got.Records[0].EventSource != "aws:sqs" || got.Records[0].EventSourceARN != src.QueueARN ||
				got.Records[0].AWSRegion != "us-east-1" || got.Records[0].Attributes["ApproximateReceiveCount"] != "1" {
				t.Fatalf("event records %+v", got.Records)
			}
			if (b.Err != nil) != tc.batchErr {
				t.Errorf("batch error %v, want error %v", b.Err, tc.batchErr)
			}
			if len(b.Failed) != tc.failed || len(b.Deleted) != 3-tc.failed {
				t.Errorf("failed %v deleted %v, want %d failed", b.Failed, b.Deleted, tc.failed)
			}
			if _, hidden := q.count(queueURL); hidden != tc.failed {
				t.Errorf("%d messages left in the queue, want %d", hidden, tc.failed)
			}
			if tc.name == "one failure" && !slices.Equal(b.Failed, []string{got.Records[1].MessageId}) {
				t.Errorf("failed %v, want the second record", b.Failed)
			}
		})
	}
}

// TestSQSEventSourceBatching: batch size caps a batch; the window
// gathers messages that arrive after the first; without
// ReportBatchItemFailures a response is not read.
func TestSQSEventSourceBatching(t *testing.T) {
	q := newFakeSQS()
	for range 5 {
		q.add(queueURL, `{}`)
	}
	var sizes []int
	src := &lambdarie.SQSEventSource{
		Client: q, QueueURL: queueURL, BatchSize: 2,
		Function: invokerFunc(func(_ context.Context, p []byte) ([]byte, error) {
			var ev events.SQSEvent
			_ = json.Unmarshal(p, &ev)
			sizes = append(sizes, len(ev.Records))
			return []byte(`{"batchItemFailures":[{"itemIdentifier":"x"}]}`), nil
		}),
	}
	for {
		_, ok, err := src.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Errorf("batch sizes %v, want [2 2 1]", sizes)
	}
	if v, h := q.count(queueURL); v+h != 0 {
		t.Errorf("%d messages left: without ReportBatchItemFailures a successful batch is deleted whole", v+h)
	}

	// Window: one message now, two more once the first batch is being
	// gathered; all three come in one batch (size 3 ends the window).
	q.add(queueURL, `{}`)
	received := make(chan struct{})
	src.Client = &onFirstReceive{fakeSQS: q, hook: func() { close(received) }}
	go func() {
		<-received
		q.add(queueURL, `{}`)
		q.add(queueURL, `{}`)
	}()
	sizes = nil
	src.BatchSize, src.Window = 3, 30*time.Second
	if _, ok, err := src.Poll(context.Background()); err != nil || !ok {
		t.Fatalf("poll: %v %v", ok, err)
	}
	if !slices.Equal(sizes, []int{3}) {
		t.Errorf("batch sizes with a window %v, want [3]", sizes)
	}
}

// TestAsyncEventSourceRetriesThenDestination: a failing event is invoked
// 1 + MaxRetryAttempts times, then its invocation record goes to the
// on-failure destination and it leaves the queue; a good one is deleted
// after one invocation.
func TestAsyncEventSourceRetriesThenDestination(t *testing.T) {
	const dest = "http://sqs.local/000000000000/dlq"
	q := newFakeSQS()
	q.add(queueURL, `{"detail-type":"bad"}`)
	calls := 0
	src := &lambdarie.AsyncEventSource{
		Client: q, QueueURL: queueURL, FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:notify",
		MaxRetryAttempts: 2, RetryDelay: time.Second, OnFailureQueueURL: dest,
		Function: invokerFunc(func(_ context.Context, p []byte) ([]byte, error) {
			calls++
			return nil, &lambdarie.FunctionError{Type: "wrapError", Message: "status store down", Payload: []byte(`{"errorMessage":"status store down","errorType":"wrapError"}`)}
		}),
	}
	var seen []lambdarie.AsyncInvocation
	src.OnEvent = func(inv lambdarie.AsyncInvocation) { seen = append(seen, inv) }
	for attempt := 1; attempt <= 3; attempt++ {
		if ok, err := src.Poll(context.Background()); !ok || err != nil {
			t.Fatalf("attempt %d: ok %v err %v", attempt, ok, err)
		}
		if attempt < 3 {
			if v, h := q.count(queueURL); v != 0 || h != 1 {
				t.Fatalf("after attempt %d: %d visible, %d hidden; want the event hidden for its retry", attempt, v, h)
			}
			q.reveal(queueURL) // the retry delay ran out
		}
	}
	if calls != 3 {
		t.Errorf("%d invocations, want 3 (1 + 2 retries)", calls)
	}
	if v, h := q.count(queueURL); v+h != 0 {
		t.Errorf("the event is still queued after it was given up")
	}
	if last := seen[len(seen)-1]; !last.GaveUp || last.Condition != "RetriesExhausted" || last.Attempt != 3 {
		t.Errorf("last invocation %+v", last)
	}
	recs := q.bodies(dest)
	if len(recs) != 1 {
		t.Fatalf("%d records at the destination, want 1", len(recs))
	}
	var rec lambdarie.InvocationRecord
	if err := json.Unmarshal([]byte(recs[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.ApproximateInvokeCount != 3 ||
		rec.ResponseContext.FunctionError != "Unhandled" || string(rec.RequestPayload) != `{"detail-type":"bad"}` ||
		!strings.Contains(string(rec.ResponsePayload), "status store down") || !strings.HasSuffix(rec.RequestContext.FunctionARN, ":$LATEST") {
		t.Errorf("invocation record %s", recs[0])
	}

	// A good event: one invocation, deleted.
	q.add(queueURL, `{"detail-type":"good"}`)
	src.Function = invokerFunc(func(context.Context, []byte) ([]byte, error) { return []byte("null"), nil })
	if ok, err := src.Poll(context.Background()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if v, h := q.count(queueURL); v+h != 0 {
		t.Errorf("a successful event is still queued")
	}

	// Too old: straight to the destination without an invocation.
	q.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	q.add(queueURL, `{"detail-type":"old"}`)
	q.now = time.Now
	src.MaxEventAge = time.Hour
	src.Function = invokerFunc(func(context.Context, []byte) ([]byte, error) {
		t.Error("an event over the maximum age was invoked")
		return nil, nil
	})
	if ok, err := src.Poll(context.Background()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if recs := q.bodies(dest); len(recs) != 2 || !strings.Contains(recs[1], `"condition":"EventAgeExceeded"`) {
		t.Errorf("destination records %v, want an EventAgeExceeded record", recs)
	}
}

// TestRESTAPIProxyEvent: the event has the resource, path, stage, path
// parameters and query as API Gateway sends them; the response's status,
// headers and base64 body come back; API Gateway's own answers.
func TestRESTAPIProxyEvent(t *testing.T) {
	var got events.APIGatewayProxyRequest
	api := &lambdarie.RESTAPI{
		Routes: []string{"POST /v1/uploads", "GET /v1/images/{id}", "POST /v1/images/upload"},
		Stage:  "prod", BinaryMediaTypes: []string{"image/*"}, APIKey: "k1", APIKeyID: "kid",
		Function: invokerFunc(func(_ context.Context, p []byte) ([]byte, error) {
			got = events.APIGatewayProxyRequest{}
			if err := json.Unmarshal(p, &got); err != nil {
				t.Fatal(err)
			}
			switch got.Path {
			case "/v1/images/upload":
				return json.Marshal(events.APIGatewayProxyResponse{StatusCode: 202, IsBase64Encoded: true, Body: "aGVsbG8=",
					Headers: map[string]string{"X-One": "a"}, MultiValueHeaders: map[string][]string{"X-Two": {"b", "c"}}})
			case "/v1/images/err":
				return nil, &lambdarie.FunctionError{Type: "x", Message: "y"}
			case "/v1/images/bad":
				return []byte(`"not a response"`), nil
			}
			return []byte(`{"statusCode":200,"body":"{}"}`), nil
		}),
	}
	mux := http.NewServeMux()
	mux.Handle("/prod/", http.StripPrefix("/prod", api))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, ct, key, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if key != "" {
			req.Header.Set("x-api-key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		_, _ = copyBody(&sb, resp)
		return resp, sb.String()
	}

	resp, _ := do("GET", "/prod/v1/images/abc?x=1&x=2", "", "k1", "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	rc := got.RequestContext
	if got.Resource != "/v1/images/{id}" || got.Path != "/v1/images/abc" || got.HTTPMethod != "GET" ||
		got.PathParameters["id"] != "abc" || rc.Stage != "prod" || rc.Path != "/prod/v1/images/abc" ||
		rc.ResourcePath != "/v1/images/{id}" || rc.Identity.APIKey != "k1" || rc.Identity.APIKeyID != "kid" ||
		rc.Identity.SourceIP != "127.0.0.1" || rc.RequestID == "" || rc.RequestTimeEpoch == 0 ||
		got.QueryStringParameters["x"] != "2" || !slices.Equal(got.MultiValueQueryStringParameters["x"], []string{"1", "2"}) ||
		got.Headers["x-api-key"] != "k1" && got.Headers["X-Api-Key"] != "k1" || got.IsBase64Encoded {
		t.Errorf("GET event %+v", got)
	}

	resp, body := do("POST", "/prod/v1/images/upload", "image/png", "k1", "\x89PNG")
	if !got.IsBase64Encoded || got.Body != "iVBORw==" || got.PathParameters != nil {
		t.Errorf("binary body: base64 %v body %q params %v", got.IsBase64Encoded, got.Body, got.PathParameters)
	}
	if resp.StatusCode != 202 || body != "hello" || resp.Header.Get("X-One") != "a" || !slices.Equal(resp.Header.Values("X-Two"), []string{"b", "c"}) {
		t.Errorf("response %d %q %v", resp.StatusCode, body, resp.Header)
	}
	do("POST", "/prod/v1/uploads", "application/json", "k1", `{"a":1}`)
	if got.IsBase64Encoded || got.Body != `{"a":1}` || got.PathParameters != nil || got.QueryStringParameters != nil {
		t.Errorf("JSON body event %+v", got)
	}

	for _, tc := range []struct {
		method, path, key string
		code              int
		msg               string
	}{
		{"POST", "/prod/v1/uploads", "", 403, "Forbidden"},
		{"POST", "/prod/v1/uploads", "wrong", 403, "Forbidden"},
		{"GET", "/prod/v1/uploads", "k1", 403, "Missing Authentication Token"},
		{"GET", "/prod/v1/images/", "k1", 403, "Missing Authentication Token"},
		{"GET", "/prod/v1/images/err", "k1", 502, "Internal server error"},
		{"GET", "/prod/v1/images/bad", "k1", 502, "Internal server error"},
	} {
		resp, body := do(tc.method, tc.path, "", tc.key, "")
		if resp.StatusCode != tc.code || !strings.Contains(body, `"message":"`+tc.msg+`"`) {
			t.Errorf("%s %s key %q: %d %s, want %d %s", tc.method, tc.path, tc.key, resp.StatusCode, body, tc.code, tc.msg)
		}
	}
}

// onFirstReceive calls hook after the first receive.
type onFirstReceive struct {
	*fakeSQS
	once sync.Once
	hook func()
}

func (o *onFirstReceive) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out, err := o.fakeSQS.ReceiveMessage(ctx, in, opts...)
	o.once.Do(o.hook)
	return out, err
}

// TestRESTAPIGatewayResponses: keyless routes, the customised gateway
// responses (a header from the request, a fixed status and body), the
// 6 MB invocation limit, and "*/*" binary media types with API Gateway's
// default content type.
func TestRESTAPIGatewayResponses(t *testing.T) {
	var got events.APIGatewayProxyRequest
	api := &lambdarie.RESTAPI{
		Routes:              []string{"POST /v1/images/upload", "OPTIONS /v1/images/upload"},
		RoutesWithoutAPIKey: []string{"OPTIONS /v1/images/upload"},
		Stage:               "prod", BinaryMediaTypes: []string{"*/*"}, APIKey: "k1",
		GatewayResponses: map[string]lambdarie.GatewayResponse{
			"DEFAULT_4XX": {ResponseParameters: map[string]string{
				"gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
				"gatewayresponse.header.Vary":                        "'Origin'",
			}},
			"REQUEST_TOO_LARGE": {StatusCode: 413, ResponseTemplates: map[string]string{"application/json": `{"error":{"code":"too_large"}}`}},
		},
		Function: invokerFunc(func(_ context.Context, p []byte) ([]byte, error) {
			_ = json.Unmarshal(p, &got)
			return []byte(`{"statusCode":204}`), nil
		}),
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	send := func(method, key string, body []byte) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+"/v1/images/upload", bytes.NewReader(body))
		req.Header.Set("Origin", "https://page.example")
		if key != "" {
			req.Header.Set("x-api-key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, string(raw)
	}
	if resp, body := send("OPTIONS", "", nil); resp.StatusCode != 204 || got.HTTPMethod != "OPTIONS" {
		t.Errorf("keyless OPTIONS: %d %s", resp.StatusCode, body)
	}
	resp, body := send("POST", "", []byte("x"))
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "https://page.example" || resp.Header.Get("Vary") != "Origin" {
		t.Errorf("POST without key: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if resp, _ := send("POST", "k1", []byte(`{"a":1}`)); resp.StatusCode != 204 || !got.IsBase64Encoded || got.Body != "eyJhIjoxfQ==" {
		t.Errorf("*/* without a content type: base64 %v body %q", got.IsBase64Encoded, got.Body)
	}
	resp, body = send("POST", "k1", bytes.Repeat([]byte("a"), 5<<20)) // 6.7 MB once base64-encoded
	if resp.StatusCode != 413 || body != `{"error":{"code":"too_large"}}` || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a body over the invocation limit: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}
