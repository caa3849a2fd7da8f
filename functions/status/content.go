package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The content index finds an image by the MD5 of its bytes: when a client
// declares content_md5 for an upload, processed/content/<md5>.json names
// the image that was handed the URL, so that a client about to send the
// same bytes again can find it (imagepipe upload --skip-done). It names the
// latest such image only.

// ContentPrefix is the key prefix of the content index.
const ContentPrefix = "processed/content/"

// ValidMD5 reports whether s is an MD5 in lowercase hex.
func ValidMD5(s string) bool { return lowerHex32(s) }

// ContentKey is the index entry of an MD5.
func ContentKey(md5hex string) string { return ContentPrefix + md5hex + ".json" }

type contentEntry struct {
	ImageID string `json:"image_id"`
}

// PutContent records that imageID was handed an upload of the bytes whose
// MD5 is md5hex.
func (s Store) PutContent(ctx context.Context, md5hex, imageID string) error {
	raw, _ := json.Marshal(contentEntry{ImageID: imageID})
	_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.Bucket), Key: aws.String(ContentKey(md5hex)),
		Body: bytes.NewReader(raw), ContentLength: aws.Int64(int64(len(raw))), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", s.Bucket, ContentKey(md5hex), err)
	}
	return nil
}

// ContentImage returns the id of the latest image handed an upload of the
// bytes whose MD5 is md5hex; ErrNotFound when there is none.
func (s Store) ContentImage(ctx context.Context, md5hex string) (string, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(ContentKey(md5hex))})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return "", ErrNotFound
		}
		return "", fmt.Errorf("get %s/%s: %w", s.Bucket, ContentKey(md5hex), err)
	}
	defer out.Body.Close()
	var e contentEntry
	if err := json.NewDecoder(io.LimitReader(out.Body, 4096)).Decode(&e); err != nil || !ValidID(e.ImageID) {
		return "", fmt.Errorf("decode %s/%s: not an index entry", s.Bucket, ContentKey(md5hex))
	}
	return e.ImageID, nil
}
