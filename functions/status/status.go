// Package status is the per-image status record that the presign function
// writes as "pending", the worker moves to "processing" when it starts on
// the image, the notify function completes from the completion events, and
// GET /v1/images/{id} reads. It is a JSON object at
// processed/status/<image_id>.json in the processed bucket. A record only
// moves forward (Record.Accepts), updates are compare-and-swap on the
// object's ETag (S3 conditional writes:
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html),
// and "expired" is never stored: it is what a pending record whose upload
// never arrived reads as (Record.StatusAt).
package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imagepipe/imagepipe/eventbus"
)

// The states of an image (DESIGN.md §3).
const (
	// Pending: an upload URL was handed out; the bytes have not been seen.
	Pending = "pending"
	// Processing: the worker has the image.
	Processing = "processing"
	// Done: the outputs are there.
	Done = "done"
	// Failed: the image was refused or could not be processed.
	Failed = "failed"
	// Expired: pending, and no upload arrived before the upload URL expired
	// plus a grace period. Computed on read, never stored.
	Expired = "expired"
)

// CodeUploadExpired is the error code of an expired image.
const CodeUploadExpired = "upload_expired"

// Record is the stored status of one image.
type Record struct {
	ImageID     string `json:"image_id"`
	Status      string `json:"status"`
	Key         string `json:"key,omitempty"`
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size,omitempty"`
	// ContentMD5 is the hex MD5 of the bytes the client declared (and S3
	// checked) for the upload; empty when it declared none.
	ContentMD5 string `json:"content_md5,omitempty"`
	// UploadExpiresAt is when the upload URL handed out with a pending
	// record stops working; zero when unknown.
	UploadExpiresAt time.Time            `json:"upload_expires_at,omitzero"`
	CreatedAt       time.Time            `json:"created_at"`
	UpdatedAt       time.Time            `json:"updated_at"`
	SourceETag      string               `json:"source_etag,omitempty"`
	Outputs         []eventbus.Output    `json:"outputs,omitempty"`
	DurationMS      int64                `json:"duration_ms,omitempty"`
	Error           *eventbus.ImageError `json:"error,omitempty"`
	Warnings        []string             `json:"warnings,omitempty"`
	// CompletionID is the completion_id of the completion event applied
	// last (eventbus.ImageDetail.CompletionID).
	CompletionID string `json:"completion_id,omitempty"`
	// History lists the completions applied, oldest first (at most
	// MaxHistory): one entry per transition to done or failed.
	History []Transition `json:"history,omitempty"`
}

// Transition is one completion applied to a record.
type Transition struct {
	Status       string    `json:"status"`
	CompletionID string    `json:"completion_id"`
	ErrorCode    string    `json:"error_code,omitempty"`
	At           time.Time `json:"at"`
}

// MaxHistory bounds Record.History.
const MaxHistory = 20

// AddTransition appends a transition to the history, dropping the oldest
// beyond MaxHistory.
func (r *Record) AddTransition(tr Transition) {
	r.History = append(r.History, tr)
	if n := len(r.History); n > MaxHistory {
		r.History = append([]Transition(nil), r.History[n-MaxHistory:]...)
	}
}

// ErrNotFound is returned by Get when an image has no status record.
var ErrNotFound = errors.New("image not found")

// ValidID reports whether id has the form of an image id (32 lowercase hex
// digits), so that a malformed id is told apart from an unknown one.
func ValidID(id string) bool { return lowerHex32(id) }

// lowerHex32 reports whether s is 32 lowercase hex digits: an image id, or
// an MD5 as S3 writes it in an ETag.
func lowerHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Key is the object key of an image's status record.
func Key(imageID string) string { return Prefix + imageID + ".json" }

// S3API is the part of the S3 client the store uses.
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Store reads and writes status records in a bucket.
type Store struct {
	Client S3API
	Bucket string
}

// Get reads the record of imageID; ErrNotFound when there is none.
func (s Store) Get(ctx context.Context, imageID string) (*Record, error) {
	r, _, err := s.get(ctx, imageID)
	return r, err
}

// get reads the record and the ETag of its object, for a conditional
// write after it.
func (s Store) get(ctx context.Context, imageID string) (*Record, string, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(Key(imageID))})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, "", ErrNotFound
		}
		return nil, "", fmt.Errorf("get status %s/%s: %w", s.Bucket, Key(imageID), err)
	}
	defer out.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	if err != nil {
		return nil, "", fmt.Errorf("read status %s/%s: %w", s.Bucket, Key(imageID), err)
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, "", fmt.Errorf("decode status %s/%s: %w", s.Bucket, Key(imageID), err)
	}
	return &r, aws.ToString(out.ETag), nil
}

// Put writes the record.
func (s Store) Put(ctx context.Context, r *Record) error {
	return s.put(ctx, r, nil)
}

// put writes the record; cond, when set, makes the write conditional.
func (s Store) put(ctx context.Context, r *Record, cond func(*s3.PutObjectInput)) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode status of %s: %w", r.ImageID, err)
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.Bucket),
		Key:           aws.String(Key(r.ImageID)),
		Body:          bytes.NewReader(raw),
		ContentLength: aws.Int64(int64(len(raw))),
		ContentType:   aws.String("application/json"),
	}
	if cond != nil {
		cond(in)
	}
	if _, err := s.Client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put status %s/%s: %w", s.Bucket, Key(r.ImageID), err)
	}
	return nil
}
