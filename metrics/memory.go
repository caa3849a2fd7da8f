package metrics

import (
	"bufio"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
)

// PeakMemoryMB is the process's resident memory high-water mark in MB
// (VmHWM of /proc/self/status on Linux, what Lambda reports as Max Memory
// Used), or else the memory the Go runtime holds from the system.
func PeakMemoryMB() float64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				if kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64); err == nil {
					return kb / 1024
				}
			}
		}
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return float64(s[0].Value.Uint64()) / (1 << 20)
	}
	return 0
}
