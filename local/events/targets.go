package events

import (
	"errors"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/imagepipe/imagepipe/local/bus"
	"github.com/imagepipe/imagepipe/local/queue"
)

// Rules made through the API (PutRule, PutTargets), for tools such as
// `imagepipe events tail`: one SQS queue target each. The stack's own
// rules are managed by the stack and cannot be changed or removed here,
// as EventBridge refuses changes to rules another service manages. Rules
// made here live as long as the stack.

func init() {
	registry["PutRule"] = (*Handler).putRule
	registry["DeleteRule"] = (*Handler).deleteRule
	registry["PutTargets"] = (*Handler).putTargets
	registry["RemoveTargets"] = (*Handler).removeTargets
	registry["ListTargetsByRule"] = (*Handler).listTargetsByRule
	registry["ListEventBuses"] = (*Handler).listEventBuses
	registry["TagResource"] = (*Handler).tagResource
	registry["UntagResource"] = (*Handler).untagResource
	registry["ListTagsForResource"] = (*Handler).listTagsForResource
}

// made are the rules made through PutRule, by bus + "/" + name.
var madeMu sync.Mutex

func (h *Handler) madeHere(bus, name string) bool {
	madeMu.Lock()
	defer madeMu.Unlock()
	return h.made[bus+"/"+name]
}

func (h *Handler) markMade(bus, name string, made bool) {
	madeMu.Lock()
	defer madeMu.Unlock()
	if h.made == nil {
		h.made = map[string]bool{}
	}
	if made {
		h.made[bus+"/"+name] = true
	} else {
		delete(h.made, bus+"/"+name)
	}
}

func managed(name string) *apiError {
	return apiErr("ManagedRuleException", "Rule %s is managed by the local stack and cannot be changed or removed through the API.", name)
}

// ruleNamePattern is what EventBridge accepts as a rule's name, compiled on
// first use (not at the start of every imagepipe command).
var ruleNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`) })

// findRule returns a rule of a bus.
func (h *Handler) findRule(busName, name string) (*bus.Rule, bool) {
	for _, r := range h.Router.Rules(busName) {
		if r.Name == name {
			return r, true
		}
	}
	return nil, false
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func (h *Handler) putRule(_ *http.Request, body []byte) (any, error) {
	var in struct {
		Name         string `json:"Name"`
		EventPattern string `json:"EventPattern"`
		State        string `json:"State"`
		Description  string `json:"Description"`
		EventBusName string `json:"EventBusName"`
		Tags         []tag  `json:"Tags"`
		ScheduleExpr string `json:"ScheduleExpression"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, err := h.busOf(in.EventBusName)
	if err != nil {
		return nil, err
	}
	switch {
	case !ruleNamePattern().MatchString(in.Name):
		return nil, validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", in.Name)
	case in.ScheduleExpr != "":
		return nil, validation("ScheduleExpression is not supported on the local stack.")
	case in.EventPattern == "":
		return nil, validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	case in.State != "" && in.State != "ENABLED":
		return nil, validation("State %s is not supported on the local stack: its rules are ENABLED.", in.State)
	case !h.Router.HasBus(busName):
		return nil, notFound("Event bus %s does not exist.", busName)
	}
	if _, exists := h.findRule(busName, in.Name); exists && !h.madeHere(busName, in.Name) {
		return nil, managed(in.Name)
	}
	tags := map[string]string{}
	for _, t := range in.Tags {
		tags[t.Key] = t.Value
	}
	if err := h.Router.PutRule(&bus.Rule{Name: in.Name, Bus: busName, Pattern: in.EventPattern, Description: in.Description, Tags: tags}); err != nil {
		return nil, apiErr("InvalidEventPatternException", "%s", strings.TrimPrefix(err.Error(), "rule "+in.Name+": "))
	}
	h.markMade(busName, in.Name, true)
	return map[string]string{"RuleArn": h.ruleARN(busName, in.Name)}, nil
}

// madeRule finds a rule that the API may change.
func (h *Handler) madeRule(busField, name string) (string, *bus.Rule, error) {
	busName, err := h.busOf(busField)
	if err != nil {
		return "", nil, err
	}
	r, ok := h.findRule(busName, name)
	if !ok {
		return "", nil, notFound("Rule %s does not exist on EventBus %s.", name, busName)
	}
	if !h.madeHere(busName, name) {
		return "", nil, managed(name)
	}
	return busName, r, nil
}

func (h *Handler) deleteRule(_ *http.Request, body []byte) (any, error) {
	var in struct {
		Name         string `json:"Name"`
		EventBusName string `json:"EventBusName"`
		Force        bool   `json:"Force"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, err := h.busOf(in.EventBusName)
	if err != nil {
		return nil, err
	}
	r, ok := h.findRule(busName, in.Name)
	if !ok {
		return nil, nil // EventBridge answers success for a rule that is not there
	}
	if !h.madeHere(busName, in.Name) {
		return nil, managed(in.Name)
	}
	if r.Target != nil {
		return nil, validation("Rule can't be deleted since it has targets.")
	}
	if err := h.Router.RemoveRule(busName, in.Name); err != nil && !errors.Is(err, bus.ErrNoRule) {
		return nil, err
	}
	h.markMade(busName, in.Name, false)
	return nil, nil
}

type targetIn struct {
	Id  string `json:"Id"`
	Arn string `json:"Arn"`
}

type failedEntry struct {
	TargetId     string `json:"TargetId"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

func (h *Handler) putTargets(_ *http.Request, body []byte) (any, error) {
	var in struct {
		Rule         string     `json:"Rule"`
		EventBusName string     `json:"EventBusName"`
		Targets      []targetIn `json:"Targets"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, r, err := h.madeRule(in.EventBusName, in.Rule)
	if err != nil {
		return nil, err
	}
	if len(in.Targets) != 1 || (r.Target != nil && r.TargetID != in.Targets[0].Id) {
		return nil, apiErr("LimitExceededException", "A rule made on the local stack takes one target (an SQS queue).")
	}
	t := in.Targets[0]
	var q *queue.Queue
	if h.Queues != nil {
		q, _ = h.Queues(t.Arn)
	}
	if q == nil {
		return map[string]any{"FailedEntryCount": 1, "FailedEntries": []failedEntry{{TargetId: t.Id, ErrorCode: "ValidationException",
			ErrorMessage: "Target " + t.Arn + " is not a queue of the local stack: only SQS queue targets are supported."}}}, nil
	}
	if err := h.Router.UpdateRule(busName, in.Rule, func(r *bus.Rule) { r.Target, r.TargetARN, r.TargetID = q, t.Arn, t.Id }); err != nil {
		return nil, err
	}
	return map[string]any{"FailedEntryCount": 0, "FailedEntries": []failedEntry{}}, nil
}

func (h *Handler) removeTargets(_ *http.Request, body []byte) (any, error) {
	var in struct {
		Rule         string   `json:"Rule"`
		EventBusName string   `json:"EventBusName"`
		Ids          []string `json:"Ids"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, r, err := h.madeRule(in.EventBusName, in.Rule)
	if err != nil {
		return nil, err
	}
	for _, id := range in.Ids {
		if r.Target != nil && id == r.TargetID {
			if err := h.Router.UpdateRule(busName, in.Rule, func(r *bus.Rule) { r.Target, r.TargetARN, r.TargetID = nil, "", "" }); err != nil {
				return nil, err
			}
		}
	}
	return map[string]any{"FailedEntryCount": 0, "FailedEntries": []failedEntry{}}, nil
}

func (h *Handler) listTargetsByRule(_ *http.Request, body []byte) (any, error) {
	var in struct {
		Rule         string `json:"Rule"`
		EventBusName string `json:"EventBusName"`
		Limit        *int   `json:"Limit"`
		NextToken    string `json:"NextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, err := h.busOf(in.EventBusName)
	if err != nil {
		return nil, err
	}
	r, ok := h.findRule(busName, in.Rule)
	if !ok {
		return nil, notFound("Rule %s does not exist on EventBus %s.", in.Rule, busName)
	}
	targets := []targetIn{}
	if r.TargetARN != "" {
		id := r.TargetID
		if id == "" {
			id = r.Name + "-target"
		}
		targets = append(targets, targetIn{Id: id, Arn: r.TargetARN})
	}
	start, end, next, err := page(len(targets), in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Targets": targets[start:end], "NextToken": next}, nil
}

type eventBusOut struct {
	Name string `json:"Name"`
	Arn  string `json:"Arn"`
}

func (h *Handler) listEventBuses(_ *http.Request, body []byte) (any, error) {
	var in struct {
		NamePrefix string `json:"NamePrefix"`
		Limit      *int   `json:"Limit"`
		NextToken  string `json:"NextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var buses []eventBusOut
	for _, b := range h.Router.Buses() {
		if strings.HasPrefix(b, in.NamePrefix) {
			buses = append(buses, eventBusOut{Name: b, Arn: h.busARN(b)})
		}
	}
	start, end, next, err := page(len(buses), in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"EventBuses": append([]eventBusOut{}, buses[start:end]...)}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

// taggedRule finds the rule a resource ARN names; only rules have tags here.
func (h *Handler) taggedRule(arn string) (string, *bus.Rule, error) {
	busName, name, ok := h.parseRuleARN(arn)
	if !ok {
		return "", nil, notFound("Resource %s does not exist (the local stack keeps tags on rules only).", arn)
	}
	r, found := h.findRule(busName, name)
	if !found {
		return "", nil, notFound("Rule %s does not exist on EventBus %s.", name, busName)
	}
	return busName, r, nil
}

// tagResource and untagResource: TagResource adds Tags, UntagResource
// removes TagKeys, on a rule.
func (h *Handler) tagResource(_ *http.Request, body []byte) (any, error) {
	return h.changeTags(body)
}

func (h *Handler) untagResource(_ *http.Request, body []byte) (any, error) {
	return h.changeTags(body)
}

func (h *Handler) changeTags(body []byte) (any, error) {
	var in struct {
		ResourceARN string   `json:"ResourceARN"`
		Tags        []tag    `json:"Tags"`
		TagKeys     []string `json:"TagKeys"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, r, err := h.taggedRule(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	return nil, h.Router.UpdateRule(busName, r.Name, func(r *bus.Rule) {
		for _, t := range in.Tags {
			r.Tags[t.Key] = t.Value
		}
		for _, k := range in.TagKeys {
			delete(r.Tags, k)
		}
	})
}

func (h *Handler) listTagsForResource(_ *http.Request, body []byte) (any, error) {
	var in struct {
		ResourceARN string `json:"ResourceARN"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	_, r, err := h.taggedRule(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	tags := []tag{}
	for _, k := range sortedTagKeys(r.Tags) {
		tags = append(tags, tag{Key: k, Value: r.Tags[k]})
	}
	return map[string]any{"Tags": tags}, nil
}

func sortedTagKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// busOf is busName with its error as an error.
func (h *Handler) busOf(s string) (string, error) {
	name, aerr := h.busName(s)
	if aerr != nil {
		return "", aerr
	}
	return name, nil
}
