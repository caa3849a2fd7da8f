package presign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/status"
)

const testImageID = "0123456789abcdef0123456789abcdef"

// newAPI is newTestAPI with a configuration and credentials of the test's.
func newAPI(t *testing.T, creds aws.CredentialsProvider, edit func(*Config)) (*Handler, *s3Server) {
	t.Helper()
	fake := &s3Server{objects: map[string][]byte{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")
	}
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, RetryMaxAttempts: 1, Credentials: creds})
	cfg := DefaultConfig("uploads", "processed")
	if edit != nil {
		edit(&cfg)
	}
	h, err := New(cfg, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h, fake
}

func putRecord(t *testing.T, fake *s3Server, rec status.Record) {
	t.Helper()
	raw, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	fake.objects["/processed/"+status.Key(rec.ImageID)] = raw
	fake.mu.Unlock()
}

func getView(t *testing.T, h *Handler, id string) api.ImageView {
	t.Helper()
	resp, err := h.HandleAPIGateway(context.Background(), proxyRequest("GET", "/v1/images/"+id, ""))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/images/%s: %d %s", id, resp.StatusCode, resp.Body)
	}
	var v api.ImageView
	if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// urlExpiry is when S3 stops honouring a presigned URL: X-Amz-Date plus
// X-Amz-Expires.
func urlExpiry(t *testing.T, raw string) time.Time {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date of %s: %v", raw, err)
	}
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil {
		t.Fatalf("X-Amz-Expires of %s: %v", raw, err)
	}
	return signed.Add(time.Duration(secs) * time.Second)
}

// expiringCreds hands out credentials that expire life after each call.
type expiringCreds struct {
	mu    sync.Mutex
	calls int
	life  func(call int) time.Duration
	token string
}

func (e *expiringCreds) Retrieve(context.Context) (aws.Credentials, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	return aws.Credentials{
		AccessKeyID: "ASIA" + strconv.Itoa(e.calls), SecretAccessKey: "secret", SessionToken: e.token,
		CanExpire: true, Expires: time.Now().Add(e.life(e.calls)),
	}, nil
}

func TestURLLifetimeFollowsTheCredentials(t *testing.T) {
	doneRecord := status.Record{ImageID: testImageID, Status: status.Done, Filename: "cat.jpg",
		Outputs: []eventbus.Output{{Name: "gray", Bucket: "processed", Key: "processed/" + testImageID + "/gray.jpg", ContentType: "image/jpeg", Width: 4, Height: 3, Bytes: 99}}}
	tests := []struct {
		name     string
		creds    aws.CredentialsProvider
		ttl      time.Duration
		wantLife time.Duration // expected lifetime of the URL, ±2 s
		wantKey  string        // access key id of the signature
	}{
		{name: "long-term keys: the configured lifetime", ttl: 2 * time.Hour, wantLife: 2 * time.Hour, wantKey: "AKIDEXAMPLE"},
		{name: "credentials expiring in 10 minutes", ttl: 2 * time.Hour, wantLife: 10 * time.Minute, wantKey: "ASIA1",
			creds: aws.NewCredentialsCache(&expiringCreds{life: func(int) time.Duration { return 10 * time.Minute }, token: "tok"})},
		{name: "credentials outliving the URL", ttl: 5 * time.Minute, wantLife: 5 * time.Minute, wantKey: "ASIA1",
			creds: aws.NewCredentialsCache(&expiringCreds{life: func(int) time.Duration { return 6 * time.Hour }, token: "tok"})},
		{name: "credentials about to expire are fetched again", ttl: 2 * time.Hour, wantLife: 40 * time.Minute, wantKey: "ASIA2",
			creds: aws.NewCredentialsCache(&expiringCreds{life: func(call int) time.Duration {
				if call == 1 {
					return 20 * time.Second
				}
				return 40 * time.Minute
			}, token: "tok"})},
		{name: "a session of unknown expiry (Lambda's environment)", ttl: 3 * time.Hour, wantLife: time.Hour, wantKey: "ASIAENV",
			creds: credentials.NewStaticCredentialsProvider("ASIAENV", "secret", "session-token")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, fake := newAPI(t, tc.creds, func(c *Config) { c.URLTTL = tc.ttl; c.DownloadURLTTL = tc.ttl })
			check := func(what, raw string, claimed time.Time) {
				t.Helper()
				real := urlExpiry(t, raw)
				if d := real.Sub(claimed); d < 0 || d > time.Second {
					t.Errorf("%s: expires_at %s but the URL expires at %s", what, claimed, real)
				}
				if life := time.Until(claimed); life > tc.wantLife+2*time.Second || life < tc.wantLife-2*time.Second {
					t.Errorf("%s: the URL lives %s, want %s", what, life.Round(time.Second), tc.wantLife)
				}
				u, _ := url.Parse(raw)
				if cred := u.Query().Get("X-Amz-Credential"); !strings.HasPrefix(cred, tc.wantKey+"/") {
					t.Errorf("%s: signed by %s, want %s", what, cred, tc.wantKey)
				}
			}

			resp, err := h.HandleAPIGateway(context.Background(), proxyRequest("POST", "/v1/uploads", `{"filename":"cat.jpg","content_type":"image/jpeg","size":10}`))
			if err != nil || resp.StatusCode != http.StatusCreated {
				t.Fatalf("POST /v1/uploads: %v %d %s", err, resp.StatusCode, resp.Body)
			}
			var up api.UploadResponse
			if err := json.Unmarshal([]byte(resp.Body), &up); err != nil {
				t.Fatal(err)
			}
			check("upload URL", up.Upload.URL, up.Upload.ExpiresAt)
			rec, err := h.statuses.Get(context.Background(), up.ImageID)
			if err != nil || !rec.UploadExpiresAt.Equal(up.Upload.ExpiresAt) {
				t.Errorf("pending record says the upload URL expires at %v, the answer %v (%v)", rec.UploadExpiresAt, up.Upload.ExpiresAt, err)
			}

			putRecord(t, fake, doneRecord)
			v := getView(t, h, testImageID)
			g := v.Outputs["gray"]
			check("gray URL", g.URL, g.ExpiresAt)
		})
	}
}

func TestDownloadsAreAttachmentsNamedAfterTheUpload(t *testing.T) {
	tests := []struct {
		name     string
		filename string
		want     string
	}{
		{name: "plain name", filename: "cat.jpg", want: `attachment; filename="cat.gray.png"`},
		{name: "dots and spaces", filename: "holiday 2024.v2.tiff", want: `attachment; filename="holiday 2024.v2.gray.png"`},
		{name: "quotes", filename: `say "cheese".jpg`, want: `attachment; filename="say _cheese_.gray.png"; filename*=UTF-8''say%20%22cheese%22.gray.png`},
		{name: "separators", filename: "a=b;c,d@e:f.jpg", want: `attachment; filename="a=b;c,d@e:f.gray.png"`},
		{name: "separators beside a non-ASCII letter", filename: "é=b;c.jpg", want: `attachment; filename="_=b;c.gray.png"; filename*=UTF-8''%C3%A9%3Db%3Bc.gray.png`},
		{name: "not ASCII", filename: "café ☕.jpg", want: `attachment; filename="caf_ _.gray.png"; filename*=UTF-8''caf%C3%A9%20%E2%98%95.gray.png`},
		{name: "no name (raw upload)", filename: "", want: `attachment; filename="` + testImageID + `.gray.png"`},
		{name: "a name that is only an extension", filename: ".png", want: `attachment; filename="` + testImageID + `.gray.png"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, fake := newAPI(t, nil, nil)
			putRecord(t, fake, status.Record{ImageID: testImageID, Status: status.Done, Filename: tc.filename,
				Outputs: []eventbus.Output{{Name: "gray", Bucket: "processed", Key: "processed/" + testImageID + "/gray.png", ContentType: "image/png"}}})
			v := getView(t, h, testImageID)
			u, err := url.Parse(v.Outputs["gray"].URL)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Query().Get("response-content-disposition"); got != tc.want {
				t.Errorf("response-content-disposition = %q, want %q", got, tc.want)
			}
			if !strings.Contains(u.Query().Get("X-Amz-SignedHeaders"), "host") || u.Query().Get("X-Amz-Signature") == "" {
				t.Errorf("URL %s is not presigned", u)
			}
		})
	}
}

func TestStatusesAsTheAPIAnswersThem(t *testing.T) {
	past := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	future := time.Now().UTC().Add(time.Minute).Truncate(time.Second)
	tests := []struct {
		name     string
		rec      status.Record
		uploaded bool
		want     string
		code     string
		expires  time.Time
	}{
		{name: "pending, link still valid", rec: status.Record{Status: status.Pending, Key: "uploads/" + testImageID + ".jpg", UploadExpiresAt: future}, want: status.Pending, expires: future},
		{name: "pending, link long expired, nothing uploaded", rec: status.Record{Status: status.Pending, Key: "uploads/" + testImageID + ".jpg", UploadExpiresAt: past}, want: status.Expired, code: status.CodeUploadExpired, expires: past},
		{name: "pending, link long expired, but the upload is there (backlog)", rec: status.Record{Status: status.Pending, Key: "uploads/" + testImageID + ".jpg", UploadExpiresAt: past}, uploaded: true, want: status.Pending, expires: past},
		{name: "processing", rec: status.Record{Status: status.Processing, Key: "uploads/" + testImageID + ".jpg", UploadExpiresAt: past}, want: status.Processing},
		{name: "failed", rec: status.Record{Status: status.Failed, Error: &eventbus.ImageError{Code: "not_an_image", Message: "no known image signature"}}, want: status.Failed, code: "not_an_image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, fake := newAPI(t, nil, func(c *Config) { c.UploadGrace = 10 * time.Minute })
			tc.rec.ImageID = testImageID
			putRecord(t, fake, tc.rec)
			if tc.uploaded {
				fake.mu.Lock()
				fake.objects["/uploads/"+tc.rec.Key] = []byte("jpeg")
				fake.mu.Unlock()
			}
			v := getView(t, h, testImageID)
			if v.Status != tc.want {
				t.Errorf("status %q, want %q", v.Status, tc.want)
			}
			code := ""
			if v.Error != nil {
				code = v.Error.Code
				if v.Error.Message == "" {
					t.Error("error without a message")
				}
			}
			if code != tc.code {
				t.Errorf("error code %q, want %q", code, tc.code)
			}
			if !v.UploadExpiresAt.Equal(tc.expires) {
				t.Errorf("upload_expires_at %v, want %v", v.UploadExpiresAt, tc.expires)
			}
			// The stored record is never rewritten by a read.
			raw, _ := fake.object("/processed/" + status.Key(testImageID))
			var rec status.Record
			if err := json.Unmarshal(raw, &rec); err != nil || rec.Status != tc.rec.Status {
				t.Errorf("stored record became %s (%v)", raw, err)
			}
		})
	}
}

// With binary_media_types = ["*/*"] API Gateway hands every body over
// base64-encoded, whatever its Content-Type.
func TestBase64BodiesWhateverTheContentType(t *testing.T) {
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 40)
	h, fake := newAPI(t, nil, nil)
	for _, ct := range []string{"application/x-www-form-urlencoded", "application/octet-stream", "image/png", ""} {
		req := proxyRequest("POST", "/v1/images/upload", base64.StdEncoding.EncodeToString([]byte(png)))
		req.IsBase64Encoded = true
		req.Headers["Content-Type"] = ct
		req.MultiValueHeaders["Content-Type"] = []string{ct}
		resp, err := h.HandleAPIGateway(context.Background(), req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("raw upload as %q: %v %d %s", ct, err, resp.StatusCode, resp.Body)
		}
		var up api.UploadResponse
		if err := json.Unmarshal([]byte(resp.Body), &up); err != nil {
			t.Fatal(err)
		}
		if got, ok := fake.object("/uploads/" + up.Key); !ok || string(got) != png {
			t.Errorf("raw upload as %q stored %q", ct, got)
		}
	}
	req := proxyRequest("POST", "/v1/uploads", base64.StdEncoding.EncodeToString([]byte(`{"filename":"a.png","content_type":"image/png","size":5}`)))
	req.IsBase64Encoded = true
	if resp, err := h.HandleAPIGateway(context.Background(), req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("base64 JSON body: %v %d %s", err, resp.StatusCode, resp.Body)
	}
}

// A raw upload whose PutObject failed leaves a pending record that ends as
// expired after the grace, not pending forever.
func TestRawUploadRecordIsDueAtOnce(t *testing.T) {
	h, _ := newAPI(t, nil, nil)
	req := proxyRequest("POST", "/v1/images/upload", "\x89PNG\r\n\x1a\n")
	resp, err := h.HandleAPIGateway(context.Background(), req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%v %d %s", err, resp.StatusCode, resp.Body)
	}
	var up api.UploadResponse
	_ = json.Unmarshal([]byte(resp.Body), &up)
	rec, err := h.statuses.Get(context.Background(), up.ImageID)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(rec.UploadExpiresAt); d < 0 || d > 5*time.Second {
		t.Errorf("raw upload's record is due at %v, want now", rec.UploadExpiresAt)
	}
}

func TestLinkSettingsFromTheEnvironment(t *testing.T) {
	t.Setenv(EnvUploadsBucket, "u")
	t.Setenv(EnvProcessedBucket, "p")
	t.Setenv(EnvDownloadURLTTL, "2h")
	t.Setenv(EnvUploadGrace, "90s")
	cfg, err := ConfigFromEnv()
	if err != nil || cfg.DownloadURLTTL != 2*time.Hour || cfg.UploadGrace != 90*time.Second || cfg.URLTTL != DefaultURLTTL {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	for env, v := range map[string]string{EnvDownloadURLTTL: "0s", EnvUploadGrace: "-1m", EnvUploadURLTTL: "200h"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, v)
			if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), env) {
				t.Errorf("%s=%s: %v, want an error naming %s", env, v, err, env)
			}
		})
	}
}
