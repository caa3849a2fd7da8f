package events

import (
	"errors"
	"net/http"
	"strings"

	"github.com/imagepipe/imagepipe/local/bus"
)

func init() {
	registry["StartReplay"] = (*Handler).startReplay
	registry["DescribeReplay"] = (*Handler).describeReplay
	registry["ListReplays"] = (*Handler).listReplays
	registry["CancelReplay"] = (*Handler).cancelReplay
}

type replayDestination struct {
	Arn        string   `json:"Arn"`
	FilterArns []string `json:"FilterArns,omitempty"`
}

type startReplayInput struct {
	ReplayName     string             `json:"ReplayName"`
	Description    string             `json:"Description"`
	EventSourceArn string             `json:"EventSourceArn"`
	EventStartTime *epochSec          `json:"EventStartTime"`
	EventEndTime   *epochSec          `json:"EventEndTime"`
	Destination    *replayDestination `json:"Destination"`
}

type startReplayOutput struct {
	ReplayArn       string    `json:"ReplayArn"`
	State           string    `json:"State"`
	StateReason     string    `json:"StateReason,omitempty"`
	ReplayStartTime *epochSec `json:"ReplayStartTime,omitempty"`
}

// replayOut is DescribeReplay's output and, without the fields marked,
// EventBridge's Replay in ListReplays.
type replayOut struct {
	ReplayName            string             `json:"ReplayName"`
	ReplayArn             string             `json:"ReplayArn,omitempty"`   // DescribeReplay
	Description           string             `json:"Description,omitempty"` // DescribeReplay
	State                 string             `json:"State"`
	StateReason           string             `json:"StateReason,omitempty"`
	EventSourceArn        string             `json:"EventSourceArn"`
	Destination           *replayDestination `json:"Destination,omitempty"` // DescribeReplay
	EventStartTime        *epochSec          `json:"EventStartTime,omitempty"`
	EventEndTime          *epochSec          `json:"EventEndTime,omitempty"`
	EventLastReplayedTime *epochSec          `json:"EventLastReplayedTime,omitempty"`
	ReplayStartTime       *epochSec          `json:"ReplayStartTime,omitempty"`
	ReplayEndTime         *epochSec          `json:"ReplayEndTime,omitempty"`
}

func (h *Handler) replays() (*bus.Replayer, error) {
	if h.Replays == nil {
		return nil, &apiError{Status: http.StatusBadRequest, Type: "UnknownOperationException", Message: "replays are not served by this endpoint"}
	}
	return h.Replays, nil
}

func (h *Handler) startReplay(r *http.Request, body []byte) (any, error) {
	rp, err := h.replays()
	if err != nil {
		return nil, err
	}
	var in startReplayInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var nulls []string
	for _, f := range []struct {
		name string
		null bool
	}{
		{"replayName", in.ReplayName == ""}, {"eventSourceArn", in.EventSourceArn == ""},
		{"eventStartTime", in.EventStartTime == nil}, {"eventEndTime", in.EventEndTime == nil},
		{"destination", in.Destination == nil},
	} {
		if f.null {
			nulls = append(nulls, "Value null at '"+f.name+"' failed to satisfy constraint: Member must not be null")
		}
	}
	if len(nulls) > 0 {
		return nil, validation("%d validation error(s) detected: %s", len(nulls), strings.Join(nulls, "; "))
	}
	if !bus.IsReplayName(in.ReplayName) {
		return nil, validation("1 validation error detected: Value '%s' at 'replayName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+ and have length less than or equal to 64", in.ReplayName)
	}
	busName, ok := h.resourceOf(in.Destination.Arn, "event-bus")
	if !ok {
		return nil, validation("Parameter Destination.Arn is not valid. Reason: Must contain an event bus ARN.")
	}
	if !h.Router.HasBus(busName) {
		return nil, notFound("Event bus %s does not exist.", busName)
	}
	archiveName, _ := h.resourceOf(in.EventSourceArn, "archive")
	archive, ok := h.Router.Archive(archiveName)
	if !ok {
		if archiveName == "" {
			archiveName = in.EventSourceArn
		}
		return nil, validation("Parameter EventSourceArn is not valid. Reason: Archive %s does not exist.", archiveName)
	}
	if archive.Bus != busName {
		return nil, validation("Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.")
	}
	if in.EventEndTime.Before(in.EventStartTime.Time) {
		return nil, validation("Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.")
	}
	var rules []string
	for _, arn := range in.Destination.FilterArns {
		ruleBus, rule, ok := h.parseRuleARN(arn)
		if !ok || ruleBus != busName || !hasRule(h.Router.Rules(busName), rule) {
			return nil, validation("Parameter Destination.FilterArns is not valid. Reason: %s is not the ARN of a rule of event bus %s.", arn, busName)
		}
		rules = append(rules, rule)
	}
	got, err := rp.Start(r.Context(), bus.ReplaySpec{
		Name: in.ReplayName, Description: in.Description, Archive: archiveName, Bus: busName, Rules: rules,
		From: in.EventStartTime.Time, To: in.EventEndTime.Time,
	})
	switch {
	case errors.Is(err, bus.ErrReplayExists):
		return nil, apiErr("ResourceAlreadyExistsException", "Replay %s already exists.", in.ReplayName)
	case err != nil:
		return nil, err
	}
	// A replay is STARTING when StartReplay answers, whatever the worker
	// has done since.
	return startReplayOutput{ReplayArn: h.replayARN(got.Name), State: string(bus.ReplayStarting), ReplayStartTime: stamp(got.Started)}, nil
}

func hasRule(rules []*bus.Rule, name string) bool {
	for _, r := range rules {
		if r.Name == name {
			return true
		}
	}
	return false
}

type replayNameInput struct {
	ReplayName string `json:"ReplayName"`
}

// replayNamed decodes the input of an operation on one replay.
func (h *Handler) replayNamed(body []byte) (*bus.Replayer, replayNameInput, error) {
	var in replayNameInput
	rp, err := h.replays()
	if err != nil {
		return nil, in, err
	}
	if err := decode(body, &in); err != nil {
		return nil, in, err
	}
	if in.ReplayName == "" {
		return nil, in, validation("1 validation error detected: Value null at 'replayName' failed to satisfy constraint: Member must not be null")
	}
	return rp, in, nil
}

func (h *Handler) describeReplay(r *http.Request, body []byte) (any, error) {
	rp, in, err := h.replayNamed(body)
	if err != nil {
		return nil, err
	}
	got, err := rp.Describe(r.Context(), in.ReplayName)
	if errors.Is(err, bus.ErrNoReplay) {
		return nil, notFound("Replay %s does not exist.", in.ReplayName)
	}
	if err != nil {
		return nil, err
	}
	return h.replayOut(got, true), nil
}

func (h *Handler) replayOut(rp *bus.Replay, full bool) replayOut {
	o := replayOut{
		ReplayName:            rp.Name,
		State:                 string(rp.State),
		StateReason:           rp.StateReason,
		EventSourceArn:        h.archiveARN(rp.Archive),
		EventStartTime:        stamp(rp.From),
		EventEndTime:          stamp(rp.To),
		EventLastReplayedTime: stamp(rp.LastReplayed),
		ReplayStartTime:       stamp(rp.Started),
		ReplayEndTime:         stamp(rp.Ended),
	}
	if full {
		o.ReplayArn = h.replayARN(rp.Name)
		o.Description = rp.Description
		o.Destination = &replayDestination{Arn: h.busARN(rp.Bus)}
		for _, rule := range rp.Rules {
			o.Destination.FilterArns = append(o.Destination.FilterArns, h.ruleARN(rp.Bus, rule))
		}
	}
	return o
}

type listReplaysInput struct {
	NamePrefix     *string `json:"NamePrefix"`
	EventSourceArn *string `json:"EventSourceArn"`
	State          *string `json:"State"`
	Limit          *int    `json:"Limit"`
	NextToken      string  `json:"NextToken"`
}

type listReplaysOutput struct {
	Replays   []replayOut `json:"Replays"`
	NextToken string      `json:"NextToken,omitempty"`
}

var replayStates = []string{"CANCELLED", "CANCELLING", "COMPLETED", "FAILED", "RUNNING", "STARTING"}

func (h *Handler) listReplays(r *http.Request, body []byte) (any, error) {
	rp, err := h.replays()
	if err != nil {
		return nil, err
	}
	var in listReplaysInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if countSet(in.NamePrefix, in.EventSourceArn, in.State) > 1 {
		return nil, validation("At most one filter is allowed for ListReplays. Use either : State, EventSourceArn, or NamePrefix.")
	}
	if in.State != nil && !oneOf(*in.State, replayStates) {
		return nil, validation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [%s]", *in.State, strings.Join(replayStates, ", "))
	}
	all, err := rp.List(r.Context())
	if err != nil {
		return nil, err
	}
	var out []replayOut
	for _, x := range all {
		switch {
		case in.NamePrefix != nil && !strings.HasPrefix(x.Name, *in.NamePrefix),
			in.EventSourceArn != nil && *in.EventSourceArn != h.archiveARN(x.Archive),
			in.State != nil && *in.State != string(x.State):
			continue
		}
		out = append(out, h.replayOut(x, false))
	}
	start, end, next, err := page(len(out), in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	return listReplaysOutput{Replays: append([]replayOut{}, out[start:end]...), NextToken: next}, nil
}

type cancelReplayOutput struct {
	ReplayArn   string `json:"ReplayArn"`
	State       string `json:"State"`
	StateReason string `json:"StateReason,omitempty"`
}

func (h *Handler) cancelReplay(r *http.Request, body []byte) (any, error) {
	rp, in, err := h.replayNamed(body)
	if err != nil {
		return nil, err
	}
	got, err := rp.Cancel(r.Context(), in.ReplayName)
	switch {
	case errors.Is(err, bus.ErrNoReplay):
		return nil, notFound("Replay %s does not exist.", in.ReplayName)
	case errors.Is(err, bus.ErrReplayNotCancelable):
		return nil, apiErr("IllegalStatusException", "Replay %s is not in a valid state for this operation.", in.ReplayName)
	case err != nil:
		return nil, err
	}
	return cancelReplayOutput{ReplayArn: h.replayARN(got.Name), State: string(bus.ReplayCancelling)}, nil
}
