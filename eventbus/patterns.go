package eventbus

import (
	"embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

//go:embed patterns/*.json
var patternFiles embed.FS

// Patterns, one per file under patterns/ (the file is <name>.json). A
// stack names the rule of a pattern RuleName(stack, pattern):
// "imagepipe-uploads-to-queue" locally and for Terraform's default name.
const (
	RuleUploadsToQueue      = "uploads-to-queue"
	RuleCompletionsToNotify = "completions-to-notify"
)

// Archives, by what they keep. A stack names them ArchiveName(stack, ...):
// "imagepipe-uploads" (S3 upload events on the default bus) and
// "imagepipe-completions" (every event on the stack's bus).
const (
	ArchiveUploads     = "uploads"
	ArchiveCompletions = "completions"
)

// RuleName is the name a stack gives the rule of a pattern, the same in
// the local stack and in Terraform ("${var.name}-<pattern>").
func RuleName(stack, pattern string) string { return stack + "-" + pattern }

// ArchiveName is the name a stack gives one of its archives, the same in
// the local stack and in Terraform ("${var.name}-uploads").
func ArchiveName(stack, archive string) string { return stack + "-" + archive }

var placeholder = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}`)

// RulePattern returns the pattern of the named rule with its ${name}
// placeholders filled from vars, the way Terraform's templatefile fills
// them. A placeholder without a value is an error.
func RulePattern(name string, vars map[string]string) (string, error) {
	raw, err := patternFiles.ReadFile("patterns/" + name + ".json")
	if err != nil {
		return "", fmt.Errorf("rule pattern %q: %w", name, err)
	}
	var missing []string
	out := placeholder.ReplaceAllStringFunc(string(raw), func(m string) string {
		key := placeholder.FindStringSubmatch(m)[1]
		v, ok := vars[key]
		if !ok {
			missing = append(missing, key)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", fmt.Errorf("rule pattern %q: no value for %s", name, strings.Join(missing, ", "))
	}
	return out, nil
}

// RuleNames lists the rules defined under patterns/.
func RuleNames() []string {
	entries, _ := patternFiles.ReadDir("patterns")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	return names
}
