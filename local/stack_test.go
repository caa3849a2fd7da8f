package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// apiCaller calls the stack's HTTP API.
type apiCaller struct {
	t    *testing.T
	base string
	key  string
}

func newAPI(t *testing.T, st *local.Stack) *apiCaller {
	return &apiCaller{t: t, base: st.APIURL(), key: st.APIKey()}
}

// do sends a request and decodes a JSON answer into out (if not nil); it
// returns the status and the raw body.
func (a *apiCaller) do(method, path, key string, body io.Reader, out any) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		a.t.Fatalf("%s %s: content type %q, want JSON; body %s", method, path, ct, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, raw
}

func (a *apiCaller) createUpload(filename, ctype string, size int) api.UploadResponse {
	a.t.Helper()
	var up api.UploadResponse
	body := fmt.Sprintf(`{"filename":%q,"content_type":%q,"size":%d}`, filename, ctype, size)
	code, raw := a.do(http.MethodPost, "/v1/uploads", a.key, strings.NewReader(body), &up)
	if code != http.StatusCreated || up.Upload == nil {
		a.t.Fatalf("POST /v1/uploads: %d %s", code, raw)
	}
	return up
}

// waitStatus polls GET /v1/images/{id} until the image is done or failed.
func (a *apiCaller) waitStatus(id string) api.ImageView {
	a.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		var v api.ImageView
		code, raw := a.do(http.MethodGet, "/v1/images/"+id, a.key, nil, &v)
		if code != http.StatusOK {
			a.t.Fatalf("GET /v1/images/%s: %d %s", id, code, raw)
		}
		if v.Status == "done" || v.Status == "failed" {
			return v
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("image %s still %s after 60 s", id, v.Status)
		}
		time.Sleep(delay) // polling interval of a condition with a deadline
	}
}

// put sends bytes to a presigned URL with plain net/http.
func put(t *testing.T, rawURL string, headers map[string]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func get(t *testing.T, rawURL string) []byte {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", rawURL, resp.StatusCode, raw)
	}
	return raw
}

// colourful returns an RGB image with every channel varying.
func colourful(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x*7 + y*13) % 256), 255})
		}
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// luma is ITU-R 601 luma as DESIGN.md §5 defines it.
func luma(c color.Color) int {
	r, g, b, _ := c.RGBA()
	return int((r>>8)*299+(g>>8)*587+(b>>8)*114) / 1000
}

func TestUploadToGrayEndToEnd(t *testing.T) {
	st := localtest.Start(t)
	a := newAPI(t, st)
	src := colourful(320, 200)
	data := encodePNG(t, src)

	up := a.createUpload("photo.png", "image/png", len(data))
	if !strings.HasPrefix(up.Key, "uploads/"+up.ImageID+".") || up.Upload.Method != http.MethodPut || up.StatusURL != "/v1/images/"+up.ImageID {
		t.Fatalf("upload answer: %+v", up)
	}
	if code, body := put(t, up.Upload.URL, up.Upload.Headers, data); code != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: %d %s", code, body)
	}
	v := a.waitStatus(up.ImageID)
	if v.Status != "done" {
		t.Fatalf("status %q, error %+v", v.Status, v.Error)
	}
	gray, ok := v.Outputs["gray"]
	if !ok || gray.Width != 320 || gray.Height != 200 || gray.ContentType != "image/png" {
		t.Fatalf("gray output: %+v", v.Outputs)
	}
	out, _, err := image.Decode(bytes.NewReader(get(t, gray.URL)))
	if err != nil {
		t.Fatal(err)
	}
	if out.Bounds() != src.Bounds() {
		t.Fatalf("gray bounds %v, want %v", out.Bounds(), src.Bounds())
	}
	for y := range 200 {
		for x := range 320 {
			want := luma(src.At(x, y))
			got, _, _, _ := out.At(x, y).RGBA()
			if d := int(got>>8) - want; d < -1 || d > 1 {
				t.Fatalf("pixel (%d,%d): gray %d, input luma %d", x, y, got>>8, want)
			}
		}
	}
	thumb, ok := v.Outputs["thumb"]
	if !ok || max(thumb.Width, thumb.Height) != 256 {
		t.Fatalf("thumb output: %+v", thumb)
	}
	tb, _, err := image.DecodeConfig(bytes.NewReader(get(t, thumb.URL)))
	if err != nil || tb.Width != thumb.Width || tb.Height != thumb.Height {
		t.Fatalf("thumbnail decodes as %+v, %v; status says %dx%d", tb, err, thumb.Width, thumb.Height)
	}
}

func TestJPEGUploadComesOutGrayJPEG(t *testing.T) {
	st := localtest.Start(t)
	a := newAPI(t, st)
	src := colourful(640, 480)
	data := encodeJPEG(t, src)
	up := a.createUpload("photo.jpg", "image/jpeg", len(data))
	if code, body := put(t, up.Upload.URL, up.Upload.Headers, data); code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, body)
	}
	v := a.waitStatus(up.ImageID)
	if v.Status != "done" || v.Outputs["gray"].ContentType != "image/jpeg" {
		t.Fatalf("status %+v", v)
	}
	out, err := jpeg.Decode(bytes.NewReader(get(t, v.Outputs["gray"].URL)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.(*image.Gray); !ok {
		t.Fatalf("gray JPEG decodes as %T, want a one-channel image", out)
	}
	// Lossy on both sides: compare means over 16x16 blocks.
	for by := 0; by < 480; by += 16 {
		for bx := 0; bx < 640; bx += 16 {
			var sumIn, sumOut int
			for y := by; y < by+16; y++ {
				for x := bx; x < bx+16; x++ {
					sumIn += luma(src.At(x, y))
					sumOut += int(out.(*image.Gray).GrayAt(x, y).Y)
				}
			}
			if d := (sumOut - sumIn) / 256; d < -4 || d > 4 {
				t.Fatalf("block (%d,%d): mean gray %d, input luma %d", bx, by, sumOut/256, sumIn/256)
			}
		}
	}
}

func TestBadRequestsAnswerJSONErrors(t *testing.T) {
	st := localtest.Start(t)
	a := newAPI(t, st)
	tests := []struct {
		name   string
		method string
		path   string
		key    string
		body   string
		status int
		code   string // error code, or "" for API Gateway's {"message":"Forbidden"}
	}{
		{"missing key", "POST", "/v1/uploads", "", `{"filename":"a.jpg","content_type":"image/jpeg","size":10}`, 403, ""},
		{"wrong key", "POST", "/v1/uploads", "nope", `{"filename":"a.jpg","content_type":"image/jpeg","size":10}`, 403, ""},
		{"wrong key on status", "GET", "/v1/images/0123456789abcdef0123456789abcdef", "nope", "", 403, ""},
		{"disallowed content type", "POST", "/v1/uploads", a.key, `{"filename":"a.svg","content_type":"image/svg+xml","size":10}`, 400, "unsupported_content_type"},
		{"size zero", "POST", "/v1/uploads", a.key, `{"filename":"a.jpg","content_type":"image/jpeg","size":0}`, 400, "invalid_size"},
		{"size over the maximum", "POST", "/v1/uploads", a.key, `{"filename":"a.jpg","content_type":"image/jpeg","size":26214401}`, 400, "too_large"},
		{"malformed JSON", "POST", "/v1/uploads", a.key, `{"filename":`, 400, "bad_request"},
		{"unknown image", "GET", "/v1/images/0123456789abcdef0123456789abcdef", a.key, "", 404, "not_found"},
		{"malformed image id", "GET", "/v1/images/..%2fetc", a.key, "", 400, "invalid_image_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			var got struct {
				Message string         `json:"message"`
				Error   *api.ErrorBody `json:"error"`
			}
			code, raw := a.do(tt.method, tt.path, tt.key, body, &got)
			if code != tt.status {
				t.Fatalf("status %d, want %d; body %s", code, tt.status, raw)
			}
			if tt.code == "" {
				if got.Message != "Forbidden" {
					t.Fatalf("body %s, want {\"message\":\"Forbidden\"}", raw)
				}
				return
			}
			if got.Error == nil || got.Error.Code != tt.code || got.Error.Message == "" {
				t.Fatalf("body %s, want error code %q with a message", raw, tt.code)
			}
		})
	}
}

func TestRefusedUploadsStoreNothingAndEmitNothing(t *testing.T) {
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	a := newAPI(t, st)
	data := encodePNG(t, colourful(16, 16))
	creds := st.Credentials()
	expired := func(t *testing.T, key string) string {
		// A URL signed with the right credentials ten minutes ago, valid
		// for one minute.
		u := st.EdgeURL() + "/" + local.UploadsBucket + "/" + key + "?X-Amz-Expires=60"
		req, _ := http.NewRequest(http.MethodPut, u, nil)
		req.Header.Set("Content-Type", "image/png")
		req.ContentLength = int64(len(data))
		signed, _, err := v4.NewSigner().PresignHTTP(context.Background(),
			aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
			req, "UNSIGNED-PAYLOAD", "s3", local.Region, time.Now().Add(-10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	tests := []struct {
		name    string
		url     func(t *testing.T, up api.UploadResponse) string
		headers map[string]string
		body    []byte
		code    string
	}{
		{"tampered signature", func(t *testing.T, up api.UploadResponse) string {
			u, _ := url.Parse(up.Upload.URL)
			q := u.Query()
			sig := []byte(q.Get("X-Amz-Signature"))
			sig[0] = "01"[boolInt(sig[0] == '0')]
			q.Set("X-Amz-Signature", string(sig))
			u.RawQuery = q.Encode()
			return u.String()
		}, map[string]string{"Content-Type": "image/png"}, data, "SignatureDoesNotMatch"},
		{"after expiry", func(t *testing.T, up api.UploadResponse) string { return expired(t, up.Key) },
			map[string]string{"Content-Type": "image/png"}, data, "AccessDenied"},
		{"another content type", func(t *testing.T, up api.UploadResponse) string { return up.Upload.URL },
			map[string]string{"Content-Type": "image/jpeg"}, data, "SignatureDoesNotMatch"},
		{"another length", func(t *testing.T, up api.UploadResponse) string { return up.Upload.URL },
			map[string]string{"Content-Type": "image/png"}, append(append([]byte{}, data...), 0), "SignatureDoesNotMatch"},
		{"anonymous", func(t *testing.T, up api.UploadResponse) string {
			return st.EdgeURL() + "/" + local.UploadsBucket + "/" + up.Key
		}, map[string]string{"Content-Type": "image/png"}, data, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := a.createUpload("a.png", "image/png", len(data))
			code, body := put(t, tt.url(t, up), tt.headers, tt.body)
			if code != http.StatusForbidden || !strings.Contains(body, "<Code>"+tt.code+"</Code>") {
				t.Fatalf("PUT: %d %s, want 403 with %s", code, body, tt.code)
			}
			_, err := st.S3Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(local.UploadsBucket), Key: aws.String(up.Key)})
			var nf *s3types.NotFound
			if !errors.As(err, &nf) {
				t.Fatalf("object after a refused PUT: %v", err)
			}
		})
	}
	stats, err := st.Queue(local.ProcessQueue).Stats(context.Background())
	if err != nil || stats.Visible+stats.InFlight != 0 {
		t.Fatalf("refused PUTs queued events: %+v %v", stats, err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestNotAnImageFailsWithAReason(t *testing.T) {
	st := localtest.Start(t)
	a := newAPI(t, st)
	data := []byte("this is a text file, not a JPEG\n")
	up := a.createUpload("notes.jpg", "image/jpeg", len(data))
	if code, body := put(t, up.Upload.URL, up.Upload.Headers, data); code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, body)
	}
	v := a.waitStatus(up.ImageID)
	if v.Status != "failed" || v.Error == nil || v.Error.Code != "not_an_image" || v.Error.Message == "" {
		t.Fatalf("status %+v, want failed with not_an_image", v)
	}
	if len(v.Outputs) != 0 {
		t.Fatalf("outputs for a failed image: %+v", v.Outputs)
	}
}

// uploadPaused uploads a 64x48 PNG to a paused stack on dir: its event
// waits in the process queue.
func uploadPaused(t *testing.T, dir string) (*local.Stack, api.UploadResponse) {
	t.Helper()
	paused := localtest.Start(t, func(c *local.Config) { c.DataDir = dir; c.Paused = true })
	a := newAPI(t, paused)
	data := encodePNG(t, colourful(64, 48))
	up := a.createUpload("a.png", "image/png", len(data))
	if code, body := put(t, up.Upload.URL, up.Upload.Headers, data); code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, body)
	}
	return paused, up
}

func TestQueuedUploadSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	paused, up := uploadPaused(t, dir)
	stats, err := paused.Queue(local.ProcessQueue).Stats(context.Background())
	if err != nil || stats.Visible != 1 {
		t.Fatalf("queued before the restart: %+v %v", stats, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := paused.Close(ctx); err != nil {
		t.Fatal(err)
	}

	again := localtest.Start(t, func(c *local.Config) { c.DataDir = dir })
	if again.APIKey() != paused.APIKey() || again.Credentials() != paused.Credentials() {
		t.Fatal("credentials changed across the restart")
	}
	v := newAPI(t, again).waitStatus(up.ImageID)
	if v.Status != "done" || v.Outputs["gray"].Width != 64 {
		t.Fatalf("after restart: %+v", v)
	}
}

func TestHealthz(t *testing.T) {
	st := localtest.Start(t)
	resp, err := http.Get(st.APIURL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status     string `json:"status"`
		QueueStore string `json:"queue_store"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || body.Status != "ok" || body.QueueStore != "ok" {
		t.Fatalf("healthz: %d %+v", resp.StatusCode, body)
	}
}

func TestAWSCLIAgainstTheEdge(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the aws CLI is required under CI")
		}
		t.Skip("the aws CLI is not installed")
	}
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	creds := st.Credentials()
	dir := t.TempDir()
	file := filepath.Join(dir, "a.png")
	if err := os.WriteFile(file, encodePNG(t, colourful(8, 8)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "config")
	os.WriteFile(cfgFile, nil, 0o600)
	run := func(secret string, args ...string) (string, error) {
		cmd := exec.Command(aws, append([]string{"--endpoint-url", st.EdgeURL()}, args...)...)
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env,
			"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_REGION="+local.Region,
			"AWS_CONFIG_FILE="+cfgFile, "AWS_SHARED_CREDENTIALS_FILE="+cfgFile)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(creds.SecretAccessKey, "s3", "cp", file, "s3://"+local.UploadsBucket+"/uploads/0123456789abcdef0123456789abcdef.png"); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
	out, err := run(creds.SecretAccessKey, "s3", "ls", "s3://"+local.UploadsBucket+"/uploads/")
	if err != nil || !strings.Contains(out, "0123456789abcdef0123456789abcdef.png") {
		t.Fatalf("aws s3 ls: %v\n%s", err, out)
	}
	if out, err := run("wrong-secret", "s3", "ls", "s3://"+local.UploadsBucket+"/"); err == nil || !strings.Contains(out, "SignatureDoesNotMatch") {
		t.Fatalf("a wrong secret was not refused: %v\n%s", err, out)
	}
	// The upload through the CLI is an S3 event like any other.
	stats, err := st.Queue(local.ProcessQueue).Stats(context.Background())
	if err != nil || stats.Visible != 1 {
		t.Fatalf("queued after aws s3 cp: %+v %v", stats, err)
	}
}
