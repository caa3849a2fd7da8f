package runner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/imagepipe/imagepipe/local/queue"
)

// Every message sent reaches the function without any polling: sends
// before, during and right after an invocation (between its receive and
// the wait for the next send) all wake the mapping. The idle wait is an
// hour here, so a send that did not wake it would stall the test.
func TestEverySendIsSeenWithoutPolling(t *testing.T) {
	store, err := queue.Open(filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	q := store.Queue("q", queue.Options{VisibilityTimeout: time.Hour})

	var mu sync.Mutex
	seen := map[string]int{}
	got := make(chan string, 100)
	inFirst := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	fn := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		for _, r := range ev.Records {
			mu.Lock()
			seen[r.Body]++
			mu.Unlock()
			if r.Body == "m0" {
				once.Do(func() { close(inFirst) })
				<-release
			}
			got <- r.Body
		}
		return events.SQSEventResponse{}, nil
	}
	m := &Mapping{Name: "fn", Queue: q, Function: lambda.NewHandler(fn), Mode: SQS, BatchSize: 10, Concurrency: 1, maxIdle: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	send := func(body string) {
		t.Helper()
		if _, err := q.Send(context.Background(), []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case b := <-got:
				if b != w {
					t.Fatalf("got %s, want %s", b, w)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s never reached the function", w)
			}
		}
	}
	send("m0")
	<-inFirst
	send("m1") // while the only invocation slot is busy
	close(release)
	wait("m0", "m1")
	for i := 2; i < 40; i++ { // one at a time: each a batch short of BatchSize
		send(fmt.Sprintf("m%d", i))
		wait(fmt.Sprintf("m%d", i))
	}
	mu.Lock()
	defer mu.Unlock()
	for body, n := range seen {
		if n != 1 {
			t.Errorf("%s handed to the function %d times", body, n)
		}
	}
}

// TestNewHandlerAsLambdas: the in-process adapter answers as aws-lambda-go's
// lambda.NewHandler does for the same function: the response, a function's
// error, a payload that does not decode, and null for a function that
// returns only an error.
func TestNewHandlerAsLambdas(t *testing.T) {
	ctx := context.Background()
	fn := func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			if r.Body == "fail" {
				return resp, errors.New("asked to fail")
			}
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
		return resp, nil
	}
	errOnly := func(_ context.Context, ev events.SQSEvent) error { return nil }
	for _, payload := range []string{
		`{"Records":[{"messageId":"a","body":"x"},{"messageId":"b","body":"y"}]}`,
		`{"Records":[{"messageId":"a","body":"fail"}]}`,
		`{"Records":"not a list"}`,
	} {
		want, wantErr := lambda.NewHandler(fn).Invoke(ctx, []byte(payload))
		got, gotErr := NewHandler(fn).Invoke(ctx, []byte(payload))
		if string(got) != string(want) || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("payload %s: got %s, %v; lambda.NewHandler gives %s, %v", payload, got, gotErr, want, wantErr)
		}
		want, wantErr = lambda.NewHandler(errOnly).Invoke(ctx, []byte(payload))
		got, gotErr = NewHandlerNoResponse(errOnly).Invoke(ctx, []byte(payload))
		if string(got) != string(want) || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("payload %s, error-only function: got %s, %v; lambda.NewHandler gives %s, %v", payload, got, gotErr, want, wantErr)
		}
	}
}
