package local

import (
	"runtime/debug"
	"testing"
)

// gcSettings reads the collector's percent and memory limit without
// changing them.
func gcSettings() (int, int64) {
	percent := debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	percent, limit := gcSettings()
	restore := TuneGC()
	if p, l := gcSettings(); p != DevGCPercent || l != DevMemoryLimit {
		t.Errorf("tuned: GOGC %d, memory limit %d; want %d, %d", p, l, DevGCPercent, DevMemoryLimit)
	}
	restore()
	if p, l := gcSettings(); p != percent || l != limit {
		t.Errorf("restored: GOGC %d, memory limit %d; want %d, %d", p, l, percent, limit)
	}
}

// A user's GOGC or GOMEMLIMIT wins: the runtime applied it, TuneGC
// changes nothing.
func TestTuneGCLeavesTheUsersSettings(t *testing.T) {
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv("GOGC", "")
			t.Setenv("GOMEMLIMIT", "")
			t.Setenv(env, map[string]string{"GOGC": "150", "GOMEMLIMIT": "3GiB"}[env])
			percent, limit := gcSettings()
			restore := TuneGC()
			defer restore()
			if p, l := gcSettings(); p != percent || l != limit {
				t.Errorf("with %s set: GOGC %d, memory limit %d; want them unchanged (%d, %d)", env, p, l, percent, limit)
			}
		})
	}
}
