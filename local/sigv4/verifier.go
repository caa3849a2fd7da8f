package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Payload hash values a client may put in X-Amz-Content-Sha256 instead of the
// hex SHA-256 of the body.
const (
	UnsignedPayload                 = "UNSIGNED-PAYLOAD"
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	StreamingSignedPayload          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedPayloadTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
)

const (
	algorithm  = "AWS4-HMAC-SHA256"
	timeFormat = "20060102T150405Z"
	dateFormat = "20060102"
	terminator = "aws4_request"

	// MaxPresignExpires is the longest X-Amz-Expires AWS accepts (7 days).
	MaxPresignExpires = 7 * 24 * time.Hour
	// DefaultMaxSkew is how far AWS lets a header-signed request's time drift.
	DefaultMaxSkew = 15 * time.Minute
	// MaxHashedBody bounds the body Verify reads into memory to hash it, when a
	// client signed the payload without sending X-Amz-Content-Sha256.
	MaxHashedBody = 16 << 20

	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Error codes returned in *Error. They are the codes AWS answers with.
const (
	CodeAccessDenied                      = "AccessDenied"
	CodeSignatureDoesNotMatch             = "SignatureDoesNotMatch"
	CodeInvalidAccessKeyID                = "InvalidAccessKeyId"
	CodeRequestTimeTooSkewed              = "RequestTimeTooSkewed"
	CodeMissingAuthenticationToken        = "MissingAuthenticationToken"
	CodeAuthorizationHeaderMalformed      = "AuthorizationHeaderMalformed"
	CodeAuthorizationQueryParametersError = "AuthorizationQueryParametersError"
	CodeInvalidRequest                    = "InvalidRequest"
	CodeInvalidArgument                   = "InvalidArgument"
	CodeXAmzContentSHA256Mismatch         = "XAmzContentSHA256Mismatch"
	CodeIncompleteBody                    = "IncompleteBody"
	CodeMissingContentLength              = "MissingContentLength"
	CodeEntityTooLarge                    = "EntityTooLarge"
	CodeNotImplemented                    = "NotImplemented"
)

// Error is a refusal, carrying the AWS error code and the HTTP status AWS
// answers it with. Verify returns it, and so does reading a body Verify has
// replaced (a bad chunk signature or payload hash is found while reading).
type Error struct {
	Code    string
	Message string
	Status  int
}

func (e *Error) Error() string { return "sigv4: " + e.Code + ": " + e.Message }

func refuse(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}

func mismatch() *Error {
	return refuse(http.StatusForbidden, CodeSignatureDoesNotMatch,
		"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
}

// Identity is who signed a verified request.
type Identity struct {
	AccessKeyID string
	Region      string // the region of the credential scope
	Presigned   bool
}

// Verifier checks SigV4 signatures against a set of known credentials.
type Verifier struct {
	// Credentials returns the secret key of an access key id.
	Credentials func(accessKeyID string) (secret string, ok bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the allowed clock difference for header-signed requests;
	// 0 means DefaultMaxSkew.
	MaxSkew time.Duration
}

// StaticCredentials is a Credentials function for a fixed key pair.
func StaticCredentials(accessKeyID, secret string) func(string) (string, bool) {
	return func(id string) (string, bool) {
		if subtle.ConstantTimeCompare([]byte(id), []byte(accessKeyID)) == 1 {
			return secret, true
		}
		return "", false
	}
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now().UTC()
	}
	return time.Now().UTC()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

// auth is what a request claims about its signature.
type auth struct {
	accessKeyID   string
	scopeDate     string
	region        string
	service       string
	signedHeaders []string
	signature     string
	date          time.Time
	expires       time.Duration
	presigned     bool
}

// Verify checks the request's header signature (Authorization:
// AWS4-HMAC-SHA256 ...) or presigned query (X-Amz-Signature) for the given
// service ("s3", "events", ...). On success it returns who signed.
//
// Verify may replace r.Body: it reads and hashes the body when the client
// signed the payload hash without sending X-Amz-Content-Sha256, it wraps the
// body so that reading it to the end checks a hex X-Amz-Content-Sha256, and it
// decodes aws-chunked bodies into the plain object bytes (Content-Length and
// r.ContentLength then give the decoded length, aws-chunked is removed from
// Content-Encoding, X-Amz-Content-Sha256 becomes UNSIGNED-PAYLOAD and trailing
// headers land in r.Trailer once the body has been read). Problems found in
// the body are returned by r.Body.Read as *Error, so a handler must read the
// whole body before it acts on it.
func (v *Verifier) Verify(r *http.Request, service string) (*Identity, error) {
	if v.Credentials == nil {
		return nil, refuse(http.StatusForbidden, CodeAccessDenied, "Access Denied")
	}
	a, err := parseAuth(r)
	if err != nil {
		return nil, err
	}
	secret, ok := v.Credentials(a.accessKeyID)
	if !ok {
		return nil, refuse(http.StatusForbidden, CodeInvalidAccessKeyID,
			"The AWS Access Key Id you provided does not exist in our records.")
	}
	if err := v.checkScope(a, service); err != nil {
		return nil, err
	}
	if err := v.checkTime(a); err != nil {
		return nil, err
	}
	if err := checkHeaders(r, a); err != nil {
		return nil, err
	}
	payloadHash, err := payloadHashOf(r, a, service)
	if err != nil {
		return nil, err
	}

	creds := aws.Credentials{AccessKeyID: a.accessKeyID, SecretAccessKey: secret}
	got, err := resign(r, a, creds, payloadHash, service)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.signature)) != 1 {
		return nil, mismatch()
	}

	if err := prepareBody(r, a, creds, payloadHash); err != nil {
		return nil, err
	}
	return &Identity{AccessKeyID: a.accessKeyID, Region: a.region, Presigned: a.presigned}, nil
}

func parseAuth(r *http.Request) (*auth, error) {
	header := r.Header.Get("Authorization")
	query := r.URL.Query()
	inQuery := query.Has("X-Amz-Signature") || query.Has("X-Amz-Credential") || query.Has("X-Amz-Algorithm")
	switch {
	case header != "" && inQuery:
		return nil, refuse(http.StatusBadRequest, CodeInvalidArgument,
			"Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified")
	case header != "":
		return parseHeaderAuth(r, header)
	case inQuery:
		return parseQueryAuth(query)
	default:
		return nil, refuse(http.StatusForbidden, CodeMissingAuthenticationToken,
			"Request is missing Authentication Token")
	}
}

func parseHeaderAuth(r *http.Request, header string) (*auth, error) {
	malformed := func(msg string) error {
		return refuse(http.StatusBadRequest, CodeAuthorizationHeaderMalformed,
			"The authorization header is malformed; %s", msg)
	}
	alg, rest, _ := strings.Cut(header, " ")
	if alg != algorithm {
		return nil, refuse(http.StatusBadRequest, CodeInvalidArgument,
			"Unsupported Authorization Type; please use AWS4-HMAC-SHA256.")
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		fields[k] = val
	}
	a := &auth{}
	if err := a.setCredential(fields["Credential"]); err != nil {
		return nil, malformed(err.Error())
	}
	if fields["SignedHeaders"] == "" {
		return nil, malformed("the SignedHeaders field is missing.")
	}
	if fields["Signature"] == "" {
		return nil, malformed("the Signature field is missing.")
	}
	a.signedHeaders = strings.Split(fields["SignedHeaders"], ";")
	a.signature = fields["Signature"]

	raw := r.Header.Get("X-Amz-Date")
	if raw == "" {
		return nil, refuse(http.StatusForbidden, CodeAccessDenied,
			"AWS authentication requires a valid Date or x-amz-date header")
	}
	t, err := time.Parse(timeFormat, raw)
	if err != nil {
		return nil, refuse(http.StatusForbidden, CodeAccessDenied,
			"AWS authentication requires a valid Date or x-amz-date header")
	}
	a.date = t
	if a.scopeDate != t.Format(dateFormat) {
		return nil, malformed(fmt.Sprintf("Invalid credential date %q. Date is not the same as X-Amz-Date: %q.", a.scopeDate, t.Format(dateFormat)))
	}
	return a, nil
}

func parseQueryAuth(q url.Values) (*auth, error) {
	queryErr := func(format string, args ...any) error {
		return refuse(http.StatusBadRequest, CodeAuthorizationQueryParametersError, format, args...)
	}
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"} {
		if q.Get(k) == "" {
			return nil, queryErr("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	if q.Get("X-Amz-Algorithm") != algorithm {
		return nil, queryErr("X-Amz-Algorithm only supports %q", algorithm)
	}
	a := &auth{presigned: true}
	if err := a.setCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, queryErr("Error parsing the X-Amz-Credential parameter; %s", err)
	}
	t, err := time.Parse(timeFormat, q.Get("X-Amz-Date"))
	if err != nil {
		return nil, queryErr("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	a.date = t
	if a.scopeDate != t.Format(dateFormat) {
		return nil, queryErr("Invalid credential date %q. Date is not the same as X-Amz-Date: %q.", a.scopeDate, t.Format(dateFormat))
	}
	secs, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil {
		return nil, queryErr("X-Amz-Expires should be a number")
	}
	if secs < 0 {
		return nil, queryErr("X-Amz-Expires must be non-negative")
	}
	if time.Duration(secs)*time.Second > MaxPresignExpires {
		return nil, queryErr("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	a.expires = time.Duration(secs) * time.Second
	a.signedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	a.signature = q.Get("X-Amz-Signature")
	return a, nil
}

// setCredential parses "AKID/20260101/us-east-1/s3/aws4_request".
func (a *auth) setCredential(cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" || parts[3] == "" {
		//lint:ignore ST1005 S3's own message, sentences and all
		return fmt.Errorf("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	if parts[4] != terminator {
		//lint:ignore ST1005 S3's own message, sentences and all
		return fmt.Errorf("incorrect terminal %q. This endpoint uses %q.", parts[4], terminator)
	}
	if _, err := time.Parse(dateFormat, parts[1]); err != nil {
		//lint:ignore ST1005 S3's own message, sentences and all
		return fmt.Errorf("incorrect date format %q. This date in the credential must be in the format \"yyyyMMdd\".", parts[1])
	}
	a.accessKeyID, a.scopeDate, a.region, a.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (v *Verifier) checkScope(a *auth, service string) error {
	if a.service == service {
		return nil
	}
	msg := fmt.Sprintf("incorrect service %q. This endpoint belongs to %q.", a.service, service)
	if a.presigned {
		return refuse(http.StatusBadRequest, CodeAuthorizationQueryParametersError, "Error parsing the X-Amz-Credential parameter; %s", msg)
	}
	return refuse(http.StatusBadRequest, CodeAuthorizationHeaderMalformed, "The authorization header is malformed; %s", msg)
}

func (v *Verifier) checkTime(a *auth) error {
	now := v.now()
	skew := v.maxSkew()
	if a.presigned {
		if a.date.After(now.Add(skew)) {
			return refuse(http.StatusForbidden, CodeAccessDenied, "Request is not valid yet")
		}
		if now.After(a.date.Add(a.expires)) {
			return refuse(http.StatusForbidden, CodeAccessDenied, "Request has expired")
		}
		return nil
	}
	if d := now.Sub(a.date); d > skew || d < -skew {
		return refuse(http.StatusForbidden, CodeRequestTimeTooSkewed,
			"The difference between the request time (%s) and the current time (%s) is too large.",
			a.date.Format(timeFormat), now.Format(timeFormat))
	}
	return nil
}

// checkHeaders makes sure every signed header is on the request and every
// x-amz-* header on the request is signed, as S3 does.
func checkHeaders(r *http.Request, a *auth) error {
	signed := make(map[string]bool, len(a.signedHeaders))
	for _, h := range a.signedHeaders {
		if h == "" || h != strings.ToLower(h) {
			return mismatch()
		}
		signed[h] = true
		switch h {
		case "host":
			if r.Host == "" {
				return mismatch()
			}
		case "content-length":
			if r.Header.Get("Content-Length") == "" && r.ContentLength < 0 {
				return refuse(http.StatusForbidden, CodeSignatureDoesNotMatch,
					"The request signature we calculated does not match the signature you provided: signed header %q is missing.", h)
			}
		default:
			if _, ok := r.Header[http.CanonicalHeaderKey(h)]; !ok {
				return refuse(http.StatusForbidden, CodeSignatureDoesNotMatch,
					"The request signature we calculated does not match the signature you provided: signed header %q is missing.", h)
			}
		}
	}
	if !signed["host"] {
		return refuse(http.StatusForbidden, CodeAccessDenied, "The host header must be signed.")
	}
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") && !signed[lk] {
			return refuse(http.StatusForbidden, CodeAccessDenied,
				"There were headers present in the request which were not signed: %s", lk)
		}
	}
	return nil
}

// payloadHashOf returns the payload hash the client put in its canonical
// request.
func payloadHashOf(r *http.Request, a *auth, service string) (string, error) {
	if a.presigned {
		if service == "s3" {
			return UnsignedPayload, nil
		}
		if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
			return h, nil
		}
		return hashBody(r)
	}
	h := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case h == "":
		return hashBody(r)
	case h == UnsignedPayload, h == StreamingUnsignedPayloadTrailer,
		h == StreamingSignedPayload, h == StreamingSignedPayloadTrailer:
		return h, nil
	case strings.HasPrefix(h, "STREAMING-"):
		return "", refuse(http.StatusNotImplemented, CodeNotImplemented,
			"x-amz-content-sha256 %q is not supported by this endpoint", h)
	case isHexSHA256(h):
		return h, nil
	default:
		return "", refuse(http.StatusBadRequest, CodeInvalidArgument,
			"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
	}
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// hashBody reads the whole (bounded) body, puts it back and returns its hash.
func hashBody(r *http.Request) (string, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return emptySHA256, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxHashedBody+1))
	r.Body.Close()
	if err != nil {
		return "", refuse(http.StatusBadRequest, CodeIncompleteBody, "reading the request body: %v", err)
	}
	if len(b) > MaxHashedBody {
		return "", refuse(http.StatusRequestEntityTooLarge, CodeEntityTooLarge,
			"a request body signed without x-amz-content-sha256 may be at most %d bytes", MaxHashedBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// signers holds a v4.Signer per secret key (and S3 or not), kept so that
// the signing key it derives from the secret (four HMACs) is derived once a
// day, region and service, not for every request. The SDK's cache is keyed
// by access key id, not by secret: one signer per secret keeps two
// credentials that share an id apart. The secrets are the verifier's own,
// never a client's, so the map stays as small as the credentials it knows.
var signers sync.Map // signerKey → *v4.Signer

type signerKey struct {
	secret string
	s3     bool
}

func signerFor(secret string, s3 bool) *v4.Signer {
	k := signerKey{secret, s3}
	if v, ok := signers.Load(k); ok {
		return v.(*v4.Signer)
	}
	v, _ := signers.LoadOrStore(k, v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = s3
		o.DisableHeaderHoisting = true
	}))
	return v.(*v4.Signer)
}

// resign builds the request the client says it signed, signs it with the SDK
// signer and returns the resulting signature.
func resign(r *http.Request, a *auth, creds aws.Credentials, payloadHash, service string) (string, error) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := &url.URL{Scheme: scheme, Host: r.Host, Opaque: rawPath(r), RawQuery: r.URL.RawQuery}
	if a.presigned {
		q := r.URL.Query()
		for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
			q.Del(k)
		}
		u.RawQuery = q.Encode()
	}
	req := &http.Request{
		Method: r.Method,
		URL:    u,
		Host:   r.Host,
		Header: make(http.Header, len(a.signedHeaders)),
	}
	for _, h := range a.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if err != nil {
				n = r.ContentLength
			}
			req.ContentLength = n
		default:
			ck := http.CanonicalHeaderKey(h)
			req.Header[ck] = r.Header[ck]
		}
	}

	signer := signerFor(creds.SecretAccessKey, service == "s3")
	ctx := context.Background()
	if a.presigned {
		signed, _, err := signer.PresignHTTP(ctx, creds, req, payloadHash, a.service, a.region, a.date)
		if err != nil {
			return "", fmt.Errorf("sigv4: presign: %w", err)
		}
		const key = "X-Amz-Signature="
		i := strings.LastIndex(signed, key)
		if i < 0 {
			return "", fmt.Errorf("sigv4: presign gave no signature")
		}
		sig, _, _ := strings.Cut(signed[i+len(key):], "&")
		return sig, nil
	}
	if err := signer.SignHTTP(ctx, creds, req, payloadHash, a.service, a.region, a.date); err != nil {
		return "", fmt.Errorf("sigv4: sign: %w", err)
	}
	_, sig, ok := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	if !ok {
		return "", fmt.Errorf("sigv4: sign gave no signature")
	}
	return sig, nil
}

// rawPath is the path exactly as the client sent it, which is what S3 clients
// sign (they escape the key once, and S3 does not escape it again).
func rawPath(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}
