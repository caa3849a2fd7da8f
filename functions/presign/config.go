package presign

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/functions/status"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvUploadsBucket     = "UPLOADS_BUCKET"
	EnvProcessedBucket   = "PROCESSED_BUCKET"
	EnvMaxUploadBytes    = "MAX_UPLOAD_BYTES"
	EnvRawUploadMaxBytes = "RAW_UPLOAD_MAX_BYTES"
	EnvUploadURLTTL      = "UPLOAD_URL_TTL"
	EnvDownloadURLTTL    = "DOWNLOAD_URL_TTL"
	EnvUploadGrace       = "UPLOAD_GRACE"
	EnvCORSOrigins       = "CORS_ALLOWED_ORIGINS"
)

// Config is what the API needs to know.
type Config struct {
	UploadsBucket   string
	ProcessedBucket string
	// MaxUploadBytes bounds the size a client may declare for a presigned PUT.
	MaxUploadBytes int64
	// RawUploadMaxBytes bounds the body of POST /v1/images/upload.
	RawUploadMaxBytes int64
	// URLTTL is the lifetime of presigned upload URLs.
	URLTTL time.Duration
	// DownloadURLTTL is the lifetime of the presigned GET URLs of outputs.
	DownloadURLTTL time.Duration
	// UploadGrace is how long after its upload URL expired a pending image
	// still waits for its upload before it reads as expired.
	UploadGrace time.Duration
	// CORSAllowedOrigins are the browser origins (scheme://host[:port])
	// allowed to call the API from another origin than its own.
	CORSAllowedOrigins []string
}

// Defaults.
const (
	DefaultMaxUploadBytes    = api.DefaultMaxUploadBytes
	DefaultRawUploadMaxBytes = 5 << 20
	DefaultURLTTL            = 5 * time.Minute
	DefaultDownloadURLTTL    = time.Hour
	// HardMaxUploadBytes is the largest upload imagepipe accepts at all:
	// a single presigned PUT, no multipart.
	HardMaxUploadBytes = api.HardMaxUploadBytes
)

// DefaultConfig returns the defaults with the given buckets.
func DefaultConfig(uploadsBucket, processedBucket string) Config {
	return Config{
		UploadsBucket:     uploadsBucket,
		ProcessedBucket:   processedBucket,
		MaxUploadBytes:    DefaultMaxUploadBytes,
		RawUploadMaxBytes: DefaultRawUploadMaxBytes,
		URLTTL:            DefaultURLTTL,
		DownloadURLTTL:    DefaultDownloadURLTTL,
		UploadGrace:       status.DefaultUploadGrace,
	}
}

// ConfigFromEnv reads the configuration from the environment, with defaults
// for what is unset.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig(os.Getenv(EnvUploadsBucket), os.Getenv(EnvProcessedBucket))
	var errs []error
	if v := os.Getenv(EnvMaxUploadBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		errs = append(errs, wrapEnv(EnvMaxUploadBytes, err))
		c.MaxUploadBytes = n
	}
	if v := os.Getenv(EnvRawUploadMaxBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		errs = append(errs, wrapEnv(EnvRawUploadMaxBytes, err))
		c.RawUploadMaxBytes = n
	}
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{{EnvUploadURLTTL, &c.URLTTL}, {EnvDownloadURLTTL, &c.DownloadURLTTL}, {EnvUploadGrace, &c.UploadGrace}} {
		if v := os.Getenv(d.env); v != "" {
			p, err := time.ParseDuration(v)
			errs = append(errs, wrapEnv(d.env, err))
			*d.dst = p
		}
	}
	if v := os.Getenv(EnvCORSOrigins); v != "" {
		c.CORSAllowedOrigins = splitList(v)
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func wrapEnv(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.UploadsBucket == "" {
		errs = append(errs, fmt.Errorf("%s is required", EnvUploadsBucket))
	}
	if c.ProcessedBucket == "" {
		errs = append(errs, fmt.Errorf("%s is required", EnvProcessedBucket))
	}
	if c.MaxUploadBytes < 1 || c.MaxUploadBytes > HardMaxUploadBytes {
		errs = append(errs, fmt.Errorf("%s must be 1..%d, got %d", EnvMaxUploadBytes, HardMaxUploadBytes, c.MaxUploadBytes))
	}
	if c.RawUploadMaxBytes < 1 || c.RawUploadMaxBytes > c.MaxUploadBytes {
		errs = append(errs, fmt.Errorf("%s must be 1..%s, got %d", EnvRawUploadMaxBytes, EnvMaxUploadBytes, c.RawUploadMaxBytes))
	}
	for _, d := range []struct {
		env string
		ttl time.Duration
	}{{EnvUploadURLTTL, c.URLTTL}, {EnvDownloadURLTTL, c.DownloadURLTTL}} {
		if d.ttl < time.Second || d.ttl > 7*24*time.Hour {
			errs = append(errs, fmt.Errorf("%s must be between 1s and 168h, got %s", d.env, d.ttl))
		}
	}
	if c.UploadGrace < 0 {
		errs = append(errs, fmt.Errorf("%s must not be negative, got %s", EnvUploadGrace, c.UploadGrace))
	}
	for _, o := range c.CORSAllowedOrigins {
		if err := checkOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvCORSOrigins, err))
		}
	}
	return errors.Join(errs...)
}

// checkOrigin accepts what a browser sends in Origin: scheme://host[:port],
// nothing after it.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || o != strings.ToLower(o) {
		return fmt.Errorf("origin %q must be scheme://host[:port] in lower case, like https://images.example.com", o)
	}
	return nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
