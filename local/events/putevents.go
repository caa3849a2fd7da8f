package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local/bus"
)

func init() { registry["PutEvents"] = (*Handler).putEvents }

// Limits of PutEvents.
const (
	maxEntries    = 10
	maxEntryBytes = 1 << 20
)

type putEventsInput struct {
	Entries []putEventsEntry `json:"Entries"`
}

type putEventsEntry struct {
	Source       string    `json:"Source"`
	DetailType   string    `json:"DetailType"`
	Detail       string    `json:"Detail"`
	EventBusName string    `json:"EventBusName"`
	Resources    []string  `json:"Resources"`
	Time         *epochSec `json:"Time"`
}

type putEventsResult struct {
	EventId      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

type putEventsOutput struct {
	FailedEntryCount int               `json:"FailedEntryCount"`
	Entries          []putEventsResult `json:"Entries"`
}

func (h *Handler) putEvents(r *http.Request, body []byte) (any, error) {
	var in putEventsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.Entries == nil:
		return nil, validation("1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null")
	case len(in.Entries) == 0:
		return nil, validation("1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(in.Entries) > maxEntries:
		return nil, validation("1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to %d", maxEntries)
	}
	// "If you submit a request in which none of the entries have each of
	// these properties [Source, DetailType, Detail], EventBridge fails the
	// entire request" (PutEventsRequestEntry); otherwise such an entry fails
	// alone.
	complete := false
	for _, e := range in.Entries {
		complete = complete || (e.Source != "" && e.DetailType != "" && e.Detail != "")
	}
	if !complete {
		return nil, validation("Parameter Entries is not valid. Reason: no entry has all of Source, DetailType and Detail.")
	}
	out := putEventsOutput{Entries: make([]putEventsResult, len(in.Entries))}
	for i, e := range in.Entries {
		res := h.putEntry(r, e)
		if res.ErrorCode != "" {
			out.FailedEntryCount++
		}
		out.Entries[i] = res
	}
	return out, nil
}

func (h *Handler) putEntry(r *http.Request, e putEventsEntry) putEventsResult {
	if e.Source == "" {
		return putEventsResult{ErrorCode: "InvalidArgument", ErrorMessage: "Parameter Source is not valid. Reason: Source is a required argument."}
	}
	if e.DetailType == "" {
		return putEventsResult{ErrorCode: "InvalidArgument", ErrorMessage: "Parameter DetailType is not valid. Reason: DetailType is a required argument."}
	}
	if e.Detail == "" {
		return putEventsResult{ErrorCode: "InvalidArgument", ErrorMessage: "Parameter Detail is not valid. Reason: Detail is a required argument."}
	}
	if strings.HasPrefix(e.Source, "aws.") {
		return putEventsResult{ErrorCode: "NotAuthorizedForSourceException", ErrorMessage: "Not authorized for the source."}
	}
	if size := entrySize(e); size > maxEntryBytes {
		return putEventsResult{ErrorCode: "InvalidArgument", ErrorMessage: fmt.Sprintf("Entry size %d bytes exceeds the %d bytes limit.", size, maxEntryBytes)}
	}
	var detail map[string]json.RawMessage
	if err := json.Unmarshal([]byte(e.Detail), &detail); err != nil || detail == nil {
		return putEventsResult{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed."}
	}
	// EventBridge answers an EventId for an entry naming a bus that does
	// not exist and drops the event (aws/aws-cli#9186); the local edge
	// reports it instead, so that a typo in a bus name shows at once.
	busName, aerr := h.busName(e.EventBusName)
	if aerr != nil {
		code := aerr.Type
		if code == "ValidationException" {
			code = "InvalidArgument"
		}
		return putEventsResult{ErrorCode: code, ErrorMessage: aerr.Message}
	}
	if !h.Router.HasBus(busName) {
		return putEventsResult{ErrorCode: "ResourceNotFoundException", ErrorMessage: "Event bus " + busName + " does not exist."}
	}
	entry := eventbus.Entry{Source: e.Source, DetailType: e.DetailType, Detail: json.RawMessage(e.Detail), Resources: e.Resources}
	if e.Time != nil {
		entry.Time = e.Time.Time
	}
	ev := h.Router.NewEvent(entry)
	if _, err := h.Router.Put(r.Context(), busName, ev); err != nil {
		if errors.Is(err, bus.ErrNoBus) {
			return putEventsResult{ErrorCode: "ResourceNotFoundException", ErrorMessage: "Event bus " + busName + " does not exist."}
		}
		h.logger().Error("put event failed", "bus", busName, "err", err)
		return putEventsResult{ErrorCode: "InternalFailure", ErrorMessage: "The event could not be stored; try again."}
	}
	return putEventsResult{EventId: ev.ID}
}

// entrySize is an entry's size as EventBridge counts it against the limit:
// 14 bytes for Time when given, and the UTF-8 bytes of Source, DetailType,
// Detail and each resource
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
func entrySize(e putEventsEntry) int {
	size := len(e.Source) + len(e.DetailType) + len(e.Detail)
	if e.Time != nil {
		size += 14
	}
	for _, res := range e.Resources {
		size += len(res)
	}
	return size
}

// busNameOf accepts a bus name or ARN; empty is the default bus.
func busNameOf(s string) string {
	if s == "" {
		return "default"
	}
	if i := strings.LastIndex(s, ":event-bus/"); i >= 0 {
		return s[i+len(":event-bus/"):]
	}
	return s
}

// epochSec is a JSON 1.1 timestamp: seconds since the epoch, fractional.
type epochSec struct{ time.Time }

func (t *epochSec) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	sec := int64(f)
	t.Time = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	return nil
}

func (t epochSec) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(t.UnixMilli()) / 1000)
}
