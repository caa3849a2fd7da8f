package process

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
	"github.com/aws/smithy-go"
)

// lease is processed/<id>/lease.json: which delivery is working on the
// image, until when. It is created with If-None-Match: * (S3 conditional
// writes, https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html),
// so of two deliveries of one image only one works on it at a time; the
// other is retried later and then finds the image committed.
type lease struct {
	// Owner is the SQS message id of the delivery holding the lease. A new
	// receive of the same message takes its lease over: SQS hands a message
	// to one receiver at a time, so the earlier receive is over (its
	// invocation timed out or its process died).
	Owner      string    `json:"owner"`
	SourceETag string    `json:"source_etag"`
	Acquired   time.Time `json:"acquired"`
	// Expires is when the holder's invocation ends at the latest; after
	// it, anyone may take the lease over.
	Expires time.Time `json:"expires"`
}

func leaseKey(imageID string) string { return "processed/" + imageID + "/lease.json" }

// leaseHeldError says another delivery is working on the image: transient,
// the message comes back later.
type leaseHeldError struct {
	imageID string
	l       lease
}

func (e *leaseHeldError) Error() string {
	return fmt.Sprintf("image %s is being worked on by message %s (ETag %s) until %s at the latest",
		e.imageID, e.l.Owner, e.l.SourceETag, e.l.Expires.Format(time.RFC3339))
}

// takeLease takes the image's lease for the job, or returns a
// *leaseHeldError. release gives it back (only if it is still ours).
func (h *Handler) takeLease(ctx context.Context, j *job) (release func(), err error) {
	now := h.now()
	l := lease{Owner: j.messageID, SourceETag: j.src.ETag, Acquired: now.UTC(), Expires: now.Add(15 * time.Minute).UTC()}
	if deadline, ok := ctx.Deadline(); ok {
		l.Expires = deadline.Add(30 * time.Second).UTC()
	}
	for range 3 {
		etag, err := h.putLease(ctx, j.imageID, l, "")
		if err == nil {
			return h.releaser(ctx, j.imageID, etag), nil
		}
		if !isConditionFailure(err) {
			return nil, fmt.Errorf("take the lease of %s: %w", j.imageID, err)
		}
		cur, curETag, err := h.getLease(ctx, j.imageID)
		if isNotFound(err) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read the lease of %s: %w", j.imageID, err)
		}
		if cur.Owner != "" && cur.Owner != j.messageID && now.Before(cur.Expires) {
			return nil, &leaseHeldError{imageID: j.imageID, l: cur}
		}
		// Ours from an earlier receive, expired, or unreadable: take it over
		// unless someone else does first.
		etag, err = h.putLease(ctx, j.imageID, l, curETag)
		if err == nil {
			return h.releaser(ctx, j.imageID, etag), nil
		}
		if !isConditionFailure(err) && !isNotFound(err) {
			return nil, fmt.Errorf("take over the lease of %s: %w", j.imageID, err)
		}
	}
	return nil, fmt.Errorf("the lease of %s keeps changing hands", j.imageID)
}

// putLease writes the lease: with If-None-Match: * when ifMatch is empty,
// else with If-Match: ifMatch.
func (h *Handler) putLease(ctx context.Context, imageID string, l lease, ifMatch string) (string, error) {
	raw, err := json.Marshal(l)
	if err != nil {
		return "", err
	}
	in := &s3.PutObjectInput{
		Bucket: aws.String(h.cfg.ProcessedBucket), Key: aws.String(leaseKey(imageID)),
		Body: bytes.NewReader(raw), ContentLength: aws.Int64(int64(len(raw))), ContentType: aws.String("application/json"),
	}
	if ifMatch == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := h.s3.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

func (h *Handler) getLease(ctx context.Context, imageID string) (lease, string, error) {
	var l lease
	out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.cfg.ProcessedBucket), Key: aws.String(leaseKey(imageID))})
	if err != nil {
		return l, "", err
	}
	defer out.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(out.Body, 64<<10))
	if err != nil {
		return l, "", err
	}
	_ = json.Unmarshal(raw, &l) // an unreadable lease is taken over
	return l, aws.ToString(out.ETag), nil
}

// releaser deletes the lease if it is still the version we wrote (S3's
// conditional DeleteObject), even when ctx is done.
func (h *Handler) releaser(ctx context.Context, imageID, etag string) func() {
	return func() {
		dctx, cancel := lastWords(ctx)
		defer cancel()
		_, err := h.s3.DeleteObject(dctx, &s3.DeleteObjectInput{
			Bucket: aws.String(h.cfg.ProcessedBucket), Key: aws.String(leaseKey(imageID)), IfMatch: aws.String(etag),
		})
		if err != nil && !isNotFound(err) && !isConditionFailure(err) {
			h.log.Warn("lease not released: it expires by itself", "image_id", imageID, "err", err)
		}
	}
}

// isConditionFailure reports S3's answers to a conditional write that lost:
// 412 PreconditionFailed and 409 ConditionalRequestConflict.
func isConditionFailure(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	return false
}
