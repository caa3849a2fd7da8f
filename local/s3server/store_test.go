package s3server

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imagepipe/imagepipe/local/guard"
	"github.com/imagepipe/imagepipe/local/sigv4"
)

// TestAnyKeyS3AcceptsIsStored: keys with empty, "." and ".." segments, a
// trailing slash, a 300-byte segment, 1024 bytes, upper and lower case
// twins, control characters and non-ASCII all round-trip, each to its own
// object, none outside its bucket; keys S3 refuses get S3's 400.
func TestAnyKeyS3AcceptsIsStored(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	if err := e.srv.CreateBucket(ctx, "imagepipe-processed"); err != nil {
		t.Fatal(err)
	}
	keys := []string{
		"a//b", "a/./b", "../imagepipe-processed/x", "dir/", "/leading", ".", "..", ".hidden",
		"seg/" + strings.Repeat("s", 300) + "/end",
		strings.Repeat("k", 1024),
		strings.Repeat("é", 512), // 1024 bytes of UTF-8
		"Case", "case", "CASE",
		"tab\there", "bell\x07", "%41", "A", "~tilde", "space and+plus?query#hash",
		"日本語/キー.jpg",
	}
	for i, key := range keys {
		resp, xe := send(t, e.signed(t, http.MethodPut, escapePath(key), fmt.Sprintf("body %d", i), sigv4.UnsignedPayload, nil))
		if resp.StatusCode != 200 {
			t.Fatalf("PUT %q: %d %s %s", key, resp.StatusCode, xe.Code, xe.Message)
		}
	}
	for i, key := range keys {
		resp, xe := send(t, e.signed(t, http.MethodGet, escapePath(key), "", sigv4.UnsignedPayload, nil))
		if resp.StatusCode != 200 {
			t.Fatalf("GET %q: %d %s", key, resp.StatusCode, xe.Code)
		}
		if want := fmt.Sprintf("body %d", i); string(xe.raw) != want {
			t.Errorf("GET %q = %q, want %q", key, xe.raw, want)
		}
	}
	// Nothing leaked into the other bucket, and the listing has every key.
	cli := e.client(testSecret)
	other, err := cli.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("imagepipe-processed")})
	if err != nil || len(other.Contents) != 0 {
		t.Fatalf("imagepipe-processed after the puts: %v %+v", err, other.Contents)
	}
	var listed []string
	p := s3.NewListObjectsV2Paginator(cli, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), MaxKeys: aws.Int32(7)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, c := range page.Contents {
			listed = append(listed, aws.ToString(c.Key))
		}
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	// XML 1.0 cannot carry U+0007: S3 itself needs encoding-type=url for it.
	for i, k := range want {
		want[i] = strings.ReplaceAll(k, "\x07", "\uFFFD")
	}
	if !slices.Equal(listed, want) {
		t.Fatalf("listed %d keys:\n%q\nwant %d:\n%q", len(listed), listed, len(want), want)
	}
	for _, tc := range []struct {
		name, path, code string
	}{
		{"NUL", "a%00b", "InvalidURI"},
		{"not UTF-8", "a%FFb", "InvalidURI"},
		{"1025 bytes", strings.Repeat("k", 1025), "KeyTooLongError"},
	} {
		resp, xe := send(t, e.signed(t, http.MethodPut, tc.path, "x", sigv4.UnsignedPayload, nil))
		if resp.StatusCode != 400 || xe.Code != tc.code {
			t.Errorf("PUT of a key with %s: %d %s, want 400 %s", tc.name, resp.StatusCode, xe.Code, tc.code)
		}
	}
}

// escapePath escapes a key for a request path, keeping '/'.
func escapePath(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == '/' || c == '-' || c == '_' || c == '.' || c == '~' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// TestDamagedFilesNeverFailAListing: whatever a crash or a hand leaves in
// the store (half-written bodies, a file cut short, a file with no footer,
// a stray directory), the server starts, every listing answers 200, the
// good objects read back, and the bad files are moved aside.
func TestDamagedFilesNeverFailAListing(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	ctx := context.Background()
	good := []byte("the complete version")
	cli := e.client(testSecret)
	for _, k := range []string{"good", "cut", "overwritten"} {
		if _, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k), Body: bytes.NewReader(good)}); err != nil {
			t.Fatal(err)
		}
	}
	e.http.Close()

	bdir := filepath.Join(dir, "objects", testBucket)
	// A crash while writing: partial files under tmp, never renamed.
	if err := os.WriteFile(filepath.Join(dir, "tmp", "object-123"), []byte("half of a new ver"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A file cut short (power loss after the rename), one with no footer
	// at all, one whose name does not encode its key, and a directory.
	raw, err := os.ReadFile(filepath.Join(bdir, "cut"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bdir, "cut"), raw[:len(raw)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bdir, "nofooter"), []byte("some bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bdir, "renamed"), raw, 0o600); err != nil { // holds key "cut"
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(bdir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}

	e2 := newEnv(t, dir)
	cli = e2.client(testSecret)
	list, err := cli.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	if err != nil {
		t.Fatalf("list after damage: %v", err)
	}
	var keys []string
	for _, c := range list.Contents {
		keys = append(keys, aws.ToString(c.Key))
	}
	if !slices.Equal(keys, []string{"good", "overwritten"}) {
		t.Fatalf("listed %q, want the two intact objects", keys)
	}
	if got := e2.getObject(t, "good"); !bytes.Equal(got, good) {
		t.Fatalf("good = %q", got)
	}
	if _, err := cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("cut")}); apiCode(err) != "NotFound" {
		t.Fatalf("HEAD of the cut object: %v, want 404", err)
	}
	moved, _ := os.ReadDir(filepath.Join(dir, "damaged"))
	if len(moved) != 4 {
		t.Fatalf("%d files moved aside, want 4 (cut, nofooter, renamed, adir)", len(moved))
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Fatalf("%d partial files left in tmp after restart", len(left))
	}

	// A file damaged under the running server: GET notices, answers 404
	// and the listing drops it; it never becomes a 500.
	if err := os.WriteFile(filepath.Join(bdir, "overwritten"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("overwritten")}); apiCode(err) != "NoSuchKey" {
		t.Fatalf("GET of a file damaged at run time: %v, want NoSuchKey", err)
	}
	list, err = cli.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	if err != nil || len(list.Contents) != 1 {
		t.Fatalf("list after a run-time damage: %v %+v", err, list)
	}
}

// TestOrphanOfThePreviousLayoutIsRepaired: the previous layout wrote an
// object and then its metadata; a kill in between left an object without
// metadata that answered 500 to every listing. Such a data directory is
// imported at start: both objects read back, the orphan with its MD5
// computed again.
func TestOrphanOfThePreviousLayoutIsRepaired(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, data []byte) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	orphan := []byte("an object whose metadata was never written")
	whole := []byte("an object with its metadata")
	write("buckets/imagepipe-processed/processed/abc/gray.png", orphan)
	write("buckets/imagepipe-processed/processed/abc/thumb.png", whole)
	meta, _ := json.Marshal(map[string]any{"Meta": map[string]string{"Content-Type": "image/png", "X-Amz-Meta-Source-Etag": "e1"}})
	write("metadata/imagepipe-processed/processed_abc_thumb.png-"+fnvHash("processed/abc/thumb.png"), meta)

	e := newEnv(t, dir)
	ctx := context.Background()
	cli := e.client(testSecret)
	list, err := cli.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("imagepipe-processed")})
	if err != nil || len(list.Contents) != 2 {
		t.Fatalf("list after import: %v %+v", err, list)
	}
	for _, c := range list.Contents {
		want := whole
		if aws.ToString(c.Key) == "processed/abc/gray.png" {
			want = orphan
		}
		if aws.ToString(c.ETag) != `"`+md5hex(want)+`"` {
			t.Errorf("%s ETag %s, want the MD5 of its bytes", aws.ToString(c.Key), aws.ToString(c.ETag))
		}
	}
	head, err := cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("imagepipe-processed"), Key: aws.String("processed/abc/thumb.png")})
	if err != nil || aws.ToString(head.ContentType) != "image/png" || head.Metadata["source-etag"] != "e1" {
		t.Fatalf("imported metadata: %v %+v", err, head)
	}
	for _, old := range []string{"buckets", "metadata"} {
		if _, err := os.Stat(filepath.Join(dir, old)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after the import: %v", old, err)
		}
	}
}

// TestConditionalWrites: PutObject's If-None-Match and If-Match and
// DeleteObject's If-Match behave as on S3, and of concurrent creations with
// If-None-Match: * exactly one wins.
func TestConditionalWrites(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	cli := e.client(testSecret)
	put := func(key, body string, f func(*s3.PutObjectInput)) (*s3.PutObjectOutput, error) {
		in := &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Body: strings.NewReader(body)}
		f(in)
		return cli.PutObject(ctx, in)
	}
	ifNone := func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }
	first, err := put("lease", "one", ifNone)
	if err != nil {
		t.Fatalf("first If-None-Match: * put: %v", err)
	}
	if _, err := put("lease", "two", ifNone); apiCode(err) != "PreconditionFailed" {
		t.Fatalf("second If-None-Match: * put: %v, want PreconditionFailed", err)
	}
	if got := e.getObject(t, "lease"); string(got) != "one" {
		t.Fatalf("after a refused put: %q", got)
	}
	if _, err := put("lease", "three", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(`"0123"`) }); apiCode(err) != "PreconditionFailed" {
		t.Fatalf("If-Match with a wrong ETag: %v, want PreconditionFailed", err)
	}
	if _, err := put("missing", "x", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag }); apiCode(err) != "NoSuchKey" {
		t.Fatalf("If-Match on a missing key: %v, want NoSuchKey", err)
	}
	second, err := put("lease", "four", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag })
	if err != nil {
		t.Fatalf("If-Match with the current ETag: %v", err)
	}
	resp, xe := send(t, e.signed(t, http.MethodPut, "other", "x", sigv4.UnsignedPayload, http.Header{"If-None-Match": {`"abc"`}}))
	if resp.StatusCode != 501 || xe.Code != "NotImplemented" {
		t.Fatalf("If-None-Match with an ETag: %d %s, want 501 NotImplemented", resp.StatusCode, xe.Code)
	}

	if _, err := cli.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String("lease"), IfMatch: first.ETag}); apiCode(err) != "PreconditionFailed" {
		t.Fatalf("DeleteObject with a stale ETag: %v, want PreconditionFailed", err)
	}
	if _, err := cli.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String("lease"), IfMatch: second.ETag}); err != nil {
		t.Fatalf("DeleteObject with the current ETag: %v", err)
	}
	if e.exists(t, "lease") {
		t.Fatal("conditional delete left the object")
	}

	const racers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, refusals := 0, 0
	for i := range racers {
		wg.Go(func() {
			_, err := put("race", fmt.Sprint(i), ifNone)
			mu.Lock()
			defer mu.Unlock()
			switch apiCode(err) {
			case "":
				wins++
			case "PreconditionFailed":
				refusals++
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || refusals != racers-1 {
		t.Fatalf("%d racers won and %d were refused, want 1 and %d", wins, refusals, racers-1)
	}
}

// fullDisk is a temporary file whose writes fail as on a full disk.
type fullDisk struct{ *os.File }

func (f fullDisk) Write(p []byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

// TestFullDiskIsARetryable500: a body or an object that cannot be written
// for lack of space is a 500 InternalError saying so (SDKs retry it), never
// a 400 the client takes as its own fault; nothing is stored and no event
// goes out. A PutObject writes one file (its spooled body becomes the
// object); a CopyObject writes the object's file.
func TestFullDiskIsARetryable500(t *testing.T) {
	e := newEnv(t, "")
	e.srv.objects.spares.max = 0 // every file is made by createTemp
	if resp, xe := send(t, e.signed(t, http.MethodPut, "copy-source", "some bytes", sigv4.UnsignedPayload, nil)); resp.StatusCode != 200 {
		t.Fatalf("PUT the copy source: %d %s", resp.StatusCode, xe.Code)
	}
	before := len(e.hooks.all())
	for _, stage := range []string{"body-", "object-"} {
		t.Run(strings.TrimSuffix(stage, "-"), func(t *testing.T) {
			orig := createTemp
			t.Cleanup(func() { createTemp = orig })
			createTemp = func(dir, pattern string) (tempFile, error) {
				f, err := os.CreateTemp(dir, pattern)
				if err != nil || !strings.HasPrefix(pattern, stage) {
					return f, err
				}
				return fullDisk{f}, nil
			}
			req := e.signed(t, http.MethodPut, "full-"+stage, "some bytes", sigv4.UnsignedPayload, nil)
			if stage == "object-" {
				req = e.signed(t, http.MethodPut, "full-"+stage, "", sigv4.UnsignedPayload, http.Header{"X-Amz-Copy-Source": {testBucket + "/copy-source"}})
			}
			resp, xe := send(t, req)
			if resp.StatusCode != 500 || xe.Code != "InternalError" || !strings.Contains(xe.Message, "disk space") {
				t.Fatalf("PUT on a full disk: %d %s %q, want 500 InternalError about disk space", resp.StatusCode, xe.Code, xe.Message)
			}
			if e.exists(t, "full-"+stage) {
				t.Fatal("an object was stored")
			}
			if n := len(e.hooks.all()) - before; n != 0 {
				t.Fatalf("%d events for a failed put", n)
			}
		})
	}
}

// TestSlowBodyIsRequestTimeout: behind the guard, a PUT trickling its body
// is cut once under the minimum rate and answered S3's RequestTimeout.
func TestSlowBodyIsRequestTimeout(t *testing.T) {
	e := newEnv(t, "")
	ts := httptest.NewServer(guard.Handler(e.srv, guard.Config{Grace: 200 * time.Millisecond, MinRate: 1 << 20, StallTimeout: 5 * time.Second}))
	t.Cleanup(ts.Close)
	pr, pw := io.Pipe()
	go func() {
		for range 20 {
			if _, err := pw.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		pw.Close()
	}()
	req := e.signed(t, http.MethodPut, "slow", "", sigv4.UnsignedPayload, nil)
	req.URL.Host = strings.TrimPrefix(ts.URL, "http://")
	req.Body = pr
	req.ContentLength = 20
	resp, xe := send(t, req)
	pr.Close()
	if resp.StatusCode != 400 || xe.Code != "RequestTimeout" {
		t.Fatalf("trickled PUT: %d %s %s, want 400 RequestTimeout", resp.StatusCode, xe.Code, xe.Message)
	}
	if e.exists(t, "slow") {
		t.Fatal("a trickled body was stored")
	}
}

// TestListingLikeS3: prefix, delimiter and pages as S3 answers them.
func TestListingLikeS3(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	cli := e.client(testSecret)
	for _, k := range []string{"a/1", "a/2", "a/b/3", "a//4", "ab", "b/5", "c"} {
		if _, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(prefix, delim string, max int32) (keys, prefixes []string) {
		t.Helper()
		in := &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(max)}
		if delim != "" {
			in.Delimiter = aws.String(delim)
		}
		p := s3.NewListObjectsV2Paginator(cli, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page.Contents {
				keys = append(keys, aws.ToString(c.Key))
			}
			for _, c := range page.CommonPrefixes {
				prefixes = append(prefixes, aws.ToString(c.Prefix))
			}
		}
		return keys, prefixes
	}
	for _, tc := range []struct {
		prefix, delim  string
		max            int32
		keys, prefixes []string
	}{
		{"", "/", 1000, []string{"ab", "c"}, []string{"a/", "b/"}},
		{"", "/", 1, []string{"ab", "c"}, []string{"a/", "b/"}},
		{"a/", "/", 1000, []string{"a/1", "a/2"}, []string{"a//", "a/b/"}},
		{"a/", "/", 2, []string{"a/1", "a/2"}, []string{"a//", "a/b/"}},
		{"a", "", 2, []string{"a//4", "a/1", "a/2", "a/b/3", "ab"}, nil},
	} {
		keys, prefixes := list(tc.prefix, tc.delim, tc.max)
		if !slices.Equal(keys, tc.keys) || !slices.Equal(prefixes, tc.prefixes) {
			t.Errorf("prefix %q delimiter %q max %d: keys %q prefixes %q, want %q %q", tc.prefix, tc.delim, tc.max, keys, prefixes, tc.keys, tc.prefixes)
		}
	}
}

// TestMultipartETagOnReads: HEAD, GET and LIST give a multipart object the
// ETag its CompleteMultipartUpload answered (and its event carried).
func TestMultipartETagOnReads(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	cli := e.client(testSecret)
	key := "uploads/mp.bin"
	up, err := cli.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	part, err := cli.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("only part")})
	if err != nil {
		t.Fatal(err)
	}
	done, err := cli.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte("only part"))
	partSum := md5.Sum(sum[:])
	want := `"` + hex.EncodeToString(partSum[:]) + `-1"`
	if aws.ToString(done.ETag) != want {
		t.Fatalf("CompleteMultipartUpload ETag %s, want %s", aws.ToString(done.ETag), want)
	}
	head, err := cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil || aws.ToString(head.ETag) != want {
		t.Fatalf("HEAD ETag %v %s, want %s", err, aws.ToString(head.ETag), want)
	}
	get, err := cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil || aws.ToString(get.ETag) != want || get.Metadata[strings.ToLower(etagHeader)] != "" {
		t.Fatalf("GET ETag %v %s metadata %v, want %s and no internal header", err, aws.ToString(get.ETag), get.Metadata, want)
	}
	get.Body.Close()
	list, err := cli.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].ETag) != want {
		t.Fatalf("LIST: %v %+v", err, list)
	}
}

// TestPutObjectWrittenOnce: a PutObject's spooled body becomes the object.
// Its ETag is the MD5 of the bytes, its metadata is kept, nothing is left
// under tmp/ but spares; gofakes3's refusals still hold (metadata over
// 2 KB, an empty Content-MD5), leave nothing stored, and the refused body
// is removed or kept as a spare.
func TestPutObjectWrittenOnce(t *testing.T) {
	e := newEnv(t, "")
	body := strings.Repeat("0123456789", 5000)
	resp, xe := send(t, e.signed(t, http.MethodPut, "once", body, sigv4.UnsignedPayload, http.Header{
		"Content-Type": {"text/plain"}, "X-Amz-Meta-Owner": {"me"},
	}))
	sum := md5.Sum([]byte(body))
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("PUT: %d %s, ETag %s, want 200 and the MD5 %x", resp.StatusCode, xe.Code, resp.Header.Get("ETag"), sum)
	}
	out, err := e.client(testSecret).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("once")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(got) != body || aws.ToString(out.ContentType) != "text/plain" || out.Metadata["owner"] != "me" {
		t.Fatalf("GET: %d bytes, %q, %v; want the bytes, text/plain and owner=me", len(got), aws.ToString(out.ContentType), out.Metadata)
	}

	for _, tc := range []struct {
		name, code string
		header     http.Header
	}{
		{"metadata over 2 KB", "MetadataTooLarge", http.Header{"X-Amz-Meta-Big": {strings.Repeat("x", 2100)}}},
		{"empty Content-MD5", "InvalidDigest", http.Header{"Content-Md5": {""}}},
	} {
		resp, xe := send(t, e.signed(t, http.MethodPut, "refused", "some bytes", sigv4.UnsignedPayload, tc.header))
		if resp.StatusCode != 400 || xe.Code != tc.code {
			t.Errorf("%s: %d %s, want 400 %s", tc.name, resp.StatusCode, xe.Code, tc.code)
		}
	}
	if e.exists(t, "refused") {
		t.Error("a refused PUT stored its object")
	}
	spares := e.srv.objects.spares.names()
	left, _ := os.ReadDir(filepath.Join(e.dir, "tmp"))
	for _, f := range left {
		if !slices.Contains(spares, filepath.Join(e.dir, "tmp", f.Name())) {
			t.Errorf("%s left under tmp/ after the PUTs, not a spare", f.Name())
		}
	}
}
