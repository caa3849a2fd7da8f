package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/client"
)

func init() {
	register(&command{name: "ls", summary: "list the images uploaded since a time, oldest first", run: runLs})
}

const lsUsage = `Usage: imagepipe ls [--since T] [--status S[,S...]] [--limit N] [--json]

Lists the images created since T, oldest first (image ids sort in the
order they were made; GET /v1/images, page after page): id, status, when it
was made, its size and file name, and for a failed or expired one the
reason's code. T is RFC 3339 (2026-11-28T04:00:00Z), relative (-1h, -30m;
default -24h) or "all". --status keeps only pending, processing, done,
failed or expired ones. --json prints the API's view of each image, one
JSON object per line. Images put in the uploads bucket without the API
(aws s3 cp) have ids made from their key: they are listed at their id's
place, which is not their time.

` + apiHelp + `

Example:
  imagepipe ls
  imagepipe ls --since -2h --status failed
  imagepipe ls --since all --json | jq -r 'select(.status=="done") | .image_id'

Flags:
`

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imagepipe ls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), lsUsage)
		fs.PrintDefaults()
	}
	var conn apiConfig
	conn.register(fs)
	since := fs.String("since", "-24h", "list the images created at or after this time: RFC 3339, relative (-1h) or all")
	statuses := fs.String("status", "", "keep only these states, comma-separated: "+strings.Join(api.Statuses, ", "))
	limit := fs.Int("limit", 0, "list at most this many images (0: all)")
	pageSize := fs.Int("page-size", 100, fmt.Sprintf("images asked for per request, 1-%d", api.MaxListLimit))
	asJSON := fs.Bool("json", false, "print one JSON object per image")
	rest, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "imagepipe ls: "+format+"\n", a...)
		fs.Usage()
		return 2
	}
	o := client.ListOptions{Limit: *pageSize}
	switch {
	case len(rest) > 0:
		return usageErr("unexpected argument %q", rest[0])
	case *limit < 0:
		return usageErr("--limit must be 0 or more, got %d", *limit)
	case *pageSize < 1 || *pageSize > api.MaxListLimit:
		return usageErr("--page-size must be 1-%d, got %d", api.MaxListLimit, *pageSize)
	}
	if *since != "all" {
		t, err := parseReplayTime(*since, time.Now())
		if err != nil {
			return usageErr("--since: %v", err)
		}
		o.Since = t
	}
	if *statuses != "" {
		for _, s := range strings.Split(*statuses, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(api.Statuses, s) {
				return usageErr("--status: %q is not one of %s", s, strings.Join(api.Statuses, ", "))
			}
			o.Statuses = append(o.Statuses, s)
		}
	}
	cl, ep, code := conn.connect(ctx, "imagepipe ls", stderr)
	if cl == nil {
		return code
	}
	enc := newLineEncoder(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	header := !*asJSON
	n := 0
	for {
		page, err := cl.ListImages(ctx, o)
		if err != nil {
			tw.Flush()
			fmt.Fprintf(stderr, "imagepipe ls: %s\n", ep.describe(cl, err))
			return 1
		}
		for _, v := range page.Images {
			if *limit > 0 && n == *limit {
				break
			}
			n++
			if *asJSON {
				_ = enc.Encode(v)
				continue
			}
			if header {
				fmt.Fprintln(tw, "IMAGE\tSTATUS\tCREATED\tSIZE\tFILE\tERROR")
				header = false
			}
			errCode := ""
			if v.Error != nil {
				errCode = v.Error.Code
			}
			size := ""
			if v.Size > 0 {
				size = humanSize(v.Size)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.ImageID, v.Status, v.CreatedAt.Local().Format("2006-01-02 15:04:05"), size, v.Filename, errCode)
		}
		if page.NextCursor == "" || (*limit > 0 && n == *limit) {
			break
		}
		o.Cursor = page.NextCursor
	}
	tw.Flush()
	if !*asJSON {
		fmt.Fprintf(stderr, "%d images\n", n)
	}
	return 0
}
