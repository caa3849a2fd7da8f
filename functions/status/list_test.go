package status_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// TestListInCreationOrder lists records against the local edge's S3
// (ListObjectsV2 in key order, as S3 answers it) across pages.
func TestListInCreationOrder(t *testing.T) {
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	ctx := context.Background()
	s3c := st.S3Client()
	store := status.Store{Client: s3c, Bucket: local.ProcessedBucket}

	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	var made []string
	for i := range 7 {
		id := status.NewID()
		made = append(made, id)
		st := status.Done
		if i%3 == 0 {
			st = status.Failed
		}
		if err := store.Put(ctx, &status.Record{ImageID: id, Status: st, CreatedAt: start.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	// What a listing must step over: a record that is not JSON, a key
	// that is not a record's, the content index beside the records.
	put := func(key, body string) {
		t.Helper()
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(local.ProcessedBucket), Key: aws.String(key), Body: bytes.NewReader([]byte(body))}); err != nil {
			t.Fatal(err)
		}
	}
	broken := status.NewID()
	put(status.Key(broken), "{not json")
	put(status.Prefix+"notes.txt", "hello")
	if err := store.PutContent(ctx, "0123456789abcdef0123456789abcdef", made[0]); err != nil {
		t.Fatal(err)
	}
	// An upload made without the API: its id comes from its key's hash
	// and carries no time; it is listed at its id's place.
	sum := sha256.Sum256([]byte("uploads/by-the-aws-cli.jpg"))
	keyID := hex.EncodeToString(sum[:16])
	if err := store.Put(ctx, &status.Record{ImageID: keyID, Status: status.Done, CreatedAt: start}); err != nil {
		t.Fatal(err)
	}

	var got []string
	var unreadable []string
	after := ""
	pages := 0
	for {
		p, err := store.List(ctx, s3c, status.ListOptions{Limit: 3, After: after})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range p.Records {
			got = append(got, r.ImageID)
		}
		unreadable = append(unreadable, p.Unreadable...)
		if p.Next == "" {
			break
		}
		if len(p.Records) != 3 {
			t.Errorf("page %d has %d records and a next page; want 3", pages, len(p.Records))
		}
		after = p.Next
	}
	want := append(slices.Clone(made), keyID)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("listed %v\nwant     %v (key order: the API's ids in creation order)", got, want)
	}
	if slices.Index(want, keyID) == len(want)-1 && made[len(made)-1] > keyID {
		t.Error("test setup: the key-derived id should sort among the others")
	}
	if pages != 3 {
		t.Errorf("%d pages of 3, want 3", pages)
	}
	if !slices.Equal(unreadable, []string{status.Key(broken)}) {
		t.Errorf("unreadable %v, want the broken record only", unreadable)
	}

	t.Run("since", func(t *testing.T) {
		p, err := store.List(ctx, s3c, status.ListOptions{Since: start.Add(4 * time.Minute), Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range p.Records {
			ids = append(ids, r.ImageID)
		}
		if !slices.Equal(ids, made[4:]) || p.Next != "" {
			t.Errorf("since the 5th: %v next %q, want %v and no next page", ids, p.Next, made[4:])
		}
	})

	t.Run("a filter that keeps few answers soon with a cursor", func(t *testing.T) {
		keep := func(r *status.Record) bool { return r.Status == status.Failed }
		var ids []string
		after := ""
		for range 20 {
			p, err := store.List(ctx, s3c, status.ListOptions{Limit: 50, MaxScan: 2, Keep: keep, After: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				ids = append(ids, r.ImageID)
			}
			if after = p.Next; after == "" {
				break
			}
		}
		want := []string{made[0], made[3], made[6]}
		if !slices.Equal(ids, want) || after != "" {
			t.Errorf("failed ones %v (ended: %v), want %v", ids, after == "", want)
		}
	})
}

// BenchmarkList is one page of GET /v1/images's reading: a ListObjectsV2
// and the records of the page, read 16 at a time, against the local
// stack's S3 edge holding 2000 records.
func BenchmarkList(b *testing.B) {
	st := localtest.Start(b, func(c *local.Config) { c.Paused = true })
	ctx := context.Background()
	s3c := st.S3Client()
	store := status.Store{Client: s3c, Bucket: local.ProcessedBucket}
	now := time.Now()
	var ids []string
	for i := range 2000 {
		id := status.NewID()
		ids = append(ids, id)
		if err := store.Put(ctx, &status.Record{ImageID: id, Status: status.Done, Filename: "cat.jpg", CreatedAt: now.Add(time.Duration(i) * time.Millisecond)}); err != nil {
			b.Fatal(err)
		}
	}
	for _, limit := range []int{50, 200} {
		b.Run(fmt.Sprintf("page-%d", limit), func(b *testing.B) {
			i := 0
			c0 := localtest.CPUTime()
			for b.Loop() {
				after := status.Prefix + ids[(i*limit)%(len(ids)-limit)] + ".json"
				p, err := store.List(ctx, s3c, status.ListOptions{Limit: limit, After: after})
				if err != nil || len(p.Records) != limit {
					b.Fatalf("%v, %d records", err, len(p.Records))
				}
				i++
			}
			b.ReportMetric(float64(localtest.CPUTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}
