// Package status is the per-image status record that the presign function
// writes as "pending", the notify function completes from the completion
// events, and GET /v1/images/{id} reads. It is a JSON object at
// processed/status/<image_id>.json in the processed bucket.
package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imagepipe/imagepipe/eventbus"
)

// The states of an image.
const (
	Pending = "pending"
	Done    = "done"
	Failed  = "failed"
)

// Record is the stored status of one image.
type Record struct {
	ImageID     string               `json:"image_id"`
	Status      string               `json:"status"`
	Key         string               `json:"key,omitempty"`
	Filename    string               `json:"filename,omitempty"`
	ContentType string               `json:"content_type,omitempty"`
	Size        int64                `json:"size,omitempty"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
	SourceETag  string               `json:"source_etag,omitempty"`
	Outputs     []eventbus.Output    `json:"outputs,omitempty"`
	DurationMS  int64                `json:"duration_ms,omitempty"`
	Error       *eventbus.ImageError `json:"error,omitempty"`
	Warnings    []string             `json:"warnings,omitempty"`
}

// ErrNotFound is returned by Get when an image has no status record.
var ErrNotFound = errors.New("image not found")

var idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidID reports whether id has the form of an image id (32 lowercase hex
// digits), so that a malformed id is told apart from an unknown one.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Key is the object key of an image's status record.
func Key(imageID string) string { return "processed/status/" + imageID + ".json" }

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
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(Key(imageID))})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("get status %s/%s: %w", s.Bucket, Key(imageID), err)
	}
	defer out.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read status %s/%s: %w", s.Bucket, Key(imageID), err)
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode status %s/%s: %w", s.Bucket, Key(imageID), err)
	}
	return &r, nil
}

// Put writes the record.
func (s Store) Put(ctx context.Context, r *Record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode status of %s: %w", r.ImageID, err)
	}
	_, err = s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.Bucket),
		Key:           aws.String(Key(r.ImageID)),
		Body:          bytes.NewReader(raw),
		ContentLength: aws.Int64(int64(len(raw))),
		ContentType:   aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("put status %s/%s: %w", s.Bucket, Key(r.ImageID), err)
	}
	return nil
}
