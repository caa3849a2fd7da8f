package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"
)

func init() {
	register(&command{name: "version", summary: "print the imagepipe version and the Go it was built with", run: runVersion})
}

const versionUsage = `Usage: imagepipe version [--json]

Prints the module version of this build (a tag, or a pseudo-version from
the commit it was built from), the commit (with "modified" when the tree had
uncommitted changes), and the Go version and platform. imagepipe --version
is the same.

Example:
  imagepipe --version
  imagepipe version --json | jq -r .version

Flags:
`

// buildVersion describes this binary.
type buildVersion struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Time     string `json:"commit_time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// What `make build` and `make run` stamp with -ldflags -X when the Go
// toolchain records no VCS information itself (GOFLAGS=-buildvcs=false, a
// git worktree it cannot read).
var (
	vcsRevision string
	vcsTime     string
	vcsModified string
)

func readBuildVersion() buildVersion {
	v := buildVersion{Version: "(unknown)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Commit: vcsRevision, Time: vcsTime, Modified: vcsModified == "true"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	if info.GoVersion != "" {
		v.Go = info.GoVersion
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	if (v.Version == "(devel)" || v.Version == "(unknown)") && len(v.Commit) >= 12 {
		v.Version = pseudoVersion(v.Commit, v.Time, v.Modified)
	}
	return v
}

// pseudoVersion is the version the go command gives a build of an untagged
// commit (https://go.dev/ref/mod#pseudo-versions), +dirty when modified.
func pseudoVersion(commit, commitTime string, modified bool) string {
	stamp := "00000000000000"
	if t, err := time.Parse(time.RFC3339, commitTime); err == nil {
		stamp = t.UTC().Format("20060102150405")
	}
	v := "v0.0.0-" + stamp + "-" + commit[:12]
	if modified {
		v += "+dirty"
	}
	return v
}

// moduleVersion is the short version for User-Agent headers.
func moduleVersion() string { return readBuildVersion().Version }

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imagepipe version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), versionUsage)
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print one JSON object")
	rest, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "imagepipe version: unexpected argument %q\n", rest[0])
		fs.Usage()
		return 2
	}
	v := readBuildVersion()
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(v)
		return 0
	}
	line := "imagepipe " + v.Version
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		line += " (" + c
		if v.Modified {
			line += ", modified"
		}
		line += ")"
	}
	fmt.Fprintf(stdout, "%s %s %s\n", line, v.Go, v.Platform)
	return 0
}
