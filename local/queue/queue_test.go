package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func openAt(t *testing.T, path string, c *clock) *Store {
	t.Helper()
	s, err := open(path, c.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestVisibilityReceiveCountAndRedrive(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := openAt(t, filepath.Join(t.TempDir(), "q.db"), c)
	q := s.Queue("process", Options{VisibilityTimeout: 10 * time.Second, MaxReceiveCount: 3, DeadLetter: "process-dlq"})
	dlq := s.Queue("process-dlq", Options{})
	if _, err := q.Send(ctx, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		msgs, err := q.Receive(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || string(msgs[0].Body) != "hello" || msgs[0].ReceiveCount != attempt {
			t.Fatalf("attempt %d: got %+v", attempt, msgs)
		}
		again, _ := q.Receive(ctx, 10)
		if len(again) != 0 {
			t.Fatalf("attempt %d: message visible during its visibility timeout", attempt)
		}
		c.add(11 * time.Second)
	}
	msgs, err := q.Receive(ctx, 10)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("after 3 receives the message must have left the queue, got %v %v", msgs, err)
	}
	dead, err := dlq.Receive(ctx, 10)
	if err != nil || len(dead) != 1 || string(dead[0].Body) != "hello" || dead[0].ReceiveCount != 1 {
		t.Fatalf("dead-letter queue: got %+v %v", dead, err)
	}
}

func TestDeleteNeedsTheCurrentReceipt(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := openAt(t, filepath.Join(t.TempDir(), "q.db"), c)
	q := s.Queue("a", Options{VisibilityTimeout: time.Second})
	if _, err := q.Send(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	first, _ := q.Receive(ctx, 1)
	c.add(2 * time.Second)
	second, _ := q.Receive(ctx, 1)
	if len(first) != 1 || len(second) != 1 {
		t.Fatalf("receives: %v %v", first, second)
	}
	if err := q.Delete(ctx, first[0].ReceiptHandle); !errors.Is(err, ErrStaleReceipt) {
		t.Fatalf("delete with a stale receipt: %v", err)
	}
	if err := q.Delete(ctx, second[0].ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	st, _ := q.Stats(ctx)
	if st != (Stats{}) {
		t.Fatalf("queue not empty after delete: %+v", st)
	}
}

// TestReopenReleasesHeldMessages: a message a receiver held when its
// process died comes back as soon as the store is opened again (not after
// its visibility timeout), with its receive count; a delay a receiver chose
// (ChangeVisibility) is kept; nothing is lost.
func TestReopenReleasesHeldMessages(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s, err := open(path, c.now)
	if err != nil {
		t.Fatal(err)
	}
	q := s.Queue("a", Options{VisibilityTimeout: time.Hour})
	for _, b := range []string{"1", "2", "3", "4"} {
		if _, err := q.Send(ctx, []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := q.Receive(ctx, 2)
	if len(got) != 2 || string(got[0].Body) != "1" {
		t.Fatalf("first receive: %v", got)
	}
	// The receiver chose to see message 2 again in ten minutes.
	if err := q.ChangeVisibility(ctx, got[1].ReceiptHandle, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	s.Close() // "crash" with message 1 held

	s2 := openAt(t, path, c)
	if s2.Released != 1 {
		t.Fatalf("Released = %d, want 1", s2.Released)
	}
	q2 := s2.Queue("a", Options{VisibilityTimeout: time.Hour})
	got, _ = q2.Receive(ctx, 10)
	var bodies []string
	for _, m := range got {
		bodies = append(bodies, string(m.Body))
	}
	if strings.Join(bodies, ",") != "1,3,4" || got[0].ReceiveCount != 2 {
		t.Fatalf("right after reopen: %+v, want 1 (its second receive), 3 and 4", got)
	}
	c.add(11 * time.Minute)
	got, _ = q2.Receive(ctx, 10)
	if len(got) != 1 || string(got[0].Body) != "2" {
		t.Fatalf("the delayed message after its delay: %+v", got)
	}
}

// TestDamagedFileIsRefused: a store whose pages are damaged, or that is
// not a database at all, is refused at Open with what to do.
func TestDamagedFileIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	q := s.Queue("a", Options{})
	for i := range 2000 {
		if _, err := q.Send(ctx, []byte(strings.Repeat(fmt.Sprint(i), 200))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DB().Exec(`pragma wal_checkpoint(truncate)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Scribble over a page in the middle of the table's b-tree.
	page := 4096
	mid := (len(raw) / page / 2) * page
	for i := mid + 8; i < mid+page; i++ {
		raw[i] = 0x5a
	}
	damaged := filepath.Join(dir, "damaged.db")
	if err := os.WriteFile(damaged, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{damaged, garbage} {
		_, err := Open(p)
		var de *DamagedError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "move it aside") {
			t.Errorf("Open(%s) = %v, want a DamagedError saying what to do", filepath.Base(p), err)
		}
		t.Logf("Open(%s): %v", filepath.Base(p), err)
	}
}

// TestHealthReportsFailedWrites: Health is nil on a good store and reports
// a failed write until a write succeeds again.
func TestHealthReportsFailedWrites(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "q.db"), &clock{t: time.Now()})
	if err := s.Health(ctx); err != nil {
		t.Fatalf("health of a new store: %v", err)
	}
	s.noteWrite(errors.New("disk I/O error"))
	if err := s.Health(ctx); err == nil || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("health after a failed write: %v", err)
	}
	if _, err := s.Queue("a", Options{}).Send(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(ctx); err != nil {
		t.Fatalf("health after a good write: %v", err)
	}
	s.Close()
	if err := s.Health(ctx); err == nil {
		t.Fatal("health of a closed store is nil")
	}
}

func TestWaitIsWokenBySend(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "q.db"), &clock{t: time.Now()})
	q := s.Queue("a", Options{})
	ch := q.Wait()
	select {
	case <-ch:
		t.Fatal("woken before any send")
	default:
	}
	if _, err := q.Send(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("not woken by send")
	}
}

// A batch comes oldest first, whatever order the one statement that takes
// it hands its rows back in, and each message keeps its first receive time
// and counts its receives.
func TestReceiveBatchesOldestFirst(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := openAt(t, filepath.Join(t.TempDir(), "q.db"), c)
	q := s.Queue("a", Options{VisibilityTimeout: time.Second, MaxReceiveCount: 5, DeadLetter: "a-dlq"})
	other := s.Queue("b", Options{})
	var want []string
	for i := range 25 {
		if _, err := q.Send(ctx, []byte(fmt.Sprintf("m%02d", i))); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("m%02d", i))
		if _, err := other.Send(ctx, []byte("other")); err != nil { // interleaved seq values
			t.Fatal(err)
		}
		c.add(time.Millisecond)
	}
	firstSeen := c.t
	for round := 1; round <= 2; round++ {
		var got []string
		for {
			msgs, err := q.Receive(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) == 0 {
				break
			}
			if len(msgs) > 10 {
				t.Fatalf("round %d: %d messages for a receive of at most 10", round, len(msgs))
			}
			for _, m := range msgs {
				got = append(got, string(m.Body))
				if m.ReceiveCount != round || !m.FirstReceived.Equal(firstSeen) || m.ReceiptHandle != m.ID+"."+fmt.Sprint(round) {
					t.Fatalf("round %d: %s: receive count %d, first received %v (want %v), receipt %s",
						round, m.Body, m.ReceiveCount, m.FirstReceived, firstSeen, m.ReceiptHandle)
				}
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("round %d: received %v, want %v", round, got, want)
		}
		c.add(2 * time.Second) // every message visible again
	}
}

// Receives of different batch sizes, one after the other, take as many as
// asked and no more; a batch of none is refused.
func TestReceiveBatchSizes(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "q.db"), &clock{t: time.Unix(1_700_000_000, 0)})
	q := s.Queue("a", Options{VisibilityTimeout: time.Hour})
	for i := range 30 {
		if _, err := q.Send(ctx, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	next := 0
	for _, size := range []int{1, 10, 1, 3, 10, 1, 10} {
		msgs, err := q.Receive(ctx, size)
		if err != nil {
			t.Fatal(err)
		}
		want := min(size, 30-next)
		if len(msgs) != want {
			t.Fatalf("a receive of up to %d took %d messages, want %d", size, len(msgs), want)
		}
		for _, m := range msgs {
			if string(m.Body) != fmt.Sprint(next) {
				t.Fatalf("got message %s, want %d", m.Body, next)
			}
			next++
		}
	}
	if _, err := q.Receive(ctx, 0); err == nil {
		t.Fatal("a receive of 0 messages was accepted")
	}
}

// The receive never hands out a message past MaxReceiveCount, even one
// that the redrive before it did not move (it became visible in between):
// the next redrive moves it.
func TestReceiveNeverExceedsMaxReceiveCount(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := openAt(t, filepath.Join(t.TempDir(), "q.db"), c)
	q := s.Queue("a", Options{VisibilityTimeout: time.Second, MaxReceiveCount: 2, DeadLetter: "a-dlq"})
	if _, err := q.Send(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if msgs, err := q.Receive(ctx, 10); err != nil || len(msgs) != 1 {
			t.Fatalf("receive: %v %v", msgs, err)
		}
		c.add(2 * time.Second)
	}
	redrive := s.stmt.redrive
	noop, err := s.db.Prepare(`select ?1, ?2, ?3, ?4`) // the redrive that missed it
	if err != nil {
		t.Fatal(err)
	}
	s.stmt.redrive = noop
	if msgs, err := q.Receive(ctx, 10); err != nil || len(msgs) != 0 {
		t.Fatalf("a message received twice already was handed out a third time: %+v %v", msgs, err)
	}
	s.stmt.redrive = redrive
	if msgs, err := q.Receive(ctx, 10); err != nil || len(msgs) != 0 {
		t.Fatalf("receive after the redrive: %+v %v", msgs, err)
	}
	dead, err := s.Queue("a-dlq", Options{}).Receive(ctx, 10)
	if err != nil || len(dead) != 1 || string(dead[0].Body) != "x" {
		t.Fatalf("dead-letter queue: %+v %v", dead, err)
	}
}

// BenchmarkHop is one message's trip through a queue as a function sees
// it: Send, Receive (batches of up to 10, with a redrive configured, as
// the stack's queues have), Delete, then the empty receive of a poller
// taking batches of one (as notify's does: the statements of both sizes
// stay prepared); the store on disk, WAL and synchronous=NORMAL as the
// stack opens it.
func BenchmarkHop(b *testing.B) {
	ctx := context.Background()
	s, err := Open(filepath.Join(b.TempDir(), "q.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	q := s.Queue("process", Options{VisibilityTimeout: time.Minute, MaxReceiveCount: 5, DeadLetter: "process-dlq"})
	body := bytes.Repeat([]byte(`{"detail":"an event of about 600 bytes"}`), 15)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := q.Send(ctx, body); err != nil {
			b.Fatal(err)
		}
		msgs, err := q.Receive(ctx, 10)
		if err != nil || len(msgs) != 1 {
			b.Fatalf("receive: %d messages, %v", len(msgs), err)
		}
		if err := q.Delete(ctx, msgs[0].ReceiptHandle); err != nil {
			b.Fatal(err)
		}
		if msgs, err := q.Receive(ctx, 1); err != nil || len(msgs) != 0 {
			b.Fatalf("empty receive: %d messages, %v", len(msgs), err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// cpuTime is the process's user + system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
