package sqsserver

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/imagepipe/imagepipe/local/queue"
)

func init() {
	registry["ReceiveMessage"] = (*Handler).receiveMessage
	registry["SendMessage"] = (*Handler).sendMessage
	registry["DeleteMessage"] = (*Handler).deleteMessage
	registry["DeleteMessageBatch"] = (*Handler).deleteMessageBatch
	registry["ChangeMessageVisibility"] = (*Handler).changeMessageVisibility
	registry["PurgeQueue"] = (*Handler).purgeQueue
}

type receiveInput struct {
	QueueUrl                    string   `json:"QueueUrl"`
	AttributeNames              []string `json:"AttributeNames"`
	MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
	MaxNumberOfMessages         *int     `json:"MaxNumberOfMessages"`
	VisibilityTimeout           *int     `json:"VisibilityTimeout"`
	WaitTimeSeconds             *int     `json:"WaitTimeSeconds"`
}

type message struct {
	MessageId     string            `json:"MessageId"`
	ReceiptHandle string            `json:"ReceiptHandle"`
	MD5OfBody     string            `json:"MD5OfBody"`
	Body          string            `json:"Body"`
	Attributes    map[string]string `json:"Attributes,omitempty"`
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func (h *Handler) receiveMessage(r *http.Request, body []byte) (any, error) {
	var in receiveInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	e, _, err := h.Queues.byURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	max := 1
	if in.MaxNumberOfMessages != nil {
		if max = *in.MaxNumberOfMessages; max < 1 || max > 10 {
			return nil, invalidParameter("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", max)
		}
	}
	var wait time.Duration
	if in.WaitTimeSeconds != nil {
		if *in.WaitTimeSeconds < 0 || *in.WaitTimeSeconds > 20 {
			return nil, invalidParameter("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
		}
		wait = time.Duration(*in.WaitTimeSeconds) * time.Second
	}
	if in.VisibilityTimeout != nil && (*in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200) {
		return nil, invalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", *in.VisibilityTimeout)
	}
	msgs, err := receive(r.Context(), e.q, max, wait)
	if err != nil {
		return nil, err
	}
	if in.VisibilityTimeout != nil {
		vt := time.Duration(*in.VisibilityTimeout) * time.Second
		for _, m := range msgs {
			if err := e.q.ChangeVisibility(r.Context(), m.ReceiptHandle, vt); err != nil {
				return nil, err
			}
		}
	}
	want := map[string]bool{}
	for _, a := range append(in.AttributeNames, in.MessageSystemAttributeNames...) {
		want[a] = true
	}
	out := []message{}
	for _, m := range msgs {
		om := message{MessageId: m.ID, ReceiptHandle: m.ReceiptHandle, MD5OfBody: md5Hex(m.Body), Body: string(m.Body)}
		attrs := map[string]string{
			"SenderId":                         h.Queues.Account,
			"SentTimestamp":                    strconv.FormatInt(m.SentAt.UnixMilli(), 10),
			"ApproximateReceiveCount":          strconv.Itoa(m.ReceiveCount),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.FirstReceived.UnixMilli(), 10),
		}
		for k, v := range attrs {
			if want["All"] || want[k] {
				if om.Attributes == nil {
					om.Attributes = map[string]string{}
				}
				om.Attributes[k] = v
			}
		}
		out = append(out, om)
	}
	if len(out) == 0 {
		return struct{}{}, nil
	}
	return map[string]any{"Messages": out}, nil
}

// receive takes up to n messages, waiting up to wait for the first one
// (long polling): it wakes when a message is sent, made visible again, or
// becomes visible when its timeout ends.
func receive(ctx context.Context, q *queue.Queue, n int, wait time.Duration) ([]queue.Message, error) {
	deadline := time.Now().Add(wait)
	for {
		woken := q.Wait()
		msgs, err := q.Receive(ctx, n)
		if err != nil || len(msgs) > 0 {
			return msgs, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		if next, err := q.NextVisible(ctx); err == nil && !next.IsZero() {
			left = min(left, max(time.Until(next), 10*time.Millisecond))
		}
		t := time.NewTimer(left)
		select {
		case <-woken:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		}
		t.Stop()
	}
}

func (h *Handler) sendMessage(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
		MessageBody       string         `json:"MessageBody"`
		DelaySeconds      *int           `json:"DelaySeconds"`
		MessageAttributes map[string]any `json:"MessageAttributes"`
	}
	e, _, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	switch {
	case in.MessageBody == "":
		return nil, missingParameter("MessageBody")
	case len(in.MessageBody) > 262144:
		return nil, invalidParameter("One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes.")
	case !utf8.ValidString(in.MessageBody):
		return nil, errorOf(http.StatusBadRequest, "InvalidMessageContents", "InvalidMessageContents", "Invalid characters found.")
	case in.DelaySeconds != nil && *in.DelaySeconds != 0:
		return nil, invalidParameter("DelaySeconds: the local queues deliver at once; send without a delay.")
	case len(in.MessageAttributes) > 0:
		return nil, invalidParameter("MessageAttributes: the local queues keep the body only; send without attributes.")
	}
	id, err := e.q.Send(r.Context(), []byte(in.MessageBody))
	if err != nil {
		return nil, err
	}
	return map[string]string{"MessageId": id, "MD5OfMessageBody": md5Hex([]byte(in.MessageBody))}, nil
}

// checkReceipt refuses a handle that no receive of this queue made.
func checkReceipt(handle string) error {
	id, n, ok := strings.Cut(handle, ".")
	if _, err := strconv.Atoi(n); !ok || err != nil || id == "" {
		return errorOf(http.StatusBadRequest, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The input receipt handle \"%s\" is not a valid receipt handle.", handle)
	}
	return nil
}

func (h *Handler) deleteMessage(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
		ReceiptHandle string `json:"ReceiptHandle"`
	}
	e, _, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	return nil, deleteOne(r.Context(), e.q, in.ReceiptHandle)
}

// deleteOne deletes a received message. As on SQS, a handle of an earlier
// receive deletes nothing and is no error.
func deleteOne(ctx context.Context, q *queue.Queue, handle string) error {
	if handle == "" {
		return missingParameter("ReceiptHandle")
	}
	if err := checkReceipt(handle); err != nil {
		return err
	}
	if err := q.Delete(ctx, handle); err != nil && !errors.Is(err, queue.ErrStaleReceipt) {
		return err
	}
	return nil
}

func (h *Handler) deleteMessageBatch(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
		Entries []struct {
			Id            string `json:"Id"`
			ReceiptHandle string `json:"ReceiptHandle"`
		} `json:"Entries"`
	}
	e, _, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	switch n := len(in.Entries); {
	case n == 0:
		return nil, errorOf(http.StatusBadRequest, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", "There should be at least one DeleteMessageBatchRequestEntry in the request.")
	case n > 10:
		return nil, errorOf(http.StatusBadRequest, "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10. You have sent %d.", n)
	}
	type ok struct {
		Id string `json:"Id"`
	}
	type failed struct {
		Id          string `json:"Id"`
		SenderFault bool   `json:"SenderFault"`
		Code        string `json:"Code"`
		Message     string `json:"Message"`
	}
	out := struct {
		Successful []ok     `json:"Successful"`
		Failed     []failed `json:"Failed"`
	}{Successful: []ok{}, Failed: []failed{}}
	seen := map[string]bool{}
	for _, en := range in.Entries {
		if seen[en.Id] {
			return nil, errorOf(http.StatusBadRequest, "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id %s repeated.", en.Id)
		}
		seen[en.Id] = true
		if err := deleteOne(r.Context(), e.q, en.ReceiptHandle); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				return nil, err
			}
			out.Failed = append(out.Failed, failed{Id: en.Id, SenderFault: true, Code: ae.Query, Message: ae.Message})
			continue
		}
		out.Successful = append(out.Successful, ok{Id: en.Id})
	}
	return out, nil
}

func (h *Handler) changeMessageVisibility(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
		ReceiptHandle     string `json:"ReceiptHandle"`
		VisibilityTimeout *int   `json:"VisibilityTimeout"`
	}
	e, _, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	if in.VisibilityTimeout == nil {
		return nil, missingParameter("VisibilityTimeout")
	}
	if *in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200 {
		return nil, invalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200.", *in.VisibilityTimeout)
	}
	if err := checkReceipt(in.ReceiptHandle); err != nil {
		return nil, err
	}
	err = e.q.ChangeVisibility(r.Context(), in.ReceiptHandle, time.Duration(*in.VisibilityTimeout)*time.Second)
	if errors.Is(err, queue.ErrStaleReceipt) {
		return nil, errorOf(http.StatusBadRequest, "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "Message does not exist or is not available for visibility timeout change.")
	}
	return nil, err
}

func (h *Handler) purgeQueue(r *http.Request, body []byte) (any, error) {
	var in struct {
		queueRequest
	}
	e, name, err := h.queue(body, &in)
	if err != nil {
		return nil, err
	}
	n, err := e.q.Purge(r.Context())
	if err != nil {
		return nil, err
	}
	h.logger().Info("queue purged", "queue", name, "messages", n)
	return nil, nil
}
