package s3server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/johannesboyne/gofakes3"

	"github.com/imagepipe/imagepipe/local/sigv4"
)

// Config configures a Server.
type Config struct {
	// Dir holds the objects, each with its metadata in one file
	// (Dir/objects/<bucket>/<encoded key>), multipart uploads in progress
	// (Dir/multipart), request bodies and objects being written (Dir/tmp)
	// and the files found damaged at start (Dir/damaged).
	Dir string
	// Region is the only region the server answers for; default us-east-1.
	Region string
	// Verifier checks every request's SigV4 signature. Required.
	Verifier *sigv4.Verifier
	// AllowedOrigins are the browser origins CORS lets in (e.g. the page at
	// http://127.0.0.1:8080); ETag is exposed to them.
	AllowedOrigins []string
	// Logger; nil discards.
	Logger *slog.Logger
}

// ObjectCreated describes a stored object, for S3's "Object Created" event.
type ObjectCreated struct {
	Bucket    string
	Key       string
	Size      int64
	ETag      string // without quotes
	Sequencer string // hex, increasing with every event of this server's data dir
	RequestID string
	SourceIP  string
	Reason    string // PutObject | CopyObject | CompleteMultipartUpload
}

// Reasons in ObjectCreated.
const (
	ReasonPutObject               = "PutObject"
	ReasonCopyObject              = "CopyObject"
	ReasonCompleteMultipartUpload = "CompleteMultipartUpload"
)

// Server is an S3-compatible http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	objects *objectStore
	backend gofakes3.Backend
	s3      http.Handler
	tmpDir  string
	origins map[string]bool

	hookMu sync.RWMutex
	hook   func(ctx context.Context, ev ObjectCreated) error

	seq atomic.Uint64
}

// New opens (or creates) the store under cfg.Dir.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.Dir == "" {
		errs = append(errs, errors.New("s3server: Dir is required"))
	}
	if cfg.Verifier == nil {
		errs = append(errs, errors.New("s3server: Verifier is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("s3server: data dir %s: %w", cfg.Dir, err)
	}
	tmp := filepath.Join(dir, "tmp")
	// Bodies left from a previous run were never committed: drop them.
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("s3server: clean %s: %w", tmp, err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("s3server: create %s: %w", tmp, err)
	}
	objects, err := openObjectStore(dir, tmp, log)
	if err != nil {
		return nil, fmt.Errorf("s3server: open store in %s: %w", dir, err)
	}
	mpDir := filepath.Join(dir, "multipart")
	if err := os.MkdirAll(mpDir, 0o700); err != nil {
		return nil, fmt.Errorf("s3server: create %s: %w", mpDir, err)
	}
	s := &Server{
		cfg:     cfg,
		log:     log,
		objects: objects,
		backend: store{objectStore: objects, multipartStore: &multipartStore{dir: mpDir, tmpDir: tmp, objects: objects}},
		tmpDir:  tmp,
		origins: make(map[string]bool, len(cfg.AllowedOrigins)),
	}
	for _, o := range cfg.AllowedOrigins {
		s.origins[strings.TrimSuffix(o, "/")] = true
	}
	s.s3 = gofakes3.New(s.backend,
		gofakes3.WithTimeSkewLimit(0), // the verifier checks skew, with its own clock
		gofakes3.WithLogger(gofakes3Log{log}),
	).Server()
	return s, nil
}

// CreateBucket creates a bucket if it does not exist yet.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	if err := gofakes3.ValidateBucketName(name); err != nil {
		return fmt.Errorf("s3server: bucket %q: %w", name, err)
	}
	if err := s.backend.CreateBucket(name); err != nil && !gofakes3.IsAlreadyExists(err) {
		return fmt.Errorf("s3server: create bucket %s: %w", name, err)
	}
	return nil
}

// OnObjectCreated sets the hook called after an object is stored and before
// the client's 200 is written. If it returns an error the client gets a 500
// InternalError (the object stays; clients retry). Set it before serving.
// The hook is called from concurrent requests; its context carries the
// request's values but is not cancelled when the client goes away.
func (s *Server) OnObjectCreated(fn func(ctx context.Context, ev ObjectCreated) error) {
	s.hookMu.Lock()
	s.hook = fn
	s.hookMu.Unlock()
}

func (s *Server) onCreated() func(ctx context.Context, ev ObjectCreated) error {
	s.hookMu.RLock()
	defer s.hookMu.RUnlock()
	return s.hook
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		s.preflight(w, r, reqID)
		return
	}
	rw := &responseWriter{ResponseWriter: w, requestID: reqID}
	if origin != "" && s.origins[origin] {
		rw.origin = origin
	}
	log := &requestLog{base: s.log, r: r, reqID: reqID}
	if log.enabled(slog.LevelDebug) {
		log.Debug("s3 request", "content_sha256", r.Header.Get("X-Amz-Content-Sha256"),
			"content_encoding", r.Header.Get("Content-Encoding"), "trailer", r.Header.Get("X-Amz-Trailer"),
			"content_length", r.ContentLength, "presigned", r.URL.Query().Has("X-Amz-Signature"))
	}
	id, err := s.cfg.Verifier.Verify(r, "s3")
	if err == nil && id.Region != s.cfg.Region {
		err = wrongRegion(id, s.cfg.Region)
	}
	if err != nil {
		log.Info("s3 request refused", "err", err)
		s.writeError(rw, r, err)
		return
	}

	op := classify(r)
	if op == opUnsupported {
		s.writeError(rw, r, &sigv4.Error{Code: "NotImplemented", Status: http.StatusNotImplemented,
			Message: "A header or query you provided implies functionality that is not implemented."})
		return
	}
	var body *spooled
	if hasBody(r) {
		sp, cleanup, err := s.spool(r, op)
		defer cleanup()
		body = sp
		if err != nil {
			log.Info("s3 request body refused", "err", err)
			s.writeError(rw, r, err)
			return
		}
	}

	if err := checkNames(r); err != nil {
		log.Info("s3 request refused", "err", err)
		s.writeError(rw, r, err)
		return
	}

	if op == opConditionalDelete {
		s.conditionalDelete(rw, r)
		return
	}
	if op == opOther {
		s.s3.ServeHTTP(rw, r)
		if !rw.wroteHeader {
			rw.WriteHeader(http.StatusOK) // a HEAD: our headers go out too
		}
		return
	}

	rec := &recorder{header: make(http.Header)}
	if op == opPut && body != nil {
		// The spooled body becomes the object: no second copy, no second
		// MD5 pass (gofakes3 would make both).
		if err := s.putSpooled(r, body); err != nil {
			log.Info("s3 put refused", "err", err)
			s.writeError(rw, r, err)
			return
		}
		rec.header.Set("ETag", `"`+hex.EncodeToString(body.md5)+`"`)
	} else {
		s.s3.ServeHTTP(rec, r)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status != http.StatusOK {
		rec.copyTo(rw)
		return
	}
	ev, err := s.created(op, r, rec, reqID)
	if err == nil {
		if hook := s.onCreated(); hook != nil {
			// The object is stored: a client hanging up must not cancel
			// the event about it.
			err = hook(context.WithoutCancel(r.Context()), ev)
		}
	}
	if err != nil {
		log.Error("object created hook failed", "bucket", ev.Bucket, "key", ev.Key, "err", err)
		s.writeError(rw, r, err)
		return
	}
	if log.enabled(slog.LevelDebug) {
		log.Debug("object created", "bucket", ev.Bucket, "key", ev.Key, "size", ev.Size, "etag", ev.ETag, "reason", ev.Reason)
	}
	rec.copyTo(rw)
}

// putSpooled is PutObject of a spooled body, with gofakes3's checks: the
// metadata S3 allows (2 KB) and a Content-MD5 header that is not empty.
func (s *Server) putSpooled(r *http.Request, body *spooled) error {
	bucket, key := splitPath(r.URL.Path)
	if v, ok := r.Header["Content-Md5"]; ok && (len(v) == 0 || v[0] == "") {
		return gofakes3.ErrInvalidDigest
	}
	meta := map[string]string{}
	size := 0
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-Amz-") || k == "Content-Type" || k == "Content-Disposition" || k == "Content-Encoding" {
			meta[k] = v[0]
			size += len(k) + len(v[0])
		}
	}
	// gofakes3 counts its Last-Modified entry, an RFC 1123 date, too.
	if size+len("Last-Modified")+len(http.TimeFormat) > gofakes3.DefaultMetadataSizeLimit {
		return gofakes3.ErrMetadataTooLarge
	}
	var conditions *gofakes3.PutConditions
	if v := r.Header.Get("If-Match"); v != "" {
		conditions = &gofakes3.PutConditions{IfMatch: &v}
	}
	if v := r.Header.Get("If-None-Match"); v != "" {
		if conditions == nil {
			conditions = &gofakes3.PutConditions{}
		}
		conditions.IfNoneMatch = &v
	}
	_, err := s.objects.putSpooled(bucket, key, storedMetadata(meta), body, conditions)
	return err
}

type operation int

const (
	opOther operation = iota
	opPut
	opCopy
	opComplete
	opConditionalDelete
	opUnsupported
)

// classify finds the requests that create an object, and refuses object
// sub-resources gofakes3 would mistake for a PutObject (?tagging, ?acl, ...).
func classify(r *http.Request) operation {
	bucket, key := splitPath(r.URL.Path)
	if bucket == "" || key == "" {
		return opOther
	}
	q := r.URL.Query()
	switch r.Method {
	case http.MethodPut:
		if q.Has("uploadId") {
			return opOther
		}
		for k := range q {
			if k != "x-id" && !strings.HasPrefix(k, "X-Amz-") {
				return opUnsupported
			}
		}
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			return opCopy
		}
		return opPut
	case http.MethodPost:
		if q.Has("uploadId") {
			return opComplete
		}
	case http.MethodDelete:
		if r.Header.Get("If-Match") != "" && !q.Has("versionId") && !q.Has("uploadId") {
			return opConditionalDelete
		}
	}
	return opOther
}

// conditionalDelete is DeleteObject with If-Match, which gofakes3 does not
// know: the object goes only if its ETag matches, checked and removed under
// one lock.
func (s *Server) conditionalDelete(w *responseWriter, r *http.Request) {
	bucket, key := splitPath(r.URL.Path)
	if err := s.objects.deleteIf(bucket, key, r.Header.Get("If-Match")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("x-amz-delete-marker", "false")
	w.WriteHeader(http.StatusNoContent)
}

func splitPath(p string) (bucket, key string) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// created builds the event of a successful create from gofakes3's answer.
func (s *Server) created(op operation, r *http.Request, rec *recorder, reqID string) (ObjectCreated, error) {
	bucket, key := splitPath(r.URL.Path)
	ev := ObjectCreated{
		Bucket:    bucket,
		Key:       key,
		Sequencer: s.nextSequencer(),
		RequestID: reqID,
		SourceIP:  sourceIP(r),
	}
	switch op {
	case opPut:
		ev.Reason = ReasonPutObject
		ev.ETag = strings.Trim(rec.header.Get("ETag"), `"`)
		ev.Size = r.ContentLength
		return ev, nil
	case opCopy:
		ev.Reason = ReasonCopyObject
	case opComplete:
		ev.Reason = ReasonCompleteMultipartUpload
	}
	var res struct {
		ETag string `xml:"ETag"`
	}
	if err := xml.Unmarshal(rec.body.Bytes(), &res); err != nil {
		return ev, fmt.Errorf("s3server: read %s answer for %s/%s: %w", ev.Reason, bucket, key, err)
	}
	ev.ETag = strings.Trim(res.ETag, `"`)
	obj, err := s.backend.HeadObject(bucket, key)
	if err != nil {
		return ev, fmt.Errorf("s3server: head %s/%s after %s: %w", bucket, key, ev.Reason, err)
	}
	obj.Contents.Close()
	ev.Size = obj.Size
	return ev, nil
}

// nextSequencer returns an upper-case hex string, fixed width, greater than
// every one returned before, also across restarts (it follows the clock).
func (s *Server) nextSequencer() string {
	for {
		last := s.seq.Load()
		next := uint64(time.Now().UnixNano())
		if next <= last {
			next = last + 1
		}
		if s.seq.CompareAndSwap(last, next) {
			return fmt.Sprintf("%018X", next)
		}
	}
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func wrongRegion(id *sigv4.Identity, region string) error {
	msg := fmt.Sprintf("the region '%s' is wrong; expecting '%s'", id.Region, region)
	if id.Presigned {
		return &sigv4.Error{Code: sigv4.CodeAuthorizationQueryParametersError, Status: http.StatusBadRequest,
			Message: "Error parsing the X-Amz-Credential parameter; " + msg}
	}
	return &sigv4.Error{Code: sigv4.CodeAuthorizationHeaderMalformed, Status: http.StatusBadRequest,
		Message: "The authorization header is malformed; " + msg}
}

// s3Error is S3's XML error document.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}

func (s *Server) writeError(w *responseWriter, r *http.Request, err error) {
	e := s3Error{
		Code:      "InternalError",
		Message:   "We encountered an internal error. Please try again.",
		Resource:  r.URL.Path,
		RequestID: w.requestID,
		HostID:    base64.StdEncoding.EncodeToString([]byte(w.requestID)),
	}
	status := http.StatusInternalServerError
	var se *sigv4.Error
	var ge interface{ ErrorCode() gofakes3.ErrorCode }
	if errors.As(err, &ge) {
		code := ge.ErrorCode()
		e.Code, e.Message, status = string(code), code.Message(), code.Status()
		var resp *gofakes3.ErrorResponse
		if errors.As(err, &resp) && resp.Message != "" {
			e.Message = resp.Message
		}
	}
	if errors.As(err, &se) {
		e.Code, e.Message, status = se.Code, se.Message, se.Status
		if se.Code == sigv4.CodeMissingAuthenticationToken {
			// S3 answers an anonymous request to a private bucket like this.
			e.Code, e.Message, status = sigv4.CodeAccessDenied, "Access Denied", http.StatusForbidden
		}
	}
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	var body bytes.Buffer
	body.WriteString(xml.Header)
	if err := xml.NewEncoder(&body).Encode(e); err != nil {
		s.log.Error("encode s3 error", "err", err)
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body.Bytes())
	}
}

// responseWriter stamps our request id and our CORS answer on every response
// (gofakes3 sets its own request id and a wildcard CORS origin).
type responseWriter struct {
	http.ResponseWriter
	requestID   string
	origin      string
	preflight   http.Header // the preflight answer's Access-Control-* headers
	wroteHeader bool
}

func (w *responseWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		h := w.Header()
		if etag := h.Get(etagHeader); etag != "" {
			h.Set("ETag", etag)
		}
		h.Del(etagHeader)
		h.Set("X-Amz-Request-Id", w.requestID)
		h.Set("X-Amz-Id-2", base64.StdEncoding.EncodeToString([]byte(w.requestID)))
		h.Set("Server", "AmazonS3")
		for k := range h {
			if strings.HasPrefix(k, "Access-Control-") {
				delete(h, k)
			}
		}
		if w.origin != "" {
			h.Set("Access-Control-Allow-Origin", w.origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", exposedHeaders)
			h.Add("Vary", "Origin")
			for k, v := range w.preflight {
				h[k] = v
			}
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// recorder holds gofakes3's answer to a create until the hook has run.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) copyTo(w *responseWriter) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	w.WriteHeader(r.status)
	w.Write(r.body.Bytes())
}

// requestLog is a request's logger, with its id, method and path: made at
// its first line, as most requests log nothing at the default level.
type requestLog struct {
	base  *slog.Logger
	r     *http.Request
	reqID string
	l     *slog.Logger
}

func (l *requestLog) enabled(level slog.Level) bool {
	return l.base.Enabled(context.Background(), level)
}

func (l *requestLog) log(level slog.Level, msg string, args ...any) {
	if !l.enabled(level) {
		return
	}
	if l.l == nil {
		l.l = l.base.With("request_id", l.reqID, "method", l.r.Method, "path", l.r.URL.Path)
	}
	l.l.Log(context.Background(), level, msg, args...)
}

func (l *requestLog) Debug(msg string, args ...any) { l.log(slog.LevelDebug, msg, args...) }
func (l *requestLog) Info(msg string, args ...any)  { l.log(slog.LevelInfo, msg, args...) }
func (l *requestLog) Error(msg string, args ...any) { l.log(slog.LevelError, msg, args...) }

// gofakes3Log sends gofakes3's messages to slog.
type gofakes3Log struct{ log *slog.Logger }

func (l gofakes3Log) Print(level gofakes3.LogLevel, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintln(v...))
	switch level {
	case gofakes3.LogErr:
		l.log.Error("gofakes3: " + msg)
	case gofakes3.LogWarn:
		l.log.Warn("gofakes3: " + msg)
	default:
		l.log.Debug("gofakes3: " + msg)
	}
}
