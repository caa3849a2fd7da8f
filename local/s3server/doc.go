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
// Storage is objectStore, this package's gofakes3 backend: each object is one
// file (Dir/objects/<bucket>/<encoded key>) holding its bytes, then its
// metadata, written under Dir/tmp and renamed into place, so an object and
// its metadata appear together or not at all whatever moment the process is
// killed at. The file of a version replaced or deleted while no GET reads it
// is kept under Dir/tmp and written again (spares), instead of an inode freed
// and another allocated for every write. File names encode keys, so every key S3 accepts is stored (empty,
// "." and ".." segments, 300-byte segments, any UTF-8) and none resolves
// outside its bucket; keys S3 refuses (NUL, not UTF-8, over 1024 bytes) get
// S3's 400. An in-memory index built at start from the files serves
// listings, HEAD and conditional writes; files that do not hold together at
// start are moved to Dir/damaged, so no bad file ever fails a listing. A
// data directory of the previous layout (gofakes3's s3afero: Dir/buckets +
// Dir/metadata) is imported at start, objects left without their metadata
// by a crash included. PutObject honours If-None-Match: * and If-Match, and
// DeleteObject If-Match, atomically, as S3 does. A full disk is a 500
// InternalError, which clients retry.
//
// Multipart uploads are kept on disk too (Dir/multipart/<upload id>/, see
// multipartStore) instead of in gofakes3's in-memory uploader: an upload in
// progress survives a restart and completing it streams the parts.
//
// Known differences from S3: parts under 5 MiB are accepted; ListObjects
// ignores encoding-type=url (answering with raw keys, which clients accept;
// a key with a control character XML cannot carry lists with U+FFFD in its
// place).
//
// https://docs.aws.amazon.com/AmazonS3/latest/API/Welcome.html
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
package s3server
