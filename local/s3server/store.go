package s3server

import (
	"io"
	"net/http"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// metadataFilter keeps only what S3 stores with an object: gofakes3 hands the
// backend every X-Amz-* request header (signatures, dates, checksums,
// x-amz-decoded-content-length, ...) and would send them back on GET.
type metadataFilter struct {
	gofakes3.Backend
}

func (m metadataFilter) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	return m.Backend.PutObject(bucket, key, storedMetadata(meta), input, size, conditions)
}

func (m metadataFilter) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return m.Backend.CopyObject(srcBucket, srcKey, dstBucket, dstKey, storedMetadata(meta))
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
