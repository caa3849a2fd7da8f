package s3server

import (
	"encoding/hex"
	"hash/fnv"
	"net/http"
	"strings"
)

// storedHeaders are the request headers S3 keeps with an object (besides
// x-amz-meta-*). gofakes3 hands the backend every X-Amz-* request header
// (signatures, dates, checksums, x-amz-decoded-content-length, ...) as
// metadata; only these are stored and sent back on GET and HEAD.
var storedHeaders = map[string]bool{
	"Content-Type":        true,
	"Content-Disposition": true,
	"Content-Encoding":    true,
	"Content-Language":    true,
	"Cache-Control":       true,
	"Expires":             true,
}

func storedMetadata(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		ck := http.CanonicalHeaderKey(k)
		if v != "" && (storedHeaders[ck] || strings.HasPrefix(ck, "X-Amz-Meta-")) {
			out[ck] = v
		}
	}
	return out
}

// fnvHash is the FNV-128a hash of key in hex, as the previous layout named
// metadata files.
func fnvHash(key string) string {
	h := fnv.New128a()
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil))
}
