package guard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs h behind Server(cfg) on a loopback port.
func serve(t *testing.T, cfg Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Server(h, cfg)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// bodyResult is what a handler saw reading its request body.
type bodyResult struct {
	n   int64
	err error
}

func readingHandler(results chan<- bodyResult) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		results <- bodyResult{n, err}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d", n)
	})
}

// rawRequest writes a request head with Content-Length n on a new
// connection and returns it.
func rawRequest(t *testing.T, addr string, n int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "PUT /x HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", addr, n)
	return c
}

func TestFastBodyPasses(t *testing.T) {
	results := make(chan bodyResult, 1)
	addr := serve(t, Config{Grace: time.Millisecond, MinRate: 1}, readingHandler(results))
	body := bytes.Repeat([]byte("x"), 4<<20)
	resp, err := http.Post("http://"+addr+"/x", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := <-results; r.err != nil || r.n != int64(len(body)) {
		t.Fatalf("handler read %d bytes, err %v", r.n, r.err)
	}
}

// TestTrickledBodyIsCut: a byte every 50 ms is far under the minimum rate;
// the handler's read fails with ErrTooSlow soon after the grace period,
// long before the body would be complete.
func TestTrickledBodyIsCut(t *testing.T) {
	results := make(chan bodyResult, 1)
	addr := serve(t, Config{Grace: 200 * time.Millisecond, MinRate: 1000, StallTimeout: 10 * time.Second}, readingHandler(results))
	c := rawRequest(t, addr, 1000)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for range 1000 {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	r := <-results
	if !errors.Is(r.err, ErrTooSlow) {
		t.Fatalf("handler read %d bytes with err %v, want ErrTooSlow", r.n, r.err)
	}
	if r.n >= 1000 {
		t.Fatal("the whole body arrived: the guard did not cut it")
	}
}

// TestStalledBodyIsCut: a body that stops flowing fails its read after the
// stall timeout, whatever the rate before.
func TestStalledBodyIsCut(t *testing.T) {
	results := make(chan bodyResult, 1)
	addr := serve(t, Config{Grace: time.Hour, StallTimeout: 300 * time.Millisecond}, readingHandler(results))
	c := rawRequest(t, addr, 100)
	if _, err := c.Write([]byte("only ten b")); err != nil {
		t.Fatal(err)
	}
	r := <-results
	if !errors.Is(r.err, ErrTooSlow) || r.n != 10 {
		t.Fatalf("handler read %d bytes with err %v, want 10 and ErrTooSlow", r.n, r.err)
	}
}

// TestClientNotReadingFreesTheHandler: a response nobody reads fails its
// write after the stall timeout instead of holding the handler.
func TestClientNotReadingFreesTheHandler(t *testing.T) {
	errs := make(chan error, 1)
	addr := serve(t, Config{Grace: time.Hour, StallTimeout: 300 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("y"), 1<<20)
		for range 256 { // far more than the socket buffers hold
			if _, err := w.Write(chunk); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	// never read
	if err := <-errs; !errors.Is(err, ErrTooSlow) {
		t.Fatalf("handler's write ended with %v, want ErrTooSlow", err)
	}
}

// TestIdleKeepAliveIsClosed: a connection that sends no next request is
// closed by the server after the idle timeout.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	addr := serve(t, Config{IdleTimeout: 200 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// A safety net only: the server closes long before.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = br.ReadByte()
	if !errors.Is(err, io.EOF) && !strings.Contains(fmt.Sprint(err), "reset") {
		t.Fatalf("idle connection: read gave %v, want the server to close it", err)
	}
}

func TestServerHasTimeouts(t *testing.T) {
	srv := Server(http.NotFoundHandler(), Config{})
	if srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.IdleTimeout != DefaultIdleTimeout {
		t.Fatalf("ReadHeaderTimeout %s IdleTimeout %s", srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
}
