package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxSignedChunk bounds one chunk of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD
// body, which is held in memory until its signature is checked (SDKs send
// 64 KiB to 1 MiB chunks).
const maxSignedChunk = 16 << 20

// prepareBody replaces r.Body, once the seed signature is known to be good,
// with a reader that checks (and for aws-chunked, decodes) the payload.
func prepareBody(r *http.Request, a *auth, creds aws.Credentials, payloadHash string) error {
	switch payloadHash {
	case StreamingUnsignedPayloadTrailer, StreamingSignedPayload, StreamingSignedPayloadTrailer:
		return decodeChunked(r, a, creds, payloadHash)
	}
	if isHexSHA256(payloadHash) && r.Header.Get("X-Amz-Content-Sha256") == payloadHash && r.Body != nil && r.Body != http.NoBody {
		r.Body = &hashCheckReader{body: r.Body, h: sha256.New(), want: payloadHash}
	}
	return nil
}

func decodeChunked(r *http.Request, a *auth, creds aws.Credentials, mode string) error {
	n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	if err != nil || n < 0 {
		return refuse(http.StatusLengthRequired, CodeMissingContentLength,
			"You must provide the x-amz-decoded-content-length header with %s.", mode)
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	if r.Trailer == nil {
		r.Trailer = make(http.Header)
	}
	d := &chunkDecoder{
		br:       bufio.NewReaderSize(r.Body, 64<<10),
		body:     r.Body,
		expected: n,
		trailer:  r.Trailer,
	}
	if mode != StreamingUnsignedPayloadTrailer {
		seed, err := hex.DecodeString(a.signature)
		if err != nil {
			return mismatch()
		}
		d.signed = true
		d.trailerSigned = mode == StreamingSignedPayloadTrailer
		d.stream = v4.NewStreamSigner(creds, a.service, a.region, seed)
		d.date = a.date
		d.prevSig = a.signature
		d.scope = strings.Join([]string{a.scopeDate, a.region, a.service, terminator}, "/")
		d.key = signingKey(creds.SecretAccessKey, a.scopeDate, a.region, a.service)
	}
	r.Body = d
	r.ContentLength = n
	r.Header.Set("Content-Length", strconv.FormatInt(n, 10))
	r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
	r.Header.Del("X-Amz-Decoded-Content-Length")
	var encodings []string
	for _, v := range r.Header.Values("Content-Encoding") {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "aws-chunked") {
				encodings = append(encodings, e)
			}
		}
	}
	if len(encodings) == 0 {
		r.Header.Del("Content-Encoding")
	} else {
		r.Header.Set("Content-Encoding", strings.Join(encodings, ","))
	}
	return nil
}

// hashCheckReader compares the body's SHA-256 with the signed one at EOF.
type hashCheckReader struct {
	body io.ReadCloser
	h    hash.Hash
	want string
	err  error
}

func (c *hashCheckReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.body.Read(p)
	c.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if hex.EncodeToString(c.h.Sum(nil)) != c.want {
			c.err = refuse(http.StatusBadRequest, CodeXAmzContentSHA256Mismatch,
				"The provided 'x-amz-content-sha256' header does not match what was computed.")
			return n, c.err
		}
		c.err = io.EOF
	}
	return n, err
}

func (c *hashCheckReader) Close() error { return c.body.Close() }

// chunkDecoder turns an aws-chunked body into the plain payload, checking
// chunk signatures (signed modes), the decoded length and, for the -TRAILER
// modes, collecting the trailing headers (and checking their signature).
type chunkDecoder struct {
	br            *bufio.Reader
	body          io.Closer
	signed        bool
	trailerSigned bool
	stream        *v4.StreamSigner
	date          time.Time
	scope         string
	key           []byte
	prevSig       string

	expected int64
	total    int64
	remain   int64  // unsigned: payload bytes left in the current chunk
	buf      []byte // signed: verified payload not yet returned
	store    []byte // signed: backing array reused for every chunk
	needCRLF bool
	trailer  http.Header
	err      error
}

func invalidChunk(format string, args ...any) *Error {
	return refuse(http.StatusBadRequest, CodeInvalidRequest, "invalid aws-chunked body: "+format, args...)
}

func incomplete() *Error {
	return refuse(http.StatusBadRequest, CodeIncompleteBody,
		"You did not provide the number of bytes specified by the x-amz-decoded-content-length header.")
}

func (d *chunkDecoder) Read(p []byte) (int, error) {
	for {
		if d.err != nil {
			return 0, d.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if len(d.buf) > 0 {
			n := copy(p, d.buf)
			d.buf = d.buf[n:]
			return n, nil
		}
		if d.remain > 0 {
			if int64(len(p)) > d.remain {
				p = p[:d.remain]
			}
			n, err := d.br.Read(p)
			d.remain -= int64(n)
			if err != nil && (d.remain > 0 || !errors.Is(err, io.EOF)) {
				if errors.Is(err, io.EOF) {
					d.err = incomplete()
				} else {
					d.err = err
				}
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err := d.nextChunk(); err != nil {
			d.err = err
		}
	}
}

func (d *chunkDecoder) Close() error { return d.body.Close() }

func (d *chunkDecoder) readLine() (string, error) {
	line, err := d.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", invalidChunk("line too long")
		}
		if errors.Is(err, io.EOF) {
			if len(line) == 0 {
				return "", io.EOF
			}
			return "", incomplete()
		}
		return "", err
	}
	s := string(line)
	if !strings.HasSuffix(s, "\r\n") {
		return "", invalidChunk("line not terminated by CRLF")
	}
	return s[:len(s)-2], nil
}

func (d *chunkDecoder) nextChunk() error {
	if d.needCRLF {
		d.needCRLF = false
		if line, err := d.readLine(); err != nil || line != "" {
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			return invalidChunk("chunk data not followed by CRLF")
		}
	}
	line, err := d.readLine()
	if errors.Is(err, io.EOF) {
		return incomplete()
	}
	if err != nil {
		return err
	}
	sizeStr, ext, _ := strings.Cut(line, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeStr), 16, 64)
	if err != nil || size < 0 {
		return invalidChunk("bad chunk size %q", sizeStr)
	}
	if d.total+size > d.expected {
		return incomplete()
	}
	if !d.signed {
		if size == 0 {
			return d.finish()
		}
		d.total += size
		d.remain = size
		d.needCRLF = true
		return nil
	}

	sig, ok := strings.CutPrefix(strings.TrimSpace(ext), "chunk-signature=")
	if !ok {
		return invalidChunk("chunk without chunk-signature")
	}
	if size > maxSignedChunk {
		return invalidChunk("chunk of %d bytes is larger than %d", size, maxSignedChunk)
	}
	if int64(cap(d.store)) < size {
		d.store = make([]byte, size)
	}
	data := d.store[:size]
	if _, err := io.ReadFull(d.br, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return incomplete()
		}
		return err
	}
	want, err := d.stream.GetSignature(context.Background(), nil, data, d.date)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(want)), []byte(sig)) != 1 {
		return mismatch()
	}
	d.prevSig = sig
	d.total += size
	if size == 0 {
		d.buf = nil
		return d.finish()
	}
	if line, err := d.readLine(); err != nil || line != "" {
		return invalidChunk("chunk data not followed by CRLF")
	}
	d.buf = data
	return nil
}

// finish reads the trailing headers after the last (empty) chunk.
func (d *chunkDecoder) finish() error {
	var canonical bytes.Buffer
	var trailerSig string
	seen := false
	for {
		line, err := d.readLine()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if line == "" {
			if seen {
				break
			}
			continue // the blank line some encoders put after the last chunk
		}
		seen = true
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return invalidChunk("bad trailer %q", line)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if name == "x-amz-trailer-signature" {
			trailerSig = value
			continue
		}
		canonical.WriteString(name + ":" + value + "\n")
		d.trailer.Add(name, value)
	}
	if d.trailerSigned {
		sum := sha256.Sum256(canonical.Bytes())
		sts := strings.Join([]string{"AWS4-HMAC-SHA256-TRAILER", d.date.UTC().Format(timeFormat), d.scope, d.prevSig, hex.EncodeToString(sum[:])}, "\n")
		want := hex.EncodeToString(hmacSHA256(d.key, []byte(sts)))
		if subtle.ConstantTimeCompare([]byte(want), []byte(trailerSig)) != 1 {
			return mismatch()
		}
	}
	if d.total != d.expected {
		return incomplete()
	}
	return io.EOF
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// signingKey derives the SigV4 signing key. The SDK keeps its derivation
// internal; the trailer signature (which the SDK's stream signer does not
// cover) needs it.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte(terminator))
}
