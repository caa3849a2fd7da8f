package s3server

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// awsCLI finds the aws CLI; without it the test skips, except under CI.
func awsCLI(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("aws CLI not found on PATH (required under CI=true): %v", err)
		}
		t.Skipf("aws CLI not found on PATH: %v", err)
	}
	return path
}

// runCLI runs the aws CLI against the test server with only the given
// credentials: the user's own AWS_* environment and config files are hidden.
func (e *testEnv) runCLI(t *testing.T, secret string, args ...string) (string, error) {
	t.Helper()
	bin := awsCLI(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	if err := os.WriteFile(cfgFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID="+testAccessKey,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+cfgFile,
		"AWS_SHARED_CREDENTIALS_FILE="+cfgFile,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_PAGER=",
	)
	env = append(env, e.cliEnv...)
	cmd := exec.Command(bin, append([]string{"--endpoint-url", e.http.URL}, args...)...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("aws %v: %v", args, time.Since(start).Round(time.Millisecond))
	return out.String(), err
}

func TestAWSCLI(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	dir := t.TempDir()

	small := []byte("a small upload from the aws CLI\n")
	smallPath := filepath.Join(dir, "small.txt")
	if err := os.WriteFile(smallPath, small, 0o600); err != nil {
		t.Fatal(err)
	}
	// A key S3 clients must escape: botocore signs the path it escaped.
	out, err := e.runCLI(t, testSecret, "s3", "cp", smallPath, "s3://"+testBucket+"/cli/small a+b.txt")
	if err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
	got := e.getObject(t, "cli/small a+b.txt")
	if !bytes.Equal(got, small) {
		t.Fatalf("stored %q, want %q", got, small)
	}
	sum := md5.Sum(small)
	evs := e.hooks.all()
	if len(evs) != 1 || evs[0].Reason != ReasonPutObject || evs[0].ETag != hex.EncodeToString(sum[:]) || evs[0].Size != int64(len(small)) {
		t.Fatalf("hook calls = %+v, want one PutObject of %d bytes with etag %x", evs, len(small), sum)
	}

	out, err = e.runCLI(t, testSecret, "s3", "ls", "s3://"+testBucket+"/cli/")
	if err != nil {
		t.Fatalf("aws s3 ls: %v\n%s", err, out)
	}
	if !strings.Contains(out, " small a+b.txt\n") {
		t.Fatalf("aws s3 ls does not list \"small a+b.txt\":\n%s", out)
	}

	// A larger file goes up as a multipart upload: one event, once complete.
	big := make([]byte, 20<<20)
	rand.Read(big)
	bigPath := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(bigPath, big, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = e.runCLI(t, testSecret, "s3", "cp", bigPath, "s3://"+testBucket+"/cli/big.bin")
	if err != nil {
		t.Fatalf("aws s3 cp (20 MiB): %v\n%s", err, out)
	}
	if got := e.getObject(t, "cli/big.bin"); !bytes.Equal(got, big) {
		t.Fatalf("stored %d bytes differ from the 20 MiB file sent", len(got))
	}
	evs = e.hooks.all()
	if len(evs) != 2 {
		t.Fatalf("hook calls = %+v, want 2", evs)
	}
	if ev := evs[1]; ev.Reason != ReasonCompleteMultipartUpload || ev.Key != "cli/big.bin" || ev.Size != int64(len(big)) || !strings.Contains(ev.ETag, "-") {
		t.Fatalf("multipart hook call = %+v, want CompleteMultipartUpload of %d bytes with a multipart etag", ev, len(big))
	}

	// The CLI downloads what it uploaded.
	back := filepath.Join(dir, "back.bin")
	out, err = e.runCLI(t, testSecret, "s3", "cp", "s3://"+testBucket+"/cli/big.bin", back)
	if err != nil {
		t.Fatalf("aws s3 cp download: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(back); !bytes.Equal(got, big) {
		t.Fatalf("downloaded %d bytes differ from the upload", len(got))
	}

	// A wrong secret is refused and stores nothing.
	out, err = e.runCLI(t, "not-the-secret", "s3", "cp", smallPath, "s3://"+testBucket+"/cli/refused.txt")
	if err == nil {
		t.Fatalf("aws s3 cp with a wrong secret succeeded:\n%s", out)
	}
	if !strings.Contains(out, "SignatureDoesNotMatch") && !strings.Contains(out, "403") {
		t.Fatalf("aws s3 cp with a wrong secret: want a 403 SignatureDoesNotMatch, got:\n%s", out)
	}
	out, err = e.runCLI(t, "not-the-secret", "s3", "ls", "s3://"+testBucket+"/")
	if err == nil {
		t.Fatalf("aws s3 ls with a wrong secret succeeded:\n%s", out)
	}
	if _, err := e.client(testSecret).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("cli/refused.txt")}); err == nil {
		t.Fatal("object stored by a request with a wrong secret")
	}
	if n := len(e.hooks.all()); n != 2 {
		t.Fatalf("hook called %d times, want 2 (nothing for refused requests)", n)
	}
}

// TestAWSCLIOverTLS runs the CLI over HTTPS, where botocore sends PutObject
// and UploadPart bodies aws-chunked with a checksum trailer
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER) instead of signing the payload.
func TestAWSCLIOverTLS(t *testing.T) {
	awsCLI(t)
	e := startEnv(t, "", true)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.http.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	e.cliEnv = []string{"AWS_CA_BUNDLE=" + ca}

	data := make([]byte, 9<<20) // over the CLI's 8 MiB multipart threshold
	rand.Read(data)
	for _, f := range []struct {
		key  string
		data []byte
	}{{"tls/small.txt", []byte("over https\n")}, {"tls/nine.bin", data}} {
		path := filepath.Join(dir, filepath.Base(f.key))
		if err := os.WriteFile(path, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := e.runCLI(t, testSecret, "s3", "cp", path, "s3://"+testBucket+"/"+f.key); err != nil {
			t.Fatalf("aws s3 cp %s over https: %v\n%s", f.key, err, out)
		}
		if got := e.getObject(t, f.key); !bytes.Equal(got, f.data) {
			t.Fatalf("%s stored as %d bytes differing from the %d sent", f.key, len(got), len(f.data))
		}
	}
	evs := e.hooks.all()
	if len(evs) != 2 || evs[0].Reason != ReasonPutObject || evs[1].Reason != ReasonCompleteMultipartUpload || evs[1].Size != int64(len(data)) {
		t.Fatalf("hook calls = %+v, want a PutObject then a CompleteMultipartUpload", evs)
	}
	if out, err := e.runCLI(t, "not-the-secret", "s3", "cp", filepath.Join(dir, "small.txt"), "s3://"+testBucket+"/tls/refused.txt"); err == nil {
		t.Fatalf("aws s3 cp over https with a wrong secret succeeded:\n%s", out)
	}
	if e.exists(t, "tls/refused.txt") {
		t.Fatal("object stored by a request with a wrong secret")
	}
}
