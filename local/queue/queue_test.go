package queue

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func openAt(t *testing.T, path string, c *clock) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.now = c.now
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

func TestMessagesSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.now = c.now
	q := s.Queue("a", Options{VisibilityTimeout: 5 * time.Second})
	for _, b := range []string{"1", "2", "3"} {
		if _, err := q.Send(ctx, []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := q.Receive(ctx, 1); len(got) != 1 || string(got[0].Body) != "1" {
		t.Fatalf("first receive: %v", got)
	}
	s.Close() // "crash" with message 1 in flight

	s2 := openAt(t, path, c)
	q2 := s2.Queue("a", Options{VisibilityTimeout: 5 * time.Second})
	got, _ := q2.Receive(ctx, 10)
	if len(got) != 2 || string(got[0].Body) != "2" || string(got[1].Body) != "3" {
		t.Fatalf("after reopen: %v", got)
	}
	c.add(6 * time.Second)
	got, _ = q2.Receive(ctx, 10)
	if len(got) != 3 || string(got[0].Body) != "1" || got[0].ReceiveCount != 2 {
		t.Fatalf("in-flight message after its timeout: %+v", got)
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
