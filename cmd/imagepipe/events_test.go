package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testUploadPattern = `{"source":["aws.s3"],"detail":{"object":{"key":[{"prefix":"uploads/"}]}}}`
	testUploadEvent   = `{"source":"aws.s3","detail":{"object":{"key":"uploads/cat.jpg"}}}`
	testOutputEvent   = `{"source":"aws.s3","detail":{"object":{"key":"processed/cat/gray.jpg"}}}`
	testS3Event       = `{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"imagepipe-uploads"},"object":{"key":"uploads/cat.jpg"}}}`
)

func TestRunEventsTestPattern(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	patternFile := write("pattern.json", testUploadPattern)
	eventFile := write("event.json", testUploadEvent)
	otherEventFile := write("other.json", testOutputEvent)
	badPatternFile := write("bad.json", `{"source":"aws.s3"}`)
	missing := filepath.Join(dir, "missing.json")

	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // exact, when wantCode is 0 or 1
		wantStderr string // substring
	}{
		{name: "match inline", args: []string{"test-pattern", "--pattern", testUploadPattern, "--event", testUploadEvent}, wantCode: 0, wantStdout: "match\n"},
		{name: "no match inline", args: []string{"test-pattern", "--pattern", testUploadPattern, "--event", testOutputEvent}, wantCode: 1, wantStdout: "no match\n"},
		{name: "match from files", args: []string{"test-pattern", "--pattern", "@" + patternFile, "--event", "@" + eventFile}, wantCode: 0, wantStdout: "match\n"},
		{name: "no match from files", args: []string{"test-pattern", "--pattern=@" + patternFile, "--event=@" + otherEventFile}, wantCode: 1, wantStdout: "no match\n"},
		{name: "single dash flags", args: []string{"test-pattern", "-pattern", testUploadPattern, "-event", testUploadEvent}, wantCode: 0, wantStdout: "match\n"},
		{name: "invalid pattern", args: []string{"test-pattern", "--pattern", `{"source":[{"prefixx":"a"}]}`, "--event", testUploadEvent}, wantCode: 2, wantStderr: "Event pattern is not valid. Reason: Unrecognized match type prefixx"},
		{name: "invalid pattern from file", args: []string{"test-pattern", "--pattern", "@" + badPatternFile, "--event", testUploadEvent}, wantCode: 2, wantStderr: "Event pattern is not valid. Reason: \"source\" must be an object or an array"},
		{name: "invalid event", args: []string{"test-pattern", "--pattern", testUploadPattern, "--event", `{"source":`}, wantCode: 2, wantStderr: "--event: event is not valid JSON"},
		{name: "event not an object", args: []string{"test-pattern", "--pattern", testUploadPattern, "--event", `[1]`}, wantCode: 2, wantStderr: "event is not a JSON object"},
		{name: "missing file", args: []string{"test-pattern", "--pattern", "@" + missing, "--event", testUploadEvent}, wantCode: 2, wantStderr: "--pattern: open " + missing},
		{name: "empty file name", args: []string{"test-pattern", "--pattern", testUploadPattern, "--event", "@"}, wantCode: 2, wantStderr: "--event: @ must be followed by a file name"},
		{name: "missing pattern", args: []string{"test-pattern", "--event", testUploadEvent}, wantCode: 2, wantStderr: "--pattern or --rule is required\nUsage: imagepipe events test-pattern"},
		{name: "rule with the local bucket", args: []string{"test-pattern", "--rule", "uploads-to-queue", "--event", testS3Event}, wantCode: 0, wantStdout: "match\n"},
		{name: "full rule name", args: []string{"test-pattern", "--rule", "imagepipe-uploads-to-queue", "--event", testS3Event}, wantCode: 0, wantStdout: "match\n"},
		{name: "rule with another bucket", args: []string{"test-pattern", "--rule", "uploads-to-queue", "--var", "uploads_bucket=prod-uploads", "--event", testS3Event}, wantCode: 1, wantStdout: "no match\n"},
		{name: "rule against an output key", args: []string{"test-pattern", "--rule", "uploads-to-queue", "--event", strings.Replace(testS3Event, "uploads/cat.jpg", "processed/cat/gray.jpg", 1)}, wantCode: 1, wantStdout: "no match\n"},
		{name: "unknown rule", args: []string{"test-pattern", "--rule", "to-everywhere", "--event", testS3Event}, wantCode: 2, wantStderr: `no rule "to-everywhere"; the rules are completions-to-notify, uploads-to-queue`},
		{name: "rule and pattern", args: []string{"test-pattern", "--rule", "uploads-to-queue", "--pattern", testUploadPattern, "--event", testS3Event}, wantCode: 2, wantStderr: "--pattern and --rule exclude each other"},
		{name: "var without value", args: []string{"test-pattern", "--rule", "uploads-to-queue", "--var", "uploads_bucket", "--event", testS3Event}, wantCode: 2, wantStderr: "want NAME=VALUE"},
		{name: "missing event", args: []string{"test-pattern", "--pattern", testUploadPattern}, wantCode: 2, wantStderr: "--event is required\nUsage: imagepipe events test-pattern"},
		{name: "unknown flag", args: []string{"test-pattern", "--patern", testUploadPattern}, wantCode: 2, wantStderr: "imagepipe events test-pattern: flag provided but not defined: -patern\nDid you mean --pattern?\nUsage: imagepipe events test-pattern"},
		{name: "flag without value", args: []string{"test-pattern", "--pattern"}, wantCode: 2, wantStderr: "flag needs an argument: -pattern\nUsage:"},
		{name: "extra argument", args: []string{"test-pattern", "--pattern", testUploadPattern, "--event", testUploadEvent, "extra"}, wantCode: 2, wantStderr: `unexpected argument "extra"`},
		{name: "no subcommand", args: nil, wantCode: 2, wantStderr: "Usage: imagepipe events SUBCOMMAND"},
		{name: "unknown events flag", args: []string{"--verbose"}, wantCode: 2, wantStderr: "imagepipe events: unknown flag --verbose\nUsage: imagepipe events SUBCOMMAND"},
		{name: "unknown subcommand", args: []string{"put-events"}, wantCode: 2, wantStderr: "imagepipe events: unknown subcommand \"put-events\"\nUsage: imagepipe events SUBCOMMAND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runEvents(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d (stdout %q, stderr %q)", code, tc.wantCode, stdout.String(), stderr.String())
			}
			if tc.wantCode < 2 && stdout.String() != tc.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantStdout)
			}
			if tc.wantCode < 2 && stderr.Len() != 0 {
				t.Errorf("stderr %q, want nothing", stderr.String())
			}
			if tc.wantCode == 2 {
				if stdout.Len() != 0 {
					t.Errorf("stdout %q, want nothing", stdout.String())
				}
				if !strings.Contains(stderr.String(), tc.wantStderr) {
					t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.wantStderr)
				}
			}
		})
	}
}

func TestRunEventsHelp(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{name: "events help", args: []string{"--help"}, want: []string{"Usage: imagepipe events SUBCOMMAND", "test-pattern"}},
		{name: "test-pattern help", args: []string{"test-pattern", "--help"}, want: []string{"Usage: imagepipe events test-pattern (--pattern JSON|@FILE | --rule NAME [--var NAME=VALUE]...) --event JSON|@FILE", "Example:", "Exit status"}},
		{name: "test-pattern -h", args: []string{"test-pattern", "-h"}, want: []string{"Usage: imagepipe events test-pattern"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := runEvents(context.Background(), tc.args, &stdout, &stderr); code != 0 {
				t.Errorf("exit code %d, want 0 (stderr %q)", code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout %q, want it to contain %q", stdout.String(), w)
				}
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr %q, want nothing", stderr.String())
			}
		})
	}
}

// TestEventsHelpExampleMatches runs the example shown in --help, so that the
// documented output stays true.
func TestEventsHelpExampleMatches(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runEvents(context.Background(), []string{"test-pattern", "--pattern", testUploadPattern, "--event", testUploadEvent}, &stdout, &stderr)
	if code != 0 || stdout.String() != "match\n" {
		t.Fatalf("example: code %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := runEvents(context.Background(), []string{"test-pattern", "--rule", "uploads-to-queue", "--event", testS3Event}, &stdout, &stderr); code != 0 {
		t.Fatalf("rule example: code %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(testPatternUsage, testUploadPattern) || !strings.Contains(testPatternUsage, testUploadEvent) || !strings.Contains(testPatternUsage, testS3Event) {
		t.Error("the --help example no longer uses the pattern and event tested here")
	}
}

// TestEventsRegistered checks the command is reachable through the registry.
func TestEventsRegistered(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"events", "test-pattern", "--pattern", testUploadPattern, "--event", testOutputEvent}, &stdout, &stderr)
	if code != 1 || stdout.String() != "no match\n" {
		t.Errorf("run events: code %d, stdout %q, stderr %q; want 1, \"no match\\n\"", code, stdout.String(), stderr.String())
	}
}
