// Package localtest starts the local stack for tests: in a temporary data
// directory, on free loopback ports, closed when the test ends.
package localtest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/local"
)

// Start starts a stack; opts may change the configuration first.
func Start(t testing.TB, opts ...func(*local.Config)) *local.Stack {
	t.Helper()
	cfg := local.Config{
		DataDir:  t.TempDir(),
		APIAddr:  "127.0.0.1:0",
		EdgeAddr: "127.0.0.1:0",
		Logger:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	st, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := st.Close(ctx); err != nil {
			t.Errorf("close local stack: %v", err)
		}
	})
	return st
}

// testWriter sends log lines to t.Log, so they show with the failing test.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
