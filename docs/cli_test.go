package docs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// cliCall is an imagepipe command line in a document: the binary (bin/
// or on PATH, or go run ./cmd/imagepipe), the command, maybe a subcommand,
// and the rest of the line.
var cliCall = regexp.MustCompile(`(?:^|[\s;&|(])(?:bin/imagepipe|imagepipe|go run \./cmd/imagepipe)\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?([^;&|)]*)`)

var cliFlag = regexp.MustCompile(`(?:^|\s)--?([a-z][a-z0-9-]*)`)

// use is one way a document calls the CLI: a command, maybe a subcommand
// (or the first argument, for commands without subcommands), its flags.
type use struct {
	cmd, sub string
	flags    []string
	at       string
}

// TestDocumentedCommandsExist: every imagepipe command line the README
// and the runbook tell someone to run names a command of the CLI (its
// --help succeeds), a subcommand of it where it has subcommands, and only
// flags its --help lists.
func TestDocumentedCommandsExist(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "imagepipe")
	build := exec.Command("go", "build", "-o", bin, "./cmd/imagepipe")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/imagepipe: %v\n%s", err, out)
	}
	helps := map[string]string{}
	help := func(args ...string) (string, bool) {
		key := strings.Join(args, " ")
		if h, ok := helps[key]; ok {
			return h, h != ""
		}
		out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput()
		if err != nil {
			helps[key] = ""
			return string(out), false
		}
		helps[key] = string(out)
		return string(out), true
	}
	var uses []use
	for _, doc := range []string{"README.md", filepath.Join("docs", "runbook.md")} {
		for _, f := range fences(t, filepath.Join(root, doc)) {
			if f.lang != "sh" && f.lang != "bash" && f.lang != "shell" {
				continue
			}
			for i, line := range strings.Split(f.body, "\n") {
				if c := strings.Index(line, "#"); c >= 0 {
					line = line[:c] // a comment, or the output shown after one
				}
				for _, m := range cliCall.FindAllStringSubmatch(line, -1) {
					u := use{cmd: m[1], sub: m[2], at: doc + ":" + strconv.Itoa(f.line+1+i)}
					for _, fl := range cliFlag.FindAllStringSubmatch(m[3], -1) {
						u.flags = append(u.flags, fl[1])
					}
					uses = append(uses, u)
				}
			}
		}
	}
	if len(uses) < 10 {
		t.Fatalf("only %d imagepipe command lines found in the documents: the pattern no longer finds them", len(uses))
	}
	sort.SliceStable(uses, func(i, j int) bool { return uses[i].cmd < uses[j].cmd })
	reported := map[string]bool{}
	report := func(key, format string, args ...any) {
		if !reported[key] {
			reported[key] = true
			t.Errorf(format, args...)
		}
	}
	for _, u := range uses {
		out, ok := help(u.cmd)
		if !ok {
			report(u.cmd, "%s: imagepipe %s is not a command of the CLI:\n%s", u.at, u.cmd, out)
			continue
		}
		// Only commands that list subcommands have them; for the others the
		// second word is an argument (a file, an image id).
		args := []string{u.cmd}
		if u.sub != "" && strings.Contains(out, "Subcommands:") {
			args = append(args, u.sub)
			if out, ok = help(args...); !ok {
				report(u.cmd+" "+u.sub, "%s: imagepipe %s %s is not a subcommand of the CLI:\n%s", u.at, u.cmd, u.sub, out)
				continue
			}
		}
		for _, fl := range u.flags {
			if !regexp.MustCompile(`(?m)^\s+--?` + regexp.QuoteMeta(fl) + `\b`).MatchString(out) {
				report(strings.Join(args, " ")+" --"+fl, "%s: imagepipe %s has no flag --%s (its --help):\n%s", u.at, strings.Join(args, " "), fl, out)
			}
		}
	}
}

// TestDocumentedOutputsExist: every Terraform output the documents tell
// someone to read (`terraform output -raw NAME`, "the `NAME` output") is an
// output of terraform/.
func TestDocumentedOutputsExist(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "terraform", "outputs.tf"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^output "([a-z0-9_]+)"`).FindAllStringSubmatch(string(raw), -1) {
		have[m[1]] = true
	}
	mention := regexp.MustCompile("output -raw ([a-z0-9_]+)|`([a-z0-9_]+)` outputs?\\b")
	n := 0
	for _, doc := range documents(t) {
		text, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mention.FindAllStringSubmatch(string(text), -1) {
			name := m[1] + m[2]
			n++
			if !have[name] {
				t.Errorf("%s names the Terraform output %s, which terraform/outputs.tf does not have", doc, name)
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d outputs named in the documents: the pattern no longer finds them", n)
	}
}
