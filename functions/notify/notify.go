// Package notify consumes imagepipe's completion events ("Image Processed"
// and "Image Processing Failed" on the imagepipe bus): it writes one
// structured JSON log line per event, with CloudWatch embedded metrics
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
// and the status record that GET /v1/images/{id} reads.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/metrics"
)

// EnvProcessedBucket names the bucket of the status records.
const EnvProcessedBucket = "PROCESSED_BUCKET"

// Config is what notify needs to know.
type Config struct {
	ProcessedBucket string
	// Stack is the value of the metrics' Stack dimension; empty means
	// metrics.DefaultStack.
	Stack string
	// Function is the value of the metrics' Function dimension; empty
	// means "notify" (the deadletter function, which applies stranded
	// completions, sets its own).
	Function string
}

// ConfigFromEnv reads the configuration from the environment.
func ConfigFromEnv() (Config, error) {
	c := Config{ProcessedBucket: os.Getenv(EnvProcessedBucket), Stack: os.Getenv(metrics.EnvStack)}
	if c.Stack == "" {
		return c, errors.Join(c.Validate(), fmt.Errorf("%s is required: the stack's name, the Stack dimension of the metrics", metrics.EnvStack))
	}
	return c, c.Validate()
}

// Validate reports what is missing.
func (c Config) Validate() error {
	if c.ProcessedBucket == "" {
		return fmt.Errorf("%s is required", EnvProcessedBucket)
	}
	return nil
}

// Handler handles completion events.
type Handler struct {
	statuses status.Store
	stack    string
	function string
	log      *slog.Logger
	now      func() time.Time
}

// New returns the handler. logger receives the one line per event; give it
// a JSON handler on Lambda.
func New(cfg Config, client *s3.Client, logger *slog.Logger) (*Handler, error) {
	if client == nil {
		return nil, errors.New("notify: nil S3 client")
	}
	return newHandler(cfg, client, logger)
}

func newHandler(cfg Config, client status.S3API, logger *slog.Logger) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notify config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	stack := cfg.Stack
	if stack == "" {
		stack = metrics.DefaultStack
	}
	function := cfg.Function
	if function == "" {
		function = "notify"
	}
	return &Handler{statuses: status.Store{Client: client, Bucket: cfg.ProcessedBucket}, stack: stack, function: function, log: logger, now: time.Now}, nil
}

// Handle logs one completion event and records the image's status. An
// event of another type is logged and ignored; an error means "retry".
func (h *Handler) Handle(ctx context.Context, ev eventbus.Event) error {
	var outcome string
	switch ev.DetailType {
	case eventbus.DetailTypeProcessed:
		outcome = status.Done
	case eventbus.DetailTypeFailed:
		outcome = status.Failed
	default:
		h.log.Warn("ignoring an event that is not a completion event", "event_id", ev.ID, "source", ev.Source, "detail_type", ev.DetailType)
		return nil
	}
	var d eventbus.ImageDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil || !status.ValidID(d.ImageID) {
		h.log.Error("ignoring a completion event without a valid image id", "event_id", ev.ID, "err", err)
		return nil
	}
	// The record is updated compare-and-swap (status.Store.Update): of two
	// deliveries of one completion at once, one applies it and the other
	// finds it applied.
	now := h.now().UTC()
	var kept string
	written, err := h.statuses.Update(ctx, d.ImageID, func(cur *status.Record) *status.Record {
		next := &status.Record{ImageID: d.ImageID, Key: d.Source.Key, ContentType: d.Source.ContentType, Size: d.Source.Size, CreatedAt: ev.Time}
		if cur != nil {
			if kept = skip(cur, outcome, d); kept != "" {
				return nil
			}
			c := *cur
			next = &c
		}
		next.Status = outcome
		next.UpdatedAt = now
		next.SourceETag = d.Source.ETag
		next.Outputs = d.Outputs
		next.DurationMS = d.DurationMS
		next.Error = d.Error
		next.Warnings = d.Warnings
		next.CompletionID = d.ID()
		next.History = append([]status.Transition(nil), next.History...)
		next.AddTransition(status.Transition{Status: outcome, CompletionID: d.ID(), ErrorCode: errorCode(d.Error), At: now})
		return next
	})
	if err != nil {
		return err
	}
	if written == nil {
		h.logLine(ctx, ev, outcome, d, kept)
		return nil
	}
	h.logLine(ctx, ev, outcome, d, "")
	return nil
}

// skip says why a completion is not applied to a record ("" to apply it):
// the record already shows it (a duplicate delivery, a replay of the
// completions archive), or the record does not move that way (records only
// move forward: a late failure, a replay whose source has expired say, must
// not hide a result that is there).
func skip(rec *status.Record, outcome string, d eventbus.ImageDetail) string {
	if rec.CompletionID == d.ID() && rec.Status == outcome && errorCode(rec.Error) == errorCode(d.Error) {
		return "this completion is applied already"
	}
	if !rec.Accepts(outcome, d.Source.ETag) {
		return "a record only moves forward"
	}
	return ""
}

func errorCode(e *eventbus.ImageError) string {
	if e == nil {
		return ""
	}
	return e.Code
}

// logLine writes the event's one log line, with embedded metrics: the
// status update by outcome (when the record was written: kept is "") and
// how long the completion took to reach it; kept says why the record was
// not written.
func (h *Handler) logLine(ctx context.Context, ev eventbus.Event, outcome string, d eventbus.ImageDetail, kept string) {
	now := h.now()
	attrs := []slog.Attr{
		slog.String("image_id", d.ImageID),
		slog.String("outcome", outcome),
		slog.String("event_id", ev.ID),
		slog.String("source_key", d.Source.Key),
		slog.Int64("source_bytes", d.Source.Size),
		slog.String("format", d.Source.Format),
		slog.Int64("duration_ms", d.DurationMS),
		slog.Int("attempt", d.Attempt),
	}
	if ev.ReplayName != "" {
		attrs = append(attrs, slog.String("replay_name", ev.ReplayName))
	}
	if d.Error != nil {
		attrs = append(attrs, slog.String("error_code", d.Error.Code), slog.String("error_message", d.Error.Message), slog.Bool("retryable", d.Error.Retryable))
	}
	for _, o := range d.Outputs {
		attrs = append(attrs, slog.Group("output_"+o.Name, "key", o.Key, "width", o.Width, "height", o.Height, "bytes", o.Bytes))
	}
	line := metrics.Line{
		Dimensions: map[string]string{metrics.Stack: h.stack, metrics.Outcome: outcome, metrics.Function: h.function},
		Samples:    []metrics.Sample{{Metric: metrics.PeakMemory, Value: metrics.PeakMemoryMB()}},
	}
	msg := "image " + outcome
	attrs = append(attrs, slog.String("completion_id", d.ID()))
	if kept == "" {
		line.Samples = append(line.Samples, metrics.Sample{Metric: metrics.StatusUpdates, Value: 1})
		if !ev.Time.IsZero() {
			line.Samples = append(line.Samples, metrics.Sample{Metric: metrics.StatusDelay, Value: float64(max(now.Sub(ev.Time).Milliseconds(), 0))})
		}
	} else {
		msg += " (status kept: " + kept + ")"
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, msg, append(attrs, line.Attrs(now)...)...)
}
