package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Config is what the page reads from config.json beside itself.
type Config struct {
	// APIBaseURL is the origin (and optional path prefix) of the /v1 API,
	// for example "https://abc123.execute-api.eu-west-1.amazonaws.com/prod".
	// Empty means the page's own origin.
	APIBaseURL string `json:"api_base_url"`
	// APIKey, when set, prefills the key field. Leave it empty anywhere the
	// page is public: the user pastes the key instead.
	APIKey string `json:"api_key,omitempty"`
	// MaxUploadBytes is the largest file the API takes (presign
	// MAX_UPLOAD_BYTES); the page refuses bigger files before sending
	// anything. Zero: the page lets the API say.
	MaxUploadBytes int64 `json:"max_upload_bytes,omitempty"`
}

// FS returns the page's files (index.html at the root), for copying them
// to a static host such as an S3 bucket.
func FS() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		// The embed pattern above guarantees the directory exists.
		panic("web: embedded static directory missing: " + err.Error())
	}
	return sub
}

// Handler serves the page's static files, index.html at "/", with an empty
// config.json: the page talks to the API on its own origin unless the user
// types another address.
func Handler() http.Handler {
	return HandlerWithConfig(Config{})
}

// HandlerWithConfig serves the page like Handler and cfg as /config.json.
func HandlerWithConfig(cfg Config) http.Handler {
	return HandlerFor(func(*http.Request) Config { return cfg })
}

// HandlerFor serves the page like Handler, and as /config.json what cfg
// returns for the request (e.g. the key only to a loopback host).
func HandlerFor(cfg func(*http.Request) Config) http.Handler {
	static := http.FileServerFS(FS())
	return withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/config.json" {
			static.ServeHTTP(w, r)
			return
		}
		body, err := json.Marshal(cfg(r))
		if err != nil {
			// Config holds only strings and numbers; Marshal cannot fail on it.
			panic("web: encode config: " + err.Error())
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	}))
}

// withHeaders allows only GET and HEAD and adds the headers every response
// of the page carries. The page is small and changes with each release, so
// browsers revalidate it rather than cache it blindly.
func withHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
