// Package publishertest is the contract test suite of eventbus.Publisher:
// every implementation (the EventBridge adapter over the local stack's
// edge, over moto_server, over AWS) must pass Run. Like watermill's
// pubsub/tests, the suite only publishes and reads back what the bus
// delivered to a target; how the target is read is the implementation's
// business.
package publishertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/eventbus"
)

// Source is the source of every event the suite publishes: the target that
// Setup wires must receive the events of this source on the bus (a rule
// with pattern {"source":["imagepipe.contract"]}).
const Source = "imagepipe.contract"

// Fixture is one publisher and a way to read back what its bus delivered.
type Fixture struct {
	Publisher eventbus.Publisher
	// Receive returns the events delivered to the target since the last
	// call (each event once), waiting at most briefly for them. The suite
	// calls it until it has what it expects or its deadline passes.
	Receive func(ctx context.Context) ([]eventbus.Event, error)
	// Account and Region are what the delivered envelope must carry;
	// an empty Account is not checked (moto_server leaves it empty for
	// credentials that name no account).
	Account, Region string
}

// Setup makes a fresh fixture for one subtest: a new target, so that no
// subtest sees another's events.
type Setup func(t *testing.T) Fixture

// Wait bounds how long the suite waits for deliveries.
var Wait = 20 * time.Second

// Run runs the contract against the fixtures setup makes.
func Run(t *testing.T, setup Setup) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, setup(t)) })
	t.Run("MoreThanOneBatch", func(t *testing.T) { testBatches(t, setup(t)) })
	t.Run("Nothing", func(t *testing.T) { testNothing(t, setup(t)) })
	t.Run("RuleFilters", func(t *testing.T) { testRuleFilters(t, setup(t)) })
	t.Run("FailedEntryReported", func(t *testing.T) { testFailedEntry(t, setup(t)) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelled(t, setup(t)) })
}

type detail struct {
	Run  string         `json:"run"`
	Seq  int            `json:"seq"`
	Data map[string]any `json:"data,omitempty"`
}

func newRun() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func entry(run string, seq int) eventbus.Entry {
	d, _ := json.Marshal(detail{Run: run, Seq: seq})
	return eventbus.Entry{Source: Source, DetailType: "Contract Test", Detail: d}
}

// collect reads from the fixture until want events of this run have come,
// then a little longer to catch duplicates, and returns them by seq.
func collect(t *testing.T, f Fixture, run string, want int) map[int][]eventbus.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	got := map[int][]eventbus.Event{}
	n := 0
	extra := 0
	for {
		evs, err := f.Receive(ctx)
		if err != nil && ctx.Err() == nil {
			t.Fatalf("receive: %v", err)
		}
		for _, ev := range evs {
			var d detail
			if err := json.Unmarshal(ev.Detail, &d); err != nil {
				t.Fatalf("delivered detail %s: %v", ev.Detail, err)
			}
			if d.Run != run {
				continue
			}
			got[d.Seq] = append(got[d.Seq], ev)
			n++
		}
		if n >= want {
			// One more read, to see a duplicate that would follow.
			extra++
			if extra > 1 {
				return got
			}
		}
		if ctx.Err() != nil {
			if n < want {
				t.Fatalf("%d of %d events delivered within %v", n, want, Wait)
			}
			return got
		}
	}
}

func testRoundTrip(t *testing.T, f Fixture) {
	run := newRun()
	at := time.Date(2026, 11, 28, 4, 5, 6, 0, time.UTC)
	d := fmt.Sprintf(`{"run":%q,"seq":0,"data":{"s":"é\"\\n","n":12.5,"b":true,"z":null,"a":[1,"x"],"o":{"k":"v"}}}`, run)
	e := eventbus.Entry{Source: Source, DetailType: "Contract Test", Detail: json.RawMessage(d), Resources: []string{"arn:aws:s3:::bucket/key"}, Time: at}
	if err := f.Publisher.Publish(context.Background(), e); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := collect(t, f, run, 1)
	if len(got[0]) != 1 {
		t.Fatalf("delivered %d times, want once", len(got[0]))
	}
	ev := got[0][0]
	if ev.Source != Source || ev.DetailType != "Contract Test" || !reflect.DeepEqual(ev.Resources, e.Resources) || !ev.Time.Equal(at) {
		t.Errorf("envelope = source %q, detail-type %q, resources %v, time %v; want %q, %q, %v, %v",
			ev.Source, ev.DetailType, ev.Resources, ev.Time, Source, "Contract Test", e.Resources, at)
	}
	if ev.ID == "" || ev.Version != "0" || (f.Account != "" && ev.Account != f.Account) || ev.Region != f.Region || ev.ReplayName != "" {
		t.Errorf("envelope = id %q, version %q, account %q, region %q, replay-name %q", ev.ID, ev.Version, ev.Account, ev.Region, ev.ReplayName)
	}
	var want, have any
	_ = json.Unmarshal([]byte(d), &want)
	if err := json.Unmarshal(ev.Detail, &have); err != nil || !reflect.DeepEqual(want, have) {
		t.Errorf("detail = %s, want %s", ev.Detail, d)
	}
}

func testBatches(t *testing.T, f Fixture) {
	run := newRun()
	const n = 23 // three PutEvents calls
	entries := make([]eventbus.Entry, n)
	for i := range entries {
		entries[i] = entry(run, i)
	}
	start := time.Now().Add(-time.Second)
	if err := f.Publisher.Publish(context.Background(), entries...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := collect(t, f, run, n)
	ids := map[string]bool{}
	for i := range n {
		if len(got[i]) != 1 {
			t.Errorf("event %d delivered %d times, want once", i, len(got[i]))
			continue
		}
		ev := got[i][0]
		ids[ev.ID] = true
		if ev.Time.Before(start.Truncate(time.Second)) || ev.Time.After(time.Now().Add(time.Minute)) {
			t.Errorf("event %d: time %v is not the time of the call", i, ev.Time)
		}
	}
	if len(ids) != n {
		t.Errorf("%d distinct event ids for %d events", len(ids), n)
	}
}

func testNothing(t *testing.T, f Fixture) {
	if err := f.Publisher.Publish(context.Background()); err != nil {
		t.Errorf("Publish of no entries: %v", err)
	}
}

func testRuleFilters(t *testing.T, f Fixture) {
	run := newRun()
	other := entry(run, 1)
	other.Source = "imagepipe.contract.other"
	if err := f.Publisher.Publish(context.Background(), other, entry(run, 2)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := collect(t, f, run, 1)
	if len(got[1]) != 0 || len(got[2]) != 1 {
		t.Errorf("delivered %d events of another source and %d of the rule's (want 0 and 1)", len(got[1]), len(got[2]))
	}
}

func testFailedEntry(t *testing.T, f Fixture) {
	run := newRun()
	const n = 13
	const bad = 11 // in the second batch: its index must be the caller's
	entries := make([]eventbus.Entry, n)
	for i := range entries {
		entries[i] = entry(run, i)
	}
	entries[bad].Detail = json.RawMessage(`{"run":`)
	err := f.Publisher.Publish(context.Background(), entries...)
	var pe *eventbus.PublishError
	if !errors.As(err, &pe) {
		t.Fatalf("Publish = %v, want a *eventbus.PublishError", err)
	}
	if len(pe.Failed) != 1 || pe.Failed[0].Index != bad || pe.Failed[0].ErrorCode == "" {
		t.Fatalf("failed entries = %+v, want only index %d with a code", pe.Failed, bad)
	}
	got := collect(t, f, run, n-1)
	var seqs []int
	for s, evs := range got {
		if len(evs) != 1 {
			t.Errorf("event %d delivered %d times", s, len(evs))
		}
		seqs = append(seqs, s)
	}
	sort.Ints(seqs)
	if len(seqs) != n-1 {
		t.Errorf("delivered %v, want every seq but %d", seqs, bad)
	}
}

func testCancelled(t *testing.T, f Fixture) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Publisher.Publish(ctx, entry(newRun(), 0)); err == nil {
		t.Error("Publish with a cancelled context succeeded")
	}
}
