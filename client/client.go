package client

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imagepipe/imagepipe/api"
)

// Client talks to one imagepipe API. The zero value is not usable: make one
// with New.
type Client struct {
	base   *url.URL
	key    string
	http   *http.Client
	agent  string
	apiTTL time.Duration
}

// Option changes a Client made by New.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for every request (API calls,
// PUTs to S3 and downloads). Its Timeout, if any, applies to uploads too.
func WithHTTPClient(c *http.Client) Option { return func(cl *Client) { cl.http = c } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(cl *Client) { cl.agent = ua } }

// WithRequestTimeout bounds each API call (not the PUT of the bytes nor a
// download, which are bounded by their context). Default 30 s.
func WithRequestTimeout(d time.Duration) Option { return func(cl *Client) { cl.apiTTL = d } }

// New returns a client of the API at baseURL, that sends apiKey in
// x-api-key. baseURL is what precedes /v1 in the routes, as NormalizeBaseURL
// reads it: "http://127.0.0.1:8080" or "127.0.0.1:8080/v1" for `imagepipe
// dev`, the Terraform output api_url (the API Gateway stage URL,
// "https://abc.execute-api.eu-west-1.amazonaws.com/prod") unchanged.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := NormalizeBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: u, key: apiKey, http: http.DefaultClient, agent: "imagepipe-client", apiTTL: 30 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// NormalizeBaseURL reads an API base URL the ways people write it: without
// a scheme (http:// for this machine's names and addresses, https://
// otherwise), with or without a trailing slash, and with the routes' /v1
// (what `imagepipe dev` prints as the API) dropped. On an API Gateway host
// (execute-api) the first path segment is the stage and is kept even when
// the stage is named v1.
func NormalizeBaseURL(raw string) (*url.URL, error) {
	s := strings.TrimSpace(raw)
	if s != "" && !strings.Contains(s, "://") {
		host := s
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		scheme := "https://"
		if LoopbackHost(host) {
			scheme = "http://"
		}
		s = scheme + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("API URL %q: want [http(s)://]host[:port][/path], e.g. http://127.0.0.1:8080 or the Terraform output api_url", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	stage := strings.Contains(u.Hostname(), ".execute-api.")
	if strings.HasSuffix(u.Path, "/v1") && !(stage && strings.Count(u.Path, "/") == 1) {
		u.Path = strings.TrimSuffix(u.Path, "/v1")
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// LoopbackHost reports whether host[:port] names this machine: localhost
// or a loopback address, with any port.
func LoopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// BaseURL is the API's base URL, what precedes /v1 in the routes.
func (c *Client) BaseURL() string { return c.base.String() }

// APIError is an error answer of the API or of S3.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the API's error code ("too_large", "not_found", ...),
	// "forbidden" for API Gateway's 403, S3's code (e.g.
	// "SignatureDoesNotMatch") for a refused PUT or download, or
	// "http_<status>" when the body says nothing readable.
	Code string
	// Message is the human explanation.
	Message string
	// Op names the request, e.g. "POST /v1/uploads".
	Op string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %d %s: %s", e.Op, e.StatusCode, e.Code, e.Message)
}

// Temporary reports whether trying again may succeed (throttling or a
// server error).
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// ErrorCode returns the API error code of err, "" when err is not an
// *APIError.
func ErrorCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// IsTemporary reports whether err is worth retrying: a 5xx or 429 answer, or
// a network error that is not a cancellation of ctx.
func IsTemporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// IsUnreachable reports whether err means that nothing answered at the
// address (connection refused, unknown host): a configuration problem
// rather than a failure of one file.
func IsUnreachable(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de)
}

// CreateUpload asks for a presigned upload URL (POST /v1/uploads).
func (c *Client) CreateUpload(ctx context.Context, req api.UploadRequest) (*api.UploadResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var resp api.UploadResponse
	if err := c.api(ctx, http.MethodPost, api.PathUploads, "application/json", bytes.NewReader(body), int64(len(body)), http.StatusCreated, &resp); err != nil {
		return nil, err
	}
	if resp.Upload == nil || resp.Upload.URL == "" {
		return nil, fmt.Errorf("POST /v1/uploads: the answer has no upload URL")
	}
	return &resp, nil
}

// Put sends size bytes of body to a presigned upload, with exactly the
// headers the API asked for. body is read once: to retry, call Put again
// with a fresh reader.
func (c *Client) Put(ctx context.Context, up *api.Upload, body io.Reader, size int64) error {
	method := up.Method
	if method == "" {
		method = http.MethodPut
	}
	req, err := http.NewRequestWithContext(ctx, method, up.URL, body)
	if err != nil {
		return fmt.Errorf("upload request: %w", err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", c.agent)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("PUT upload: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readError("PUT upload", resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

// Upload presigns and PUTs data in one go, for callers that hold the bytes
// (tests, small files). contentType must be one the API accepts.
func (c *Client) Upload(ctx context.Context, filename, contentType string, data []byte) (*api.UploadResponse, error) {
	up, err := c.CreateUpload(ctx, api.UploadRequest{Filename: filename, ContentType: contentType, Size: int64(len(data))})
	if err != nil {
		return nil, err
	}
	if err := c.Put(ctx, up.Upload, bytes.NewReader(data), int64(len(data))); err != nil {
		return up, err
	}
	return up, nil
}

// UploadRaw is the seed's flow: POST /v1/images/upload with the image as
// the body (up to 5 MiB by default); the server sniffs the type.
func (c *Client) UploadRaw(ctx context.Context, body io.Reader, size int64) (*api.UploadResponse, error) {
	var resp api.UploadResponse
	if err := c.api(ctx, http.MethodPost, api.PathRawUpload, "application/octet-stream", body, size, http.StatusAccepted, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Image reads an image's status (GET /v1/images/{id}).
func (c *Client) Image(ctx context.Context, id string) (*api.ImageView, error) {
	var v api.ImageView
	if err := c.api(ctx, http.MethodGet, api.ImagePath(url.PathEscape(id)), "", nil, 0, http.StatusOK, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ListOptions select the images of ListImages. Zero values are left out of
// the request (the API's defaults: every state, from the first image, 50
// at a time).
type ListOptions struct {
	Since      time.Time
	Limit      int
	Statuses   []string
	Cursor     string
	ContentMD5 string
}

// ListImages reads one page of GET /v1/images. Pass the answer's
// NextCursor as Cursor to read the next page; the last page has none.
func (c *Client) ListImages(ctx context.Context, o ListOptions) (*api.ImageList, error) {
	q := url.Values{}
	if !o.Since.IsZero() {
		q.Set(api.QuerySince, o.Since.UTC().Format(time.RFC3339Nano))
	}
	if o.Limit > 0 {
		q.Set(api.QueryLimit, strconv.Itoa(o.Limit))
	}
	if len(o.Statuses) > 0 {
		q.Set(api.QueryStatus, strings.Join(o.Statuses, ","))
	}
	if o.Cursor != "" {
		q.Set(api.QueryCursor, o.Cursor)
	}
	if o.ContentMD5 != "" {
		q.Set(api.QueryContentMD5, o.ContentMD5)
	}
	path := api.PathImages
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var l api.ImageList
	if err := c.api(ctx, http.MethodGet, path, "", nil, 0, http.StatusOK, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// WaitOptions tune Wait. Zero values take the defaults.
type WaitOptions struct {
	// After is the pause before the first poll (default none). A caller
	// that has just uploaded the image knows it is not done yet, and may
	// know about how long images take (see DoneEstimate).
	After time.Duration
	// First is the first pause between polls (default 50 ms: the local
	// stack finishes a 2 MP JPEG in about that); it grows by half each
	// time up to Max (default 3 s), with some jitter.
	First, Max time.Duration
	// MaxTransient is how many temporary errors in a row are tolerated
	// (default 5).
	MaxTransient int
}

// DoneEstimate learns how long images take from the end of their upload to
// finished, and gives Wait the options that poll about when the next one
// should be done: once at the median of the last images' times, then at a
// fifth of it, growing. The times come from the API's own timestamps
// (created_at to the updated_at of the finished view) less the caller's
// time from asking for the upload to the end of its PUT, so they do not
// depend on when the caller polled, nor on its clock. It is safe for
// concurrent use; the zero value is ready.
type DoneEstimate struct {
	mu     sync.Mutex
	recent [doneSamples]time.Duration
	n      int
}

const doneSamples = 16

// Add records a finished image: uploading is the caller's time from
// before CreateUpload to the end of the PUT, v the finished view.
func (e *DoneEstimate) Add(uploading time.Duration, v *api.ImageView) {
	if v == nil || !api.Finished(v.Status) || v.CreatedAt.IsZero() || v.UpdatedAt.Before(v.CreatedAt) {
		return
	}
	d := max(v.UpdatedAt.Sub(v.CreatedAt)-uploading, 0)
	e.mu.Lock()
	e.recent[e.n%doneSamples] = d
	e.n++
	e.mu.Unlock()
}

// Options are the WaitOptions for an image just uploaded. With no image
// recorded yet the first poll is after 50 ms (not at once: the image
// cannot be done yet), then as Wait's defaults.
func (e *DoneEstimate) Options() WaitOptions {
	e.mu.Lock()
	n := min(e.n, doneSamples)
	recent := make([]time.Duration, n)
	copy(recent, e.recent[:n])
	e.mu.Unlock()
	if n == 0 {
		return WaitOptions{After: 50 * time.Millisecond}
	}
	slices.Sort(recent)
	median := recent[(n-1)/2]
	return WaitOptions{After: median, First: max(median/5, 10*time.Millisecond)}
}

// Wait polls the image's status with backoff until it is finished (done,
// failed or expired), or ctx ends (bound it with context.WithTimeout). It
// returns the last view.
func (c *Client) Wait(ctx context.Context, id string, o WaitOptions) (*api.ImageView, error) {
	if o.First <= 0 {
		o.First = 50 * time.Millisecond
	}
	if o.Max <= 0 {
		o.Max = 3 * time.Second
	}
	if o.MaxTransient <= 0 {
		o.MaxTransient = 5
	}
	pause := o.First
	transient := 0
	var last *api.ImageView
	t := time.NewTimer(max(o.After, 0))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if last != nil {
				return last, fmt.Errorf("wait for %s: still %s: %w", id, last.Status, context.Cause(ctx))
			}
			return nil, fmt.Errorf("wait for %s: %w", id, context.Cause(ctx))
		case <-t.C:
		}
		v, err := c.Image(ctx, id)
		switch {
		case err == nil:
			transient = 0
			last = v
			if api.Finished(v.Status) {
				return v, nil
			}
		case ctx.Err() != nil:
			continue // reported by the select
		case IsTemporary(err) && transient < o.MaxTransient:
			transient++
		default:
			return last, err
		}
		jitter := time.Duration(rand.Int64N(int64(pause)/5 + 1))
		t.Reset(pause + jitter)
		pause = min(pause*3/2, o.Max)
	}
}

// Download GETs a presigned output URL into w and returns the number of
// bytes written.
func (c *Client) Download(ctx context.Context, rawURL string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, fmt.Errorf("download request: %w", err)
	}
	req.Header.Set("User-Agent", c.agent)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET output: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, readError("GET output", resp)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("GET output: %w", err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("GET output: got %d of %d bytes", n, resp.ContentLength)
	}
	return n, nil
}

// api does one API call and decodes a want answer into out.
func (c *Client) api(ctx context.Context, method, path, ctype string, body io.Reader, size int64, want int, out any) error {
	op := method + " " + path
	if c.apiTTL > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.apiTTL)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.base.String(), "/")+path, body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	if c.key != "" {
		req.Header.Set(api.HeaderAPIKey, c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return readError(op, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s: decode the answer: %w", op, err)
	}
	return nil
}

// readError turns an error answer into an *APIError: the API's
// {"error":{"code","message"}}, API Gateway's {"message":"Forbidden"}, or
// S3's XML <Error>.
func readError(op string, resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &APIError{StatusCode: resp.StatusCode, Op: op}
	var api struct {
		Error *api.ErrorBody `json:"error"`
		// API Gateway's own answers.
		Message string `json:"message"`
	}
	var s3 struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	switch {
	case json.Unmarshal(raw, &api) == nil && api.Error != nil && api.Error.Code != "":
		e.Code, e.Message = api.Error.Code, api.Error.Message
	case resp.StatusCode == http.StatusForbidden && api.Message != "":
		e.Code = "forbidden"
		e.Message = api.Message + ": the API key is missing or wrong"
	case api.Message != "":
		e.Code, e.Message = fmt.Sprintf("http_%d", resp.StatusCode), api.Message
	case xml.Unmarshal(raw, &s3) == nil && s3.Code != "":
		e.Code, e.Message = s3.Code, s3.Message
	default:
		e.Code = fmt.Sprintf("http_%d", resp.StatusCode)
		e.Message = strings.TrimSpace(string(raw))
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	return e
}
