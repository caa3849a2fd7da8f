package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/local"
)

// Each state in words, read from records put in the stack's processed
// bucket as the functions would write them.
func TestStatusInWords(t *testing.T) {
	st := testStack(t)
	store := status.Store{Client: st.S3Client(), Bucket: local.ProcessedBucket}
	now := time.Now().UTC().Truncate(time.Second)
	tests := []struct {
		name string
		rec  status.Record
		code int
		want []string
	}{
		{name: "pending", rec: status.Record{ImageID: "a0000000000000000000000000000001", Status: status.Pending, Key: "uploads/a0000000000000000000000000000001.png",
			UploadExpiresAt: now.Add(4 * time.Minute), CreatedAt: now}, code: 0,
			want: []string{"status    pending: waiting for the upload and the worker; the upload URL expires at " + now.Add(4*time.Minute).Format(time.RFC3339) + "\n"}},
		{name: "processing", rec: status.Record{ImageID: "a0000000000000000000000000000002", Status: status.Processing, Key: "uploads/a0000000000000000000000000000002.png",
			CreatedAt: now, UpdatedAt: now}, code: 0,
			want: []string{"status    processing: the worker is making the outputs\n"}},
		{name: "expired", rec: status.Record{ImageID: "a0000000000000000000000000000003", Status: status.Pending, Key: "uploads/a0000000000000000000000000000003.png",
			UploadExpiresAt: now.Add(-time.Hour), CreatedAt: now.Add(-time.Hour)}, code: 1,
			want: []string{"status    expired: no upload arrived before its upload URL expired at " + now.Add(-time.Hour).Format(time.RFC3339) + "; upload the file again\n",
				"error     upload_expired: no upload arrived"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := store.Put(context.Background(), &tc.rec); err != nil {
				t.Fatal(err)
			}
			res := runCLI(t, cliOpts{env: cliEnv(st)}, "status", tc.rec.ImageID)
			if res.code != tc.code {
				t.Errorf("exit %d, want %d\n%s", res.code, tc.code, res.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, res.stdout)
				}
			}
		})
	}

	t.Run("--wait stops at expired", func(t *testing.T) {
		res := runCLI(t, cliOpts{env: cliEnv(st)}, "status", "--wait", "--timeout", "30s", "a0000000000000000000000000000003")
		if res.code != 1 || !strings.Contains(res.stdout, "status    expired:") {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
		}
	})
}
