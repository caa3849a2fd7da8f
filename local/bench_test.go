package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/client"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/imaging"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/bus"
	"github.com/imagepipe/imagepipe/local/localtest"
	"github.com/imagepipe/imagepipe/local/queue"
)

// BenchmarkUploadToDone measures the whole flow a client sees for a 2 MP
// photo-like JPEG: POST /v1/uploads, PUT to the presigned URL, and the
// status turning done on GET /v1/images/{id}. One stack serves both
// sub-benchmarks: "serial" (one upload at a time; ns/op is the latency) and
// "parallel=8" (eight clients at once; ns/op is the wall time over b.N, so
// the inverse of images/s, and ms/upload is each upload's own latency).
//
// The wait is not a sleep: a test rule on the imagepipe bus delivers the
// worker's completion events to a queue whose Wait channel wakes the
// benchmark; only the last step, the notify function writing the status
// record that GET reads, is polled, at 1 ms.
//
// "worker" is the yardstick: the worker's image steps alone
// (imaging.Process, what `imagepipe convert` runs) on the same photo, one
// goroutine per core; parallel=8 reports its throughput as a fraction of
// that (x-worker). Every case reports the CPU time (user + system of the
// whole process: clients and stack) per upload beside the wall time, the
// stack's cases also the garbage collector's share of it (gc-cpu-ms);
// parallel=8 also the share of time the Go scheduler had nothing to run
// (idle-%): on a quiet machine, what keeps x-worker under 1 beside the CPU
// per image.
func BenchmarkUploadToDone(b *testing.B) {
	const w, h = 1920, 1080
	data, err := photoJPEG(w, h)
	if err != nil {
		b.Fatal(err)
	}
	st := localtest.Start(b)
	bs, err := newBenchStack(b, st)
	if err != nil {
		b.Fatal(err)
	}
	// One upload outside the timer: first-use costs (connections, SQLite
	// pages, lazily built tables) are not part of the steady state.
	if _, err := bs.uploadToDone(data, w, h); err != nil {
		b.Fatal(err)
	}

	var workerRate float64
	b.Run("worker", func(b *testing.B) {
		workers := runtime.GOMAXPROCS(0)
		b.SetBytes(int64(len(data)))
		var next atomic.Int64
		cpu0 := localtest.CPUTime()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					if _, err := imaging.Process(context.Background(), data, imaging.Options{}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		workerRate = float64(b.N) / elapsed.Seconds()
		b.ReportMetric(workerRate, "images/s")
		reportCPU(b, cpu0, b.N)
	})

	// The stack's cases run with the collector as imagepipe dev sets it
	// (the worker's yardstick keeps Go's default).
	restoreGC := local.TuneGC()
	defer restoreGC()

	b.Run("serial", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var lat []time.Duration
		gc0 := localtest.GCTime()
		cpu0 := localtest.CPUTime()
		for b.Loop() {
			d, err := bs.uploadToDone(data, w, h)
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, d)
		}
		reportLatency(b, lat)
		reportCPU(b, cpu0, len(lat))
		reportGC(b, gc0, len(lat))
	})

	b.Run("parallel=8", func(b *testing.B) {
		const clients = 8
		b.SetBytes(int64(len(data)))
		var (
			next     atomic.Int64
			mu       sync.Mutex
			lat      = make([]time.Duration, 0, b.N)
			firstErr error
			wg       sync.WaitGroup
		)
		b.ResetTimer()
		gc0 := localtest.GCTime()
		cpu0, idle0 := localtest.CPUTime(), localtest.IdleTime()
		start := time.Now()
		for range clients {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					d, err := bs.uploadToDone(data, w, h)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
						next.Store(int64(b.N)) // the others stop too
					}
					lat = append(lat, d)
					mu.Unlock()
					if err != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		if firstErr != nil {
			b.Fatal(firstErr)
		}
		reportLatency(b, lat)
		reportCPU(b, cpu0, b.N)
		reportGC(b, gc0, b.N)
		// The share of the processors' time with no goroutine to run: the
		// pipeline waiting on something other than the CPU.
		b.ReportMetric(100*float64(localtest.IdleTime()-idle0)/float64(elapsed)/float64(runtime.GOMAXPROCS(0)), "idle-%")
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "images/s")
		if workerRate > 0 {
			b.ReportMetric(float64(b.N)/elapsed.Seconds()/workerRate, "x-worker")
		}
	})
}

// BenchmarkStatusPoll measures one GET /v1/images/{id} of a done image,
// what imagepipe upload --wait and status --wait repeat while they wait:
// cpu-ms/op is the client's and the stack's together.
func BenchmarkStatusPoll(b *testing.B) {
	const w, h = 320, 240
	data, err := photoJPEG(w, h)
	if err != nil {
		b.Fatal(err)
	}
	bs, err := newBenchStack(b, localtest.Start(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	up, err := bs.api.Upload(ctx, "photo.jpg", "image/jpeg", data)
	if err != nil {
		b.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := bs.api.Wait(wctx, up.ImageID, client.WaitOptions{First: time.Millisecond, Max: 10 * time.Millisecond}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := localtest.CPUTime()
	for b.Loop() {
		v, err := bs.api.Image(ctx, up.ImageID)
		if err != nil {
			b.Fatal(err)
		}
		if v.Status != api.StatusDone {
			b.Fatalf("image %s: status %q", up.ImageID, v.Status)
		}
	}
	b.ReportMetric(float64(localtest.CPUTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// reportCPU reports the CPU milliseconds per image since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration, n int) {
	if n > 0 {
		b.ReportMetric(float64(localtest.CPUTime()-cpu0)/float64(time.Millisecond)/float64(n), "cpu-ms/image")
	}
}

// reportGC reports the garbage collector's CPU milliseconds per image
// since gc0 (a part of cpu-ms/image).
func reportGC(b *testing.B, gc0 time.Duration, n int) {
	if n > 0 {
		b.ReportMetric(float64(localtest.GCTime()-gc0)/float64(time.Millisecond)/float64(n), "gc-cpu-ms/image")
	}
}

// reportLatency reports the mean, median and 95th percentile of one
// upload's time to done, in milliseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(sum)/float64(len(lat)), "ms/upload")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*95)/100]), "p95-ms")
}

// benchStack is a client of a running stack that can wait for an image's
// completion event without polling.
type benchStack struct {
	api *client.Client

	mu      sync.Mutex
	waiters map[string]chan struct{} // by image id, until its completion event
	seen    map[string]bool          // completion events nobody waited for yet
}

// newBenchStack adds a rule that copies completion events to a queue and
// starts the goroutine that hands them to the waiting uploads; it stops
// with the benchmark.
func newBenchStack(b *testing.B, st *local.Stack) (*benchStack, error) {
	q := st.NewQueue("bench-completions", queue.Options{})
	if err := st.Router().AddRule(&bus.Rule{
		Name: "bench-completions", Bus: local.CustomBus, Target: q,
		Pattern: `{"source":["` + eventbus.SourceProcess + `"]}`,
	}); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // eight clients keep their connections
	api, err := client.New(st.APIURL(), st.APIKey(), client.WithHTTPClient(&http.Client{Transport: tr, Timeout: time.Minute}))
	if err != nil {
		return nil, err
	}
	bs := &benchStack{api: api, waiters: map[string]chan struct{}{}, seen: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		bs.dispatch(ctx, q)
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		tr.CloseIdleConnections()
	})
	return bs, nil
}

// dispatch reads completion events and closes the channel of each image's
// waiter.
func (bs *benchStack) dispatch(ctx context.Context, q *queue.Queue) {
	for {
		wake := q.Wait() // before Receive, so no send is missed
		msgs, err := q.Receive(ctx, 10)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			panic(fmt.Sprintf("receive completion events: %v", err))
		}
		for _, m := range msgs {
			var ev struct {
				Detail eventbus.ImageDetail `json:"detail"`
			}
			if err := json.Unmarshal(m.Body, &ev); err != nil {
				panic(fmt.Sprintf("completion event %s: %v", m.Body, err))
			}
			bs.mu.Lock()
			if ch, ok := bs.waiters[ev.Detail.ImageID]; ok {
				close(ch)
				delete(bs.waiters, ev.Detail.ImageID)
			} else {
				bs.seen[ev.Detail.ImageID] = true
			}
			bs.mu.Unlock()
			_ = q.Delete(ctx, m.ReceiptHandle)
		}
		if len(msgs) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// completed returns a channel closed once the worker has finished id.
func (bs *benchStack) completed(id string) <-chan struct{} {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	ch := make(chan struct{})
	if bs.seen[id] {
		delete(bs.seen, id)
		close(ch)
	} else {
		bs.waiters[id] = ch
	}
	return ch
}

// uploadToDone runs one upload through the API client (POST /v1/uploads,
// PUT to the presigned URL) and returns how long it took until
// GET /v1/images/{id} said done. It checks the gray output's size.
func (bs *benchStack) uploadToDone(data []byte, w, h int) (time.Duration, error) {
	ctx := context.Background()
	start := time.Now()
	up, err := bs.api.Upload(ctx, "photo.jpg", "image/jpeg", data)
	if err != nil {
		return 0, err
	}
	select {
	case <-bs.completed(up.ImageID):
	case <-time.After(time.Minute):
		return 0, fmt.Errorf("image %s: no completion event after a minute", up.ImageID)
	}
	// The notify function writes the status record right after the event:
	// poll it at 1 ms, with a deadline.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := bs.api.Wait(wctx, up.ImageID, client.WaitOptions{First: time.Millisecond, Max: time.Millisecond})
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("image %s: %w", up.ImageID, err)
	}
	if v.Status != api.StatusDone {
		return 0, fmt.Errorf("image %s: status %q, error %+v", up.ImageID, v.Status, v.Error)
	}
	if g := v.Outputs["gray"]; g.Width != w || g.Height != h {
		return 0, fmt.Errorf("image %s: gray output %+v, want %dx%d", up.ImageID, g, w, h)
	}
	return elapsed, nil
}

// photoJPEG encodes a w×h image that compresses like a photograph, at
// quality 90: smooth colour gradients, soft blobs of light, fine texture and
// per-pixel sensor noise (a flat or synthetic-sharp image would encode and
// decode unrealistically fast or slow). The image is the same on every run.
func photoJPEG(w, h int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	type blob struct{ x, y, r, dr, dg, db float64 }
	blobs := make([]blob, 12)
	for i := range blobs {
		blobs[i] = blob{
			x: rng.Float64() * float64(w), y: rng.Float64() * float64(h), r: 80 + rng.Float64()*300,
			dr: rng.Float64()*120 - 60, dg: rng.Float64()*120 - 60, db: rng.Float64()*120 - 60,
		}
	}
	clamp := func(v float64) uint8 { return uint8(max(0, min(255, math.Round(v)))) }
	for y := range h {
		fy := float64(y) / float64(h)
		for x := range w {
			fx := float64(x) / float64(w)
			// Sky-to-ground gradient with a warm cast towards one side.
			r := 70 + 110*fy + 40*fx
			g := 110 + 60*fy - 20*fx
			bl := 190 - 120*fy
			for _, k := range blobs {
				dx, dy := float64(x)-k.x, float64(y)-k.y
				f := math.Exp(-(dx*dx + dy*dy) / (2 * k.r * k.r))
				r, g, bl = r+k.dr*f, g+k.dg*f, bl+k.db*f
			}
			tex := 10 * math.Sin(float64(x)*0.05+3*math.Sin(float64(y)*0.013)) * math.Cos(float64(y)*0.041)
			n := rng.NormFloat64() * 6
			i := img.PixOffset(x, y)
			img.Pix[i+0] = clamp(r + tex + n + rng.NormFloat64()*2)
			img.Pix[i+1] = clamp(g + tex + n + rng.NormFloat64()*2)
			img.Pix[i+2] = clamp(bl + tex + n + rng.NormFloat64()*2)
			img.Pix[i+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
