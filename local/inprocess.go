package local

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/imagepipe/imagepipe/internal/gostack"
)

// inProcess is the HTTP transport of the functions that run in this
// process: their SDK calls to the edge (S3 and EventBridge) are served by
// the edge's handler directly, without a socket or HTTP parsing on either
// side. The handler sees the request as the edge's server would give it
// (request URI, Host, Content-Length, the signed headers), so signatures,
// conditions and events are checked and made exactly as for a call over
// TCP. Requests for any other host go to next.
//
// Only the guard (the limits for slow or stalled clients) is skipped: the
// callers are the stack's own functions.
type inProcess struct {
	host    string // the edge's host:port
	handler http.Handler
	next    http.RoundTripper
}

func (t *inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.URL.Host != t.host {
		return t.next.RoundTrip(req)
	}
	r, err := serverRequest(req)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	pr, pw := io.Pipe()
	w := &pipeResponse{header: http.Header{}, body: pw, ready: make(chan struct{})}
	go func() {
		gostack.Grow()
		defer func() {
			r.Body.Close()
			if p := recover(); p != nil {
				w.WriteHeader(http.StatusInternalServerError)
				pw.CloseWithError(fmt.Errorf("edge handler panicked: %v", p))
				return
			}
			w.WriteHeader(http.StatusOK) // no-op once the handler wrote one
			pw.Close()
		}()
		t.handler.ServeHTTP(w, r)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		pr.CloseWithError(req.Context().Err()) // the handler's writes fail; it ends
		return nil, req.Context().Err()
	}
	resp := &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          pr,
		ContentLength: -1,
		Request:       req,
	}
	if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		resp.ContentLength = n
	}
	if req.Method == http.MethodHead || w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		pr.Close() // no body, as over HTTP; a handler writing one gets an error
		resp.Body = http.NoBody
		if req.Method != http.MethodHead {
			resp.ContentLength = 0
		}
	}
	return resp, nil
}

// serverRequest is req as an HTTP server hands it to its handler.
func serverRequest(req *http.Request) (*http.Request, error) {
	uri := req.URL.RequestURI()
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, fmt.Errorf("in-process request %s: %w", uri, err)
	}
	r := req.Clone(req.Context())
	r.URL, r.RequestURI = u, uri
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.RemoteAddr = "127.0.0.1:0"
	r.GetBody, r.Close, r.TLS = nil, false, nil
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	body := req.Body
	switch {
	case body == nil || body == http.NoBody:
		r.Body, r.ContentLength = http.NoBody, 0
	case req.ContentLength > 0:
		r.Header.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
	case req.ContentLength == 0:
		// An http.Client treats a body of unknown length as 0 only
		// when told; over the wire it is sent chunked.
		r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
	}
	if r.Body != http.NoBody {
		r.Body = &onceCloser{ReadCloser: body}
	}
	return r, nil
}

// onceCloser closes its body once, whoever closes it first (the handler or
// the transport when the handler returns).
type onceCloser struct {
	io.ReadCloser
	once sync.Once
	err  error
}

func (c *onceCloser) Close() error {
	c.once.Do(func() { c.err = c.ReadCloser.Close() })
	return c.err
}

// pipeResponse is the handler's http.ResponseWriter: the status and a copy
// of the headers are handed over at the first WriteHeader, the body streams
// through a pipe to the caller.
type pipeResponse struct {
	header http.Header
	sent   http.Header
	status int
	body   *io.PipeWriter
	ready  chan struct{}
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(status int) {
	if w.sent != nil {
		return
	}
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	if status < 200 { // 1xx informational answers are not the response
		return
	}
	w.status, w.sent = status, w.header.Clone()
	close(w.ready)
}

func (w *pipeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Flush is a no-op: every Write reaches the reader as it is made.
func (w *pipeResponse) Flush() {}
