package local

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/imagepipe/imagepipe/eventbus"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvData            = "IMAGEPIPE_DATA"
	EnvAPIAddr         = "IMAGEPIPE_API_ADDR"
	EnvEdgeAddr        = "IMAGEPIPE_EDGE_ADDR"
	EnvAPIKey          = "IMAGEPIPE_API_KEY"
	EnvAccessKeyID     = "IMAGEPIPE_ACCESS_KEY_ID"
	EnvSecretAccessKey = "IMAGEPIPE_SECRET_ACCESS_KEY"
	EnvCORSOrigins     = "IMAGEPIPE_CORS_ORIGINS"
)

// Names of the local resources (DESIGN.md §6). Rules and archives are
// named as Terraform names them for a stack called StackName.
const (
	StackName          = "imagepipe"
	UploadsBucket      = "imagepipe-uploads"
	ProcessedBucket    = "imagepipe-processed"
	CustomBus          = "imagepipe"
	ProcessQueue       = "imagepipe-process"
	ProcessDLQ         = "imagepipe-process-dlq"
	NotifyQueue        = "imagepipe-notify-async"
	NotifyDLQ          = "imagepipe-notify-dlq"
	UploadsRule        = StackName + "-" + eventbus.RuleUploadsToQueue
	CompletionsRule    = StackName + "-" + eventbus.RuleCompletionsToNotify
	UploadsArchive     = StackName + "-" + eventbus.ArchiveUploads
	CompletionsArchive = StackName + "-" + eventbus.ArchiveCompletions
	Region             = "us-east-1"
	Account            = "000000000000"
	// The dead-letter inboxes: a message whose receives ran out lands
	// here, the dead-letter function ends its image and parks it in the
	// dead-letter queue proper (ProcessDLQ, NotifyDLQ).
	ProcessDLQInbox = "imagepipe-process-dlq-inbox"
	NotifyDLQInbox  = "imagepipe-notify-dlq-inbox"
)

// RuleVars fills the placeholders of eventbus/patterns with the local
// names, as Terraform's templatefile fills them with the deployed ones.
func RuleVars() map[string]string {
	return map[string]string{"uploads_bucket": UploadsBucket}
}

// Defaults of Config.
const (
	DefaultDataDir  = ".imagepipe"
	DefaultAPIAddr  = "127.0.0.1:8080"
	DefaultEdgeAddr = "127.0.0.1:4566"
)

// Config configures the stack. Empty credentials are read from the data
// directory, or generated and stored there on first start.
type Config struct {
	DataDir         string
	APIAddr         string
	EdgeAddr        string
	APIKey          string
	AccessKeyID     string
	SecretAccessKey string
	// FunctionTimeout is the process function's timeout (default 60 s);
	// the process queue's visibility timeout is twice that.
	FunctionTimeout time.Duration
	// MaxReceiveCount is the process queue's redrive count (default 5, as
	// AWS advises for a queue behind a Lambda event source mapping).
	MaxReceiveCount int
	// Paused starts the stack without running the functions: uploads and
	// events queue up durably and are processed by a later, unpaused start.
	Paused bool
	// CORSOrigins are origins (scheme://host[:port]) of pages served
	// elsewhere that may use the API and the edge, as cors_allowed_origins
	// does on AWS. The page the stack serves needs none.
	CORSOrigins []string
	// NoPageKey keeps the API key out of the page's config.json. By
	// default the page is pre-filled with it when it is opened on a
	// loopback address.
	NoPageKey bool
	// DownloadURLTTL is the lifetime of the outputs' presigned URLs
	// (default presign.DefaultDownloadURLTTL).
	DownloadURLTTL time.Duration
	// LambdaBinaries, when set, runs the functions as their Lambda
	// bootstraps, LambdaBinaries/<fn>/bootstrap as `make lambda-host`
	// builds them, under AWS's Lambda runtime emulator instead of in this
	// process. LambdaEmulator is the emulator's path (default:
	// aws-lambda-rie in LambdaBinaries, then on PATH).
	LambdaBinaries string
	LambdaEmulator string
	// Logger receives the stack's and the functions' logs; nil discards.
	Logger *slog.Logger
	// MetricsInLogs keeps the functions' embedded metrics in the lines
	// given to Logger (JSON lines, as on Lambda); otherwise they are taken
	// out of the lines. Either way they are served at GET /metrics.
	MetricsInLogs bool
	// APIOptions are added to the AWS SDK configuration of the functions
	// that run in this process (and of AWSConfig and S3Client): a
	// benchmark counts with them the requests one image costs.
	APIOptions []func(*middleware.Stack) error
}

// ConfigFromEnv returns the defaults overridden by the environment.
func ConfigFromEnv() Config {
	c := Config{
		DataDir:         DefaultDataDir,
		APIAddr:         DefaultAPIAddr,
		EdgeAddr:        DefaultEdgeAddr,
		APIKey:          os.Getenv(EnvAPIKey),
		AccessKeyID:     os.Getenv(EnvAccessKeyID),
		SecretAccessKey: os.Getenv(EnvSecretAccessKey),
	}
	if v := os.Getenv(EnvData); v != "" {
		c.DataDir = v
	}
	if v := os.Getenv(EnvAPIAddr); v != "" {
		c.APIAddr = v
	}
	if v := os.Getenv(EnvEdgeAddr); v != "" {
		c.EdgeAddr = v
	}
	for _, o := range strings.Split(os.Getenv(EnvCORSOrigins), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	return c
}

func (c *Config) defaults() {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.APIAddr == "" {
		c.APIAddr = DefaultAPIAddr
	}
	if c.EdgeAddr == "" {
		c.EdgeAddr = DefaultEdgeAddr
	}
	if c.FunctionTimeout <= 0 {
		c.FunctionTimeout = 60 * time.Second
	}
	if c.MaxReceiveCount <= 0 {
		c.MaxReceiveCount = 5
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Credentials are the generated secrets of a data directory.
type Credentials struct {
	APIKey          string `json:"api_key"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// CredentialsFile is the file under the data directory that keeps them.
const CredentialsFile = "credentials.json"

// ReadCredentials reads the credentials of a data directory that has been
// started once.
func ReadCredentials(dataDir string) (Credentials, error) {
	var c Credentials
	raw, err := os.ReadFile(filepath.Join(dataDir, CredentialsFile))
	if err != nil {
		return c, fmt.Errorf("read credentials: %w", err)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("decode %s: %w", filepath.Join(dataDir, CredentialsFile), err)
	}
	return c, nil
}

// loadCredentials takes the configured values, then the stored ones, and
// generates what is still missing; the result is stored (mode 0600).
func loadCredentials(cfg Config) (Credentials, error) {
	stored, err := ReadCredentials(cfg.DataDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return stored, err
	}
	c := Credentials{
		APIKey:          first(cfg.APIKey, stored.APIKey, "ipk_"+randomHex(20)),
		AccessKeyID:     first(cfg.AccessKeyID, stored.AccessKeyID, "AKIL"+upperHex(16)),
		SecretAccessKey: first(cfg.SecretAccessKey, stored.SecretAccessKey, randomHex(20)),
	}
	if c != stored {
		raw, _ := json.MarshalIndent(c, "", "  ")
		path := filepath.Join(cfg.DataDir, CredentialsFile)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, raw, 0o600); err != nil {
			return c, fmt.Errorf("store credentials: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return c, fmt.Errorf("store credentials: %w", err)
		}
	}
	return c, nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func upperHex(n int) string {
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = digits[int(b[i])%len(digits)]
	}
	return string(b)
}
