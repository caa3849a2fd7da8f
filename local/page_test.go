package local_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
	"github.com/imagepipe/imagepipe/web"
)

// The page's config.json carries the key to a page opened on loopback
// only: a page reached through another host name (DNS rebinding to
// 127.0.0.1) gets none.
func TestPageConfigCarriesTheKeyOnLoopbackOnly(t *testing.T) {
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	port := st.APIURL()[strings.LastIndex(st.APIURL(), ":")+1:]
	tests := []struct {
		host    string
		withKey bool
	}{
		{"127.0.0.1:" + port, true},
		{"localhost:" + port, true},
		{"LOCALHOST:" + port, true},
		{"[::1]:" + port, true},
		{"images.example.com:" + port, false},
		{"127.0.0.1.nip.io:" + port, false},
	}
	for _, tc := range tests {
		cfg := pageConfig(t, st.APIURL(), tc.host)
		if (cfg.APIKey == st.APIKey()) != tc.withKey || (!tc.withKey && cfg.APIKey != "") {
			t.Errorf("Host %s: api_key %q, want the key: %v", tc.host, cfg.APIKey, tc.withKey)
		}
		if cfg.MaxUploadBytes != api.DefaultMaxUploadBytes || cfg.APIBaseURL != "" {
			t.Errorf("Host %s: config %+v, want the API on the page's origin and the upload limit", tc.host, cfg)
		}
	}

	quiet := localtest.Start(t, func(c *local.Config) { c.Paused = true; c.NoPageKey = true })
	if cfg := pageConfig(t, quiet.APIURL(), ""); cfg.APIKey != "" {
		t.Errorf("with NoPageKey the page still gets the key")
	}
}

func pageConfig(t *testing.T, base, host string) web.Config {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/config.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("config.json Cache-Control %q, want no-store", cc)
	}
	var cfg web.Config
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A page on another origin (cors_allowed_origins on AWS, CORSOrigins here)
// gets its preflight answered without a key, the key's 403 with CORS
// headers it can read, and the edge lets it PUT and GET.
func TestAPIAndEdgeAnswerAnotherOrigin(t *testing.T) {
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true; c.CORSOrigins = []string{anotherOrigin} })
	checkAnotherOrigin(t, st)
}

const anotherOrigin = "http://page.example.test:9000"

// checkAnotherOrigin checks the answers to a page on anotherOrigin.
func checkAnotherOrigin(t *testing.T, st *local.Stack) {
	t.Helper()
	const origin = anotherOrigin
	send := func(method, rawURL string, hdr map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, rawURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	pre := send(http.MethodOptions, st.APIURL()+"/v1/uploads", map[string]string{
		"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, x-api-key"})
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "x-api-key") {
		t.Errorf("API preflight without a key: %d %v", pre.StatusCode, pre.Header)
	}
	other := send(http.MethodOptions, st.APIURL()+"/v1/uploads", map[string]string{
		"Origin": "http://elsewhere.example.test", "Access-Control-Request-Method": "POST"})
	if other.StatusCode != http.StatusForbidden || other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", other.StatusCode, other.Header)
	}

	wrongKey := send(http.MethodGet, st.APIURL()+"/v1/images/00000000000000000000000000000000", map[string]string{"Origin": origin, "x-api-key": "wrong"})
	if wrongKey.StatusCode != http.StatusForbidden || wrongKey.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("wrong key from the allowed origin: %d %v, want 403 the page can read", wrongKey.StatusCode, wrongKey.Header)
	}
	goodKey := send(http.MethodGet, st.APIURL()+"/v1/images/00000000000000000000000000000000", map[string]string{"Origin": origin, "x-api-key": st.APIKey()})
	if goodKey.StatusCode != http.StatusNotFound || goodKey.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("key check from the allowed origin: %d %v, want 404 the page can read", goodKey.StatusCode, goodKey.Header)
	}

	edge := send(http.MethodOptions, st.EdgeURL()+"/"+local.UploadsBucket+"/uploads/x.jpg", map[string]string{
		"Origin": origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type"})
	if edge.StatusCode != http.StatusOK || edge.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("edge preflight for the other origin: %d %v", edge.StatusCode, edge.Header)
	}
}

// Downloads are attachments named after the upload: the presigned GET
// carries response-content-disposition and the edge honours it, as S3
// does, with the other response-* overrides.
func TestDownloadsAreAttachments(t *testing.T) {
	st := localtest.Start(t)
	a := newAPI(t, st)
	img := encodePNG(t, colourful(24, 16))
	up := a.createUpload("holiday photo.png", "image/png", len(img))
	if code, body := put(t, up.Upload.URL, up.Upload.Headers, img); code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, body)
	}
	v := a.waitStatus(up.ImageID)
	if v.Status != "done" {
		t.Fatalf("status %+v", v)
	}
	for name, want := range map[string]string{
		"gray":  `attachment; filename="holiday photo.gray.png"`,
		"thumb": `attachment; filename="holiday photo.thumb.png"`,
	} {
		resp, err := http.Get(v.Outputs[name].URL)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Disposition") != want || n != v.Outputs[name].Bytes {
			t.Errorf("GET %s: %d, %d bytes, Content-Disposition %q; want 200, %d bytes, %q", name, resp.StatusCode, n, resp.Header.Get("Content-Disposition"), v.Outputs[name].Bytes, want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "image/png" {
			t.Errorf("GET %s: Content-Type %q", name, ct)
		}
	}

	// Other response-* overrides, signed into a URL by the SDK.
	ps, err := s3.NewPresignClient(st.S3Client()).PresignGetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String(local.ProcessedBucket), Key: aws.String(v.Outputs["gray"].Key),
		ResponseContentType: aws.String("application/octet-stream"), ResponseCacheControl: aws.String("no-store"),
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ps.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/octet-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("response-content-type and response-cache-control: %v", resp.Header)
	}
}
