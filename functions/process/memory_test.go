//go:build linux

package process

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imagepipe/imagepipe/metrics"
)

// TestWorstBatchPeakMemory measures the peak resident memory of the worker
// on its worst batch, at the Lambda memory setting (1536 MB: GOMEMLIMIT
// 1382 MiB, GOGC 400, the budget derived from it): a batch of ten 50-megapixel 16-bit
// RGBA PNGs of up to 25 MiB (the batch size and the largest, costliest
// input the worker takes). It runs the
// batch in a child process (this test binary again) and reads the child's
// peak RSS. It also runs the batch as it ran before GOMEMLIMIT and the
// derived budget, for comparison. Slow (minutes): `make lambda-memory`.
func TestWorstBatchPeakMemory(t *testing.T) {
	if os.Getenv("IMAGEPIPE_MEMORY_CHILD") != "" {
		worstBatchChild(t)
		return
	}
	if os.Getenv("IMAGEPIPE_MEMORY_TEST") == "" {
		t.Skip("a measurement of minutes: run it with `make lambda-memory` (IMAGEPIPE_MEMORY_TEST=1)")
	}
	const memoryMB = 1536
	src := filepath.Join(t.TempDir(), "worst.png")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, worstImage{10000, 5000}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	info, _ := os.Stat(src)
	t.Logf("input: 10000x5000 16-bit RGBA PNG, %d bytes (made in %s)", info.Size(), time.Since(start).Round(time.Second))
	if info.Size() > 25<<20 {
		t.Fatalf("the test image is %d bytes, over the 25 MiB input limit", info.Size())
	}
	for _, run := range []struct {
		name       string
		budget     string // MEMORY_BUDGET_MB, "" for the derived one
		gomemlimit string
		gogc       string
	}{
		// GOGC 400: what the Lambda entry points set under a memory limit
		// (awsenv.GCPercent).
		{"GOMEMLIMIT 90 %, GOGC 400, derived budget (as deployed)", "", strconv.Itoa(memoryMB*9/10) + "MiB", "400"},
		{"no GOMEMLIMIT, no budget to speak of (the former 100 MP pixel budget)", "4000", "off", "100"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWorstBatchPeakMemory$", "-test.v")
		cmd.Env = append(os.Environ(),
			"IMAGEPIPE_MEMORY_CHILD="+src,
			"GOMEMLIMIT="+run.gomemlimit, "GOGC="+run.gogc,
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(memoryMB),
			EnvProcessedBucket+"=processed", EnvEventBusName+"=imagepipe", metrics.EnvStack+"=test", EnvMemoryBudgetMB+"="+run.budget)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: child: %v\n%s", run.name, err, out.String())
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		peak := ru.Maxrss << 10
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		t.Logf("%s: peak RSS %d MiB of the function's %d MB; wall %s, CPU %s\n%s", run.name, peak>>20, memoryMB,
			time.Since(start).Round(time.Second), cpu.Round(time.Second), grepLines(out.String(), "budget", "batch"))
		if run.budget == "" && run.gomemlimit != "off" && peak >= memoryMB<<20 {
			t.Errorf("the worst batch peaks at %d MiB: over the function's %d MB", peak>>20, memoryMB)
		}
	}
}

func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// worstImage is a 16-bit RGBA image computed on the fly (smooth, so that it
// compresses under the input limit; every channel and alpha varying, so that
// the decoder keeps 16 bits and alpha).
type worstImage struct{ w, h int }

func (worstImage) ColorModel() color.Model   { return color.NRGBA64Model }
func (m worstImage) Bounds() image.Rectangle { return image.Rect(0, 0, m.w, m.h) }
func (m worstImage) At(x, y int) color.Color {
	return color.NRGBA64{R: uint16(x * 6), G: uint16(y * 13), B: uint16((x + y) * 3), A: 0xffff - uint16(x/2)}
}

// worstBatchChild runs the batch on the image named by the environment.
func worstBatchChild(t *testing.T) {
	data, err := os.ReadFile(os.Getenv("IMAGEPIPE_MEMORY_CHILD"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("budget %d MiB, concurrency %d, memory limit %d MiB\n", cfg.MemoryBudget>>20, cfg.Concurrency, memoryLimit()>>20)
	fs := &lean{source: data}
	sum := md5.Sum(data)
	fs.etag = hex.EncodeToString(sum[:])
	h, err := newHandler(cfg, fs, &recorder{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	for i := range 10 {
		id := fmt.Sprintf("%032x", i+1)
		d := objectCreated("uploads/"+id+".png", int64(len(data)), fs.etag)
		ev.Records = append(ev.Records, message(t, "m"+strconv.Itoa(i), 1, d, ""))
	}
	start := time.Now()
	resp, err := h.Handle(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch: %v %+v", err, resp)
	}
	fmt.Printf("batch of %d done in %s\n", len(ev.Records), time.Since(start).Round(time.Second))
}

// lean is an S3 that serves one source for every upload key without
// copying it, and keeps only the small objects it is given (manifest,
// lease): on Lambda the outputs leave the function's memory once written.
type lean struct {
	source []byte
	etag   string
	mu     sync.Mutex
	small  map[string][]byte
	meta   map[string]map[string]string
}

func (l *lean) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	key := aws.ToString(in.Key)
	if strings.HasPrefix(key, "uploads/") {
		return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(l.source)), ContentLength: aws.Int64(int64(len(l.source))), ETag: aws.String(`"` + l.etag + `"`)}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.small[key]
	if !ok {
		return nil, opError("GetObject", &s3types.NoSuchKey{})
	}
	sum := md5.Sum(b)
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b)), ETag: aws.String(`"` + hex.EncodeToString(sum[:]) + `"`)}, nil
}

func (l *lean) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	h := md5.New()
	var keep bytes.Buffer
	w := io.Writer(h)
	key := aws.ToString(in.Key)
	if strings.HasSuffix(key, ".json") {
		w = io.MultiWriter(h, &keep)
	}
	if _, err := io.Copy(w, in.Body); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.small == nil {
		l.small, l.meta = map[string][]byte{}, map[string]map[string]string{}
	}
	if in.IfNoneMatch != nil {
		if _, ok := l.small[key]; ok {
			return nil, httpError("PutObject", 412, "PreconditionFailed", "")
		}
	}
	if keep.Len() > 0 {
		l.small[key] = keep.Bytes()
	}
	l.meta[key] = in.Metadata
	return &s3.PutObjectOutput{ETag: aws.String(`"` + hex.EncodeToString(h.Sum(nil)) + `"`)}, nil
}

func (l *lean) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.meta[aws.ToString(in.Key)]
	if !ok {
		return nil, opError("HeadObject", &s3types.NotFound{})
	}
	return &s3.HeadObjectOutput{Metadata: m}, nil
}

func (l *lean) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.small, aws.ToString(in.Key))
	delete(l.meta, aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, nil
}

var _ s3API = (*lean)(nil)
