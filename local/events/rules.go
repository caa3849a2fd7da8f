package events

import (
	"net/http"
	"strings"
)

func init() {
	registry["ListRules"] = (*Handler).listRules
	registry["DescribeRule"] = (*Handler).describeRule
}

type listRulesInput struct {
	NamePrefix   string `json:"NamePrefix"`
	EventBusName string `json:"EventBusName"`
	Limit        *int   `json:"Limit"`
	NextToken    string `json:"NextToken"`
}

// ruleOut is EventBridge's Rule and DescribeRule's output (which adds
// CreatedBy).
type ruleOut struct {
	Name         string `json:"Name"`
	Arn          string `json:"Arn"`
	EventPattern string `json:"EventPattern,omitempty"`
	State        string `json:"State"`
	Description  string `json:"Description,omitempty"`
	EventBusName string `json:"EventBusName"`
	CreatedBy    string `json:"CreatedBy,omitempty"`
}

type listRulesOutput struct {
	Rules     []ruleOut `json:"Rules"`
	NextToken string    `json:"NextToken,omitempty"`
}

func (h *Handler) listRules(_ *http.Request, body []byte) (any, error) {
	var in listRulesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, aerr := h.busName(in.EventBusName)
	if aerr != nil {
		return nil, aerr
	}
	if !h.Router.HasBus(busName) {
		return nil, notFound("Event bus %s does not exist.", busName)
	}
	var rules []ruleOut
	for _, r := range h.Router.Rules(busName) {
		if strings.HasPrefix(r.Name, in.NamePrefix) {
			rules = append(rules, ruleOut{Name: r.Name, Arn: h.ruleARN(r.Bus, r.Name), EventPattern: r.Pattern, State: "ENABLED", Description: r.Description, EventBusName: r.Bus})
		}
	}
	start, end, next, err := page(len(rules), in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	return listRulesOutput{Rules: append([]ruleOut{}, rules[start:end]...), NextToken: next}, nil
}

type describeRuleInput struct {
	Name         string `json:"Name"`
	EventBusName string `json:"EventBusName"`
}

func (h *Handler) describeRule(_ *http.Request, body []byte) (any, error) {
	var in describeRuleInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Name == "" {
		return nil, validation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	busName, aerr := h.busName(in.EventBusName)
	if aerr != nil {
		return nil, aerr
	}
	for _, r := range h.Router.Rules(busName) {
		if r.Name == in.Name {
			return ruleOut{Name: r.Name, Arn: h.ruleARN(r.Bus, r.Name), EventPattern: r.Pattern, State: "ENABLED", Description: r.Description, EventBusName: r.Bus, CreatedBy: h.Router.Account}, nil
		}
	}
	return nil, notFound("Rule %s does not exist on EventBus %s.", in.Name, busName)
}
