package sigv4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func newTestSigner(service string) *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
}

// The key pair and time of the examples in the S3 SigV4 documentation
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html,
// sigv4-query-string-auth.html, sigv4-streaming.html, sigv4-streaming-trailers.html).
// The expected signatures below are the ones AWS publishes.
const (
	exampleKey    = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	exampleDate   = "20130524T000000Z"
	emptyHash     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

var exampleTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func exampleVerifier(now time.Time) *Verifier {
	return &Verifier{
		Credentials: StaticCredentials(exampleKey, exampleSecret),
		Now:         func() time.Time { return now },
	}
}

func authHeader(signedHeaders, signature string) string {
	return "AWS4-HMAC-SHA256 Credential=" + exampleKey + "/20130524/us-east-1/s3/aws4_request,SignedHeaders=" +
		signedHeaders + ",Signature=" + signature
}

// docGet is AWS's GET Object example with a Range header.
func docGet() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/test.txt", nil)
	r.Host = "examplebucket.s3.amazonaws.com"
	r.Header.Set("Range", "bytes=0-9")
	r.Header.Set("X-Amz-Content-Sha256", emptyHash)
	r.Header.Set("X-Amz-Date", exampleDate)
	r.Header.Set("Authorization", authHeader("host;range;x-amz-content-sha256;x-amz-date",
		"f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))
	return r
}

// docPut is AWS's PUT Object example: a key needing escaping and a signed
// payload hash.
func docPut(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPut, "/test%24file.text", strings.NewReader(body))
	r.Host = "examplebucket.s3.amazonaws.com"
	r.Header.Set("Date", "Fri, 24 May 2013 00:00:00 GMT")
	r.Header.Set("X-Amz-Date", exampleDate)
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("X-Amz-Content-Sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
	r.Header.Set("Authorization", authHeader("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
		"98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
	return r
}

// docPresigned is AWS's presigned GET example (valid 86400 s).
func docPresigned() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"+
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"+
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"+
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404", nil)
	r.Host = "examplebucket.s3.amazonaws.com"
	return r
}

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want *sigv4.Error %s", err, code)
	}
	if e.Code != code || e.Status != status {
		t.Fatalf("error = %s (%d) %q, want %s (%d)", e.Code, e.Status, e.Message, code, status)
	}
}

func TestVerifyAWSExamples(t *testing.T) {
	tests := []struct {
		name      string
		req       func() *http.Request
		presigned bool
	}{
		{"GET object with Range", docGet, false},
		{"PUT object with signed payload", func() *http.Request { return docPut("Welcome to Amazon S3.") }, false},
		{"presigned GET", docPresigned, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := exampleVerifier(exampleTime).Verify(tt.req(), "s3")
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Identity{AccessKeyID: exampleKey, Region: "us-east-1", Presigned: tt.presigned}
			if *id != want {
				t.Fatalf("identity = %+v, want %+v", *id, want)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	tests := []struct {
		name   string
		req    func() *http.Request
		now    time.Time
		code   string
		status int
	}{
		{"anonymous", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/test.txt", nil) },
			exampleTime, CodeMissingAuthenticationToken, 403},
		{"tampered signature", func() *http.Request {
			r := docGet()
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Signature=f0", "Signature=f1", 1))
			return r
		}, exampleTime, CodeSignatureDoesNotMatch, 403},
		{"signed header changed", func() *http.Request {
			r := docGet()
			r.Header.Set("Range", "bytes=0-10")
			return r
		}, exampleTime, CodeSignatureDoesNotMatch, 403},
		{"signed header missing", func() *http.Request {
			r := docGet()
			r.Header.Del("Range")
			return r
		}, exampleTime, CodeSignatureDoesNotMatch, 403},
		{"unsigned x-amz header", func() *http.Request {
			r := docGet()
			r.Header.Set("X-Amz-Meta-Extra", "1")
			return r
		}, exampleTime, CodeAccessDenied, 403},
		{"other path", func() *http.Request {
			r := docGet()
			r.URL.Path, r.RequestURI = "/test2.txt", "/test2.txt"
			return r
		}, exampleTime, CodeSignatureDoesNotMatch, 403},
		{"other host", func() *http.Request {
			r := docGet()
			r.Host = "otherbucket.s3.amazonaws.com"
			return r
		}, exampleTime, CodeSignatureDoesNotMatch, 403},
		{"unknown access key", func() *http.Request {
			r := docGet()
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), exampleKey, "AKIAUNKNOWN", 1))
			return r
		}, exampleTime, CodeInvalidAccessKeyID, 403},
		{"clock skew past 15 minutes", docGet, exampleTime.Add(16 * time.Minute), CodeRequestTimeTooSkewed, 403},
		{"clock skew before 15 minutes", docGet, exampleTime.Add(-16 * time.Minute), CodeRequestTimeTooSkewed, 403},
		{"scope date differs from X-Amz-Date", func() *http.Request {
			r := docGet()
			r.Header.Set("X-Amz-Date", "20130525T000000Z")
			return r
		}, exampleTime.Add(24 * time.Hour), CodeAuthorizationHeaderMalformed, 400},
		{"other service", func() *http.Request {
			r := docGet()
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/s3/", "/events/", 1))
			return r
		}, exampleTime, CodeAuthorizationHeaderMalformed, 400},
		{"presigned after expiry", docPresigned, exampleTime.Add(86400*time.Second + time.Second), CodeAccessDenied, 403},
		{"presigned tampered", func() *http.Request {
			r := docPresigned()
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "Signature=ae", "Signature=af", 1)
			return r
		}, exampleTime, CodeSignatureDoesNotMatch, 403},
		{"presigned longer expiry", func() *http.Request {
			r := docPresigned()
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=86400", "X-Amz-Expires=86401", 1)
			return r
		}, exampleTime, CodeSignatureDoesNotMatch, 403},
		{"presigned expiry over a week", func() *http.Request {
			r := docPresigned()
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=86400", "X-Amz-Expires=604801", 1)
			return r
		}, exampleTime, CodeAuthorizationQueryParametersError, 400},
		{"presigned without expiry", func() *http.Request {
			r := docPresigned()
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "&X-Amz-Expires=86400", "", 1)
			return r
		}, exampleTime, CodeAuthorizationQueryParametersError, 400},
		{"presigned with an unsigned x-amz header", func() *http.Request {
			r := docPresigned()
			r.Header.Set("X-Amz-Acl", "public-read")
			return r
		}, exampleTime, CodeAccessDenied, 403},
		{"header and query auth", func() *http.Request {
			r := docPresigned()
			r.Header.Set("Authorization", docGet().Header.Get("Authorization"))
			return r
		}, exampleTime, CodeInvalidArgument, 400},
		{"unknown payload hash keyword", func() *http.Request {
			r := docGet()
			r.Header.Set("X-Amz-Content-Sha256", "NOT-A-HASH")
			return r
		}, exampleTime, CodeInvalidArgument, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := exampleVerifier(tt.now).Verify(tt.req(), "s3")
			wantCode(t, err, tt.code, tt.status)
		})
	}
}

func TestVerifyPayloadHash(t *testing.T) {
	r := docPut("Welcome to Amazon S3.")
	if _, err := exampleVerifier(exampleTime).Verify(r, "s3"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if b, err := io.ReadAll(r.Body); err != nil || string(b) != "Welcome to Amazon S3." {
		t.Fatalf("body = %q, %v", b, err)
	}

	// The signature only covers the claimed hash: a different body with the
	// same headers verifies, and reading it to the end reports the mismatch.
	r = docPut("Welcome to Amazon S4.")
	if _, err := exampleVerifier(exampleTime).Verify(r, "s3"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	_, err := io.ReadAll(r.Body)
	wantCode(t, err, CodeXAmzContentSHA256Mismatch, 400)
}

const (
	streamingSeed      = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	trailerSeed        = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
	trailerSignature   = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
	streamingSignedHdr = "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class"
	trailerSignedHdr   = "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer"
)

// chunkedBody builds the body of AWS's streaming examples: 65536 and 1024
// bytes of 'a', then the empty chunk, with the given chunk signatures.
func chunkedBody(sigs [3]string, trailer string, corrupt bool) string {
	var b strings.Builder
	for i, size := range []int{65536, 1024, 0} {
		b.WriteString(strconv.FormatInt(int64(size), 16))
		b.WriteString(";chunk-signature=" + sigs[i] + "\r\n")
		data := bytes.Repeat([]byte("a"), size)
		if corrupt && size == 1024 {
			data[100] = 'b'
		}
		b.Write(data)
		if size > 0 {
			b.WriteString("\r\n")
		}
	}
	if trailer != "" {
		b.WriteString(trailer)
	}
	b.WriteString("\r\n")
	return b.String()
}

func streamingRequest(mode, signedHeaders, seed, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPut, "/examplebucket/chunkObject.txt", strings.NewReader(body))
	r.Host = "s3.amazonaws.com"
	r.Header.Set("X-Amz-Date", exampleDate)
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("X-Amz-Content-Sha256", mode)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	r.Header.Set("Content-Length", "66824")
	if mode == StreamingSignedPayloadTrailer {
		r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32c")
	}
	r.Header.Set("Authorization", authHeader(signedHeaders, seed))
	return r
}

func TestVerifyStreamingSignedPayload(t *testing.T) {
	sigs := [3]string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	r := streamingRequest(StreamingSignedPayload, streamingSignedHdr, streamingSeed, chunkedBody(sigs, "", false))
	if _, err := exampleVerifier(exampleTime).Verify(r, "s3"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("read decoded body: %v", err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte("a"), 66560)) {
		t.Fatalf("decoded %d bytes, want 66560 'a'", len(got))
	}
	if r.ContentLength != 66560 || r.Header.Get("Content-Length") != "66560" || r.Header.Get("Content-Encoding") != "" ||
		r.Header.Get("X-Amz-Content-Sha256") != UnsignedPayload {
		t.Fatalf("headers after decoding: length %d %q, encoding %q, sha256 %q", r.ContentLength,
			r.Header.Get("Content-Length"), r.Header.Get("Content-Encoding"), r.Header.Get("X-Amz-Content-Sha256"))
	}

	t.Run("corrupted chunk", func(t *testing.T) {
		r := streamingRequest(StreamingSignedPayload, streamingSignedHdr, streamingSeed, chunkedBody(sigs, "", true))
		if _, err := exampleVerifier(exampleTime).Verify(r, "s3"); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		_, err := io.ReadAll(r.Body)
		wantCode(t, err, CodeSignatureDoesNotMatch, 403)
	})
	t.Run("chunks reordered", func(t *testing.T) {
		swapped := [3]string{sigs[1], sigs[0], sigs[2]}
		r := streamingRequest(StreamingSignedPayload, streamingSignedHdr, streamingSeed, chunkedBody(swapped, "", false))
		if _, err := exampleVerifier(exampleTime).Verify(r, "s3"); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		_, err := io.ReadAll(r.Body)
		wantCode(t, err, CodeSignatureDoesNotMatch, 403)
	})
	t.Run("truncated", func(t *testing.T) {
		body := chunkedBody(sigs, "", false)
		r := streamingRequest(StreamingSignedPayload, streamingSignedHdr, streamingSeed, body[:66000])
		if _, err := exampleVerifier(exampleTime).Verify(r, "s3"); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		_, err := io.ReadAll(r.Body)
		wantCode(t, err, CodeIncompleteBody, 400)
	})
	t.Run("decoded length lie", func(t *testing.T) {
		r := streamingRequest(StreamingSignedPayload, streamingSignedHdr, streamingSeed, chunkedBody(sigs, "", false))
		r.Header.Set("X-Amz-Decoded-Content-Length", "66561")
		if _, err := exampleVerifier(exampleTime).Verify(r, "s3"); err == nil {
			t.Fatal("Verify accepted a changed signed x-amz-decoded-content-length")
		}
	})
}

func TestVerifyStreamingSignedTrailer(t *testing.T) {
	sigs := [3]string{
		"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
		"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
		"2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
	}
	trailer := "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" + trailerSignature + "\r\n"
	r := streamingRequest(StreamingSignedPayloadTrailer, trailerSignedHdr, trailerSeed, chunkedBody(sigs, trailer, false))
	if _, err := exampleVerifier(exampleTime).Verify(r, "s3"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("read decoded body: %v", err)
	}
	if len(got) != 66560 {
		t.Fatalf("decoded %d bytes, want 66560", len(got))
	}
	if v := r.Trailer.Get("X-Amz-Checksum-Crc32c"); v != "sOO8/Q==" {
		t.Fatalf("trailer x-amz-checksum-crc32c = %q, want sOO8/Q==", v)
	}

	t.Run("tampered trailer", func(t *testing.T) {
		bad := strings.Replace(trailer, "sOO8/Q==", "AAAAAA==", 1)
		r := streamingRequest(StreamingSignedPayloadTrailer, trailerSignedHdr, trailerSeed, chunkedBody(sigs, bad, false))
		if _, err := exampleVerifier(exampleTime).Verify(r, "s3"); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		_, err := io.ReadAll(r.Body)
		wantCode(t, err, CodeSignatureDoesNotMatch, 403)
	})
}

func TestVerifyStreamingUnsignedTrailer(t *testing.T) {
	// Signed by the SDK's signer (AWS publishes no example for this mode).
	body := "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
	build := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPut, "http://127.0.0.1:4566/bucket/key", strings.NewReader(body))
		r.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedPayloadTrailer)
		r.Header.Set("Content-Encoding", "aws-chunked")
		r.Header.Set("X-Amz-Decoded-Content-Length", "11")
		r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		signWithSDK(t, r, StreamingUnsignedPayloadTrailer, "s3")
		return r
	}
	r := build(body)
	if _, err := exampleVerifier(time.Now()).Verify(r, "s3"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != "hello world" {
		t.Fatalf("decoded %q, %v; want \"hello world\"", got, err)
	}
	if v := r.Trailer.Get("X-Amz-Checksum-Crc32"); v != "DUoRhQ==" {
		t.Fatalf("trailer = %q", v)
	}

	r = build("5\r\nhello\r\n6\r\n world\r\n")
	if _, err := exampleVerifier(time.Now()).Verify(r, "s3"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	_, err = io.ReadAll(r.Body)
	wantCode(t, err, CodeIncompleteBody, 400)
}

// signWithSDK signs r in place with the example key, as a client would.
func signWithSDK(t *testing.T, r *http.Request, payloadHash, service string) {
	t.Helper()
	r.RequestURI = ""
	if r.URL.Host == "" {
		r.URL.Host = r.Host
	}
	if r.URL.Scheme == "" {
		r.URL.Scheme = "http"
	}
	signer := newTestSigner(service)
	creds := aws.Credentials{AccessKeyID: exampleKey, SecretAccessKey: exampleSecret}
	if err := signer.SignHTTP(context.Background(), creds, r, payloadHash, service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyEventsService runs the EventBridge SDK client against a handler
// that verifies with service "events": a JSON protocol signing the payload
// hash without an X-Amz-Content-Sha256 header.
func TestVerifyEventsService(t *testing.T) {
	v := &Verifier{Credentials: StaticCredentials(exampleKey, exampleSecret)}
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.Verify(r, "events"); err != nil {
			var e *Error
			errors.As(err, &e)
			got = append(got, e.Code)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(e.Status)
			io.WriteString(w, `{"__type":"`+e.Code+`","message":"`+e.Message+`"}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		got = append(got, "ok:"+r.Header.Get("X-Amz-Target")+":"+string(bytes.TrimSpace(body))[:1])
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, `{"Entries":[{"EventId":"1"}],"FailedEntryCount":0}`)
	}))
	defer srv.Close()

	client := func(secret string) *eventbridge.Client {
		return eventbridge.NewFromConfig(aws.Config{
			Region:           "us-east-1",
			Credentials:      credentials.NewStaticCredentialsProvider(exampleKey, secret, ""),
			RetryMaxAttempts: 1,
		}, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	}
	in := &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("imagepipe.test"), DetailType: aws.String("Test"), Detail: aws.String(`{"a":1}`),
	}}}
	if _, err := client(exampleSecret).PutEvents(context.Background(), in); err != nil {
		t.Fatalf("PutEvents with the right secret: %v", err)
	}
	if _, err := client("wrong").PutEvents(context.Background(), in); err == nil {
		t.Fatal("PutEvents with a wrong secret succeeded")
	}
	want := []string{"ok:AWSEvents.PutEvents:{", CodeSignatureDoesNotMatch}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("server saw %v, want %v", got, want)
	}
}

// TestChunkDecoderReadSizes decodes the AWS streaming examples through
// readers that hand out one byte, or half of what is asked, at a time.
func TestChunkDecoderReadSizes(t *testing.T) {
	sigs := [3]string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	unsigned := "3\r\nabc\r\n1\r\nd\r\n0\r\nx-amz-checksum-crc32:7YLNEQ==\r\n\r\n"
	wraps := map[string]func(io.Reader) io.Reader{"one byte": iotest.OneByteReader, "half": iotest.HalfReader, "data err": iotest.DataErrReader}
	for name, wrap := range wraps {
		t.Run(name, func(t *testing.T) {
			r := streamingRequest(StreamingSignedPayload, streamingSignedHdr, streamingSeed, chunkedBody(sigs, "", false))
			r.Body = io.NopCloser(wrap(r.Body))
			if _, err := exampleVerifier(exampleTime).Verify(r, "s3"); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := io.ReadAll(wrap(r.Body))
			if err != nil || !bytes.Equal(got, bytes.Repeat([]byte("a"), 66560)) {
				t.Fatalf("signed: decoded %d bytes, %v", len(got), err)
			}

			u := httptest.NewRequest(http.MethodPut, "http://127.0.0.1:4566/bucket/key", strings.NewReader(unsigned))
			u.Header.Set("Content-Encoding", "aws-chunked")
			u.Header.Set("X-Amz-Decoded-Content-Length", "4")
			u.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
			u.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedPayloadTrailer)
			signWithSDK(t, u, StreamingUnsignedPayloadTrailer, "s3")
			u.Body = io.NopCloser(wrap(u.Body))
			if _, err := exampleVerifier(time.Now()).Verify(u, "s3"); err != nil {
				t.Fatalf("Verify unsigned: %v", err)
			}
			got, err = io.ReadAll(wrap(u.Body))
			if err != nil || string(got) != "abcd" || u.Trailer.Get("x-amz-checksum-crc32") != "7YLNEQ==" {
				t.Fatalf("unsigned: decoded %q, %v, trailer %v", got, err, u.Trailer)
			}
		})
	}
}

// TestVerifySameKeyIDOtherSecret: two verifiers in one process that know
// the same access key id with different secrets (signing keys are cached
// between requests) each accept only requests signed with their own secret,
// whichever verified first.
func TestVerifySameKeyIDOtherSecret(t *testing.T) {
	const otherSecret = "another/secret+for/the/same/key/id/000000"
	mine := &Verifier{Credentials: StaticCredentials(exampleKey, exampleSecret)}
	other := &Verifier{Credentials: StaticCredentials(exampleKey, otherSecret)}
	signed := func(secret string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:4566/bucket/key", nil)
		r.Header.Set("X-Amz-Content-Sha256", emptyHash)
		r.RequestURI = ""
		creds := aws.Credentials{AccessKeyID: exampleKey, SecretAccessKey: secret}
		if err := newTestSigner("s3").SignHTTP(context.Background(), creds, r, emptyHash, "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		r.RequestURI = r.URL.RequestURI()
		return r
	}
	for round := range 2 {
		for _, tc := range []struct {
			name   string
			v      *Verifier
			secret string
			ok     bool
		}{
			{"mine", mine, exampleSecret, true}, {"other", other, exampleSecret, false},
			{"other", other, otherSecret, true}, {"mine", mine, otherSecret, false},
		} {
			_, err := tc.v.Verify(signed(tc.secret), "s3")
			if (err == nil) != tc.ok {
				t.Errorf("round %d: verifier %s, request signed with %s: err %v, want ok=%v", round, tc.name, tc.secret, err, tc.ok)
			}
		}
	}
}
