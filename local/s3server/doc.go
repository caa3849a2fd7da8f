// Package s3server is the S3 half of the local stack's AWS edge: an
// http.Handler speaking S3's REST protocol (path style) with objects and their
// metadata on disk, so that the AWS SDK, the aws CLI and presigned URLs work
// against it as they do against Amazon S3.
//
// The protocol is github.com/johannesboyne/gofakes3 over its s3afero
// filesystem backend. gofakes3 checks no signatures, so every request except
// a CORS preflight first passes local/sigv4 (header signatures and presigned
// URLs, with expiry and signed Content-Type/Content-Length); a refused request
// gets S3's XML error and changes nothing. Request bodies are read to the end
// and checked (payload hash, chunk signatures, Content-MD5, x-amz-checksum-*)
// before gofakes3 sees them. After an object is stored, and before the client
// gets its 200, the OnObjectCreated hook runs, which is where the local stack
// emits S3's "Object Created" event.
//
// https://docs.aws.amazon.com/AmazonS3/latest/API/Welcome.html
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
package s3server
