package docs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMETop holds the README's first screen to its order: the two
// commands first (and true: the Makefile's run starts imagepipe dev, its
// test runs go test), then the diagram of the flow, the page's screenshot
// and a ten-line "What you get", all before the first section.
func TestREADMETop(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	end := strings.Index(text, "\n## ")
	if end < 0 {
		t.Fatal("README.md has no ## section")
	}
	top := text[:end]

	blocks := fences(t, filepath.Join(root, "README.md"))
	first := blocks[0]
	var cmds []string
	for _, l := range strings.Split(strings.TrimSpace(first.body), "\n") {
		cmds = append(cmds, strings.Fields(l)[0]+" "+strings.Fields(l)[1])
	}
	if first.lang != "sh" || strings.Join(cmds, ", ") != "make run, make test" {
		t.Errorf("%s: the README's first block must be `make run` and `make test`, it is %s %q", first.where(), first.lang, cmds)
	}
	if before := text[:strings.Index(text, "```")]; strings.Count(before, "\n") > 2 {
		t.Errorf("the two commands must come first, right under the title; before them:\n%s", before)
	}
	for target, want := range map[string]*regexp.Regexp{
		"run":  regexp.MustCompile(`(?s)\./cmd/imagepipe dev\b|\./cmd/imagepipe\b.*/imagepipe dev\b`), // run, or built and then run, from ./cmd/imagepipe
		"test": regexp.MustCompile(`\bgo test\b`),
	} {
		out, err := exec.Command("make", "-C", root, "-n", target).CombinedOutput()
		if !want.Match(out) {
			t.Errorf("make -n %s does not match %s (%v):\n%s", target, want, err, out)
		}
	}

	order := []struct {
		what string
		re   *regexp.Regexp
	}{
		{"the two commands", regexp.MustCompile("(?m)^```sh manual\nmake run ")},
		{"the diagram", regexp.MustCompile("(?m)^```mermaid\n")},
		{"the page's screenshot", regexp.MustCompile(`!\[[^\]]+\]\(docs/upload-page\.png\)`)},
		{"What you get", regexp.MustCompile(`(?m)^What you get:\n`)},
	}
	at := 0
	for _, o := range order {
		loc := o.re.FindStringIndex(top[at:])
		if loc == nil {
			t.Fatalf("the README's top lacks %s after the previous part (before the first section)", o.what)
		}
		at += loc[1]
	}
	var items int
	for _, l := range strings.Split(strings.TrimLeft(top[at:], "\n"), "\n") {
		if !strings.HasPrefix(l, "- ") {
			break
		}
		items++
	}
	if items != 10 {
		t.Errorf("What you get has %d lines, want 10", items)
	}
	if _, err := os.Stat(filepath.Join(root, "docs", "upload-page.png")); err != nil {
		t.Error(err)
	}
}
