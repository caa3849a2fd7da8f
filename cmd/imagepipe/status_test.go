package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/local"
)

func TestStatus(t *testing.T) {
	st := testStack(t)
	dir := t.TempDir()
	cliWriteFile(t, filepath.Join(dir, "good.png"), cliPNG(t, cliImage(40, 30)))
	res := runCLI(t, cliOpts{env: cliEnv(st)}, "upload", "--wait", "--json", dir)
	if res.code != 0 {
		t.Fatalf("upload: exit %d, want 0\n%s", res.code, res.stderr)
	}
	good := cliJSONLines(t, res.stdout)["good.png"]
	if good.Status != "done" {
		t.Fatalf("upload line: %+v", good)
	}
	// The CLI refuses bytes that are no image; one put in the bucket by
	// other means fails in the worker.
	bad := cliLine{ImageID: putUpload(t, st, "uploads/status-bad.png", []byte("not a png at all"))}
	if res := runCLI(t, cliOpts{env: cliEnv(st)}, "status", "--wait", bad.ImageID); res.code != 1 {
		t.Fatalf("status --wait of the bad upload: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.stdout, `\u0026`) || !strings.Contains(res.stdout, "&X-Amz-") {
		t.Errorf("presigned URLs should be printed as they are, without \\u0026:\n%s", res.stdout)
	}
	if g := good.Outputs["gray"]; g.Path != "" || !strings.HasPrefix(g.URL, "http://") {
		t.Errorf("without --out the line carries the presigned URL, no path: %+v", g)
	}

	t.Run("done as text", func(t *testing.T) {
		res := runCLI(t, cliOpts{env: cliEnv(st)}, "status", good.ImageID)
		if res.code != 0 {
			t.Fatalf("exit %d\n%s", res.code, res.stderr)
		}
		for _, want := range []string{
			"image     " + good.ImageID + "\n",
			"status    done: the outputs are ready\n",
			"file      good.png (image/png)\n",
			"gray      40x30 image/png ",
			"thumb     40x30 image/png ",
			"          http://",
		} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
			}
		}
	})

	t.Run("json, flags after the ids", func(t *testing.T) {
		res := runCLI(t, cliOpts{env: cliEnv(st)}, "status", good.ImageID, bad.ImageID, "--json")
		if res.code != 1 {
			t.Errorf("exit %d, want 1 (one image failed)", res.code)
		}
		if strings.Contains(res.stdout, `\u0026`) {
			t.Errorf("escaped URLs:\n%s", res.stdout)
		}
		lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines, want 2:\n%s", len(lines), res.stdout)
		}
		var views [2]struct {
			ImageID string                 `json:"image_id"`
			Status  string                 `json:"status"`
			Error   *struct{ Code string } `json:"error"`
			Outputs map[string]struct{ Width, Height int }
		}
		for i, l := range lines {
			if err := json.Unmarshal([]byte(l), &views[i]); err != nil {
				t.Fatal(err)
			}
		}
		if views[0].ImageID != good.ImageID || views[0].Status != "done" || views[0].Outputs["gray"].Width != 40 {
			t.Errorf("first: %+v", views[0])
		}
		if views[1].ImageID != bad.ImageID || views[1].Status != "failed" || views[1].Error == nil || views[1].Error.Code != "not_an_image" {
			t.Errorf("second: %+v", views[1])
		}
	})

	t.Run("failed as text", func(t *testing.T) {
		res := runCLI(t, cliOpts{env: cliEnv(st)}, "status", bad.ImageID)
		if res.code != 1 || !strings.Contains(res.stdout, "status    failed: the image could not be processed (reason below)\n") || !strings.Contains(res.stdout, "error     not_an_image: ") {
			t.Errorf("exit %d\n%s", res.code, res.stdout)
		}
	})

	for _, tc := range []struct{ name, id, want string }{
		{name: "unknown id", id: "0123456789abcdef0123456789abcdef", want: "imagepipe status: 0123456789abcdef0123456789abcdef: not_found: no image with id 0123456789abcdef0123456789abcdef\n"},
		{name: "malformed id", id: "cat.jpg", want: `imagepipe status: cat.jpg: invalid_image_id: "cat.jpg" is not an image id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, cliOpts{env: cliEnv(st)}, "status", tc.id)
			if res.code != 1 || res.stdout != "" || !strings.HasPrefix(res.stderr, tc.want) {
				t.Errorf("exit %d stdout %q stderr %q, want 1 and %q", res.code, res.stdout, res.stderr, tc.want)
			}
		})
	}
}

// putUpload puts an object in the uploads bucket as the aws CLI would
// (not through the API) and returns its image id, derived from the key.
func putUpload(t *testing.T, st *local.Stack, key string, data []byte) string {
	t.Helper()
	if _, err := st.S3Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(local.UploadsBucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	id, _ := status.IDForKey(key)
	return id
}
