package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

func TestFilters(t *testing.T) {
	type rule struct {
		include bool
		glob    string
	}
	for _, tc := range []struct {
		name  string
		rules []rule
		in    []string
		out   []string
	}{
		{name: "none", in: []string{"a.jpg", "x/y/b.png"}},
		{name: "exclude a name anywhere", rules: []rule{{false, "*.tmp.jpg"}}, in: []string{"a.jpg", "x/a.jpg"}, out: []string{"a.tmp.jpg", "x/y/a.tmp.jpg"}},
		{name: "only jpgs, last match wins", rules: []rule{{false, "*"}, {true, "*.jpg"}}, in: []string{"a.jpg", "x/b.jpg"}, out: []string{"a.png", "x/b.png"}},
		{name: "a directory", rules: []rule{{false, "raw/**"}}, in: []string{"a.jpg", "x/raw/a.jpg"}, out: []string{"raw/a.jpg", "raw/x/y.jpg"}},
		{name: "star does not cross a slash", rules: []rule{{false, "x/*.jpg"}}, in: []string{"x/y/a.jpg"}, out: []string{"x/a.jpg"}},
		{name: "double star at any depth", rules: []rule{{false, "**/thumbs/*"}}, in: []string{"a/thumb.jpg"}, out: []string{"thumbs/a.jpg", "a/b/thumbs/c.jpg"}},
		{name: "class and question mark", rules: []rule{{false, "img[0-4]?.jpg"}}, in: []string{"img5a.jpg", "img0.jpg"}, out: []string{"img0a.jpg", "img4z.jpg"}},
		{name: "negated class", rules: []rule{{false, "[!a]*.jpg"}}, in: []string{"a.jpg"}, out: []string{"b.jpg"}},
		{name: "dots are literal", rules: []rule{{false, "a.jpg"}}, in: []string{"abjpg"}, out: []string{"a.jpg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f filters
			for _, r := range tc.rules {
				if err := f.add(r.include, r.glob); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range tc.in {
				if !f.included(p) {
					t.Errorf("%s excluded, want included", p)
				}
			}
			for _, p := range tc.out {
				if f.included(p) {
					t.Errorf("%s included, want excluded", p)
				}
			}
		})
	}
	var f filters
	if err := f.add(true, "img[0-4"); err == nil {
		t.Error("an unclosed [ should be refused")
	}
}

// TestUploadRecursiveFiltered: -r with filters sends what they keep, and
// counts what was left out by reason.
func TestUploadRecursiveFiltered(t *testing.T) {
	st := testStack(t)
	dir := t.TempDir()
	cliWriteFile(t, filepath.Join(dir, "a.jpg"), cliJPEG(t, cliImage(20, 10)))
	cliWriteFile(t, filepath.Join(dir, "b.png"), cliPNG(t, cliImage(10, 20)))
	cliWriteFile(t, filepath.Join(dir, "x", "c.jpg"), cliJPEG(t, cliImage(21, 11)))
	cliWriteFile(t, filepath.Join(dir, "x", "raw", "d.jpg"), cliJPEG(t, cliImage(22, 12)))
	cliWriteFile(t, filepath.Join(dir, ".git", "e.jpg"), cliJPEG(t, cliImage(23, 13)))
	cliWriteFile(t, filepath.Join(dir, "x", "notes.txt"), []byte("text"))

	res := runCLI(t, cliOpts{env: cliEnv(st)}, "upload", "-r", dir, "--json", "--exclude", "*.png", "--exclude", "raw/**", "--exclude", "x/raw/**")
	lines := cliJSONLines(t, res.stdout)
	var sent []string
	for name, l := range lines {
		if l.Status == "pending" {
			sent = append(sent, name)
		}
	}
	sort.Strings(sent)
	if res.code != 0 || strings.Join(sent, " ") != "a.jpg c.jpg" {
		t.Errorf("exit %d, sent %v, want a.jpg c.jpg\nstdout:\n%s\nstderr:\n%s", res.code, sent, res.stdout, res.stderr)
	}
	if want := "\n2 uploaded, 0 failed, 4 skipped (excluded: 2, in a hidden directory: 1, not an image: 1); "; !strings.Contains(res.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
	}
}

// TestUploadDryRunSendsNothing: --dry-run says what would be sent without
// a request.
func TestUploadDryRunSendsNothing(t *testing.T) {
	apiSrv, requests := untouchableAPI(t)
	dir := t.TempDir()
	a := cliWriteFile(t, filepath.Join(dir, "a.jpg"), cliJPEG(t, cliImage(20, 10)))
	cliWriteFile(t, filepath.Join(dir, "sub", "b.png"), cliPNG(t, cliImage(10, 20)))
	res := runCLI(t, cliOpts{}, "upload", "--dry-run", "--api", apiSrv.URL, "--key", "k", dir)
	if res.code != 0 || requests.Load() != 0 {
		t.Errorf("exit %d, %d requests; want 0 and none\n%s%s", res.code, requests.Load(), res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, a+": would upload (image/jpeg, ") || strings.Contains(res.stdout, "b.png") {
		t.Errorf("stdout:\n%s", res.stdout)
	}
	if want := "dry run: would upload 1 files ("; !strings.HasPrefix(res.stderr, want) || !strings.Contains(res.stderr, "1 skipped (in a subdirectory (use -r): 1); nothing was sent") {
		t.Errorf("stderr:\n%s", res.stderr)
	}
}

// TestUploadSkipDone: a second run of the same files with --skip-done
// sends none of them and still downloads their outputs; a changed file is
// sent again.
func TestUploadSkipDone(t *testing.T) {
	st := testStack(t)
	dir := t.TempDir()
	a := cliWriteFile(t, filepath.Join(dir, "a.jpg"), cliJPEG(t, cliImage(40, 30)))
	b := cliWriteFile(t, filepath.Join(dir, "b.png"), cliPNG(t, cliImage(30, 40)))
	first := runCLI(t, cliOpts{env: cliEnv(st)}, "upload", "--wait", "--json", "--skip-done", dir)
	if first.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", first.code, first.stdout, first.stderr)
	}
	ids := cliJSONLines(t, first.stdout)

	cliWriteFile(t, b, cliPNG(t, cliImage(31, 40))) // b changes
	out := filepath.Join(t.TempDir(), "out")
	res := runCLI(t, cliOpts{env: cliEnv(st)}, "upload", "--json", "--skip-done", "--out", out, dir)
	lines := cliJSONLines(t, res.stdout)
	la, lb := lines["a.jpg"], lines["b.png"]
	if res.code != 0 || la.Status != "skipped" || la.Error == nil || la.Error.Code != "already_done" || la.ImageID != ids["a.jpg"].ImageID {
		t.Errorf("a.jpg: exit %d %+v, want skipped already_done as image %s\n%s", res.code, la, ids["a.jpg"].ImageID, res.stderr)
	}
	if la.Outputs["gray"].Path != filepath.Join(out, "a.gray.jpg") {
		t.Errorf("a.jpg outputs %+v, want downloaded to %s", la.Outputs, out)
	}
	if _, err := os.Stat(filepath.Join(out, "a.thumb.jpg")); err != nil {
		t.Error(err)
	}
	if lb.Status != "done" || lb.ImageID == ids["b.png"].ImageID {
		t.Errorf("b.png changed: %+v, want uploaded again as a new image", lb)
	}
	if strings.Contains(res.stderr, a+" uploaded") || !strings.Contains(res.stderr, "1 done, 0 failed, 1 skipped (already done: 1)") {
		t.Errorf("stderr:\n%s", res.stderr)
	}
}

// TestUploadQuiet: --quiet prints only the errors and the summary.
func TestUploadQuiet(t *testing.T) {
	st := testStack(t)
	dir := t.TempDir()
	cliWriteFile(t, filepath.Join(dir, "a.jpg"), cliJPEG(t, cliImage(20, 10)))
	fake := cliWriteFile(t, filepath.Join(dir, "fake.png"), []byte("not a png"))
	res := runCLI(t, cliOpts{env: cliEnv(st)}, "upload", "-q", dir)
	want := fake + ": failed: not_an_image: the name says image/png but the bytes are not an image"
	if res.code != 1 || res.stdout != "" || !strings.HasPrefix(res.stderr, want) || strings.Count(res.stderr, "\n") != 2 ||
		!strings.Contains(res.stderr, "\n1 uploaded, 1 failed; ") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
}

// untouchableAPI is an API that no request should reach; it counts those
// that do.
func untouchableAPI(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "the CLI should not call the API", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}
