package presign

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
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

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/imaging"
)

// s3API is the part of the S3 client the handler uses.
type s3API interface {
	status.S3API
	status.ListAPI
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
	mux.HandleFunc("GET /v1/images", h.listImages)
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

func (h *Handler) createUpload(w http.ResponseWriter, r *http.Request) {
	var req api.UploadRequest
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
	md5hex := strings.ToLower(strings.TrimSpace(req.ContentMD5))
	var md5b64 string
	if md5hex != "" {
		raw, err := hex.DecodeString(md5hex)
		if err != nil || len(raw) != md5.Size {
			writeError(w, http.StatusBadRequest, "invalid_content_md5", fmt.Sprintf("content_md5 must be the MD5 of the bytes as 32 hex digits; got %q", req.ContentMD5))
			return
		}
		md5b64 = base64.StdEncoding.EncodeToString(raw)
	}
	id := status.NewID()
	key := "uploads/" + id + "." + api.ContentTypes[ctype]
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
		ContentMD5:    nonEmpty(md5b64),
	}, sign)
	if err != nil {
		h.internal(w, "presign upload", err)
		return
	}
	now := h.now().UTC()
	rec := &status.Record{ImageID: id, Status: status.Pending, Key: key, Filename: cleanFilename(req.Filename), ContentType: ctype, Size: req.Size,
		ContentMD5: md5hex, UploadExpiresAt: expires, CreatedAt: now, UpdatedAt: now}
	if err := h.statuses.Put(r.Context(), rec); err != nil {
		h.internal(w, "write pending status", err)
		return
	}
	headers := map[string]string{"Content-Type": ctype}
	if md5hex != "" {
		headers["Content-MD5"] = md5b64
		if err := h.statuses.PutContent(r.Context(), md5hex, id); err != nil {
			// Only GET /v1/images?content_md5= misses it: the upload works.
			h.log.Warn("could not index the upload by its MD5", "image_id", id, "err", err)
		}
	}
	writeJSON(w, http.StatusCreated, api.UploadResponse{
		ImageID: id,
		Key:     key,
		Upload: &api.Upload{
			Method:    http.MethodPut,
			URL:       ps.URL,
			Headers:   headers,
			ExpiresAt: expires,
		},
		StatusURL: api.ImagePath(id),
	})
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
	view := h.view(r.Context(), rec)
	if len(rec.Outputs) > 0 {
		sign, expires, err := h.signer(r.Context(), h.cfg.DownloadURLTTL)
		if err != nil {
			h.internal(w, "presign output", err)
			return
		}
		for _, o := range rec.Outputs {
			ps, err := h.presigner.PresignGetObject(r.Context(), &s3.GetObjectInput{
				Bucket: aws.String(o.Bucket), Key: aws.String(o.Key),
				ResponseContentDisposition: aws.String(attachment(rec, o)),
			}, sign)
			if err != nil {
				h.internal(w, "presign output", err)
				return
			}
			ov := view.Outputs[o.Name]
			ov.URL, ov.ExpiresAt = ps.URL, expires
			view.Outputs[o.Name] = ov
		}
	}
	writeJSON(w, http.StatusOK, view)
}

// view is what the API says of a record, without the outputs' URLs.
func (h *Handler) view(ctx context.Context, rec *status.Record) api.ImageView {
	v := api.ImageView{
		ImageID: rec.ImageID, Status: rec.Status, Key: rec.Key, Filename: rec.Filename, ContentType: rec.ContentType, Size: rec.Size,
		ContentMD5: rec.ContentMD5, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, DurationMS: rec.DurationMS, Warnings: rec.Warnings,
	}
	if etag := strings.Trim(rec.SourceETag, `"`); v.ContentMD5 == "" && status.ValidMD5(etag) {
		v.ContentMD5 = etag // a single PUT's ETag is the MD5 of its bytes
	}
	if rec.Error != nil {
		v.Error = &api.ErrorBody{Code: rec.Error.Code, Message: rec.Error.Message}
	}
	if err := h.expiry(ctx, rec, &v); err != nil {
		// Storage could not say whether the upload arrived: it is still
		// pending as far as anyone knows.
		h.log.Warn("could not tell whether an overdue upload arrived", "image_id", rec.ImageID, "key", rec.Key, "err", err)
	}
	if len(rec.Outputs) > 0 {
		v.Outputs = make(map[string]api.OutputView, len(rec.Outputs))
		for _, o := range rec.Outputs {
			v.Outputs[o.Name] = api.OutputView{Key: o.Key, Width: o.Width, Height: o.Height, Bytes: o.Bytes, ContentType: o.ContentType}
		}
	}
	return v
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
	ext, ok := api.ContentTypes[ctype]
	if !ok {
		writeError(w, http.StatusBadRequest, "not_an_image", fmt.Sprintf("the body is not an image of an accepted type (%s)", allowedList()))
		return
	}
	id := status.NewID()
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
	writeJSON(w, http.StatusAccepted, api.UploadResponse{ImageID: id, Key: key, StatusURL: api.ImagePath(id)})
}

func (h *Handler) rawTooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("POST /v1/images/upload takes bodies up to %d bytes (%s); for larger files ask POST /v1/uploads for a presigned URL and PUT the file there", h.cfg.RawUploadMaxBytes, humanBytes(h.cfg.RawUploadMaxBytes)))
}

func (h *Handler) internal(w http.ResponseWriter, what string, err error) {
	h.log.Error("api error", "op", what, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "the server could not "+what+"; try again")
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, struct {
		Error api.ErrorBody `json:"error"`
	}{api.ErrorBody{Code: errCode, Message: msg}})
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
	_, ok := api.ContentTypes[mt]
	return mt, ok
}

func allowedList() string {
	return "image/jpeg, image/png, image/gif, image/webp, image/tiff, image/bmp"
}

// nonEmpty is nil for "", for optional SDK fields.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
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

// humanBytes is a size in SI units, as the page and the CLI show sizes
// (1 MB = 1000 kB = 1000000 bytes).
func humanBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d bytes", n)
	}
	v, unit := float64(n)/1000, "kB"
	for _, u := range []string{"MB", "GB"} {
		if v < 1000 {
			break
		}
		v, unit = v/1000, u
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") + " " + unit
}
