package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The browser tests drive the real page in headless Chromium. They need a
// chromium binary: without one they skip, except under CI, where they fail.
//
// IMAGEPIPE_CHROMIUM overrides the browser path; IMAGEPIPE_SCREENSHOT_DIR
// keeps the screenshots somewhere that outlives the test (default: the
// test's temp dir).

// caseTimeout bounds each browser case; every wait inside is a condition.
const caseTimeout = 90 * time.Second

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("IMAGEPIPE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "chromium not found: apt-get install -y chromium (or set IMAGEPIPE_CHROMIUM)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startBrowser starts one headless Chromium with an empty profile for the
// test and returns its context; cases open tabs in it with openTab.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(1200, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc) // waits for the browser process to end
	browser, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// tab is one page of the browser with its console recorded.
type tab struct {
	ctx context.Context

	mu      sync.Mutex
	msgs    []chromedp.ConsoleMessage
	arrived chan struct{}
}

// openTab opens a new tab and records everything the page writes to the
// console: console API calls, uncaught exceptions and browser log entries.
// The returned context carries the case's timeout.
func openTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	tabCtx, cancelTab := chromedp.NewContext(browser)
	tb := &tab{arrived: make(chan struct{}, 1)}
	console := chromedp.Console(tabCtx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range console {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.msgs = append(tb.msgs, m)
			tb.mu.Unlock()
			select {
			case tb.arrived <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		cancelTab()
		<-done
		if t.Failed() {
			tb.mu.Lock()
			for _, m := range tb.msgs {
				t.Logf("console %s: %s (source %q, %s)", m.Type, m.Text, m.Source, m.URL)
			}
			tb.mu.Unlock()
		}
	})
	// The first Run opens the tab; the timeout must only wrap later actions.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, caseTimeout)
	t.Cleanup(cancel)
	tb.ctx = ctx
	return tb
}

func (tb *tab) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value into T.
func eval[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript condition is true in the page.
func waitFor(t *testing.T, tb *tab, what, cond string) {
	t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](cond,
		chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(caseTimeout)))
	if err != nil {
		t.Fatalf("waiting until %s (%s): %v\npage text:\n%s", what, cond, err, tb.pageText())
	}
}

// pageText is the visible text of the page, for failure messages.
func (tb *tab) pageText() string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tb.ctx), 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// checkConsole fails the test for every console error or uncaught exception
// the page produced, except those allow accepts. It first writes a marker
// through the page's console and waits for it, so that every message the
// page wrote before is in.
func (tb *tab) checkConsole(t *testing.T, allow func(chromedp.ConsoleMessage) bool) {
	t.Helper()
	marker := fmt.Sprintf("imagepipe-test-marker-%d", time.Now().UnixNano())
	tb.do(t, "write console marker", chromedp.Evaluate[chromedp.Void](fmt.Sprintf("console.debug(%q)", marker)))
	for {
		tb.mu.Lock()
		msgs := append([]chromedp.ConsoleMessage(nil), tb.msgs...)
		tb.mu.Unlock()
		seen := false
		for _, m := range msgs {
			if m.Text == marker {
				seen = true
			}
		}
		if seen {
			for _, m := range msgs {
				switch {
				case m.Text == marker:
				case m.Type == chromedp.ConsoleError || m.IsException():
					if allow != nil && allow(m) {
						t.Logf("expected console entry: %s (%s)", m, m.URL)
						continue
					}
					t.Errorf("console %s: %s (source %q, %s:%d)", m.Type, m.Text, m.Source, m.URL, m.Line)
				case m.Type == chromedp.ConsoleWarning:
					t.Logf("console warning: %s (%s)", m.Text, m.URL)
				}
			}
			return
		}
		select {
		case <-tb.arrived:
		case <-tb.ctx.Done():
			t.Fatalf("console marker never arrived: %v", tb.ctx.Err())
		}
	}
}

// forbiddenResponse accepts the browser's own log line for an API answer of
// 403, which is what a wrong key gets.
func forbiddenResponse(m chromedp.ConsoleMessage) bool {
	return m.Source == "network" && strings.Contains(m.Text, "status of 403") && strings.Contains(m.URL, "/v1/")
}

// backend is what the browser cases need from the server under test.
type backend struct {
	pageURL string // the page, served beside the API
	apiKey  string
}

// writeColorJPEG writes a colourful w×h JPEG: the gray result of it must
// differ visibly from it.
func writeColorJPEG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{
				R: uint8(255 * x / (w - 1)),
				G: uint8(255 * y / (h - 1)),
				B: uint8(255 - 255*x/(w-1)),
				A: 255,
			})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func screenshotDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("IMAGEPIPE_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func saveScreenshot(t *testing.T, tb *tab, name string) string {
	t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(screenshotDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// openPage loads the page in a new tab and enters the key the way a person
// does: type it, press Save.
func openPage(t *testing.T, browser context.Context, b backend, key string) *tab {
	t.Helper()
	tb := openTab(t, browser)
	tb.do(t, "open page", chromedp.Navigate(b.pageURL))
	waitFor(t, tb, "the page is ready", `document.body.dataset.ready === "true"`)
	tb.do(t, "enter key",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#api-key").value = ""`),
		chromedp.SendKeys(chromedp.ID("api-key"), key),
		chromedp.Click(chromedp.ID("key-save")),
	)
	waitFor(t, tb, "the key is saved", `document.querySelector("#key-status").textContent.includes("saved")`)
	return tb
}

// uploadAndWait chooses files through the file input and waits until every
// card has finished, one way or the other.
func uploadAndWait(t *testing.T, tb *tab, files ...string) {
	t.Helper()
	tb.do(t, "choose files", chromedp.SetUploadFiles(chromedp.ID("pick"), files))
	waitFor(t, tb, "the cards are finished", fmt.Sprintf(
		`document.querySelectorAll(".card").length === %d &&
		 [...document.querySelectorAll(".card")].every(c => c.dataset.state === "failed" ||
		   (c.dataset.state === "done" && c.querySelector("img.gray")?.dataset.loaded === "true" &&
		     c.querySelector("img.original")?.dataset.loaded === "true"))`, len(files)))
}

type cardView struct {
	State     string `json:"state"`
	ErrorKind string `json:"errorKind"`
	ErrorCode string `json:"errorCode"`
	ErrorText string `json:"errorText"`
	Progress  string `json:"progress"`
	Facts     string `json:"facts"`
	Message   string `json:"message"`
}

func cards(t *testing.T, tb *tab) []cardView {
	t.Helper()
	return eval[[]cardView](t, tb, `[...document.querySelectorAll(".card")].map(c => ({
		state: c.dataset.state || "",
		errorKind: c.dataset.errorKind || "",
		errorCode: c.dataset.errorCode || "",
		errorText: c.querySelector(".error").hidden ? "" :
			c.querySelector(".error-text").textContent + " " + c.querySelector(".error-code").textContent,
		progress: c.dataset.progress || "",
		facts: c.querySelector(".facts").textContent,
		message: c.querySelector(".message").textContent,
	}))`)
}

// pixelStats draws an image of the page to a canvas and reports how far its
// channels are apart and how much its brightness varies.
type pixelStats struct {
	Width, Height int
	Samples       int
	MaxChanDiff   int // max |r-g|, |r-b|, |g-b| over the samples
	MinR, MaxR    int
}

const samplePixels = `async (img) => {
	if (!img) throw new Error("no image");
	await img.decode();
	const c = document.createElement("canvas");
	c.width = img.naturalWidth;
	c.height = img.naturalHeight;
	const g = c.getContext("2d");
	g.drawImage(img, 0, 0);
	const d = g.getImageData(0, 0, c.width, c.height).data; // throws if tainted
	const s = {width: c.width, height: c.height, samples: 0, maxChanDiff: 0, minR: 255, maxR: 0};
	for (let i = 0; i < d.length; i += 4 * 13) {
		const r = d[i], gr = d[i + 1], b = d[i + 2];
		s.maxChanDiff = Math.max(s.maxChanDiff, Math.abs(r - gr), Math.abs(r - b), Math.abs(gr - b));
		s.minR = Math.min(s.minR, r);
		s.maxR = Math.max(s.maxR, r);
		s.samples++;
	}
	return s;
}`

func samplePage(t *testing.T, tb *tab, selector string) pixelStats {
	t.Helper()
	return eval[pixelStats](t, tb, fmt.Sprintf(`(%s)(document.querySelector(%q))`, samplePixels, selector))
}

// runPageCases runs the browser cases of issue 6 against a backend and
// returns the browser for more cases.
func runPageCases(t *testing.T, b backend) context.Context {
	browser := startBrowser(t)
	dir := t.TempDir()
	photo := filepath.Join(dir, "colors.jpg")
	writeColorJPEG(t, photo, 320, 240)
	notImage := filepath.Join(dir, "notes.jpg")
	if err := os.WriteFile(notImage, []byte("this is a text file, not a picture\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("jpeg turns gray", func(t *testing.T) {
		tb := openPage(t, browser, b, b.apiKey)
		uploadAndWait(t, tb, photo)
		cs := cards(t, tb)
		if len(cs) != 1 || cs[0].State != "done" {
			t.Fatalf("cards = %+v, want one done\npage:\n%s", cs, tb.pageText())
		}
		if cs[0].Progress != "100" {
			t.Errorf("upload progress = %q, want 100 (from XHR upload progress events)", cs[0].Progress)
		}
		for _, want := range []string{"Original320 × 240", "Gray320 × 240", "Thumbnail", "total"} {
			if !strings.Contains(cs[0].Facts, want) {
				t.Errorf("facts %q lack %q", cs[0].Facts, want)
			}
		}

		gray := samplePage(t, tb, ".card img.gray")
		if gray.Width != 320 || gray.Height != 240 {
			t.Errorf("gray image is %d×%d, want 320×240", gray.Width, gray.Height)
		}
		if gray.Samples < 1000 {
			t.Errorf("only %d pixels sampled", gray.Samples)
		}
		if gray.MaxChanDiff > 1 {
			t.Errorf("shown result is not gray: channels differ by up to %d", gray.MaxChanDiff)
		}
		if gray.MaxR-gray.MinR < 60 {
			t.Errorf("shown result is flat (brightness %d…%d), want the gradient's range", gray.MinR, gray.MaxR)
		}
		orig := samplePage(t, tb, ".card img.original")
		if orig.MaxChanDiff < 100 {
			t.Errorf("shown original is not the colourful upload: channels differ by only %d", orig.MaxChanDiff)
		}
		thumb := samplePage(t, tb, ".card img.thumb")
		if thumb.Width >= 320 || thumb.Width == 0 || thumb.MaxChanDiff > 1 {
			t.Errorf("thumbnail %+v: want a smaller gray image", thumb)
		}
		href := eval[string](t, tb, `document.querySelector(".card a.gray-link").href`)
		if !strings.HasPrefix(href, "http") {
			t.Errorf("download link = %q", href)
		}
		saveScreenshot(t, tb, "upload-page.png")

		// Phone width: nothing may stick out sideways.
		tb.do(t, "phone viewport", chromedp.EmulateViewport(390, 844))
		if !eval[bool](t, tb, `document.documentElement.scrollWidth <= window.innerWidth`) {
			w := eval[int](t, tb, `document.documentElement.scrollWidth`)
			t.Errorf("at 390 px wide the page is %d px wide", w)
		}
		saveScreenshot(t, tb, "upload-page-phone.png")
		tb.checkConsole(t, nil)
	})

	t.Run("text named .jpg fails as not an image", func(t *testing.T) {
		tb := openPage(t, browser, b, b.apiKey)
		uploadAndWait(t, tb, notImage)
		cs := cards(t, tb)
		if len(cs) != 1 || cs[0].State != "failed" {
			t.Fatalf("cards = %+v, want one failed", cs)
		}
		c := cs[0]
		if c.ErrorKind != "failed" || c.ErrorCode != "not_an_image" {
			t.Errorf("error kind/code = %q/%q, want failed/not_an_image", c.ErrorKind, c.ErrorCode)
		}
		for _, want := range []string{"Processing failed", "not an image", "not_an_image"} {
			if !strings.Contains(c.ErrorText, want) {
				t.Errorf("message %q lacks %q", c.ErrorText, want)
			}
		}
		saveScreenshot(t, tb, "upload-page-not-an-image.png")
		tb.checkConsole(t, nil)
	})

	t.Run("wrong key is named, and a corrected key retries", func(t *testing.T) {
		tb := openPage(t, browser, b, "not-the-key-"+b.apiKey)
		uploadAndWait(t, tb, photo)
		cs := cards(t, tb)
		if len(cs) != 1 || cs[0].ErrorKind != "forbidden" {
			t.Fatalf("cards = %+v, want one refused for its key", cs)
		}
		if !strings.Contains(cs[0].ErrorText, "API key was refused") {
			t.Errorf("message %q does not say the key was refused", cs[0].ErrorText)
		}
		if got := eval[string](t, tb, `document.querySelector("#key-status").textContent`); !strings.Contains(got, "refused") {
			t.Errorf("key status %q does not say the key was refused", got)
		}
		if eval[string](t, tb, `document.querySelector("#api-key").getAttribute("aria-invalid") || ""`) != "true" {
			t.Error("key field is not marked invalid")
		}
		saveScreenshot(t, tb, "upload-page-wrong-key.png")

		tb.do(t, "correct the key",
			chromedp.Evaluate[chromedp.Void](`document.querySelector("#api-key").value = ""`),
			chromedp.SendKeys(chromedp.ID("api-key"), b.apiKey),
			chromedp.Click(chromedp.ID("key-save")),
		)
		waitFor(t, tb, "the refused file is tried again with the new key",
			`document.querySelector(".card")?.dataset.state === "failed" ||
			 (document.querySelector(".card")?.dataset.state === "done" &&
			  document.querySelector(".card img.gray")?.dataset.loaded === "true")`)
		if c := cards(t, tb); c[0].State != "done" {
			t.Fatalf("after correcting the key: %+v, want done", c[0])
		}
		tb.checkConsole(t, forbiddenResponse)
	})

	t.Run("several images dropped at once", func(t *testing.T) {
		tb := openPage(t, browser, b, b.apiKey)
		// Drop three PNGs drawn in the page, as a file manager's drag does.
		tb.do(t, "drop files", chromedp.Evaluate[chromedp.Void](`(async () => {
			const dt = new DataTransfer();
			for (const [i, colour] of ["#d33", "#3a3", "#33d"].entries()) {
				const c = document.createElement("canvas");
				c.width = 48 + i * 16;
				c.height = 32;
				const g = c.getContext("2d");
				g.fillStyle = colour;
				g.fillRect(0, 0, c.width, c.height);
				g.fillStyle = "#fff";
				g.fillRect(4, 4, 12, 12);
				const blob = await new Promise((resolve) => c.toBlob(resolve, "image/png"));
				dt.items.add(new File([blob], "dropped-" + i + ".png", {type: "image/png"}));
			}
			const zone = document.querySelector("#drop");
			zone.dispatchEvent(new DragEvent("dragenter", {dataTransfer: dt, bubbles: true, cancelable: true}));
			zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
			if (!zone.classList.contains("dragging")) throw new Error("drop zone not highlighted while dragging");
			zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
		})()`, chromedp.EvalAwaitPromise))
		waitFor(t, tb, "three dropped images are finished", `document.querySelectorAll(".card").length === 3 &&
			[...document.querySelectorAll(".card")].every(c => c.dataset.state === "failed" ||
				(c.dataset.state === "done" && c.querySelector("img.gray")?.dataset.loaded === "true"))`)
		for i, c := range cards(t, tb) {
			if c.State != "done" {
				t.Fatalf("dropped image %d: %+v, want done", i, c)
			}
		}
		if eval[bool](t, tb, `document.querySelector("#drop").classList.contains("dragging")`) {
			t.Error("drop zone still highlighted after the drop")
		}
		for i, wantWidth := range []int{48, 64, 80} {
			st := samplePage(t, tb, fmt.Sprintf(`.card:nth-child(%d) img.gray`, i+1))
			if st.Width != wantWidth || st.MaxChanDiff > 1 {
				t.Errorf("dropped image %d: gray result %+v, want %d px wide and gray", i, st, wantWidth)
			}
		}
		tb.checkConsole(t, nil)
	})

	t.Run("keyboard order and remembered key", func(t *testing.T) {
		tb := openPage(t, browser, b, b.apiKey)
		tb.do(t, "reload", chromedp.Reload())
		waitFor(t, tb, "the page is ready again", `document.body.dataset.ready === "true"`)
		if got := eval[string](t, tb, `document.querySelector("#api-key").value`); got != b.apiKey {
			t.Errorf("after reload the key field holds %q, want the saved key", got)
		}

		tb.do(t, "focus the key field", chromedp.Focus(chromedp.ID("api-key")))
		want := []string{"key-show", "advanced-summary", "key-save", "key-forget", "pick"}
		for _, id := range want {
			tb.do(t, "press Tab", chromedp.KeyEvent(kb.Tab))
			if got := eval[string](t, tb, `document.activeElement.id`); got != id {
				t.Fatalf("Tab moved focus to %q, want %q (order %v)", got, id, want)
			}
		}
		// The focused file chooser shows a focus ring on the drop zone.
		outline := eval[string](t, tb, `getComputedStyle(document.querySelector("#drop")).outlineStyle`)
		if outline == "none" {
			t.Error("drop zone shows no focus outline while the file input has focus")
		}
		// Every form control has a label.
		unlabelled := eval[[]string](t, tb, `[...document.querySelectorAll("input, button")]
			.filter(e => !(e.labels?.length || e.textContent.trim() || e.getAttribute("aria-label")))
			.map(e => e.id || e.outerHTML)`)
		if len(unlabelled) > 0 {
			t.Errorf("controls without a label: %v", unlabelled)
		}

		tb.do(t, "forget the key", chromedp.Focus(chromedp.ID("key-forget")), chromedp.KeyEvent(kb.Enter))
		waitFor(t, tb, "the key is forgotten", `document.querySelector("#key-status").textContent.includes("forgotten")`)
		if got := eval[string](t, tb, `localStorage.getItem("imagepipe.apiKey") ?? "(none)"`); got != "(none)" {
			t.Errorf("localStorage still holds key %q", got)
		}
		if got := eval[string](t, tb, `document.activeElement.id`); got != "api-key" {
			t.Errorf("after forgetting, focus is on %q, want the key field", got)
		}
		tb.checkConsole(t, nil)
	})
	return browser
}
