package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/functions/process"
)

// objectsAPI is the part of the S3 client the wait uses.
type objectsAPI interface {
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// stillWaitingEvery is how often a wait with no progress says what it
// waits for.
var stillWaitingEvery = 30 * time.Second

// outcome is how one replayed image ended (process.Replay*).
type outcome struct {
	kind, code, key string
}

// rank orders the outcomes of an image that was handled twice in one
// replay (at-least-once delivery): the work done counts, then a failure.
func rank(kind string) int {
	switch kind {
	case process.ReplayRedone:
		return 3
	case process.ReplayFailed:
		return 2
	}
	return 1
}

// waitImages waits until every upload of [from, bound] has a replay record
// (the worker writes one per replayed image, see process.ReplayPrefix),
// printing progress, then the tally. It returns an error when an image
// failed or the context ends first.
func (r *replayer) waitImages(ctx context.Context, name string, from, bound time.Time) error {
	expected, err := r.uploadsBetween(ctx, from, bound)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.out, "replay %s: waiting for the %s uploaded from %s to %s to be re-processed\n",
		name, images(len(expected)), from.UTC().Format(time.RFC3339), bound.UTC().Format(time.RFC3339))
	var (
		last       string
		lastChange = time.Now()
		outcomes   map[string]outcome
	)
	for {
		outcomes, err = r.outcomes(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return r.pendingError(name, expected, outcomes, ctx.Err())
			}
			return err
		}
		var pending []string
		for id := range expected {
			if _, ok := outcomes[id]; !ok {
				pending = append(pending, id)
			}
		}
		if len(pending) == 0 {
			break
		}
		if line := tally(outcomes, nil); line != last {
			fmt.Fprintf(r.out, "replay %s: %d of %s: %s\n", name, len(expected)-len(pending), images(len(expected)), line)
			last, lastChange = line, time.Now()
		} else if time.Since(lastChange) >= stillWaitingEvery {
			sort.Strings(pending)
			fmt.Fprintf(r.out, "replay %s: still waiting for %s, e.g. %s (%s)\n", name, images(len(pending)), pending[0], expected[pending[0]])
			lastChange = time.Now()
		}
		if err := sleep(ctx, r.poll); err != nil {
			return r.pendingError(name, expected, outcomes, err)
		}
	}
	failed := map[string]int{}
	fmt.Fprintf(r.out, "replay %s: %s: %s\n", name, images(len(outcomes)), tally(outcomes, failed))
	if len(failed) == 0 {
		return nil
	}
	var ids []string
	for id, o := range outcomes {
		if o.kind == process.ReplayFailed {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for i, id := range ids {
		if i == 10 {
			fmt.Fprintf(r.out, "  ... and %d more ('imagepipe status <id>' for each)\n", len(ids)-i)
			break
		}
		fmt.Fprintf(r.out, "  failed %s%s\n", id, r.failureDetail(ctx, outcomes[id]))
	}
	return fmt.Errorf("replay %s: %d of %s failed", name, len(ids), images(len(outcomes)))
}

// images says "1 image" or "n images".
func images(n int) string {
	if n == 1 {
		return "1 image"
	}
	return fmt.Sprintf("%d images", n)
}

// tally says "2 redone, 1 skipped as duplicates, 1 failed (not_an_image 1)"
// and, when failed is not nil, fills it with the count per code.
func tally(outcomes map[string]outcome, failed map[string]int) string {
	counts := map[string]int{}
	codes := map[string]int{}
	for _, o := range outcomes {
		counts[o.kind]++
		if o.kind == process.ReplayFailed {
			codes[o.code]++
		}
	}
	s := fmt.Sprintf("%d redone, %d skipped as duplicates, %d failed", counts[process.ReplayRedone], counts[process.ReplayDuplicate], counts[process.ReplayFailed])
	if len(codes) > 0 {
		var parts []string
		for c, n := range codes {
			parts = append(parts, fmt.Sprintf("%s %d", c, n))
			if failed != nil {
				failed[c] = n
			}
		}
		sort.Strings(parts)
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// pendingError says what was still pending when the wait stopped.
func (r *replayer) pendingError(name string, expected map[string]string, outcomes map[string]outcome, cause error) error {
	var pending []string
	for id := range expected {
		if _, ok := outcomes[id]; !ok {
			pending = append(pending, id)
		}
	}
	sort.Strings(pending)
	fmt.Fprintf(r.out, "replay %s: stopped waiting: %d of %s re-processed (%s)\n", name, len(expected)-len(pending), images(len(expected)), tally(outcomes, nil))
	for i, id := range pending {
		if i == 10 {
			fmt.Fprintf(r.out, "  ... and %d more\n", len(pending)-i)
			break
		}
		fmt.Fprintf(r.out, "  pending %s %s\n", id, expected[id])
	}
	return fmt.Errorf("stopped waiting for %s of replay %s (a transient failure is retried after the queue's visibility timeout; 'imagepipe status <id>' tells one image): %w", images(len(pending)), name, cause)
}

// uploadsBetween lists the uploads whose object was written in [from, to]:
// their upload events are the ones the replay sends again. It returns
// image id -> key.
func (r *replayer) uploadsBetween(ctx context.Context, from, to time.Time) (map[string]string, error) {
	out := map[string]string{}
	p := s3.NewListObjectsV2Paginator(r.objects, &s3.ListObjectsV2Input{Bucket: aws.String(r.dep.uploadsBucket), Prefix: aws.String("uploads/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the uploads of s3://%s: %w", r.dep.uploadsBucket, err)
		}
		for _, o := range page.Contents {
			// Whole seconds, as S3 lists them and as events carry their
			// time: an object written in the second of the last replayed
			// event is in.
			t := aws.ToTime(o.LastModified).Truncate(time.Second)
			if t.Before(from) || t.After(to) {
				continue
			}
			if id, ok := process.ImageIDFromKey(aws.ToString(o.Key)); ok {
				out[id] = aws.ToString(o.Key)
			}
		}
	}
	return out, nil
}

// outcomes lists the replay's records: image id -> how it ended.
func (r *replayer) outcomes(ctx context.Context, name string) (map[string]outcome, error) {
	out := map[string]outcome{}
	prefix := process.ReplayPrefix(name)
	p := s3.NewListObjectsV2Paginator(r.objects, &s3.ListObjectsV2Input{Bucket: aws.String(r.dep.processedBucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, fmt.Errorf("list s3://%s/%s: %w", r.dep.processedBucket, prefix, err)
		}
		for _, o := range page.Contents {
			id, kind, code, ok := process.ParseReplayKey(name, aws.ToString(o.Key))
			if !ok {
				continue
			}
			if prev, seen := out[id]; !seen || rank(kind) > rank(prev.kind) {
				out[id] = outcome{kind: kind, code: code, key: aws.ToString(o.Key)}
			}
		}
	}
	return out, nil
}

// failureDetail reads a failure's record for its source key and reason.
func (r *replayer) failureDetail(ctx context.Context, o outcome) string {
	obj, err := r.objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.dep.processedBucket), Key: aws.String(o.key)})
	if err != nil {
		return ": " + o.code
	}
	defer obj.Body.Close()
	var rec process.ReplayRecord
	if err := json.NewDecoder(io.LimitReader(obj.Body, 1<<20)).Decode(&rec); err != nil || rec.Error == nil {
		return ": " + o.code
	}
	return fmt.Sprintf(" %s: %s: %s", rec.Source.Key, rec.Error.Code, rec.Error.Message)
}
