package status_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// BenchmarkMarkProcessing is what the worker adds per image to record
// "processing": a GET and a conditional PUT of the status record, against
// the local stack's S3 edge (SigV4 and the durable store included). "put"
// is one unconditional PUT of the same record, for scale. Both report the
// CPU time (user + system, client and stack) of the timed part.
func BenchmarkMarkProcessing(b *testing.B) {
	st := localtest.Start(b, func(c *local.Config) { c.Paused = true })
	store := status.Store{Client: st.S3Client(), Bucket: local.ProcessedBucket}
	ctx := context.Background()
	now := time.Now()
	n := 0
	pending := func() string {
		n++
		id := fmt.Sprintf("%032x", n)
		if err := store.Put(ctx, &status.Record{ImageID: id, Status: status.Pending, Filename: "cat.jpg", CreatedAt: now}); err != nil {
			b.Fatal(err)
		}
		return id
	}
	b.Run("mark", func(b *testing.B) {
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			id := pending()
			b.StartTimer()
			c0 := localtest.CPUTime()
			if ok, err := store.MarkProcessing(ctx, id, eventbus.ImageSource{Key: "uploads/" + id + ".jpg", ETag: "e1"}, now); err != nil || !ok {
				b.Fatal(ok, err)
			}
			cpu += localtest.CPUTime() - c0
		}
		b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})
	b.Run("put", func(b *testing.B) {
		c0 := localtest.CPUTime()
		for b.Loop() {
			pending()
		}
		b.ReportMetric(float64(localtest.CPUTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})
}
