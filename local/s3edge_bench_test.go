package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imagepipe/imagepipe/local/s3server"
	"github.com/imagepipe/imagepipe/local/sigv4"
)

// BenchmarkS3Edge measures the edge's own work per S3 request, as the
// worker makes them in the local pipeline: a small object (a status or
// manifest record), a 590 KB object (an upload or an output) and the GET of
// one. The client is the SDK, configured as the stack's functions are
// (unsigned payloads, endpoints cached), its requests handed to the server
// in the process; cpu-ms/op is the whole process's (client and server).
func BenchmarkS3Edge(b *testing.B) {
	srv, err := s3server.New(s3server.Config{
		Dir:      b.TempDir(),
		Verifier: &sigv4.Verifier{Credentials: sigv4.StaticCredentials(benchKey, benchSecret), Now: time.Now},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.CreateBucket(context.Background(), benchBucket); err != nil {
		b.Fatal(err)
	}
	srv.OnObjectCreated(func(context.Context, s3server.ObjectCreated) error { return nil })
	newClient := func(h http.Handler) *s3.Client {
		return s3.NewFromConfig(aws.Config{
			Region:      "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider(benchKey, benchSecret, ""),
			HTTPClient:  &http.Client{Transport: &inProcess{host: "127.0.0.1:4566", handler: h, next: http.DefaultTransport}},
		}, func(o *s3.Options) {
			o.BaseEndpoint = aws.String("http://127.0.0.1:4566")
			o.UsePathStyle = true
			o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
			o.EndpointResolverV2 = newCachedS3Endpoints(s3.NewDefaultEndpointResolverV2())
		})
	}
	client := newClient(srv)
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), 590_000/16)
	small := []byte(`{"id":"0123456789abcdef","status":"processing","updated":"2026-12-02T05:30:00Z"}`)
	putTo := func(c *s3.Client) func(b *testing.B, key string, body []byte) {
		return func(b *testing.B, key string, body []byte) {
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(key),
				Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/json")}); err != nil {
				b.Fatal(err)
			}
		}
	}
	put := putTo(client)
	run := func(b *testing.B, op func(i int)) {
		b.ReportAllocs()
		cpu0 := cpuTime()
		b.ResetTimer()
		for i := range b.N {
			op(i)
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
	b.Run("put-small", func(b *testing.B) {
		run(b, func(i int) { put(b, fmt.Sprintf("status/%d.json", i), small) })
	})
	// put-small-sdk-only is the client's share of put-small: the same SDK
	// client and in-process transport, answered by a handler that only
	// reads the body and gives an ETag. It is what every request of an
	// image costs before the edge does anything.
	b.Run("put-small-sdk-only", func(b *testing.B) {
		putAnswered := putTo(newClient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		})))
		run(b, func(i int) { putAnswered(b, fmt.Sprintf("status/%d.json", i), small) })
	})
	b.Run("put-590KB", func(b *testing.B) {
		b.SetBytes(int64(len(big)))
		run(b, func(i int) { put(b, fmt.Sprintf("uploads/%d.jpg", i), big) })
	})
	// "image" is the edge's part of one image in the pipeline: the
	// upload, the worker's lease, status, outputs and manifest (three of
	// them written over an older version), its reads, and the lease's
	// removal.
	b.Run("image", func(b *testing.B) {
		gray, thumb := big[:448_000], big[:3_600]
		get := func(key string) {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(key)})
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, out.Body)
			out.Body.Close()
		}
		run(b, func(i int) {
			id := fmt.Sprintf("%08d", i)
			put(b, "status/"+id+".json", small)
			put(b, "uploads/"+id+".jpg", big)
			get("uploads/" + id + ".jpg")
			put(b, id+"/lease.json", small)
			get(id + "/lease.json")
			put(b, "status/"+id+".json", small)
			put(b, id+"/thumb.jpg", thumb)
			put(b, id+"/gray.jpg", gray)
			put(b, id+"/manifest.json", small)
			get(id + "/manifest.json")
			put(b, id+"/manifest.json", small)
			if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(id + "/lease.json")}); err != nil {
				b.Fatal(err)
			}
			put(b, "status/"+id+".json", small)
			get("status/" + id + ".json")
		})
	})
	// get-missing is the worker's look for a manifest before an image's
	// first version is done: a 404, through the SDK's error path.
	b.Run("get-missing", func(b *testing.B) {
		run(b, func(i int) {
			_, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(fmt.Sprintf("missing/%d/manifest.json", i))})
			var nsk *types.NoSuchKey
			if !errors.As(err, &nsk) {
				b.Fatalf("GET of a missing key: %v, want NoSuchKey", err)
			}
		})
	})
	put(b, "source.jpg", big)
	b.Run("get-590KB", func(b *testing.B) {
		b.SetBytes(int64(len(big)))
		run(b, func(int) {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(benchBucket), Key: aws.String("source.jpg")})
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, out.Body)
			out.Body.Close()
			if err != nil || n != int64(len(big)) {
				b.Fatalf("read %d bytes: %v", n, err)
			}
		})
	})
}

const (
	benchKey    = "AKIAIMAGEPIPEBENCH01"
	benchSecret = "imagepipe/local+bench/0123456789abcdefgh"
	benchBucket = "imagepipe-processed"
)

// cpuTime is the process's user + system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
