package sqsserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/imagepipe/imagepipe/local/queue"
)

// Registry holds the queues the edge serves: the stack's own, added with
// Add, and those made through CreateQueue.
type Registry struct {
	store   *queue.Store
	Region  string
	Account string
	Logger  *slog.Logger

	mu     sync.RWMutex
	queues map[string]*entry
	moves  *mover
}

type entry struct {
	q        *queue.Queue
	created  time.Time
	modified time.Time
	tags     map[string]string
	policy   string
	// made through CreateQueue: removed, with its messages, when the stack
	// starts again.
	dynamic bool
}

const dynamicSchema = `create table if not exists sqs_created_queues (name text primary key)`

// NewRegistry returns an empty registry of store's queues. The queues an
// earlier run made through CreateQueue are purged: their rules and tools
// are gone with that run.
func NewRegistry(ctx context.Context, store *queue.Store, region, account string) (*Registry, error) {
	db := store.DB()
	if _, err := db.ExecContext(ctx, dynamicSchema); err != nil {
		return nil, fmt.Errorf("sqs registry schema: %w", err)
	}
	rows, err := db.QueryContext(ctx, `select name from sqs_created_queues`)
	if err != nil {
		return nil, fmt.Errorf("sqs registry: %w", err)
	}
	var left []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err == nil {
			left = append(left, n)
		}
	}
	rows.Close()
	for _, n := range left {
		if _, err := store.Queue(n, queue.Options{}).Purge(ctx); err != nil {
			return nil, err
		}
		if _, err := db.ExecContext(ctx, `delete from sqs_created_queues where name = ?`, n); err != nil {
			return nil, fmt.Errorf("sqs registry: %w", err)
		}
	}
	r := &Registry{store: store, Region: region, Account: account, queues: map[string]*entry{}, Logger: slog.New(slog.DiscardHandler)}
	r.moves = &mover{reg: r, tasks: map[string][]*moveTask{}}
	return r, nil
}

// Add serves one of the stack's queues.
func (r *Registry) Add(q *queue.Queue) {
	now := time.Now()
	r.mu.Lock()
	r.queues[q.Name()] = &entry{q: q, created: now, modified: now, tags: map[string]string{}}
	r.mu.Unlock()
}

// Get returns the queue called name.
func (r *Registry) Get(name string) (*queue.Queue, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.queues[name]
	if !ok {
		return nil, false
	}
	return e.q, true
}

// ByARN returns the queue an SQS ARN of this region and account names.
func (r *Registry) ByARN(arn string) (*queue.Queue, bool) {
	name, ok := strings.CutPrefix(arn, r.arnPrefix())
	if !ok {
		return nil, false
	}
	return r.Get(name)
}

// ARN is a queue's ARN.
func (r *Registry) ARN(name string) string { return r.arnPrefix() + name }

func (r *Registry) arnPrefix() string {
	return "arn:aws:sqs:" + r.Region + ":" + r.Account + ":"
}

// URL is a queue's URL on the edge at base (scheme://host[:port]), in
// SQS's shape <endpoint>/<account>/<name>.
func (r *Registry) URL(base, name string) string {
	return strings.TrimSuffix(base, "/") + "/" + r.Account + "/" + name
}

func (r *Registry) entry(name string) (*entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.queues[name]
	return e, ok
}

// names lists the queues by name.
func (r *Registry) names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.queues))
	for n := range r.queues {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// byURL finds the queue of a QueueUrl: <anything>/<account>/<name>, or
// the bare name.
func (r *Registry) byURL(raw string) (*entry, string, error) {
	if raw == "" {
		return nil, "", missingParameter("QueueUrl")
	}
	name := raw
	if strings.Contains(raw, "/") {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, "", invalidParameter("QueueUrl %q is not a URL", raw)
		}
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) != 2 || parts[0] != r.Account {
			return nil, "", noQueue()
		}
		name = parts[1]
	}
	e, ok := r.entry(name)
	if !ok {
		return nil, "", noQueue()
	}
	return e, name, nil
}

// create makes a queue (CreateQueue); it answers the existing one when
// its attributes are the same.
func (r *Registry) create(ctx context.Context, name string, visibility time.Duration, policy string, tags map[string]string) (*entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.queues[name]; ok {
		if visibility > 0 && visibility != e.q.Options().VisibilityTimeout {
			return nil, errorOf(http.StatusBadRequest, "QueueNameExists", "QueueAlreadyExists", "A queue already exists with the same name and a different value for attribute VisibilityTimeout")
		}
		return e, nil
	}
	if _, err := r.store.DB().ExecContext(ctx, `insert or ignore into sqs_created_queues (name) values (?)`, name); err != nil {
		return nil, fmt.Errorf("create queue %s: %w", name, err)
	}
	now := time.Now()
	if tags == nil {
		tags = map[string]string{}
	}
	e := &entry{q: r.store.Queue(name, queue.Options{VisibilityTimeout: visibility}), created: now, modified: now, tags: tags, policy: policy, dynamic: true}
	r.queues[name] = e
	return e, nil
}

// remove deletes a queue made through CreateQueue, and its messages.
func (r *Registry) remove(ctx context.Context, name string) error {
	r.mu.Lock()
	e, ok := r.queues[name]
	if ok && !e.dynamic {
		r.mu.Unlock()
		return errorOf(http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", "Queue %s is one of the local stack's own and cannot be deleted.", name)
	}
	delete(r.queues, name)
	r.mu.Unlock()
	if !ok {
		return noQueue()
	}
	if _, err := e.q.Purge(ctx); err != nil {
		return err
	}
	if _, err := r.store.DB().ExecContext(ctx, `delete from sqs_created_queues where name = ?`, name); err != nil {
		return fmt.Errorf("delete queue %s: %w", name, err)
	}
	return nil
}

// sources are the queues whose dead-letter queue is name.
func (r *Registry) sources(name string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for n, e := range r.queues {
		if e.q.Options().DeadLetter == name && e.q.Options().MaxReceiveCount > 0 {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
