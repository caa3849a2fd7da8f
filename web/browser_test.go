package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/imagepipe/imagepipe/local/localtest"
	"golang.org/x/image/tiff"
)

// The browser tests drive the real page in headless Chromium. They need a
// chromium binary and axe-core (npm ci --prefix web/testdata/axe): without
// them they skip, except under CI, where they fail.
//
// IMAGEPIPE_CHROMIUM overrides the browser path; IMAGEPIPE_SCREENSHOT_DIR
// keeps the screenshots and the accessibility reports somewhere that
// outlives the test (default: the test's temp dir);
// IMAGEPIPE_README_SCREENSHOT=1 writes the README's docs/upload-page.png.

// caseTimeout bounds each browser case; every wait inside is a condition.
const caseTimeout = 2 * time.Minute

// axeSource is axe-core, pinned in web/testdata/axe/package.json.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		localtest.Needed(t, "axe-core is not installed: npm ci --prefix web/testdata/axe ("+err.Error()+")")
	}
	return string(b)
}

// startBrowser starts one headless Chromium with an empty profile that
// saves downloads in downloadDir, and returns its context.
func startBrowser(t *testing.T, downloadDir string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(localtest.Chromium(t)),
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
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1200, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc) // waits for the browser process to end
	browser, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.CallBrowser(browser, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloadDir, EventsEnabled: new(true),
	}); err != nil {
		t.Fatalf("set download behaviour: %v", err)
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
// console. The returned tab's context carries the test's deadline budget.
func openTab(t *testing.T, browser context.Context, budget time.Duration) *tab {
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
	ctx, cancel := context.WithTimeout(tabCtx, budget)
	t.Cleanup(cancel)
	tb.ctx = ctx
	return tb
}

func (tb *tab) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		t.Fatalf("%s: %v\npage text:\n%s", what, err, tb.pageText())
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

// waitFor waits until the JavaScript condition is true in the page. It
// looks again on every change of the DOM and every 100 ms (for conditions
// on the clock).
func waitFor(t *testing.T, tb *tab, what, cond string) {
	t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](cond,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(caseTimeout)))
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
// the page produced since the last check, except those allow accepts. It
// first writes a marker through the page's console and waits for it, so
// that every message the page wrote before is in.
func (tb *tab) checkConsole(t *testing.T, allow func(chromedp.ConsoleMessage) bool) {
	t.Helper()
	marker := fmt.Sprintf("imagepipe-test-marker-%d", time.Now().UnixNano())
	tb.do(t, "write console marker", chromedp.Evaluate[chromedp.Void](fmt.Sprintf("console.debug(%q)", marker)))
	for {
		tb.mu.Lock()
		msgs := append([]chromedp.ConsoleMessage(nil), tb.msgs...)
		tb.mu.Unlock()
		end := -1
		for i, m := range msgs {
			if m.Text == marker {
				end = i
			}
		}
		if end >= 0 {
			for _, m := range msgs[:end] {
				switch {
				case strings.HasPrefix(m.Text, "imagepipe-test-marker-"):
				case m.Type == chromedp.ConsoleError || m.IsException():
					if keyProbe(m) || (allow != nil && allow(m)) {
						t.Logf("expected console entry: %s (%s)", m.Text, m.URL)
						continue
					}
					t.Errorf("console %s: %s (source %q, %s:%d)", m.Type, m.Text, m.Source, m.URL, m.Line)
				case m.Type == chromedp.ConsoleWarning:
					t.Logf("console warning: %s (%s)", m.Text, m.URL)
				}
			}
			tb.mu.Lock()
			tb.msgs = tb.msgs[end+1:]
			tb.mu.Unlock()
			return
		}
		select {
		case <-tb.arrived:
		case <-tb.ctx.Done():
			t.Fatalf("console marker never arrived: %v", tb.ctx.Err())
		}
	}
}

// keyProbe is the browser's log line for the page's key check: GET of an
// image id nothing has, 404 when the key works.
func keyProbe(m chromedp.ConsoleMessage) bool {
	return networkRefusal("/v1/images/00000000000000000000000000000000", 404)(m)
}

// networkRefusal accepts the browser's own log line for an answer with one
// of the statuses from a URL containing part: what a wrong key (403 from
// the API) or an expired link (403 from storage) gets.
func networkRefusal(part string, statuses ...int) func(chromedp.ConsoleMessage) bool {
	return func(m chromedp.ConsoleMessage) bool {
		if m.Source != "network" || !strings.Contains(m.URL, part) {
			return false
		}
		for _, s := range statuses {
			if strings.Contains(m.Text, fmt.Sprintf("status of %d", s)) {
				return true
			}
		}
		return false
	}
}

// throttleUploads slows every request's upload to bytesPerSecond (0: no
// throttling), so that the uploading state can be seen.
func throttleUploads(t *testing.T, tb *tab, bytesPerSecond float64) {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	conds := []*network.Conditions{}
	if bytesPerSecond > 0 {
		conds = append(conds, &network.Conditions{UploadThroughput: bytesPerSecond, DownloadThroughput: -1})
	}
	if _, err := chromedp.Call(tb.ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: conds}); err != nil {
		t.Fatalf("throttle uploads: %v", err)
	}
}

// --- test images --------------------------------------------------------------

// colourful is a w×h gradient: its gray result must differ visibly from it.
func colourful(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: uint8(255 * x / (w - 1)), G: uint8(255 * y / (h - 1)), B: uint8(255 - 255*x/(w-1)), A: 255})
		}
	}
	return img
}

func writeImage(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch filepath.Ext(path) {
	case ".jpg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92})
	case ".png":
		err = png.Encode(&buf, img)
	case ".tiff":
		err = tiff.Encode(&buf, img, &tiff.Options{Compression: tiff.Deflate})
	default:
		t.Fatalf("no encoder for %s", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// noisyJPEG is a JPEG large enough that a throttled upload takes a while.
func noisyJPEG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := colourful(w, h)
	seed := uint32(1)
	for i := 0; i < len(img.Pix); i += 4 {
		seed = seed*1664525 + 1013904223
		img.Pix[i] ^= uint8(seed >> 24)
		img.Pix[i+1] ^= uint8(seed >> 16)
	}
	writeImage(t, path, img)
}

// --- looking at the page ---------------------------------------------------------

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

// tileView is what a test reads of one tile or failure line.
type tileView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	State       string `json:"state"`
	Text        string `json:"text"`
	Progress    string `json:"progress"`
	ThumbLoaded bool   `json:"thumbLoaded"`
	ErrorCode   string `json:"errorCode"`
	ErrorKind   string `json:"errorKind"`
}

func tiles(t *testing.T, tb *tab) []tileView {
	t.Helper()
	return eval[[]tileView](t, tb, `[...document.querySelectorAll("#results .tile")].map(e => ({
		id: e.dataset.imageId || "", name: e.querySelector(".name").textContent, state: e.dataset.state,
		text: e.querySelector(".state").textContent, progress: e.dataset.progress || "",
		thumbLoaded: e.querySelector("img.thumb").dataset.loaded === "true" && !e.querySelector("img.thumb").hidden,
	}))`)
}

func failures(t *testing.T, tb *tab) []tileView {
	t.Helper()
	return eval[[]tileView](t, tb, `[...document.querySelectorAll("#failed .line")].map(e => ({
		id: e.dataset.imageId || "", name: e.querySelector(".name").textContent, state: e.dataset.state,
		text: e.querySelector(".line-text").textContent, errorCode: e.dataset.errorCode || "", errorKind: e.dataset.errorKind || "",
	}))`)
}

// --- screenshots and accessibility ----------------------------------------------

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

// viewports are the sizes every state is looked at in: a laptop and a phone.
var viewports = []struct {
	name          string
	width, height int64
	mobile        bool
}{
	{"desktop", 1200, 900, false},
	{"phone", 390, 844, true},
}

// look takes the screenshots of a state at both sizes (whole page), checks
// that nothing sticks out sideways on the phone, and runs axe-core on it:
// no serious or critical violation may remain. Every violation found is
// written beside the screenshots.
func look(t *testing.T, tb *tab, dir, axe, name string) {
	t.Helper()
	for _, vp := range viewports {
		var opts []chromedp.EmulateViewportOption
		if vp.mobile {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
		}
		tb.do(t, "viewport "+vp.name, chromedp.EmulateViewport(vp.width, vp.height, opts...))
		if vp.mobile && !eval[bool](t, tb, `document.documentElement.scrollWidth <= window.innerWidth`) {
			t.Errorf("%s: at %d px wide the page is %d px wide", name, vp.width, eval[int](t, tb, `document.documentElement.scrollWidth`))
		}
		shot, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", name, vp.name))
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		runAxe(t, tb, axe, filepath.Join(dir, fmt.Sprintf("%s-%s.axe.json", name, vp.name)), name+" ("+vp.name+")")
	}
	tb.do(t, "desktop viewport", chromedp.ResetViewport())
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

func runAxe(t *testing.T, tb *tab, source, reportPath, what string) {
	t.Helper()
	if !eval[bool](t, tb, `typeof window.axe === "object"`) {
		tb.do(t, "load axe-core", chromedp.Evaluate[chromedp.Void](source))
	}
	vs := eval[[]axeViolation](t, tb, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
		id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
	})))`)
	raw, _ := json.MarshalIndent(vs, "", "  ")
	if err := os.WriteFile(reportPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	var bad, other []string
	for _, v := range vs {
		s := fmt.Sprintf("%s (%s): %s %v", v.ID, v.Impact, v.Help, v.Nodes)
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, s)
		} else {
			other = append(other, s)
		}
	}
	t.Logf("axe %s: %d violations (%d serious or critical)%s", what, len(vs), len(bad), strings.Join(append([]string{""}, other...), "\n  "))
	for _, s := range bad {
		t.Errorf("axe %s: %s", what, s)
	}
}
