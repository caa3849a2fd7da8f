package presign

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/imagepipe/imagepipe/api"
)

func TestListQueryIsChecked(t *testing.T) {
	h, _ := newTestAPI(t)
	for _, tc := range []struct {
		query map[string]string
		code  string
	}{
		{map[string]string{"limit": "0"}, "invalid_limit"},
		{map[string]string{"limit": "201"}, "invalid_limit"},
		{map[string]string{"limit": "ten"}, "invalid_limit"},
		{map[string]string{"since": "yesterday"}, "invalid_since"},
		{map[string]string{"status": "done,finished"}, "invalid_status"},
		{map[string]string{"cursor": "!!"}, "invalid_cursor"},
		{map[string]string{"cursor": base64.RawURLEncoding.EncodeToString([]byte("uploads/x"))}, "invalid_cursor"},
		{map[string]string{"content_md5": "abc"}, "invalid_content_md5"},
	} {
		req := proxyRequest("GET", "/v1/images", "")
		req.QueryStringParameters = tc.query
		resp, err := h.HandleAPIGateway(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		var body api.ErrorResponse
		if resp.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(resp.Body), &body) != nil || body.Error == nil || body.Error.Code != tc.code {
			t.Errorf("GET /v1/images?%v: %d %s, want 400 %s", tc.query, resp.StatusCode, resp.Body, tc.code)
		}
	}
}

// TestFindByContent: an upload declared with content_md5 carries the MD5 in
// its signed headers (S3 refuses other bytes) and is found by it.
func TestFindByContent(t *testing.T) {
	h, _ := newTestAPI(t)
	sum := md5.Sum([]byte("the bytes of cat.jpg"))
	md5hex := hex.EncodeToString(sum[:])
	resp, err := h.HandleAPIGateway(context.Background(), proxyRequest("POST", "/v1/uploads",
		`{"filename":"cat.jpg","content_type":"image/jpeg","size":20,"content_md5":"`+strings.ToUpper(md5hex)+`"}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/uploads: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	var up api.UploadResponse
	if err := json.Unmarshal([]byte(resp.Body), &up); err != nil {
		t.Fatal(err)
	}
	if got, want := up.Upload.Headers["Content-MD5"], base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("upload headers %v: Content-MD5 %q, want %q", up.Upload.Headers, got, want)
	}
	u, _ := url.Parse(up.Upload.URL)
	if signed := u.Query().Get("X-Amz-SignedHeaders"); !strings.Contains(signed, "content-md5") {
		t.Errorf("X-Amz-SignedHeaders %q: Content-MD5 is not signed", signed)
	}

	find := func(md5hex string) []api.ImageView {
		t.Helper()
		req := proxyRequest("GET", "/v1/images", "")
		req.QueryStringParameters = map[string]string{"content_md5": md5hex}
		resp, err := h.HandleAPIGateway(context.Background(), req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/images?content_md5=%s: %v %d %s", md5hex, err, resp.StatusCode, resp.Body)
		}
		var l api.ImageList
		if err := json.Unmarshal([]byte(resp.Body), &l); err != nil {
			t.Fatal(err)
		}
		return l.Images
	}
	got := find(md5hex)
	if len(got) != 1 || got[0].ImageID != up.ImageID || got[0].Status != api.StatusPending || got[0].ContentMD5 != md5hex {
		t.Errorf("found %+v, want the pending image %s with content_md5 %s", got, up.ImageID, md5hex)
	}
	if got := find(strings.Repeat("0", 32)); len(got) != 0 {
		t.Errorf("another MD5 found %+v, want none", got)
	}

	resp, _ = h.HandleAPIGateway(context.Background(), proxyRequest("POST", "/v1/uploads",
		`{"filename":"cat.jpg","content_type":"image/jpeg","size":20,"content_md5":"not-hex"}`))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, "invalid_content_md5") {
		t.Errorf("POST with a bad content_md5: %d %s, want 400 invalid_content_md5", resp.StatusCode, resp.Body)
	}
}
