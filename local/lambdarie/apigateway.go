package lambdarie

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// IntegrationTimeout is API Gateway's default integration timeout.
const IntegrationTimeout = 29 * time.Second

// RESTAPI is an API Gateway REST API whose routes are Lambda proxy
// integrations of one function. It serves the paths under the stage: mount
// it at the stage's base URL (http.StripPrefix("/"+Stage, api)) to get
// API Gateway's URLs, or at the root as the local stack does.
type RESTAPI struct {
	Function Invoker
	// Routes are "METHOD /resource/path" with {name} and {name+} path
	// parameters, as Terraform's api_routes.
	Routes []string
	// Stage is the stage name (requestContext.stage, requestContext.path).
	Stage string
	// BinaryMediaTypes are the API's binary media types: a request whose
	// Content-Type matches one reaches the function base64-encoded.
	BinaryMediaTypes []string
	// APIKey, when set, is required in x-api-key on every route but those
	// of RoutesWithoutAPIKey (api_key_required = false, e.g. the CORS
	// preflights); APIKeyID names it in the request context.
	APIKey              string
	APIKeyID            string
	RoutesWithoutAPIKey []string
	// GatewayResponses are the API's customised gateway responses by
	// response type (DEFAULT_4XX, DEFAULT_5XX, REQUEST_TOO_LARGE, ...), as
	// aws_api_gateway_gateway_response sets them.
	GatewayResponses map[string]GatewayResponse
	// APIID and AccountID fill the request context (defaults "local",
	// "000000000000").
	APIID     string
	AccountID string
	// Timeout is the integration timeout (default 29 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// GatewayResponse is a customised answer of API Gateway itself.
type GatewayResponse struct {
	// StatusCode replaces the answer's status (0 keeps it).
	StatusCode int `json:"status_code"`
	// ResponseParameters are header values by
	// "gatewayresponse.header.<Name>": a quoted literal ('x') or
	// method.request.header.<Name> (the request's header).
	ResponseParameters map[string]string `json:"response_parameters"`
	// ResponseTemplates replace the body, by content type; only
	// "application/json" is used.
	ResponseTemplates map[string]string `json:"response_templates"`
}

// Response types of the answers RESTAPI gives itself.
const (
	ResponseMissingToken    = "MISSING_AUTHENTICATION_TOKEN"
	ResponseInvalidAPIKey   = "INVALID_API_KEY"
	ResponseTooLarge        = "REQUEST_TOO_LARGE"
	ResponseIntegrationFail = "DEFAULT_5XX"
	ResponseTimeout         = "INTEGRATION_TIMEOUT"
	ResponseBadRequest      = "BAD_REQUEST_BODY"
)

type route struct {
	method   string
	resource string
	parts    []string
}

// ServeHTTP turns the request into an events.APIGatewayProxyRequest,
// invokes the function and writes its response, with API Gateway's own
// answers where it answers itself (customised by GatewayResponses): 403
// Missing Authentication Token for a route that does not exist, 403
// Forbidden without the API key, 413 for a body over the 10 MB payload
// limit or an event over Lambda's 6 MB, 502 for a function error or a
// malformed response, 504 past the integration timeout.
func (a *RESTAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := newRequestID()
	w.Header().Set("x-amzn-RequestId", requestID)
	rt, params, ok := a.match(r.Method, r.URL.Path)
	if !ok {
		a.answer(w, r, ResponseMissingToken, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	}
	if a.APIKey != "" && !slices.Contains(a.RoutesWithoutAPIKey, rt.method+" "+rt.resource) {
		got := r.Header.Get("x-api-key")
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(a.APIKey)) != 1 {
			a.answer(w, r, ResponseInvalidAPIKey, http.StatusForbidden, "ForbiddenException", "Forbidden")
			return
		}
	}
	const maxPayload = 10 << 20
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		a.answer(w, r, ResponseBadRequest, http.StatusBadRequest, "BadRequestException", "could not read the request body")
		return
	}
	if len(body) > maxPayload {
		a.answer(w, r, ResponseTooLarge, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "Request Too Long")
		return
	}
	ev := a.event(r, rt, params, body, requestID, start)
	payload, err := json.Marshal(ev)
	if err != nil {
		a.answer(w, r, ResponseIntegrationFail, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error")
		return
	}
	if len(payload) > MaxSyncPayload {
		// Lambda refuses the invocation; API Gateway answers 413.
		a.answer(w, r, ResponseTooLarge, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "Request Too Long")
		return
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = IntegrationTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	out, err := a.Function.Invoke(ctx, payload)
	log := a.logger().With("request_id", requestID, "method", r.Method, "resource", rt.resource)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			log.Warn("integration timed out", "err", err)
			a.answer(w, r, ResponseTimeout, http.StatusGatewayTimeout, "IntegrationTimeout", "Endpoint request timed out")
			return
		}
		log.Warn("Lambda execution failed", "err", err)
		a.answer(w, r, ResponseIntegrationFail, http.StatusBadGateway, "InternalServerErrorException", "Internal server error")
		return
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		log.Warn("malformed Lambda proxy response", "response", string(out[:min(len(out), 200)]))
		a.answer(w, r, ResponseIntegrationFail, http.StatusBadGateway, "InternalServerErrorException", "Internal server error")
		return
	}
	respBody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if respBody, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			log.Warn("malformed Lambda proxy response: body is not base64", "err", err)
			a.answer(w, r, ResponseIntegrationFail, http.StatusBadGateway, "InternalServerErrorException", "Internal server error")
			return
		}
	}
	// Values of multiValueHeaders win over the same name in headers.
	for k, v := range resp.Headers {
		if _, ok := resp.MultiValueHeaders[k]; !ok {
			w.Header().Set(k, v)
		}
	}
	for k, vs := range resp.MultiValueHeaders {
		w.Header().Del(k)
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(respBody)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

func (a *RESTAPI) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

// match finds the route of method and p, with its path parameters.
func (a *RESTAPI) match(method, p string) (route, map[string]string, bool) {
	segs := splitPath(p)
	for _, spec := range a.Routes {
		m, res, ok := strings.Cut(spec, " ")
		if !ok || m != method {
			continue
		}
		rt := route{method: m, resource: res, parts: splitPath(res)}
		if params, ok := matchParts(rt.parts, segs); ok {
			return rt, params, true
		}
	}
	return route{}, nil, false
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func matchParts(parts, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, part := range parts {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "+}") {
			if i >= len(segs) {
				return nil, false
			}
			params[part[1:len(part)-2]] = strings.Join(segs[i:], "/")
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			if segs[i] == "" {
				return nil, false
			}
			params[part[1:len(part)-1]] = segs[i]
			continue
		}
		if part != segs[i] {
			return nil, false
		}
	}
	return params, len(parts) == len(segs)
}

// event is the proxy event API Gateway sends for r.
func (a *RESTAPI) event(r *http.Request, rt route, params map[string]string, body []byte, requestID string, now time.Time) events.APIGatewayProxyRequest {
	apiID, account := a.APIID, a.AccountID
	if apiID == "" {
		apiID = "local"
	}
	if account == "" {
		account = "000000000000"
	}
	ev := events.APIGatewayProxyRequest{
		Resource:   rt.resource,
		Path:       "/" + strings.Join(splitPath(r.URL.Path), "/"),
		HTTPMethod: r.Method,
	}
	if len(r.Header) > 0 {
		ev.Headers, ev.MultiValueHeaders = map[string]string{}, map[string][]string{}
		for k, vs := range r.Header {
			ev.MultiValueHeaders[k] = vs
			ev.Headers[k] = vs[len(vs)-1]
		}
		if r.Host != "" {
			ev.Headers["Host"], ev.MultiValueHeaders["Host"] = r.Host, []string{r.Host}
		}
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = map[string]string{}, map[string][]string{}
		for k, vs := range q {
			ev.MultiValueQueryStringParameters[k] = vs
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	if len(params) > 0 {
		ev.PathParameters = params
	}
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	ev.RequestContext = events.APIGatewayProxyRequestContext{
		AccountID:         account,
		ResourceID:        resourceID(rt.resource),
		Stage:             a.Stage,
		RequestID:         requestID,
		ExtendedRequestID: requestID,
		Identity: events.APIGatewayRequestIdentity{
			SourceIP:  sourceIP,
			UserAgent: r.UserAgent(),
			APIKey:    r.Header.Get("x-api-key"),
			APIKeyID:  a.APIKeyID,
		},
		ResourcePath:     rt.resource,
		Path:             path.Join("/", a.Stage, ev.Path),
		HTTPMethod:       r.Method,
		RequestTime:      now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		RequestTimeEpoch: now.UnixMilli(),
		APIID:            apiID,
		DomainName:       r.Host,
		Protocol:         r.Proto,
	}
	if a.binary(r.Header.Get("Content-Type")) {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	} else {
		ev.Body = string(body)
	}
	return ev
}

// binary says whether a content type matches the binary media types
// ("image/*" matches every image type, "*/*" everything).
func (a *RESTAPI) binary(contentType string) bool {
	ct, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(contentType)), ";")
	ct = strings.TrimSpace(ct)
	if ct == "" {
		ct = "application/json" // what API Gateway assumes without one
	}
	for _, t := range a.BinaryMediaTypes {
		t = strings.ToLower(t)
		if t == ct || t == "*/*" {
			return true
		}
		if prefix, ok := strings.CutSuffix(t, "/*"); ok && strings.HasPrefix(ct, prefix+"/") {
			return true
		}
	}
	return false
}

// resourceID is a stable short id for a resource path, like API Gateway's.
func resourceID(resource string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(resource); i++ {
		h = (h ^ uint32(resource[i])) * 16777619
	}
	return strconv.FormatUint(uint64(h), 36)
}

// answer writes one of API Gateway's own answers, customised by the
// gateway response of its type, else by DEFAULT_4XX or DEFAULT_5XX.
func (a *RESTAPI) answer(w http.ResponseWriter, r *http.Request, typ string, code int, errType, msg string) {
	gr, ok := a.GatewayResponses[typ]
	if !ok {
		def := "DEFAULT_4XX"
		if code >= 500 {
			def = "DEFAULT_5XX"
		}
		gr = a.GatewayResponses[def]
	}
	raw, _ := json.Marshal(map[string]string{"message": msg})
	raw = append(raw, '\n')
	if t, ok := gr.ResponseTemplates["application/json"]; ok && t != "" {
		raw = []byte(t)
	}
	if gr.StatusCode != 0 {
		code = gr.StatusCode
	}
	for k, v := range gr.ResponseParameters {
		name, ok := strings.CutPrefix(k, "gatewayresponse.header.")
		if !ok {
			continue
		}
		if lit, ok := strings.CutPrefix(v, "'"); ok {
			w.Header().Set(name, strings.TrimSuffix(lit, "'"))
		} else if h, ok := strings.CutPrefix(v, "method.request.header."); ok && r.Header.Get(h) != "" {
			w.Header().Set(name, r.Header.Get(h))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", errType)
	w.WriteHeader(code)
	_, _ = w.Write(raw)
}
