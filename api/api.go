package api

import "time"

// HeaderAPIKey is the header that carries the API key (API Gateway's).
const HeaderAPIKey = "x-api-key"

// The routes, relative to the API's base URL (the stage URL on AWS).
const (
	PathUploads   = "/v1/uploads"
	PathImages    = "/v1/images"
	PathRawUpload = "/v1/images/upload"
)

// ImagePath is the route of one image's status.
func ImagePath(id string) string { return PathImages + "/" + id }

// The states of an image (DESIGN.md §3).
const (
	// StatusPending: an upload URL was handed out; the worker has not
	// started.
	StatusPending = "pending"
	// StatusProcessing: the worker has the image.
	StatusProcessing = "processing"
	// StatusDone: the outputs are there.
	StatusDone = "done"
	// StatusFailed: refused or given up; Error.Code says why.
	StatusFailed = "failed"
	// StatusExpired: pending, and no upload arrived before the upload URL
	// expired plus a grace period. Computed when read, never stored.
	StatusExpired = "expired"
)

// Statuses lists the states in the order an image moves through them.
var Statuses = []string{StatusPending, StatusProcessing, StatusDone, StatusFailed, StatusExpired}

// Finished reports whether an image in state status will not change any
// more by itself: done, failed or expired.
func Finished(status string) bool {
	return status == StatusDone || status == StatusFailed || status == StatusExpired
}

// Limits of the sizes an upload may declare.
const (
	// DefaultMaxUploadBytes is the API's default bound on a presigned PUT
	// (MAX_UPLOAD_BYTES, Terraform's max_upload_bytes).
	DefaultMaxUploadBytes = 25 << 20
	// HardMaxUploadBytes is the largest upload imagepipe accepts at all: a
	// single presigned PUT, no multipart.
	HardMaxUploadBytes = 100 << 20
)

// ContentTypes are the upload types the API accepts, with the extension of
// the upload's key.
var ContentTypes = map[string]string{
	"image/jpeg": "jpg",
	"image/png":  "png",
	"image/gif":  "gif",
	"image/webp": "webp",
	"image/tiff": "tiff",
	"image/bmp":  "bmp",
}

// UploadRequest is the body of POST /v1/uploads.
type UploadRequest struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	// ContentMD5 is the hex MD5 of the bytes, optional. When given it is
	// signed into the upload URL (S3 refuses other bytes, Content-MD5 in
	// Upload.Headers) and GET /v1/images?content_md5= finds the image by it.
	ContentMD5 string `json:"content_md5,omitempty"`
}

// Upload tells the client how to send the bytes: exactly this method, URL
// and these headers.
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

// OutputView is one output of an image.
type OutputView struct {
	// URL is a presigned GET URL whose answer is an attachment named after
	// the upload ("cat.gray.jpg"), valid until ExpiresAt. A listing
	// (GET /v1/images) leaves both out: ask the image for them.
	URL         string    `json:"url,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Key         string    `json:"key"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	Bytes       int64     `json:"bytes"`
	ContentType string    `json:"content_type"`
}

// ImageView answers GET /v1/images/{id}, and is one item of a listing.
type ImageView struct {
	ImageID     string `json:"image_id"`
	Status      string `json:"status"`
	Key         string `json:"key,omitempty"`
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size,omitempty"`
	// ContentMD5 is the hex MD5 of the upload's bytes, when known (the
	// client declared it, or the upload's ETag says it).
	ContentMD5 string `json:"content_md5,omitempty"`
	// UploadExpiresAt is when the upload URL of a pending image expires.
	UploadExpiresAt time.Time             `json:"upload_expires_at,omitzero"`
	CreatedAt       time.Time             `json:"created_at"`
	UpdatedAt       time.Time             `json:"updated_at"`
	DurationMS      int64                 `json:"duration_ms,omitempty"`
	Error           *ErrorBody            `json:"error,omitempty"`
	Warnings        []string              `json:"warnings,omitempty"`
	Outputs         map[string]OutputView `json:"outputs,omitempty"`
}

// ImageList answers GET /v1/images: images in the order of their ids,
// which is the order they were created in for the ids the API hands out.
// NextCursor, when not empty, is passed as cursor= to read on; a page may
// hold fewer than limit images (even none) and still have a next one,
// when a status filter skipped many.
type ImageList struct {
	Images     []ImageView `json:"images"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// The query parameters of GET /v1/images.
const (
	// QuerySince: RFC 3339; images created at or after it.
	QuerySince = "since"
	// QueryLimit: the most images in one answer, 1 to MaxListLimit.
	QueryLimit = "limit"
	// QueryStatus: comma-separated states to keep.
	QueryStatus = "status"
	// QueryCursor: the next_cursor of the previous page.
	QueryCursor = "cursor"
	// QueryContentMD5: hex MD5 of the bytes; the images uploaded with it.
	QueryContentMD5 = "content_md5"
)

// Bounds of limit= in GET /v1/images.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// ErrorBody is the error object of every error answer.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorResponse is the body of every error answer but API Gateway's own
// 403 for a missing or wrong key ({"message":"Forbidden"}).
type ErrorResponse struct {
	Error *ErrorBody `json:"error"`
}
