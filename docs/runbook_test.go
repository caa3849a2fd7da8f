package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// runbookSections maps the runbook's "## " sections by heading to their
// text. (Which alarm links which section, and that the section names the
// alarm, is terraform's HCL check: package terraform, "alarm
// descriptions".)
func runbookSections(t *testing.T) (map[string]string, []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	var order []string
	cur := ""
	inFence := false
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if h, ok := strings.CutPrefix(line, "## "); ok && !inFence {
			cur = h
			order = append(order, h)
			continue
		}
		if cur != "" {
			sections[cur] += line + "\n"
		}
	}
	return sections, order
}

// TestRunbookSectionsSayWhatToDo: every section after the first (which
// sets the names up) says what it means, where to look, and what to run
// locally and on AWS, with a command for each.
func TestRunbookSectionsSayWhatToDo(t *testing.T) {
	sections, order := runbookSections(t)
	if len(order) < 10 {
		t.Fatalf("the runbook has %d sections", len(order))
	}
	for _, h := range order[1:] {
		text := sections[h]
		for _, label := range []string{"**What it means.**", "**Where to look.**", "**Locally.**", "**On AWS.**"} {
			if !strings.Contains(text, label) {
				t.Errorf("runbook section %q lacks %s", h, label)
			}
		}
		_, aws, _ := strings.Cut(text, "**On AWS.**")
		if !strings.Contains(aws, "```sh") && !strings.Contains(aws, "`aws ") && !strings.Contains(aws, "`imagepipe ") {
			t.Errorf("runbook section %q gives no command to run on AWS", h)
		}
	}
}

// A user sees these failures without an alarm; each has its section.
var userFailures = []string{
	"An image stuck pending", "An image stuck processing", "An image expired", "An image failed",
	"Dead-letter queue", "Replay needed", "API 403 Forbidden", "API 429 Too Many Requests",
	"API 5xx errors", "The uploads bucket full of old uploads",
}

func TestRunbookCoversUserFailures(t *testing.T) {
	sections, _ := runbookSections(t)
	for _, h := range userFailures {
		if _, ok := sections[h]; !ok {
			t.Errorf("the runbook has no section %q", h)
		}
	}
}

// errorCodes are the codes a failed image can carry, read from the code
// that makes them: imaging's sentinels, the worker's own, the status's.
func errorCodes(t *testing.T) map[string]string {
	t.Helper()
	codes := map[string]string{}
	for file, re := range map[string]*regexp.Regexp{
		"imaging/errors.go":            regexp.MustCompile(`&Error\{Code: "([a-z_]+)"\}`),
		"functions/process/handler.go": regexp.MustCompile(`\bCode[A-Z]\w*\s*=\s*"([a-z_]+)"`),
		"functions/status/status.go":   regexp.MustCompile(`\bCode[A-Z]\w*\s*=\s*"([a-z_]+)"`),
	} {
		raw, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		found := re.FindAllStringSubmatch(string(raw), -1)
		if len(found) == 0 {
			t.Fatalf("%s: no error code found; the pattern of this test is out of date", file)
		}
		for _, m := range found {
			codes[m[1]] = file
		}
	}
	return codes
}

// TestRunbookCoversErrorCodes: every code a failed or expired image can
// carry has a row in "An image failed" (or, for the expired upload, its own
// section) saying what it means and what to do.
func TestRunbookCoversErrorCodes(t *testing.T) {
	sections, _ := runbookSections(t)
	codes := errorCodes(t)
	var names []string
	for c := range codes {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		section := "An image failed"
		if c == "upload_expired" {
			section = "An image expired"
		}
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(c) + "` \\|[^|]+\\|[^|]+\\|$")
		if section == "An image failed" && !row.MatchString(sections[section]) {
			t.Errorf("runbook %q has no row for %s (from %s): | `%s` | meaning | what to do |", section, c, codes[c], c)
		}
		if !strings.Contains(sections[section], "`"+c+"`") {
			t.Errorf("runbook %q does not name %s (from %s)", section, c, codes[c])
		}
	}
}

// TestRunbookCommandsParse: every shell block of the runbook is valid
// shell (its commands name an image as ID and a stack as $STACK, so they
// are not run here).
func TestRunbookCommandsParse(t *testing.T) {
	n := 0
	for _, f := range fences(t, filepath.Join(root, "docs", "runbook.md")) {
		if f.lang != "sh" {
			continue
		}
		n++
		if err := syntaxCheck(f.body); err != nil {
			t.Errorf("%s: %v", f.where(), err)
		}
	}
	if n < 15 {
		t.Errorf("only %d sh blocks in the runbook", n)
	}
}
