package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/functions/status"
)

func init() {
	register(&command{name: "retry", summary: "process failed images again", run: runRetry})
}

const retryUsage = `Usage: imagepipe retry [--wait [--timeout D]] [--force] [--aws [--stack NAME]] ID...

Processes images again: for each image it copies its upload onto itself in
the uploads bucket (S3 CopyObject), which sends a new "Object Created" event
through the pipeline as any upload does, and removes the image's upload
events from the process dead-letter queue (so that a later redrive does
not send them again). Meant for images that failed for a cause that may
have passed: retries_exhausted (their dead letter) and the other retryable
failures. An image is left as it is, saying why, when it is done (its
outputs are committed: the worker would not redo them), when the worker
has it now, when its upload never came, or when it was refused for good
(not_an_image, too_many_pixels, ...): the same bytes fail the same way
unless the pipeline changed (a raised limit, a new version), and --force
sends those again all the same. A failure the same as the one recorded is
not recorded twice, so --wait sees such an image still failed at the end.

Exit status: 0 when every image was sent again (with --wait: is done), 1
when one could not be, or failed again (or was still failed when --wait
ran out of --timeout), 2 for a usage error, 3 when --wait ran out with an
image still pending or processing.

` + stackHelp + `

Example:
  imagepipe retry 01a2344307ee7301909bfeaedebfb466
  imagepipe dlq list --json | jq -r .image_id | xargs imagepipe retry --wait

Flags:
`

func runRetry(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "imagepipe retry"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), retryUsage)
		fs.PrintDefaults()
	}
	var target stackTarget
	target.register(fs)
	wait := fs.Bool("wait", false, "wait until each image is done or has failed again")
	timeout := fs.Duration("timeout", 5*time.Minute, "with --wait, how long to wait")
	force := fs.Bool("force", false, "send images refused for good again too (once their cause is fixed: a raised limit, a new version)")
	ids, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(ids) == 0 || *timeout <= 0 {
		fmt.Fprintf(stderr, "%s: no image ID given, or a --timeout that is not positive\n", name)
		fs.Usage()
		return 2
	}
	for _, id := range ids {
		if !status.ValidID(id) {
			fmt.Fprintf(stderr, "%s: %q is not an image id (32 lowercase hex digits)\n", name, id)
			return 2
		}
	}
	st, err := target.resolve(ctx)
	if err == nil {
		err = st.findBuckets(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	s3c := s3.NewFromConfig(st.cfg, func(o *s3.Options) { o.UsePathStyle = st.pathStyle() })
	store := status.Store{Client: s3c, Bucket: st.processedBucket}
	code := 0
	keys := map[string]string{} // upload key → image, of the images sent again
	before := map[string]*status.Record{}
	var sent []string
	for _, id := range ids {
		rec, err := store.Get(ctx, id)
		if errors.Is(err, status.ErrNotFound) {
			fmt.Fprintf(stderr, "%s: %s: no such image\n", name, id)
			code = 1
			continue
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %s: %v\n", name, id, err)
			code = 1
			continue
		}
		if why := notRetried(rec, *force); why != "" {
			fmt.Fprintf(stdout, "%s: not retried: %s\n", id, why)
			if rec.Status != api.StatusDone {
				code = 1
			}
			continue
		}
		if err := copyInPlace(ctx, s3c, st.uploadsBucket, rec.Key); err != nil {
			fmt.Fprintf(stderr, "%s: %s: %v\n", name, id, err)
			code = 1
			continue
		}
		keys[rec.Key] = id
		before[id] = rec
		sent = append(sent, id)
	}
	if len(sent) == 0 {
		return code
	}
	// Its dead letters would only do the same work again.
	removed := map[string]int{}
	c := sqs.NewFromConfig(st.cfg)
	if url, err := queueURL(ctx, c, st.processDLQ); err != nil {
		fmt.Fprintf(stderr, "%s: the dead letters were not looked at: %v\n", name, err)
	} else if pk, err := peekDeadLetters(ctx, c, url, 0, func(d deadLetter) bool {
		if id, ok := keys[d.Key]; ok {
			removed[id]++
			return true
		}
		return false
	}); err != nil {
		fmt.Fprintf(stderr, "%s: removing their dead letters: %v\n", name, err)
	} else if w := pk.lostWarning(); w != "" {
		fmt.Fprintf(stderr, "%s: %s, with maybe dead letters of these images (imagepipe dlq list shows them then)\n", name, w)
	}
	for _, id := range sent {
		line := id + ": sent again"
		if n := removed[id]; n > 0 {
			line += fmt.Sprintf(" (%d dead letter removed)", n)
		}
		fmt.Fprintln(stdout, line)
	}
	if !*wait {
		return code
	}
	poll := time.Second
	if st.local {
		poll = 100 * time.Millisecond
	}
	if c := waitImages(ctx, store, sent, before, *timeout, poll, stdout); c != 0 && code == 0 {
		code = c
	}
	return code
}

// notRetried says why an image is left as it is, "" to retry it; force
// retries the failures that are final for the same bytes and pipeline.
func notRetried(rec *status.Record, force bool) string {
	switch {
	case rec.Key == "":
		return "its record names no upload"
	case rec.Status == api.StatusPending && rec.SourceETag == "":
		return "no upload arrived for it (upload the file again)"
	case rec.Status == api.StatusDone:
		return "it is done"
	case rec.Status == api.StatusProcessing:
		return "the worker has it now"
	case rec.Status == api.StatusFailed && rec.Error != nil && !rec.Error.Retryable && !force:
		return fmt.Sprintf("it failed with %s, which the same bytes fail with again (upload a fixed file, or --force once the pipeline changed)", rec.Error.Code)
	}
	return ""
}

// copyInPlace copies an upload onto itself, which S3 allows when the
// metadata changes (a retry stamp): the new "Object Created" event starts
// the pipeline again. The bytes, type and metadata stay.
func copyInPlace(ctx context.Context, c *s3.Client, bucket, key string) error {
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		var nf *s3types.NotFound
		if errors.As(err, &nf) {
			return fmt.Errorf("its upload s3://%s/%s is gone (the uploads bucket keeps them 7 days): upload the file again", bucket, key)
		}
		return fmt.Errorf("head s3://%s/%s: %w", bucket, key, err)
	}
	meta := map[string]string{}
	for k, v := range head.Metadata {
		meta[k] = v
	}
	meta["imagepipe-retry"] = time.Now().UTC().Format(time.RFC3339Nano)
	source := bucket + "/" + strings.ReplaceAll(url.PathEscape(key), "%2F", "/")
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &bucket, Key: &key, CopySource: &source,
		MetadataDirective: s3types.MetadataDirectiveReplace, Metadata: meta, ContentType: head.ContentType,
	}); err != nil {
		return fmt.Errorf("copy s3://%s/%s onto itself: %w", bucket, key, err)
	}
	return nil
}
