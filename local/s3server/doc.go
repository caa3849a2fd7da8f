// Package s3server is the S3 half of the local stack's AWS edge: an
// http.Handler speaking S3's REST protocol (path style) with objects and their
// metadata on disk, so that the AWS SDK, the aws CLI and presigned URLs work
// against it as they do against Amazon S3.
//
// The protocol is github.com/johannesboyne/gofakes3. gofakes3 checks no
// signatures, so every request except a CORS preflight first passes
// local/sigv4 (header signatures and presigned URLs, with expiry and signed
// Content-Type/Content-Length); a refused request gets S3's XML error and
// changes nothing. Request bodies are read to the end into a file and checked
// (payload hash, chunk signatures, Content-MD5, x-amz-checksum-* headers and
// trailers) before gofakes3 sees them. After an object is stored, and before
// the client gets its 200, the OnObjectCreated hook runs; that is where the
// local stack emits S3's "Object Created" event.
//
// Storage is gofakes3's s3afero MultiBucket backend: objects are plain files
// (Dir/buckets/<bucket>/<key>) streamed to and from disk, and each object's
// MD5 (its ETag) and metadata are kept as JSON (Dir/metadata), so a restart
// keeps both. The bbolt backend was the alternative; it reads every object
// whole into memory and hides objects inside one database file. Three weak
// points of s3afero are covered here: it writes files in place (atomicFs
// writes under Dir/tmp and renames), gofakes3 hands it every X-Amz-* request
// header as metadata (metadataFilter keeps what S3 keeps), and it joins keys
// into paths (keys with empty, "." or ".." segments are refused). It also
// merges an overwritten object's metadata into the new one; metadataFilter
// restores S3's replace semantics.
//
// Multipart uploads are kept on disk too (Dir/multipart/<upload id>/, see
// multipartStore) instead of in gofakes3's in-memory uploader: an upload in
// progress survives a restart and completing it streams the parts.
//
// Known differences from S3: after a multipart upload, HEAD, GET and LIST
// give the MD5 of the whole object as ETag, while the CompleteMultipartUpload
// answer and the event carry S3's "<md5 of part md5s>-<parts>" (gofakes3
// derives every ETag from the stored MD5); parts under 5 MiB are accepted;
// ListObjects returns every key in one page and ignores encoding-type=url
// (answering with raw keys, which clients accept).
//
// https://docs.aws.amazon.com/AmazonS3/latest/API/Welcome.html
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
package s3server
