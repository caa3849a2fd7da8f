package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/api"
)

// TestLsInCreationOrder: images uploaded one after the other are listed in
// that order, page after page (a cursor every two images).
func TestLsInCreationOrder(t *testing.T) {
	// A stack of its own: the images of the other tests would be listed too.
	st := startOn(t, t.TempDir(), 0)
	defer closeStack(t, st)
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	dir := t.TempDir()
	var files []string
	for i := range 5 {
		files = append(files, cliWriteFile(t, filepath.Join(dir, fmt.Sprintf("img%d.png", i)), cliPNG(t, cliImage(8+i, 8))))
	}
	// One at a time, in this order: the images are made in this order.
	up := runCLI(t, cliOpts{env: cliEnv(st)}, append([]string{"upload", "--json", "--concurrency", "1", "--wait"}, files...)...)
	if up.code != 0 {
		t.Fatalf("upload: exit %d\n%s", up.code, up.stderr)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(up.stdout), "\n") {
		var ul uploadLine
		if err := json.Unmarshal([]byte(l), &ul); err != nil {
			t.Fatal(err)
		}
		want = append(want, ul.ImageID)
	}

	res := runCLI(t, cliOpts{env: cliEnv(st)}, "ls", "--since", since, "--page-size", "2", "--json")
	if res.code != 0 {
		t.Fatalf("ls: exit %d\n%s", res.code, res.stderr)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var v api.ImageView
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("ls --json line %q: %v", l, err)
		}
		if v.Status != api.StatusDone || !strings.HasPrefix(v.Filename, "img") {
			t.Errorf("listed %+v, want done images of this test", v)
		}
		got = append(got, v.ImageID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ls lists %v\nwant     %v (upload order)", got, want)
	}

	// For people: a header, a row per image, the count; --limit stops.
	res = runCLI(t, cliOpts{env: cliEnv(st)}, "ls", "--since", since, "--page-size", "2", "--limit", "3", "--status", "done")
	rows := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if res.code != 0 || len(rows) != 4 || !strings.HasPrefix(rows[0], "IMAGE ") || !strings.HasPrefix(rows[1], want[0]+"  done ") ||
		!strings.Contains(rows[3], "img2.png") || res.stderr != "3 images\n" {
		t.Errorf("ls --limit 3: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, cliOpts{env: cliEnv(st)}, "ls", "--since", since, "--status", "failed", "--json")
	if res.code != 0 || res.stdout != "" {
		t.Errorf("no failed image: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}
