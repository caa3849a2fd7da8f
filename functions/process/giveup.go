package process

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/status"
)

// GiveUp ends the image of an upload event whose message ran out of
// receives (it reached a dead-letter queue): unless the image turns out to
// be finished from that source version (then its completion is published
// if it was not) or already failed with retries_exhausted, it emits "Image
// Processing Failed" with code retries_exhausted, retryable. msg is the
// dead-lettered message; its body is the S3 event.
//
// It is the dead-letter function's work (functions/deadletter), here
// because it shares the manifest and the events of the worker: a message
// that never reached the worker's last words (its invocations timed out,
// ran out of memory or were killed) still ends its image.
func (h *Handler) GiveUp(ctx context.Context, msg events.SQSMessage) error {
	// The message's receives on the process queue ran out: its attempt (in
	// the log and the event) is the last one, whatever the inbox counts.
	attrs := maps.Clone(msg.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["ApproximateReceiveCount"] = strconv.Itoa(h.cfg.MaxReceiveCount)
	msg.Attributes = attrs
	j, invalid, _ := h.parse(msg)
	if j == nil {
		return nil
	}
	if invalid != nil {
		return h.fail(ctx, j, invalid)
	}
	j.log = j.log.With("dead_letter", true)
	// Another delivery of the same version (a duplicate event) may be at
	// work: decide under the lease.
	release, done, err := h.lease(ctx, j)
	if err != nil || done {
		return err
	}
	defer release()
	rec, err := h.statuses.Get(ctx, j.imageID)
	if err != nil && !errors.Is(err, status.ErrNotFound) {
		return err
	}
	if err == nil && rec.CompletionID == j.completionID() &&
		(rec.Status == status.Done || (rec.Status == status.Failed && rec.Error != nil && rec.Error.Code == CodeRetriesExhausted)) {
		j.log.Info("dead letter of an image already ended", "status", rec.Status, "completion_id", rec.CompletionID)
		return nil
	}
	j.log.Warn("image given up: its message ran out of receives")
	return h.fail(ctx, j, &eventbus.ImageError{Code: CodeRetriesExhausted, Retryable: true, Message: fmt.Sprintf(
		"the image was not finished after %d deliveries (each one failed, timed out or ran out of memory); its message is kept in the dead-letter queue for a redrive",
		h.cfg.MaxReceiveCount)})
}
