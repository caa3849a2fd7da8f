package process

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/functions/status"
)

// The worker moves the status record to "processing" when it starts on the
// image, and a duplicate of a finished image leaves the record alone.
func TestWorkerMarksTheImageProcessing(t *testing.T) {
	h, fs, _ := newTestHandler(t)
	ctx := context.Background()
	st := status.Store{Client: fs, Bucket: processedBucket}
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := st.Put(ctx, &status.Record{ImageID: imageID, Status: status.Pending, Filename: "cat.jpg", CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	key := "uploads/" + imageID + ".jpg"
	d := fs.upload(key, testJPEG(t, 32, 24))
	if failed := handle(t, ctx, h, message(t, "m1", 1, d, "")); failed != nil {
		t.Fatalf("batch item failures %v", failed)
	}
	rec, err := st.Get(ctx, imageID)
	if err != nil {
		t.Fatal(err)
	}
	// notify has not run: the record says the worker has it.
	if rec.Status != status.Processing || rec.SourceETag != d.Object.ETag || rec.Filename != "cat.jpg" {
		t.Fatalf("record after the worker: %+v, want processing for ETag %s", rec, d.Object.ETag)
	}

	// notify completes it; a duplicate delivery must not turn it back.
	rec.Status = status.Done
	if err := st.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	before, _ := fs.object(processedBucket + "/" + status.Key(imageID))
	if failed := handle(t, ctx, h, message(t, "m2", 1, d, "")); failed != nil {
		t.Fatalf("duplicate: batch item failures %v", failed)
	}
	after, _ := fs.object(processedBucket + "/" + status.Key(imageID))
	var got status.Record
	if err := json.Unmarshal(after.data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status != status.Done || string(before.data) != string(after.data) {
		t.Errorf("after a duplicate the record is %+v, want the done record untouched", got)
	}
}
