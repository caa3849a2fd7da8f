package local

import (
	"os"
	"runtime/debug"
)

// The garbage collector's settings for a process that runs the stack
// (imagepipe dev). With Go's default (GOGC=100) the collector runs each
// time the heap doubles; an image's buffers (the source, the decoded
// planes, the outputs: about 8 MB for a 2 MP photo) are most of what is
// allocated, so it ran about every other image and took 3 to 5 CPU-ms of
// the 40 to 50 each image costs the stack (BenchmarkUploadToDone,
// gc-cpu-ms/image). At GOGC=400 the heap may grow to five times what is
// live, under a soft limit of DevMemoryLimit: past it the collector runs
// as often as needed to stay under (it never takes more than half the
// CPU). The limit is above what the process function may hold at once
// (its memory budget, 1 GiB, plus the sources and the stack's own), so the
// collector does not run back to back while the worker works within it.
const (
	DevGCPercent   = 400
	DevMemoryLimit = 1536 << 20
)

// TuneGC applies DevGCPercent and DevMemoryLimit unless the user set GOGC
// or GOMEMLIMIT (the runtime has applied those), and returns what puts
// the previous settings back.
func TuneGC() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	percent := debug.SetGCPercent(DevGCPercent)
	limit := debug.SetMemoryLimit(DevMemoryLimit)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
