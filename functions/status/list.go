package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Prefix is the key prefix of the status records.
const Prefix = "processed/status/"

// ListAPI is the part of the S3 client a listing needs besides Store's.
type ListAPI interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// ListOptions select the records of List.
type ListOptions struct {
	// Since keeps the records created at or after it, and starts the
	// listing at the ids made from then on (IDFloor).
	Since time.Time
	// After is the key to start after (a Page's Next); it wins over the
	// start Since gives.
	After string
	// Limit is the most records in a page (default 50).
	Limit int
	// Keep, when set, keeps only the records it accepts.
	Keep func(*Record) bool
	// MaxScan bounds the keys examined for one page (default 1000), so
	// that a filter that keeps few records still answers soon, with a Next
	// to go on from.
	MaxScan int
}

// Page is one page of a listing.
type Page struct {
	Records []*Record
	// Next is the key to pass as ListOptions.After for the next page; ""
	// when the listing is complete.
	Next string
	// Unreadable are the keys whose record could not be read or decoded;
	// they are left out rather than failing the listing.
	Unreadable []string
}

// fetchers is how many records are read at once.
const fetchers = 16

// List reads the records in key order, which is creation order for the
// ids NewID makes: S3 lists keys in UTF-8 binary order
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html).
// A record that vanished between the listing and its read is skipped; one
// that cannot be read or decoded is named in Page.Unreadable.
func (s Store) List(ctx context.Context, lister ListAPI, o ListOptions) (*Page, error) {
	if o.Limit <= 0 {
		o.Limit = 50
	}
	if o.MaxScan <= 0 {
		o.MaxScan = 1000
	}
	start := o.After
	if start == "" && !o.Since.IsZero() {
		start = Prefix + IDFloor(o.Since)
	}
	page := &Page{}
	scanned := 0
	for {
		out, err := lister.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket:     aws.String(s.Bucket),
			Prefix:     aws.String(Prefix),
			StartAfter: aws.String(start),
			MaxKeys:    aws.Int32(int32(min(1000, o.MaxScan-scanned))),
		})
		if err != nil {
			return nil, fmt.Errorf("list %s/%s after %q: %w", s.Bucket, Prefix, start, err)
		}
		var keys []string
		for _, obj := range out.Contents {
			// An S3 that ignores StartAfter must not make the listing go
			// round in circles.
			if k := aws.ToString(obj.Key); k > start {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 && aws.ToBool(out.IsTruncated) {
			return nil, fmt.Errorf("list %s/%s after %q: the answer is truncated but holds no later key", s.Bucket, Prefix, start)
		}
		for len(keys) > 0 {
			chunk := keys[:min(len(keys), 2*fetchers)]
			keys = keys[len(chunk):]
			recs, errs := s.fetch(ctx, chunk)
			for i, key := range chunk {
				more := len(keys) > 0 || i < len(chunk)-1 || aws.ToBool(out.IsTruncated)
				if scanned == o.MaxScan {
					page.Next = start // key is not examined yet
					return page, nil
				}
				scanned++
				start = key
				switch {
				case errs[i] != nil:
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					page.Unreadable = append(page.Unreadable, key)
					continue
				case recs[i] == nil:
					continue // not a record, or gone since
				}
				r := recs[i]
				if !o.Since.IsZero() && created(r).Before(o.Since) {
					continue
				}
				if o.Keep != nil && !o.Keep(r) {
					continue
				}
				page.Records = append(page.Records, r)
				if len(page.Records) == o.Limit {
					if more {
						page.Next = key
					}
					return page, nil
				}
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return page, nil
		}
		if scanned >= o.MaxScan {
			page.Next = start
			return page, nil
		}
	}
}

// created is when a record was made: its CreatedAt, else its id's time.
func created(r *Record) time.Time {
	if !r.CreatedAt.IsZero() {
		return r.CreatedAt
	}
	t, _ := IDTime(r.ImageID)
	return t
}

// fetch reads the records of keys at once. A key that is not a record's,
// or whose object is gone, gets nil and no error.
func (s Store) fetch(ctx context.Context, keys []string) ([]*Record, []error) {
	recs := make([]*Record, len(keys))
	errs := make([]error, len(keys))
	sem := make(chan struct{}, fetchers)
	var wg sync.WaitGroup
	for i, key := range keys {
		id, ok := strings.CutSuffix(strings.TrimPrefix(key, Prefix), ".json")
		if !ok || !ValidID(id) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := s.Get(ctx, id)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				errs[i] = err
			default:
				recs[i] = r
			}
		}()
	}
	wg.Wait()
	return recs, errs
}
