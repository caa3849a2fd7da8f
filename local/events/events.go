// Package events serves the EventBridge API (JSON 1.1 over HTTP, operations
// named by the X-Amz-Target header "AWSEvents.<Operation>") on the local
// edge, over the local bus, so that the AWS SDK's eventbridge client and
// `aws events --endpoint-url` work against it. Every request is SigV4
// verified.
//
// See https://docs.aws.amazon.com/eventbridge/latest/APIReference/Welcome.html.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/imagepipe/imagepipe/local/bus"
	"github.com/imagepipe/imagepipe/local/queue"
	"github.com/imagepipe/imagepipe/local/sigv4"
)

// TargetPrefix starts the X-Amz-Target of every EventBridge operation.
const TargetPrefix = "AWSEvents."

// maxRequestBytes bounds a request body: 10 entries of at most 1 MB each,
// and some room for the envelope.
const maxRequestBytes = 11 << 20

// Handler serves the EventBridge operations.
type Handler struct {
	Router *bus.Router
	// Replays serves StartReplay and the other replay operations; without
	// it they answer UnknownOperationException.
	Replays  *bus.Replayer
	Verifier *sigv4.Verifier
	Logger   *slog.Logger
	// Queues resolves the SQS queue ARN of a target (PutTargets); without
	// it no target can be set.
	Queues func(arn string) (*queue.Queue, bool)

	made map[string]bool // rules made through PutRule, by bus/name
}

// operation handles one decoded request body and returns the response
// value, or an *apiError.
type operation func(h *Handler, r *http.Request, body []byte) (any, error)

// IsEventBridge reports whether r is an EventBridge request.
func IsEventBridge(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// apiError is an error answer: {"__type": Type, "message": Message}.
type apiError struct {
	Status  int
	Type    string
	Message string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func validation(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "ResourceNotFoundException", Message: fmt.Sprintf(format, args...)}
}

func apiErr(typ, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// ServeHTTP serves one EventBridge request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Type: "UnknownOperationException", Message: "EventBridge takes POST requests"})
		return
	}
	id, err := h.Verifier.Verify(r, "events")
	if err == nil && id.Region != h.Router.Region {
		// What EventBridge answers a request signed for another region.
		writeError(w, &apiError{Status: http.StatusBadRequest, Type: "InvalidSignatureException",
			Message: fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. This endpoint serves %s.", id.Region, h.Router.Region)})
		return
	}
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			typ := se.Code
			switch se.Code {
			case sigv4.CodeInvalidAccessKeyID:
				typ = "UnrecognizedClientException"
			case sigv4.CodeSignatureDoesNotMatch:
				typ = "InvalidSignatureException"
			}
			writeError(w, &apiError{Status: se.Status, Type: typ, Message: se.Message})
			return
		}
		writeError(w, &apiError{Status: http.StatusForbidden, Type: "AccessDeniedException", Message: err.Error()})
		return
	}
	name := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	op, ok := registry[name]
	if !ok {
		writeError(w, &apiError{Status: http.StatusBadRequest, Type: "UnknownOperationException", Message: "unknown or unsupported operation " + name})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeError(w, validation("could not read the request: %v", err))
		return
	}
	if len(body) > maxRequestBytes {
		writeError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Type: "ValidationException", Message: "Total size of the entries in the request is over the limit."})
		return
	}
	out, err := op(h, r, body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			h.logger().Error("eventbridge operation failed", "op", name, "err", err)
			ae = &apiError{Status: http.StatusInternalServerError, Type: "InternalException", Message: err.Error()}
		}
		writeError(w, ae)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

// registry holds the operations; each file adds its own in init, and
// requests (at once, on many goroutines) only read it.
var registry = map[string]operation{}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Type, "message": e.Message})
}

// decode unmarshals a request body, answering a ValidationException for
// malformed JSON.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{Status: http.StatusBadRequest, Type: "SerializationException", Message: "the request body is not valid JSON: " + err.Error()}
	}
	return nil
}
