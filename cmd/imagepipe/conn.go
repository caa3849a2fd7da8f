package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imagepipe/imagepipe/client"
	"github.com/imagepipe/imagepipe/local"
)

// envAPIURL names the API the client commands talk to; the key is
// local.EnvAPIKey (IMAGEPIPE_API_KEY), shared with `imagepipe dev`.
const envAPIURL = "IMAGEPIPE_API_URL"

// apiHelp is the paragraph of the usages that says how the API is found.
const apiHelp = `The API is --api (with or without /v1 and the scheme), else $` + envAPIURL + `,
else the local stack running on the data directory (--data, $` + local.EnvData + `,
default ./` + local.DefaultDataDir + `), else http://` + local.DefaultAPIAddr + `. The key is --key,
else $` + local.EnvAPIKey + `, else (for a local API) the one in the data directory.
Against AWS, use the Terraform outputs:
  export ` + envAPIURL + `=$(terraform output -raw api_url) ` + local.EnvAPIKey + `=$(terraform output -raw api_key)`

// apiConfig is the --api, --key and --data flags of the commands that talk
// to an API, resolved against the environment and the local stack.
type apiConfig struct {
	url, key, data string
}

func (a *apiConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&a.url, "api", "", "API base URL: the Terraform output api_url, or host:port[/v1] (env "+envAPIURL+"; default: the local stack)")
	fs.StringVar(&a.key, "key", "", "API key sent as x-api-key (env "+local.EnvAPIKey+"; default: the local stack's, from its data directory)")
	registerData(fs, &a.data)
}

// registerData adds --data, the local stack's data directory.
func registerData(fs *flag.FlagSet, dir *string) {
	fs.StringVar(dir, "data", "", "the local stack's data directory, where its key, credentials and addresses are (env "+local.EnvData+"; default ./"+local.DefaultDataDir+")")
}

// dataDir is --data, else $IMAGEPIPE_DATA, else ./.imagepipe.
func dataDir(flagValue string) string {
	return firstNonEmpty(flagValue, os.Getenv(local.EnvData), local.DefaultDataDir)
}

// endpoint is where a command talks to: the API's URL and key, and what it
// knows of the local stack.
type endpoint struct {
	apiURL, key string
	data        string
	// local: the API is the local stack's, running (or not) on data.
	local, running bool
}

// resolve finds the API and its key: flags, then the environment, then
// the local stack running on the data directory (its lock file has its
// address), then the default address; the key of a local API is read from
// the data directory.
func (a *apiConfig) resolve() (endpoint, error) {
	e := endpoint{data: dataDir(a.data), apiURL: firstNonEmpty(a.url, os.Getenv(envAPIURL))}
	if e.apiURL == "" {
		e.local = true
		// The address of the stack running on the data directory, else
		// the one it had last, else the default.
		r, running, _ := local.ReadRunning(e.data)
		e.running = running
		e.apiURL = firstNonEmpty(r.APIURL, "http://"+local.DefaultAPIAddr)
	}
	u, err := client.NormalizeBaseURL(e.apiURL)
	if err != nil {
		return e, err
	}
	e.apiURL = u.String()
	e.key = firstNonEmpty(a.key, os.Getenv(local.EnvAPIKey))
	if e.key != "" {
		return e, nil
	}
	if !isLoopbackURL(e.apiURL) {
		return e, fmt.Errorf("no API key for %s: pass --key or set %s (terraform output -raw api_key)", e.apiURL, local.EnvAPIKey)
	}
	creds, err := local.ReadCredentials(e.data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return e, fmt.Errorf("no API key: %s not found. Start the local stack (make run, or imagepipe dev), pass the data directory it uses with --data DIR, or set %s",
			filepath.Join(e.data, local.CredentialsFile), local.EnvAPIKey)
	case err != nil:
		return e, fmt.Errorf("no API key: %w", err)
	case creds.APIKey == "":
		return e, fmt.Errorf("no API key: %s has none; start `imagepipe dev` or set %s", filepath.Join(e.data, local.CredentialsFile), local.EnvAPIKey)
	}
	e.key = creds.APIKey
	return e, nil
}

func (e endpoint) client() (*client.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 2 * time.Minute
	// As many idle connections per host as files handled at once (upload
	// --concurrency, at most 64): with the default two, each request past
	// the second dialed a new connection, and the server accepted it (one
	// connection per image to the API at --concurrency 8).
	tr.MaxIdleConnsPerHost = maxConcurrency
	tr.MaxIdleConns = 0 // no cap over all hosts: the API, the uploads' and the outputs' hosts
	return client.New(e.apiURL, e.key,
		client.WithHTTPClient(&http.Client{Transport: tr}),
		client.WithUserAgent("imagepipe-cli/"+moduleVersion()))
}

// client resolves the endpoint and makes a client of it.
func (a *apiConfig) client() (*client.Client, endpoint, error) {
	e, err := a.resolve()
	if err != nil {
		return nil, e, err
	}
	cl, err := e.client()
	return cl, e, err
}

// connect makes the client and checks, with one cheap call, that the API
// answers and takes the key (GET /v1/images/<zeros> answers 404 then).
// When it does not, it says so once, with what to do, and returns the exit
// status to end with (2 for a configuration error, 1 for an API that
// cannot be used).
func (a *apiConfig) connect(ctx context.Context, name string, stderr io.Writer) (*client.Client, endpoint, int) {
	cl, e, err := a.client()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, e, 2
	}
	_, err = cl.Image(ctx, "00000000000000000000000000000000")
	if err == nil || client.ErrorCode(err) == "not_found" {
		return cl, e, 0
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "%s: interrupted\n", name)
		return nil, e, 1
	}
	fmt.Fprintf(stderr, "%s: %s\n", name, e.describe(cl, err))
	return nil, e, 1
}

// describe words an error of the client for a person, with the fix for the
// usual configuration mistakes.
func (e endpoint) describe(cl *client.Client, err error) string {
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
	case client.IsUnreachable(err) && e.local && !e.running:
		return fmt.Sprintf("cannot reach the API at %s: no imagepipe dev is running on the data directory %s. "+
			"Start it (make run, or imagepipe dev), pass the data directory of the one you started with --data DIR, or point --api / %s at an API",
			cl.BaseURL(), e.data, envAPIURL)
	case client.IsUnreachable(err) && isLoopbackURL(cl.BaseURL()):
		return fmt.Sprintf("cannot reach the API at %s: is `imagepipe dev` running there? (check --api / %s)", cl.BaseURL(), envAPIURL)
	case client.IsUnreachable(err):
		return fmt.Sprintf("cannot reach the API at %s: %v (check --api / %s)", cl.BaseURL(), unwrapNet(err), envAPIURL)
	case client.ErrorCode(err) == "http_404" || (errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && ae.Code != "not_found"):
		return fmt.Sprintf("%s does not look like an imagepipe API (%v): --api is the Terraform output api_url or host:port of imagepipe dev", cl.BaseURL(), err)
	case errors.As(err, &ae):
		return ae.Code + ": " + ae.Message
	}
	return err.Error()
}

// unwrapNet drops the request line from a network error.
func unwrapNet(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
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
	u, err := client.NormalizeBaseURL(raw)
	if err != nil {
		return false
	}
	return client.LoopbackHost(u.Host)
}
