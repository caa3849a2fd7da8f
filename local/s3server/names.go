package s3server

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/johannesboyne/gofakes3"

	"github.com/imagepipe/imagepipe/local/sigv4"
)

// checkNames refuses bucket names and object keys the filesystem backend
// would alias or resolve outside their bucket: S3 takes "a//b", "a/./b",
// "../x" or "dir/" as opaque keys, the backend joins them into paths. It
// looks at the URL, at X-Amz-Copy-Source and, for DeleteObjects, at the
// spooled body (which it leaves rewound).
func checkNames(r *http.Request) error {
	bucket, key := splitPath(r.URL.Path)
	if bucket == "" {
		return nil
	}
	if err := gofakes3.ValidateBucketName(bucket); err != nil {
		return &sigv4.Error{Code: "InvalidBucketName", Status: http.StatusBadRequest, Message: "The specified bucket is not valid."}
	}
	if key != "" {
		if err := checkKey(key); err != nil {
			return err
		}
	}
	if src := r.Header.Get("X-Amz-Copy-Source"); src != "" {
		src, _, _ = strings.Cut(src, "?")
		if dec, err := url.PathUnescape(src); err == nil {
			src = dec
		}
		b, k := splitPath(src)
		if gofakes3.ValidateBucketName(b) != nil || k == "" || checkKey(k) != nil {
			return &sigv4.Error{Code: "InvalidArgument", Status: http.StatusBadRequest, Message: "Invalid copy source object key"}
		}
	}
	if r.Method == http.MethodPost && key == "" && r.URL.Query().Has("delete") && r.Body != nil {
		seeker, ok := r.Body.(io.ReadSeeker)
		if !ok {
			return nil
		}
		var in gofakes3.DeleteRequest
		err := xml.NewDecoder(seeker).Decode(&in)
		if _, serr := seeker.Seek(0, io.SeekStart); serr != nil {
			return fmt.Errorf("s3server: rewind DeleteObjects body: %w", serr)
		}
		if err != nil {
			return nil // gofakes3 answers MalformedXML
		}
		for _, o := range in.Objects {
			if err := checkKey(o.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkKey(key string) error {
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return &sigv4.Error{Code: "InvalidArgument", Status: http.StatusBadRequest,
				Message: fmt.Sprintf("Object key %q has an empty, \".\" or \"..\" path segment, which this local S3 cannot store.", key)}
		}
	}
	if len(key) > gofakes3.KeySizeLimit {
		return &sigv4.Error{Code: "KeyTooLongError", Status: http.StatusBadRequest, Message: "Your key is too long"}
	}
	return nil
}
