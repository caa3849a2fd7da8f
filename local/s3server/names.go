package s3server

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/johannesboyne/gofakes3"

	"github.com/imagepipe/imagepipe/local/sigv4"
)

// checkNames refuses bucket names and object keys that S3 refuses: a key
// must be UTF-8 without NUL (InvalidURI) and at most 1024 bytes
// (KeyTooLongError). Anything else S3 takes is stored as an opaque key,
// "a//b", "a/./b", "../x" and "dir/" included (objectStore encodes file
// names). It looks at the URL, at X-Amz-Copy-Source and, for DeleteObjects,
// at the spooled body (which it leaves rewound).
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
	if !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 {
		return &sigv4.Error{Code: "InvalidURI", Status: http.StatusBadRequest, Message: "Couldn't parse the specified URI."}
	}
	if len(key) > gofakes3.KeySizeLimit {
		return &sigv4.Error{Code: "KeyTooLongError", Status: http.StatusBadRequest, Message: "Your key is too long"}
	}
	return nil
}
