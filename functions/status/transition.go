package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/imagepipe/imagepipe/eventbus"
)

// DefaultUploadGrace is how long after its upload URL expired a pending
// image is still given to show up: S3 checks a presigned URL when the
// request starts, so an upload begun just in time may take this long to
// finish.
const DefaultUploadGrace = 10 * time.Minute

// rank orders the states a record moves through.
func rank(status string) int {
	switch status {
	case Pending:
		return 0
	case Processing:
		return 1
	case Done, Failed:
		return 2
	}
	return -1
}

// Accepts reports whether the record may move to status to on news about
// the upload whose source ETag is etag ("" when not known).
//
// For the same upload a record only moves forward: pending → processing →
// done or failed; never back to pending or processing. A failed image may
// still end done (a retry or a replay succeeded), and done may be written
// again (a replay made the outputs anew), but a failure never hides a
// result that is there. An upload with another ETag under the same key is
// new work and starts over from processing.
func (r *Record) Accepts(to, etag string) bool {
	if rank(to) <= 0 {
		return false // pending is only ever a new record; unknown states never
	}
	if r.SourceETag != "" && etag != "" && r.SourceETag != etag {
		return true
	}
	switch to {
	case Processing:
		return rank(r.Status) < rank(Processing)
	case Failed:
		return r.Status != Done
	}
	return true // Done
}

// UploadDeadline is when a pending record becomes overdue: its upload URL's
// expiry plus grace. It is zero for a record that is not pending or whose
// URL expiry is unknown and fallback (the creation time plus the URL
// lifetime, for records written before the expiry was kept) is zero.
func (r *Record) UploadDeadline(grace, fallback time.Duration) time.Time {
	if r.Status != Pending {
		return time.Time{}
	}
	exp := r.UploadExpiresAt
	if exp.IsZero() {
		if fallback <= 0 || r.CreatedAt.IsZero() {
			return time.Time{}
		}
		exp = r.CreatedAt.Add(fallback)
	}
	return exp.Add(grace)
}

// StatusAt is the status the record reads as at now. A pending record past
// its upload deadline reads as Expired, unless uploaded says the object is
// there after all (an upload that started in time and took long, or a
// queue backlog ahead of the worker); uploaded is only asked then. The
// stored record is not changed: a late upload still moves it on.
func (r *Record) StatusAt(ctx context.Context, now time.Time, grace, fallback time.Duration, uploaded func(context.Context) (bool, error)) (string, error) {
	deadline := r.UploadDeadline(grace, fallback)
	if deadline.IsZero() || !now.After(deadline) {
		return r.Status, nil
	}
	there, err := uploaded(ctx)
	if err != nil {
		return r.Status, err
	}
	if there {
		return r.Status, nil
	}
	return Expired, nil
}

// maxUpdateAttempts bounds the read-change-write rounds of Update when other
// writers keep winning.
const maxUpdateAttempts = 8

// ErrContended is returned by Update when every attempt lost to another
// writer.
var ErrContended = errors.New("status record kept changing under the update")

// Update reads the record of imageID and hands it to change (nil when there
// is none). change returns the record to write, or nil to leave it as it
// is; it must not modify its argument. The write is conditional on the
// object being the one read (If-Match on its ETag, If-None-Match for a new
// record): when another writer came first, Update reads again and asks
// change again. It returns the record written, nil when change wrote
// nothing.
func (s Store) Update(ctx context.Context, imageID string, change func(*Record) *Record) (*Record, error) {
	for range maxUpdateAttempts {
		cur, etag, err := s.get(ctx, imageID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		next := change(cur)
		if next == nil {
			return nil, nil
		}
		next.ImageID = imageID
		cond := func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }
		if cur != nil {
			cond = func(in *s3.PutObjectInput) { in.IfMatch = aws.String(etag) }
		}
		err = s.put(ctx, next, cond)
		if err == nil {
			return next, nil
		}
		if !lostRace(err) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("update status of %s: %w", imageID, ErrContended)
}

// lostRace reports whether a conditional write failed because the object
// changed (412 PreconditionFailed), another conditional write was under way
// (409 ConditionalRequestConflict) or the object read was deleted since.
func lostRace(err error) bool {
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey":
		return true
	}
	return false
}

// MarkProcessing records that the worker has started on the upload src of
// imageID. It never moves a record back: a record already processing, done
// or failed for the same upload stays as it is (MarkProcessing reports
// false). An image with no record yet (an object put under uploads/ without
// the API) gets one.
func (s Store) MarkProcessing(ctx context.Context, imageID string, src eventbus.ImageSource, now time.Time) (bool, error) {
	now = now.UTC()
	written, err := s.Update(ctx, imageID, func(cur *Record) *Record {
		if cur == nil {
			return &Record{Status: Processing, Key: src.Key, ContentType: src.ContentType, Size: src.Size,
				SourceETag: src.ETag, CreatedAt: now, UpdatedAt: now}
		}
		if !cur.Accepts(Processing, src.ETag) {
			return nil
		}
		next := *cur
		next.Status = Processing
		next.UpdatedAt = now
		if src.ETag != "" {
			next.SourceETag = src.ETag
		}
		// What an earlier upload under the same key produced is not this one's.
		next.Outputs, next.Error, next.Warnings, next.DurationMS = nil, nil, nil, 0
		return &next
	})
	return written != nil, err
}
