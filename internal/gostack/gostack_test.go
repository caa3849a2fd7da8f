package gostack

import "testing"

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
