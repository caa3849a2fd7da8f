package s3server

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestSmoke(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	cli := e.client(testSecret)
	_, err := cli.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("a/b c+d.txt"), Body: bytes.NewReader([]byte("hello")), Metadata: map[string]string{"source-etag": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("a/b c+d.txt")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	t.Logf("%q %v %v", b, out.Metadata, *out.ETag)
	t.Logf("%+v", e.hooks.all())
}
