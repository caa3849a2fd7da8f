package web_test

import (
	"context"
	"fmt"
	"image"
	_ "image/jpeg"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
	"github.com/imagepipe/imagepipe/web"
)

// downloadTTL is the lifetime of the outputs' links in the test stacks:
// short, so that the page meets expired links.
const downloadTTL = 6 * time.Second

// TestUploadPage is the page's acceptance test: the real local stack (API,
// S3 edge, queue, worker, status records) driven from headless Chromium as
// a person would, in the two arrangements the page is deployed in: on the
// API's own origin (CloudFront on AWS, `imagepipe dev` locally), and on
// another origin that the API allows (cors_allowed_origins), where every
// API call and upload goes through a real CORS preflight.
func TestUploadPage(t *testing.T) {
	localtest.Chromium(t)
	axe := axeSource(t)

	t.Run("same origin", func(t *testing.T) {
		st := startStack(t, nil)
		runPage(t, arrangement{name: "same-origin", pageURL: st.APIURL() + "/", apiKey: st.APIKey(), prefilled: true, edge: st.EdgeURL()}, axe)
	})

	t.Run("separate origin with CORS", func(t *testing.T) {
		pageSrv := httptest.NewUnstartedServer(nil)
		origin := "http://" + pageSrv.Listener.Addr().String()
		st := startStack(t, []string{origin})
		proxy := newCountingProxy(t, st.APIURL())
		pageSrv.Config.Handler = web.HandlerWithConfig(web.Config{APIBaseURL: proxy.srv.URL, MaxUploadBytes: api.DefaultMaxUploadBytes})
		pageSrv.Start()
		t.Cleanup(pageSrv.Close)
		runPage(t, arrangement{name: "separate-origin", pageURL: pageSrv.URL + "/", apiKey: st.APIKey(), edge: st.EdgeURL()}, axe)

		pre := proxy.preflightAnswers()
		if len(pre) == 0 {
			t.Fatal("the page made no CORS preflight to the API")
		}
		for _, p := range pre {
			if p.status != http.StatusNoContent || p.allowOrigin != origin {
				t.Errorf("preflight %s: %d, Access-Control-Allow-Origin %q, want 204 and %q", p.path, p.status, p.allowOrigin, origin)
			}
		}
		t.Logf("%d preflights to the API, all answered for %s", len(pre), origin)
	})
}

func startStack(t *testing.T, origins []string) *local.Stack {
	t.Helper()
	st, err := local.Start(t.Context(), local.Config{
		DataDir:        t.TempDir(),
		APIAddr:        "127.0.0.1:0",
		EdgeAddr:       "127.0.0.1:0",
		CORSOrigins:    origins,
		DownloadURLTTL: downloadTTL,
		Logger:         testLogger(t),
	})
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(context.Background()); err != nil {
			t.Errorf("close local stack: %v", err)
		}
	})
	return st
}

// countingProxy stands between the page and the API of the
// separate-origin arrangement and keeps every preflight's answer.
type countingProxy struct {
	srv *httptest.Server

	mu      sync.Mutex
	answers []preflightAnswer
}

type preflightAnswer struct {
	path        string
	status      int
	allowOrigin string
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions {
			rp.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		p.mu.Lock()
		p.answers = append(p.answers, preflightAnswer{path: r.URL.Path, status: rec.Code, allowOrigin: rec.Header().Get("Access-Control-Allow-Origin")})
		p.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *countingProxy) preflightAnswers() []preflightAnswer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.answers)
}

type arrangement struct {
	name      string
	pageURL   string
	apiKey    string
	prefilled bool   // config.json carries the key (the page on loopback, beside the API)
	edge      string // the S3 edge the links point at
}

// downloadWatch follows the browser's downloads.
type downloadWatch struct {
	mu       sync.Mutex
	names    map[string]string // guid -> suggested file name
	finished []finishedDownload
	changed  chan struct{}
}

type finishedDownload struct {
	name, path string
}

func watchDownloads(browser context.Context, dir string) *downloadWatch {
	w := &downloadWatch{names: map[string]string{}, changed: make(chan struct{}, 1)}
	poke := func() {
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
	go func() {
		for ev, err := range chromedp.BrowserEvents(browser, cdpbrowser.DownloadWillBegin) {
			if err != nil {
				return
			}
			w.mu.Lock()
			w.names[ev.GUID] = ev.SuggestedFilename
			w.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range chromedp.BrowserEvents(browser, cdpbrowser.DownloadProgress) {
			if err != nil {
				return
			}
			if ev.State != cdpbrowser.DownloadProgressStateCompleted {
				continue
			}
			w.mu.Lock()
			name := w.names[ev.GUID]
			path := ev.FilePath
			if path == "" {
				path = filepath.Join(dir, name)
			}
			w.finished = append(w.finished, finishedDownload{name: name, path: path})
			w.mu.Unlock()
			poke()
		}
	}()
	return w
}

// next waits for the download after the first n.
func (w *downloadWatch) next(t *testing.T, ctx context.Context, n int) finishedDownload {
	t.Helper()
	for {
		w.mu.Lock()
		if len(w.finished) > n {
			d := w.finished[n]
			w.mu.Unlock()
			return d
		}
		w.mu.Unlock()
		select {
		case <-w.changed:
		case <-ctx.Done():
			t.Fatalf("no download finished: %v", ctx.Err())
		}
	}
}

func (w *downloadWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.finished)
}

// runPage runs the page's cases, in order, on one tab: what one person does
// with the page in a sitting.
func runPage(t *testing.T, a arrangement, axe string) {
	shots := screenshotDir(t)
	downloadDir := t.TempDir()
	browser := startBrowser(t, downloadDir)
	downloads := watchDownloads(browser, downloadDir)
	tb := openTab(t, browser, 8*time.Minute)

	files := t.TempDir()
	colors := filepath.Join(files, "colors.jpg")
	noisyJPEG(t, colors, 900, 600)
	gradient := filepath.Join(files, "gradient.png")
	writeImage(t, gradient, colourful(200, 150))
	scan := filepath.Join(files, "scan.tiff")
	writeImage(t, scan, colourful(120, 90))
	notes := filepath.Join(files, "notes.jpg")
	if err := os.WriteFile(notes, []byte("this is a text file, not a picture\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tb.do(t, "open the page", chromedp.Navigate(a.pageURL))
	waitFor(t, tb, "the page is ready", `document.body.dataset.ready === "true"`)
	name := func(state string) string { return a.name + "-" + state }
	const edgeRefusal = "imagepipe-processed"

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"empty page, connection as configured", func(t *testing.T) {
			if a.prefilled {
				// imagepipe dev pre-fills the key on loopback; it works, so
				// the connection panel is folded away.
				waitFor(t, tb, "the pre-filled key is checked", `document.querySelector("#connect").dataset.connected === "true"`)
				if got := eval[string](t, tb, `document.querySelector("#api-key").value`); got != a.apiKey {
					t.Errorf("key field %q, want the pre-filled key", got)
				}
				if eval[bool](t, tb, `document.querySelector("#connect").open`) {
					t.Error("the connection panel is open though the key works")
				}
			} else {
				if !eval[bool](t, tb, `document.querySelector("#connect").open`) || eval[string](t, tb, `document.querySelector("#api-key").value`) != "" {
					t.Error("without a key the connection panel should be open and empty")
				}
			}
			if !eval[bool](t, tb, `!document.querySelector("#empty").hidden && document.querySelector("#overview").hidden`) {
				t.Error("the empty page does not say that there is nothing yet")
			}
			look(t, tb, shots, axe, name("empty"))
			tb.checkConsole(t, nil)
		}},
		{"a wrong key is refused on save", func(t *testing.T) {
			setKey := func(key string) {
				tb.do(t, "enter a key",
					chromedp.Evaluate[chromedp.Void](`document.querySelector("#connect").open = true; document.querySelector("#api-key").value = ""`),
					chromedp.SendKeys(chromedp.ID("api-key"), key),
					chromedp.Click(chromedp.ID("key-save")),
				)
			}
			setKey("not-the-key-" + a.apiKey)
			waitFor(t, tb, "the key is refused", `document.querySelector("#key-status").textContent.includes("refused")`)
			if eval[string](t, tb, `document.querySelector("#api-key").getAttribute("aria-invalid") || ""`) != "true" {
				t.Error("the key field is not marked invalid")
			}
			if eval[bool](t, tb, `document.querySelector("#connect").dataset.connected === "true" || !document.querySelector("#connect").open`) {
				t.Error("a refused key left the page connected or the panel folded")
			}
			if got := eval[string](t, tb, `localStorage.getItem("imagepipe.apiKey") || ""`); strings.HasPrefix(got, "not-the-key-") {
				t.Error("the refused key was saved")
			}
			setKey(a.apiKey)
			waitFor(t, tb, "the key works", `document.querySelector("#connect").dataset.connected === "true" && !document.querySelector("#connect").open`)
			if got := eval[string](t, tb, `localStorage.getItem("imagepipe.apiKey") || ""`); got != a.apiKey {
				t.Errorf("the working key was not saved (%q)", got)
			}
			if state := eval[string](t, tb, `document.querySelector("#connect-state").textContent`); !strings.Contains(state, a.apiKey[len(a.apiKey)-4:]) {
				t.Errorf("the folded panel says %q, want the key's end", state)
			}
			tb.checkConsole(t, networkRefusal("/v1/", 403))
		}},
		{"three images, all done", func(t *testing.T) {
			throttleUploads(t, tb, 60_000)
			tb.do(t, "choose three images", chromedp.SetUploadFiles(chromedp.ID("pick"), []string{colors, gradient, scan}))
			waitFor(t, tb, "an upload is under way", `[...document.querySelectorAll(".tile")].some(e => e.dataset.state === "uploading" && +e.dataset.progress > 0 && +e.dataset.progress < 100)`)
			if got := eval[string](t, tb, `document.querySelector("#overall-text").textContent`); !strings.Contains(got, " of 3 done") || !strings.Contains(got, "in progress") || !strings.Contains(got, "kB sent") {
				t.Errorf("overall bar while uploading: %q", got)
			}
			look(t, tb, shots, axe, name("uploading"))
			throttleUploads(t, tb, 0)
			waitFor(t, tb, "three images are done and shown", `document.querySelector("#overview").dataset.done === "3" &&
				[...document.querySelectorAll(".tile")].every(e => e.querySelector("img.thumb").dataset.loaded === "true")`)
			ts := tiles(t, tb)
			if len(ts) != 3 {
				t.Fatalf("tiles %+v", ts)
			}
			for _, tile := range ts {
				if tile.State != "done" || !strings.HasPrefix(tile.Text, "Done in") || tile.ID == "" {
					t.Errorf("tile %+v: want done, \"Done in …\", an image id", tile)
				}
			}
			overall := eval[string](t, tb, `document.querySelector("#overall-text").textContent`)
			if !strings.HasPrefix(overall, "3 of 3 done") || !(strings.Contains(overall, "kB sent") || strings.Contains(overall, "MB sent")) {
				t.Errorf("overall bar %q: want 3 of 3 done and the bytes sent in kB or MB", overall)
			}
			for i := range ts {
				st := samplePage(t, tb, fmt.Sprintf(`#results .tile:nth-child(%d) img.thumb`, i+1))
				if st.MaxChanDiff > 1 || st.Samples < 10 {
					t.Errorf("thumbnail %d is not gray: %+v", i, st)
				}
			}
			// Details on demand: the colour JPEG beside its gray version.
			tile := `[...document.querySelectorAll(".tile")].find(e => e.querySelector(".name").textContent === %q)`
			tb.do(t, "open the JPEG's details", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(tile+`.querySelector(".more summary").click()`, "colors.jpg")))
			waitFor(t, tb, "the JPEG's details are shown", fmt.Sprintf(tile+`.querySelector("img.gray").dataset.loaded === "true" && `+tile+`.querySelector("img.original").dataset.loaded === "true"`, "colors.jpg", "colors.jpg"))
			tb.do(t, "mark", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(tile+`.id = "colors-tile"`, "colors.jpg")))
			gray := samplePage(t, tb, `#colors-tile img.gray`)
			if gray.Width != 900 || gray.Height != 600 || gray.MaxChanDiff > 1 || gray.MaxR-gray.MinR < 60 {
				t.Errorf("gray result %+v: want 900×600, gray, the gradient's range", gray)
			}
			if orig := samplePage(t, tb, `#colors-tile img.original`); orig.MaxChanDiff < 100 {
				t.Errorf("the original shown is not the colourful upload: %+v", orig)
			}
			facts := eval[string](t, tb, `document.querySelector("#colors-tile .facts").textContent`)
			for _, want := range []string{"900 × 600", "image/jpeg", "kB", "Image id"} {
				if !strings.Contains(facts, want) {
					t.Errorf("details %q lack %q", facts, want)
				}
			}
			tb.do(t, "close the details", chromedp.Evaluate[chromedp.Void](`document.querySelector("#colors-tile .more summary").click()`))
			// A format the browser cannot show: the PNG output stands in.
			tb.do(t, "open the TIFF's details", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(tile+`.id = "scan-tile"; document.querySelector("#scan-tile .more summary").click()`, "scan.tiff")))
			waitFor(t, tb, "the TIFF's preview is the gray PNG", `document.querySelector("#scan-tile img.original").dataset.loaded === "true" &&
				document.querySelector("#scan-tile .fig-original figcaption").textContent.includes("cannot show TIFF")`)
			if st := samplePage(t, tb, `#scan-tile img.original`); st.Width != 120 || st.MaxChanDiff > 1 {
				t.Errorf("the TIFF's stand-in %+v: want the 120 px gray output", st)
			}
			look(t, tb, shots, axe, name("done-details"))
			tb.do(t, "close the details", chromedp.Evaluate[chromedp.Void](`document.querySelector("#scan-tile .more summary").click()`))
			look(t, tb, shots, axe, name("done"))
			if a.prefilled && os.Getenv("IMAGEPIPE_README_SCREENSHOT") != "" {
				readmeShot(t, tb)
			}
			tb.checkConsole(t, nil)
		}},
		{"a failed file", func(t *testing.T) {
			tb.do(t, "choose a text file named .jpg", chromedp.SetUploadFiles(chromedp.ID("pick"), []string{notes}))
			waitFor(t, tb, "the file has failed", `document.querySelector("#failed .line")?.dataset.state === "failed"`)
			fs := failures(t, tb)
			if len(fs) != 1 || fs[0].ErrorCode != "not_an_image" || !strings.Contains(fs[0].Text, "not an image") || !strings.Contains(fs[0].Text, "notes.jpg") || fs[0].ID == "" {
				t.Errorf("failure lines %+v: want one line for notes.jpg saying not_an_image", fs)
			}
			if n := len(tiles(t, tb)); n != 3 {
				t.Errorf("%d tiles, want the 3 done ones (a failure is a line, not a tile)", n)
			}
			if got := eval[string](t, tb, `document.querySelector("#overall-text").textContent`); !strings.Contains(got, "3 of 4 done") || !strings.Contains(got, "1 not processed") {
				t.Errorf("overall bar %q", got)
			}
			look(t, tb, shots, axe, name("failed"))
			tb.checkConsole(t, nil)
		}},
		{"a reload brings the history back", func(t *testing.T) {
			before := append(idsOf(tiles(t, tb)), idsOf(failures(t, tb))...)
			tb.do(t, "reload", chromedp.Reload())
			waitFor(t, tb, "the history is back", `document.body.dataset.ready === "true" &&
				document.querySelectorAll("#results .tile").length === 3 && document.querySelectorAll("#failed .line").length === 1 &&
				[...document.querySelectorAll(".tile")].every(e => e.dataset.state === "done" && e.querySelector("img.thumb").dataset.loaded === "true")`)
			after := append(idsOf(tiles(t, tb)), idsOf(failures(t, tb))...)
			slices.Sort(before)
			slices.Sort(after)
			if !slices.Equal(before, after) {
				t.Errorf("after the reload the page shows %v, want %v", after, before)
			}
			for _, tile := range tiles(t, tb) {
				if !strings.HasPrefix(tile.Text, "Done") {
					t.Errorf("restored tile %+v", tile)
				}
			}
			if f := failures(t, tb); len(f) != 1 || f[0].ErrorCode != "not_an_image" {
				t.Errorf("restored failure %+v", f)
			}
			look(t, tb, shots, axe, name("history"))
			tb.checkConsole(t, nil)
		}},
		{"a download saves the file and the page stays", func(t *testing.T) {
			tile := `[...document.querySelectorAll(".tile")].find(e => e.querySelector(".name").textContent === "colors.jpg")`
			tb.do(t, "mark the page", chromedp.Evaluate[chromedp.Void](tile+`.id = "colors-tile"; window.stayMarker = 42`))
			href := eval[string](t, tb, `location.href`)
			n := downloads.count()
			tb.do(t, "click Download", chromedp.Click(chromedp.CSS("#colors-tile a.download")))
			d := downloads.next(t, tb.ctx, n)
			checkDownload(t, d, "colors.gray.jpg", 900, 600)
			if eval[int](t, tb, `window.stayMarker || 0`) != 42 || eval[string](t, tb, `location.href`) != href || len(tiles(t, tb)) != 3 {
				t.Error("the page navigated away or lost its state on a download")
			}
			tb.checkConsole(t, nil)
		}},
		{"an expired link is fetched anew", func(t *testing.T) {
			exp := eval[float64](t, tb, `+document.querySelector("#colors-tile").dataset.linksExpireAt`)
			waitFor(t, tb, "the links have expired", fmt.Sprintf(`Date.now() > %f + 1000`, exp))
			refreshes := func() int {
				return eval[int](t, tb, `+(document.querySelector("#colors-tile").dataset.linkRefreshes || 0)`)
			}
			r0 := refreshes()
			n := downloads.count()
			tb.do(t, "download with an expired link", chromedp.Click(chromedp.CSS("#colors-tile a.download")))
			checkDownload(t, downloads.next(t, tb.ctx, n), "colors.gray.jpg", 900, 600)
			if r := refreshes(); r != r0+1 {
				t.Errorf("links fetched %d times, want %d: the page knew they had expired", r-r0, 1)
			}
			// The page's clock says the links still work, storage says no
			// (a clock that is off): the 403 makes it fetch them anew.
			exp = eval[float64](t, tb, `+document.querySelector("#colors-tile").dataset.linksExpireAt`)
			waitFor(t, tb, "the new links have expired too", fmt.Sprintf(`Date.now() > %f + 1000`, exp))
			tb.do(t, "believe the links work", chromedp.Evaluate[chromedp.Void](`document.querySelector("#colors-tile").dataset.linksExpireAt = String(Date.now() + 3600e3)`))
			n = downloads.count()
			tb.do(t, "download with a link storage refuses", chromedp.Click(chromedp.CSS("#colors-tile a.download")))
			checkDownload(t, downloads.next(t, tb.ctx, n), "colors.gray.jpg", 900, 600)
			if r := refreshes(); r != r0+2 {
				t.Errorf("links fetched %d times, want 2", r-r0)
			}
			tb.checkConsole(t, networkRefusal(edgeRefusal, 403))
		}},
		{"clear empties the list and the history", func(t *testing.T) {
			tb.do(t, "clear", chromedp.Click(chromedp.ID("clear")))
			waitFor(t, tb, "the list is empty", `document.querySelectorAll(".tile, .line").length === 0 && !document.querySelector("#empty").hidden`)
			if got := eval[string](t, tb, `localStorage.getItem("imagepipe.history.v1")`); got != "[]" {
				t.Errorf("history after clear: %s", got)
			}
			if got := eval[string](t, tb, `document.activeElement.id`); got != "pick" {
				t.Errorf("after clearing, focus is on %q, want the file chooser", got)
			}
			if outline := eval[string](t, tb, `getComputedStyle(document.querySelector("#drop")).outlineStyle`); outline == "none" {
				t.Error("the drop zone shows no focus ring while the file chooser has focus")
			}
			tb.do(t, "reload", chromedp.Reload())
			waitFor(t, tb, "the page is ready", `document.body.dataset.ready === "true" && document.querySelector("#connect").dataset.connected === "true"`)
			if n := eval[int](t, tb, `document.querySelectorAll(".tile, .line").length`); n != 0 {
				t.Errorf("%d images came back after clear and reload", n)
			}
			tb.checkConsole(t, nil)
		}},
		{"images dropped on the page", func(t *testing.T) {
			tb.do(t, "drop files", chromedp.Evaluate[chromedp.Void](`(async () => {
				const dt = new DataTransfer();
				for (const [i, colour] of ["#d33", "#3a3"].entries()) {
					const c = document.createElement("canvas");
					c.width = 48 + i * 16;
					c.height = 32;
					const g = c.getContext("2d");
					g.fillStyle = colour;
					g.fillRect(0, 0, c.width, c.height);
					const blob = await new Promise((resolve) => c.toBlob(resolve, "image/png"));
					dt.items.add(new File([blob], "dropped-" + i + ".png", {type: "image/png"}));
				}
				const zone = document.querySelector("#drop");
				zone.dispatchEvent(new DragEvent("dragenter", {dataTransfer: dt, bubbles: true, cancelable: true}));
				zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
				if (!zone.classList.contains("dragging")) throw new Error("drop zone not highlighted while dragging");
				zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
			})()`, chromedp.EvalAwaitPromise))
			waitFor(t, tb, "the dropped images are done", `document.querySelector("#overview").dataset.done === "2" &&
				[...document.querySelectorAll(".tile")].every(e => e.querySelector("img.thumb").dataset.loaded === "true")`)
			if eval[bool](t, tb, `document.querySelector("#drop").classList.contains("dragging")`) {
				t.Error("drop zone still highlighted after the drop")
			}
			tb.checkConsole(t, nil)
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return // the next steps build on this one
		}
	}
}

func idsOf(vs []tileView) []string {
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.ID)
	}
	return ids
}

// checkDownload opens a saved file: it must have the server's name and be
// the gray image.
func checkDownload(t *testing.T, d finishedDownload, name string, w, h int) {
	t.Helper()
	if d.name != name {
		t.Errorf("download saved as %q, want %q", d.name, name)
	}
	f, err := os.Open(d.path)
	if err != nil {
		t.Fatalf("the downloaded file: %v", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode the download %s: %v", d.path, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("downloaded %d×%d, want %d×%d", b.Dx(), b.Dy(), w, h)
	}
	if _, ok := img.(*image.Gray); !ok {
		t.Errorf("downloaded image is %T, want gray", img)
	}
}

// readmeShot writes the README's picture of the page: the viewport of a
// laptop, three images done.
func readmeShot(t *testing.T, tb *tab) {
	t.Helper()
	tb.do(t, "README viewport", chromedp.EmulateViewport(1000, 640))
	shot, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	tb.do(t, "desktop viewport", chromedp.ResetViewport())
	path := filepath.Join("..", "docs", "upload-page.png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("README screenshot: %s (%d bytes)", path, len(shot))
}
