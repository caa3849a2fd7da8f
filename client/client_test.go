package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/client"
)

func newClient(t *testing.T, h http.Handler, path string) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL+path, "the-key")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNew(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "http://127.0.0.1:8080/", want: "http://127.0.0.1:8080"},
		// The Terraform output api_url is the stage URL, used unchanged,
		// even for a stage named v1.
		{in: "https://abc.execute-api.eu-west-1.amazonaws.com/prod", want: "https://abc.execute-api.eu-west-1.amazonaws.com/prod"},
		{in: "https://abc.execute-api.eu-west-1.amazonaws.com/v1/", want: "https://abc.execute-api.eu-west-1.amazonaws.com/v1"},
		// What imagepipe dev prints as the API, and the same without a
		// scheme: http for this machine, https elsewhere.
		{in: "http://127.0.0.1:8080/v1", want: "http://127.0.0.1:8080"},
		{in: "http://127.0.0.1:8080/v1/", want: "http://127.0.0.1:8080"},
		{in: "127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "localhost:8080/v1", want: "http://localhost:8080"},
		{in: "[::1]:8080", want: "http://[::1]:8080"},
		{in: "d111.cloudfront.net/v1", want: "https://d111.cloudfront.net"},
		{in: "https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1", want: "https://abc.execute-api.eu-west-1.amazonaws.com/prod"},
		{in: "", err: `API URL "": want [http(s)://]host[:port][/path]`},
		{in: "ftp://example.com", err: "want [http(s)://]host"},
		{in: "http://", err: "want [http(s)://]host"},
	} {
		c, err := client.New(tc.in, "k")
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("New(%q) error %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("New(%q): %v", tc.in, err)
		case tc.err == "" && c.BaseURL() != tc.want:
			t.Errorf("New(%q).BaseURL() = %q, want %q", tc.in, c.BaseURL(), tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		ctype, body string
		code, msg   string
		temporary   bool
	}{
		{name: "api error", status: 400, ctype: "application/json", body: `{"error":{"code":"too_large","message":"size 1 is over"}}`, code: "too_large", msg: "size 1 is over"},
		{name: "api gateway forbidden", status: 403, ctype: "application/json", body: `{"message":"Forbidden"}`, code: "forbidden", msg: "Forbidden: the API key is missing or wrong"},
		{name: "api gateway throttled", status: 429, ctype: "application/json", body: `{"message":"Too Many Requests"}`, code: "http_429", msg: "Too Many Requests", temporary: true},
		{name: "s3 xml", status: 403, ctype: "application/xml", body: `<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>`, code: "SignatureDoesNotMatch", msg: "The request signature we calculated does not match"},
		{name: "plain text", status: 502, ctype: "text/plain", body: "bad gateway\n", code: "http_502", msg: "bad gateway", temporary: true},
		{name: "empty", status: 500, code: "http_500", msg: "Internal Server Error", temporary: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}), "")
			_, err := c.Image(context.Background(), "0123456789abcdef0123456789abcdef")
			var ae *client.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want *APIError", err, err)
			}
			if ae.StatusCode != tc.status || ae.Code != tc.code || ae.Message != tc.msg || ae.Op != "GET /v1/images/0123456789abcdef0123456789abcdef" {
				t.Errorf("got %+v, want %d %q %q", ae, tc.status, tc.code, tc.msg)
			}
			if client.ErrorCode(err) != tc.code || client.IsTemporary(err) != tc.temporary {
				t.Errorf("ErrorCode %q IsTemporary %v", client.ErrorCode(err), client.IsTemporary(err))
			}
		})
	}
}

// TestUpload checks the requests: the key on API calls only, the JSON
// body, and the PUT with exactly the presigned headers and length.
func TestUpload(t *testing.T) {
	data := []byte("\x89PNG\r\n\x1a\n fake png bytes")
	var put atomic.Bool
	var c *client.Client
	mux := http.NewServeMux()
	mux.HandleFunc("POST /prod/v1/uploads", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-api-key") != "the-key" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.Header)
		}
		var req api.UploadRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req != (api.UploadRequest{Filename: "cat.png", ContentType: "image/png", Size: int64(len(data))}) {
			t.Errorf("body %+v %v", req, err)
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(api.UploadResponse{ImageID: "id", Key: "uploads/id.png", StatusURL: "/v1/images/id",
			Upload: &api.Upload{Method: "PUT", URL: "http://" + r.Host + "/bucket/uploads/id.png?X-Amz-Signature=x", Headers: map[string]string{"Content-Type": "image/png"}}})
	})
	mux.HandleFunc("PUT /bucket/uploads/id.png", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("x-api-key") != "" {
			t.Error("the API key must not be sent to S3")
		}
		if r.Header.Get("Content-Type") != "image/png" || r.ContentLength != int64(len(data)) || !bytes.Equal(body, data) || r.URL.Query().Get("X-Amz-Signature") != "x" {
			t.Errorf("PUT %v length %d body %q", r.Header, r.ContentLength, body)
		}
		put.Store(true)
	})
	c = newClient(t, mux, "/prod/")
	up, err := c.Upload(context.Background(), "cat.png", "image/png", data)
	if err != nil {
		t.Fatal(err)
	}
	if up.ImageID != "id" || !put.Load() {
		t.Errorf("upload %+v, put %v", up, put.Load())
	}
}

// TestWait polls with backoff through a temporary error until done.
func TestWait(t *testing.T) {
	var calls atomic.Int64
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case n == 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case n < 4:
			json.NewEncoder(w).Encode(api.ImageView{ImageID: "id", Status: "pending"})
			return
		}
		json.NewEncoder(w).Encode(api.ImageView{ImageID: "id", Status: "done", Outputs: map[string]api.OutputView{"gray": {Width: 3}}})
	}), "")
	v, err := c.Wait(context.Background(), "id", client.WaitOptions{First: time.Millisecond, Max: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != "done" || v.Outputs["gray"].Width != 3 || calls.Load() != 4 {
		t.Errorf("view %+v after %d calls", v, calls.Load())
	}
}

// TestWaitAfter makes no request before After: an image just uploaded is
// not polled at once.
func TestWaitAfter(t *testing.T) {
	var first atomic.Int64
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.CompareAndSwap(0, time.Now().UnixNano())
		json.NewEncoder(w).Encode(api.ImageView{ImageID: "id", Status: "done"})
	}), "")
	start := time.Now()
	if _, err := c.Wait(context.Background(), "id", client.WaitOptions{After: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if at := time.Unix(0, first.Load()).Sub(start); at < 30*time.Millisecond {
		t.Errorf("first poll %v after the call, want at least After (30ms)", at)
	}
}

// TestDoneEstimate polls first at the median of the recorded images' time
// from the end of the upload to finished, then at a fifth of it; views
// that are not finished are not counted.
func TestDoneEstimate(t *testing.T) {
	var e client.DoneEstimate
	if o := e.Options(); o.After != 50*time.Millisecond || o.First != 0 {
		t.Errorf("with no image: %+v, want the first poll after 50ms and Wait's defaults", o)
	}
	created := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	view := func(status string, took time.Duration) *api.ImageView {
		return &api.ImageView{Status: status, CreatedAt: created, UpdatedAt: created.Add(took)}
	}
	// Each took 100 ms to upload: 300, 500 and 900 ms after the upload.
	for _, took := range []time.Duration{400, 1000, 600} {
		e.Add(100*time.Millisecond, view(api.StatusDone, took*time.Millisecond))
	}
	e.Add(0, view(api.StatusProcessing, time.Hour))  // not finished
	e.Add(0, &api.ImageView{Status: api.StatusDone}) // no timestamps
	e.Add(2*time.Second, view(api.StatusFailed, 0))  // counted as 0
	if o := e.Options(); o.After != 300*time.Millisecond || o.First != 60*time.Millisecond {
		t.Errorf("options %+v, want After 300ms (the median of 0, 300, 500, 900 ms) and First 60ms", o)
	}
	// Only the last 16 count.
	for range 16 {
		e.Add(0, view(api.StatusDone, 20*time.Millisecond))
	}
	if o := e.Options(); o.After != 20*time.Millisecond || o.First != 10*time.Millisecond {
		t.Errorf("options %+v, want After 20ms and First 10ms (the least)", o)
	}
}

func TestWaitGivesUp(t *testing.T) {
	t.Run("context ends", func(t *testing.T) {
		stop := errors.New("enough")
		ctx, cancel := context.WithCancelCause(context.Background())
		// Cancel once the image has been seen pending a few times.
		var seen atomic.Int64
		c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if seen.Add(1) == 3 {
				cancel(stop)
			}
			json.NewEncoder(w).Encode(api.ImageView{ImageID: "id", Status: "pending"})
		}), "")
		v, err := c.Wait(ctx, "id", client.WaitOptions{First: time.Millisecond})
		if !errors.Is(err, stop) || v == nil || v.Status != "pending" || !strings.Contains(err.Error(), "still pending") {
			t.Errorf("view %+v err %v, want the last pending view and the cause", v, err)
		}
	})
	t.Run("permanent error", func(t *testing.T) {
		c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"not_found","message":"no image with id id"}}`)
		}), "")
		_, err := c.Wait(context.Background(), "id", client.WaitOptions{First: time.Millisecond})
		if client.ErrorCode(err) != "not_found" {
			t.Errorf("err %v, want not_found at once", err)
		}
	})
	t.Run("too many temporary errors", func(t *testing.T) {
		var calls atomic.Int64
		c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		}), "")
		_, err := c.Wait(context.Background(), "id", client.WaitOptions{First: time.Millisecond, Max: time.Millisecond, MaxTransient: 2})
		if client.ErrorCode(err) != "http_502" || calls.Load() != 3 {
			t.Errorf("err %v after %d calls, want http_502 after 3", err, calls.Load())
		}
	})
}

func TestDownload(t *testing.T) {
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
			return
		}
		io.WriteString(w, "gray bytes")
	}), "")
	base := strings.TrimSuffix(c.BaseURL(), "/")
	var b bytes.Buffer
	n, err := c.Download(context.Background(), base+"/ok", &b)
	if err != nil || n != 10 || b.String() != "gray bytes" {
		t.Errorf("download %d %q %v", n, b.String(), err)
	}
	_, err = c.Download(context.Background(), base+"/missing", io.Discard)
	if client.ErrorCode(err) != "NoSuchKey" {
		t.Errorf("err %v, want NoSuchKey", err)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := client.New(url, "k")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Image(context.Background(), "id")
	if !client.IsUnreachable(err) {
		t.Errorf("IsUnreachable(%v) = false", err)
	}
}
