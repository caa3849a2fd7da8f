package local_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// BenchmarkRangedGet asks whether the worker should read an original the way
// the SDK's transfer managers do (feature/s3/manager's Downloader, now
// deprecated, and feature/s3/transfermanager in its RANGE mode): parallel
// ranged GETs into one buffer, against the plain GetObject + io.ReadAll it
// does. The object is 25 MiB, the API's largest upload, on the local edge.
//
//   - loopback: the edge as it is. Nothing limits one connection, so this
//     is what the extra requests cost in CPU (the edge's and the client's,
//     one process) and wall time.
//   - per-conn=50MBps: the same through a loopback proxy that holds every
//     response to 50 MB/s, a model of a link where one stream is slower
//     than the path (AWS documents no per-connection rate for S3; its
//     performance guide recommends concurrent 8-16 MB ranged GETs for
//     throughput). Here ranged GETs pay off by their parallelism.
//
// Every op reads the whole object and checks its bytes; requests/op counts
// the GETs (each billed as one S3 GET request).
func BenchmarkRangedGet(b *testing.B) {
	const size = 25 << 20
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	st := localtest.Start(b, func(c *local.Config) { c.Paused = true })
	ctx := context.Background()
	key := "bench/original-25MiB.bin"
	if _, err := st.S3Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(local.UploadsBucket), Key: aws.String(key), Body: bytes.NewReader(data),
	}); err != nil {
		b.Fatal(err)
	}

	ways := []struct {
		name          string
		part, workers int64
	}{
		{"one-GET", 0, 1},
		{"ranged/5MiBx5", 5 << 20, 5}, // manager.Downloader's defaults
		{"ranged/8MiBx5", 8 << 20, 5}, // transfermanager's defaults (RANGE mode)
	}
	for _, link := range []struct {
		name string
		rate float64 // bytes per second per response; 0 is no limit
	}{{"loopback", 0}, {"per-conn=50MBps", 50e6}} {
		endpoint := st.EdgeURL()
		if link.rate > 0 {
			endpoint = throttledProxy(b, st.EdgeURL(), link.rate)
		}
		client := s3.NewFromConfig(st.AWSConfig(), func(o *s3.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		})
		for _, w := range ways {
			b.Run(link.name+"/"+w.name, func(b *testing.B) {
				b.SetBytes(size)
				buf := make([]byte, size)
				var requests int
				start := rusageCPU()
				for b.Loop() {
					n, err := rangedGet(ctx, client, local.UploadsBucket, key, size, w.part, w.workers, buf)
					if err != nil {
						b.Fatal(err)
					}
					requests = n
				}
				b.StopTimer()
				if !bytes.Equal(buf, data) {
					b.Fatal("the bytes read differ from the object")
				}
				b.ReportMetric(float64(rusageCPU()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
				b.ReportMetric(float64(requests), "requests/op")
			})
		}
	}
}

// rangedGet reads the object into buf: with part 0 one GetObject read to
// the end (what the worker does), otherwise ranges of part bytes fetched by
// workers goroutines, as the transfer managers do once they know the size.
// It returns the number of GET requests.
func rangedGet(ctx context.Context, c *s3.Client, bucket, key string, size, part, workers int64, buf []byte) (int, error) {
	if part == 0 {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return 1, err
		}
		defer out.Body.Close()
		n, err := io.ReadFull(out.Body, buf)
		if err == nil && int64(n) != size {
			err = fmt.Errorf("read %d bytes of %d", n, size)
		}
		return 1, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(int(workers))
	parts := 0
	for off := int64(0); off < size; off += part {
		end := min(off+part, size) - 1
		parts++
		g.Go(func() error {
			out, err := c.GetObject(gctx, &s3.GetObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
			})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			_, err = io.ReadFull(out.Body, buf[off:end+1])
			return err
		})
	}
	return parts, g.Wait()
}

// throttledProxy serves a loopback reverse proxy to target that writes every
// response body at no more than rate bytes per second. It keeps the Host
// header, which the signature covers.
func throttledProxy(b *testing.B, target string, rate float64) string {
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy.ServeHTTP(&paced{ResponseWriter: w, rate: rate, start: time.Now()}, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// paced writes a response body at a bounded rate: after each write it
// waits until the bytes sent so far fit the rate since the first byte.
type paced struct {
	http.ResponseWriter
	rate  float64
	start time.Time
	sent  int64
}

func (p *paced) Write(q []byte) (int, error) {
	const chunk = 64 << 10
	written := 0
	for len(q) > 0 {
		n, err := p.ResponseWriter.Write(q[:min(len(q), chunk)])
		written += n
		p.sent += int64(n)
		if err != nil {
			return written, err
		}
		q = q[n:]
		if ahead := time.Duration(float64(p.sent)/p.rate*float64(time.Second)) - time.Since(p.start); ahead > 0 {
			time.Sleep(ahead) // the model of a slow link, not a wait for a condition
		}
	}
	return written, nil
}

func (p *paced) Flush() {
	if f, ok := p.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// rusageCPU is this process's user+system CPU time so far.
func rusageCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
