package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// fakeEventBridge records PutEvents calls and answers each entry with the
// error that fail gives for it (by the entry's detail "n"), or success.
type fakeEventBridge struct {
	mu    sync.Mutex
	calls [][]ebtypes.PutEventsRequestEntry
	// fail returns the error code for entry n on its attempt-th send ("" for
	// success).
	fail     func(n, attempt int) string
	attempts map[int]int
	// reqErr, when set, fails whole calls.
	reqErr func(call int) error
	// short drops one result from each answer.
	short bool
}

func (f *fakeEventBridge) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in.Entries)
	if f.reqErr != nil {
		if err := f.reqErr(len(f.calls)); err != nil {
			return nil, err
		}
	}
	if f.attempts == nil {
		f.attempts = map[int]int{}
	}
	out := &eventbridge.PutEventsOutput{}
	for _, e := range in.Entries {
		n := detailN(aws.ToString(e.Detail))
		f.attempts[n]++
		code := ""
		if f.fail != nil {
			code = f.fail(n, f.attempts[n])
		}
		if code == "" {
			out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{EventId: aws.String(fmt.Sprintf("id-%d", n))})
			continue
		}
		out.FailedEntryCount++
		out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("entry " + fmt.Sprint(n) + " failed")})
	}
	if f.short {
		out.Entries = out.Entries[1:]
	}
	return out, nil
}

func detailN(d string) int {
	var v struct{ N int }
	_ = json.Unmarshal([]byte(d), &v)
	return v.N
}

func entries(n int) []Entry {
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{Source: "test", DetailType: "Tick", Detail: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
	}
	return out
}

func newFake(f *fakeEventBridge) *EventBridge {
	p := newEventBridge(f, "imagepipe")
	p.backoff = time.Millisecond
	return p
}

// sent lists the detail "n" of each call's entries.
func (f *fakeEventBridge) sent() [][]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]int
	for _, c := range f.calls {
		var ns []int
		for _, e := range c {
			ns = append(ns, detailN(aws.ToString(e.Detail)))
		}
		out = append(out, ns)
	}
	return out
}

func TestEventBridgeBatchesByTen(t *testing.T) {
	f := &fakeEventBridge{}
	p := newFake(f)
	in := entries(25)
	at := time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC)
	in[3].Time = at
	in[4].EventBusName = "default"
	in[5].Resources = []string{"arn:aws:s3:::b"}
	if err := p.Publish(context.Background(), in...); err != nil {
		t.Fatal(err)
	}
	got := f.sent()
	if len(got) != 3 || len(got[0]) != 10 || len(got[1]) != 10 || len(got[2]) != 5 {
		t.Fatalf("calls = %v, want 10, 10 and 5 entries", got)
	}
	if fmt.Sprint(got) != fmt.Sprint([][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, {20, 21, 22, 23, 24}}) {
		t.Errorf("entries out of order: %v", got)
	}
	first := f.calls[0]
	for i, e := range first {
		wantBus := "imagepipe"
		if i == 4 {
			wantBus = "default"
		}
		if aws.ToString(e.EventBusName) != wantBus || aws.ToString(e.Source) != "test" || aws.ToString(e.DetailType) != "Tick" {
			t.Errorf("entry %d: bus %q source %q detail-type %q", i, aws.ToString(e.EventBusName), aws.ToString(e.Source), aws.ToString(e.DetailType))
		}
		if (e.Time != nil) != (i == 3) || (i == 3 && !e.Time.Equal(at)) {
			t.Errorf("entry %d: Time %v", i, e.Time)
		}
	}
	if len(first[5].Resources) != 1 {
		t.Errorf("resources not passed: %v", first[5].Resources)
	}
}

func TestEventBridgeRetries(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		fail      func(n, attempt int) string
		wantCalls [][]int
		wantFail  []FailedEntry
	}{
		{
			name: "throttled entries are resent alone until accepted",
			n:    12,
			fail: func(n, attempt int) string {
				switch {
				case n == 2 && attempt < 3:
					return "ThrottlingException"
				case n == 7 && attempt < 2:
					return "InternalFailure"
				case n == 11 && attempt < 2:
					return "InternalException"
				}
				return ""
			},
			wantCalls: [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {2, 7}, {2}, {10, 11}, {11}},
		},
		{
			name: "a permanent error is reported at once, with the caller's index",
			n:    13,
			fail: func(n, _ int) string {
				return map[int]string{12: "MalformedDetail", 1: "NotAuthorizedForSourceException"}[n]
			},
			wantCalls: [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 11, 12}},
			wantFail: []FailedEntry{
				{Index: 1, ErrorCode: "NotAuthorizedForSourceException", ErrorMessage: "entry 1 failed"},
				{Index: 12, ErrorCode: "MalformedDetail", ErrorMessage: "entry 12 failed"},
			},
		},
		{
			name:      "throttling that never ends is reported after five attempts",
			n:         11,
			fail:      func(n, _ int) string { return map[int]string{10: "ThrottlingException"}[n] },
			wantCalls: [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10}, {10}, {10}, {10}, {10}},
			wantFail:  []FailedEntry{{Index: 10, ErrorCode: "ThrottlingException", ErrorMessage: "entry 10 failed"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEventBridge{fail: tc.fail}
			err := newFake(f).Publish(context.Background(), entries(tc.n)...)
			if got := f.sent(); fmt.Sprint(got) != fmt.Sprint(tc.wantCalls) {
				t.Errorf("calls = %v, want %v", got, tc.wantCalls)
			}
			if tc.wantFail == nil {
				if err != nil {
					t.Fatalf("Publish = %v, want nil", err)
				}
				return
			}
			var pe *PublishError
			if !errors.As(err, &pe) {
				t.Fatalf("Publish = %v, want a *PublishError", err)
			}
			if fmt.Sprint(pe.Failed) != fmt.Sprint(tc.wantFail) {
				t.Errorf("failed = %+v, want %+v", pe.Failed, tc.wantFail)
			}
			for _, fe := range tc.wantFail {
				if !strings.Contains(err.Error(), fmt.Sprintf("entry %d: %s", fe.Index, fe.ErrorCode)) {
					t.Errorf("message %q does not name entry %d", err, fe.Index)
				}
			}
		})
	}
}

func TestEventBridgeRequestErrors(t *testing.T) {
	boom := errors.New("connection reset")
	f := &fakeEventBridge{reqErr: func(call int) error {
		if call == 2 {
			return boom
		}
		return nil
	}}
	err := newFake(f).Publish(context.Background(), entries(30)...)
	if !errors.Is(err, boom) {
		t.Fatalf("Publish = %v, want the request error", err)
	}
	if got := len(f.sent()); got != 2 {
		t.Errorf("%d calls, want 2: nothing is sent after a failed call", got)
	}

	short := &fakeEventBridge{short: true, fail: func(n, _ int) string { return map[int]string{0: "ThrottlingException"}[n] }}
	if err := newFake(short).Publish(context.Background(), entries(3)...); err == nil || !strings.Contains(err.Error(), "2 results for 3 entries") {
		t.Errorf("answer with a missing result: %v", err)
	}
}

func TestEventBridgeCancelledDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeEventBridge{fail: func(n, attempt int) string {
		if attempt == 1 {
			cancel() // the context ends while the adapter would wait
		}
		return map[int]string{0: "ThrottlingException", 1: "MalformedDetail"}[n]
	}}
	p := newEventBridge(f, "imagepipe")
	p.backoff = time.Hour // never elapses: only the cancellation ends the wait
	err := p.Publish(ctx, entries(2)...)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish = %v, want context.Canceled", err)
	}
	var pe *PublishError
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed[0].Index != 1 {
		t.Errorf("the entries known to have failed are not reported: %v", err)
	}
}

// TestEventBridgeRequestThrottlingRetriedBySDK checks that a whole-request
// ThrottlingException (HTTP 400 with that __type) is retried by the SDK's
// standard retryer, under the adapter: the adapter itself only retries
// per-entry failures.
func TestEventBridgeRequestThrottlingRetriedBySDK(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
			return
		}
		_, _ = io.WriteString(w, `{"FailedEntryCount":0,"Entries":[{"EventId":"a"}]}`)
	}))
	defer srv.Close()
	client := eventbridge.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}, func(o *eventbridge.Options) {
		o.RetryMaxAttempts = 3
	})
	if err := NewEventBridge(client, "imagepipe").Publish(context.Background(), entries(1)...); err != nil {
		t.Fatalf("Publish = %v, want success after the SDK's retry", err)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("%d requests, want 2 (one throttled, one retried by the SDK)", got)
	}
}
