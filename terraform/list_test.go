package terraform_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/api"
)

// checkListing reads GET /v1/images through the emulated API Gateway and
// the presign binary, against moto's S3 (ListObjectsV2 on the status
// prefix, StartAfter for the cursor): done is the image the flow finished;
// a second upload handed out now must follow it, page by page.
func checkListing(ctx context.Context, t *testing.T, a *apiClient, done string, since time.Time) {
	t.Helper()
	call := func(method, path string, query map[string]string, body string, want int, out any) {
		t.Helper()
		q := url.Values{}
		for k, v := range query {
			q.Set(k, v)
		}
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		code, resp := a.do(ctx, t, method, path, a.key, b)
		if code != want {
			t.Fatalf("%s %s: %d %s", method, path, code, resp)
		}
		if err := json.Unmarshal([]byte(resp), out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	var second api.UploadResponse
	call(http.MethodPost, api.PathUploads, nil, `{"filename":"dog.png","content_type":"image/png","size":10}`, http.StatusCreated, &second)

	var ids []string
	var statuses []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("GET /v1/images keeps answering a next cursor")
		}
		q := map[string]string{"since": since.Format(time.RFC3339), "limit": "1"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		var l api.ImageList
		call(http.MethodGet, api.PathImages, q, "", http.StatusOK, &l)
		for _, v := range l.Images {
			ids = append(ids, v.ImageID)
			statuses = append(statuses, v.Status)
		}
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	// Other uploads of the flow may be listed too; these two must be, in
	// the order they were made, and all in creation (id) order.
	di, si := slices.Index(ids, done), slices.Index(ids, second.ImageID)
	if di < 0 || si < di || statuses[di] != "done" || statuses[si] != "pending" || !slices.IsSorted(ids) {
		t.Errorf("GET /v1/images since %s, one at a time: %v %v; want %s (done) before %s (pending), in creation order", since, ids, statuses, done, second.ImageID)
	}
	var pending api.ImageList
	call(http.MethodGet, api.PathImages, map[string]string{"status": "pending", "since": since.Format(time.RFC3339)}, "", http.StatusOK, &pending)
	var pendingIDs []string
	for _, v := range pending.Images {
		pendingIDs = append(pendingIDs, v.ImageID)
		if v.Status != "pending" {
			t.Errorf("GET /v1/images?status=pending listed %s %s", v.ImageID, v.Status)
		}
	}
	if !slices.Contains(pendingIDs, second.ImageID) || slices.Contains(pendingIDs, done) {
		t.Errorf("GET /v1/images?status=pending: %v, want %s and not %s", pendingIDs, second.ImageID, done)
	}
}
