package presign

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/imagepipe/imagepipe/api"
)

const pageOrigin = "https://images.example.com"

func preflight(origin, method, headers string) events.APIGatewayProxyRequest {
	h := map[string]string{}
	if origin != "" {
		h["Origin"] = origin
	}
	if method != "" {
		h["Access-Control-Request-Method"] = method
	}
	if headers != "" {
		h["Access-Control-Request-Headers"] = headers
	}
	// API Gateway's OPTIONS method has no API key and no body.
	return events.APIGatewayProxyRequest{HTTPMethod: http.MethodOptions, Resource: "/v1/uploads", Path: "/v1/uploads", Headers: h}
}

func header(resp events.APIGatewayProxyResponse, name string) string {
	return strings.Join(resp.MultiValueHeaders[http.CanonicalHeaderKey(name)], ", ")
}

func TestPreflightThroughTheAdapter(t *testing.T) {
	tests := []struct {
		name    string
		req     events.APIGatewayProxyRequest
		status  int
		allowed bool
		code    string
	}{
		{name: "the page's POST with its headers", req: preflight(pageOrigin, "POST", "content-type,x-api-key"), status: 204, allowed: true},
		{name: "the page's GET", req: preflight(pageOrigin, "GET", "x-api-key"), status: 204, allowed: true},
		{name: "another origin", req: preflight("https://evil.example.net", "POST", "x-api-key"), status: 403, code: "cors_origin_not_allowed"},
		{name: "an origin that only starts like the allowed one", req: preflight(pageOrigin+".evil.example.net", "POST", "x-api-key"), status: 403, code: "cors_origin_not_allowed"},
		{name: "a method the API does not take", req: preflight(pageOrigin, "DELETE", ""), status: 403, code: "cors_method_not_allowed"},
		{name: "a header the API does not take", req: preflight(pageOrigin, "POST", "x-api-key, authorization"), status: 403, code: "cors_header_not_allowed"},
		{name: "plain OPTIONS", req: preflight("", "", ""), status: 204},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, fake := newAPI(t, nil, func(c *Config) { c.CORSAllowedOrigins = []string{pageOrigin, "http://localhost:8080"} })
			resp, err := h.HandleAPIGateway(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, resp.Body)
			}
			acao := header(resp, "Access-Control-Allow-Origin")
			if tc.allowed {
				if acao != pageOrigin {
					t.Errorf("Access-Control-Allow-Origin %q, want %q", acao, pageOrigin)
				}
				if m := header(resp, "Access-Control-Allow-Methods"); !strings.Contains(m, "POST") || !strings.Contains(m, "GET") {
					t.Errorf("Access-Control-Allow-Methods %q", m)
				}
				if hs := header(resp, "Access-Control-Allow-Headers"); !strings.Contains(hs, "x-api-key") || !strings.Contains(hs, "content-type") {
					t.Errorf("Access-Control-Allow-Headers %q", hs)
				}
				if header(resp, "Access-Control-Max-Age") == "" {
					t.Error("no Access-Control-Max-Age")
				}
			} else if acao != "" {
				t.Errorf("Access-Control-Allow-Origin %q on a refused preflight", acao)
			}
			if tc.code != "" {
				var body struct{ Error api.ErrorBody }
				if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Error.Code != tc.code || body.Error.Message == "" {
					t.Errorf("body %s, want error %s", resp.Body, tc.code)
				}
			}
			if !strings.Contains(header(resp, "Vary"), "Origin") {
				t.Errorf("Vary %q lacks Origin", header(resp, "Vary"))
			}
			if fake.count() != 0 {
				t.Error("a preflight stored something")
			}
		})
	}
}

func TestResponsesCarryTheOriginWhenAllowed(t *testing.T) {
	h, _ := newAPI(t, nil, func(c *Config) { c.CORSAllowedOrigins = []string{pageOrigin} })
	for _, tc := range []struct {
		origin, want string
	}{
		{pageOrigin, pageOrigin},
		{"https://evil.example.net", ""},
		{"", ""},
	} {
		req := proxyRequest("GET", "/v1/images/"+testImageID, "")
		if tc.origin != "" {
			req.Headers["Origin"] = tc.origin
		}
		resp, err := h.HandleAPIGateway(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
		if got := header(resp, "Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("Origin %q: Access-Control-Allow-Origin %q, want %q", tc.origin, got, tc.want)
		}
	}

	// SetCORSHeaders, for answers the API does not write (the local key check).
	r := httptest.NewRequest(http.MethodPost, "/v1/uploads", nil)
	r.Header.Set("Origin", pageOrigin)
	hdr := http.Header{}
	h.SetCORSHeaders(hdr, r)
	if hdr.Get("Access-Control-Allow-Origin") != pageOrigin || hdr.Get("Vary") != "Origin" {
		t.Errorf("SetCORSHeaders gave %v", hdr)
	}
}

func TestCORSOriginsAreChecked(t *testing.T) {
	for _, bad := range []string{"*", "images.example.com", "https://images.example.com/", "https://images.example.com/page", "ftp://x.example.com", "https://Images.example.com"} {
		cfg := DefaultConfig("u", "p")
		cfg.CORSAllowedOrigins = []string{bad}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), EnvCORSOrigins) {
			t.Errorf("origin %q: Validate = %v, want an error naming %s", bad, err, EnvCORSOrigins)
		}
	}
	t.Setenv(EnvUploadsBucket, "u")
	t.Setenv(EnvProcessedBucket, "p")
	t.Setenv(EnvCORSOrigins, " https://a.example.com, http://localhost:8080 ,")
	cfg, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.CORSAllowedOrigins, " ") != "https://a.example.com http://localhost:8080" {
		t.Errorf("origins %q", cfg.CORSAllowedOrigins)
	}
}
