package presign

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/imaging"
)

// contentTypes is the allow-list of upload types and the key extension of each.
var contentTypes = map[string]string{
	"image/jpeg": "jpg",
	"image/png":  "png",
	"image/gif":  "gif",
	"image/webp": "webp",
	"image/tiff": "tiff",
	"image/bmp":  "bmp",
}

// s3API is the part of the S3 client the handler uses.
type s3API interface {
	status.S3API
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Handler serves the API.
type Handler struct {
	cfg       Config
	client    s3API
	presigner *s3.PresignClient
	creds     aws.CredentialsProvider
	statuses  status.Store
	handler   http.Handler
	cors      corsPolicy
	log       *slog.Logger
	now       func() time.Time
}

// New returns the API handler. client is used for the status records and
// raw uploads, and to presign URLs (its endpoint is what the URLs point at).
func New(cfg Config, client *s3.Client, logger *slog.Logger) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("presign config: %w", err)
	}
	if client == nil {
		return nil, errors.New("presign: nil S3 client")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	creds := client.Options().Credentials
	if creds == nil {
		return nil, errors.New("presign: the S3 client has no credentials to sign URLs with")
	}
	h := &Handler{
		cfg:       cfg,
		client:    client,
		presigner: s3.NewPresignClient(client),
		creds:     creds,
		statuses:  status.Store{Client: client, Bucket: cfg.ProcessedBucket},
		cors:      newCORSPolicy(cfg.CORSAllowedOrigins),
		log:       logger,
		now:       time.Now,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/uploads", h.createUpload)
	mux.HandleFunc("GET /v1/images/{id}", h.getImage)
	mux.HandleFunc("POST /v1/images/upload", h.rawUpload)
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path)
	})
	h.handler = h.cors.wrap(mux)
	return h, nil
}

// ServeHTTP serves the /v1 routes, and the CORS preflights of other origins.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// UploadRequest is the body of POST /v1/uploads.
type UploadRequest struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// Upload tells the client how to send the bytes.
type Upload struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// UploadResponse answers POST /v1/uploads (and, without Upload, POST
// /v1/images/upload).
type UploadResponse struct {
	ImageID   string  `json:"image_id"`
	Key       string  `json:"key"`
	Upload    *Upload `json:"upload,omitempty"`
	StatusURL string  `json:"status_url"`
}

func (h *Handler) createUpload(w http.ResponseWriter, r *http.Request) {
	var req UploadRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be a JSON object like {\"filename\":\"cat.jpg\",\"content_type\":\"image/jpeg\",\"size\":123456}: "+err.Error())
		return
	}
	ctype, ok := normalizeType(req.ContentType)
	if !ok {
		writeError(w, http.StatusBadRequest, "unsupported_content_type", fmt.Sprintf("content_type %q is not accepted; use one of %s", req.ContentType, allowedList()))
		return
	}
	if req.Size < 1 {
		writeError(w, http.StatusBadRequest, "invalid_size", fmt.Sprintf("size must be the file's size in bytes, at least 1; got %d", req.Size))
		return
	}
	if req.Size > h.cfg.MaxUploadBytes {
		writeError(w, http.StatusBadRequest, "too_large", fmt.Sprintf("size %d bytes is over the maximum upload of %d bytes (%s)", req.Size, h.cfg.MaxUploadBytes, humanBytes(h.cfg.MaxUploadBytes)))
		return
	}
	id := newImageID()
	key := "uploads/" + id + "." + contentTypes[ctype]
	sign, expires, err := h.signer(r.Context(), h.cfg.URLTTL)
	if err != nil {
		h.internal(w, "presign upload", err)
		return
	}
	ps, err := h.presigner.PresignPutObject(r.Context(), &s3.PutObjectInput{
		Bucket:        aws.String(h.cfg.UploadsBucket),
		Key:           aws.String(key),
		ContentType:   aws.String(ctype),
		ContentLength: aws.Int64(req.Size),
	}, sign)
	if err != nil {
		h.internal(w, "presign upload", err)
		return
	}
	now := h.now().UTC()
	rec := &status.Record{ImageID: id, Status: status.Pending, Key: key, Filename: cleanFilename(req.Filename), ContentType: ctype, Size: req.Size,
		UploadExpiresAt: expires, CreatedAt: now, UpdatedAt: now}
	if err := h.statuses.Put(r.Context(), rec); err != nil {
		h.internal(w, "write pending status", err)
		return
	}
	writeJSON(w, http.StatusCreated, UploadResponse{
		ImageID: id,
		Key:     key,
		Upload: &Upload{
			Method:    http.MethodPut,
			URL:       ps.URL,
			Headers:   map[string]string{"Content-Type": ctype},
			ExpiresAt: expires,
		},
		StatusURL: "/v1/images/" + id,
	})
}

// OutputView is one output in GET /v1/images/{id}.
type OutputView struct {
	// URL is a presigned GET URL whose answer is an attachment named after
	// the upload ("cat.gray.jpg"), valid until ExpiresAt.
	URL         string    `json:"url"`
	ExpiresAt   time.Time `json:"expires_at"`
	Key         string    `json:"key"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	Bytes       int64     `json:"bytes"`
	ContentType string    `json:"content_type"`
}

// ImageView answers GET /v1/images/{id}.
type ImageView struct {
	ImageID     string `json:"image_id"`
	Status      string `json:"status"`
	Key         string `json:"key,omitempty"`
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size,omitempty"`
	// UploadExpiresAt is when the upload URL of a pending image expires.
	UploadExpiresAt time.Time             `json:"upload_expires_at,omitzero"`
	CreatedAt       time.Time             `json:"created_at"`
	UpdatedAt       time.Time             `json:"updated_at"`
	DurationMS      int64                 `json:"duration_ms,omitempty"`
	Error           *ErrorBody            `json:"error,omitempty"`
	Warnings        []string              `json:"warnings,omitempty"`
	Outputs         map[string]OutputView `json:"outputs,omitempty"`
}

func (h *Handler) getImage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !status.ValidID(id) {
		writeError(w, http.StatusBadRequest, "invalid_image_id", fmt.Sprintf("%q is not an image id (32 lowercase hex digits)", id))
		return
	}
	rec, err := h.statuses.Get(r.Context(), id)
	if errors.Is(err, status.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no image with id "+id)
		return
	}
	if err != nil {
		h.internal(w, "read status", err)
		return
	}
	view := ImageView{
		ImageID: rec.ImageID, Status: rec.Status, Key: rec.Key, Filename: rec.Filename, ContentType: rec.ContentType, Size: rec.Size,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, DurationMS: rec.DurationMS, Warnings: rec.Warnings,
	}
	if rec.Error != nil {
		view.Error = &ErrorBody{Code: rec.Error.Code, Message: rec.Error.Message}
	}
	if err := h.expiry(r.Context(), rec, &view); err != nil {
		// Storage could not say whether the upload arrived: it is still
		// pending as far as anyone knows.
		h.log.Warn("could not tell whether an overdue upload arrived", "image_id", id, "key", rec.Key, "err", err)
	}
	if len(rec.Outputs) > 0 {
		sign, expires, err := h.signer(r.Context(), h.cfg.DownloadURLTTL)
		if err != nil {
			h.internal(w, "presign output", err)
			return
		}
		view.Outputs = make(map[string]OutputView, len(rec.Outputs))
		for _, o := range rec.Outputs {
			ps, err := h.presigner.PresignGetObject(r.Context(), &s3.GetObjectInput{
				Bucket: aws.String(o.Bucket), Key: aws.String(o.Key),
				ResponseContentDisposition: aws.String(attachment(rec, o)),
			}, sign)
			if err != nil {
				h.internal(w, "presign output", err)
				return
			}
			view.Outputs[o.Name] = OutputView{URL: ps.URL, ExpiresAt: expires, Key: o.Key, Width: o.Width, Height: o.Height, Bytes: o.Bytes, ContentType: o.ContentType}
		}
	}
	writeJSON(w, http.StatusOK, view)
}

func (h *Handler) rawUpload(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > h.cfg.RawUploadMaxBytes {
		h.rawTooLarge(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.RawUploadMaxBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "could not read the body: "+err.Error())
		return
	}
	if int64(len(body)) > h.cfg.RawUploadMaxBytes {
		h.rawTooLarge(w)
		return
	}
	if len(body) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_size", "the body is empty: send the image bytes, e.g. curl --data-binary @cat.jpg")
		return
	}
	_, ctype := imaging.Sniff(body)
	ext, ok := contentTypes[ctype]
	if !ok {
		writeError(w, http.StatusBadRequest, "not_an_image", fmt.Sprintf("the body is not an image of an accepted type (%s)", allowedList()))
		return
	}
	id := newImageID()
	key := "uploads/" + id + "." + ext
	now := h.now().UTC()
	// The bytes are here: the upload is due now (plus the grace), so a
	// record whose PutObject below failed ends as expired, not pending.
	rec := &status.Record{ImageID: id, Status: status.Pending, Key: key, ContentType: ctype, Size: int64(len(body)),
		UploadExpiresAt: now.Truncate(time.Second), CreatedAt: now, UpdatedAt: now}
	if err := h.statuses.Put(r.Context(), rec); err != nil {
		h.internal(w, "write pending status", err)
		return
	}
	_, err = h.client.PutObject(r.Context(), &s3.PutObjectInput{
		Bucket:        aws.String(h.cfg.UploadsBucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(ctype),
	})
	if err != nil {
		h.internal(w, "store upload", err)
		return
	}
	writeJSON(w, http.StatusAccepted, UploadResponse{ImageID: id, Key: key, StatusURL: "/v1/images/" + id})
}

func (h *Handler) rawTooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("POST /v1/images/upload takes bodies up to %s; for larger files ask POST /v1/uploads for a presigned URL and PUT the file there", humanBytes(h.cfg.RawUploadMaxBytes)))
}

func (h *Handler) internal(w http.ResponseWriter, what string, err error) {
	h.log.Error("api error", "op", what, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "the server could not "+what+"; try again")
}

// ErrorBody is the error object of every error answer.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, struct {
		Error ErrorBody `json:"error"`
	}{ErrorBody{Code: errCode, Message: msg}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func normalizeType(ct string) (string, bool) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false
	}
	if mt == "image/jpg" || mt == "image/pjpeg" {
		mt = "image/jpeg"
	}
	_, ok := contentTypes[mt]
	return mt, ok
}

func allowedList() string {
	return "image/jpeg, image/png, image/gif, image/webp, image/tiff, image/bmp"
}

func newImageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func cleanFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" {
		return ""
	}
	if len(name) > 255 {
		name = name[:255]
	}
	return name
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
