package docs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// mermaidSource is mermaid's browser bundle, pinned in the Makefile
// (make mermaid).
func mermaidSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "mermaid.min.js"))
	if err != nil {
		localtest.Needed(t, "mermaid is not installed: make mermaid ("+err.Error()+")")
	}
	return string(b)
}

// TestREADMEDiagramRenders renders every mermaid block of the README with
// mermaid in headless Chromium, as the code host does, and checks that the
// drawing has the parts of the flow; a block that does not parse fails
// with mermaid's message. A broken diagram must fail the same way, or the
// check proves nothing.
func TestREADMEDiagramRenders(t *testing.T) {
	var diagrams []fence
	for _, f := range fences(t, filepath.Join(root, "README.md")) {
		if f.lang == "mermaid" {
			diagrams = append(diagrams, f)
		}
	}
	if len(diagrams) == 0 {
		t.Fatal("README.md has no mermaid diagram of the flow")
	}
	src := mermaidSource(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(localtest.Chromium(t)), chromedp.UserDataDir(t.TempDir()), chromedp.Headless, chromedp.NoSandbox,
		chromedp.NoFirstRun, chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Evaluate[chromedp.Void](src+";mermaid.initialize({startOnLoad:false})")); err != nil {
		t.Fatalf("load mermaid: %v", err)
	}
	render := func(id, diagram string) (string, error) {
		type result struct{ SVG, Err string }
		js := fmt.Sprintf(`mermaid.render(%q, %s).then(r => ({SVG: r.svg, Err: ""}), e => ({SVG: "", Err: String(e && e.message || e)}))`, id, jsString(diagram))
		out, err := chromedp.Run(ctx, chromedp.Evaluate[result](js, chromedp.EvalAwaitPromise))
		if err != nil {
			return "", err
		}
		if out.Err != "" {
			return "", fmt.Errorf("%s", out.Err)
		}
		return out.SVG, nil
	}
	for i, d := range diagrams {
		svg, err := render(fmt.Sprintf("readme%d", i), d.body)
		if err != nil {
			t.Errorf("%s: mermaid cannot render it: %v", d.where(), err)
			continue
		}
		// The flow's parts, as DESIGN.md §1 has them.
		for _, part := range []string{"presign", "S3 uploads bucket", "EventBridge default bus", "uploads-to-queue",
			"SQS process queue", "process function", "S3 processed bucket", "EventBridge bus imagepipe",
			"completions-to-notify", "notify function", "deadletter function", "DLQ"} {
			if !strings.Contains(svg, part) {
				t.Errorf("%s: the drawing lacks %q", d.where(), part)
			}
		}
	}
	// The rules it names are the ones Terraform and the local stack load.
	for _, rule := range []string{"uploads-to-queue", "completions-to-notify"} {
		if _, err := os.Stat(filepath.Join(root, "eventbus", "patterns", rule+".json")); err != nil {
			t.Errorf("the diagram names rule %s: %v", rule, err)
		}
	}
	if _, err := render("broken", "flowchart LR\n  a -- \"unclosed --> b\n"); err == nil {
		t.Error("a broken diagram rendered: the check cannot fail")
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
