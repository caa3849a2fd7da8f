package web_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/imagepipe/imagepipe/local"
)

// TestUploadPageLocalStack is the page's acceptance test: the real local
// stack (the page and /v1 on one port, the S3 edge on another, the queue,
// the worker and the status records behind them) driven from headless
// Chromium through the file input, as a person would.
func TestUploadPageLocalStack(t *testing.T) {
	chromiumPath(t) // skip or fail before starting the stack
	st, err := local.Start(t.Context(), local.Config{
		DataDir:  t.TempDir(),
		APIAddr:  "127.0.0.1:0",
		EdgeAddr: "127.0.0.1:0",
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(context.Background()); err != nil {
			t.Errorf("close local stack: %v", err)
		}
	})
	t.Logf("page at %s, edge at %s", st.APIURL(), st.EdgeURL())
	runPageCases(t, backend{pageURL: st.APIURL() + "/", apiKey: st.APIKey()})
}

// testLogger sends the stack's logs to the test log, so a failure shows
// what the pipeline did. Lines written after the test has ended are dropped
// (t.Log would panic).
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop) // registered before the stack's Close, so it runs after it
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct {
	t       *testing.T
	mu      sync.Mutex
	stopped bool
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
