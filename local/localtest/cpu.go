package localtest

import (
	"runtime"
	"runtime/metrics"
	"syscall"
	"time"
)

// CPUTime is the user + system CPU time of this process so far, for
// benchmarks that report it beside the wall clock (a shared machine's wall
// clock says little).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// IdleTime is how long, so far, the Go scheduler's processors (GOMAXPROCS
// of them) had no goroutine to run. Over a benchmark, idle time beside
// work to do means the work waits on something other than the CPU. The
// runtime updates the figure at each GC, so IdleTime runs one first.
func IdleTime() time.Duration { return cpuClass("/cpu/classes/idle:cpu-seconds") }

// GCTime is the CPU time the garbage collector has spent so far (its
// background workers, assists and pauses, as the runtime estimates them),
// updated at each GC like IdleTime, which it runs first.
func GCTime() time.Duration { return cpuClass("/cpu/classes/gc/total:cpu-seconds") }

// cpuClass reads one of the runtime's /cpu/classes metrics after a GC.
func cpuClass(name string) time.Duration {
	runtime.GC()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * float64(time.Second))
}
