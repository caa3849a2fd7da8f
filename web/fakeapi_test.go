package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/imagepipe/imagepipe/web"
)

// fakeAPI is an HTTP-level stand-in for imagepipe's API and its S3 edge,
// speaking DESIGN.md §3 on two origins the way the local stack does: the
// page and /v1 on one, presigned PUT/GET with CORS on the other. Processing
// happens when the PUT arrives; the first status read still says pending so
// that the page's polling is exercised.
//
// Files whose names start with "expired" get an upload link that storage
// refuses as expired; "huge" files are refused as too large.
type fakeAPI struct {
	key  string
	api  *httptest.Server
	edge *httptest.Server

	mu     sync.Mutex
	next   int
	images map[string]*fakeImage
}

type fakeImage struct {
	contentType string
	size        int64
	expired     bool
	uploaded    bool
	polled      int
	errCode     string
	gray, thumb []byte
	grayBounds  image.Rectangle
	thumbBounds image.Rectangle
}

var allowedFakeTypes = map[string]string{
	"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif",
	"image/webp": "webp", "image/tiff": "tiff", "image/bmp": "bmp",
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{key: "fake-key-0123456789", images: map[string]*fakeImage{}}

	edge := http.NewServeMux()
	edge.HandleFunc("PUT /imagepipe-uploads/uploads/{file}", f.put)
	edge.HandleFunc("GET /imagepipe-processed/processed/{id}/{name}", f.get)
	f.edge = httptest.NewServer(f.cors(edge))
	t.Cleanup(f.edge.Close)

	api := http.NewServeMux()
	api.Handle("/", web.HandlerWithConfig(web.Config{}))
	api.HandleFunc("POST /v1/uploads", f.keyed(f.createUpload))
	api.HandleFunc("GET /v1/images/{id}", f.keyed(f.status))
	f.api = httptest.NewServer(api)
	t.Cleanup(f.api.Close)
	return f
}

func (f *fakeAPI) keyed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-api-key") != f.key {
			writeJSON(w, http.StatusForbidden, map[string]string{"message": "Forbidden"})
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (f *fakeAPI) createUpload(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Filename    string `json:"filename"`
		ContentType string `json:"content_type"`
		Size        int64  `json:"size"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return
	}
	ext, ok := allowedFakeTypes[req.ContentType]
	switch {
	case !ok:
		apiError(w, http.StatusBadRequest, "unsupported_content_type", "content_type "+req.ContentType+" is not allowed")
		return
	case req.Size < 1:
		apiError(w, http.StatusBadRequest, "invalid_size", "size must be at least 1")
		return
	case strings.HasPrefix(req.Filename, "huge"):
		apiError(w, http.StatusRequestEntityTooLarge, "too_large", "size exceeds the limit of 25 MiB")
		return
	}
	f.mu.Lock()
	f.next++
	id := fmt.Sprintf("img%04d", f.next)
	f.images[id] = &fakeImage{contentType: req.ContentType, size: req.Size, expired: strings.HasPrefix(req.Filename, "expired")}
	f.mu.Unlock()
	key := "uploads/" + id + "." + ext
	writeJSON(w, http.StatusCreated, map[string]any{
		"image_id": id,
		"key":      key,
		"upload": map[string]any{
			"method":     "PUT",
			"url":        f.edge.URL + "/imagepipe-uploads/" + key + "?X-Amz-Expires=300",
			"headers":    map[string]string{"Content-Type": req.ContentType},
			"expires_at": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339),
		},
		"status_url": "/v1/images/" + id,
	})
}

func (f *fakeAPI) status(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.images[id]
	if !ok {
		apiError(w, http.StatusNotFound, "not_found", "no image "+id)
		return
	}
	img.polled++
	body := map[string]any{"image_id": id, "status": "pending"}
	switch {
	case !img.uploaded || img.polled == 1:
	case img.errCode != "":
		body["status"] = "failed"
		body["error"] = map[string]string{"code": img.errCode, "message": "image: unknown format"}
	default:
		body["status"] = "done"
		out := func(name string, b []byte, rect image.Rectangle) map[string]any {
			return map[string]any{
				"url":   fmt.Sprintf("%s/imagepipe-processed/processed/%s/%s.jpg?X-Amz-Expires=900", f.edge.URL, id, name),
				"width": rect.Dx(), "height": rect.Dy(), "bytes": len(b), "content_type": "image/jpeg",
			}
		}
		body["outputs"] = map[string]any{
			"gray":  out("gray", img.gray, img.grayBounds),
			"thumb": out("thumb", img.thumb, img.thumbBounds),
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// cors answers like an S3 bucket whose CORS rules allow the page's origin.
func (f *fakeAPI) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && origin == f.api.URL {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "ETag")
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, PUT")
				h.Set("Access-Control-Allow-Headers", "content-type")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

func (f *fakeAPI) put(w http.ResponseWriter, r *http.Request) {
	id, _, _ := strings.Cut(r.PathValue("file"), ".")
	f.mu.Lock()
	img, ok := f.images[id]
	f.mu.Unlock()
	switch {
	case !ok:
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "no such upload")
		return
	case img.expired:
		s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	case r.Header.Get("Content-Type") != img.contentType || r.ContentLength != img.size:
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	gray, thumb, grayRect, thumbRect, errCode := fakeProcess(body)
	f.mu.Lock()
	img.uploaded = true
	img.errCode = errCode
	img.gray, img.thumb, img.grayBounds, img.thumbBounds = gray, thumb, grayRect, thumbRect
	f.mu.Unlock()
	w.Header().Set("ETag", strconv.Quote(fmt.Sprintf("%x", len(body))))
	w.WriteHeader(http.StatusOK)
}

func (f *fakeAPI) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	img, ok := f.images[r.PathValue("id")]
	var b []byte
	if ok {
		switch r.PathValue("name") {
		case "gray.jpg":
			b = img.gray
		case "thumb.jpg":
			b = img.thumb
		}
	}
	f.mu.Unlock()
	if b == nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	_, _ = w.Write(b)
}

// fakeProcess makes a luma image and a nearest-neighbour thumbnail; it
// stands in for the worker only so the page has something to show.
func fakeProcess(body []byte) (gray, thumb []byte, grayRect, thumbRect image.Rectangle, errCode string) {
	src, _, err := image.Decode(bytes.NewReader(body))
	if err != nil {
		return nil, nil, image.Rectangle{}, image.Rectangle{}, "not_an_image"
	}
	b := src.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			g.Set(x, y, color.GrayModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)))
		}
	}
	const side = 64
	tw, th := side, side*b.Dy()/b.Dx()
	tn := image.NewGray(image.Rect(0, 0, tw, th))
	for y := range th {
		for x := range tw {
			tn.SetGray(x, y, g.GrayAt(x*b.Dx()/tw, y*b.Dy()/th))
		}
	}
	var gb, tb bytes.Buffer
	if err := jpeg.Encode(&gb, g, nil); err != nil {
		return nil, nil, image.Rectangle{}, image.Rectangle{}, "internal"
	}
	if err := jpeg.Encode(&tb, tn, nil); err != nil {
		return nil, nil, image.Rectangle{}, image.Rectangle{}, "internal"
	}
	return gb.Bytes(), tb.Bytes(), g.Bounds(), tn.Bounds(), ""
}

// TestUploadPageFakeAPI runs the page's browser cases against the fake,
// plus the errors that the real stack cannot easily be made to produce.
func TestUploadPageFakeAPI(t *testing.T) {
	f := newFakeAPI(t)
	b := backend{pageURL: f.api.URL + "/", apiKey: f.key}
	browser := runPageCases(t, b)

	t.Run("expired link and too large file", func(t *testing.T) {
		dir := t.TempDir()
		expired := dir + "/expired-photo.jpg"
		huge := dir + "/huge-photo.jpg"
		writeColorJPEG(t, expired, 32, 24)
		writeColorJPEG(t, huge, 32, 24)
		tb := openPage(t, browser, b, b.apiKey)
		uploadAndWait(t, tb, expired, huge)
		cs := cards(t, tb)
		if len(cs) != 2 {
			t.Fatalf("cards = %+v", cs)
		}
		if !strings.Contains(cs[0].ErrorText, "upload link expired") {
			t.Errorf("expired link message = %q", cs[0].ErrorText)
		}
		if !strings.Contains(cs[1].ErrorText, "too large") || cs[1].ErrorCode != "too_large" {
			t.Errorf("too large message = %q (code %q)", cs[1].ErrorText, cs[1].ErrorCode)
		}
		saveScreenshot(t, tb, "upload-page-expired-too-large.png")
		tb.checkConsole(t, func(m chromedp.ConsoleMessage) bool {
			return m.Source == "network" && (strings.Contains(m.Text, "status of 403") || strings.Contains(m.Text, "status of 413"))
		})
	})
}
