package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local/queue"
)

// fixture is a router over a store in a temporary directory, with bus
// "app", rules "a" (detail.n >= 0) and "b" (everything from "test") and an
// archive "app-archive" of every event of the bus.
type fixture struct {
	store  *queue.Store
	router *Router
	qa, qb *queue.Queue
}

func newFixture(t *testing.T, path string) *fixture {
	t.Helper()
	store, err := queue.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(store, "us-east-1", "000000000000", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.AddBus("app")
	f := &fixture{store: store, router: r, qa: store.Queue("qa", queue.Options{}), qb: store.Queue("qb", queue.Options{})}
	for _, rule := range []*Rule{
		{Name: "a", Bus: "app", Pattern: `{"detail":{"n":[{"numeric":[">=",0]}]}}`, Target: f.qa},
		{Name: "b", Bus: "app", Pattern: `{"source":["test"]}`, Target: f.qb},
	} {
		if err := r.AddRule(rule); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.AddArchive(&Archive{Name: "app-archive", Bus: "app"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// put puts n events on bus app, one second apart from base, with detail.n
// = 0…n-1, and empties the queues.
func (f *fixture) put(t *testing.T, base time.Time, n int) {
	t.Helper()
	for i := range n {
		ev := f.router.NewEvent(eventbus.Entry{Source: "test", DetailType: "Tick", Detail: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Time: base.Add(time.Duration(i) * time.Second)})
		if _, err := f.router.Put(context.Background(), "app", ev); err != nil {
			t.Fatal(err)
		}
	}
	drain(t, f.qa)
	drain(t, f.qb)
}

// drain receives and deletes every visible message of q and returns the
// events, in order.
func drain(t *testing.T, q *queue.Queue) []eventbus.Event {
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
			if err := q.Delete(context.Background(), m.ReceiptHandle); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func detailN(t *testing.T, evs []eventbus.Event) []int {
	t.Helper()
	var ns []int
	for _, ev := range evs {
		var d struct{ N int }
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatal(err)
		}
		ns = append(ns, d.N)
	}
	return ns
}

// runReplayer runs p until the test ends.
func runReplayer(t *testing.T, p *Replayer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitState polls the replay until it is in a final state.
func waitState(t *testing.T, p *Replayer, name string) *Replay {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rp, err := p.Describe(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if rp.State.Done() {
			return rp
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay %s still %s after 10s", name, rp.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReplayWindowRulesAndNoRearchive(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "state.db"))
	defer f.store.Close()
	base := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	f.put(t, base, 6)
	countBefore, _, err := f.router.ArchiveStats(context.Background(), "app-archive")
	if err != nil || countBefore != 6 {
		t.Fatalf("archive holds %d events (%v), want 6", countBefore, err)
	}
	p, err := NewReplayer(f.router, nil)
	if err != nil {
		t.Fatal(err)
	}
	runReplayer(t, p)

	tests := []struct {
		name     string
		from, to time.Time
		rules    []string
		wantA    []int
		wantB    []int
		wantLast time.Time
	}{
		{name: "all-rules", from: base.Add(time.Second), to: base.Add(3 * time.Second), wantA: []int{1, 2, 3}, wantB: []int{1, 2, 3}, wantLast: base.Add(3 * time.Second)},
		{name: "only-b", from: base, to: base.Add(time.Hour), rules: []string{"b"}, wantB: []int{0, 1, 2, 3, 4, 5}, wantLast: base.Add(5 * time.Second)},
		{name: "empty-window", from: base.Add(-time.Hour), to: base.Add(-time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp, err := p.Start(context.Background(), ReplaySpec{Name: tc.name, Archive: "app-archive", Bus: "app", Rules: tc.rules, From: tc.from, To: tc.to})
			if err != nil {
				t.Fatal(err)
			}
			if rp.State != ReplayStarting && rp.State != ReplayRunning && rp.State != ReplayCompleted {
				t.Errorf("state after Start = %s", rp.State)
			}
			rp = waitState(t, p, tc.name)
			if rp.State != ReplayCompleted || rp.Ended.IsZero() {
				t.Fatalf("state = %s (%s), ended %v; want COMPLETED", rp.State, rp.StateReason, rp.Ended)
			}
			want := max(len(tc.wantA), len(tc.wantB))
			if rp.Replayed != int64(want) || rp.Total != int64(want) {
				t.Errorf("replayed %d of %d, want %d", rp.Replayed, rp.Total, want)
			}
			if !rp.LastReplayed.Equal(tc.wantLast) {
				t.Errorf("LastReplayed = %v, want %v", rp.LastReplayed, tc.wantLast)
			}
			gotA, gotB := drain(t, f.qa), drain(t, f.qb)
			if fmt.Sprint(detailN(t, gotA)) != fmt.Sprint(tc.wantA) || fmt.Sprint(detailN(t, gotB)) != fmt.Sprint(tc.wantB) {
				t.Errorf("rule a got %v, rule b got %v; want %v and %v", detailN(t, gotA), detailN(t, gotB), tc.wantA, tc.wantB)
			}
			for _, ev := range append(gotA, gotB...) {
				if ev.ReplayName != tc.name {
					t.Errorf("replayed event %s has replay-name %q, want %q", ev.ID, ev.ReplayName, tc.name)
				}
			}
		})
	}
	countAfter, _, err := f.router.ArchiveStats(context.Background(), "app-archive")
	if err != nil || countAfter != countBefore {
		t.Errorf("archive holds %d events after the replays (%v), want %d: replayed events must not be archived", countAfter, err, countBefore)
	}
	all, err := p.List(context.Background())
	if err != nil || len(all) != len(tests) {
		t.Errorf("List = %d replays (%v), want %d", len(all), err, len(tests))
	}
}

func TestReplayStartErrors(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "state.db"))
	defer f.store.Close()
	p, err := NewReplayer(f.router, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := p.Start(context.Background(), ReplaySpec{Name: "r", Archive: "app-archive", Bus: "app", From: now.Add(-time.Hour), To: now}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec ReplaySpec
		want error
	}{
		{name: "duplicate", spec: ReplaySpec{Name: "r", Archive: "app-archive", Bus: "app", From: now.Add(-time.Hour), To: now}, want: ErrReplayExists},
		{name: "no archive", spec: ReplaySpec{Name: "x", Archive: "nope", Bus: "app", From: now.Add(-time.Hour), To: now}, want: ErrNoArchive},
		{name: "other bus", spec: ReplaySpec{Name: "x", Archive: "app-archive", Bus: "default", From: now.Add(-time.Hour), To: now}},
		{name: "unknown rule", spec: ReplaySpec{Name: "x", Archive: "app-archive", Bus: "app", Rules: []string{"zzz"}, From: now.Add(-time.Hour), To: now}},
		{name: "reversed window", spec: ReplaySpec{Name: "x", Archive: "app-archive", Bus: "app", From: now, To: now.Add(-time.Hour)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Start(context.Background(), tc.spec)
			if err == nil {
				t.Fatal("Start succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := p.Describe(context.Background(), "x"); !errors.Is(err, ErrNoReplay) {
		t.Errorf("a refused replay was recorded: %v", err)
	}
}

func TestReplayCancel(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "state.db"))
	defer f.store.Close()
	base := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	f.put(t, base, 5)
	p, err := NewReplayer(f.router, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Cancel from inside the replay, after its second event.
	p.afterEvent = func(name string, seq int64) {
		if rp, _ := p.Describe(context.Background(), name); rp != nil && rp.Replayed == 2 {
			if _, err := p.Cancel(context.Background(), name); err != nil {
				t.Errorf("Cancel: %v", err)
			}
		}
	}
	runReplayer(t, p)
	if _, err := p.Start(context.Background(), ReplaySpec{Name: "c", Archive: "app-archive", Bus: "app", Rules: []string{"a"}, From: base, To: base.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rp := waitState(t, p, "c")
	if rp.State != ReplayCancelled || rp.Replayed != 2 {
		t.Fatalf("state %s after %d events, want CANCELLED after 2", rp.State, rp.Replayed)
	}
	if got := detailN(t, drain(t, f.qa)); fmt.Sprint(got) != "[0 1]" {
		t.Errorf("rule a got %v, want [0 1]", got)
	}
	if _, err := p.Cancel(context.Background(), "c"); !errors.Is(err, ErrReplayNotCancelable) {
		t.Errorf("Cancel of a cancelled replay: %v, want ErrReplayNotCancelable", err)
	}
	if _, err := p.Cancel(context.Background(), "nope"); !errors.Is(err, ErrNoReplay) {
		t.Errorf("Cancel of an unknown replay: %v, want ErrNoReplay", err)
	}
}

// TestReplayResumes stops a replay in the middle (the process "dies" after
// the third event) and checks that a new router and replayer over the same
// file finish it, every event delivered exactly once, in archive order.
func TestReplayResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	f := newFixture(t, path)
	base := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	f.put(t, base, 250) // more than a page
	p, err := NewReplayer(f.router, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	var once sync.Once
	p.afterEvent = func(_ string, seq int64) {
		if seq >= 3 {
			once.Do(stop)
		}
	}
	if _, err := p.Start(context.Background(), ReplaySpec{Name: "long", Archive: "app-archive", Bus: "app", Rules: []string{"b"}, From: base, To: base.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	rp, err := p.Describe(context.Background(), "long")
	if err != nil {
		t.Fatal(err)
	}
	if rp.State != ReplayRunning || rp.Replayed != 3 {
		t.Fatalf("after the stop: state %s, %d replayed; want RUNNING, 3", rp.State, rp.Replayed)
	}
	first := drain(t, f.qb)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}

	f2 := newFixture(t, path)
	defer f2.store.Close()
	p2, err := NewReplayer(f2.router, nil)
	if err != nil {
		t.Fatal(err)
	}
	runReplayer(t, p2)
	rp = waitState(t, p2, "long")
	if rp.State != ReplayCompleted || rp.Replayed != 250 {
		t.Fatalf("after the restart: state %s (%s), %d replayed; want COMPLETED, 250", rp.State, rp.StateReason, rp.Replayed)
	}
	if want := base.Add(249 * time.Second); !rp.LastReplayed.Equal(want) {
		t.Errorf("LastReplayed = %v, want %v", rp.LastReplayed, want)
	}
	got := detailN(t, append(first, drain(t, f2.qb)...))
	if len(got) != 250 {
		t.Fatalf("%d events delivered, want 250", len(got))
	}
	for i, n := range got {
		if n != i {
			t.Fatalf("event %d has n=%d: not in archive order or repeated", i, n)
		}
	}
}

func TestReplayOnlyEventsArchivedBeforeStart(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "state.db"))
	defer f.store.Close()
	base := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	f.put(t, base, 2)
	p, err := NewReplayer(f.router, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Start(context.Background(), ReplaySpec{Name: "r", Archive: "app-archive", Bus: "app", Rules: []string{"b"}, From: base, To: base.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.put(t, base.Add(10*time.Second), 1) // archived after the start, inside the window
	runReplayer(t, p)
	rp := waitState(t, p, "r")
	if rp.Replayed != 2 || rp.Total != 2 {
		t.Errorf("replayed %d of %d, want 2 of 2", rp.Replayed, rp.Total)
	}
}

// TestReplayFailsWithoutArchive restarts with a configuration that no
// longer has the replay's archive: the replay ends FAILED with the reason.
func TestReplayFailsWithoutArchive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	f := newFixture(t, path)
	p, err := NewReplayer(f.router, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := p.Start(context.Background(), ReplaySpec{Name: "orphan", Archive: "app-archive", Bus: "app", From: now.Add(-time.Hour), To: now}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}

	store, err := queue.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r, err := New(store, "us-east-1", "000000000000", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.AddBus("app")
	p2, err := NewReplayer(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	runReplayer(t, p2)
	rp := waitState(t, p2, "orphan")
	if rp.State != ReplayFailed || rp.StateReason != "Archive app-archive does not exist." || rp.Ended.IsZero() {
		t.Errorf("state %s, reason %q, ended %v; want FAILED because the archive is gone", rp.State, rp.StateReason, rp.Ended)
	}
}
