package s3server

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/imagepipe/imagepipe/local/sigv4"
)

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// apiCode is the AWS error code of an SDK error, or "" if there is none.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// xmlError is what a raw HTTP client sees of S3's error document.
type xmlError struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
	raw     []byte   // the whole body
}

// send does a raw request and returns the status and, for an error, the
// parsed S3 error document.
func send(t *testing.T, req *http.Request) (*http.Response, xmlError) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	e := xmlError{raw: body}
	if resp.StatusCode >= 300 {
		if err := xml.Unmarshal(body, &e); err != nil {
			t.Fatalf("%s %s: status %d with a body that is not S3's XML error: %q", req.Method, req.URL, resp.StatusCode, body)
		}
	}
	return resp, e
}

func (e *testEnv) exists(t *testing.T, key string) bool {
	t.Helper()
	_, err := e.client(testSecret).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err == nil {
		return true
	}
	var nf *s3types.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("HeadObject %s: %v", key, err)
	}
	return false
}

func TestSDKRoundTrip(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "http"
		if useTLS {
			// Over TLS the SDK sends UNSIGNED-PAYLOAD and can send a body it
			// cannot seek.
			name = "https"
		}
		t.Run(name, func(t *testing.T) { testSDKRoundTrip(t, startEnv(t, "", useTLS), useTLS) })
	}
}

func testSDKRoundTrip(t *testing.T, e *testEnv, useTLS bool) {
	ctx := context.Background()
	cli := e.client(testSecret)
	body := []byte("0123456789 grayscale me")
	key := "uploads/a b+c.jpg"

	_, err := cli.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(testBucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("image/jpeg"),
		Metadata:    map[string]string{"source-etag": "abc123"},
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}

	got, err := cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	data, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(data, body) {
		t.Fatalf("GetObject body = %q, want %q", data, body)
	}
	if aws.ToString(got.ETag) != `"`+md5hex(body)+`"` {
		t.Fatalf("ETag = %s, want the MD5 %q", aws.ToString(got.ETag), md5hex(body))
	}
	if aws.ToString(got.ContentType) != "image/jpeg" || got.Metadata["source-etag"] != "abc123" {
		t.Fatalf("content type %q, metadata %v", aws.ToString(got.ContentType), got.Metadata)
	}
	if aws.ToString(got.ContentEncoding) != "" {
		t.Fatalf("Content-Encoding %q stored: the aws-chunked framing leaked", aws.ToString(got.ContentEncoding))
	}

	rng, err := cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Range: aws.String("bytes=2-5")})
	if err != nil {
		t.Fatalf("GetObject with Range: %v", err)
	}
	part, _ := io.ReadAll(rng.Body)
	rng.Body.Close()
	if string(part) != "2345" || aws.ToString(rng.ContentRange) != "bytes 2-5/23" {
		t.Fatalf("range body %q, Content-Range %q", part, aws.ToString(rng.ContentRange))
	}

	head, err := cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if aws.ToInt64(head.ContentLength) != int64(len(body)) || head.Metadata["source-etag"] != "abc123" {
		t.Fatalf("HeadObject length %d metadata %v", aws.ToInt64(head.ContentLength), head.Metadata)
	}

	_, err = cli.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String("processed/copy.jpg"),
		CopySource: aws.String(testBucket + "/uploads/a%20b%2Bc.jpg"),
	})
	if err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if _, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("uploads/empty"), Body: bytes.NewReader(nil)}); err != nil {
		t.Fatalf("PutObject of an empty object: %v", err)
	}

	// A body the SDK cannot seek (and so cannot hash): only over TLS.
	stream := bytes.Repeat([]byte("chunk"), 20000)
	if !useTLS {
		stream = []byte("seekable")
	}
	var streamBody io.Reader = bytes.NewReader(stream)
	if useTLS {
		streamBody = struct{ io.Reader }{streamBody}
	}
	if _, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("uploads/stream"),
		Body: streamBody, ContentLength: aws.Int64(int64(len(stream)))}); err != nil {
		t.Fatalf("PutObject of uploads/stream: %v", err)
	}
	if got := e.getObject(t, "uploads/stream"); !bytes.Equal(got, stream) {
		t.Fatalf("uploads/stream stored as %d bytes, want %d", len(got), len(stream))
	}

	list, err := cli.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String("uploads/")})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, ",") != key+",uploads/empty,uploads/stream" {
		t.Fatalf("ListObjectsV2 keys = %v", keys)
	}

	evs := e.hooks.all()
	want := []ObjectCreated{
		{Bucket: testBucket, Key: key, Size: int64(len(body)), ETag: md5hex(body), Reason: ReasonPutObject},
		{Bucket: testBucket, Key: "processed/copy.jpg", Size: int64(len(body)), ETag: md5hex(body), Reason: ReasonCopyObject},
		{Bucket: testBucket, Key: "uploads/empty", Size: 0, ETag: md5hex(nil), Reason: ReasonPutObject},
		{Bucket: testBucket, Key: "uploads/stream", Size: int64(len(stream)), ETag: md5hex(stream), Reason: ReasonPutObject},
	}
	if len(evs) != len(want) {
		t.Fatalf("hook calls = %+v, want %d", evs, len(want))
	}
	for i, ev := range evs {
		if ev.SourceIP != "127.0.0.1" || ev.RequestID == "" || ev.Sequencer == "" {
			t.Errorf("event %d: source ip %q, request id %q, sequencer %q", i, ev.SourceIP, ev.RequestID, ev.Sequencer)
		}
		if i > 0 && !(ev.Sequencer > evs[i-1].Sequencer) {
			t.Errorf("sequencer %s does not increase after %s", ev.Sequencer, evs[i-1].Sequencer)
		}
		ev.SourceIP, ev.RequestID, ev.Sequencer = "", "", ""
		if ev != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, ev, want[i])
		}
	}

	del, err := cli.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(testBucket), Delete: &s3types.Delete{
		Objects: []s3types.ObjectIdentifier{{Key: aws.String("processed/copy.jpg")}, {Key: aws.String("uploads/empty")}},
	}})
	if err != nil || len(del.Deleted) != 2 {
		t.Fatalf("DeleteObjects: %v (deleted %d)", err, len(del.Deleted))
	}
	if _, err := cli.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	for _, k := range []string{key, "processed/copy.jpg", "uploads/empty"} {
		if e.exists(t, k) {
			t.Errorf("%s still exists after delete", k)
		}
	}
	if _, err := cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)}); apiCode(err) != "NoSuchKey" {
		t.Fatalf("GetObject after delete: %v, want NoSuchKey", err)
	}
}

func TestWrongSecretRefused(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	bad := e.client("not-the-secret")
	_, err := bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: strings.NewReader("x")})
	if apiCode(err) != "SignatureDoesNotMatch" {
		t.Fatalf("PutObject with a wrong secret: %v, want SignatureDoesNotMatch", err)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
		t.Fatalf("PutObject with a wrong secret: %v, want HTTP 403", err)
	}
	if _, err := bad.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)}); apiCode(err) != "SignatureDoesNotMatch" {
		t.Fatalf("ListObjectsV2 with a wrong secret: %v", err)
	}
	if e.exists(t, "k") {
		t.Fatal("object stored by a request with a wrong secret")
	}
	if n := len(e.hooks.all()); n != 0 {
		t.Fatalf("hook called %d times for refused requests", n)
	}
}

func TestPresignedPut(t *testing.T) {
	body := []byte("\xff\xd8\xff\xe0 pretend jpeg bytes")
	presign := func(t *testing.T, e *testEnv, key string) string {
		t.Helper()
		req, err := s3.NewPresignClient(e.client(testSecret)).PresignPutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(testBucket), Key: aws.String(key),
			ContentType: aws.String("image/jpeg"), ContentLength: aws.Int64(int64(len(body))),
		}, s3.WithPresignExpires(300*time.Second))
		if err != nil {
			t.Fatalf("PresignPutObject: %v", err)
		}
		if got := req.SignedHeader.Get("Content-Type"); got != "image/jpeg" {
			t.Fatalf("signed Content-Type = %q", got)
		}
		return req.URL
	}
	put := func(t *testing.T, url, contentType string, data []byte) *http.Request {
		t.Helper()
		req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		return req
	}

	t.Run("accepted", func(t *testing.T) {
		e := newEnv(t, "")
		resp, _ := send(t, put(t, presign(t, e, "uploads/ok.jpg"), "image/jpeg", body))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		if resp.Header.Get("ETag") != `"`+md5hex(body)+`"` {
			t.Fatalf("ETag %q", resp.Header.Get("ETag"))
		}
		if got := e.getObject(t, "uploads/ok.jpg"); !bytes.Equal(got, body) {
			t.Fatalf("stored %q", got)
		}
		evs := e.hooks.all()
		if len(evs) != 1 || evs[0].Key != "uploads/ok.jpg" || evs[0].Size != int64(len(body)) || evs[0].Reason != ReasonPutObject {
			t.Fatalf("hook calls %+v", evs)
		}
	})

	tests := []struct {
		name   string
		do     func(t *testing.T, e *testEnv, url string) *http.Request
		code   string
		status int
	}{
		{"tampered signature", func(t *testing.T, e *testEnv, url string) *http.Request {
			i := strings.Index(url, "X-Amz-Signature=") + len("X-Amz-Signature=")
			flip := "0"
			if url[i] == '0' {
				flip = "1"
			}
			return put(t, url[:i]+flip+url[i+1:], "image/jpeg", body)
		}, "SignatureDoesNotMatch", 403},
		{"expired", func(t *testing.T, e *testEnv, url string) *http.Request {
			e.clock.Advance(301 * time.Second)
			return put(t, url, "image/jpeg", body)
		}, "AccessDenied", 403},
		{"other content type", func(t *testing.T, e *testEnv, url string) *http.Request {
			return put(t, url, "image/png", body)
		}, "SignatureDoesNotMatch", 403},
		{"no content type", func(t *testing.T, e *testEnv, url string) *http.Request {
			return put(t, url, "", body)
		}, "SignatureDoesNotMatch", 403},
		{"longer body", func(t *testing.T, e *testEnv, url string) *http.Request {
			return put(t, url, "image/jpeg", append(append([]byte{}, body...), "more"...))
		}, "SignatureDoesNotMatch", 403},
		{"shorter body", func(t *testing.T, e *testEnv, url string) *http.Request {
			return put(t, url, "image/jpeg", body[:5])
		}, "SignatureDoesNotMatch", 403},
		{"other key", func(t *testing.T, e *testEnv, url string) *http.Request {
			return put(t, strings.Replace(url, "/uploads/x.jpg?", "/uploads/y.jpg?", 1), "image/jpeg", body)
		}, "SignatureDoesNotMatch", 403},
		{"anonymous", func(t *testing.T, e *testEnv, url string) *http.Request {
			plain, _, _ := strings.Cut(url, "?")
			return put(t, plain, "image/jpeg", body)
		}, "AccessDenied", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "")
			resp, xe := send(t, tt.do(t, e, presign(t, e, "uploads/x.jpg")))
			if resp.StatusCode != tt.status || xe.Code != tt.code {
				t.Fatalf("status %d code %q (%s), want %d %s", resp.StatusCode, xe.Code, xe.Message, tt.status, tt.code)
			}
			if tt.name == "expired" && xe.Message != "Request has expired" {
				t.Fatalf("message %q, want \"Request has expired\"", xe.Message)
			}
			e.clock.Reset()
			for _, k := range []string{"uploads/x.jpg", "uploads/y.jpg"} {
				if e.exists(t, k) {
					t.Fatalf("%s stored by a refused request", k)
				}
			}
			if n := len(e.hooks.all()); n != 0 {
				t.Fatalf("hook called %d times for a refused request", n)
			}
		})
	}
}

func TestPresignedGet(t *testing.T) {
	e := newEnv(t, "")
	cli := e.client(testSecret)
	if _, err := cli.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("processed/i/gray.png"), Body: strings.NewReader("png")}); err != nil {
		t.Fatal(err)
	}
	req, err := s3.NewPresignClient(cli).PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("processed/i/gray.png")})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, req.URL, nil)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "png" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, b)
	}
}

func TestBodyChecks(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	cli := e.client(testSecret)

	// A wrong Content-MD5 is refused before anything is written.
	_, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("md5"), Body: strings.NewReader("data"),
		ContentMD5: aws.String("1B2M2Y8AsgTpgAmY7PhCfg==")})
	if apiCode(err) != "BadDigest" {
		t.Fatalf("PutObject with a wrong Content-MD5: %v, want BadDigest", err)
	}
	// A wrong x-amz-checksum-crc32 too.
	_, err = cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("crc"), Body: strings.NewReader("data"),
		ChecksumCRC32: aws.String("AAAAAA==")})
	if apiCode(err) != "BadDigest" {
		t.Fatalf("PutObject with a wrong CRC32: %v, want BadDigest", err)
	}
	// An object sub-resource gofakes3 does not know is refused, not stored
	// as the object's new content.
	if _, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("tagged"), Body: strings.NewReader("image")}); err != nil {
		t.Fatal(err)
	}
	_, err = cli.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(testBucket), Key: aws.String("tagged"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
	if apiCode(err) != "NotImplemented" {
		t.Fatalf("PutObjectTagging: %v, want NotImplemented", err)
	}
	if got := e.getObject(t, "tagged"); string(got) != "image" {
		t.Fatalf("object content after PutObjectTagging = %q", got)
	}
	for _, k := range []string{"md5", "crc"} {
		if e.exists(t, k) {
			t.Errorf("%s stored despite a bad digest", k)
		}
	}
	if evs := e.hooks.all(); len(evs) != 1 || evs[0].Key != "tagged" {
		t.Fatalf("hook calls %+v, want only the put of tagged", evs)
	}
	// No spooled body is left behind.
	left, _ := os.ReadDir(filepath.Join(e.dir, "tmp"))
	if len(left) != 0 {
		t.Fatalf("%d files left in tmp", len(left))
	}
}

func TestHookFailureIs500(t *testing.T) {
	e := newEnv(t, "")
	e.hooks.fail = errors.New("event bus down")
	_, err := e.client(testSecret).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: strings.NewReader("x")})
	if apiCode(err) != "InternalError" {
		t.Fatalf("PutObject with a failing hook: %v, want InternalError", err)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
		t.Fatalf("PutObject with a failing hook: %v, want HTTP 500", err)
	}
	if n := len(e.hooks.all()); n != 1 {
		t.Fatalf("hook called %d times, want 1", n)
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t, "")
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.http.URL+"/"+testBucket+"/uploads/x.jpg?X-Amz-Signature=abc", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "PUT")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, _ := send(t, req)
		return resp
	}
	resp := preflight(testOrigin)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != testOrigin ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-type") {
		t.Fatalf("preflight from the page: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("http://evil.example"); resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %d %v", resp.StatusCode, resp.Header)
	}

	// The actual request: ETag is readable by the page, nothing for others.
	req, err := s3.NewPresignClient(e.client(testSecret)).PresignPutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String("uploads/cors.jpg"), ContentType: aws.String("image/jpeg"), ContentLength: aws.Int64(3),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, origin := range []string{testOrigin, "http://evil.example"} {
		r, _ := http.NewRequest(http.MethodPut, req.URL, strings.NewReader("abc"))
		r.Header.Set("Content-Type", "image/jpeg")
		r.Header.Set("Origin", origin)
		resp, _ := send(t, r)
		if resp.StatusCode != 200 {
			t.Fatalf("PUT from %s: %d", origin, resp.StatusCode)
		}
		acao := resp.Header.Get("Access-Control-Allow-Origin")
		if origin == testOrigin && (acao != testOrigin || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag")) {
			t.Fatalf("PUT from the page: CORS headers %v", resp.Header)
		}
		if origin != testOrigin && acao != "" {
			t.Fatalf("PUT from %s: Access-Control-Allow-Origin %q", origin, acao)
		}
	}
	// A refused request from the page still carries CORS, so the page can
	// read the error.
	r, _ := http.NewRequest(http.MethodPut, e.http.URL+"/"+testBucket+"/uploads/anon.jpg", strings.NewReader("abc"))
	r.Header.Set("Origin", testOrigin)
	if resp, xe := send(t, r); resp.StatusCode != 403 || xe.Code != "AccessDenied" || resp.Header.Get("Access-Control-Allow-Origin") != testOrigin {
		t.Fatalf("anonymous PUT from the page: %d %s %v", resp.StatusCode, xe.Code, resp.Header)
	}
}

func TestRestartKeepsObjects(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	ctx := context.Background()
	body := []byte("kept across restarts")
	if _, err := e.client(testSecret).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String("processed/id/gray.png"), Body: bytes.NewReader(body),
		ContentType: aws.String("image/png"), Metadata: map[string]string{"source-etag": "0123abcd"},
	}); err != nil {
		t.Fatal(err)
	}
	e.http.Close()

	e2 := newEnv(t, dir) // a new Server on the same directory
	head, err := e2.client(testSecret).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("processed/id/gray.png")})
	if err != nil {
		t.Fatalf("HeadObject after restart: %v", err)
	}
	if aws.ToString(head.ETag) != `"`+md5hex(body)+`"` || head.Metadata["source-etag"] != "0123abcd" || aws.ToString(head.ContentType) != "image/png" {
		t.Fatalf("after restart: ETag %s, metadata %v, content type %s", aws.ToString(head.ETag), head.Metadata, aws.ToString(head.ContentType))
	}
	if got := e2.getObject(t, "processed/id/gray.png"); !bytes.Equal(got, body) {
		t.Fatalf("after restart: body %q", got)
	}
	list, err := e2.client(testSecret).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].ETag) != `"`+md5hex(body)+`"` {
		t.Fatalf("list after restart: %v %+v", err, list)
	}
}

// signed builds a request signed by the SDK's signer with the test key, the
// way an SDK would send it.
func (e *testEnv) signed(t *testing.T, method, key, body, payloadHash string, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+"/"+testBucket+"/"+key, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
	if err := signer.SignHTTP(context.Background(), creds, req, payloadHash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRawBodies(t *testing.T) {
	chunked := http.Header{
		"Content-Encoding":             {"aws-chunked"},
		"X-Amz-Decoded-Content-Length": {"11"},
		"X-Amz-Trailer":                {"x-amz-checksum-crc32"},
		"Content-Type":                 {"text/plain"},
	}
	tests := []struct {
		name        string
		key         string
		body        string
		payloadHash string
		header      http.Header
		status      int
		code        string
	}{
		{"aws-chunked with a good crc32 trailer", "good", "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n",
			sigv4.StreamingUnsignedPayloadTrailer, chunked, 200, ""},
		{"aws-chunked with a wrong crc32 trailer", "badcrc", "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
			sigv4.StreamingUnsignedPayloadTrailer, chunked, 400, "BadDigest"},
		{"aws-chunked shorter than declared", "short", "5\r\nhello\r\n0\r\n\r\n",
			sigv4.StreamingUnsignedPayloadTrailer, chunked, 400, "IncompleteBody"},
		{"aws-chunked without its declared trailer", "notrailer", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
			sigv4.StreamingUnsignedPayloadTrailer, chunked, 400, "MalformedTrailerError"},
		{"aws-chunked garbage", "garbage", "zz\r\nhello\r\n",
			sigv4.StreamingUnsignedPayloadTrailer, chunked, 400, "InvalidRequest"},
		{"payload not matching its signed hash", "badhash", "hello world",
			"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde8", nil, 400, "XAmzContentSHA256Mismatch"},
		{"payload matching its signed hash", "goodhash", "hello world",
			"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9", nil, 200, ""},
	}
	e := newEnv(t, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.hooks.all())
			resp, xe := send(t, e.signed(t, http.MethodPut, tt.key, tt.body, tt.payloadHash, tt.header))
			if resp.StatusCode != tt.status || xe.Code != tt.code {
				t.Fatalf("status %d %s (%s), want %d %s", resp.StatusCode, xe.Code, xe.Message, tt.status, tt.code)
			}
			if tt.status != 200 {
				if e.exists(t, tt.key) {
					t.Fatal("refused body stored")
				}
				if len(e.hooks.all()) != before {
					t.Fatal("hook called for a refused body")
				}
				return
			}
			if got := e.getObject(t, tt.key); string(got) != "hello world" {
				t.Fatalf("stored %q", got)
			}
		})
	}
}

func TestSDKMultipart(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	cli := e.client(testSecret)
	key := "uploads/multi.bin"
	parts := [][]byte{bytes.Repeat([]byte("p1"), 3<<20), []byte("last part")} // 6 MiB + a tail
	var whole []byte
	for _, p := range parts {
		whole = append(whole, p...)
	}

	up, err := cli.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key),
		ContentType: aws.String("application/octet-stream"), Metadata: map[string]string{"origin": "sdk"}})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var done []s3types.CompletedPart
	for i, p := range parts {
		out, err := cli.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		done = append(done, s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if len(e.hooks.all()) != 0 {
		t.Fatalf("hook called before the upload completed: %+v", e.hooks.all())
	}
	// A full-object checksum header on CompleteMultipartUpload describes the
	// object, not the XML body: it must not be checked against the body.
	out, err := cli.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: done},
		ChecksumType: s3types.ChecksumTypeFullObject, ChecksumCRC64NVME: aws.String("AAAAAAAAAAA=")})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	etag := strings.Trim(aws.ToString(out.ETag), `"`)
	if !strings.HasSuffix(etag, "-2") {
		t.Fatalf("multipart ETag %q, want S3's <md5 of part md5s>-2", etag)
	}
	if got := e.getObject(t, key); !bytes.Equal(got, whole) {
		t.Fatalf("assembled object has %d bytes, want %d", len(got), len(whole))
	}
	head, err := cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil || head.Metadata["origin"] != "sdk" || aws.ToString(head.ContentType) != "application/octet-stream" {
		t.Fatalf("HeadObject: %v %+v", err, head)
	}
	evs := e.hooks.all()
	if len(evs) != 1 || evs[0].Reason != ReasonCompleteMultipartUpload || evs[0].Size != int64(len(whole)) || evs[0].ETag != etag || evs[0].Key != key {
		t.Fatalf("hook calls %+v, want one CompleteMultipartUpload of %d bytes with ETag %s", evs, len(whole), etag)
	}
}

// TestOverwriteReplacesMetadata: S3 replaces an object's metadata on PUT.
func TestOverwriteReplacesMetadata(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	cli := e.client(testSecret)
	put := func(meta map[string]string, contentType string) {
		t.Helper()
		in := &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: strings.NewReader("v"), Metadata: meta}
		if contentType != "" {
			in.ContentType = aws.String(contentType)
		}
		if _, err := cli.PutObject(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	put(map[string]string{"a": "1", "b": "2"}, "image/png")
	put(map[string]string{"a": "3"}, "image/jpeg")
	head, err := cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	if len(head.Metadata) != 1 || head.Metadata["a"] != "3" || aws.ToString(head.ContentType) != "image/jpeg" {
		t.Fatalf("after overwrite: metadata %v, content type %s; want only a=3, image/jpeg", head.Metadata, aws.ToString(head.ContentType))
	}
	// A copy replaces the destination's metadata with the source's.
	put(map[string]string{"c": "4"}, "")
	if _, err := cli.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k2"), CopySource: aws.String(testBucket + "/k")}); err != nil {
		t.Fatal(err)
	}
	head, err = cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k2")})
	if err != nil || len(head.Metadata) != 1 || head.Metadata["c"] != "4" {
		t.Fatalf("copy: %v metadata %v, want only c=4", err, head.Metadata)
	}
}

// TestMultipartSurvivesRestart: parts uploaded before a restart complete
// after it; listing and aborting uploads work.
func TestMultipartSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	ctx := context.Background()
	cli := e.client(testSecret)
	key := "uploads/resumed.bin"
	part1 := bytes.Repeat([]byte{1}, 5<<20)
	part2 := []byte("tail")

	up, err := cli.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := cli.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("uploads/abandoned")})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := cli.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(part1)})
	if err != nil {
		t.Fatal(err)
	}
	e.http.Close()

	e2 := newEnv(t, dir)
	cli = e2.client(testSecret)
	list, err := cli.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(testBucket)})
	if err != nil || len(list.Uploads) != 2 || aws.ToString(list.Uploads[0].Key) != "uploads/abandoned" || aws.ToString(list.Uploads[1].UploadId) != aws.ToString(up.UploadId) {
		t.Fatalf("ListMultipartUploads after restart: %v %+v", err, list)
	}
	parts, err := cli.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId})
	if err != nil || len(parts.Parts) != 1 || aws.ToString(parts.Parts[0].ETag) != aws.ToString(p1.ETag) || aws.ToInt64(parts.Parts[0].Size) != int64(len(part1)) {
		t.Fatalf("ListParts after restart: %v %+v", err, parts)
	}
	if _, err := cli.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String("uploads/other-key"), UploadId: up.UploadId,
		PartNumber: aws.Int32(2), Body: bytes.NewReader(part2)}); apiCode(err) != "NoSuchUpload" {
		t.Fatalf("UploadPart to another key with this upload id: %v, want NoSuchUpload", err)
	}
	p2, err := cli.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(2), Body: bytes.NewReader(part2)})
	if err != nil {
		t.Fatal(err)
	}
	complete := func(parts ...s3types.CompletedPart) error {
		_, err := cli.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId,
			MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
		return err
	}
	first := s3types.CompletedPart{PartNumber: aws.Int32(1), ETag: p1.ETag}
	second := s3types.CompletedPart{PartNumber: aws.Int32(2), ETag: p2.ETag}
	if err := complete(second, first); apiCode(err) != "InvalidPartOrder" {
		t.Fatalf("complete with parts out of order: %v, want InvalidPartOrder", err)
	}
	if err := complete(first, s3types.CompletedPart{PartNumber: aws.Int32(2), ETag: p1.ETag}); apiCode(err) != "InvalidPart" {
		t.Fatalf("complete with a wrong part ETag: %v, want InvalidPart", err)
	}
	if len(e2.hooks.all()) != 0 {
		t.Fatal("hook called by a refused CompleteMultipartUpload")
	}
	if err := complete(first, second); err != nil {
		t.Fatalf("CompleteMultipartUpload after restart: %v", err)
	}
	if got := e2.getObject(t, key); !bytes.Equal(got, append(append([]byte{}, part1...), part2...)) {
		t.Fatalf("assembled %d bytes, want %d", len(got), len(part1)+len(part2))
	}
	if evs := e2.hooks.all(); len(evs) != 1 || evs[0].Reason != ReasonCompleteMultipartUpload || evs[0].Size != int64(len(part1)+len(part2)) {
		t.Fatalf("hook calls %+v", evs)
	}
	if err := complete(first, second); apiCode(err) != "NoSuchUpload" {
		t.Fatalf("completing twice: %v, want NoSuchUpload", err)
	}

	if _, err := cli.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("uploads/abandoned"), UploadId: other.UploadId}); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	list, err = cli.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(testBucket)})
	if err != nil || len(list.Uploads) != 0 {
		t.Fatalf("ListMultipartUploads after complete and abort: %v %+v", err, list.Uploads)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "multipart")); len(left) != 0 {
		t.Fatalf("%d upload directories left", len(left))
	}
}
