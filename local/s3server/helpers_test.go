package s3server

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/local/sigv4"
)

const (
	testAccessKey = "AKIAIMAGEPIPETEST01"
	testSecret    = "imagepipe/local+secret/0123456789abcdefgh"
	testBucket    = "imagepipe-uploads"
	testOrigin    = "http://127.0.0.1:8080"
)

// clock is a settable time source for the verifier.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Reset() {
	c.mu.Lock()
	c.offset = 0
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// hookLog records the hook's calls.
type hookLog struct {
	mu     sync.Mutex
	events []ObjectCreated
	fail   error
}

func (h *hookLog) hook(_ context.Context, ev ObjectCreated) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
	return h.fail
}

func (h *hookLog) all() []ObjectCreated {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]ObjectCreated(nil), h.events...)
}

type testEnv struct {
	srv   *Server
	http  *httptest.Server
	clock *clock
	hooks *hookLog
	dir   string
	// cliEnv is added to the aws CLI's environment.
	cliEnv []string
}

func newEnv(t *testing.T, dir string) *testEnv {
	t.Helper()
	return startEnv(t, dir, false)
}

// startEnv starts a Server on dir (a new temporary one if empty) behind an
// httptest server on 127.0.0.1, with plain HTTP or TLS.
func startEnv(t *testing.T, dir string, useTLS bool) *testEnv {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	c := &clock{}
	srv, err := New(Config{
		Dir:            dir,
		Region:         "us-east-1",
		Verifier:       &sigv4.Verifier{Credentials: sigv4.StaticCredentials(testAccessKey, testSecret), Now: c.Now},
		AllowedOrigins: []string{testOrigin},
		Logger:         testLogger(t),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.CreateBucket(context.Background(), testBucket); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	h := &hookLog{}
	srv.OnObjectCreated(h.hook)
	var ts *httptest.Server
	if useTLS {
		ts = httptest.NewTLSServer(srv)
	} else {
		ts = httptest.NewServer(srv)
	}
	t.Cleanup(ts.Close)
	return &testEnv{srv: srv, http: ts, clock: c, hooks: h, dir: dir}
}

func (e *testEnv) client(secret string) *s3.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, secret, ""),
		HTTPClient:  e.http.Client(),
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.http.URL)
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
}

func (e *testEnv) getObject(t *testing.T, key string) []byte {
	t.Helper()
	out, err := e.client(testSecret).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

// testLogger writes the server's log to the test log when S3SERVER_DEBUG is set.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("S3SERVER_DEBUG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
