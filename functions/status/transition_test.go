package status

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/imagepipe/imagepipe/eventbus"
)

func TestAccepts(t *testing.T) {
	const e1, e2 = "etag-1", "etag-2"
	tests := []struct {
		name     string
		from     string
		fromETag string
		to       string
		etag     string
		want     bool
	}{
		{name: "pending to processing", from: Pending, to: Processing, etag: e1, want: true},
		{name: "pending to done", from: Pending, to: Done, etag: e1, want: true},
		{name: "pending to failed", from: Pending, to: Failed, etag: e1, want: true},
		{name: "processing again", from: Processing, fromETag: e1, to: Processing, etag: e1, want: false},
		{name: "processing to done", from: Processing, fromETag: e1, to: Done, etag: e1, want: true},
		{name: "processing to failed", from: Processing, fromETag: e1, to: Failed, etag: e1, want: true},
		{name: "done back to processing (a duplicate delivery)", from: Done, fromETag: e1, to: Processing, etag: e1, want: false},
		{name: "failed back to processing (a replay of the same upload)", from: Failed, fromETag: e1, to: Processing, etag: e1, want: false},
		{name: "done hidden by a late failure", from: Done, fromETag: e1, to: Failed, etag: e1, want: false},
		{name: "done again (a replay made the outputs anew)", from: Done, fromETag: e1, to: Done, etag: e1, want: true},
		{name: "failed then done (a retry succeeded)", from: Failed, fromETag: e1, to: Done, etag: e1, want: true},
		{name: "failed again", from: Failed, fromETag: e1, to: Failed, etag: e1, want: true},
		{name: "done, processing an unknown upload", from: Done, fromETag: e1, to: Processing, etag: "", want: false},
		{name: "done, a new upload under the same key", from: Done, fromETag: e1, to: Processing, etag: e2, want: true},
		{name: "failed, a new upload under the same key", from: Failed, fromETag: e1, to: Processing, etag: e2, want: true},
		{name: "nothing goes back to pending", from: Processing, fromETag: e1, to: Pending, etag: e2, want: false},
		{name: "expired is never written", from: Pending, to: Expired, etag: e1, want: false},
		{name: "unknown state", from: Pending, to: "archived", etag: e1, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Record{Status: tc.from, SourceETag: tc.fromETag}
			if got := r.Accepts(tc.to, tc.etag); got != tc.want {
				t.Errorf("%s(%q) accepts %s(%q) = %v, want %v", tc.from, tc.fromETag, tc.to, tc.etag, got, tc.want)
			}
		})
	}
}

func TestStatusAtExpiry(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	urlExpiry := created.Add(5 * time.Minute)
	const grace = 10 * time.Minute
	deadline := urlExpiry.Add(grace)
	tests := []struct {
		name     string
		rec      Record
		now      time.Time
		uploaded bool
		err      error
		want     string
		asked    bool
		wantErr  bool
	}{
		{name: "pending before the URL expires", rec: Record{Status: Pending, UploadExpiresAt: urlExpiry}, now: created.Add(time.Minute), want: Pending},
		{name: "pending within the grace", rec: Record{Status: Pending, UploadExpiresAt: urlExpiry}, now: deadline, want: Pending},
		{name: "pending past the grace, nothing uploaded", rec: Record{Status: Pending, UploadExpiresAt: urlExpiry}, now: deadline.Add(time.Second), asked: true, want: Expired},
		{name: "pending past the grace, the upload is there", rec: Record{Status: Pending, UploadExpiresAt: urlExpiry}, now: deadline.Add(time.Hour), uploaded: true, asked: true, want: Pending},
		{name: "storage cannot say", rec: Record{Status: Pending, UploadExpiresAt: urlExpiry}, now: deadline.Add(time.Hour), err: errors.New("503 SlowDown"), asked: true, want: Pending, wantErr: true},
		{name: "old record without the URL expiry: creation + URL lifetime", rec: Record{Status: Pending, CreatedAt: created}, now: deadline.Add(time.Second), asked: true, want: Expired},
		{name: "processing never expires", rec: Record{Status: Processing, UploadExpiresAt: urlExpiry}, now: deadline.Add(time.Hour), want: Processing},
		{name: "done never expires", rec: Record{Status: Done, UploadExpiresAt: urlExpiry}, now: deadline.Add(time.Hour), want: Done},
		{name: "failed never expires", rec: Record{Status: Failed, UploadExpiresAt: urlExpiry}, now: deadline.Add(time.Hour), want: Failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			asked := false
			got, err := tc.rec.StatusAt(context.Background(), tc.now, grace, 5*time.Minute, func(context.Context) (bool, error) {
				asked = true
				return tc.uploaded, tc.err
			})
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("StatusAt = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
			if asked != tc.asked {
				t.Errorf("asked whether the upload is there: %v, want %v", asked, tc.asked)
			}
		})
	}
}

// casS3 is an in-memory bucket that honours If-Match and If-None-Match on
// PutObject as S3 does; beforePut runs (once per call) between a caller's
// read and its write, to play another writer.
type casS3 struct {
	mu        sync.Mutex
	objects   map[string][]byte
	puts      int
	beforePut func()
}

func (c *casS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: &s3types.NoSuchKey{}}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b)), ETag: aws.String(`"` + etagOf(b) + `"`)}, nil
}

func (c *casS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if f := c.beforePut; f != nil {
		c.beforePut = nil
		f()
	}
	b, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := aws.ToString(in.Key)
	cur, exists := c.objects[key]
	failed := func() error {
		return &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject",
			Err: &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}}
	}
	if in.IfNoneMatch != nil && exists {
		return nil, failed()
	}
	if in.IfMatch != nil && (!exists || `"`+etagOf(cur)+`"` != *in.IfMatch) {
		return nil, failed()
	}
	c.objects[key] = b
	c.puts++
	return &s3.PutObjectOutput{ETag: aws.String(`"` + etagOf(b) + `"`)}, nil
}

func etagOf(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func (c *casS3) record(t *testing.T, id string) *Record {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.objects[Key(id)]
	if !ok {
		t.Fatalf("no record for %s", id)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

const testID = "0123456789abcdef0123456789abcdef"

func TestMarkProcessing(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	src := eventbus.ImageSource{Bucket: "uploads", Key: "uploads/" + testID + ".jpg", ETag: "etag-1", Size: 1234, ContentType: "image/jpeg"}

	t.Run("pending becomes processing", func(t *testing.T) {
		c := &casS3{objects: map[string][]byte{}}
		st := Store{Client: c, Bucket: "processed"}
		if err := st.Put(ctx, &Record{ImageID: testID, Status: Pending, Filename: "cat.jpg", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		marked, err := st.MarkProcessing(ctx, testID, src, now.Add(time.Second))
		if err != nil || !marked {
			t.Fatalf("MarkProcessing = %v, %v; want true", marked, err)
		}
		r := c.record(t, testID)
		if r.Status != Processing || r.SourceETag != "etag-1" || r.Filename != "cat.jpg" || !r.UpdatedAt.Equal(now.Add(time.Second)) {
			t.Errorf("record %+v, want processing for etag-1 keeping the file name", r)
		}
	})

	t.Run("no record yet (uploaded without the API)", func(t *testing.T) {
		c := &casS3{objects: map[string][]byte{}}
		st := Store{Client: c, Bucket: "processed"}
		if marked, err := st.MarkProcessing(ctx, testID, src, now); err != nil || !marked {
			t.Fatalf("MarkProcessing = %v, %v", marked, err)
		}
		if r := c.record(t, testID); r.Status != Processing || r.Key != src.Key || r.Size != 1234 || r.ImageID != testID {
			t.Errorf("record %+v", r)
		}
	})

	for _, terminal := range []string{Done, Failed} {
		t.Run(terminal+" stays "+terminal, func(t *testing.T) {
			c := &casS3{objects: map[string][]byte{}}
			st := Store{Client: c, Bucket: "processed"}
			if err := st.Put(ctx, &Record{ImageID: testID, Status: terminal, SourceETag: "etag-1"}); err != nil {
				t.Fatal(err)
			}
			puts := c.puts
			if marked, err := st.MarkProcessing(ctx, testID, src, now); err != nil || marked {
				t.Fatalf("MarkProcessing = %v, %v; want false", marked, err)
			}
			if c.puts != puts || c.record(t, testID).Status != terminal {
				t.Errorf("a %s record was rewritten", terminal)
			}
		})
	}

	t.Run("a done written between the read and the write wins", func(t *testing.T) {
		c := &casS3{objects: map[string][]byte{}}
		st := Store{Client: c, Bucket: "processed"}
		if err := st.Put(ctx, &Record{ImageID: testID, Status: Pending}); err != nil {
			t.Fatal(err)
		}
		// The worker read "pending"; before its write lands, notify
		// completes the image (another delivery finished first).
		c.beforePut = func() {
			raw, _ := json.Marshal(&Record{ImageID: testID, Status: Done, SourceETag: "etag-1"})
			c.mu.Lock()
			c.objects[Key(testID)] = raw
			c.mu.Unlock()
		}
		marked, err := st.MarkProcessing(ctx, testID, src, now)
		if err != nil || marked {
			t.Fatalf("MarkProcessing = %v, %v; want false after losing to done", marked, err)
		}
		if r := c.record(t, testID); r.Status != Done {
			t.Errorf("record is %s, want done kept", r.Status)
		}
	})

	t.Run("a record created between the read and the write is read again", func(t *testing.T) {
		c := &casS3{objects: map[string][]byte{}}
		st := Store{Client: c, Bucket: "processed"}
		c.beforePut = func() {
			raw, _ := json.Marshal(&Record{ImageID: testID, Status: Failed, SourceETag: "etag-1"})
			c.mu.Lock()
			c.objects[Key(testID)] = raw
			c.mu.Unlock()
		}
		if marked, err := st.MarkProcessing(ctx, testID, src, now); err != nil || marked {
			t.Fatalf("MarkProcessing = %v, %v; want false", marked, err)
		}
		if r := c.record(t, testID); r.Status != Failed {
			t.Errorf("record is %s, want failed kept", r.Status)
		}
	})
}

func TestUpdateGivesUpWhenAlwaysContended(t *testing.T) {
	c := &casS3{objects: map[string][]byte{}}
	st := Store{Client: c, Bucket: "processed"}
	if err := st.Put(context.Background(), &Record{ImageID: testID, Status: Pending}); err != nil {
		t.Fatal(err)
	}
	n := 0
	var bump func()
	bump = func() {
		n++
		raw, _ := json.Marshal(&Record{ImageID: testID, Status: Pending, Size: int64(n)})
		c.mu.Lock()
		c.objects[Key(testID)] = raw
		c.mu.Unlock()
		c.beforePut = bump
	}
	c.beforePut = bump
	_, err := st.Update(context.Background(), testID, func(cur *Record) *Record {
		next := *cur
		next.Status = Processing
		return &next
	})
	if !errors.Is(err, ErrContended) {
		t.Fatalf("Update = %v, want ErrContended", err)
	}
	if n != maxUpdateAttempts {
		t.Errorf("%d attempts, want %d", n, maxUpdateAttempts)
	}
}
