package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/console"
)

func init() {
	register(&command{name: "dev", summary: "run the whole pipeline on this machine (S3, EventBridge and SQS edge, queue, functions, page)", run: runDev})
}

// pageNote says whether the page opens ready to use.
func pageNote(cfg local.Config) string {
	if cfg.NoPageKey {
		return "   (paste the API key below)"
	}
	return "   (opened on this machine, it has the API key filled in)"
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := local.ConfigFromEnv()
	fs := flag.NewFlagSet("imagepipe dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory: objects, queues, archives and generated credentials (env "+local.EnvData+")")
	fs.StringVar(&cfg.APIAddr, "api", cfg.APIAddr, "loopback address of the API and the upload page (env "+local.EnvAPIAddr+")")
	fs.StringVar(&cfg.EdgeAddr, "edge", cfg.EdgeAddr, "loopback address of the AWS-compatible edge: S3, EventBridge, SQS (env "+local.EnvEdgeAddr+")")
	fs.BoolVar(&cfg.Paused, "paused", false, "queue events but run no function (they are processed by the next start)")
	fs.Func("cors-origin", "origin (scheme://host[:port]) of a page served elsewhere that may use the API and the edge; repeat for several (env "+local.EnvCORSOrigins+", comma-separated)", func(v string) error {
		cfg.CORSOrigins = append(cfg.CORSOrigins, v)
		return nil
	})
	pageKey := fs.Bool("page-key", true, "pre-fill the API key in the page opened on this machine (http://127.0.0.1 or localhost)")
	fs.StringVar(&cfg.LambdaBinaries, "lambda-binaries", "", "run the functions as their Lambda bootstraps in `DIR` (DIR/<fn>/bootstrap, from make lambda-host) under AWS's Lambda runtime emulator instead of in this process")
	fs.StringVar(&cfg.LambdaEmulator, "lambda-emulator", "", "`PATH` of aws-lambda-rie for --lambda-binaries (default: DIR/aws-lambda-rie, then PATH)")
	verbose := fs.Bool("v", false, "log every request and invocation (debug level)")
	logFormat := fs.String("log-format", "text", "console log: text (one readable line per event) or json (JSON lines, the functions' embedded metrics included, as on Lambda)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: imagepipe dev [--data DIR] [--api ADDR] [--edge ADDR] [--cors-origin ORIGIN]... [--lambda-binaries DIR] [--log-format text|json]

Runs the whole pipeline in this process, with no AWS account: an S3 and
EventBridge edge (SigV4 verified), a durable queue, the presign, process,
notify and dead-letter functions, and the upload page. State lives in the
data directory; kill it at any moment (kill -9 too) and start it again
without losing an upload or an event: the work under way resumes at once.
With --lambda-binaries the functions run as the bootstraps that deploy to
Lambda (make lambda-host builds them for this machine into dist/host), each
under AWS's Lambda runtime emulator, behind an API Gateway-like proxy, an SQS
event source mapping and EventBridge's asynchronous invocation.
The page it serves is pre-filled with the API key when opened on this
machine (--page-key=false to not). Credentials and the API key are generated
on first start and printed; set
`+local.EnvAPIKey+`, `+local.EnvAccessKeyID+` and `+local.EnvSecretAccessKey+` to choose them.
The log is one readable line per event on stderr (--log-format json for
JSON lines); GET /metrics on the API address serves the functions' metrics
(the ones CloudWatch shows on AWS) and the queue depths for Prometheus.
The Go collector runs at GOGC=400 under a 1.5 GiB soft memory limit unless
GOGC or GOMEMLIMIT is set.

Example:
  imagepipe dev --data ./.imagepipe
  make lambda-host && imagepipe dev --lambda-binaries dist/host
  curl -s -X POST http://127.0.0.1:8080/v1/uploads -H "x-api-key: $KEY" \
       -d '{"filename":"cat.jpg","content_type":"image/jpeg","size":12345}'

Flags:
`)
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg.NoPageKey = !*pageKey
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "imagepipe dev: unexpected argument %q\n", rest[0])
		fs.Usage()
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	switch *logFormat {
	case "text":
		cfg.Logger = slog.New(console.New(stderr, level))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
		cfg.MetricsInLogs = true
	default:
		fmt.Fprintf(stderr, "imagepipe dev: --log-format %q: want text or json\n", *logFormat)
		return 2
	}

	defer takeTerminal()()
	defer local.TuneGC()() // unless GOGC or GOMEMLIMIT is set
	st, err := local.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "imagepipe dev: %s\n", startError(err, cfg))
		return 1
	}
	creds := st.Credentials()
	fmt.Fprintf(stdout, `imagepipe is running (data in %s)

  page     %s/%s
  API      %s/v1   (x-api-key: %s)
  edge     %s      (S3, EventBridge and SQS)
  metrics  %s/metrics

Point the aws CLI or an SDK at the edge:
  export AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=%[11]s AWS_DEFAULT_REGION=%[11]s
  export IMAGEPIPE_API_URL=%s IMAGEPIPE_API_KEY=%s

Press Ctrl-C to stop; work under way is finished first.
`, st.DataDir(), st.APIURL(), pageNote(cfg), st.APIURL(), creds.APIKey, st.EdgeURL(), st.APIURL(),
		st.EdgeURL(), creds.AccessKeyID, creds.SecretAccessKey, local.Region, st.APIURL(), creds.APIKey)

	<-ctx.Done()
	fmt.Fprintln(stderr, "imagepipe dev: stopping, finishing work under way...")
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.Close(shutdown); err != nil {
		fmt.Fprintf(stderr, "imagepipe dev: stop: %v\n", err)
		return 1
	}
	fmt.Fprintln(stderr, "imagepipe dev: stopped")
	_ = os.Stdout.Sync()
	return 0
}

// startError words a failed start with what to do.
func startError(err error, cfg local.Config) string {
	var le *local.ListenError
	if !errors.As(err, &le) || !le.InUse() {
		return err.Error()
	}
	other := "another program, or another imagepipe dev"
	if looksLikeImagepipe(le.Addr) {
		other = "another imagepipe dev, on another data directory"
	}
	api, edge := nextPort(cfg.APIAddr), nextPort(cfg.EdgeAddr)
	return fmt.Sprintf("the %s address %s is in use (by %s). Choose free ports with --api and --edge:\n"+
		"  imagepipe dev --api %s --edge %s\n"+
		"  make run ARGS=\"--api %s --edge %s\"\n"+
		"(or set %s and %s)", le.Flag, le.Addr, other, api, edge, api, edge, local.EnvAPIAddr, local.EnvEdgeAddr)
}

// nextPort is addr with its port plus one, as a suggestion.
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n == 0 {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}

// looksLikeImagepipe reports whether an imagepipe API or edge answers at
// addr (the API's /healthz, or the edge's S3 error naming the edge).
func looksLikeImagepipe(addr string) bool {
	c := &http.Client{Timeout: 500 * time.Millisecond}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h struct {
		Status string `json:"status"`
	}
	return resp.Header.Get("Content-Type") == "application/json" && json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&h) == nil && h.Status != ""
}
