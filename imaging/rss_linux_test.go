package imaging

import "syscall"

// maxRSS reads ru_maxrss (KiB on Linux).
func maxRSS(ru any) int64 {
	if r, ok := ru.(*syscall.Rusage); ok {
		return r.Maxrss << 10
	}
	return -1
}
