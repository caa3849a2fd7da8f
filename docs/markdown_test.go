// Package docs_test keeps the project's documents honest: the README's
// shell blocks marked runnable are run against a local stack, every link to
// a file of the repository resolves, and the runbook has a section with
// what to do for every alarm and every failure a user can see.
package docs_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// root is the repository, from this package's directory.
const root = ".."

// fence is one fenced code block of a Markdown file.
type fence struct {
	file string
	line int    // of the opening fence, 1-based
	lang string // the info string's first word
	tags []string
	body string
}

func (f fence) where() string { return fmt.Sprintf("%s:%d", f.file, f.line) }

func (f fence) tagged(tag string) bool {
	for _, t := range f.tags {
		if t == tag {
			return true
		}
	}
	return false
}

// fences returns the fenced code blocks of a Markdown file (``` fences,
// not indented ones).
func fences(t *testing.T, path string) []fence {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []fence
	var cur *fence
	var body strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur == nil {
			if info, ok := strings.CutPrefix(trimmed, "```"); ok {
				f := strings.Fields(info)
				cur = &fence{file: path, line: n}
				if len(f) > 0 {
					cur.lang, cur.tags = f[0], f[1:]
				}
				body.Reset()
			}
			continue
		}
		if trimmed == "```" {
			cur.body = body.String()
			out = append(out, *cur)
			cur = nil
			continue
		}
		body.WriteString(line + "\n")
	}
	if cur != nil {
		t.Fatalf("%s: a fence opened and never closed", cur.where())
	}
	return out
}

// githubAnchor is the fragment GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// anchors are the fragments of a Markdown file's headings (outside code
// blocks), duplicates numbered as GitHub numbers them.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	out := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimLeft(line, "#")
		if !strings.HasPrefix(h, " ") {
			continue
		}
		a := githubAnchor(h)
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// documents are the Markdown files whose links are checked.
func documents(t *testing.T) []string {
	t.Helper()
	docs := []string{"README.md", "DESIGN.md", "terraform/README.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		rel, _ := filepath.Rel(root, m)
		docs = append(docs, rel)
	}
	return docs
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestLinksResolve: every link of the documents to a file of the repository
// names a file or directory that exists, and a fragment names a heading of
// the Markdown file it points into.
func TestLinksResolve(t *testing.T) {
	checked := 0
	for _, doc := range documents(t) {
		path := filepath.Join(root, doc)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// Links inside code blocks are examples, not links.
		text := string(raw)
		for _, f := range fences(t, path) {
			text = strings.Replace(text, f.body, "", 1)
		}
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			dest := path
			if file != "" {
				dest = filepath.Join(filepath.Dir(path), file)
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s: link %q: %v", doc, target, err)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(dest, ".md") && !anchors(t, dest)[frag] {
				t.Errorf("%s: link %q: %s has no heading #%s", doc, target, strings.TrimPrefix(dest, "../"), frag)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Errorf("only %d links checked: the link pattern no longer finds them", checked)
	}
}
