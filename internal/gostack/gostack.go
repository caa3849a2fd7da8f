// Package gostack lets a new goroutine take the stack it will need at once.
//
// A goroutine starts with a small stack that the runtime doubles each time
// a call does not fit, copying it and adjusting every frame on it. A
// goroutine that goes down an AWS SDK call (forty-odd middleware frames)
// and the edge's handlers behind it grows four or five times, each copy
// walking a deep stack: over a dozen such goroutines per image, that was
// about a millisecond of CPU per image in the local stack. Grow, called
// first thing in such a goroutine, makes it grow once, while the stack is
// a frame or two deep and cheap to copy.
package gostack

// Size is the stack Grow leaves the goroutine with, at least: enough for an
// SDK call served by the in-process edge.
const Size = 64 << 10

// Grow makes the calling goroutine's stack at least Size bytes. It costs
// one stack copy (of the caller's few frames) when the stack is smaller,
// and, every time, the zeroing of its frame (a few microseconds): call it
// once, first thing in a goroutine that will go deep, not in a loop.
//
//go:noinline
func Grow() {
	var pad [Size - 8<<10]byte // the frame needs Size less what is above it, at most
	use(pad[:])
}

//go:noinline
func use(b []byte) {
	if len(b) == 0 {
		panic("gostack: no frame")
	}
}
