package eventbus

import "strings"

// Completion events, put on the imagepipe bus by the process function.
const (
	SourceProcess       = "imagepipe.process"
	DetailTypeProcessed = "Image Processed"
	DetailTypeFailed    = "Image Processing Failed"
	// DefaultBusName is the custom bus that carries completion events.
	DefaultBusName = "imagepipe"
)

// ImageDetail is the detail of "Image Processed" and "Image Processing
// Failed" (DESIGN.md §4).
type ImageDetail struct {
	ImageID string `json:"image_id"`
	// CompletionID names the source version the event completes:
	// CompletionID(ImageID, Source.ETag). Every completion event of one
	// version carries the same id, so a consumer applies it once however
	// many times it is delivered.
	CompletionID string      `json:"completion_id"`
	Source       ImageSource `json:"source"`
	Outputs      []Output    `json:"outputs,omitempty"`
	DurationMS   int64       `json:"duration_ms"`
	Attempt      int         `json:"attempt"`
	Error        *ImageError `json:"error,omitempty"`
	Warnings     []string    `json:"warnings,omitempty"`
	// ReplayName is the replay-name of the upload event this completion
	// answers: set when an archive replay caused the work.
	ReplayName string `json:"replay_name,omitempty"`
}

// CompletionID is the completion id of a source version: the image id and
// the source object's ETag (without quotes), joined by ":".
func CompletionID(imageID, etag string) string {
	return imageID + ":" + strings.Trim(etag, `"`)
}

// ID returns d.CompletionID, or derives it for an event made before the
// field existed.
func (d ImageDetail) ID() string {
	if d.CompletionID != "" {
		return d.CompletionID
	}
	return CompletionID(d.ImageID, d.Source.ETag)
}

// ImageSource is the uploaded object an event is about.
type ImageSource struct {
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	ETag        string `json:"etag,omitempty"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type,omitempty"`
	Format      string `json:"format,omitempty"`
}

// Output is one object the worker wrote.
type Output struct {
	Name        string `json:"name"`
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Bytes       int64  `json:"bytes"`
	// Path says how the output was made: "dct" from a JPEG's coefficients
	// without decoding pixels, "pixels" otherwise.
	Path string `json:"path,omitempty"`
}

// ImageError says why an image failed. Code is one of the imaging or
// process error codes: not_an_image, unsupported_format, corrupt_image,
// too_many_pixels, too_large, too_complex (imaging's), source_missing,
// invalid_event, retries_exhausted (the worker's).
type ImageError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// Error makes an ImageError usable as an error value.
func (e *ImageError) Error() string { return e.Code + ": " + e.Message }
