package sqsserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/imagepipe/imagepipe/local/sigv4"
)

// TargetPrefix starts the X-Amz-Target of every SQS operation.
const TargetPrefix = "AmazonSQS."

// maxRequestBytes bounds a request: a 256 KiB message and its envelope.
const maxRequestBytes = 1 << 20

// Handler serves the SQS operations over a Registry.
type Handler struct {
	Queues   *Registry
	Verifier *sigv4.Verifier
	Logger   *slog.Logger
}

// IsSQS reports whether r is a request of SQS's JSON protocol.
func IsSQS(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// IsSQSQuery reports whether r looks like a request of SQS's former query
// protocol (a form with Action=), which this edge does not speak.
func IsSQSQuery(r *http.Request) bool {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return false
	}
	auth := r.Header.Get("Authorization")
	return strings.Contains(auth, "/sqs/aws4_request")
}

// apiError is an error answer.
type apiError struct {
	Status int
	// Type is the JSON protocol's error name (the model's shape), Query
	// the query protocol's code for the x-amzn-query-error header.
	Type, Query string
	Message     string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func errorOf(status int, typ, query, format string, args ...any) *apiError {
	return &apiError{Status: status, Type: typ, Query: query, Message: fmt.Sprintf(format, args...)}
}

func noQueue() *apiError {
	return errorOf(http.StatusBadRequest, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
}

func invalidParameter(format string, args ...any) *apiError {
	return errorOf(http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", format, args...)
}

func missingParameter(name string) *apiError {
	return errorOf(http.StatusBadRequest, "MissingParameter", "MissingParameter", "The request must contain the parameter %s.", name)
}

func notFound(format string, args ...any) *apiError {
	return errorOf(http.StatusBadRequest, "ResourceNotFoundException", "ResourceNotFoundException", format, args...)
}

// operation handles one decoded request body.
type operation func(h *Handler, r *http.Request, body []byte) (any, error)

var registry = map[string]operation{}

// ServeHTTP serves one SQS request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !IsSQS(r) {
		writeError(w, errorOf(http.StatusBadRequest, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation",
			"This edge speaks SQS's JSON protocol (X-Amz-Target: AmazonSQS.<Operation>), which the AWS SDKs and CLI use since 2023; "+
				"update the client (AWS CLI 1.29.x / 2.13.x or later, botocore 1.31 or later)."))
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, errorOf(http.StatusMethodNotAllowed, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "SQS takes POST requests"))
		return
	}
	if _, err := h.Verifier.Verify(r, "sqs"); err != nil {
		var se *sigv4.Error
		if !errors.As(err, &se) {
			writeError(w, errorOf(http.StatusForbidden, "AccessDeniedException", "AccessDenied", "%v", err))
			return
		}
		switch se.Code {
		case sigv4.CodeInvalidAccessKeyID:
			writeError(w, errorOf(se.Status, "UnrecognizedClientException", "InvalidClientTokenId", "The security token included in the request is invalid."))
		case sigv4.CodeSignatureDoesNotMatch:
			writeError(w, errorOf(se.Status, "InvalidSignatureException", "SignatureDoesNotMatch", "%s", se.Message))
		default:
			writeError(w, errorOf(se.Status, se.Code, se.Code, "%s", se.Message))
		}
		return
	}
	name := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	op, ok := registry[name]
	if !ok {
		writeError(w, errorOf(http.StatusBadRequest, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation",
			"%s is not supported by the local edge", name))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeError(w, invalidParameter("could not read the request: %v", err))
		return
	}
	if len(body) > maxRequestBytes {
		writeError(w, errorOf(http.StatusRequestEntityTooLarge, "InvalidParameterValue", "InvalidParameterValue", "The request is larger than SQS takes."))
		return
	}
	out, err := op(h, r, body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			h.logger().Error("sqs operation failed", "op", name, "err", err)
			ae = errorOf(http.StatusInternalServerError, "InternalFailure", "InternalFailure", "%v", err)
		}
		writeError(w, ae)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if out == nil {
		out = struct{}{}
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	fault := "Sender"
	if e.Status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", e.Query+";"+fault)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + e.Type, "message": e.Message})
}

// decode unmarshals a request body.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorOf(http.StatusBadRequest, "InvalidParameterValue", "SerializationException", "the request body is not valid JSON: %v", err)
	}
	return nil
}

// queueRequest is the QueueUrl of a request about one queue.
type queueRequest struct {
	QueueUrl string `json:"QueueUrl"`
}

func (q *queueRequest) queueURL() string { return q.QueueUrl }

// queue decodes a request about one queue into in (a struct embedding
// queueRequest) and finds the queue.
func (h *Handler) queue(body []byte, in interface{ queueURL() string }) (*entry, string, error) {
	if err := decode(body, in); err != nil {
		return nil, "", err
	}
	return h.Queues.byURL(in.queueURL())
}
