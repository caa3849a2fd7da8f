package lambdarie_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/lambdarie"
	"github.com/imagepipe/imagepipe/local/lambdarie/rietest"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// benchEnv is each function's environment against the local stack.
var benchEnv = map[string]map[string]string{
	"presign": {"UPLOADS_BUCKET": local.UploadsBucket, "PROCESSED_BUCKET": local.ProcessedBucket},
	"process": {"PROCESSED_BUCKET": local.ProcessedBucket, "EVENT_BUS_NAME": local.CustomBus, "IMAGEPIPE_STACK": local.StackName},
	"notify":  {"PROCESSED_BUCKET": local.ProcessedBucket, "IMAGEPIPE_STACK": local.StackName},
}

// BenchmarkBinaries measures the deployable bootstraps under the Lambda
// runtime emulator against a paused local stack (S3 and EventBridge on
// loopback; nothing else consumes):
//
//   - cold/<fn>: a new execution environment per op, first invocation
//     with a payload that does no work. init-ms is the emulator's INIT
//     REPORT, cpu-ms the bootstrap's user+system time (init included);
//     ns/op also counts starting the emulator.
//   - warm/process-2MP, warm/process-12MP: one environment, each op an SQS
//     batch of one photo-like JPEG under a new key (gray + 256 px thumb,
//     read from and written to the stack's S3, completion event put).
//     report-ms is the emulator's REPORT Duration, cpu-ms the bootstrap's
//     CPU time for the invocation, peak-MB its peak resident memory
//     (what Lambda reports as Max Memory Used; the emulator does not).
//   - warm/presign, warm/notify: POST /v1/uploads; a completion event.
func BenchmarkBinaries(b *testing.B) {
	dir := rietest.Binaries(b)
	st := localtest.Start(b, func(c *local.Config) { c.Paused = true })
	creds := st.Credentials()
	newFn := func(role string) *lambdarie.Function {
		fn, err := lambdarie.New(lambdarie.Config{
			Name: "imagepipe-" + role, Bootstrap: rietest.Bootstrap(dir, role), Emulator: rietest.Emulator(dir),
			Env:      benchEnv[role],
			AWS:      lambdarie.AWS{EndpointURL: st.EdgeURL(), Region: local.Region, AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
			MemoryMB: 1536, Timeout: 60 * time.Second,
		})
		if err != nil {
			b.Fatal(err)
		}
		return fn
	}
	idle := map[string][]byte{
		"presign": []byte(`{"httpMethod":"GET","path":"/healthz","resource":"/healthz"}`),
		"process": []byte(`{"Records":[]}`),
		"notify":  []byte(`{}`),
	}
	for _, role := range []string{"presign", "process", "notify"} {
		b.Run("cold/"+role, func(b *testing.B) {
			var s stats
			for b.Loop() {
				fn := newFn(role)
				res, err := fn.InvokeReport(context.Background(), idle[role])
				fn.Close()
				if err != nil || !res.Cold {
					b.Fatalf("cold invocation: cold %v, err %v", res.Cold, err)
				}
				s.add(res.InitDuration, res.CPU)
			}
			s.report(b, "init-ms")
		})
	}

	ctx := context.Background()
	s3c := st.S3Client()
	for _, size := range []struct {
		name string
		w, h int
	}{{"2MP", 1632, 1224}, {"12MP", 4000, 3000}} {
		b.Run("warm/process-"+size.name, func(b *testing.B) {
			data := photo(b, size.w, size.h)
			fn := newFn("process")
			defer fn.Close()
			// Warm the environment up.
			if _, err := fn.InvokeReport(ctx, idle["process"]); err != nil {
				b.Fatal(err)
			}
			var s stats
			var peak int64 // the bootstrap's VmHWM: Lambda's Max Memory Used
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				payload := putUpload(b, s3c, data, i)
				b.StartTimer()
				res, err := fn.InvokeReport(ctx, payload)
				if err != nil {
					b.Fatal(err)
				}
				var resp events.SQSEventResponse
				if err := json.Unmarshal(res.Payload, &resp); err != nil || len(resp.BatchItemFailures) != 0 {
					b.Fatalf("response %s: %v", res.Payload, err)
				}
				s.add(res.Duration, res.CPU)
				peak = max(peak, res.PeakRSS)
			}
			b.SetBytes(int64(len(data)))
			s.report(b, "report-ms")
			b.ReportMetric(float64(peak)/1e6, "peak-MB")
		})
	}
	for _, role := range []string{"presign", "notify"} {
		b.Run("warm/"+role, func(b *testing.B) {
			fn := newFn(role)
			defer fn.Close()
			payload := fixture(b, role, map[string]string{"presign": "apigw-post-uploads.json", "notify": "eventbridge-image-processed.json"}[role])
			if _, err := fn.InvokeReport(ctx, payload); err != nil {
				b.Fatal(err)
			}
			var s stats
			for b.Loop() {
				res, err := fn.InvokeReport(ctx, payload)
				if err != nil {
					b.Fatal(err)
				}
				s.add(res.Duration, res.CPU)
			}
			s.report(b, "report-ms")
		})
	}
}

// stats averages the emulator's figure and the CPU time over the ops.
type stats struct {
	n        int
	fig, cpu time.Duration
}

func (s *stats) add(fig, cpu time.Duration) { s.n++; s.fig += fig; s.cpu += cpu }

func (s *stats) report(b *testing.B, name string) {
	if s.n == 0 {
		return
	}
	b.ReportMetric(float64(s.fig.Microseconds())/1000/float64(s.n), name)
	b.ReportMetric(float64(s.cpu.Microseconds())/1000/float64(s.n), "cpu-ms")
}

// putUpload stores data under a new upload key and returns the SQS batch
// the mapping would hand the worker for it.
func putUpload(b *testing.B, c *s3.Client, data []byte, i int) []byte {
	id := fmt.Sprintf("%016x%016x", time.Now().UnixNano(), i)
	key := "uploads/" + id + ".jpg"
	put, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(local.UploadsBucket), Key: aws.String(key), Body: bytes.NewReader(data), ContentType: aws.String("image/jpeg"),
	})
	if err != nil {
		b.Fatal(err)
	}
	detail, _ := json.Marshal(eventbus.ObjectCreated{Version: "0", Bucket: eventbus.S3Bucket{Name: local.UploadsBucket},
		Object: eventbus.S3Object{Key: key, Size: int64(len(data)), ETag: aws.ToString(put.ETag)}})
	body, _ := json.Marshal(eventbus.Event{Version: "0", ID: id, DetailType: eventbus.DetailTypeObjectCreated, Source: eventbus.SourceS3,
		Account: local.Account, Time: time.Now().UTC(), Region: local.Region, Detail: detail})
	payload, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: id, ReceiptHandle: id, Body: string(body), EventSource: "aws:sqs", AWSRegion: local.Region,
		Attributes: map[string]string{"ApproximateReceiveCount": "1"},
	}}})
	return payload
}

// photo is a photo-like JPEG: smooth gradients with noise, quality 90.
func photo(b *testing.B, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			n := uint8(r.IntN(24))
			img.SetRGBA(x, y, color.RGBA{R: uint8(x*200/w) + n, G: uint8(y*200/h) + n, B: uint8((x+y)*100/(w+h)) + n, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
