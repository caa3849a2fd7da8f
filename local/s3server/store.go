package s3server

import (
	"io"
	"net/http"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// metadataFilter gives the backend S3's metadata semantics. gofakes3 hands
// the backend every X-Amz-* request header (signatures, dates, checksums,
// x-amz-decoded-content-length, ...) as metadata and would send them back on
// GET; only what S3 stores is kept. And s3afero merges the metadata of the
// object being overwritten into the new one, where S3 replaces it: the keys
// the new object does not set are stored empty and dropped on the way out.
type metadataFilter struct {
	gofakes3.Backend
}

func (m metadataFilter) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	return m.Backend.PutObject(bucket, key, m.replacing(bucket, key, meta), input, size, conditions)
}

func (m metadataFilter) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return m.Backend.CopyObject(srcBucket, srcKey, dstBucket, dstKey, m.replacing(dstBucket, dstKey, meta))
}

func (m metadataFilter) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	obj, err := m.Backend.HeadObject(bucket, key)
	if obj != nil {
		obj.Metadata = visibleMetadata(obj.Metadata)
	}
	return obj, err
}

func (m metadataFilter) GetObject(bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	obj, err := m.Backend.GetObject(bucket, key, rng)
	if obj != nil {
		obj.Metadata = visibleMetadata(obj.Metadata)
	}
	return obj, err
}

// replacing is the metadata to store for a new version of bucket/key.
func (m metadataFilter) replacing(bucket, key string, meta map[string]string) map[string]string {
	out := storedMetadata(meta)
	old, err := m.Backend.HeadObject(bucket, key)
	if err != nil {
		return out
	}
	old.Contents.Close()
	for k := range old.Metadata {
		if _, ok := out[k]; !ok {
			out[k] = ""
		}
	}
	return out
}

var storedHeaders = map[string]bool{
	"Content-Type":        true,
	"Content-Disposition": true,
	"Content-Encoding":    true,
	"Content-Language":    true,
	"Cache-Control":       true,
	"Expires":             true,
	"Last-Modified":       true,
}

func storedMetadata(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		ck := http.CanonicalHeaderKey(k)
		if storedHeaders[ck] || strings.HasPrefix(ck, "X-Amz-Meta-") {
			out[ck] = v
		}
	}
	return out
}

func visibleMetadata(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		if v != "" {
			out[k] = v
		}
	}
	return out
}
