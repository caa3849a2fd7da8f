package presign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/functions/status"
)

// s3Server is an HTTP-level S3 fake: path-style GET and PUT of objects,
// NoSuchKey for a missing one, InternalError for everything when failing.
type s3Server struct {
	mu      sync.Mutex
	objects map[string][]byte // by "/bucket/key"
	failing bool
}

func (f *s3Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s3Error := func(code int, s3code string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+s3code+`</Code><Message>`+s3code+`</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`)
	}
	if f.failing {
		s3Error(http.StatusInternalServerError, "InternalError")
		return
	}
	switch r.Method {
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		f.objects[r.URL.Path] = body
		w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
	case http.MethodGet:
		body, ok := f.objects[r.URL.Path]
		if !ok {
			s3Error(http.StatusNotFound, "NoSuchKey")
			return
		}
		_, _ = w.Write(body)
	case http.MethodHead:
		if _, ok := f.objects[r.URL.Path]; !ok {
			w.WriteHeader(http.StatusNotFound)
		}
	default:
		s3Error(http.StatusMethodNotAllowed, "MethodNotAllowed")
	}
}

func (f *s3Server) object(path string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[path]
	return b, ok
}

func (f *s3Server) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.objects)
}

func newTestAPI(t *testing.T) (*Handler, *s3Server) {
	t.Helper()
	fake := &s3Server{objects: map[string][]byte{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
	})
	cfg := DefaultConfig("uploads", "processed")
	cfg.RawUploadMaxBytes = 1024
	h, err := New(cfg, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h, fake
}

// proxyRequest is a REST API proxy event as API Gateway sends it, headers
// in both forms.
func proxyRequest(method, path, body string) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{
		Resource: "/{proxy+}", Path: path, HTTPMethod: method,
		Headers:           map[string]string{"Content-Type": "application/json", "x-api-key": "key"},
		MultiValueHeaders: map[string][]string{"Content-Type": {"application/json"}, "x-api-key": {"key"}},
		PathParameters:    map[string]string{"proxy": strings.TrimPrefix(path, "/")},
		Body:              body,
	}
}

func TestAPIGatewayErrorsAreJSON(t *testing.T) {
	png := "\x89PNG\r\n\x1a\n"
	tests := []struct {
		name   string
		req    events.APIGatewayProxyRequest
		s3Down bool
		status int
		code   string
	}{
		{name: "body not base64", req: func() events.APIGatewayProxyRequest {
			r := proxyRequest("POST", "/v1/uploads", "{not base64")
			r.IsBase64Encoded = true
			return r
		}(), status: 400, code: "bad_request"},
		{name: "base64 body with a bad content type", req: func() events.APIGatewayProxyRequest {
			r := proxyRequest("POST", "/v1/uploads", base64.StdEncoding.EncodeToString([]byte(`{"filename":"a.svg","content_type":"image/svg+xml","size":10}`)))
			r.IsBase64Encoded = true
			return r
		}(), status: 400, code: "unsupported_content_type"},
		{name: "not JSON", req: proxyRequest("POST", "/v1/uploads", "filename=a.jpg"), status: 400, code: "bad_request"},
		{name: "size over the maximum", req: proxyRequest("POST", "/v1/uploads", `{"filename":"a.jpg","content_type":"image/jpeg","size":26214401}`), status: 400, code: "too_large"},
		{name: "unknown route", req: proxyRequest("GET", "/v1/nothing", ""), status: 404, code: "not_found"},
		{name: "unknown image", req: proxyRequest("GET", "/v1/images/0123456789abcdef0123456789abcdef", ""), status: 404, code: "not_found"},
		{name: "malformed image id", req: proxyRequest("GET", "/v1/images/ABC", ""), status: 400, code: "invalid_image_id"},
		{name: "raw upload over the limit", req: proxyRequest("POST", "/v1/images/upload", png+strings.Repeat("x", 1024)), status: 413, code: "too_large"},
		{name: "raw upload empty", req: proxyRequest("POST", "/v1/images/upload", ""), status: 400, code: "invalid_size"},
		{name: "raw upload not an image", req: proxyRequest("POST", "/v1/images/upload", "hello"), status: 400, code: "not_an_image"},
		{name: "S3 down", req: proxyRequest("POST", "/v1/uploads", `{"filename":"a.jpg","content_type":"image/jpeg","size":10}`), s3Down: true, status: 500, code: "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, fake := newTestAPI(t)
			fake.mu.Lock()
			fake.failing = tt.s3Down
			fake.mu.Unlock()
			resp, err := h.HandleAPIGateway(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, resp.Body)
			}
			if ct := resp.MultiValueHeaders["Content-Type"]; len(ct) != 1 || ct[0] != "application/json" {
				t.Errorf("Content-Type %v", ct)
			}
			var body struct {
				Error *api.ErrorBody `json:"error"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Error == nil {
				t.Fatalf("body %q is not a JSON error: %v", resp.Body, err)
			}
			if body.Error.Code != tt.code || body.Error.Message == "" {
				t.Errorf("error %+v, want code %q with a message", body.Error, tt.code)
			}
			if strings.Contains(resp.Body, "InternalError") || strings.Contains(resp.Body, "4442587FB7D0A2F9") {
				t.Errorf("body %s shows S3's error to the caller", resp.Body)
			}
			if n := fake.count(); n != 0 {
				t.Errorf("a refused request stored %d objects", n)
			}
		})
	}
}

func TestAPIGatewayCreateUploadThenStatus(t *testing.T) {
	h, fake := newTestAPI(t)
	resp, err := h.HandleAPIGateway(context.Background(), proxyRequest("POST", "/v1/uploads", `{"filename":"C:\\photos\\cat.jpg","content_type":"image/jpeg","size":123456}`))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	var up api.UploadResponse
	if err := json.Unmarshal([]byte(resp.Body), &up); err != nil || up.Upload == nil {
		t.Fatalf("body %s: %v", resp.Body, err)
	}
	u, err := url.Parse(up.Upload.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/uploads/"+up.Key || up.Key != "uploads/"+up.ImageID+".jpg" {
		t.Errorf("URL path %s for key %s", u.Path, up.Key)
	}
	if signed := u.Query().Get("X-Amz-SignedHeaders"); !strings.Contains(signed, "content-length") || !strings.Contains(signed, "content-type") {
		t.Errorf("signed headers %q, want content-length and content-type", signed)
	}

	raw, ok := fake.object("/processed/" + status.Key(up.ImageID))
	if !ok {
		t.Fatal("no pending status record")
	}
	var rec status.Record
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Status != status.Pending || rec.Filename != "cat.jpg" || rec.Size != 123456 {
		t.Errorf("record %s: %v", raw, err)
	}

	resp, err = h.HandleAPIGateway(context.Background(), proxyRequest("GET", up.StatusURL, ""))
	if err != nil {
		t.Fatal(err)
	}
	var view api.ImageView
	if err := json.Unmarshal([]byte(resp.Body), &view); err != nil || resp.StatusCode != 200 || view.Status != status.Pending || view.ImageID != up.ImageID {
		t.Errorf("GET %s: %d %s", up.StatusURL, resp.StatusCode, resp.Body)
	}
}

// A chunked body has no Content-Length: the limit holds while reading.
func TestRawUploadTooLargeWithoutContentLength(t *testing.T) {
	h, fake := newTestAPI(t)
	body := io.MultiReader(strings.NewReader("\x89PNG\r\n\x1a\n"), bytes.NewReader(make([]byte, 2048)))
	r := httptest.NewRequest(http.MethodPost, "/v1/images/upload", body)
	r.ContentLength = -1
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), `"too_large"`) {
		t.Fatalf("%d %s, want 413 too_large", w.Code, w.Body)
	}
	if n := fake.count(); n != 0 {
		t.Errorf("stored %d objects", n)
	}
}
