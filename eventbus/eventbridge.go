package eventbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// putEventsAPI is the part of the EventBridge client the adapter uses.
type putEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// MaxEntriesPerCall is the PutEvents limit on entries in one request.
const MaxEntriesPerCall = 10

// EventBridge publishes through Amazon EventBridge's PutEvents (or anything
// that speaks its wire protocol, like the local stack's edge). It sends
// batches of at most 10 entries and retries the entries that failed with a
// throttling or internal error, with exponential backoff.
type EventBridge struct {
	client      putEventsAPI
	busName     string
	maxAttempts int
	backoff     time.Duration
}

var _ Publisher = (*EventBridge)(nil)

// NewEventBridge returns a Publisher that puts events on busName unless an
// Entry names its own bus.
func NewEventBridge(client *eventbridge.Client, busName string) *EventBridge {
	return newEventBridge(client, busName)
}

func newEventBridge(client putEventsAPI, busName string) *EventBridge {
	return &EventBridge{client: client, busName: busName, maxAttempts: 5, backoff: 100 * time.Millisecond}
}

// Publish puts the entries, in batches of 10. Entries still failing after
// the retries are reported in a *PublishError, indexed as given.
func (p *EventBridge) Publish(ctx context.Context, entries ...Entry) error {
	var failed []FailedEntry
	for start := 0; start < len(entries); start += MaxEntriesPerCall {
		end := min(start+MaxEntriesPerCall, len(entries))
		f, err := p.publishBatch(ctx, entries[start:end], start)
		if err != nil {
			return err
		}
		failed = append(failed, f...)
	}
	if len(failed) > 0 {
		return &PublishError{Failed: failed}
	}
	return nil
}

// publishBatch sends up to 10 entries, retrying retryable per-entry
// failures. offset is the index of batch[0] among the caller's entries.
func (p *EventBridge) publishBatch(ctx context.Context, batch []Entry, offset int) ([]FailedEntry, error) {
	pending := make([]int, len(batch)) // indexes into batch still to send
	for i := range pending {
		pending[i] = i
	}
	var final []FailedEntry
	delay := p.backoff
	for attempt := 1; ; attempt++ {
		in := &eventbridge.PutEventsInput{Entries: make([]ebtypes.PutEventsRequestEntry, 0, len(pending))}
		for _, i := range pending {
			in.Entries = append(in.Entries, p.requestEntry(batch[i]))
		}
		out, err := p.client.PutEvents(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("put events on %s: %w", p.busName, err)
		}
		if out.FailedEntryCount == 0 {
			return final, nil
		}
		if len(out.Entries) != len(pending) {
			return nil, fmt.Errorf("put events on %s: %d results for %d entries", p.busName, len(out.Entries), len(pending))
		}
		var retry []int
		for k, res := range out.Entries {
			if res.ErrorCode == nil {
				continue
			}
			i := pending[k]
			if retryableEntryError(aws.ToString(res.ErrorCode)) && attempt < p.maxAttempts {
				retry = append(retry, i)
				continue
			}
			final = append(final, FailedEntry{Index: offset + i, ErrorCode: aws.ToString(res.ErrorCode), ErrorMessage: aws.ToString(res.ErrorMessage)})
		}
		if len(retry) == 0 {
			return final, nil
		}
		pending = retry
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("put events on %s: %w", p.busName, errors.Join(ctx.Err(), &PublishError{Failed: final}))
		case <-t.C:
		}
		delay *= 2
	}
}

func (p *EventBridge) requestEntry(e Entry) ebtypes.PutEventsRequestEntry {
	bus := e.EventBusName
	if bus == "" {
		bus = p.busName
	}
	re := ebtypes.PutEventsRequestEntry{
		EventBusName: aws.String(bus),
		Source:       aws.String(e.Source),
		DetailType:   aws.String(e.DetailType),
		Detail:       aws.String(string(e.Detail)),
		Resources:    e.Resources,
	}
	if !e.Time.IsZero() {
		re.Time = aws.Time(e.Time)
	}
	return re
}

// retryableEntryError tells the per-entry error codes worth another try:
// throttling and EventBridge's internal failures.
func retryableEntryError(code string) bool {
	switch code {
	case "ThrottlingException", "InternalException", "InternalFailure", "ServiceUnavailable":
		return true
	}
	return false
}
