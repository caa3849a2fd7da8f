package gostack

import "testing"

// TestGrowAllocatesNothing: the frame Grow grows the stack with stays on
// the stack; were it moved to the heap, Grow would allocate 56 KiB per
// goroutine and grow nothing.
func TestGrowAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, Grow); n != 0 {
		t.Fatalf("Grow allocates %v times per call, want 0", n)
	}
}

// deep goes n frames of about 1 KiB down, as a call through the SDK and the
// edge's handlers does.
//
//go:noinline
func deep(n int) int {
	var frame [1000]byte
	frame[n%len(frame)] = byte(n)
	if n == 0 {
		return int(frame[0])
	}
	return deep(n-1) + int(frame[n%len(frame)])
}

// BenchmarkDeepGoroutine: a new goroutine going 48 KiB deep, growing its
// stack as it goes ("grown-on-the-way") or once at its start with Grow.
func BenchmarkDeepGoroutine(b *testing.B) {
	for _, c := range []struct {
		name string
		grow bool
	}{{"grown-on-the-way", false}, {"Grow-first", true}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				done := make(chan int)
				go func() {
					if c.grow {
						Grow()
					}
					done <- deep(48)
				}()
				<-done
			}
		})
	}
}
