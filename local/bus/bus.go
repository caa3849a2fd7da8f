// Package bus is the local stack's EventBridge: event buses with rules
// whose patterns are matched by eventbus.Pattern, targets that are durable
// queues, and archives that keep matching events for replay. An event is
// routed and archived in one SQLite transaction, so an accepted event is
// never lost.
//
// See https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-what-is-how-it-works-concepts.html.
package bus

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local/queue"
)

const schema = `
create table if not exists archive_events (
	seq     integer primary key autoincrement,
	archive text not null,
	time    integer not null, -- unix ms of the event's time
	event   blob not null
);
create index if not exists archive_events_by_time on archive_events (archive, time);
`

// Rule routes the events of a bus that match its pattern to a queue.
type Rule struct {
	Name        string
	Bus         string
	Pattern     string
	Description string
	// Target receives the matching events; a rule without one (made by
	// PutRule, no PutTargets yet) delivers nowhere.
	Target *queue.Queue
	// TargetARN is what DescribeRule and ListTargetsByRule show, TargetID
	// the target's id there.
	TargetARN string
	TargetID  string
	// Tags are the rule's tags (TagResource).
	Tags    map[string]string
	pattern *eventbus.Pattern
}

// ARN is the rule's ARN.
func (r *Rule) ARN(region, account string) string {
	if r.Bus == "default" {
		return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", region, account, r.Name)
	}
	return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s/%s", region, account, r.Bus, r.Name)
}

// Archive keeps the events of a bus that match its pattern (all events when
// the pattern is empty).
type Archive struct {
	Name      string
	Bus       string
	Pattern   string
	Retention time.Duration // 0: forever
	CreatedAt time.Time
	pattern   *eventbus.Pattern
}

// Router holds the buses, rules and archives.
type Router struct {
	db      *sql.DB
	Region  string
	Account string
	log     *slog.Logger
	now     func() time.Time

	mu       sync.RWMutex
	buses    map[string]bool
	rules    map[string][]*Rule // by bus
	archives map[string]*Archive

	// archiveInsert is prepared once: every routed event is archived.
	archiveInsert *sql.Stmt
}

// New returns a router storing its archives in db (the queue store's
// database, so that routing and archiving commit together).
func New(store *queue.Store, region, account string, logger *slog.Logger) (*Router, error) {
	if _, err := store.DB().Exec(schema); err != nil {
		return nil, fmt.Errorf("create archive schema: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	insert, err := store.DB().Prepare(`insert into archive_events (archive, time, event) values (?, ?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("prepare the archive insert: %w", err)
	}
	return &Router{
		db: store.DB(), Region: region, Account: account, log: logger, now: time.Now,
		buses: map[string]bool{"default": true}, rules: map[string][]*Rule{}, archives: map[string]*Archive{},
		archiveInsert: insert,
	}, nil
}

// AddBus creates a custom bus (idempotent).
func (r *Router) AddBus(name string) {
	r.mu.Lock()
	r.buses[name] = true
	r.mu.Unlock()
}

// HasBus reports whether the bus exists.
func (r *Router) HasBus(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.buses[name]
}

// Buses lists the buses by name.
func (r *Router) Buses() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.buses))
	for n := range r.buses {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// AddRule adds a rule to an existing bus. An invalid pattern is refused
// with EventBridge's message.
func (r *Router) AddRule(rule *Rule) error {
	p, err := eventbus.ParsePattern(rule.Pattern)
	if err != nil {
		return fmt.Errorf("rule %s: %w", rule.Name, err)
	}
	rule.pattern = p
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.buses[rule.Bus] {
		return fmt.Errorf("rule %s: event bus %s does not exist", rule.Name, rule.Bus)
	}
	for _, existing := range r.rules[rule.Bus] {
		if existing.Name == rule.Name {
			return fmt.Errorf("rule %s already exists on bus %s", rule.Name, rule.Bus)
		}
	}
	r.rules[rule.Bus] = append(r.rules[rule.Bus], rule)
	return nil
}

// PutRule adds a rule, or changes the pattern and description of the rule
// of that name on its bus (its target and tags stay), as EventBridge's
// PutRule does.
func (r *Router) PutRule(rule *Rule) error {
	p, err := eventbus.ParsePattern(rule.Pattern)
	if err != nil {
		return fmt.Errorf("rule %s: %w", rule.Name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.buses[rule.Bus] {
		return fmt.Errorf("%w: %s", ErrNoBus, rule.Bus)
	}
	for i, existing := range r.rules[rule.Bus] {
		if existing.Name == rule.Name {
			changed := *existing
			changed.Pattern, changed.Description, changed.pattern = rule.Pattern, rule.Description, p
			r.rules[rule.Bus][i] = &changed
			return nil
		}
	}
	rule.pattern = p
	r.rules[rule.Bus] = append(r.rules[rule.Bus], rule)
	return nil
}

// ErrNoRule is returned for an unknown rule.
var ErrNoRule = errors.New("rule does not exist")

// RemoveRule deletes a rule of a bus.
func (r *Router) RemoveRule(bus, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, existing := range r.rules[bus] {
		if existing.Name == name {
			r.rules[bus] = append(r.rules[bus][:i:i], r.rules[bus][i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("%w: %s on %s", ErrNoRule, name, bus)
}

// UpdateRule changes a rule of a bus through a copy, so that routing
// under way keeps the rule it read.
func (r *Router) UpdateRule(bus, name string, change func(*Rule)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, existing := range r.rules[bus] {
		if existing.Name == name {
			changed := *existing
			changed.Tags = make(map[string]string, len(existing.Tags))
			for k, v := range existing.Tags {
				changed.Tags[k] = v
			}
			change(&changed)
			r.rules[bus][i] = &changed
			return nil
		}
	}
	return fmt.Errorf("%w: %s on %s", ErrNoRule, name, bus)
}

// Rules lists the rules of a bus.
func (r *Router) Rules(bus string) []*Rule {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Rule(nil), r.rules[bus]...)
}

// AddArchive adds an archive of a bus.
func (r *Router) AddArchive(a *Archive) error {
	if a.Pattern != "" {
		p, err := eventbus.ParsePattern(a.Pattern)
		if err != nil {
			return fmt.Errorf("archive %s: %w", a.Name, err)
		}
		a.pattern = p
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.buses[a.Bus] {
		return fmt.Errorf("archive %s: event bus %s does not exist", a.Name, a.Bus)
	}
	r.archives[a.Name] = a
	return nil
}

// Archives lists the archives by name.
func (r *Router) Archives() []*Archive {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Archive, 0, len(r.archives))
	for _, a := range r.archives {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Archive returns the named archive.
func (r *Router) Archive(name string) (*Archive, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.archives[name]
	return a, ok
}

// NewEvent wraps an entry in the envelope EventBridge gives it.
func (r *Router) NewEvent(e eventbus.Entry) eventbus.Event {
	t := e.Time
	if t.IsZero() {
		t = r.now()
	}
	res := e.Resources
	if res == nil {
		res = []string{}
	}
	return eventbus.Event{
		Version: "0", ID: newEventID(), DetailType: e.DetailType, Source: e.Source,
		Account: r.Account, Time: t.UTC().Truncate(time.Second), Region: r.Region, Resources: res, Detail: e.Detail,
	}
}

// Put routes one event on a bus: it is archived by the bus's archives
// (unless it is a replayed event) and sent to the target of every matching
// rule, all in one transaction. It returns the names of the rules that
// matched.
func (r *Router) Put(ctx context.Context, busName string, ev eventbus.Event) ([]string, error) {
	return r.route(ctx, busName, ev, nil, nil)
}

// Replay sends an archived event again to the rules of its bus (only those
// in ruleNames when that is not empty), marked with replayName.
func (r *Router) Replay(ctx context.Context, busName string, ev eventbus.Event, replayName string, ruleNames []string) ([]string, error) {
	return r.replayTx(ctx, busName, ev, replayName, ruleNames, nil)
}

// replayTx is Replay with inTx run in the routing transaction, so that a
// replay's progress commits with the deliveries it records.
func (r *Router) replayTx(ctx context.Context, busName string, ev eventbus.Event, replayName string, ruleNames []string, inTx func(*sql.Tx) error) ([]string, error) {
	ev.ReplayName = replayName
	only := map[string]bool{}
	for _, n := range ruleNames {
		only[n] = true
	}
	return r.route(ctx, busName, ev, only, inTx)
}

// route archives and delivers ev in one transaction; inTx, when not nil,
// runs in that transaction too (even when no rule matches).
func (r *Router) route(ctx context.Context, busName string, ev eventbus.Event, only map[string]bool, inTx func(*sql.Tx) error) ([]string, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	var decoded any
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	r.mu.RLock()
	if !r.buses[busName] {
		r.mu.RUnlock()
		return nil, fmt.Errorf("%w: %s", ErrNoBus, busName)
	}
	var matched []*Rule
	for _, rule := range r.rules[busName] {
		if len(only) > 0 && !only[rule.Name] || rule.Target == nil {
			continue
		}
		if rule.pattern.MatchValue(decoded) {
			matched = append(matched, rule)
		}
	}
	var archives []*Archive
	if ev.ReplayName == "" {
		for _, a := range r.archives {
			if a.Bus == busName && (a.pattern == nil || a.pattern.MatchValue(decoded)) {
				archives = append(archives, a)
			}
		}
	}
	r.mu.RUnlock()

	if len(matched) == 0 && len(archives) == 0 && inTx == nil {
		return nil, nil
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("route event %s: %w", ev.ID, err)
	}
	defer tx.Rollback()
	insert := tx.StmtContext(ctx, r.archiveInsert)
	for _, a := range archives {
		if _, err := insert.ExecContext(ctx, a.Name, ev.Time.UnixMilli(), raw); err != nil {
			return nil, fmt.Errorf("archive event %s in %s: %w", ev.ID, a.Name, err)
		}
	}
	names := make([]string, 0, len(matched))
	for _, rule := range matched {
		if _, err := rule.Target.SendTx(ctx, tx, raw); err != nil {
			return nil, fmt.Errorf("deliver event %s for rule %s: %w", ev.ID, rule.Name, err)
		}
		names = append(names, rule.Name)
	}
	if inTx != nil {
		if err := inTx(tx); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("route event %s: %w", ev.ID, err)
	}
	for _, rule := range matched {
		rule.Target.Wake()
	}
	return names, nil
}

// ArchivedEvent is one event kept by an archive.
type ArchivedEvent struct {
	Seq   int64
	Time  time.Time
	Event eventbus.Event
}

// ArchiveStats counts an archive's events and bytes.
func (r *Router) ArchiveStats(ctx context.Context, name string) (count, bytes int64, err error) {
	err = r.db.QueryRowContext(ctx, `select count(*), coalesce(sum(length(event)), 0) from archive_events where archive = ?`, name).Scan(&count, &bytes)
	return count, bytes, err
}

// ArchivedEvents calls fn for each event of the archive whose time is in
// [from, to), oldest first, reading in pages so that a large window never
// sits in memory at once. fn's error stops the walk and is returned.
func (r *Router) ArchivedEvents(ctx context.Context, archive string, from, to time.Time, fn func(ArchivedEvent) error) error {
	after := int64(-1)
	for {
		rows, err := r.db.QueryContext(ctx,
			`select seq, time, event from archive_events where archive = ? and time >= ? and time < ? and seq > ? order by seq limit 100`,
			archive, from.UnixMilli(), to.UnixMilli(), after)
		if err != nil {
			return fmt.Errorf("read archive %s: %w", archive, err)
		}
		var page []ArchivedEvent
		for rows.Next() {
			var a ArchivedEvent
			var ms int64
			var raw []byte
			if err := rows.Scan(&a.Seq, &ms, &raw); err != nil {
				rows.Close()
				return fmt.Errorf("read archive %s: %w", archive, err)
			}
			if err := json.Unmarshal(raw, &a.Event); err != nil {
				rows.Close()
				return fmt.Errorf("archived event %d of %s: %w", a.Seq, archive, err)
			}
			a.Time = time.UnixMilli(ms)
			page = append(page, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read archive %s: %w", archive, err)
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
			after = a.Seq
		}
		if len(page) < 100 {
			return nil
		}
	}
}

// ErrNoBus is returned for an unknown bus.
var ErrNoBus = errors.New("event bus does not exist")

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
