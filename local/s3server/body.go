package s3server

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/imagepipe/imagepipe/local/guard"
	"github.com/imagepipe/imagepipe/local/sigv4"
)

// fileWriter remembers the error of the spool file, to tell a full disk
// (ours) from a broken body (the client's).
type fileWriter struct {
	f   io.Writer
	err error
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// copyBufferSize is the buffer bodies are copied with, to and from files:
// an image of a few hundred KB in a few system calls, not one every 32 KiB.
const copyBufferSize = 256 << 10

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

func getCopyBuffer() *[]byte  { return copyBuffers.Get().(*[]byte) }
func putCopyBuffer(b *[]byte) { copyBuffers.Put(b) }

// onlyReader hides a reader's WriteTo, so that io.CopyBuffer uses the
// buffer it is given.
type onlyReader struct{ io.Reader }

var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// checksumAlgorithms are S3's x-amz-checksum-* algorithms.
var checksumAlgorithms = map[string]func() hash.Hash{
	"x-amz-checksum-crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"x-amz-checksum-crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"x-amz-checksum-crc64nvme": func() hash.Hash { return crc64.New(crc64NVME) },
	"x-amz-checksum-sha1":      sha1.New,
	"x-amz-checksum-sha256":    sha256.New,
}

func badDigest(format string, args ...any) error {
	return &sigv4.Error{Code: "BadDigest", Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// spool reads the whole request body into a file under tmpDir, checking on
// the way everything the body must satisfy (the verifier's payload hash and
// chunk signatures, Content-MD5, x-amz-checksum-* in headers or trailers),
// and puts the file in place of the body. So gofakes3 only ever sees a body
// that is known good and complete, and a refused body changes nothing.
//
// x-amz-checksum-* headers describe the body of a PutObject or an
// UploadPart; on CompleteMultipartUpload they describe the assembled
// object, not the XML body, and are not checked here.
//
// The spooled body's MD5 is computed on the way (it is the ETag of a
// PutObject, which putSpooled stores from this very file: for op opPut the
// file is left where the body ends, for the trailer to follow, and r.Body is
// not replaced).
func (s *Server) spool(r *http.Request, op operation) (sp *spooled, cleanup func(), err error) {
	objectChecksums := op != opComplete
	bucket, key := splitPath(r.URL.Path)
	f, err := s.objects.newFile("body-*")
	if err != nil {
		return nil, func() {}, storageError("spool the body of", bucket, key, err)
	}
	body := &spooled{f: f}
	cleanup = func() {
		if !body.taken {
			if f.Close() == nil {
				s.objects.spares.keep(f.Name(), max(body.written, staleSize(f)))
			} else {
				os.Remove(f.Name())
			}
		}
	}
	sums := map[string]hash.Hash{}
	var trailers []string
	for _, v := range r.Header.Values("X-Amz-Trailer") {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
				trailers = append(trailers, t)
			}
		}
	}
	if objectChecksums {
		names := append([]string(nil), trailers...)
		for k := range r.Header {
			names = append(names, strings.ToLower(k))
		}
		for _, n := range names {
			if mk, ok := checksumAlgorithms[n]; ok {
				sums[n] = mk()
			}
		}
	}
	// One pass over the body: written, hashed for the ETag and checked
	// against Content-MD5 when given.
	wantMD5 := r.Header.Get("Content-Md5")
	md5h := md5.New()
	file := &fileWriter{f: f}
	writers := []io.Writer{file, md5h}
	for _, h := range sums {
		writers = append(writers, h)
	}
	buf := getCopyBuffer()
	n, err := io.CopyBuffer(io.MultiWriter(writers...), onlyReader{r.Body}, *buf)
	putCopyBuffer(buf)
	body.written = n
	r.Body.Close()
	if err != nil {
		var se *sigv4.Error
		switch {
		case file.err != nil:
			// Our disk, not the client: a 5xx the client retries.
			return nil, cleanup, storageError("spool the body of", bucket, key, file.err)
		case errors.As(err, &se):
			return nil, cleanup, err
		case errors.Is(err, guard.ErrTooSlow):
			return nil, cleanup, &sigv4.Error{Code: "RequestTimeout", Status: http.StatusBadRequest,
				Message: "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed."}
		}
		return nil, cleanup, &sigv4.Error{Code: sigv4.CodeIncompleteBody, Status: http.StatusBadRequest,
			Message: "You did not provide the number of bytes specified by the Content-Length HTTP header."}
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		return nil, cleanup, &sigv4.Error{Code: sigv4.CodeIncompleteBody, Status: http.StatusBadRequest,
			Message: "You did not provide the number of bytes specified by the Content-Length HTTP header."}
	}
	for _, name := range trailers {
		if r.Trailer.Get(name) == "" {
			return nil, cleanup, &sigv4.Error{Code: "MalformedTrailerError", Status: http.StatusBadRequest,
				Message: fmt.Sprintf("The request declared the trailer %s but did not send it.", name)}
		}
	}
	body.size, body.md5 = n, md5h.Sum(nil)
	if wantMD5 != "" && base64.StdEncoding.EncodeToString(body.md5) != wantMD5 {
		return nil, cleanup, badDigest("The Content-MD5 you specified did not match what we received.")
	}
	for name, h := range sums {
		want := r.Header.Get(name)
		if want == "" && r.Trailer != nil {
			want = r.Trailer.Get(name)
		}
		if want == "" {
			continue
		}
		if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != want {
			alg := strings.ToUpper(strings.TrimPrefix(name, "x-amz-checksum-"))
			return nil, cleanup, badDigest("The %s you specified did not match the calculated checksum.", alg)
		}
	}
	r.ContentLength = n
	if op == opPut {
		return body, cleanup, nil
	}
	if err := trim(f); err != nil {
		return nil, cleanup, storageError("spool the body of", bucket, key, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, cleanup, fmt.Errorf("s3server: rewind spooled body: %w", err)
	}
	r.Body = f
	r.Header.Set("Content-Length", strconv.FormatInt(n, 10))
	r.TransferEncoding = nil
	return body, cleanup, nil
}

// spooled is a request body in a file under Dir/tmp, checked whole.
type spooled struct {
	f       tempFile
	size    int64
	md5     []byte
	taken   bool  // renamed into an object: not to be removed
	written int64 // bytes written to the file (a reused spare may hold old ones past them until trimmed)
}
