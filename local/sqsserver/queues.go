package sqsserver

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func init() {
	registry["ListQueues"] = (*Handler).listQueues
	registry["GetQueueUrl"] = (*Handler).getQueueURL
	registry["GetQueueAttributes"] = (*Handler).getQueueAttributes
	registry["SetQueueAttributes"] = (*Handler).setQueueAttributes
	registry["CreateQueue"] = (*Handler).createQueue
	registry["DeleteQueue"] = (*Handler).deleteQueue
	registry["TagQueue"] = (*Handler).tagQueue
	registry["UntagQueue"] = (*Handler).untagQueue
	registry["ListQueueTags"] = (*Handler).listQueueTags
	registry["ListDeadLetterSourceQueues"] = (*Handler).listDeadLetterSourceQueues
}

// base is the edge's URL as the client reached it, for queue URLs.
func base(r *http.Request) string { return "http://" + r.Host }

type listQueuesInput struct {
	QueueNamePrefix string `json:"QueueNamePrefix"`
	MaxResults      *int   `json:"MaxResults"`
	NextToken       string `json:"NextToken"`
}

type queueURLs struct {
	QueueUrls []string `json:"QueueUrls,omitempty"`
	NextToken string   `json:"NextToken,omitempty"`
}

// page cuts one page of n names: MaxResults 1-1000, NextToken an opaque
// offset.
func page(names []string, max *int, token string) ([]string, string, error) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		off, cerr := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || cerr != nil || off < 0 || off > len(names) {
			return nil, "", invalidParameter("Invalid NextToken value.")
		}
		start = off
	}
	size := 1000 // and no NextToken: SQS pages only when asked to
	if max != nil {
		if *max < 1 || *max > 1000 {
			return nil, "", invalidParameter("Value %d for parameter MaxResults is invalid. Reason: must be between 1 and 1000.", *max)
		}
		size = *max
	}
	end := min(start+size, len(names))
	next := ""
	if max != nil && end < len(names) {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return names[start:end], next, nil
}

func (h *Handler) listQueues(r *http.Request, body []byte) (any, error) {
	var in listQueuesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var names []string
	for _, n := range h.Queues.names() {
		if strings.HasPrefix(n, in.QueueNamePrefix) {
			names = append(names, n)
		}
	}
	got, next, err := page(names, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := queueURLs{NextToken: next}
	for _, n := range got {
		out.QueueUrls = append(out.QueueUrls, h.Queues.URL(base(r), n))
	}
	return out, nil
}

func (h *Handler) getQueueURL(r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueName              string `json:"QueueName"`
		QueueOwnerAWSAccountId string `json:"QueueOwnerAWSAccountId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, missingParameter("QueueName")
	}
	if in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != h.Queues.Account {
		return nil, noQueue()
	}
	if _, ok := h.Queues.Get(in.QueueName); !ok {
		return nil, noQueue()
	}
	return map[string]string{"QueueUrl": h.Queues.URL(base(r), in.QueueName)}, nil
}

// queueAttributeNames are the attributes GetQueueAttributes knows, in the
// order "All" lists them.
var queueAttributeNames = []string{
	"QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
	"CreatedTimestamp", "LastModifiedTimestamp", "VisibilityTimeout", "MaximumMessageSize", "DelaySeconds",
	"ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "RedriveAllowPolicy", "Policy", "SqsManagedSseEnabled",
}

func (h *Handler) getQueueAttributes(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
		AttributeNames []string `json:"AttributeNames"`
	}
	e, name, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, a := range in.AttributeNames {
		if a == "All" {
			for _, n := range queueAttributeNames {
				want[n] = true
			}
			continue
		}
		if !slices.Contains(queueAttributeNames, a) && a != "MessageRetentionPeriod" {
			return nil, errorOf(http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute %s.", a)
		}
		want[a] = true
	}
	attrs := map[string]string{}
	if len(want) == 0 {
		return map[string]any{"Attributes": attrs}, nil
	}
	stats, err := e.q.Stats(r.Context())
	if err != nil {
		return nil, err
	}
	opts := e.q.Options()
	all := map[string]string{
		"QueueArn":                              h.Queues.ARN(name),
		"ApproximateNumberOfMessages":           strconv.Itoa(stats.Visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(stats.InFlight),
		"ApproximateNumberOfMessagesDelayed":    "0",
		"CreatedTimestamp":                      strconv.FormatInt(e.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(e.modified.Unix(), 10),
		"VisibilityTimeout":                     strconv.Itoa(int(opts.VisibilityTimeout / time.Second)),
		"MaximumMessageSize":                    "262144",
		"DelaySeconds":                          "0",
		"ReceiveMessageWaitTimeSeconds":         "0",
		"SqsManagedSseEnabled":                  "false",
	}
	if opts.DeadLetter != "" && opts.MaxReceiveCount > 0 {
		rp, _ := json.Marshal(map[string]any{"deadLetterTargetArn": h.Queues.ARN(opts.DeadLetter), "maxReceiveCount": opts.MaxReceiveCount})
		all["RedrivePolicy"] = string(rp)
	}
	if len(h.Queues.sources(name)) > 0 {
		all["RedriveAllowPolicy"] = `{"redrivePermission":"allowAll"}`
	}
	if e.policy != "" {
		all["Policy"] = e.policy
	}
	for n := range want {
		if v, ok := all[n]; ok {
			attrs[n] = v
		}
	}
	return map[string]any{"Attributes": attrs}, nil
}

// queueNamePattern is what SQS accepts as a standard queue's name, compiled
// on first use (not at the start of every imagepipe command).
var queueNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`) })

// settable are the attributes CreateQueue and SetQueueAttributes take: the
// visibility timeout and the policy are kept, the others accepted as AWS
// takes them and not applied (messages are kept until deleted).
var settable = []string{"VisibilityTimeout", "Policy", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
	"ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled"}

func checkAttributes(attrs map[string]string) (time.Duration, error) {
	var vis time.Duration
	for k, v := range attrs {
		if !slices.Contains(settable, k) {
			return 0, errorOf(http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute %s.", k)
		}
		if k == "VisibilityTimeout" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 43200 {
				return 0, errorOf(http.StatusBadRequest, "InvalidAttributeValue", "InvalidAttributeValue", "Invalid value for the parameter VisibilityTimeout.")
			}
			vis = time.Duration(n) * time.Second
		}
	}
	return vis, nil
}

func (h *Handler) createQueue(r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueName  string            `json:"QueueName"`
		Attributes map[string]string `json:"Attributes"`
		Tags       map[string]string `json:"tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !queueNamePattern().MatchString(in.QueueName) {
		return nil, invalidParameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	vis, err := checkAttributes(in.Attributes)
	if err != nil {
		return nil, err
	}
	if _, err := h.Queues.create(r.Context(), in.QueueName, vis, in.Attributes["Policy"], in.Tags); err != nil {
		return nil, err
	}
	return map[string]string{"QueueUrl": h.Queues.URL(base(r), in.QueueName)}, nil
}

func (h *Handler) deleteQueue(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
	}
	_, name, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	return nil, h.Queues.remove(r.Context(), name)
}

func (h *Handler) setQueueAttributes(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
		Attributes map[string]string `json:"Attributes"`
	}
	e, _, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	if _, err := checkAttributes(in.Attributes); err != nil {
		return nil, err
	}
	if v, ok := in.Attributes["VisibilityTimeout"]; ok && !e.dynamic {
		if n, _ := strconv.Atoi(v); time.Duration(n)*time.Second != e.q.Options().VisibilityTimeout {
			return nil, invalidParameter("The local stack's own queues keep their VisibilityTimeout (%d).", int(e.q.Options().VisibilityTimeout/time.Second))
		}
	}
	h.Queues.mu.Lock()
	if p, ok := in.Attributes["Policy"]; ok {
		e.policy = p
	}
	e.modified = time.Now()
	h.Queues.mu.Unlock()
	return nil, nil
}

func (h *Handler) tagQueue(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
		Tags map[string]string `json:"Tags"`
	}
	e, _, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	h.Queues.mu.Lock()
	for k, v := range in.Tags {
		e.tags[k] = v
	}
	h.Queues.mu.Unlock()
	return nil, nil
}

func (h *Handler) untagQueue(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
		TagKeys []string `json:"TagKeys"`
	}
	e, _, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	h.Queues.mu.Lock()
	for _, k := range in.TagKeys {
		delete(e.tags, k)
	}
	h.Queues.mu.Unlock()
	return nil, nil
}

func (h *Handler) listQueueTags(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
	}
	e, _, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	h.Queues.mu.RLock()
	tags := make(map[string]string, len(e.tags))
	for k, v := range e.tags {
		tags[k] = v
	}
	h.Queues.mu.RUnlock()
	if len(tags) == 0 {
		return struct{}{}, nil
	}
	return map[string]any{"Tags": tags}, nil
}

func (h *Handler) listDeadLetterSourceQueues(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
		MaxResults *int   `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	_, name, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	got, next, err := page(h.Queues.sources(name), in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	urls := []string{}
	for _, n := range got {
		urls = append(urls, h.Queues.URL(base(r), n))
	}
	return map[string]any{"queueUrls": urls, "NextToken": next}, nil
}
