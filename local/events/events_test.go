package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local/bus"
	"github.com/imagepipe/imagepipe/local/events"
	"github.com/imagepipe/imagepipe/local/localtest"
	"github.com/imagepipe/imagepipe/local/queue"
	"github.com/imagepipe/imagepipe/local/sigv4"
)

const (
	accessKey = "AKIDEVENTSTEST"
	secret    = "events-test-secret"
	account   = "000000000000"
	region    = "us-east-1"
)

// env is an EventBridge edge over a router with bus "app", rules "all"
// (source test) and "big" (detail.n > 1) with queue targets, and archive
// "app-archive" of the whole bus, with a running replayer.
type env struct {
	url    string
	router *bus.Router
	qAll   *queue.Queue
	qBig   *queue.Queue
	client *eventbridge.Client
	// verifier checks the requests' signatures.
	verifier *sigv4.Verifier
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := queue.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := bus.New(store, region, account, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.AddBus("app")
	e := &env{router: r, qAll: store.Queue("all", queue.Options{}), qBig: store.Queue("big", queue.Options{})}
	for _, rule := range []*bus.Rule{
		{Name: "all", Bus: "app", Pattern: `{"source":["test"]}`, Target: e.qAll, Description: "every test event"},
		{Name: "big", Bus: "app", Pattern: `{"detail":{"n":[{"numeric":[">",1]}]}}`, Target: e.qBig},
	} {
		if err := r.AddRule(rule); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.AddArchive(&bus.Archive{Name: "app-archive", Bus: "app", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rp, err := bus.NewReplayer(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rp.Run(ctx) }()
	e.verifier = &sigv4.Verifier{Credentials: sigv4.StaticCredentials(accessKey, secret)}
	h := &events.Handler{Router: r, Replays: rp, Verifier: e.verifier}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); cancel(); <-done; store.Close() })
	e.url = srv.URL
	e.client = eventbridge.NewFromConfig(aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		BaseEndpoint: aws.String(srv.URL),
	}, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	return e
}

func (e *env) drain(t *testing.T, q *queue.Queue) []eventbus.Event {
	t.Helper()
	var out []eventbus.Event
	for {
		msgs, err := q.Receive(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			var ev eventbus.Event
			if err := json.Unmarshal(m.Body, &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
			_ = q.Delete(context.Background(), m.ReceiptHandle)
		}
	}
}

// apiCode is the error code of an SDK error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func entry(n int, at time.Time) ebtypes.PutEventsRequestEntry {
	return ebtypes.PutEventsRequestEntry{
		EventBusName: aws.String("app"), Source: aws.String("test"), DetailType: aws.String("Tick"),
		Detail: aws.String(`{"n":` + string(rune('0'+n)) + `}`), Time: aws.Time(at),
	}
}

func TestPutEventsPerEntryErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	big := `{"x":"` + strings.Repeat("a", 1<<20) + `"}`
	out, err := e.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		entry(1, now),
		{EventBusName: aws.String("app"), DetailType: aws.String("Tick"), Detail: aws.String(`{}`)},
		{EventBusName: aws.String("app"), Source: aws.String("test"), Detail: aws.String(`{}`)},
		{EventBusName: aws.String("app"), Source: aws.String("test"), DetailType: aws.String("Tick")},
		{EventBusName: aws.String("app"), Source: aws.String("test"), DetailType: aws.String("Tick"), Detail: aws.String(`{"a":`)},
		{EventBusName: aws.String("app"), Source: aws.String("aws.s3"), DetailType: aws.String("Tick"), Detail: aws.String(`{}`)},
		{EventBusName: aws.String("nope"), Source: aws.String("test"), DetailType: aws.String("Tick"), Detail: aws.String(`{}`)},
		{EventBusName: aws.String("app"), Source: aws.String("test"), DetailType: aws.String("Tick"), Detail: aws.String(big)},
		{EventBusName: aws.String("arn:aws:events:us-east-1:000000000000:event-bus/app"), Source: aws.String("test"), DetailType: aws.String("Tick"), Detail: aws.String(`{"n":2}`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "InvalidArgument", "InvalidArgument", "InvalidArgument", "MalformedDetail", "NotAuthorizedForSourceException", "ResourceNotFoundException", "InvalidArgument", ""}
	if len(out.Entries) != len(want) {
		t.Fatalf("%d results for %d entries", len(out.Entries), len(want))
	}
	failed := 0
	for i, res := range out.Entries {
		got := aws.ToString(res.ErrorCode)
		if got != want[i] {
			t.Errorf("entry %d: ErrorCode %q (%s), want %q", i, got, aws.ToString(res.ErrorMessage), want[i])
		}
		if (got == "") == (res.EventId == nil) {
			t.Errorf("entry %d: EventId %v with ErrorCode %q", i, res.EventId, got)
		}
		if got != "" {
			failed++
		}
	}
	if int(out.FailedEntryCount) != failed {
		t.Errorf("FailedEntryCount = %d, want %d", out.FailedEntryCount, failed)
	}
	if got := e.drain(t, e.qAll); len(got) != 2 || !got[0].Time.Equal(now.UTC().Truncate(time.Second)) {
		t.Errorf("rule all got %d events (%v), want 2, the first at %v", len(got), got, now.UTC().Truncate(time.Second))
	}

	// Whole-request errors.
	eleven := make([]ebtypes.PutEventsRequestEntry, 11)
	for i := range eleven {
		eleven[i] = entry(1, now)
	}
	for _, tc := range []struct {
		name    string
		entries []ebtypes.PutEventsRequestEntry
	}{
		{name: "eleven entries", entries: eleven},
		{name: "no complete entry", entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("test")}}},
	} {
		_, err := e.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: tc.entries})
		if apiCode(err) != "ValidationException" {
			t.Errorf("%s: err = %v, want ValidationException", tc.name, err)
		}
	}
}

func TestTestEventPattern(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	event := `{"id":"1","account":"000000000000","source":"aws.s3","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail-type":"Object Created","detail":{"object":{"key":"uploads/a.jpg","size":10}}}`
	tests := []struct {
		name, pattern, event string
		want                 bool
		code                 string
	}{
		{name: "match", pattern: `{"source":["aws.s3"],"detail":{"object":{"key":[{"prefix":"uploads/"}]}}}`, event: event, want: true},
		{name: "no match", pattern: `{"detail":{"object":{"size":[{"numeric":[">",100]}]}}}`, event: event},
		{name: "invalid pattern", pattern: `{"source":"aws.s3"}`, event: event, code: "InvalidEventPatternException"},
		{name: "event missing fields", pattern: `{"source":["aws.s3"]}`, event: `{"source":"aws.s3"}`, code: "ValidationException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.client.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(tc.pattern), Event: aws.String(tc.event)})
			if tc.code != "" {
				if apiCode(err) != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				if tc.code == "InvalidEventPatternException" && !strings.Contains(err.Error(), "Event pattern is not valid. Reason:") {
					t.Errorf("message %q lacks EventBridge's wording", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Result != tc.want {
				t.Errorf("Result = %v, want %v", out.Result, tc.want)
			}
		})
	}
}

func TestRulesAndArchives(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rules, err := e.client.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.Rules) != 2 || aws.ToString(rules.Rules[0].Arn) != "arn:aws:events:us-east-1:000000000000:rule/app/all" ||
		rules.Rules[0].State != ebtypes.RuleStateEnabled || aws.ToString(rules.Rules[0].EventPattern) != `{"source":["test"]}` {
		t.Errorf("ListRules = %+v", rules.Rules)
	}
	paged, err := e.client.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("app"), Limit: aws.Int32(1)})
	if err != nil || len(paged.Rules) != 1 || paged.NextToken == nil {
		t.Fatalf("page 1: %+v, %v", paged, err)
	}
	paged, err = e.client.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("app"), Limit: aws.Int32(1), NextToken: paged.NextToken})
	if err != nil || len(paged.Rules) != 1 || aws.ToString(paged.Rules[0].Name) != "big" || paged.NextToken != nil {
		t.Fatalf("page 2: %+v, %v", paged, err)
	}
	prefixed, err := e.client.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("app"), NamePrefix: aws.String("b")})
	if err != nil || len(prefixed.Rules) != 1 {
		t.Errorf("NamePrefix b: %+v, %v", prefixed, err)
	}
	if _, err := e.client.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("nope")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("ListRules on an unknown bus: %v", err)
	}
	rule, err := e.client.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("all"), EventBusName: aws.String("app")})
	if err != nil || aws.ToString(rule.Description) != "every test event" || aws.ToString(rule.EventBusName) != "app" {
		t.Errorf("DescribeRule = %+v, %v", rule, err)
	}
	if _, err := e.client.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("all")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("DescribeRule of a rule of another bus: %v", err)
	}

	if _, err := e.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{entry(1, time.Now()), entry(2, time.Now())}}); err != nil {
		t.Fatal(err)
	}
	arch, err := e.client.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String("app-archive")})
	if err != nil {
		t.Fatal(err)
	}
	if arch.EventCount != 2 || arch.SizeBytes <= 0 || aws.ToString(arch.EventSourceArn) != "arn:aws:events:us-east-1:000000000000:event-bus/app" ||
		aws.ToString(arch.ArchiveArn) != "arn:aws:events:us-east-1:000000000000:archive/app-archive" || arch.State != ebtypes.ArchiveStateEnabled || arch.CreationTime == nil {
		t.Errorf("DescribeArchive = %+v", arch)
	}
	list, err := e.client.ListArchives(ctx, &eventbridge.ListArchivesInput{})
	if err != nil || len(list.Archives) != 1 || list.Archives[0].EventCount != 2 {
		t.Errorf("ListArchives = %+v, %v", list, err)
	}
	if _, err := e.client.ListArchives(ctx, &eventbridge.ListArchivesInput{NamePrefix: aws.String("a"), State: ebtypes.ArchiveStateEnabled}); apiCode(err) != "ValidationException" {
		t.Errorf("ListArchives with two filters: %v", err)
	}
	if _, err := e.client.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String("nope")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("DescribeArchive of an unknown archive: %v", err)
	}
}

func waitReplay(t *testing.T, c *eventbridge.Client, name string) *eventbridge.DescribeReplayOutput {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := c.DescribeReplay(context.Background(), &eventbridge.DescribeReplayInput{ReplayName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		switch out.State {
		case ebtypes.ReplayStateCompleted, ebtypes.ReplayStateCancelled, ebtypes.ReplayStateFailed:
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay %s still %s", name, out.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReplayOperations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var entries []ebtypes.PutEventsRequestEntry
	for i := range 4 {
		entries = append(entries, entry(i, base.Add(time.Duration(i)*time.Second)))
	}
	if _, err := e.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries}); err != nil {
		t.Fatal(err)
	}
	e.drain(t, e.qAll)
	e.drain(t, e.qBig)

	archiveARN := "arn:aws:events:us-east-1:000000000000:archive/app-archive"
	busARN := "arn:aws:events:us-east-1:000000000000:event-bus/app"
	bigARN := "arn:aws:events:us-east-1:000000000000:rule/app/big"
	start, err := e.client.StartReplay(ctx, &eventbridge.StartReplayInput{
		ReplayName: aws.String("r1"), EventSourceArn: aws.String(archiveARN),
		EventStartTime: aws.Time(base), EventEndTime: aws.Time(base.Add(time.Minute)),
		Destination: &ebtypes.ReplayDestination{Arn: aws.String(busARN), FilterArns: []string{bigARN}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if start.State != ebtypes.ReplayStateStarting || aws.ToString(start.ReplayArn) != "arn:aws:events:us-east-1:000000000000:replay/r1" || start.ReplayStartTime == nil {
		t.Errorf("StartReplay = %+v", start)
	}
	d := waitReplay(t, e.client, "r1")
	if d.State != ebtypes.ReplayStateCompleted || d.ReplayEndTime == nil || aws.ToString(d.EventSourceArn) != archiveARN ||
		d.Destination == nil || aws.ToString(d.Destination.Arn) != busARN || len(d.Destination.FilterArns) != 1 || d.Destination.FilterArns[0] != bigARN ||
		d.EventLastReplayedTime == nil || !d.EventLastReplayedTime.Equal(base.Add(3*time.Second)) || !d.EventStartTime.Equal(base) {
		t.Errorf("DescribeReplay = %+v", d)
	}
	if got := e.drain(t, e.qBig); len(got) != 2 || got[0].ReplayName != "r1" || got[1].ReplayName != "r1" {
		t.Errorf("rule big got %+v, want the 2 events with n > 1 marked replay-name r1", got)
	}
	if got := e.drain(t, e.qAll); len(got) != 0 {
		t.Errorf("rule all, not in FilterArns, got %d events", len(got))
	}
	if arch, err := e.client.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String("app-archive")}); err != nil || arch.EventCount != 4 {
		t.Errorf("archive after the replay: %v events (%v), want 4", arch.EventCount, err)
	}

	list, err := e.client.ListReplays(ctx, &eventbridge.ListReplaysInput{State: ebtypes.ReplayStateCompleted})
	if err != nil || len(list.Replays) != 1 || aws.ToString(list.Replays[0].ReplayName) != "r1" {
		t.Errorf("ListReplays = %+v, %v", list, err)
	}
	if _, err := e.client.CancelReplay(ctx, &eventbridge.CancelReplayInput{ReplayName: aws.String("r1")}); apiCode(err) != "IllegalStatusException" {
		t.Errorf("CancelReplay of a completed replay: %v", err)
	}
	if _, err := e.client.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: aws.String("nope")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("DescribeReplay of an unknown replay: %v", err)
	}

	bad := []struct {
		name string
		in   eventbridge.StartReplayInput
		code string
	}{
		{name: "duplicate", code: "ResourceAlreadyExistsException", in: eventbridge.StartReplayInput{ReplayName: aws.String("r1"), EventSourceArn: aws.String(archiveARN),
			EventStartTime: aws.Time(base), EventEndTime: aws.Time(base.Add(time.Minute)), Destination: &ebtypes.ReplayDestination{Arn: aws.String(busARN)}}},
		{name: "unknown archive", code: "ValidationException", in: eventbridge.StartReplayInput{ReplayName: aws.String("r2"), EventSourceArn: aws.String(archiveARN + "x"),
			EventStartTime: aws.Time(base), EventEndTime: aws.Time(base.Add(time.Minute)), Destination: &ebtypes.ReplayDestination{Arn: aws.String(busARN)}}},
		{name: "cross bus", code: "ValidationException", in: eventbridge.StartReplayInput{ReplayName: aws.String("r2"), EventSourceArn: aws.String(archiveARN),
			EventStartTime: aws.Time(base), EventEndTime: aws.Time(base.Add(time.Minute)), Destination: &ebtypes.ReplayDestination{Arn: aws.String("arn:aws:events:us-east-1:000000000000:event-bus/default")}}},
		{name: "not a bus ARN", code: "ValidationException", in: eventbridge.StartReplayInput{ReplayName: aws.String("r2"), EventSourceArn: aws.String(archiveARN),
			EventStartTime: aws.Time(base), EventEndTime: aws.Time(base.Add(time.Minute)), Destination: &ebtypes.ReplayDestination{Arn: aws.String("app")}}},
		{name: "reversed window", code: "ValidationException", in: eventbridge.StartReplayInput{ReplayName: aws.String("r2"), EventSourceArn: aws.String(archiveARN),
			EventStartTime: aws.Time(base.Add(time.Minute)), EventEndTime: aws.Time(base), Destination: &ebtypes.ReplayDestination{Arn: aws.String(busARN)}}},
		{name: "unknown filter rule", code: "ValidationException", in: eventbridge.StartReplayInput{ReplayName: aws.String("r2"), EventSourceArn: aws.String(archiveARN),
			EventStartTime: aws.Time(base), EventEndTime: aws.Time(base.Add(time.Minute)), Destination: &ebtypes.ReplayDestination{Arn: aws.String(busARN), FilterArns: []string{bigARN + "x"}}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.StartReplay(ctx, &tc.in)
			if apiCode(err) != tc.code {
				t.Errorf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

func TestUnknownOperationAndBadSignature(t *testing.T) {
	e := newEnv(t)
	wrong := eventbridge.NewFromConfig(aws.Config{
		Region: region, Credentials: credentials.NewStaticCredentialsProvider(accessKey, "wrong", ""), BaseEndpoint: aws.String(e.url),
	}, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	if _, err := wrong.ListRules(context.Background(), &eventbridge.ListRulesInput{}); apiCode(err) != "InvalidSignatureException" {
		t.Errorf("wrong secret: %v, want InvalidSignatureException", err)
	}
	if _, err := e.client.CreateEventBus(context.Background(), &eventbridge.CreateEventBusInput{Name: aws.String("more")}); apiCode(err) != "UnknownOperationException" {
		t.Errorf("unsupported operation: %v, want UnknownOperationException", err)
	}
}

// TestSigningRegionAndBusARNs: a request signed for another region is
// refused as EventBridge refuses it; a bus ARN of another account or region
// is never taken for the local bus of the same name.
func TestSigningRegionAndBusARNs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := eventbridge.NewFromConfig(aws.Config{
		Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider(accessKey, secret, ""), BaseEndpoint: aws.String(e.url),
	}, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	if _, err := other.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("app")}); apiCode(err) != "InvalidSignatureException" {
		t.Errorf("request signed for eu-west-1: %v, want InvalidSignatureException", err)
	}
	for _, tc := range []struct {
		bus, code string
	}{
		{"arn:aws:events:us-east-1:111122223333:event-bus/app", "AccessDeniedException"},
		{"arn:aws:events:eu-west-1:" + account + ":event-bus/app", "InvalidArgument"},
		{"arn:aws:sqs:us-east-1:" + account + ":app", "InvalidArgument"},
	} {
		ent := entry(1, time.Now())
		ent.EventBusName = aws.String(tc.bus)
		out, err := e.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{ent}})
		if err != nil {
			t.Fatal(err)
		}
		if out.FailedEntryCount != 1 || aws.ToString(out.Entries[0].ErrorCode) != tc.code {
			t.Errorf("PutEvents to %s: %+v, want %s", tc.bus, out.Entries, tc.code)
		}
		if _, err := e.client.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(tc.bus)}); err == nil {
			t.Errorf("ListRules of %s answered", tc.bus)
		}
	}
	if n := len(e.drain(t, e.qAll)); n != 0 {
		t.Fatalf("%d events reached the local bus through foreign ARNs", n)
	}
	ent := entry(1, time.Now())
	ent.EventBusName = aws.String("arn:aws:events:" + region + ":" + account + ":event-bus/app")
	if out, err := e.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{ent}}); err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents to the local bus's own ARN: %v %+v", err, out)
	}
}

// TestEventPatternLengthCap: TestEventPattern refuses patterns longer than
// EventBridge's 4096 characters.
func TestEventPatternLengthCap(t *testing.T) {
	e := newEnv(t)
	vals := make([]string, 0, 1000)
	for i := range 1000 {
		vals = append(vals, fmt.Sprintf("%q", fmt.Sprint("v", i)))
	}
	big := `{"source":[` + strings.Join(vals, ",") + `]}`
	ev := `{"id":"1","account":"` + account + `","source":"v7","time":"2024-01-01T00:00:00Z","region":"` + region + `","resources":[],"detail-type":"x","detail":{}}`
	_, err := e.client.TestEventPattern(context.Background(), &eventbridge.TestEventPatternInput{EventPattern: aws.String(big), Event: aws.String(ev)})
	if apiCode(err) != "ValidationException" || !strings.Contains(err.Error(), "4096") {
		t.Fatalf("a %d-character pattern: %v, want ValidationException naming 4096", len(big), err)
	}
	out, err := e.client.TestEventPattern(context.Background(), &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"source":["v7"]}`), Event: aws.String(ev)})
	if err != nil || !out.Result {
		t.Fatalf("a short pattern: %v %+v", err, out)
	}
}

// aws runs the aws CLI against the edge with only the test's credentials;
// the error says its exit status, the output holds stdout then stderr.
func (e *env) aws(t *testing.T, args ...string) (string, error) {
	t.Helper()
	stdout, stderr, code := localtest.AWSCLIAt(t, e.url, accessKey, secret, region, args...)
	if code != 0 {
		return stdout + stderr, fmt.Errorf("aws %s: exit status %d", strings.Join(args, " "), code)
	}
	return stdout + stderr, nil
}

func TestAWSCLI(t *testing.T) {
	e := newEnv(t)
	out, err := e.aws(t, "events", "put-events", "--entries", `[{"EventBusName":"app","Source":"test","DetailType":"Tick","Detail":"{\"n\":5}"}]`)
	if err != nil || !strings.Contains(out, `"FailedEntryCount": 0`) {
		t.Fatalf("put-events: %v\n%s", err, out)
	}
	out, err = e.aws(t, "events", "test-event-pattern", "--event-pattern", `{"source":["test"]}`,
		"--event", `{"id":"1","account":"000000000000","source":"test","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail-type":"Tick","detail":{}}`)
	if err != nil || !strings.Contains(out, `"Result": true`) {
		t.Errorf("test-event-pattern: %v\n%s", err, out)
	}
	out, err = e.aws(t, "events", "test-event-pattern", "--event-pattern", `{"source":"test"}`, "--event", `{}`)
	if err == nil || !strings.Contains(out, "InvalidEventPatternException") {
		t.Errorf("test-event-pattern with an invalid pattern: %v\n%s", err, out)
	}
	out, err = e.aws(t, "events", "list-rules", "--event-bus-name", "app")
	if err != nil || !strings.Contains(out, `"Name": "big"`) {
		t.Errorf("list-rules: %v\n%s", err, out)
	}
	out, err = e.aws(t, "events", "describe-rule", "--name", "all", "--event-bus-name", "app")
	if err != nil || !strings.Contains(out, `"State": "ENABLED"`) {
		t.Errorf("describe-rule: %v\n%s", err, out)
	}
	out, err = e.aws(t, "events", "describe-archive", "--archive-name", "app-archive")
	if err != nil || !strings.Contains(out, `"EventCount": 1`) {
		t.Errorf("describe-archive: %v\n%s", err, out)
	}
	out, err = e.aws(t, "events", "list-archives")
	if err != nil || !strings.Contains(out, `"ArchiveName": "app-archive"`) {
		t.Errorf("list-archives: %v\n%s", err, out)
	}
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	to := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	out, err = e.aws(t, "events", "start-replay", "--replay-name", "cli", "--event-source-arn", "arn:aws:events:us-east-1:000000000000:archive/app-archive",
		"--event-start-time", from, "--event-end-time", to, "--destination", `{"Arn":"arn:aws:events:us-east-1:000000000000:event-bus/app"}`)
	if err != nil || !strings.Contains(out, `"State": "STARTING"`) {
		t.Fatalf("start-replay: %v\n%s", err, out)
	}
	waitReplay(t, e.client, "cli")
	out, err = e.aws(t, "events", "describe-replay", "--replay-name", "cli")
	if err != nil || !strings.Contains(out, `"State": "COMPLETED"`) || !strings.Contains(out, "EventLastReplayedTime") {
		t.Errorf("describe-replay: %v\n%s", err, out)
	}
	out, err = e.aws(t, "events", "list-replays")
	if err != nil || !strings.Contains(out, `"ReplayName": "cli"`) {
		t.Errorf("list-replays: %v\n%s", err, out)
	}
	out, err = e.aws(t, "events", "cancel-replay", "--replay-name", "cli")
	if err == nil || !strings.Contains(out, "IllegalStatusException") {
		t.Errorf("cancel-replay of a completed replay: %v\n%s", err, out)
	}
	replayed := e.drain(t, e.qAll)
	if len(replayed) != 2 || replayed[0].ReplayName != "" || replayed[1].ReplayName != "cli" {
		t.Errorf("rule all got %+v, want the original and the replayed event", replayed)
	}
}

// inProcess is an http.RoundTripper that serves each request with a
// handler in the calling goroutine, with no connection in between.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	r = r.Clone(r.Context())
	if r.Host == "" {
		r.Host = r.URL.Host // as a server sees it
	}
	p.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// TestConcurrentFirstRequests: a fresh handler's first requests come at
// once (a stack starting while tools call it) and each gets its answer.
func TestConcurrentFirstRequests(t *testing.T) {
	e := newEnv(t)
	for range 20 {
		h := &events.Handler{Router: e.router, Verifier: e.verifier}
		c := eventbridge.NewFromConfig(aws.Config{
			Region:       region,
			Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
			BaseEndpoint: aws.String("http://127.0.0.1"),
			HTTPClient:   &http.Client{Transport: inProcess{h}},
		}, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
		const n = 16
		start := make(chan struct{})
		errs := make(chan error, n)
		for range n {
			go func() {
				<-start
				out, err := c.ListEventBuses(context.Background(), &eventbridge.ListEventBusesInput{})
				if err == nil && len(out.EventBuses) == 0 {
					err = errors.New("no bus listed")
				}
				errs <- err
			}()
		}
		close(start)
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}
