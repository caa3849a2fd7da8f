package localtest

import (
	"bytes"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// Needed stops a test that lacks a tool: it skips, except under CI=true,
// where a missing tool fails the test with why (which says how to install
// it).
func Needed(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (required under CI=true)")
	}
	t.Skip(why)
}

// Chromium is the path of the Chromium the browser tests drive:
// IMAGEPIPE_CHROMIUM, or the first one found on PATH (Needed otherwise).
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("IMAGEPIPE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Needed(t, "chromium not found: apt-get install -y chromium (or set IMAGEPIPE_CHROMIUM)")
	return ""
}

// Buffer is a bytes.Buffer that a logger and a test can share: writes and
// reads hold its lock.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
