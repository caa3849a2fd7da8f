package s3server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imagepipe/imagepipe/local/sigv4"
)

// TestSparesNeverChangeWhatAGetReads: a GET that has started reading an
// object gets the bytes it started with to the end, when the object is
// replaced or deleted meanwhile and other writes follow (which take the
// spare files): a version a GET has open never becomes a spare.
func TestSparesNeverChangeWhatAGetReads(t *testing.T) {
	e := newEnv(t, "")
	old := strings.Repeat("old bytes ", 40_000) // 400 KB, more than one copy buffer
	for _, change := range []string{"replaced", "deleted"} {
		t.Run(change, func(t *testing.T) {
			key := "read-while-" + change
			put(t, e, key, old)
			obj, err := e.srv.objects.GetObject(testBucket, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			head := make([]byte, 1000)
			if _, err := io.ReadFull(obj.Contents, head); err != nil {
				t.Fatal(err)
			}
			if change == "replaced" {
				put(t, e, key, "new")
			} else if resp, xe := send(t, e.signed(t, http.MethodDelete, key, "", sigv4.UnsignedPayload, nil)); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", resp.StatusCode, xe.Code)
			}
			for i := range 2 * maxSpares {
				put(t, e, key+"-other-"+strconv.Itoa(i), strings.Repeat("x", 500_000))
			}
			rest, err := io.ReadAll(obj.Contents)
			obj.Contents.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got := string(head) + string(rest); got != old {
				t.Fatalf("the GET read %d bytes, %q...; want the %d bytes it started with", len(got), got[:min(len(got), 40)], len(old))
			}
		})
	}
}

// TestSparesTakeTheFilesOfReplacedVersions: the file of a replaced or
// deleted version (no GET reading it) is the file of the next object
// written, written over: no inode allocated, and every object reads back as
// written, a short one in a file that held a long one included.
func TestSparesTakeTheFilesOfReplacedVersions(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("RENAME_EXCHANGE is Linux's")
	}
	e := newEnv(t, "")
	inode := func(key string) uint64 {
		t.Helper()
		info, err := os.Stat(e.srv.objects.path(testBucket, key))
		if err != nil {
			t.Fatal(err)
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			t.Skip("no inode numbers here")
		}
		return uint64(st.Ino)
	}
	long := strings.Repeat("a long first version ", 10_000)
	put(t, e, "x", long)
	v1 := inode("x")
	put(t, e, "x", "second version")
	if inode("x") == v1 {
		t.Fatal("the new version was written over the old one in place")
	}
	if e.srv.objects.spares.noExchange.Load() {
		t.Skip("this file system has no RENAME_EXCHANGE: replaced versions are removed")
	}
	put(t, e, "y", "short")
	if got := inode("y"); got != v1 {
		t.Fatalf("y is inode %d, want %d, the replaced version's", got, v1)
	}
	v2 := inode("x")
	if resp, xe := send(t, e.signed(t, http.MethodDelete, "x", "", sigv4.UnsignedPayload, nil)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, xe.Code)
	}
	put(t, e, "z", "z")
	if got := inode("z"); got != v2 {
		t.Fatalf("z is inode %d, want %d, the deleted object's", got, v2)
	}
	for key, want := range map[string]string{"y": "short", "z": "z"} {
		if got := e.getObject(t, key); !bytes.Equal(got, []byte(want)) {
			t.Errorf("GET %s: %q, want %q", key, got, want)
		}
	}
	if e.exists(t, "x") {
		t.Error("x is still there after its DELETE")
	}

	// A restart drops the spares with the rest of tmp/ and keeps the objects.
	n := len(e.srv.objects.spares.names())
	put(t, e, "x", "third")
	e2 := newEnv(t, e.dir)
	if left, _ := os.ReadDir(e2.srv.tmpDir); len(left) != 0 {
		t.Errorf("%d files under tmp/ after a restart (%d spares before)", len(left), n)
	}
	for key, want := range map[string]string{"x": "third", "y": "short", "z": "z"} {
		if got := e2.getObject(t, key); string(got) != want {
			t.Errorf("after a restart GET %s: %q, want %q", key, got, want)
		}
	}
}

func del(t *testing.T, e *testEnv, key string) {
	t.Helper()
	if resp, xe := send(t, e.signed(t, http.MethodDelete, key, "", sigv4.UnsignedPayload, nil)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s: %d %s", key, resp.StatusCode, xe.Code)
	}
}

func put(t *testing.T, e *testEnv, key, body string) {
	t.Helper()
	if resp, xe := send(t, e.signed(t, http.MethodPut, key, body, sigv4.UnsignedPayload, nil)); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT %s: %d %s", key, resp.StatusCode, xe.Code)
	}
}

// TestSparesAreBounded: the spares hold at most maxBytes of old versions
// and max files; a version that does not fit is removed, as without spares.
func TestSparesAreBounded(t *testing.T) {
	e := newEnv(t, "")
	e.srv.objects.spares.maxBytes = 20_000
	e.srv.objects.spares.max = 3
	put(t, e, "big", strings.Repeat("b", 50_000))
	put(t, e, "big", "replaced")
	tmpFiles := func() int {
		left, err := os.ReadDir(e.srv.tmpDir)
		if err != nil {
			t.Fatal(err)
		}
		return len(left)
	}
	if n := len(e.srv.objects.spares.names()); n != 0 || tmpFiles() != 0 {
		t.Fatalf("%d spares, %d files under tmp/ after replacing a 50 KB version; want none (20 KB allowed)", n, tmpFiles())
	}
	for i := range 5 {
		put(t, e, "small-"+strconv.Itoa(i), "v1")
	}
	for i := range 5 {
		if resp, xe := send(t, e.signed(t, http.MethodDelete, "small-"+strconv.Itoa(i), "", sigv4.UnsignedPayload, nil)); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", resp.StatusCode, xe.Code)
		}
	}
	if n := len(e.srv.objects.spares.names()); n != 3 || tmpFiles() != 3 {
		t.Fatalf("%d spares, %d files under tmp/ after 5 deletes; want 3 of each", n, tmpFiles())
	}
}

// TestSparesWrittenOverHoldOnlyTheNewBytes: a spare is written over in
// place, not emptied first, so every reader of the new file must see its
// new bytes only. A multipart part's body spooled into the file of a much
// longer deleted version is read back (by CompleteMultipartUpload) as
// sent, and the file of a short object that took a long one's place is no
// longer than its bytes and metadata.
func TestSparesWrittenOverHoldOnlyTheNewBytes(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	cli := e.client(testSecret)
	long := strings.Repeat("an old, long version ", 20_000)
	put(t, e, "a", long)
	put(t, e, "b", long)
	del(t, e, "a") // a's long file becomes a spare (deletes make spares on any file system)
	if n := len(e.srv.objects.spares.names()); n != 1 {
		t.Fatalf("%d spares after deleting a long version, want 1", n)
	}
	key := "uploads/on-a-spare.bin"
	up, err := cli.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	part, err := cli.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("a short part")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	if got := string(e.getObject(t, key)); got != "a short part" {
		t.Fatalf("the multipart object reads %d bytes, %q...; want %q", len(got), got[:min(len(got), 40)], "a short part")
	}
	del(t, e, "b") // and now b's
	put(t, e, "short", "tiny")
	info, err := os.Stat(e.srv.objects.path(testBucket, "short"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() > 2048 {
		t.Fatalf("the file of a 4-byte object is %d bytes: old bytes were left in it", info.Size())
	}
	if got := string(e.getObject(t, "short")); got != "tiny" {
		t.Fatalf("GET short: %q, want %q", got, "tiny")
	}
}
