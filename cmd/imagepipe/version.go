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
)

func init() {
	register(&command{name: "version", summary: "print the imagepipe version and the Go it was built with", run: runVersion})
}

const versionUsage = `Usage: imagepipe version [--json]

Prints the module version of this build (a tag, a pseudo-version from the
commit, or "(devel)"), the commit it was built from when known, and the Go
version and platform.

Example:
  imagepipe version
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

func readBuildVersion() buildVersion {
	v := buildVersion{Version: "(unknown)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
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
	rest, err := parseInterleaved(fs, args)
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
