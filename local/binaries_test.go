package local_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/lambdarie/rietest"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// TestLambdaBinaries: with Config.LambdaBinaries (imagepipe dev
// --lambda-binaries) an upload goes through the three bootstraps under the
// runtime emulator: a presigned upload and a raw one (whose body reaches the
// presign binary base64-encoded) both come out done, and each function's
// emulator reported invocations.
func TestLambdaBinaries(t *testing.T) {
	dir := rietest.Binaries(t)
	logs := &localtest.Buffer{}
	st := localtest.Start(t, func(c *local.Config) {
		c.LambdaBinaries = dir
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	a := newAPI(t, st)

	if code, raw := a.do(http.MethodPost, "/v1/uploads", "", strings.NewReader(`{}`), nil); code != http.StatusForbidden {
		t.Errorf("POST /v1/uploads without a key: %d %s", code, raw)
	}
	data := encodeJPEG(t, colourful(120, 80))
	up := a.createUpload("photo.jpg", "image/jpeg", len(data))
	if !strings.HasPrefix(up.Upload.URL, st.EdgeURL()+"/") {
		t.Fatalf("the presign binary signed %s, want the edge %s", up.Upload.URL, st.EdgeURL())
	}
	if code, body := put(t, up.Upload.URL, up.Upload.Headers, data); code != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: %d %s", code, body)
	}
	if v := a.waitStatus(up.ImageID); v.Status != "done" || v.Outputs["gray"].Width != 120 {
		t.Fatalf("status %+v", v)
	}

	req, _ := http.NewRequest(http.MethodPost, st.APIURL()+"/v1/images/upload", bytes.NewReader(data))
	req.Header.Set("x-api-key", st.APIKey())
	req.Header.Set("Content-Type", "image/jpeg")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var raw api.UploadResponse
	err = jsonDecode(resp, &raw)
	if resp.StatusCode != http.StatusAccepted || err != nil {
		t.Fatalf("raw upload: %d %v", resp.StatusCode, err)
	}
	if v := a.waitStatus(raw.ImageID); v.Status != "done" {
		t.Fatalf("raw upload status %+v", v)
	}

	seen := map[string]bool{}
	for _, line := range strings.Split(logs.String(), "\n") {
		_, fn, ok := strings.Cut(line, " function=")
		if !ok {
			continue
		}
		fn, _, _ = strings.Cut(fn, " ")
		switch {
		case strings.Contains(line, `msg="REPORT RequestId: `):
			seen[fn+" report"] = true
		case strings.Contains(line, `msg="image processed"`):
			seen[fn+" log"] = true
		}
	}
	for _, want := range []string{"presign report", "process report", "notify report", "process log"} {
		if !seen[want] {
			t.Errorf("the stack's log has no %s line (an emulator REPORT, or the binary's own line): saw %v", want, seen)
		}
	}
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestLambdaBinariesAnswerAnotherOrigin: behind the emulated API Gateway
// the presign binary answers a page on another origin as the in-process
// stack does (keyless preflights, gateway responses with the CORS headers).
func TestLambdaBinariesAnswerAnotherOrigin(t *testing.T) {
	dir := rietest.Binaries(t)
	st := localtest.Start(t, func(c *local.Config) {
		c.Paused = true
		c.CORSOrigins = []string{anotherOrigin}
		c.LambdaBinaries = dir
	})
	checkAnotherOrigin(t, st)
}
