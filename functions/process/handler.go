package process

import (
	"bytes"
	"context"
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
	"github.com/imagepipe/imagepipe/internal/gostack"
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
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Handler is the worker.
type Handler struct {
	cfg    Config
	s3     s3API
	pub    eventbus.Publisher
	log    *slog.Logger
	memory *semaphore.Weighted
	now    func() time.Time
	// statuses reads the status records (has notify applied a completion?).
	statuses status.Store
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
	return &Handler{cfg: cfg, s3: client, pub: pub, log: logger, memory: semaphore.NewWeighted(cfg.MemoryBudget), now: time.Now,
		statuses: status.Store{Client: client, Bucket: cfg.ProcessedBucket}}, nil
}

// Handle works on one SQS batch. Messages that failed transiently are
// returned in BatchItemFailures so that only they come back.
//
// Lambda stops a function at its deadline without a word: nothing it was
// about to answer gets out. So no image is started when less than
// StartMargin is left (those messages are returned as failures), and the
// work under way is cancelled FinishMargin before the deadline, so that the
// answer with the partial batch failures always gets back in time.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu       sync.Mutex
		failures []events.SQSBatchItemFailure
		wg       sync.WaitGroup
		slots    = make(chan struct{}, h.cfg.Concurrency)
	)
	fail := func(id string) {
		mu.Lock()
		failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: id})
		mu.Unlock()
	}
	workCtx, startBy := ctx, time.Time{}
	if deadline, ok := ctx.Deadline(); ok {
		left := max(deadline.Sub(h.now()), 0)
		startBy = deadline.Add(-min(h.cfg.StartMargin, left/4))
		var cancel context.CancelFunc
		workCtx, cancel = context.WithDeadline(ctx, deadline.Add(-min(h.cfg.FinishMargin, left/10)))
		defer cancel()
	}
	for _, msg := range ev.Records {
		slots <- struct{}{}
		if !startBy.IsZero() && !h.now().Before(startBy) {
			<-slots
			h.notStarted(ctx, msg)
			fail(msg.MessageId)
			continue
		}
		wg.Add(1)
		go func() {
			gostack.Grow()
			defer func() { <-slots; wg.Done() }()
			if err := h.handleMessage(workCtx, ctx, msg); err != nil {
				fail(msg.MessageId)
			}
		}()
	}
	wg.Wait()
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// notStarted handles a message the invocation had no time left for: it
// comes back; on its last receive its image is failed now (the dead-letter
// function would find it failed already).
func (h *Handler) notStarted(ctx context.Context, msg events.SQSMessage) {
	j, _, err := h.parse(msg)
	if err != nil || j == nil {
		return
	}
	j.log.Info("not started: too little time left in this invocation")
	if j.attempt < h.cfg.MaxReceiveCount {
		return
	}
	pctx, cancel := lastWords(ctx)
	defer cancel()
	ie := &eventbus.ImageError{Code: CodeRetriesExhausted, Retryable: true,
		Message: fmt.Sprintf("gave up after %d attempts: the last invocation ran out of time before it could start the image", j.attempt)}
	if err := h.fail(pctx, j, ie); err != nil {
		j.log.Warn("retries_exhausted event not sent: the dead-letter function will send it", "err", err)
	}
}

// lastWords is a context for an event that must go out even when the
// invocation's own context is done: until the function's real deadline
// (10 s when it has none or it has passed).
func lastWords(ctx context.Context) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) > 100*time.Millisecond {
		return context.WithDeadline(base, deadline.Add(-50*time.Millisecond))
	}
	return context.WithTimeout(base, 10*time.Second)
}

// job is one message being worked on.
type job struct {
	messageID string
	imageID   string
	src       eventbus.ImageSource
	attempt   int
	started   time.Time
	// queued is when the message entered the queue (SentTimestamp).
	queued time.Time
	replay string
	// partition is the ARN partition of the upload event (aws, aws-cn, ...).
	partition string
	log       *slog.Logger
	// pixels of the source, once probed.
	pixels int64
}

// completionID is the completion id of the job's source version.
func (j *job) completionID() string { return eventbus.CompletionID(j.imageID, j.src.ETag) }

// parse reads an SQS message holding an EventBridge S3 event. A message
// that is not one gives a nil job (it is logged and acknowledged); an event
// whose key is not under uploads/ gives a job without an image id and the
// failure to report.
func (h *Handler) parse(msg events.SQSMessage) (*job, *eventbus.ImageError, error) {
	attempt, _ := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"])
	j := &job{messageID: msg.MessageId, attempt: max(attempt, 1), started: h.now(), partition: "aws", log: h.log.With("message_id", msg.MessageId)}
	if ms, err := strconv.ParseInt(msg.Attributes["SentTimestamp"], 10, 64); err == nil {
		j.queued = time.UnixMilli(ms)
	}
	var ev eventbus.Event
	var detail eventbus.ObjectCreated
	if err := json.Unmarshal([]byte(msg.Body), &ev); err != nil {
		h.log.Error("dropping a message that is not an EventBridge event", "message_id", msg.MessageId, "err", err)
		return nil, nil, nil
	}
	if err := json.Unmarshal(ev.Detail, &detail); err != nil || detail.Bucket.Name == "" || detail.Object.Key == "" {
		h.log.Error("dropping an event without bucket and key", "message_id", msg.MessageId, "event_id", ev.ID, "detail_type", ev.DetailType)
		return nil, nil, nil
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
		return j, &eventbus.ImageError{Code: CodeInvalidEvent, Message: fmt.Sprintf("key %q is not under uploads/", detail.Object.Key)}, nil
	}
	j.imageID = id
	j.log = j.log.With("image_id", id)
	return j, nil, nil
}

// handleMessage returns an error only for transient failures: everything
// else is acknowledged, with a failure event where there is an image. ctx
// is the work's context (cancelled before the deadline); callCtx the
// invocation's.
func (h *Handler) handleMessage(ctx, callCtx context.Context, msg events.SQSMessage) error {
	j, invalid, _ := h.parse(msg)
	if j == nil {
		return nil
	}
	if invalid != nil {
		return h.fail(ctx, j, invalid)
	}
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
		pctx, cancel := lastWords(callCtx)
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
//
// Exactly one completion per source version: the manifest
// (processed/<id>/manifest.json) is the commit point. It is written once
// the outputs are stored, marked unpublished, then the event is published,
// then the manifest is marked published. A retry that finds the manifest of
// its source version re-publishes the event only if it is not marked
// published, with the same completion_id. And a lease (processed/<id>/
// lease.json, taken with S3's If-None-Match: *) keeps two deliveries of one
// image from working on it at the same time. The manifest is looked for
// under the lease only: nearly every delivery is an image's first, whose
// manifest is not there, and a duplicate pays the lease's PUT and DELETE
// instead.
func (h *Handler) work(ctx context.Context, j *job) error {
	release, done, err := h.lease(ctx, j)
	if err != nil || done {
		return h.duplicate(ctx, j, done, err)
	}
	defer release()
	data, err := h.getSource(ctx, j)
	if errors.Is(err, errSuperseded) {
		j.log.Info("the object has been overwritten since this event: the newer version's event does the work", "etag", j.src.ETag)
		return nil
	}
	if err != nil {
		return err
	}
	defer h.markProcessing(ctx, j, j.log)()
	info, err := imaging.Probe(data)
	if err != nil {
		return imageError(err)
	}
	j.src.Format = info.Format
	j.pixels = int64(info.Width) * int64(info.Height)
	need := memoryNeed(info)
	if need > h.cfg.MemoryBudget {
		return &eventbus.ImageError{Code: imaging.ErrTooManyPixels.Code, Message: fmt.Sprintf(
			"a %dx%d %s needs about %d MiB to process, more than this function's memory budget of %d MiB: give the function more memory or lower MAX_PIXELS",
			info.Width, info.Height, info.Format, need>>20, h.cfg.MemoryBudget>>20)}
	}
	if err := h.memory.Acquire(ctx, need); err != nil {
		return fmt.Errorf("wait for memory budget: %w", err)
	}
	res, err := imaging.Process(ctx, data, h.cfg.Imaging)
	h.memory.Release(need)
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
		ImageID:      j.imageID,
		CompletionID: j.completionID(),
		Source:       j.src,
		Outputs:      outputs,
		DurationMS:   h.now().Sub(j.started).Milliseconds(),
		Attempt:      j.attempt,
		ReplayName:   j.replay,
	}
	detail.Warnings = append(detail.Warnings, res.Warnings...) // e.g. an ICC profile not applied
	if declared := path.Ext(j.src.Key); declared != "" && !sameFamily(declared[1:], info.Format) {
		detail.Warnings = append(detail.Warnings, fmt.Sprintf("content_mismatch: the key says %s but the bytes are %s", declared[1:], info.Format))
	}
	etag, err := h.putManifest(ctx, j.imageID, manifest{ImageDetail: detail, Unpublished: true}, "")
	if err != nil {
		return err
	}
	if err := h.publishCommitted(ctx, j, manifest{ImageDetail: detail, Unpublished: true}, etag); err != nil {
		return err
	}
	if err := h.recordReplay(ctx, j, ReplayRedone, nil); err != nil {
		return err
	}
	samples := []metrics.Sample{
		{Metric: metrics.ImagesDone, Value: 1},
		{Metric: metrics.ProcessingTime, Value: float64(detail.DurationMS)},
		{Metric: metrics.InputBytes, Value: float64(len(data))},
		{Metric: metrics.InputMegapixels, Value: float64(j.pixels) / 1e6},
	}
	if !j.queued.IsZero() {
		samples = append(samples, metrics.Sample{Metric: metrics.QueueToDoneTime, Value: float64(max(h.now().Sub(j.queued).Milliseconds(), 0))})
	}
	h.logMetrics(ctx, j, slog.LevelInfo, "image processed", "",
		[]any{"duration_ms", detail.DurationMS, "format", info.Format, "width", info.Width, "height", info.Height}, samples...)
	return nil
}

// duplicate ends the work on a version found committed (done): a replay
// record and the duplicates metric. With done false it passes err on.
func (h *Handler) duplicate(ctx context.Context, j *job, done bool, err error) error {
	if err != nil || !done {
		return err
	}
	if err := h.recordReplay(ctx, j, ReplayDuplicate, nil); err != nil {
		return err
	}
	h.logMetrics(ctx, j, slog.LevelInfo, "duplicate of a finished image: nothing to do", "", []any{"etag", j.src.ETag},
		metrics.Sample{Metric: metrics.DuplicatesSkipped, Value: 1})
	return nil
}

// lease takes the image's lease, then looks again whether its version is
// committed (the holder before us may have finished meanwhile, or died
// before its event went out: then the event is published here). When done
// is false the caller works under the lease and calls release.
func (h *Handler) lease(ctx context.Context, j *job) (release func(), done bool, err error) {
	release, err = h.takeLease(ctx, j)
	if err != nil {
		return nil, false, err
	}
	if done, err = h.finishCommitted(ctx, j); err != nil || done {
		release()
		return nil, done, err
	}
	return release, false, nil
}

// manifest is processed/<id>/manifest.json: the completion of the image's
// last finished source version. Unpublished is set until its "Image
// Processed" event is known to have gone out (a manifest without the field
// was written after its event).
type manifest struct {
	eventbus.ImageDetail
	Unpublished bool      `json:"unpublished,omitempty"`
	modified    time.Time // the object's Last-Modified, when read
}

// finishCommitted, called under the image's lease, reports whether the
// job's source version is already committed (its manifest is there with
// every output). A manifest still marked unpublished is finished here: its
// writer held the lease before us, so it is not publishing any more, and
// the event is published here if notify has not applied it.
func (h *Handler) finishCommitted(ctx context.Context, j *job) (bool, error) {
	m, etag, err := h.committed(ctx, j.imageID, j.src.ETag)
	if err != nil || m == nil {
		return false, err
	}
	if !m.Unpublished {
		return true, nil
	}
	// The event may have gone out just before a crash: if notify has
	// applied it already, only the mark is missing.
	if h.completionApplied(ctx, j.imageID, m) {
		j.log.Info("finished and its event applied: marking the manifest published", "completion_id", m.ID())
		m.Unpublished = false
		if _, err := h.putManifest(ctx, m.ImageID, *m, etag); err != nil {
			j.log.Warn("manifest not marked published", "completion_id", m.ID(), "err", err)
		}
		return true, nil
	}
	j.log.Info("finished before but its event may not have gone out: publishing it", "completion_id", m.ID())
	return true, h.publishCommitted(ctx, j, *m, etag)
}

// completionApplied reports whether the status record shows m's completion
// applied. A manifest written moments ago (a retry right after a crash, as
// after a local restart) is given up to a second for a delivery of its
// event that may be under way: a second copy of the event is then avoided.
func (h *Handler) completionApplied(ctx context.Context, imageID string, m *manifest) bool {
	wait := time.Duration(0)
	if !m.modified.IsZero() && h.now().Sub(m.modified) < time.Minute {
		wait = time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		rec, err := h.statuses.Get(ctx, imageID)
		if err == nil && rec.CompletionID == m.ID() && rec.Status == status.Done {
			return true
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publishCommitted publishes a committed manifest's "Image Processed" and
// marks the manifest published (only if it has not changed meanwhile).
func (h *Handler) publishCommitted(ctx context.Context, j *job, m manifest, etag string) error {
	m.CompletionID = m.ID()
	if err := h.publish(ctx, j, eventbus.DetailTypeProcessed, m.ImageDetail); err != nil {
		return err
	}
	m.Unpublished = false
	if _, err := h.putManifest(ctx, m.ImageID, m, etag); err != nil {
		// The event is out; a later duplicate would publish it again, with
		// the same completion_id, which notify ignores.
		j.log.Warn("event published but the manifest not marked so", "completion_id", m.CompletionID, "err", err)
	}
	return nil
}

// committed returns the manifest of imageID when it is for source ETag
// sourceETag and all its outputs are still there from that source, with the
// manifest's own ETag; nil when not.
func (h *Handler) committed(ctx context.Context, imageID, sourceETag string) (*manifest, string, error) {
	if sourceETag == "" {
		return nil, "", nil
	}
	out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.cfg.ProcessedBucket), Key: aws.String(manifestKey(imageID))})
	if isNotFound(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("get manifest of %s: %w", imageID, err)
	}
	defer out.Body.Close()
	var m manifest
	if err := json.NewDecoder(io.LimitReader(out.Body, 1<<20)).Decode(&m); err != nil || m.Source.ETag != sourceETag {
		return nil, "", nil
	}
	for _, o := range m.Outputs {
		head, err := h.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)})
		if isNotFound(err) {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("head %s/%s: %w", o.Bucket, o.Key, err)
		}
		if head.Metadata[metaSourceETag] != sourceETag {
			return nil, "", nil
		}
	}
	m.modified = aws.ToTime(out.LastModified)
	return &m, aws.ToString(out.ETag), nil
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
	if etag := strings.Trim(aws.ToString(out.ETag), `"`); etag != "" {
		if j.src.ETag == "" {
			j.src.ETag = etag
		} else if etag != j.src.ETag {
			return nil, errSuperseded
		}
	}
	// Read into one buffer of the announced size (io.ReadAll would grow
	// and copy a slice about twenty times for a 2 MP photo).
	buf := bytes.NewBuffer(make([]byte, 0, min(max(aws.ToInt64(out.ContentLength), 0), h.cfg.Imaging.MaxBytes)+bytes.MinRead))
	_, err = buf.ReadFrom(io.LimitReader(out.Body, h.cfg.Imaging.MaxBytes+1))
	data := buf.Bytes()
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
			gostack.Grow()
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

// putManifest writes the manifest of imageID: only over the version with
// ETag ifMatch when set (S3's If-Match). It returns the new ETag.
func (h *Handler) putManifest(ctx context.Context, imageID string, m manifest, ifMatch string) (string, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode manifest: %w", err)
	}
	in := &s3.PutObjectInput{
		Bucket: aws.String(h.cfg.ProcessedBucket), Key: aws.String(manifestKey(imageID)),
		Body: bytes.NewReader(raw), ContentLength: aws.Int64(int64(len(raw))), ContentType: aws.String("application/json"),
	}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := h.s3.PutObject(ctx, in)
	if err != nil {
		return "", fmt.Errorf("put manifest of %s: %w", imageID, err)
	}
	return aws.ToString(out.ETag), nil
}

// fail emits "Image Processing Failed"; its error is transient.
func (h *Handler) fail(ctx context.Context, j *job, ie *eventbus.ImageError) error {
	d := eventbus.ImageDetail{ImageID: j.imageID, Source: j.src, DurationMS: h.now().Sub(j.started).Milliseconds(), Attempt: j.attempt, ReplayName: j.replay, Error: ie}
	if j.imageID != "" {
		d.CompletionID = j.completionID()
	}
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
	function := h.cfg.Function
	if function == "" {
		function = "process"
	}
	dims := map[string]string{metrics.Stack: h.cfg.Stack, metrics.Function: function, metrics.ErrorCode: errorCode}
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

// errSuperseded: the source object has been overwritten since the event.
var errSuperseded = errors.New("the source object has a newer version")

// ImageIDFromKey is the image id of an upload's key (status.IDForKey): the
// id in uploads/<id>.<ext>, the keys the API makes; any other key under
// uploads/ (an object copied there with the aws CLI, say) gets an id
// derived from the key, stable across uploads of the same key, so that its
// outputs, events and status have one too.
func ImageIDFromKey(key string) (string, bool) { return status.IDForKey(key) }

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
