package presign

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// HandleAPIGateway serves an API Gateway REST (proxy integration) request
// with the same routes as ServeHTTP.
func (h *Handler) HandleAPIGateway(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		dec, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return apiGatewayError(http.StatusBadRequest, "bad_request", "body is not valid base64"), nil
		}
		body = dec
	}
	u := url.URL{Path: req.Path}
	q := url.Values{}
	for k, vs := range req.MultiValueQueryStringParameters {
		q[k] = vs
	}
	for k, v := range req.QueryStringParameters {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	r, err := http.NewRequestWithContext(ctx, req.HTTPMethod, u.String(), bytes.NewReader(body))
	if err != nil {
		return apiGatewayError(http.StatusBadRequest, "bad_request", fmt.Sprintf("bad request line: %v", err)), nil
	}
	for k, vs := range req.MultiValueHeaders {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	for k, v := range req.Headers {
		if r.Header.Get(k) == "" {
			r.Header.Set(k, v)
		}
	}
	r.ContentLength = int64(len(body))
	w := &responseBuffer{header: http.Header{}}
	h.ServeHTTP(w, r)
	resp := events.APIGatewayProxyResponse{
		StatusCode:        w.status(),
		MultiValueHeaders: map[string][]string(w.header),
		Body:              w.body.String(),
	}
	return resp, nil
}

func apiGatewayError(code int, errCode, msg string) events.APIGatewayProxyResponse {
	w := &responseBuffer{header: http.Header{}}
	writeError(w, code, errCode, msg)
	return events.APIGatewayProxyResponse{StatusCode: code, MultiValueHeaders: map[string][]string(w.header), Body: strings.TrimSpace(w.body.String())}
}

// responseBuffer is an http.ResponseWriter that keeps the response.
type responseBuffer struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *responseBuffer) Header() http.Header { return b.header }
func (b *responseBuffer) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}
func (b *responseBuffer) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *responseBuffer) status() int {
	if b.code == 0 {
		return http.StatusOK
	}
	return b.code
}
