package queue

import (
	"context"
	"fmt"
)

// What an operator does to a queue through the edge's SQS API
// (PurgeQueue, StartMessageMoveTask), each in one transaction.

// Purge deletes every message of the queue, received or not, and returns
// how many.
func (q *Queue) Purge(ctx context.Context) (int, error) {
	res, err := q.s.db.ExecContext(ctx, `delete from messages where queue = ?`, q.name)
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", q.name, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// MoveTo moves up to max of the queue's visible messages, oldest first, to
// dest, as unreceived messages there (visible at once, their receive
// count back to 0, their send time kept), and
// returns how many. A message being received (hidden) stays.
func (q *Queue) MoveTo(ctx context.Context, dest *Queue, max int) (int, error) {
	now := q.s.now().UnixMilli()
	res, err := q.s.db.ExecContext(ctx,
		`update messages set queue = ?, received = 0, first_recv = 0, visible_at = ?, held = 0
		 where id in (select id from messages where queue = ? and visible_at <= ? order by seq limit ?)`,
		dest.name, now, q.name, now, max)
	if err != nil {
		return 0, fmt.Errorf("move from %s to %s: %w", q.name, dest.name, err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		q.s.wake(dest.name)
	}
	return int(n), nil
}
