package docs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// directRequires are the modules go.mod requires directly.
func directRequires(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var mods []string
	inBlock := false
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		}
		if rest, ok := strings.CutPrefix(line, "require "); ok {
			line, inBlock = rest, false
		} else if !inBlock {
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 && !strings.Contains(line, "// indirect") {
			mods = append(mods, f[0])
		}
	}
	return mods
}

// readmeSection is the text of the README's "## name" section.
func readmeSection(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "\n## "+name+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", name)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// TestChoicesNameEveryDependency: the README's Choices section names every
// module go.mod requires directly (an AWS SDK module may be named by its
// path below github.com/aws/aws-sdk-go-v2, as `…/service/s3`).
func TestChoicesNameEveryDependency(t *testing.T) {
	text := readmeSection(t, "Choices")
	mods := directRequires(t)
	if len(mods) < 10 {
		t.Fatalf("only %d direct requirements read from go.mod", len(mods))
	}
	for _, m := range mods {
		short := "`…" + strings.TrimPrefix(m, "github.com/aws/aws-sdk-go-v2") + "`"
		if !strings.Contains(text, "`"+m+"`") && (m == "github.com/aws/aws-sdk-go-v2" || !strings.HasPrefix(m, "github.com/aws/aws-sdk-go-v2/") || !strings.Contains(text, short)) {
			t.Errorf("go.mod requires %s, which the README's Choices section does not name and justify", m)
		}
	}
	for _, named := range []string{"github.com/nfnt/resize", "github.com/aws/aws-sdk-go-v2/feature/s3/manager"} {
		if !strings.Contains(text, "`"+named+"`") {
			t.Errorf("the Choices section does not say why %s is not used", named)
		}
	}
}
