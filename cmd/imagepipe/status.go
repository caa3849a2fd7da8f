package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/client"
	"github.com/imagepipe/imagepipe/local"
)

func init() {
	register(&command{name: "status", summary: "show an uploaded image's status and output URLs", run: runStatus})
}

// envAPIURL names the API the client commands talk to; the key is
// local.EnvAPIKey (IMAGEPIPE_API_KEY), shared with `imagepipe dev`.
const envAPIURL = "IMAGEPIPE_API_URL"

const statusUsage = `Usage: imagepipe status [--json] [--wait [--timeout D]] ID...

Prints the status of uploaded images, in words: pending (the upload URL was
handed out, no bytes yet), processing (the worker has it), done, failed (with
its reason) or expired (no upload arrived before the upload URL expired), and
the outputs of a done one with their presigned download URLs. With --wait it
polls until each image is done, failed or expired. The exit status is 0 when
every image is pending, processing or done, 1 when one failed, expired or
could not be read, 2 for a usage error.

The API is --api, else $` + envAPIURL + `, else the local stack at
http://` + local.DefaultAPIAddr + `; the key is --key, else $` + local.EnvAPIKey + `, else (for a
local API) the one in the data directory ($` + local.EnvData + `, default ./` + local.DefaultDataDir + `).

Example:
  imagepipe status 3f2a9c0d4b5e6f708192a3b4c5d6e7f8
  imagepipe status --json --wait 3f2a9c0d4b5e6f708192a3b4c5d6e7f8 | jq -r .outputs.gray.url

Flags:
`

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imagepipe status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), statusUsage)
		fs.PrintDefaults()
	}
	var conn apiConfig
	conn.register(fs)
	asJSON := fs.Bool("json", false, "print the API's answer, one JSON object per line")
	wait := fs.Bool("wait", false, "poll until each image is done or failed")
	timeout := fs.Duration("timeout", 2*time.Minute, "with --wait, how long to wait for each image")
	ids, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(ids) == 0 {
		fmt.Fprintln(stderr, "imagepipe status: no image ID given")
		fs.Usage()
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "imagepipe status: --timeout must be positive, got %s\n", *timeout)
		fs.Usage()
		return 2
	}
	cl, err := conn.client()
	if err != nil {
		fmt.Fprintf(stderr, "imagepipe status: %v\n", err)
		return 2
	}
	code := 0
	enc := newLineEncoder(stdout)
	for i, id := range ids {
		id = strings.TrimSpace(id)
		var v *api.ImageView
		if *wait {
			wctx, cancel := context.WithTimeoutCause(ctx, *timeout, fmt.Errorf("gave up after %s", *timeout))
			v, err = cl.Wait(wctx, id, client.WaitOptions{})
			cancel()
		} else {
			v, err = cl.Image(ctx, id)
		}
		if err != nil {
			fmt.Fprintf(stderr, "imagepipe status: %s: %s\n", id, describeError(cl, err))
			code = 1
			if client.ErrorCode(err) == "forbidden" || client.IsUnreachable(err) {
				return 1
			}
			continue
		}
		if v.Status == api.StatusFailed || v.Status == api.StatusExpired {
			code = 1
		}
		if *asJSON {
			_ = enc.Encode(v)
			continue
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printImage(stdout, v)
	}
	return code
}

// printImage prints one status for people.
func printImage(w io.Writer, v *api.ImageView) {
	row := func(k, format string, a ...any) { fmt.Fprintf(w, "%-9s "+format+"\n", append([]any{k}, a...)...) }
	row("image", "%s", v.ImageID)
	row("status", "%s", statusWords(v))
	if v.Filename != "" || v.ContentType != "" {
		row("file", "%s", strings.TrimSpace(v.Filename+" ("+v.ContentType+")"))
	}
	if v.Key != "" {
		row("key", "%s", v.Key)
	}
	if !v.CreatedAt.IsZero() {
		row("created", "%s", v.CreatedAt.Format(time.RFC3339))
	}
	if !v.UpdatedAt.IsZero() && v.Status != api.StatusPending && v.Status != api.StatusExpired {
		row("updated", "%s", v.UpdatedAt.Format(time.RFC3339))
	}
	if v.DurationMS > 0 {
		row("took", "%d ms", v.DurationMS)
	}
	if v.Error != nil {
		row("error", "%s: %s", v.Error.Code, v.Error.Message)
	}
	for _, warn := range v.Warnings {
		row("warning", "%s", warn)
	}
	for _, name := range sortedKeys(v.Outputs) {
		o := v.Outputs[name]
		row(name, "%dx%d %s %s", o.Width, o.Height, o.ContentType, humanSize(o.Bytes))
		row("", "%s", o.URL)
	}
}

// statusWords says what an image's status means.
func statusWords(v *api.ImageView) string {
	switch v.Status {
	case api.StatusPending:
		if v.UploadExpiresAt.IsZero() {
			return "pending: waiting for the upload and the worker"
		}
		return "pending: waiting for the upload and the worker; the upload URL expires at " + v.UploadExpiresAt.Format(time.RFC3339)
	case api.StatusProcessing:
		return "processing: the worker is making the outputs"
	case api.StatusDone:
		return "done: the outputs are ready"
	case api.StatusFailed:
		return "failed: the image could not be processed (reason below)"
	case api.StatusExpired:
		s := "expired: no upload arrived before its upload URL expired"
		if !v.UploadExpiresAt.IsZero() {
			s += " at " + v.UploadExpiresAt.Format(time.RFC3339)
		}
		return s + "; upload the file again"
	}
	return v.Status
}

// newLineEncoder writes one JSON object per line, leaving "&" in presigned
// URLs as it is.
func newLineEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// apiConfig is the --api and --key flags of the commands that talk to an
// API, resolved against the environment and the local stack.
type apiConfig struct {
	url, key string
}

func (a *apiConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&a.url, "api", "", "API base URL, e.g. the Terraform output api_url (env "+envAPIURL+"; default http://"+local.DefaultAPIAddr+", the local stack)")
	fs.StringVar(&a.key, "key", "", "API key sent as x-api-key (env "+local.EnvAPIKey+"; default: the local stack's, from its data directory)")
}

// resolve returns the API URL and key: flags, then the environment, then
// the local stack's address and the key stored in its data directory.
func (a *apiConfig) resolve() (apiURL, key string, err error) {
	apiURL = firstNonEmpty(a.url, os.Getenv(envAPIURL), "http://"+local.DefaultAPIAddr)
	key = firstNonEmpty(a.key, os.Getenv(local.EnvAPIKey))
	if key != "" {
		return apiURL, key, nil
	}
	if !isLoopbackURL(apiURL) {
		return apiURL, "", fmt.Errorf("no API key for %s: pass --key or set %s (terraform output -raw api_key)", apiURL, local.EnvAPIKey)
	}
	dir := firstNonEmpty(os.Getenv(local.EnvData), local.DefaultDataDir)
	creds, err := local.ReadCredentials(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return apiURL, "", fmt.Errorf("no API key: start `imagepipe dev` or set %s (%s not found)", local.EnvAPIKey, filepath.Join(dir, local.CredentialsFile))
	case err != nil:
		return apiURL, "", fmt.Errorf("no API key: %w", err)
	case creds.APIKey == "":
		return apiURL, "", fmt.Errorf("no API key: %s has none; start `imagepipe dev` or set %s", filepath.Join(dir, local.CredentialsFile), local.EnvAPIKey)
	}
	return apiURL, creds.APIKey, nil
}

func (a *apiConfig) client() (*client.Client, error) {
	apiURL, key, err := a.resolve()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 2 * time.Minute
	return client.New(apiURL, key,
		client.WithHTTPClient(&http.Client{Transport: tr}),
		client.WithUserAgent("imagepipe-cli/"+moduleVersion()))
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func isLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// describeError words an error of the client for a person, with a hint for
// the usual configuration mistakes.
func describeError(cl *client.Client, err error) string {
	var ae *client.APIError
	var ue *url.Error
	switch {
	case client.IsUnreachable(err) && errors.As(err, &ue) && !strings.HasPrefix(ue.URL, cl.BaseURL()):
		// Not the API: the storage endpoint of a presigned URL.
		host := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Scheme + "://" + u.Host
		}
		return fmt.Sprintf("cannot reach %s (where the API's presigned URLs point): %v", host, ue.Err)
	case client.ErrorCode(err) == "forbidden":
		return fmt.Sprintf("the API at %s refused the key (403 Forbidden): check --key or %s", cl.BaseURL(), local.EnvAPIKey)
	case client.IsUnreachable(err) && isLoopbackURL(cl.BaseURL()):
		return fmt.Sprintf("cannot reach the API at %s: is `imagepipe dev` running? (or set --api / %s) [%v]", cl.BaseURL(), envAPIURL, err)
	case client.IsUnreachable(err):
		return fmt.Sprintf("cannot reach %s: %v", cl.BaseURL(), err)
	case errors.As(err, &ae):
		return ae.Code + ": " + ae.Message
	}
	return err.Error()
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (`imagepipe upload DIR --wait`), which the flag
// package alone stops at. Everything after "--" is positional. A bad flag
// prints "<command>: <error>" and the usage; --help prints the usage and
// returns flag.ErrHelp.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() {
		fs.SetOutput(out)
		fs.Usage = usage
	}()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(out)
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(out, "%s: %v\n", fs.Name(), err)
			}
			usage()
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// humanSize formats a byte count the way people read it (SI units, as in
// "1.2 MB").
func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}
