package sqsserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

func init() {
	registry["StartMessageMoveTask"] = (*Handler).startMessageMoveTask
	registry["ListMessageMoveTasks"] = (*Handler).listMessageMoveTasks
	registry["CancelMessageMoveTask"] = (*Handler).cancelMessageMoveTask
}

// Move task states, as SQS names them.
const (
	taskRunning    = "RUNNING"
	taskCompleted  = "COMPLETED"
	taskCancelling = "CANCELLING"
	taskCancelled  = "CANCELLED"
	taskFailed     = "FAILED"
)

// moveBatch is how many messages one transaction moves.
const moveBatch = 10

// mover runs the move tasks (StartMessageMoveTask): a dead-letter queue's
// messages, as many as it held when the task started, moved to a
// destination in batches, each batch one transaction.
type mover struct {
	reg   *Registry
	mu    sync.Mutex
	tasks map[string][]*moveTask // by source queue name, newest first
	wg    sync.WaitGroup
}

type moveTask struct {
	handle, source, dest string
	sourceARN, destARN   string
	perSecond            int
	started              time.Time
	toMove               int64

	mu        sync.Mutex
	status    string
	moved     int64
	reason    string
	cancelled bool
}

type taskEntry struct {
	TaskHandle                        string `json:"TaskHandle,omitempty"`
	Status                            string `json:"Status"`
	SourceArn                         string `json:"SourceArn"`
	DestinationArn                    string `json:"DestinationArn,omitempty"`
	MaxNumberOfMessagesPerSecond      *int   `json:"MaxNumberOfMessagesPerSecond,omitempty"`
	ApproximateNumberOfMessagesMoved  int64  `json:"ApproximateNumberOfMessagesMoved"`
	ApproximateNumberOfMessagesToMove int64  `json:"ApproximateNumberOfMessagesToMove"`
	FailureReason                     string `json:"FailureReason,omitempty"`
	StartedTimestamp                  int64  `json:"StartedTimestamp"`
}

func (t *moveTask) entry() taskEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := taskEntry{Status: t.status, SourceArn: t.sourceARN, DestinationArn: t.destARN, ApproximateNumberOfMessagesMoved: t.moved,
		ApproximateNumberOfMessagesToMove: t.toMove, FailureReason: t.reason, StartedTimestamp: t.started.UnixMilli()}
	if t.perSecond > 0 {
		n := t.perSecond
		e.MaxNumberOfMessagesPerSecond = &n
	}
	if t.status == taskRunning {
		e.TaskHandle = t.handle
	}
	return e
}

func (h *Handler) startMessageMoveTask(r *http.Request, body []byte) (any, error) {
	var in struct {
		SourceArn                    string `json:"SourceArn"`
		DestinationArn               string `json:"DestinationArn"`
		MaxNumberOfMessagesPerSecond *int   `json:"MaxNumberOfMessagesPerSecond"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	reg := h.Queues
	if in.SourceArn == "" {
		return nil, missingParameter("SourceArn")
	}
	source, ok := strings.CutPrefix(in.SourceArn, reg.arnPrefix())
	if _, found := reg.Get(source); !ok || !found {
		return nil, notFound("The resource that you specified for the SourceArn parameter doesn't exist.")
	}
	sources := reg.sources(source)
	if len(sources) == 0 {
		return nil, invalidParameter("Source queue must be configured as a Dead Letter Queue.")
	}
	dest := ""
	switch {
	case in.DestinationArn != "":
		name, ok := strings.CutPrefix(in.DestinationArn, reg.arnPrefix())
		if _, found := reg.Get(name); !ok || !found {
			return nil, notFound("The resource that you specified for the DestinationArn parameter doesn't exist.")
		}
		dest = name
	case len(sources) == 1:
		dest = sources[0] // the queue that dead-lettered them
	default:
		return nil, invalidParameter("Queues %s all redrive to %s: say which one to move to with DestinationArn.", strings.Join(sources, ", "), source)
	}
	if dest == source {
		return nil, invalidParameter("The destination queue must not be the source queue.")
	}
	per := 0
	if in.MaxNumberOfMessagesPerSecond != nil {
		if per = *in.MaxNumberOfMessagesPerSecond; per < 1 || per > 500 {
			return nil, invalidParameter("Value %d for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500.", per)
		}
	}
	t, err := reg.moves.start(r.Context(), source, dest, per)
	if err != nil {
		return nil, err
	}
	return map[string]string{"TaskHandle": t.handle}, nil
}

// start begins a task unless one is running for the source.
func (m *mover) start(ctx context.Context, source, dest string, perSecond int) (*moveTask, error) {
	src, _ := m.reg.Get(source)
	stats, err := src.Stats(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tasks[source] {
		if t.entry().Status == taskRunning {
			return nil, invalidParameter("There is already a task running. Only one active task is allowed for a source queue arn at a given time.")
		}
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	raw, _ := json.Marshal(map[string]string{"taskId": hex.EncodeToString(id[:]), "sourceArn": m.reg.ARN(source)})
	t := &moveTask{handle: base64.StdEncoding.EncodeToString(raw), source: source, dest: dest,
		sourceARN: m.reg.ARN(source), destARN: m.reg.ARN(dest), perSecond: perSecond, started: time.Now(),
		toMove: int64(stats.Visible), status: taskRunning}
	m.tasks[source] = append([]*moveTask{t}, m.tasks[source]...)
	if len(m.tasks[source]) > 10 {
		m.tasks[source] = m.tasks[source][:10]
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.run(t)
	}()
	return t, nil
}

// run moves the task's messages, at most perSecond a second when set.
func (m *mover) run(t *moveTask) {
	ctx := context.Background()
	src, ok1 := m.reg.Get(t.source)
	dst, ok2 := m.reg.Get(t.dest)
	finish := func(status, reason string) {
		t.mu.Lock()
		t.status, t.reason = status, reason
		t.mu.Unlock()
	}
	if !ok1 || !ok2 {
		finish(taskFailed, "AWS.SimpleQueueService.NonExistentQueue")
		return
	}
	for {
		t.mu.Lock()
		left, cancelled := t.toMove-t.moved, t.cancelled
		t.mu.Unlock()
		if cancelled {
			finish(taskCancelled, "")
			return
		}
		if left <= 0 {
			finish(taskCompleted, "")
			return
		}
		batch := int(min(left, moveBatch))
		if t.perSecond > 0 {
			batch = min(batch, t.perSecond)
		}
		begun := time.Now()
		n, err := src.MoveTo(ctx, dst, batch)
		if err != nil {
			m.reg.Logger.Error("move task failed", "source", t.source, "destination", t.dest, "err", err)
			finish(taskFailed, "InternalError")
			return
		}
		t.mu.Lock()
		t.moved += int64(n)
		t.mu.Unlock()
		if n == 0 {
			// Fewer than counted at the start: the rest was received or
			// deleted meanwhile.
			finish(taskCompleted, "")
			return
		}
		if t.perSecond > 0 {
			time.Sleep(time.Until(begun.Add(time.Duration(n) * time.Second / time.Duration(t.perSecond))))
		}
	}
}

func (h *Handler) listMessageMoveTasks(r *http.Request, body []byte) (any, error) {
	var in struct {
		SourceArn  string `json:"SourceArn"`
		MaxResults *int   `json:"MaxResults"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	source, ok := strings.CutPrefix(in.SourceArn, h.Queues.arnPrefix())
	if _, found := h.Queues.Get(source); !ok || !found {
		return nil, notFound("The resource that you specified for the SourceArn parameter doesn't exist.")
	}
	max := 1
	if in.MaxResults != nil {
		if max = *in.MaxResults; max < 1 || max > 10 {
			return nil, invalidParameter("Value %d for parameter MaxResults is invalid. Reason: Must be between 1 and 10.", max)
		}
	}
	h.Queues.moves.mu.Lock()
	tasks := append([]*moveTask(nil), h.Queues.moves.tasks[source]...)
	h.Queues.moves.mu.Unlock()
	out := []taskEntry{}
	for _, t := range tasks[:min(max, len(tasks))] {
		out = append(out, t.entry())
	}
	return map[string]any{"Results": out}, nil
}

func (h *Handler) cancelMessageMoveTask(r *http.Request, body []byte) (any, error) {
	var in struct {
		TaskHandle string `json:"TaskHandle"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	h.Queues.moves.mu.Lock()
	defer h.Queues.moves.mu.Unlock()
	for _, tasks := range h.Queues.moves.tasks {
		for _, t := range tasks {
			if t.handle != in.TaskHandle {
				continue
			}
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.status != taskRunning {
				return nil, errorOf(http.StatusBadRequest, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "Only active tasks can be cancelled.")
			}
			t.cancelled, t.status = true, taskCancelling
			return map[string]int64{"ApproximateNumberOfMessagesMoved": t.moved}, nil
		}
	}
	return nil, notFound("The task handle is not valid or the task does not exist.")
}

// Close stops the move tasks under way (what they did not move stays in
// the source queue) and waits for them.
func (r *Registry) Close() {
	r.moves.mu.Lock()
	for _, tasks := range r.moves.tasks {
		for _, t := range tasks {
			t.mu.Lock()
			t.cancelled = true
			t.mu.Unlock()
		}
	}
	r.moves.mu.Unlock()
	r.moves.wg.Wait()
}
