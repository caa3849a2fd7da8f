package events

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/imagepipe/imagepipe/eventbus"
)

func init() { registry["TestEventPattern"] = (*Handler).testEventPattern }

type testEventPatternInput struct {
	EventPattern *string `json:"EventPattern"`
	Event        *string `json:"Event"`
}

type testEventPatternOutput struct {
	Result bool `json:"Result"`
}

// eventRequired are the fields TestEventPattern wants in the event.
var eventRequired = []string{"id", "account", "source", "time", "region", "resources", "detail-type"}

func (h *Handler) testEventPattern(_ *http.Request, body []byte) (any, error) {
	var in testEventPatternInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.EventPattern == nil || in.Event == nil {
		var missing []string
		if in.EventPattern == nil {
			missing = append(missing, "'eventPattern'")
		}
		if in.Event == nil {
			missing = append(missing, "'event'")
		}
		return nil, validation("%d validation error(s) detected: Value null at %s failed to satisfy constraint: Member must not be null", len(missing), strings.Join(missing, ", "))
	}
	if !eventbus.PatternLengthOK(*in.EventPattern) {
		return nil, validation("1 validation error detected: Value at 'eventPattern' failed to satisfy constraint: Member must have length less than or equal to %d", eventbus.MaxPatternLength)
	}
	p, err := eventbus.ParsePattern(*in.EventPattern)
	if err != nil {
		var pe *eventbus.PatternError
		if errors.As(err, &pe) {
			return nil, apiErr("InvalidEventPatternException", "%s", pe.Error())
		}
		return nil, apiErr("InvalidEventPatternException", "Event pattern is not valid. Reason: %v", err)
	}
	var event map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*in.Event), &event); err != nil || event == nil {
		return nil, validation("Parameter Event is not valid. Reason: the event is not a JSON object.")
	}
	var missing []string
	for _, f := range eventRequired {
		if _, ok := event[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, validation("Parameter Event is not valid. Reason: Provided Event is missing required fields: %s", strings.Join(missing, ", "))
	}
	ok, err := p.Match([]byte(*in.Event))
	if err != nil {
		return nil, validation("Parameter Event is not valid. Reason: %v", err)
	}
	return testEventPatternOutput{Result: ok}, nil
}
