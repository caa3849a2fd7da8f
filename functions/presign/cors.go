package presign

import (
	"net/http"
	"strings"
)

// CORS for pages served from another origin than the API (DESIGN.md §3).
// A page on the API's own origin (CloudFront on AWS, `imagepipe dev`
// locally) needs none of this.
//
// On AWS, API Gateway sends the OPTIONS methods (no API key) to this
// function through the proxy integration, so the preflight is answered
// here, for the allowed origins only; the API Gateway gateway responses
// (DEFAULT_4XX, DEFAULT_5XX) carry the same Access-Control-Allow-Origin on
// the errors API Gateway answers itself, like the key's 403. Locally the
// key check does the same with SetCORSHeaders.

// corsMethods and corsHeaders are what a page may send.
const (
	corsMethods = "GET, POST, OPTIONS"
	corsHeaders = "content-type, x-api-key"
	// corsMaxAge lets a browser keep the preflight answer (Chromium caps it
	// at two hours).
	corsMaxAge = "7200"
)

// allowedRequestHeaders are the headers a preflight may ask for: the
// page's, plus the CORS-safelisted ones browsers may list anyway.
var allowedRequestHeaders = map[string]bool{
	"content-type": true, "x-api-key": true, "accept": true, "accept-language": true, "content-language": true,
}

type corsPolicy struct {
	origins map[string]bool
}

func newCORSPolicy(origins []string) corsPolicy {
	p := corsPolicy{origins: make(map[string]bool, len(origins))}
	for _, o := range origins {
		p.origins[o] = true
	}
	return p
}

// SetCORSHeaders adds Access-Control-Allow-Origin to a response to r when
// r comes from an allowed origin. Every response says it varies by Origin.
// Use it on responses the API does not write itself (the local key check).
func (h *Handler) SetCORSHeaders(hdr http.Header, r *http.Request) {
	h.cors.setHeaders(hdr, r)
}

func (p corsPolicy) setHeaders(hdr http.Header, r *http.Request) {
	hdr.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" && p.origins[origin] {
		hdr.Set("Access-Control-Allow-Origin", origin)
	}
}

// wrap answers preflights and adds the CORS headers to next's responses.
func (p corsPolicy) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			p.preflight(w, r)
			return
		}
		p.setHeaders(w.Header(), r)
		next.ServeHTTP(w, r)
	})
}

// preflight answers OPTIONS: 204 with the allowed methods and headers for
// an allowed origin, a JSON 403 that names the problem otherwise (the
// browser then refuses the request, as it must).
func (p corsPolicy) preflight(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	hdr.Add("Vary", "Access-Control-Request-Method")
	hdr.Add("Vary", "Access-Control-Request-Headers")
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if origin == "" || method == "" {
		// Not a preflight: say what the resource takes.
		hdr.Set("Allow", corsMethods)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !p.origins[origin] {
		writeError(w, http.StatusForbidden, "cors_origin_not_allowed",
			"this API does not take requests from pages on "+origin+"; add the origin to the API's allowed origins (cors_allowed_origins on AWS, --cors-origin for imagepipe dev)")
		return
	}
	if method != http.MethodGet && method != http.MethodPost {
		writeError(w, http.StatusForbidden, "cors_method_not_allowed", "the API takes GET and POST, not "+method)
		return
	}
	for _, h := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" && !allowedRequestHeaders[h] {
			writeError(w, http.StatusForbidden, "cors_header_not_allowed", "the API does not take the request header "+h)
			return
		}
	}
	hdr.Set("Access-Control-Allow-Origin", origin)
	hdr.Set("Access-Control-Allow-Methods", corsMethods)
	hdr.Set("Access-Control-Allow-Headers", corsHeaders)
	hdr.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
}
