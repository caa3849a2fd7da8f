// Package queue is the local stack's SQS: durable queues in one SQLite file
// (modernc.org/sqlite, no cgo) with a visibility timeout, receive counts and
// a redrive to a dead-letter queue after maxReceiveCount receives, as in
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
// and .../sqs-dead-letter-queues.html.
//
// A message is deleted only by Delete with its current receipt handle; a
// crash at any moment leaves it in the file. A message a receiver held when
// its process died is released when the store is opened again (it keeps its
// receive count): after a restart the work resumes at once instead of after
// the visibility timeout.
//
// The file is checked (PRAGMA quick_check) when it is opened: a damaged file
// is refused with what to do, rather than accepted and failing later.
package queue

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

const schema = `
create table if not exists messages (
	id          text primary key,
	queue       text not null,
	body        blob not null,
	sent_at     integer not null,  -- unix ms
	visible_at  integer not null,  -- unix ms
	received    integer not null default 0,
	first_recv  integer not null default 0,
	seq         integer not null,
	held        integer not null default 0 -- 1: hidden because a receiver has it
);
create index if not exists messages_queue_visible on messages (queue, visible_at, seq);
`

// Store is a SQLite file holding any number of queues.
type Store struct {
	db   *sql.DB
	path string
	now  func() time.Time

	mu      sync.Mutex
	waiters map[string]chan struct{}

	// Released is how many messages held by a previous process Open made
	// visible again.
	Released int

	health atomic.Pointer[storeError]

	stmt statements
}

// statements are the store's statements, prepared once when it is opened:
// preparing one costs SQLite more than running it (about 40 µs against
// 10 µs for a send), and a message is sent, received and deleted on every
// hop of an image. The queue's name is a parameter, so one set serves
// every queue.
type statements struct {
	send, redrive, delete, changeVisibility, stats, nextVisible *sql.Stmt

	// receive holds a receive statement per batch size: SQLite plans a
	// statement for the LIMIT value bound to it and prepares it again
	// whenever another is bound (the process queue takes batches of 10,
	// notify's of 1), so each size has its own, its LIMIT in the text.
	mu      sync.Mutex
	receive map[int]*sql.Stmt
}

// The statements' text.
const (
	sqlSend = `insert into messages (id, queue, body, sent_at, visible_at, seq)
		values (?1, ?2, ?3, ?4, ?4, coalesce((select max(seq) from messages), 0) + 1)`
	sqlRedrive = `update messages set queue = ?1, received = 0, first_recv = 0, visible_at = ?2, held = 0
		where queue = ?3 and visible_at <= ?2 and received >= ?4`
	// sqlReceive takes the oldest visible messages (at most the LIMIT put
	// in by receiveStmt) received fewer than ?4 times and hides them, in
	// one statement; seq comes back to sort them.
	sqlReceive = `update messages set received = received + 1, visible_at = ?3, held = 1,
			first_recv = case when first_recv = 0 then ?2 else first_recv end
		where id in (select id from messages where queue = ?1 and visible_at <= ?2 and received < ?4 order by seq limit %d)
		returning id, body, received, sent_at, first_recv, seq`
	sqlDelete           = `delete from messages where id = ? and queue = ? and received = ?`
	sqlChangeVisibility = `update messages set visible_at = ?, held = 0 where id = ? and queue = ? and received = ?`
	sqlStats            = `select coalesce(sum(visible_at <= ?1), 0), coalesce(sum(visible_at > ?1), 0) from messages where queue = ?2`
	sqlNextVisible      = `select min(visible_at) from messages where queue = ?`
)

// prepare prepares the statements (the schema must be there).
func (s *Store) prepare() error {
	for _, p := range []struct {
		stmt **sql.Stmt
		text string
	}{
		{&s.stmt.send, sqlSend}, {&s.stmt.redrive, sqlRedrive},
		{&s.stmt.delete, sqlDelete}, {&s.stmt.changeVisibility, sqlChangeVisibility},
		{&s.stmt.stats, sqlStats}, {&s.stmt.nextVisible, sqlNextVisible},
	} {
		st, err := s.db.Prepare(p.text)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", strings.Join(strings.Fields(p.text), " "), err)
		}
		*p.stmt = st
	}
	s.stmt.receive = map[int]*sql.Stmt{}
	_, err := s.receiveStmt(10) // SQS's largest batch; checks the text
	return err
}

// receiveStmt is the receive statement for batches of at most max.
func (s *Store) receiveStmt(max int) (*sql.Stmt, error) {
	s.stmt.mu.Lock()
	defer s.stmt.mu.Unlock()
	if st, ok := s.stmt.receive[max]; ok {
		return st, nil
	}
	st, err := s.db.Prepare(fmt.Sprintf(sqlReceive, max))
	if err != nil {
		return nil, fmt.Errorf("prepare the receive of %d: %w", max, err)
	}
	s.stmt.receive[max] = st
	return st, nil
}

// storeError is the last failed write and when it happened.
type storeError struct {
	err error
	at  time.Time
}

// DamagedError is Open's error for a file that fails its integrity check.
type DamagedError struct {
	Path   string
	Detail string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("queue store %s is damaged (%s). imagepipe will not start on it: stop every process using it, "+
		"move it aside (mv %s %s.damaged; also its -wal and -shm files) and start again. The messages, archives and "+
		"replays it held are lost with it; the objects under s3/ are kept.", e.Path, e.Detail, e.Path, e.Path)
}

// Open opens (creating if needed) the store at path. It refuses a damaged
// file with a *DamagedError, and releases the messages a previous process
// held when it stopped.
func Open(path string) (*Store, error) { return open(path, time.Now) }

func open(path string, now func() time.Time) (*Store, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open queue store %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises anyway
	if err := check(db, path); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create queue schema in %s: %w", path, err)
	}
	if err := addColumn(db, "messages", "held", "integer not null default 0"); err != nil {
		db.Close()
		return nil, fmt.Errorf("upgrade queue schema in %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: now, waiters: map[string]chan struct{}{}}
	if err := s.prepare(); err != nil {
		db.Close()
		return nil, fmt.Errorf("queue store %s: %w", path, err)
	}
	// Nothing receives yet: every held message belongs to a process that
	// is gone.
	res, err := db.Exec(`update messages set visible_at = ?, held = 0 where held = 1`, s.now().UnixMilli())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("release the messages of the previous run in %s: %w", path, err)
	}
	n, _ := res.RowsAffected()
	s.Released = int(n)
	return s, nil
}

// check runs SQLite's quick_check; any answer but "ok", or a file SQLite
// cannot read as a database at all, is a *DamagedError.
func check(db *sql.DB, path string) error {
	rows, err := db.Query(`pragma quick_check`)
	if err != nil {
		return &DamagedError{Path: path, Detail: err.Error()}
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return &DamagedError{Path: path, Detail: err.Error()}
		}
		if line != "ok" && len(problems) < 3 {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return &DamagedError{Path: path, Detail: err.Error()}
	}
	if len(problems) > 0 {
		return &DamagedError{Path: path, Detail: "quick_check: " + strings.Join(problems, "; ")}
	}
	return nil
}

// addColumn adds a column to a table made by an earlier version.
func addColumn(db *sql.DB, table, column, decl string) error {
	rows, err := db.Query(`select name from pragma_table_info(?)`, table)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		if name == column {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	_, err = db.Exec(`alter table ` + table + ` add column ` + column + ` ` + decl)
	return err
}

// Health reports the store's state: an error when it cannot be read, or
// when its last write failed (until a write succeeds again).
func (s *Store) Health(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `select count(*) from (select 1 from messages limit 1)`).Scan(&n); err != nil {
		return fmt.Errorf("queue store %s cannot be read: %w", s.path, err)
	}
	if e := s.health.Load(); e != nil {
		return fmt.Errorf("queue store %s: the last write failed %s ago: %w", s.path, s.now().Sub(e.at).Round(time.Second), e.err)
	}
	return nil
}

// noteWrite records the outcome of a write for Health.
func (s *Store) noteWrite(err error) {
	if err == nil {
		if s.health.Load() != nil {
			s.health.Store(nil)
		}
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	s.health.Store(&storeError{err: err, at: s.now()})
}

// DB is the store's database, for other local state that wants to commit
// in the same file.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() } // closes the statements too

// Options configure a queue.
type Options struct {
	// VisibilityTimeout hides a received message from other receivers.
	VisibilityTimeout time.Duration
	// MaxReceiveCount moves a message to DeadLetter when it has been
	// received that many times without being deleted. 0 means never.
	MaxReceiveCount int
	// DeadLetter is the name of the dead-letter queue.
	DeadLetter string
}

// Queue is one named queue of a Store.
type Queue struct {
	s    *Store
	name string
	opts Options
}

// Queue returns the queue called name.
func (s *Store) Queue(name string, opts Options) *Queue {
	if opts.VisibilityTimeout <= 0 {
		opts.VisibilityTimeout = 30 * time.Second
	}
	return &Queue{s: s, name: name, opts: opts}
}

// Name is the queue's name.
func (q *Queue) Name() string { return q.name }

// Options are the queue's options.
func (q *Queue) Options() Options { return q.opts }

// Message is a received message.
type Message struct {
	ID            string
	Body          []byte
	ReceiptHandle string
	ReceiveCount  int
	SentAt        time.Time
	FirstReceived time.Time
}

// Send appends a message and returns its id. The message is on disk when
// Send returns.
func (q *Queue) Send(ctx context.Context, body []byte) (string, error) {
	id := newID()
	_, err := q.s.stmt.send.ExecContext(ctx, id, q.name, body, q.s.now().UnixMilli())
	q.s.noteWrite(err)
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", q.name, err)
	}
	q.s.wake(q.name)
	return id, nil
}

// SendTx is Send inside the caller's transaction; the receivers are woken
// by the caller through Wake after the commit.
func (q *Queue) SendTx(ctx context.Context, tx *sql.Tx, body []byte) (string, error) {
	id := newID()
	_, err := tx.StmtContext(ctx, q.s.stmt.send).ExecContext(ctx, id, q.name, body, q.s.now().UnixMilli())
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", q.name, err)
	}
	return id, nil
}

// Wake tells waiting receivers that the queue may have messages.
func (q *Queue) Wake() { q.s.wake(q.name) }

// Receive takes up to max visible messages, oldest first, and hides them
// for the visibility timeout. Messages past MaxReceiveCount move to the
// dead-letter queue first, as SQS's redrive does.
//
// The redrive and the receive are a statement each, each atomic by
// itself: no message is received more than MaxReceiveCount times even
// when one becomes visible between the two (the receive leaves it to the
// next redrive).
func (q *Queue) Receive(ctx context.Context, max int) (msgs []Message, err error) {
	defer func() { q.s.noteWrite(err) }()
	now := q.s.now().UnixMilli()
	limit := math.MaxInt64
	if q.opts.MaxReceiveCount > 0 && q.opts.DeadLetter != "" {
		limit = q.opts.MaxReceiveCount
		if _, err := q.s.stmt.redrive.ExecContext(ctx, q.opts.DeadLetter, now, q.name, q.opts.MaxReceiveCount); err != nil {
			return nil, fmt.Errorf("redrive %s: %w", q.name, err)
		}
	}
	if max < 1 {
		return nil, fmt.Errorf("receive from %s: at most %d messages: want at least 1", q.name, max)
	}
	stmt, err := q.s.receiveStmt(max)
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.name, err)
	}
	rows, err := stmt.QueryContext(ctx, q.name, now, now+q.opts.VisibilityTimeout.Milliseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.name, err)
	}
	defer rows.Close()
	type taken struct {
		m   Message
		seq int64
	}
	var got []taken
	for rows.Next() {
		var t taken
		var sent, first int64
		if err := rows.Scan(&t.m.ID, &t.m.Body, &t.m.ReceiveCount, &sent, &first, &t.seq); err != nil {
			return nil, fmt.Errorf("receive from %s: %w", q.name, err)
		}
		t.m.SentAt, t.m.FirstReceived = time.UnixMilli(sent), time.UnixMilli(first)
		t.m.ReceiptHandle = t.m.ID + "." + strconv.Itoa(t.m.ReceiveCount)
		got = append(got, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.name, err)
	}
	// RETURNING gives its rows in no set order: oldest first, by seq.
	slices.SortFunc(got, func(a, b taken) int { return cmp.Compare(a.seq, b.seq) })
	for _, t := range got {
		msgs = append(msgs, t.m)
	}
	return msgs, nil
}

// ErrStaleReceipt is returned for a receipt handle of an earlier receive.
var ErrStaleReceipt = errors.New("receipt handle is no longer valid")

// Delete removes a received message. A handle of an earlier receive of a
// message that has been received again is refused.
func (q *Queue) Delete(ctx context.Context, receipt string) error {
	id, count, err := parseReceipt(receipt)
	if err != nil {
		return err
	}
	res, err := q.s.stmt.delete.ExecContext(ctx, id, q.name, count)
	q.s.noteWrite(err)
	if err != nil {
		return fmt.Errorf("delete from %s: %w", q.name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrStaleReceipt
	}
	return nil
}

// ChangeVisibility makes a received message visible again after d (0:
// now), like ChangeMessageVisibility.
func (q *Queue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	id, count, err := parseReceipt(receipt)
	if err != nil {
		return err
	}
	// A delay chosen by the receiver is kept across a restart.
	res, err := q.s.stmt.changeVisibility.ExecContext(ctx, q.s.now().Add(d).UnixMilli(), id, q.name, count)
	q.s.noteWrite(err)
	if err != nil {
		return fmt.Errorf("change visibility in %s: %w", q.name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrStaleReceipt
	}
	if d <= 0 {
		q.s.wake(q.name)
	}
	return nil
}

// Stats counts a queue's messages.
type Stats struct {
	Visible  int // ApproximateNumberOfMessages
	InFlight int // ApproximateNumberOfMessagesNotVisible
}

// Stats counts the queue's messages now.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	now := q.s.now().UnixMilli()
	err := q.s.stmt.stats.QueryRowContext(ctx, now, q.name).Scan(&st.Visible, &st.InFlight)
	if err != nil {
		return st, fmt.Errorf("count %s: %w", q.name, err)
	}
	return st, nil
}

// NextVisible is when the queue's next hidden message becomes visible, or
// the zero time when none is hidden.
func (q *Queue) NextVisible(ctx context.Context) (time.Time, error) {
	var ms sql.NullInt64
	err := q.s.stmt.nextVisible.QueryRowContext(ctx, q.name).Scan(&ms)
	if err != nil || !ms.Valid {
		return time.Time{}, err
	}
	return time.UnixMilli(ms.Int64), nil
}

// Wait returns a channel that is closed when a message is sent to the
// queue (or made visible again through ChangeVisibility).
func (q *Queue) Wait() <-chan struct{} {
	q.s.mu.Lock()
	defer q.s.mu.Unlock()
	ch, ok := q.s.waiters[q.name]
	if !ok {
		ch = make(chan struct{})
		q.s.waiters[q.name] = ch
	}
	return ch
}

func (s *Store) wake(name string) {
	s.mu.Lock()
	ch, ok := s.waiters[name]
	delete(s.waiters, name)
	s.mu.Unlock()
	if ok {
		close(ch)
	}
}

func parseReceipt(r string) (string, int, error) {
	id, n, ok := strings.Cut(r, ".")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || id == "" {
		return "", 0, fmt.Errorf("malformed receipt handle %q", r)
	}
	return id, count, nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
