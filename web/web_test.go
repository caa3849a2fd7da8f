package web_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imagepipe/imagepipe/web"
)

func TestHandlerServesPage(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	tests := []struct {
		name        string
		path        string
		status      int
		contentType string
		contains    string
	}{
		{name: "index at root", path: "/", status: 200, contentType: "text/html", contains: `<input id="pick"`},
		{name: "module script", path: "/app.js", status: 200, contentType: "text/javascript", contains: "import"},
		{name: "styles", path: "/style.css", status: 200, contentType: "text/css", contains: ":root"},
		{name: "icon", path: "/favicon.svg", status: 200, contentType: "image/svg+xml", contains: "<svg"},
		{name: "empty config", path: "/config.json", status: 200, contentType: "application/json", contains: `{"api_base_url":""}`},
		{name: "unknown file", path: "/nope.js", status: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.status {
				t.Fatalf("GET %s: status %d, want %d", tc.path, res.StatusCode, tc.status)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if tc.contentType != "" && !strings.HasPrefix(res.Header.Get("Content-Type"), tc.contentType) {
				t.Errorf("Content-Type = %q, want %s", res.Header.Get("Content-Type"), tc.contentType)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body of %s does not contain %q", tc.path, tc.contains)
			}
		})
	}
}

func TestHandlerWithConfigServesConfig(t *testing.T) {
	srv := httptest.NewServer(web.HandlerWithConfig(web.Config{APIBaseURL: "https://api.example.com/prod"}))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var got map[string]any
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got["api_base_url"] != "https://api.example.com/prod" {
		t.Errorf("api_base_url = %v", got["api_base_url"])
	}
	if _, ok := got["api_key"]; ok {
		t.Errorf("api_key present though empty: %v", got)
	}

	// The page itself is still there.
	res2, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != 200 {
		t.Errorf("GET /: status %d", res2.StatusCode)
	}
}

func TestHandlerRefusesWrites(t *testing.T) {
	srv := httptest.NewServer(web.HandlerWithConfig(web.Config{}))
	defer srv.Close()
	for _, path := range []string{"/", "/config.json"} {
		res, err := http.Post(srv.URL+path, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: status %d, want 405", path, res.StatusCode)
		}
		if res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: Allow = %q", path, res.Header.Get("Allow"))
		}
	}
}

// The page must not depend on anything outside itself: no CDN, no web font.
func TestPageIsSelfContained(t *testing.T) {
	err := fs.WalkDir(web.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web.FS(), path)
		if err != nil {
			return err
		}
		s := string(b)
		for _, bad := range []string{"//cdn", "fonts.googleapis", "unpkg.com", "jsdelivr", "@import url(http"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s refers to %q", path, bad)
			}
		}
		if strings.HasSuffix(path, ".html") || strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".css") {
			for _, tag := range []string{`src="http`, `href="http`} {
				if strings.Contains(s, tag) {
					t.Errorf("%s loads something from another site (%s)", path, tag)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
