package process

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/semaphore"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/imaging"
	"github.com/imagepipe/imagepipe/metrics"
)

// Error codes of failure events that are not imaging's own.
const (
	CodeSourceMissing    = "source_missing"
	CodeInvalidEvent     = "invalid_event"
	CodeRetriesExhausted = "retries_exhausted"
)

// Metadata keys recorded on every output.
const (
	metaSourceETag = "source-etag"
	metaSourceKey  = "source-key"
)

// s3API is the part of the S3 client the worker uses.
type s3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Handler is the worker.
type Handler struct {
	cfg    Config
	s3     s3API
	pub    eventbus.Publisher
	log    *slog.Logger
	pixels *semaphore.Weighted
	now    func() time.Time
}

// New returns the worker.
func New(cfg Config, client *s3.Client, pub eventbus.Publisher, logger *slog.Logger) (*Handler, error) {
	if client == nil {
		return nil, errors.New("process: nil S3 client")
	}
	return newHandler(cfg, client, pub, logger)
}

func newHandler(cfg Config, client s3API, pub eventbus.Publisher, logger *slog.Logger) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("process config: %w", err)
	}
	if pub == nil {
		return nil, errors.New("process: nil publisher")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, s3: client, pub: pub, log: logger, pixels: semaphore.NewWeighted(cfg.PixelBudget), now: time.Now}, nil
}

// Handle works on one SQS batch. Messages that failed transiently are
// returned in BatchItemFailures so that only they come back.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu       sync.Mutex
		failures []events.SQSBatchItemFailure
		wg       sync.WaitGroup
		slots    = make(chan struct{}, h.cfg.Concurrency)
	)
	for _, msg := range ev.Records {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := h.handleMessage(ctx, msg); err != nil {
				mu.Lock()
				failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// job is one message being worked on.
type job struct {
	imageID string
	src     eventbus.ImageSource
	attempt int
	started time.Time
	// queued is when the message entered the queue (SentTimestamp).
	queued time.Time
	replay string
	// partition is the ARN partition of the upload event (aws, aws-cn, ...).
	partition string
	log       *slog.Logger
	// pixels of the source, once probed.
	pixels int64
}

// handleMessage returns an error only for transient failures: everything
// else is acknowledged, with a failure event where there is an image.
func (h *Handler) handleMessage(ctx context.Context, msg events.SQSMessage) error {
	attempt, _ := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"])
	j := &job{attempt: max(attempt, 1), started: h.now(), partition: "aws", log: h.log.With("message_id", msg.MessageId)}
	if ms, err := strconv.ParseInt(msg.Attributes["SentTimestamp"], 10, 64); err == nil {
		j.queued = time.UnixMilli(ms)
	}
	var ev eventbus.Event
	var detail eventbus.ObjectCreated
	if err := json.Unmarshal([]byte(msg.Body), &ev); err != nil {
		h.log.Error("dropping a message that is not an EventBridge event", "message_id", msg.MessageId, "err", err)
		return nil
	}
	if err := json.Unmarshal(ev.Detail, &detail); err != nil || detail.Bucket.Name == "" || detail.Object.Key == "" {
		h.log.Error("dropping an event without bucket and key", "message_id", msg.MessageId, "event_id", ev.ID, "detail_type", ev.DetailType)
		return nil
	}
	j.replay = ev.ReplayName
	if len(ev.Resources) > 0 {
		if a, err := arn.Parse(ev.Resources[0]); err == nil {
			j.partition = a.Partition
		}
	}
	j.src = eventbus.ImageSource{Bucket: detail.Bucket.Name, Key: detail.Object.Key, ETag: strings.Trim(detail.Object.ETag, `"`), Size: detail.Object.Size}
	id, ok := ImageIDFromKey(detail.Object.Key)
	j.log = j.log.With("key", j.src.Key, "attempt", j.attempt)
	if !ok {
		return h.fail(ctx, j, &eventbus.ImageError{Code: CodeInvalidEvent, Message: fmt.Sprintf("key %q is not under uploads/", detail.Object.Key)})
	}
	j.imageID = id
	j.log = j.log.With("image_id", id)

	err := h.work(ctx, j)
	if err == nil {
		return nil
	}
	var ie *eventbus.ImageError
	if errors.As(err, &ie) {
		return h.fail(ctx, j, ie)
	}
	// Transient. On the last attempt say so with an event: the message goes
	// to the dead-letter queue next.
	if j.attempt >= h.cfg.MaxReceiveCount {
		// The failure may be the deadline itself: the event still goes out.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		pe := h.fail(pctx, j, &eventbus.ImageError{Code: CodeRetriesExhausted, Message: fmt.Sprintf("gave up after %d attempts: %v", j.attempt, err), Retryable: true})
		return errors.Join(err, pe)
	}
	h.logMetrics(ctx, j, slog.LevelWarn, "image will be retried", "", []any{"err", err}, metrics.Sample{Metric: metrics.TransientErrors, Value: 1})
	return err
}

// work makes and stores the outputs and emits "Image Processed". It returns
// an *eventbus.ImageError for a permanent failure, any other error for a
// transient one.
func (h *Handler) work(ctx context.Context, j *job) error {
	if done, err := h.alreadyDone(ctx, j); err != nil {
		return err
	} else if done {
		if err := h.recordReplay(ctx, j, ReplayDuplicate, nil); err != nil {
			return err
		}
		h.logMetrics(ctx, j, slog.LevelInfo, "duplicate of a finished image: nothing to do", "", []any{"etag", j.src.ETag},
			metrics.Sample{Metric: metrics.DuplicatesSkipped, Value: 1})
		return nil
	}
	defer h.markProcessing(ctx, j, j.log)()
	data, err := h.getSource(ctx, j)
	if err != nil {
		return err
	}
	info, err := imaging.Probe(data)
	if err != nil {
		return imageError(err)
	}
	j.src.Format = info.Format
	j.pixels = int64(info.Width) * int64(info.Height)
	pixels := min(max(j.pixels, 1), h.cfg.PixelBudget)
	if err := h.pixels.Acquire(ctx, pixels); err != nil {
		return fmt.Errorf("wait for pixel budget: %w", err)
	}
	res, err := imaging.Process(ctx, data, h.cfg.Imaging)
	h.pixels.Release(pixels)
	if err != nil {
		if imaging.Code(err) != "" {
			return imageError(err)
		}
		return fmt.Errorf("process %s: %w", j.src.Key, err)
	}
	outputs, err := h.putOutputs(ctx, j, res)
	if err != nil {
		return err
	}
	detail := eventbus.ImageDetail{
		ImageID:    j.imageID,
		Source:     j.src,
		Outputs:    outputs,
		DurationMS: h.now().Sub(j.started).Milliseconds(),
		Attempt:    j.attempt,
		ReplayName: j.replay,
	}
	detail.Warnings = append(detail.Warnings, res.Warnings...) // e.g. an ICC profile not applied
	if declared := path.Ext(j.src.Key); declared != "" && !sameFamily(declared[1:], info.Format) {
		detail.Warnings = append(detail.Warnings, fmt.Sprintf("content_mismatch: the key says %s but the bytes are %s", declared[1:], info.Format))
	}
	if err := h.publish(ctx, j, eventbus.DetailTypeProcessed, detail); err != nil {
		return err
	}
	if err := h.recordReplay(ctx, j, ReplayRedone, nil); err != nil {
		return err
	}
	done := []metrics.Sample{
		{Metric: metrics.ImagesDone, Value: 1},
		{Metric: metrics.ProcessingTime, Value: float64(detail.DurationMS)},
		{Metric: metrics.InputBytes, Value: float64(len(data))},
		{Metric: metrics.InputMegapixels, Value: float64(j.pixels) / 1e6},
	}
	if !j.queued.IsZero() {
		done = append(done, metrics.Sample{Metric: metrics.QueueToDoneTime, Value: float64(max(h.now().Sub(j.queued).Milliseconds(), 0))})
	}
	h.logMetrics(ctx, j, slog.LevelInfo, "image processed", "",
		[]any{"duration_ms", detail.DurationMS, "format", info.Format, "width", info.Width, "height", info.Height}, done...)
	return h.putManifest(ctx, j, detail)
}

// alreadyDone reports whether the manifest says this source ETag was
// finished and its outputs are all still there.
func (h *Handler) alreadyDone(ctx context.Context, j *job) (bool, error) {
	out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.cfg.ProcessedBucket), Key: aws.String(manifestKey(j.imageID))})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get manifest of %s: %w", j.imageID, err)
	}
	defer out.Body.Close()
	var m eventbus.ImageDetail
	if err := json.NewDecoder(io.LimitReader(out.Body, 1<<20)).Decode(&m); err != nil || m.Source.ETag != j.src.ETag || j.src.ETag == "" {
		return false, nil
	}
	for _, o := range m.Outputs {
		head, err := h.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)})
		if isNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("head %s/%s: %w", o.Bucket, o.Key, err)
		}
		if head.Metadata[metaSourceETag] != j.src.ETag {
			return false, nil
		}
	}
	return true, nil
}

func (h *Handler) getSource(ctx context.Context, j *job) ([]byte, error) {
	out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(j.src.Bucket), Key: aws.String(j.src.Key)})
	if isNotFound(err) {
		return nil, &eventbus.ImageError{Code: CodeSourceMissing, Message: fmt.Sprintf("s3://%s/%s is gone (expired or deleted)", j.src.Bucket, j.src.Key)}
	}
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", j.src.Bucket, j.src.Key, err)
	}
	defer out.Body.Close()
	if n := aws.ToInt64(out.ContentLength); n > h.cfg.Imaging.MaxBytes {
		return nil, &eventbus.ImageError{Code: imaging.ErrTooLarge.Code, Message: fmt.Sprintf("%d bytes, limit %d", n, h.cfg.Imaging.MaxBytes)}
	}
	if out.ContentType != nil {
		j.src.ContentType = *out.ContentType
	}
	if out.ETag != nil && j.src.ETag == "" {
		j.src.ETag = strings.Trim(*out.ETag, `"`)
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, h.cfg.Imaging.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", j.src.Bucket, j.src.Key, err)
	}
	if int64(len(data)) > h.cfg.Imaging.MaxBytes {
		return nil, &eventbus.ImageError{Code: imaging.ErrTooLarge.Code, Message: fmt.Sprintf("over %d bytes", h.cfg.Imaging.MaxBytes)}
	}
	return data, nil
}

// putOutputs writes the outputs concurrently.
func (h *Handler) putOutputs(ctx context.Context, j *job, res *imaging.Result) ([]eventbus.Output, error) {
	outputs := make([]eventbus.Output, len(res.Outputs))
	errs := make([]error, len(res.Outputs))
	var wg sync.WaitGroup
	for i, o := range res.Outputs {
		key := "processed/" + j.imageID + "/" + o.Name + "." + o.Ext
		outputs[i] = eventbus.Output{Name: o.Name, Bucket: h.cfg.ProcessedBucket, Key: key, ContentType: o.ContentType, Width: o.Width, Height: o.Height, Bytes: int64(len(o.Data)), Path: o.Path}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.s3.PutObject(ctx, &s3.PutObjectInput{
				Bucket:        aws.String(h.cfg.ProcessedBucket),
				Key:           aws.String(key),
				Body:          bytes.NewReader(o.Data),
				ContentLength: aws.Int64(int64(len(o.Data))),
				ContentType:   aws.String(o.ContentType),
				Metadata:      map[string]string{metaSourceETag: j.src.ETag, metaSourceKey: j.src.Key},
			})
			if err != nil {
				errs[i] = fmt.Errorf("put %s/%s: %w", h.cfg.ProcessedBucket, key, err)
			}
		}()
	}
	wg.Wait()
	return outputs, errors.Join(errs...)
}

func (h *Handler) putManifest(ctx context.Context, j *job, d eventbus.ImageDetail) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	_, err = h.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(h.cfg.ProcessedBucket), Key: aws.String(manifestKey(j.imageID)),
		Body: bytes.NewReader(raw), ContentLength: aws.Int64(int64(len(raw))), ContentType: aws.String("application/json"),
	})
	if err != nil {
		// The event is out; a retry would only find no manifest and redo
		// the work, which is safe. Report it so the message comes back.
		return fmt.Errorf("put manifest of %s: %w", j.imageID, err)
	}
	return nil
}

// fail emits "Image Processing Failed"; its error is transient.
func (h *Handler) fail(ctx context.Context, j *job, ie *eventbus.ImageError) error {
	d := eventbus.ImageDetail{ImageID: j.imageID, Source: j.src, DurationMS: h.now().Sub(j.started).Milliseconds(), Attempt: j.attempt, ReplayName: j.replay, Error: ie}
	if err := h.publish(ctx, j, eventbus.DetailTypeFailed, d); err != nil {
		return err
	}
	if j.imageID != "" {
		if err := h.recordReplay(ctx, j, ReplayFailed, ie); err != nil {
			return err
		}
	}
	// A refused image is the upload's fault; retries exhausted is ours.
	level := slog.LevelInfo
	if ie.Retryable {
		level = slog.LevelWarn
	}
	h.logMetrics(ctx, j, level, "image failed", ie.Code, []any{"code", ie.Code, "reason", ie.Message, "retryable", ie.Retryable},
		metrics.Sample{Metric: metrics.ImagesFailed, Value: 1})
	return nil
}

// logMetrics writes the one log line of a message's outcome, with its
// metrics in embedded metric format; errorCode, when set, is the ErrorCode
// dimension.
func (h *Handler) logMetrics(ctx context.Context, j *job, level slog.Level, msg, errorCode string, fields []any, samples ...metrics.Sample) {
	dims := map[string]string{metrics.Stack: h.cfg.Stack, metrics.Function: "process", metrics.ErrorCode: errorCode}
	line := metrics.Line{Dimensions: dims, Samples: append(samples, metrics.Sample{Metric: metrics.PeakMemory, Value: metrics.PeakMemoryMB()})}
	attrs := make([]slog.Attr, 0, len(fields)/2+16)
	if j.replay != "" {
		attrs = append(attrs, slog.String("replay_name", j.replay))
	}
	for i := 0; i+1 < len(fields); i += 2 {
		attrs = append(attrs, slog.Any(fields[i].(string), fields[i+1]))
	}
	j.log.LogAttrs(ctx, level, msg, append(attrs, line.Attrs(h.now())...)...)
}

func (h *Handler) publish(ctx context.Context, j *job, detailType string, d eventbus.ImageDetail) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", detailType, err)
	}
	var resources []string
	if d.Source.Bucket != "" {
		resources = []string{"arn:" + j.partition + ":s3:::" + d.Source.Bucket + "/" + d.Source.Key}
	}
	err = h.pub.Publish(ctx, eventbus.Entry{EventBusName: h.cfg.EventBusName, Source: eventbus.SourceProcess, DetailType: detailType, Detail: raw, Resources: resources})
	if err != nil {
		return fmt.Errorf("publish %s of %s: %w", detailType, d.ImageID, err)
	}
	return nil
}

func manifestKey(imageID string) string { return "processed/" + imageID + "/manifest.json" }

// ImageIDFromKey takes the id out of uploads/<id>.<ext>, the keys the API
// makes. Any other key under uploads/ (an object copied there with the aws
// CLI, say) gets an id derived from the key, stable across uploads of the
// same key, so that its outputs, events and status have one too.
func ImageIDFromKey(key string) (string, bool) {
	name, ok := strings.CutPrefix(key, "uploads/")
	if !ok || name == "" {
		return "", false
	}
	if id := strings.TrimSuffix(name, path.Ext(name)); status.ValidID(id) {
		return id, true
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16]), true
}

// imageError maps an imaging error to the error of a failure event. The
// code has its own field, so the message is the reason alone.
func imageError(err error) *eventbus.ImageError {
	return &eventbus.ImageError{Code: imaging.Code(err), Message: imaging.Reason(err)}
}

func sameFamily(ext, format string) bool {
	switch strings.ToLower(ext) {
	case "jpg", "jpeg", "jpe":
		return format == "jpeg"
	case "tif", "tiff":
		return format == "tiff"
	}
	return strings.EqualFold(ext, format)
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nsk *s3types.NoSuchKey
	var nf *s3types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound")
}
