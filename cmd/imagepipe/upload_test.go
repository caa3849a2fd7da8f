package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"image/png"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/imagepipe/imagepipe/local"
)

// cliLine is the JSON line of a file as scripts read it: the field names
// are the contract, so they are spelled out here rather than taken from
// uploadLine.
type cliLine struct {
	File        string `json:"file"`
	ImageID     string `json:"image_id"`
	Status      string `json:"status"`
	ContentType string `json:"content_type"`
	Bytes       int64  `json:"bytes"`
	ContentMD5  string `json:"content_md5"`
	Error       *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Warnings   []string `json:"warnings"`
	DurationMS int64    `json:"duration_ms"`
	Outputs    map[string]struct {
		Path        string `json:"path"`
		URL         string `json:"url"`
		Key         string `json:"key"`
		Width       int    `json:"width"`
		Height      int    `json:"height"`
		Bytes       int64  `json:"bytes"`
		ContentType string `json:"content_type"`
	} `json:"outputs"`
}

// jsonLines decodes stdout as one object per line, keyed by base file
// name.
func cliJSONLines(t *testing.T, stdout string) map[string]cliLine {
	t.Helper()
	lines := map[string]cliLine{}
	for _, raw := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if raw == "" {
			continue
		}
		var l cliLine
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("stdout line is not a JSON object of the expected shape: %v\n%s", err, raw)
		}
		name := filepath.Base(l.File)
		if _, dup := lines[name]; dup {
			t.Errorf("two lines for %s", name)
		}
		lines[name] = l
	}
	return lines
}

var cliImageID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func cliDecodeFile(t *testing.T, path string) (image.Image, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("output: %v", err)
	}
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return img, format
}

// TestUploadDirectory is the end-to-end case: a directory of good
// and bad files at --concurrency 4 with --json and --out, flags after the
// directory, the key read from the stack's data directory.
func TestUploadDirectory(t *testing.T) {
	st := testStack(t)
	dir := t.TempDir()
	catSrc := cliImage(640, 480)
	dogSrc := cliImage(300, 200)
	cliWriteFile(t, filepath.Join(dir, "cat.jpg"), cliJPEG(t, catSrc))
	cliWriteFile(t, filepath.Join(dir, "dog.png"), cliPNG(t, dogSrc))
	cliWriteFile(t, filepath.Join(dir, "mislabeled.jpg"), cliPNG(t, cliImage(120, 90))) // PNG bytes, .jpg name
	cliWriteFile(t, filepath.Join(dir, "fake.jpg"), []byte("this is text, not a JPEG\n"))
	cliWriteFile(t, filepath.Join(dir, "notes.txt"), []byte("remember the milk\n"))
	cliWriteFile(t, filepath.Join(dir, ".hidden.jpg"), cliJPEG(t, cliImage(16, 16)))
	cliWriteFile(t, filepath.Join(dir, "sub", "inner.jpg"), cliJPEG(t, cliImage(16, 16)))
	out := filepath.Join(t.TempDir(), "out")

	res := runCLI(t, cliOpts{env: []string{local.EnvData + "=" + st.DataDir()}},
		"upload", dir, "--api", st.APIURL(), "--concurrency", "4", "--json", "--out", out)

	if res.code != 1 {
		t.Errorf("exit code %d, want 1 (one file failed)\nstderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "\n4 done, 1 failed, 2 skipped (in a subdirectory (use -r): 1, not an image: 1); ") {
		t.Errorf("stderr should end with the summary:\n%s", res.stderr)
	}
	if strings.Contains(res.stderr, filepath.Join(dir, "fake.jpg")+" uploaded") {
		t.Errorf("fake.jpg is not an image by its bytes and must not be sent:\n%s", res.stderr)
	}
	for _, name := range []string{"cat.jpg", "dog.png", ".hidden.jpg", "mislabeled.jpg"} {
		if !strings.Contains(res.stderr, filepath.Join(dir, name)+" uploaded (") {
			t.Errorf("stderr lacks the plain progress line for %s (not a terminal):\n%s", name, res.stderr)
		}
	}
	lines := cliJSONLines(t, res.stdout)
	var names []string
	for n := range lines {
		names = append(names, n)
	}
	sort.Strings(names)
	if got, want := strings.Join(names, " "), ".hidden.jpg cat.jpg dog.png fake.jpg mislabeled.jpg notes.txt"; got != want {
		t.Fatalf("JSON lines for %s, want %s (dot-files too, no subdirectory without -r)\nstdout:\n%s", got, want, res.stdout)
	}

	for _, tc := range []struct {
		file, ctype, ext string
		src              image.Image
		w, h, tw, th     int
		maxMeanDiff      float64 // mean |gray - luma(source)|
		maxPixelDiff     int     // largest |gray - luma(source)|
	}{
		{file: "cat.jpg", ctype: "image/jpeg", ext: "jpg", src: catSrc, w: 640, h: 480, tw: 256, th: 192, maxMeanDiff: 3, maxPixelDiff: 40},
		{file: "dog.png", ctype: "image/png", ext: "png", src: dogSrc, w: 300, h: 200, tw: 256, th: 171, maxMeanDiff: 0.6, maxPixelDiff: 1},
		{file: "mislabeled.jpg", ctype: "image/png", ext: "png", w: 120, h: 90, tw: 120, th: 90},
	} {
		t.Run(tc.file, func(t *testing.T) {
			l := lines[tc.file]
			if l.Status != "done" || l.Error != nil {
				t.Fatalf("status %q error %+v, want done", l.Status, l.Error)
			}
			if !cliImageID.MatchString(l.ImageID) {
				t.Errorf("image_id %q", l.ImageID)
			}
			if l.File != filepath.Join(dir, tc.file) || l.ContentType != tc.ctype {
				t.Errorf("file %q content_type %q, want %q %q (type from the bytes)", l.File, l.ContentType, filepath.Join(dir, tc.file), tc.ctype)
			}
			base := strings.TrimSuffix(tc.file, filepath.Ext(tc.file))
			for _, o := range []struct {
				name string
				w, h int
			}{{"gray", tc.w, tc.h}, {"thumb", tc.tw, tc.th}} {
				got, ok := l.Outputs[o.name]
				if !ok {
					t.Fatalf("no %s output: %+v", o.name, l.Outputs)
				}
				wantPath := filepath.Join(out, base+"."+o.name+"."+tc.ext)
				if got.Path != wantPath || got.URL != "" {
					t.Errorf("%s path %q url %q, want path %q and no url", o.name, got.Path, got.URL, wantPath)
				}
				if got.Width != o.w || got.Height != o.h || got.ContentType != tc.ctype {
					t.Errorf("%s is %dx%d %s, want %dx%d %s", o.name, got.Width, got.Height, got.ContentType, o.w, o.h, tc.ctype)
				}
				img, _ := cliDecodeFile(t, got.Path)
				if b := img.Bounds(); b.Dx() != o.w || b.Dy() != o.h {
					t.Errorf("%s decodes as %dx%d, want %dx%d", got.Path, b.Dx(), b.Dy(), o.w, o.h)
				}
				gray, ok := img.(*image.Gray)
				if !ok {
					t.Fatalf("%s decodes as %T, want a gray image", got.Path, img)
				}
				if st, err := os.Stat(got.Path); err != nil || st.Size() != got.Bytes {
					t.Errorf("%s: size on disk %v (%v), the status says %d", got.Path, st.Size(), err, got.Bytes)
				}
				if o.name == "gray" && tc.src != nil {
					var sum float64
					for y := range o.h {
						for x := range o.w {
							d := int(gray.GrayAt(x, y).Y) - cliLuma(tc.src.At(x, y))
							d = max(d, -d)
							if d > tc.maxPixelDiff {
								t.Fatalf("gray at (%d,%d) is %d, the source's luma %d", x, y, gray.GrayAt(x, y).Y, cliLuma(tc.src.At(x, y)))
							}
							sum += float64(d)
						}
					}
					if mean := sum / float64(o.w*o.h); mean > tc.maxMeanDiff {
						t.Errorf("gray differs from the source's luma by %.2f on average, want <= %.2f", mean, tc.maxMeanDiff)
					}
				}
			}
		})
	}

	if l := lines["fake.jpg"]; l.Status != "failed" || l.Error == nil || l.Error.Code != "not_an_image" || l.ImageID != "" || len(l.Outputs) != 0 {
		t.Errorf("fake.jpg: %+v, want failed not_an_image, refused before any request (no image id)", l)
	}
	if l := lines["notes.txt"]; l.Status != "skipped" || l.Error == nil || l.Error.Code != "not_an_image" || l.ImageID != "" {
		t.Errorf("notes.txt: %+v, want skipped, never sent", l)
	}

	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	umask := syscall.Umask(0)
	syscall.Umask(umask)
	for _, e := range entries {
		files = append(files, e.Name())
		if info, err := e.Info(); err != nil || info.Mode().Perm() != 0o644&^fs.FileMode(umask) {
			t.Errorf("%s: mode %v, want %v (0644 less the umask, like any file written)", e.Name(), info.Mode().Perm(), 0o644&^fs.FileMode(umask))
		}
	}
	if got, want := strings.Join(files, " "), ".hidden.gray.jpg .hidden.thumb.jpg cat.gray.jpg cat.thumb.jpg dog.gray.png dog.thumb.png mislabeled.gray.png mislabeled.thumb.png"; got != want {
		t.Errorf("--out holds %s, want %s", got, want)
	}
}

// TestUploadPlainLines uses the environment for the API and prints for
// people (no --json, not a terminal).
func TestUploadPlainLines(t *testing.T) {
	st := testStack(t)
	dir := t.TempDir()
	a := cliWriteFile(t, filepath.Join(dir, "a", "cat.jpg"), cliJPEG(t, cliImage(200, 100)))
	b := cliWriteFile(t, filepath.Join(dir, "b", "cat.jpg"), cliJPEG(t, cliImage(100, 200)))
	out := filepath.Join(dir, "out")

	res := runCLI(t, cliOpts{env: cliEnv(st)}, "upload", "--out", out, a, b, a)
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	for _, want := range []string{a + " uploaded (", b + " uploaded (", "2 done, 0 failed; "} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	// The same file twice is sent once; two files with one name get
	// distinct outputs.
	if n := strings.Count(res.stdout, ": done (image "); n != 2 {
		t.Errorf("%d done lines, want 2:\n%s", n, res.stdout)
	}
	for _, want := range []string{filepath.Join(out, "cat.gray.jpg"), filepath.Join(out, "cat-2.gray.jpg"), filepath.Join(out, "cat-2.thumb.jpg")} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout does not name %s:\n%s", want, res.stdout)
		}
		if _, err := os.Stat(want); err != nil {
			t.Error(err)
		}
	}
	gotA, _ := cliDecodeFile(t, filepath.Join(out, "cat.gray.jpg"))
	gotB, _ := cliDecodeFile(t, filepath.Join(out, "cat-2.gray.jpg"))
	if gotA.Bounds().Dx() == gotB.Bounds().Dx() {
		t.Errorf("cat and cat-2 should be the two different files: %v and %v", gotA.Bounds(), gotB.Bounds())
	}

	// Without --wait the file is uploaded and left pending.
	res = runCLI(t, cliOpts{env: cliEnv(st)}, "upload", a)
	if res.code != 0 || !strings.Contains(res.stdout, a+": uploaded, processing (image ") || !strings.Contains(res.stderr, "\n1 uploaded, 0 failed; ") {
		t.Errorf("upload without --wait: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
}

// TestUploadRefusedBeforeAnyRequest: files the CLI refuses itself (over
// 100 MiB, empty, not an image when named explicitly, missing) never reach
// the API.
func TestUploadRefusedBeforeAnyRequest(t *testing.T) {
	apiSrv, requests := untouchableAPI(t)
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.jpg")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("\xff\xd8\xff\xe0")); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(101 << 20); err != nil { // sparse: no 101 MiB written
		t.Fatal(err)
	}
	f.Close()
	empty := cliWriteFile(t, filepath.Join(dir, "empty.png"), nil)
	notes := cliWriteFile(t, filepath.Join(dir, "notes.txt"), []byte("text"))
	missing := filepath.Join(dir, "missing.jpg")

	res := runCLI(t, cliOpts{}, "upload", "--json", "--api", apiSrv.URL, "--key", "k", huge, empty, notes, missing)
	if res.code != 1 {
		t.Errorf("exit %d, want 1\nstderr:\n%s", res.code, res.stderr)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the API, want none", n)
	}
	if !strings.HasSuffix(res.stderr, "0 uploaded, 4 failed\n") {
		t.Errorf("summary:\n%s", res.stderr)
	}
	lines := cliJSONLines(t, res.stdout)
	for file, want := range map[string]string{
		"huge.jpg":    "too_large: the file is 105.9 MB; imagepipe takes files up to 104.9 MB",
		"empty.png":   "invalid_size: the file is empty",
		"notes.txt":   "not_an_image: the bytes are not an image of an accepted type",
		"missing.jpg": "not_found: no such file or directory",
	} {
		l := lines[file]
		if l.Status != "failed" || l.Error == nil || !strings.HasPrefix(l.Error.Code+": "+l.Error.Message, want) {
			t.Errorf("%s: %+v, want failed %q", file, l, want)
		}
	}
}

// TestUploadTooLargeForTheAPI: a file under the CLI's 100 MiB but over the
// API's 25 MiB is refused by POST /v1/uploads, before any byte is sent.
func TestUploadTooLargeForTheAPI(t *testing.T) {
	st := testStack(t)
	big := filepath.Join(t.TempDir(), "big.jpg")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("\xff\xd8\xff\xe0")); err != nil { // a JPEG, by its first bytes
		t.Fatal(err)
	}
	if err := f.Truncate(26 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res := runCLI(t, cliOpts{env: cliEnv(st)}, "upload", "--json", big)
	if res.code != 1 {
		t.Errorf("exit %d, want 1\nstderr:\n%s", res.code, res.stderr)
	}
	l := cliJSONLines(t, res.stdout)["big.jpg"]
	if l.Status != "failed" || l.Error == nil || l.Error.Code != "too_large" || !strings.Contains(l.Error.Message, "over the maximum upload of 26214400 bytes (26.2 MB)") || l.ImageID != "" {
		t.Errorf("big.jpg: %+v, want failed too_large from the API", l)
	}
	if strings.Contains(res.stderr, "uploaded (") {
		t.Errorf("nothing should have been uploaded:\n%s", res.stderr)
	}
}

// TestUploadBadConfiguration: a wrong key or an API that is not running
// is said once, first, with what to do; nothing is sent and no --out
// directory is left behind.
func TestUploadBadConfiguration(t *testing.T) {
	st := testStack(t)
	dir := t.TempDir()
	for i := range 3 {
		cliWriteFile(t, filepath.Join(dir, fmt.Sprintf("img%d.png", i)), cliPNG(t, cliImage(8, 8)))
	}
	dead := cliFreeURL(t)
	notRunning := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "wrong key", args: []string{"--api", st.APIURL(), "--key", "not-the-key"},
			want: "imagepipe upload: the API at " + st.APIURL() + " refused the key (403 Forbidden): check --key or IMAGEPIPE_API_KEY\n"},
		{name: "nothing listening", args: []string{"--api", dead, "--key", "k"},
			want: "imagepipe upload: cannot reach the API at " + dead + ": is `imagepipe dev` running there? (check --api / IMAGEPIPE_API_URL)\n"},
		{name: "the local stack is not running", args: []string{"--data", cliWriteStopped(t, notRunning, dead)},
			want: "imagepipe upload: cannot reach the API at " + dead + ": no imagepipe dev is running on the data directory " + notRunning +
				". Start it (make run, or imagepipe dev), pass the data directory of the one you started with --data DIR, or point --api / IMAGEPIPE_API_URL at an API\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			res := runCLI(t, cliOpts{}, append(append([]string{"upload", "--concurrency", "1", "--out", out}, tc.args...), dir)...)
			if res.code != 1 || res.stderr != tc.want || res.stdout != "" {
				t.Errorf("exit %d, want 1 and only\n%q\nstdout:\n%s\nstderr:\n%q", res.code, tc.want, res.stdout, res.stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("--out %s: %v, want it not made", out, err)
			}
		})
	}
}

// cliWriteCreds makes dir look like a data directory that a stack used
// once (credentials, no stack running).
func cliWriteCreds(t *testing.T, dir string) string {
	t.Helper()
	cliWriteFile(t, filepath.Join(dir, local.CredentialsFile), []byte(`{"api_key":"k","access_key_id":"AKIL","secret_access_key":"s"}`))
	return dir
}

// cliWriteStopped makes dir look like the data directory of a stack that
// ran on apiURL and stopped.
func cliWriteStopped(t *testing.T, dir, apiURL string) string {
	t.Helper()
	cliWriteCreds(t, dir)
	cliWriteFile(t, filepath.Join(dir, local.LockFile), []byte(`{"pid":1,"api_url":"`+apiURL+`"}`))
	return dir
}

// TestRawUpload is the seed's curl flow through plain net/http:
// curl -X POST $API/v1/images/upload -H "x-api-key: $KEY" --data-binary @f
func TestRawUpload(t *testing.T) {
	st := testStack(t)
	post := func(t *testing.T, key string, body []byte) (int, http.Header, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, st.APIURL()+"/v1/images/upload", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // what curl --data-binary sends
		if key != "" {
			req.Header.Set("x-api-key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("%d answer is not JSON: %v", resp.StatusCode, err)
		}
		return resp.StatusCode, resp.Header, v
	}

	t.Run("accepted and processed", func(t *testing.T) {
		code, _, v := post(t, st.APIKey(), cliPNG(t, cliImage(64, 32)))
		if code != http.StatusAccepted {
			t.Fatalf("status %d, want 202: %v", code, v)
		}
		id, _ := v["image_id"].(string)
		if !cliImageID.MatchString(id) || v["key"] != "uploads/"+id+".png" || v["status_url"] != "/v1/images/"+id {
			t.Fatalf("answer %v, want image_id, key uploads/<id>.png (type sniffed) and status_url", v)
		}
		// The CLI's status command sees it through.
		res := runCLI(t, cliOpts{env: cliEnv(st)}, "status", "--wait", "--json", id)
		if res.code != 0 {
			t.Fatalf("status --wait: exit %d\n%s", res.code, res.stderr)
		}
		var view struct {
			Status  string `json:"status"`
			Outputs map[string]struct {
				URL           string
				Width, Height int
			} `json:"outputs"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &view); err != nil {
			t.Fatal(err)
		}
		if g := view.Outputs["gray"]; view.Status != "done" || g.Width != 64 || g.Height != 32 {
			t.Fatalf("status %+v, want done with a 64x32 gray", view)
		}
		resp, err := http.Get(view.Outputs["gray"].URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		img, err := png.Decode(resp.Body)
		if err != nil {
			t.Fatalf("the presigned gray URL: %v", err)
		}
		if _, ok := img.(*image.Gray); !ok {
			t.Errorf("gray output is %T", img)
		}
	})

	t.Run("over 5 MiB", func(t *testing.T) {
		body := append(cliPNG(t, cliImage(8, 8)), make([]byte, 5<<20)...)
		code, h, v := post(t, st.APIKey(), body)
		e, _ := v["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if code != http.StatusRequestEntityTooLarge || e["code"] != "too_large" || !strings.Contains(msg, "5242880 bytes (5.2 MB)") || !strings.Contains(msg, "POST /v1/uploads") {
			t.Errorf("%d %v, want 413 too_large pointing to POST /v1/uploads", code, v)
		}
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	})

	t.Run("not an image", func(t *testing.T) {
		code, _, v := post(t, st.APIKey(), []byte("hello"))
		if e, _ := v["error"].(map[string]any); code != http.StatusBadRequest || e["code"] != "not_an_image" {
			t.Errorf("%d %v, want 400 not_an_image", code, v)
		}
	})

	t.Run("no key", func(t *testing.T) {
		code, _, v := post(t, "", cliPNG(t, cliImage(8, 8)))
		if code != http.StatusForbidden || v["message"] != "Forbidden" || len(v) != 1 {
			t.Errorf("%d %v, want 403 {\"message\":\"Forbidden\"}", code, v)
		}
	})
}

// TestProgressBars checks the terminal drawing without a terminal: an
// overall line and the bars are redrawn in place, fit any width from 40
// columns, and lines printed through the progress appear above them.
func TestProgressBars(t *testing.T) {
	const up = "\x1b[1A\x1b[2K" // cursor up one line, clear it
	for _, width := range []int{40, 41, 59, 80, 200} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			var term, stdout bytes.Buffer
			ended := make(chan struct{})
			close(ended)
			now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
			p := &progress{w: &term, tty: true, width: width, stop: make(chan struct{}), ended: ended, clock: func() time.Time { return now }}
			p.started = now
			p.plan(3, 12_000_000)

			cat := p.start("cat.jpg", 2_000_000)
			cat.phase("upload")
			dog := p.start("a-rather-long-file-name-for-a-dog-that-goes-on.png", 10_000_000)
			p.redraw() // the first sample of the speed
			now = now.Add(2 * time.Second)
			cat.add(1_000_000)
			dog.phase("upload")
			dog.add(3_000_000)
			term.Reset()
			p.redraw()
			lines := strings.Split(strings.TrimSuffix(term.String(), "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("drew %d lines, want the overall line and two bars:\n%s", len(lines), term.String())
			}
			lines[0] = strings.TrimPrefix(lines[0], up+up+up)
			for _, l := range lines {
				if n := utf8.RuneCountInString(l); n > width-1 || strings.Contains(l, "\x1b") {
					t.Errorf("line %q is %d columns, want at most %d and no escape", l, n, width-1)
				}
			}
			// 4 MB of 12 MB in 2 s: 2 MB/s, 8 MB left, 4 s.
			wantOverall := "0/3 files · 4.0 MB of 12.0 MB · 2.0 MB/s · 4s left"
			if width-1 >= len([]rune(wantOverall)) && lines[0] != wantOverall {
				t.Errorf("overall line %q, want %q", lines[0], wantOverall)
			}
			if !strings.HasPrefix(lines[0], "0/3 files") {
				t.Errorf("overall line %q should start with the files", lines[0])
			}
			if !strings.HasPrefix(lines[1], "cat.jpg ") || !strings.Contains(lines[1], "[") || !strings.Contains(lines[1], " 50%") {
				t.Errorf("cat's bar %q", lines[1])
			}
			if !strings.Contains(lines[2], "…") || !strings.Contains(lines[2], " 30%") {
				t.Errorf("dog's bar %q: the name cut with …, 30%%", lines[2])
			}

			term.Reset()
			p.println(&stdout, "dog.png: done")
			if stdout.String() != "dog.png: done\n" {
				t.Errorf("stdout %q", stdout.String())
			}
			if got := term.String(); !strings.HasPrefix(got, up+up+up) || strings.Count(got, "\n") != 3 {
				t.Errorf("println should clear the three lines and draw them again: %q", got)
			}

			term.Reset()
			p.done(dog)
			if got := term.String(); !strings.HasPrefix(got, up+up+up) || strings.Count(got, "\n") != 2 || strings.Contains(got, "dog") || !strings.Contains(got, "1/3 files") {
				t.Errorf("done should leave the overall line (1/3) and cat's bar: %q", got)
			}

			term.Reset()
			p.close()
			if got := term.String(); got != up+up {
				t.Errorf("close should clear the last lines: %q", got)
			}
			p.close() // twice is fine
		})
	}
}

// TestProgressPlain: not a terminal, so no escape codes, only notes; none
// with quiet.
func TestProgressPlain(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		var w bytes.Buffer
		p := newProgress(&w, true, quiet)
		p.plan(1, 5)
		b := p.start("cat.jpg", 5)
		b.phase("upload")
		b.add(5)
		p.note("cat.jpg uploaded (5 B)")
		p.done(b)
		p.close()
		want := "cat.jpg uploaded (5 B)\n"
		if quiet {
			want = ""
		}
		if w.String() != want {
			t.Errorf("quiet %v: plain output %q, want %q", quiet, w.String(), want)
		}
	}
}

// TestUploadNothingToDo: a directory without images is not a success.
func TestUploadNothingToDo(t *testing.T) {
	st := testStack(t)
	dir := t.TempDir()
	cliWriteFile(t, filepath.Join(dir, "README"), []byte("no images here"))
	cliWriteFile(t, filepath.Join(dir, "sub", "cat.png"), cliPNG(t, cliImage(8, 8)))
	res := runCLI(t, cliOpts{env: cliEnv(st)}, "upload", dir)
	if res.code != 1 || !strings.HasSuffix(res.stderr, "0 uploaded, 0 failed, 2 skipped (in a subdirectory (use -r): 1, not an image: 1)\nimagepipe upload: no image to upload\n") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, filepath.Join(dir, "README")+": skipped: not_an_image: not an image file") {
		t.Errorf("stdout:\n%s", res.stdout)
	}

	empty := t.TempDir()
	res = runCLI(t, cliOpts{env: cliEnv(st)}, "upload", "--json", empty)
	l := cliJSONLines(t, res.stdout)[filepath.Base(empty)]
	if res.code != 1 || l.Status != "skipped" || l.Error == nil || l.Error.Code != "empty_directory" {
		t.Errorf("empty directory: exit %d line %+v", res.code, l)
	}
}

// TestUploadStorageUnreachable: the API answers but its presigned URLs
// point where nothing listens (a misconfigured endpoint).
func TestUploadStorageUnreachable(t *testing.T) {
	dead := cliFreeURL(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet { // the CLI's first call: is the API there?
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"no image"}}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"image_id":"0123456789abcdef0123456789abcdef","key":"uploads/x.png","upload":{"method":"PUT","url":%q,"headers":{"Content-Type":"image/png"}},"status_url":"/v1/images/x"}`, dead+"/imagepipe-uploads/uploads/x.png?X-Amz-Signature=s")
	}))
	defer api.Close()
	img := cliWriteFile(t, filepath.Join(t.TempDir(), "cat.png"), cliPNG(t, cliImage(8, 8)))
	res := runCLI(t, cliOpts{}, "upload", "--api", api.URL, "--key", "k", img)
	want := "imagepipe upload: cannot reach " + dead + " (where the API's presigned URLs point): "
	if res.code != 1 || !strings.Contains(res.stderr, want) {
		t.Errorf("exit %d, want 1 and %q\nstderr:\n%s", res.code, want, res.stderr)
	}
}

// TestUploadWaitTimeout: against a paused stack nothing is processed, so
// --wait gives up after --timeout and says how to look later.
func TestUploadWaitTimeout(t *testing.T) {
	paused, err := local.Start(context.Background(), local.Config{
		DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", Paused: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := paused.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	img := cliWriteFile(t, filepath.Join(t.TempDir(), "cat.png"), cliPNG(t, cliImage(8, 8)))
	res := runCLI(t, cliOpts{env: cliEnv(paused)}, "upload", img, "--wait", "--timeout", "700ms", "--json")
	l := cliJSONLines(t, res.stdout)["cat.png"]
	want := "still pending after 700ms; check later with `imagepipe status " + l.ImageID + "`"
	if res.code != exitTimeout || l.Status != "pending" || l.Error == nil || l.Error.Code != "timeout" || l.Error.Message != want || !cliImageID.MatchString(l.ImageID) {
		t.Errorf("exit %d line %+v, want exit %d, pending, timeout %q", res.code, l, exitTimeout, want)
	}
	if !strings.Contains(res.stderr, "\n0 done, 1 still processing, 0 failed; ") {
		t.Errorf("summary:\n%s", res.stderr)
	}
	// It is still there, pending.
	res = runCLI(t, cliOpts{env: cliEnv(paused)}, "status", l.ImageID)
	if res.code != 0 || !strings.Contains(res.stdout, "status    pending: waiting for the upload and the worker") {
		t.Errorf("status: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}
