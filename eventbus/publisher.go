package eventbus

import (
	"context"
	"fmt"
	"strings"
)

// Publisher puts events on a bus. Publish returns an error when any entry
// was not accepted; a *PublishError then says which.
type Publisher interface {
	Publish(ctx context.Context, entries ...Entry) error
}

// FailedEntry is an entry the bus refused, with the bus's reason.
type FailedEntry struct {
	Index        int
	ErrorCode    string
	ErrorMessage string
}

// PublishError reports the entries of one Publish call that failed.
type PublishError struct {
	Failed []FailedEntry
}

func (e *PublishError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for _, f := range e.Failed {
		parts = append(parts, fmt.Sprintf("entry %d: %s: %s", f.Index, f.ErrorCode, f.ErrorMessage))
	}
	return fmt.Sprintf("put events: %d entries failed: %s", len(e.Failed), strings.Join(parts, "; "))
}
