package eventbus

import (
	"encoding/json"
	"time"
)

// Event is an EventBridge event as a rule target receives it. The SQS
// message body of the process queue is one Event marshalled as JSON.
type Event struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
	// ReplayName is set on events re-sent by an archive replay.
	ReplayName string `json:"replay-name,omitempty"`
}

// Entry is one event handed to a Publisher, as in PutEventsRequestEntry.
type Entry struct {
	EventBusName string
	Source       string
	DetailType   string
	Detail       json.RawMessage
	Resources    []string
	// Time is the event's time; zero means "now" at the bus.
	Time time.Time
}
