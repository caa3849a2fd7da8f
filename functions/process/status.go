package process

import (
	"context"
	"log/slog"

	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/internal/gostack"
)

// markProcessing records, in the background, that the worker has the image
// (status "processing", DESIGN.md §3); the returned func waits for it. The
// update is compare-and-swap and only moves a record forward, so a
// duplicate delivery never turns a finished image back. Not being able to
// record it is logged and never fails the image: the status is for people,
// the completion event is what counts.
func (h *Handler) markProcessing(ctx context.Context, j *job, log *slog.Logger) (wait func()) {
	src, id, now := j.src, j.imageID, h.now()
	done := make(chan struct{})
	go func() {
		gostack.Grow()
		defer close(done)
		st := status.Store{Client: h.s3, Bucket: h.cfg.ProcessedBucket}
		if _, err := st.MarkProcessing(ctx, id, src, now); err != nil {
			log.Warn("could not record that the image is processing", "err", err)
		}
	}()
	return func() { <-done }
}
