package bus

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Replays live in the same SQLite file as the archive and the queues. A
// replay's cursor (last_seq) is updated in the transaction that delivers
// the event it points at, so a replay interrupted at any moment resumes on
// the next start without losing or repeating an event.
const replaySchema = `
create table if not exists replays (
	name          text primary key,
	description   text not null default '',
	archive       text not null,
	bus           text not null,
	rules         text not null default '[]', -- JSON array of rule names; empty: all rules
	event_start   integer not null,           -- unix ms, inclusive
	event_end     integer not null,           -- unix ms, inclusive
	max_seq       integer not null,           -- last archived event when the replay started
	state         text not null,
	state_reason  text not null default '',
	last_seq      integer not null default 0, -- last archive seq replayed
	last_replayed integer not null default 0, -- unix ms of that event's time; 0: none yet
	replayed      integer not null default 0, -- events replayed
	started       integer not null,           -- unix ms
	ended         integer not null default 0  -- unix ms; 0: not ended
);
`

// ReplayState is the state of a replay, as DescribeReplay reports it.
type ReplayState string

// The states of a replay: STARTING → RUNNING → COMPLETED, or CANCELLING →
// CANCELLED after CancelReplay, or FAILED.
const (
	ReplayStarting   ReplayState = "STARTING"
	ReplayRunning    ReplayState = "RUNNING"
	ReplayCancelling ReplayState = "CANCELLING"
	ReplayCompleted  ReplayState = "COMPLETED"
	ReplayCancelled  ReplayState = "CANCELLED"
	ReplayFailed     ReplayState = "FAILED"
)

// Done reports whether the state is final.
func (s ReplayState) Done() bool {
	return s == ReplayCompleted || s == ReplayCancelled || s == ReplayFailed
}

// ReplaySpec is what StartReplay asks for.
type ReplaySpec struct {
	Name        string
	Description string
	Archive     string
	// Bus is the destination bus; it must be the archive's bus.
	Bus string
	// Rules limits the replay to these rules of the bus (FilterArns); empty
	// means every rule.
	Rules []string
	// From and To bound the events' time, both inclusive.
	From, To time.Time
}

// Replay is a replay's record.
type Replay struct {
	ReplaySpec
	State       ReplayState
	StateReason string
	// LastReplayed is the time of the last event replayed (zero: none yet).
	LastReplayed time.Time
	// Replayed counts the events sent so far.
	Replayed int64
	// Total is how many events of the window the archive held when the
	// replay started.
	Total   int64
	Started time.Time
	Ended   time.Time // zero until the replay ends

	lastSeq, maxSeq int64
}

// Errors of the Replayer.
var (
	ErrNoReplay            = errors.New("replay does not exist")
	ErrReplayExists        = errors.New("replay already exists")
	ErrReplayNotCancelable = errors.New("replay is not in a valid state for this operation")
	ErrNoArchive           = errors.New("archive does not exist")
)

// Replayer runs replays: it re-sends a window of an archive to the rules of
// the archive's bus through Router.Replay, in archive order, one
// transaction per event. Replays are kept in the database; Run resumes the
// unfinished ones.
type Replayer struct {
	r   *Router
	db  *sql.DB
	log *slog.Logger
	now func() time.Time

	wake chan struct{}

	mu      sync.Mutex
	running map[string]bool

	// afterEvent, when set (tests), is called after each replayed event.
	afterEvent func(name string, seq int64)
}

// NewReplayer returns a Replayer over the router's database.
func NewReplayer(r *Router, logger *slog.Logger) (*Replayer, error) {
	if _, err := r.db.Exec(replaySchema); err != nil {
		return nil, fmt.Errorf("create replay schema: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Replayer{r: r, db: r.db, log: logger, now: time.Now, wake: make(chan struct{}, 1), running: map[string]bool{}}, nil
}

// Router is the router the replayer sends events through.
func (p *Replayer) Router() *Router { return p.r }

// Start records a replay in state STARTING; Run carries it out. Only the
// events archived before Start are replayed.
func (p *Replayer) Start(ctx context.Context, spec ReplaySpec) (*Replay, error) {
	a, ok := p.r.Archive(spec.Archive)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoArchive, spec.Archive)
	}
	if spec.Bus != a.Bus {
		return nil, fmt.Errorf("replay %s: archive %s keeps the events of bus %s, not %s", spec.Name, a.Name, a.Bus, spec.Bus)
	}
	if spec.To.Before(spec.From) {
		return nil, fmt.Errorf("replay %s: the window ends before it starts", spec.Name)
	}
	known := map[string]bool{}
	for _, rule := range p.r.Rules(spec.Bus) {
		known[rule.Name] = true
	}
	for _, n := range spec.Rules {
		if !known[n] {
			return nil, fmt.Errorf("replay %s: rule %s does not exist on event bus %s", spec.Name, n, spec.Bus)
		}
	}
	rules, _ := json.Marshal(nonNil(spec.Rules))
	now := p.now()
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("start replay %s: %w", spec.Name, err)
	}
	defer tx.Rollback()
	var maxSeq int64
	if err := tx.QueryRowContext(ctx, `select coalesce(max(seq), 0) from archive_events where archive = ?`, spec.Archive).Scan(&maxSeq); err != nil {
		return nil, fmt.Errorf("start replay %s: %w", spec.Name, err)
	}
	var exists int
	if err := tx.QueryRowContext(ctx, `select count(*) from replays where name = ?`, spec.Name).Scan(&exists); err != nil {
		return nil, fmt.Errorf("start replay %s: %w", spec.Name, err)
	}
	if exists > 0 {
		return nil, fmt.Errorf("%w: %s", ErrReplayExists, spec.Name)
	}
	if _, err := tx.ExecContext(ctx,
		`insert into replays (name, description, archive, bus, rules, event_start, event_end, max_seq, state, started) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		spec.Name, spec.Description, spec.Archive, spec.Bus, string(rules), spec.From.UnixMilli(), spec.To.UnixMilli(), maxSeq, string(ReplayStarting), now.UnixMilli()); err != nil {
		return nil, fmt.Errorf("start replay %s: %w", spec.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("start replay %s: %w", spec.Name, err)
	}
	p.poke()
	p.log.Info("replay started", "replay", spec.Name, "archive", spec.Archive, "from", spec.From, "to", spec.To, "rules", spec.Rules)
	return p.Describe(ctx, spec.Name)
}

// Describe returns the named replay.
func (p *Replayer) Describe(ctx context.Context, name string) (*Replay, error) {
	rows, err := p.query(ctx, `where name = ?`, name)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoReplay, name)
	}
	return rows[0], nil
}

// List returns every replay, oldest first.
func (p *Replayer) List(ctx context.Context) ([]*Replay, error) {
	return p.query(ctx, `order by started, name`)
}

// Cancel asks a STARTING or RUNNING replay to stop: it goes to CANCELLING
// and, once the event under way is delivered, to CANCELLED.
func (p *Replayer) Cancel(ctx context.Context, name string) (*Replay, error) {
	res, err := p.db.ExecContext(ctx, `update replays set state = ? where name = ? and state in (?, ?)`,
		string(ReplayCancelling), name, string(ReplayStarting), string(ReplayRunning))
	if err != nil {
		return nil, fmt.Errorf("cancel replay %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := p.Describe(ctx, name); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s", ErrReplayNotCancelable, name)
	}
	p.poke()
	return p.Describe(ctx, name)
}

// Run carries out the replays until ctx is done: those left unfinished by
// an earlier process first, then each one Start records. Replays under way
// when ctx ends stay RUNNING in the database, to be resumed by the next
// Run. Run returns once its workers have stopped.
func (p *Replayer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		pending, err := p.query(ctx, `where state in (?, ?, ?) order by started, name`,
			string(ReplayStarting), string(ReplayRunning), string(ReplayCancelling))
		if err != nil && ctx.Err() == nil {
			p.log.Error("list replays", "err", err)
		}
		for _, rp := range pending {
			p.mu.Lock()
			busy := p.running[rp.Name]
			p.running[rp.Name] = true
			p.mu.Unlock()
			if busy {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					p.mu.Lock()
					delete(p.running, rp.Name)
					p.mu.Unlock()
				}()
				p.run(ctx, rp)
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		}
	}
}

func (p *Replayer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run carries out one replay.
func (p *Replayer) run(ctx context.Context, rp *Replay) {
	log := p.log.With("replay", rp.Name)
	if rp.State == ReplayCancelling {
		p.finish(rp.Name, ReplayCancelled, "")
		return
	}
	if rp.State == ReplayStarting {
		if err := p.setState(ctx, rp.Name, ReplayStarting, ReplayRunning); err != nil {
			if ctx.Err() == nil {
				log.Error("replay: start", "err", err)
			}
			return
		}
	}
	if _, ok := p.r.Archive(rp.Archive); !ok {
		p.finish(rp.Name, ReplayFailed, fmt.Sprintf("Archive %s does not exist.", rp.Archive))
		return
	}
	if !p.r.HasBus(rp.Bus) {
		p.finish(rp.Name, ReplayFailed, fmt.Sprintf("Event bus %s does not exist.", rp.Bus))
		return
	}
	failures := 0
	for {
		page, err := p.page(ctx, rp)
		if err == nil && len(page) == 0 {
			p.finish(rp.Name, ReplayCompleted, "")
			log.Info("replay completed")
			return
		}
		for _, a := range page {
			if err != nil {
				break
			}
			var state ReplayState
			if err = p.db.QueryRowContext(ctx, `select state from replays where name = ?`, rp.Name).Scan(&state); err != nil {
				break
			}
			if state == ReplayCancelling {
				p.finish(rp.Name, ReplayCancelled, "")
				log.Info("replay cancelled", "replayed", rp.Replayed)
				return
			}
			seq, evTime := a.Seq, a.Time
			_, err = p.r.replayTx(ctx, rp.Bus, a.Event, rp.Name, rp.Rules, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx,
					`update replays set last_seq = ?, last_replayed = ?, replayed = replayed + 1 where name = ?`,
					seq, evTime.UnixMilli(), rp.Name)
				return err
			})
			if err != nil {
				break
			}
			rp.lastSeq, rp.Replayed, rp.LastReplayed = seq, rp.Replayed+1, evTime
			failures = 0
			if p.afterEvent != nil {
				p.afterEvent(rp.Name, seq)
			}
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return // stopping: the replay resumes on the next Run
		}
		failures++
		log.Error("replay: deliver", "err", err, "failures", failures)
		if failures >= 5 {
			p.finish(rp.Name, ReplayFailed, "Events could not be delivered: "+err.Error())
			return
		}
		t := time.NewTimer(time.Duration(failures) * 200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// page reads the next events of the replay's window after its cursor.
func (p *Replayer) page(ctx context.Context, rp *Replay) ([]ArchivedEvent, error) {
	rows, err := p.db.QueryContext(ctx,
		`select seq, time, event from archive_events where archive = ? and time >= ? and time <= ? and seq > ? and seq <= ? order by seq limit 100`,
		rp.Archive, rp.From.UnixMilli(), rp.To.UnixMilli(), rp.lastSeq, rp.maxSeq)
	if err != nil {
		return nil, fmt.Errorf("read archive %s: %w", rp.Archive, err)
	}
	defer rows.Close()
	var page []ArchivedEvent
	for rows.Next() {
		var a ArchivedEvent
		var ms int64
		var raw []byte
		if err := rows.Scan(&a.Seq, &ms, &raw); err != nil {
			return nil, fmt.Errorf("read archive %s: %w", rp.Archive, err)
		}
		if err := json.Unmarshal(raw, &a.Event); err != nil {
			return nil, fmt.Errorf("archived event %d of %s: %w", a.Seq, rp.Archive, err)
		}
		a.Time = time.UnixMilli(ms)
		page = append(page, a)
	}
	return page, rows.Err()
}

func (p *Replayer) setState(ctx context.Context, name string, from, to ReplayState) error {
	_, err := p.db.ExecContext(ctx, `update replays set state = ? where name = ? and state = ?`, string(to), name, string(from))
	if err != nil {
		return fmt.Errorf("replay %s: set state %s: %w", name, to, err)
	}
	return nil
}

// finish puts a replay in a final state. It does not use the run's context,
// so that a final state is recorded even while stopping.
func (p *Replayer) finish(name string, state ReplayState, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A replay cancelled after its last event ends CANCELLED, as CancelReplay
	// promised.
	if _, err := p.db.ExecContext(ctx, `update replays set state = case when state = ? then ? else ? end, state_reason = ?, ended = ? where name = ?`,
		string(ReplayCancelling), string(ReplayCancelled), string(state), reason, p.now().UnixMilli(), name); err != nil {
		p.log.Error("replay: record final state", "replay", name, "state", state, "err", err)
	}
}

func (p *Replayer) query(ctx context.Context, where string, args ...any) ([]*Replay, error) {
	rows, err := p.db.QueryContext(ctx,
		`select name, description, archive, bus, rules, event_start, event_end, max_seq, state, state_reason, last_seq, last_replayed, replayed, started, ended from replays `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read replays: %w", err)
	}
	var out []*Replay
	for rows.Next() {
		var rp Replay
		var rules string
		var from, to, lastReplayed, started, ended int64
		var state string
		if err := rows.Scan(&rp.Name, &rp.Description, &rp.Archive, &rp.Bus, &rules, &from, &to, &rp.maxSeq, &state, &rp.StateReason,
			&rp.lastSeq, &lastReplayed, &rp.Replayed, &started, &ended); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read replays: %w", err)
		}
		if err := json.Unmarshal([]byte(rules), &rp.Rules); err != nil {
			rows.Close()
			return nil, fmt.Errorf("replay %s: rules %q: %w", rp.Name, rules, err)
		}
		if len(rp.Rules) == 0 {
			rp.Rules = nil
		}
		rp.State = ReplayState(state)
		rp.From, rp.To, rp.Started = time.UnixMilli(from), time.UnixMilli(to), time.UnixMilli(started)
		if lastReplayed != 0 {
			rp.LastReplayed = time.UnixMilli(lastReplayed)
		}
		if ended != 0 {
			rp.Ended = time.UnixMilli(ended)
		}
		out = append(out, &rp)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read replays: %w", err)
	}
	for _, rp := range out {
		if err := p.db.QueryRowContext(ctx,
			`select count(*) from archive_events where archive = ? and time >= ? and time <= ? and seq <= ?`,
			rp.Archive, rp.From.UnixMilli(), rp.To.UnixMilli(), rp.maxSeq).Scan(&rp.Total); err != nil {
			return nil, fmt.Errorf("count replay %s: %w", rp.Name, err)
		}
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// IsReplayName reports whether s is a valid replay name ([.\-_A-Za-z0-9]+,
// at most 64 characters), as EventBridge requires.
func IsReplayName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return strings.Trim(s, ".-_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == ""
}
