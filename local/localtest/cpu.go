package localtest

import (
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
