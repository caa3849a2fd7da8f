package s3server

import (
	"net/http"
	"strings"

	"github.com/imagepipe/imagepipe/local/sigv4"
)

// exposedHeaders are the response headers a page may read, as the uploads
// bucket's CORS rule on AWS exposes them.
const exposedHeaders = "ETag, x-amz-request-id, x-amz-version-id"

var corsMethods = map[string]bool{
	http.MethodGet: true, http.MethodPut: true, http.MethodPost: true,
	http.MethodDelete: true, http.MethodHead: true,
}

// preflight answers a CORS preflight like an S3 bucket whose CORS rule allows
// the configured origins, the usual methods and any request header. It needs
// no signature (browsers send none).
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, reqID string) {
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	rw := &responseWriter{ResponseWriter: w, requestID: reqID}
	if !s.origins[strings.TrimSuffix(origin, "/")] || !corsMethods[method] {
		s.writeError(rw, r, &sigv4.Error{Code: "AccessForbidden", Status: http.StatusForbidden,
			Message: "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."})
		return
	}
	rw.origin = origin
	rw.preflight = http.Header{
		"Access-Control-Allow-Methods": {"GET, PUT, POST, DELETE, HEAD"},
		"Access-Control-Max-Age":       {"3000"},
	}
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		rw.preflight.Set("Access-Control-Allow-Headers", rh)
	}
	h := w.Header()
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Add("Vary", "Access-Control-Request-Method")
	h.Set("Content-Length", "0")
	rw.WriteHeader(http.StatusOK)
}
