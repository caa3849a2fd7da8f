package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/client"
)

func init() {
	register(&command{name: "status", summary: "show an uploaded image's status and output URLs", run: runStatus})
}

const statusUsage = `Usage: imagepipe status [--json] [--wait [--timeout D]] ID...

Prints the status of uploaded images, in words: pending (the upload URL was
handed out, no bytes yet), processing (the worker has it), done, failed (with
its reason) or expired (no upload arrived before the upload URL expired), and
the outputs of a done one with their presigned download URLs. With --wait it
polls until each image is done, failed or expired. The exit status is 0 when
every image is pending, processing or done, 1 when one failed, expired or
could not be read, 2 for a usage error.

` + apiHelp + `

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
	ids, err := parseInterleaved(fs, args, stdout)
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
	cl, ep, code := conn.connect(ctx, "imagepipe status", stderr)
	if cl == nil {
		return code
	}
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
			fmt.Fprintf(stderr, "imagepipe status: %s: %s\n", id, ep.describe(cl, err))
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
