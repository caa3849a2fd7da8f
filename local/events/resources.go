package events

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ARNs of the local resources, in the shapes EventBridge gives them.

func (h *Handler) arn(resource string) string {
	return fmt.Sprintf("arn:aws:events:%s:%s:%s", h.Router.Region, h.Router.Account, resource)
}

func (h *Handler) busARN(bus string) string         { return h.arn("event-bus/" + bus) }
func (h *Handler) archiveARN(archive string) string { return h.arn("archive/" + archive) }
func (h *Handler) replayARN(replay string) string   { return h.arn("replay/" + replay) }

// ruleARN is a rule's ARN: rule/NAME on the default bus, rule/BUS/NAME on
// a custom bus.
func (h *Handler) ruleARN(bus, rule string) string {
	if bus == "default" {
		return h.arn("rule/" + rule)
	}
	return h.arn("rule/" + bus + "/" + rule)
}

// resourceOf returns what follows "arn:aws:events:REGION:ACCOUNT:KIND/" in
// arn, when arn is an ARN of this region and account.
func (h *Handler) resourceOf(arn, kind string) (string, bool) {
	prefix := h.arn(kind + "/")
	if !strings.HasPrefix(arn, prefix) || len(arn) == len(prefix) {
		return "", false
	}
	return arn[len(prefix):], true
}

// parseRuleARN splits a rule ARN into its bus and name.
func (h *Handler) parseRuleARN(arn string) (bus, rule string, ok bool) {
	rest, ok := h.resourceOf(arn, "rule")
	if !ok {
		return "", "", false
	}
	if b, r, found := strings.Cut(rest, "/"); found {
		return b, r, b != "" && r != ""
	}
	return "default", rest, true
}

// busName accepts a bus name or ARN; empty is the default bus. An ARN of
// another account is refused as EventBridge refuses a bus whose policy does
// not let us in (AccessDeniedException), an ARN of another region or not
// an event bus ARN as invalid.
func (h *Handler) busName(s string) (string, *apiError) {
	if !strings.HasPrefix(s, "arn:") {
		return busNameOf(s), nil
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[2] != "events" || !strings.HasPrefix(parts[5], "event-bus/") || len(parts[5]) == len("event-bus/") {
		return "", validation("Parameter EventBusName is not valid. Reason: %s is not an event bus ARN.", s)
	}
	region, account := parts[3], parts[4]
	if account != h.Router.Account {
		return "", &apiError{Status: http.StatusBadRequest, Type: "AccessDeniedException",
			Message: fmt.Sprintf("User: arn:aws:iam::%s:root is not authorized to access resource %s: the event bus belongs to account %s and no resource-based policy allows it.", h.Router.Account, s, account)}
	}
	if region != h.Router.Region {
		return "", validation("Parameter EventBusName is not valid. Reason: the event bus %s is in region %s; this endpoint serves %s.", s, region, h.Router.Region)
	}
	return strings.TrimPrefix(parts[5], "event-bus/"), nil
}

// page cuts one page out of n items for Limit and NextToken (an opaque
// offset). It returns the bounds and the token of the next page ("" on
// the last page).
func page(n int, limit *int, token string) (start, end int, next string, err error) {
	size := 100
	if limit != nil {
		if *limit < 1 || *limit > 100 {
			return 0, 0, "", validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", *limit)
		}
		size = *limit
	}
	if token != "" {
		raw, decErr := base64.RawURLEncoding.DecodeString(token)
		off, convErr := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if decErr != nil || convErr != nil || !strings.HasPrefix(string(raw), "offset:") || off < 0 || off > n {
			return 0, 0, "", validation("The NextToken is not valid.")
		}
		start = off
	}
	end = min(start+size, n)
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return start, end, next, nil
}

// stamp is a JSON 1.1 timestamp for a response field that may be absent.
func stamp(t time.Time) *epochSec {
	if t.IsZero() {
		return nil
	}
	return &epochSec{t}
}
