package local

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestInProcessLikeAServer: a request served in-process reaches the handler
// as the edge's HTTP server would hand it over (request URI with the
// escaped path and query, Host, Content-Length among the headers, a remote
// address), and the answer comes back with its status, headers and body;
// requests for other hosts go over the network.
func TestInProcessLikeAServer(t *testing.T) {
	type seen struct {
		uri, host, path, rawQuery, contentLength, remote, body string
		length                                                 int64
	}
	got := make(chan seen, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.RequestURI, r.Host, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Length"), r.RemoteAddr, string(b), r.ContentLength}
		w.Header().Set("ETag", `"abc"`)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "stored")
	})
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "network") }))
	t.Cleanup(other.Close)
	c := &http.Client{Transport: &inProcess{host: "127.0.0.1:9", handler: h, next: http.DefaultTransport}}

	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9/bucket/a%2Fb%20c?x-id=PutObject", strings.NewReader("hello"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("ETag") != `"abc"` || string(body) != "stored" {
		t.Fatalf("answer %d %v %q, want 201 with the ETag and the body", resp.StatusCode, resp.Header, body)
	}
	want := seen{"/bucket/a%2Fb%20c?x-id=PutObject", "127.0.0.1:9", "/bucket/a/b c", "x-id=PutObject", "5", "127.0.0.1:0", "hello", 5}
	if s := <-got; s != want {
		t.Fatalf("the handler saw %+v, want %+v", s, want)
	}

	resp, err = c.Get(other.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "network" {
		t.Fatalf("another host answered %q through the in-process transport", body)
	}
}

// TestInProcessStreamsAndEnds: a large answer streams (the handler is not
// buffered whole), HEAD has no body, a panic is an error for the caller,
// and a caller that gives up ends a handler blocked writing.
func TestInProcessStreamsAndEnds(t *testing.T) {
	handlerDone := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			chunk := make([]byte, 1<<16)
			var err error
			for i := 0; i < 64 && err == nil; i++ {
				_, err = w.Write(chunk)
			}
			handlerDone <- err
		case "/head":
			w.Header().Set("Content-Length", "42")
		case "/panic":
			panic("boom")
		}
	})
	c := &http.Client{Transport: &inProcess{host: "edge", handler: h, next: http.DefaultTransport}}

	resp, err := c.Get("http://edge/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.CopyN(io.Discard, resp.Body, 1<<16)
	if err != nil || n != 1<<16 {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	resp.Body.Close() // gives up after the first 64 KiB of 4 MiB
	select {
	case err := <-handlerDone:
		if err == nil {
			t.Fatal("the handler wrote 4 MiB to a caller that stopped reading after 64 KiB")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler is still blocked writing to a caller that went away")
	}

	req, _ := http.NewRequest(http.MethodHead, "http://edge/head", nil)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || resp.ContentLength != 42 || len(b) != 0 {
		t.Fatalf("HEAD: %d, length %d, %d body bytes; want 200, 42, none", resp.StatusCode, resp.ContentLength, len(b))
	}

	resp, err = c.Get("http://edge/panic")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("a panicking handler: %v, want an error saying so", err)
	}

	block := make(chan struct{})
	slow := &inProcess{host: "edge", handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }), next: http.DefaultTransport}
	t.Cleanup(func() { close(block) })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://edge/slow", nil)
	if _, err := (&http.Client{Transport: slow}).Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a caller past its deadline: %v, want context.DeadlineExceeded", err)
	}
}
