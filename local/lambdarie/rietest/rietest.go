// Package rietest gives tests and benchmarks the functions' bootstraps
// and the Lambda runtime emulator, built by `make lambda-host`: the very
// command that builds the deployed zips, with the host's GOARCH. Only
// tests import it.
package rietest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EnvDir names a directory `make lambda-host` filled already
// (LAMBDA_HOST_DIR); without it each test binary builds its own.
const EnvDir = "IMAGEPIPE_LAMBDA_BINARIES"

// Binaries returns a directory with <fn>/bootstrap for every function of
// the Makefile's LAMBDA_FUNCTIONS and aws-lambda-rie. Without make or go
// on PATH the test skips, unless CI=true: then it fails.
func Binaries(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv(EnvDir); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	for _, tool := range []string{"make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI=true to build the Lambda binaries: %v", tool, err)
			}
			t.Skipf("%s is not on PATH: cannot build the Lambda binaries", tool)
		}
	}
	root := repoRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "-C", root, "lambda-host", "LAMBDA_HOST_DIR="+dir)
	// A make above this test (make test) must not hand its job server
	// or flags down.
	cmd.Env = withoutMake(os.Environ())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("make lambda-host: %v\n%s", err, out.String())
	}
	t.Logf("make lambda-host into %s took %s", dir, time.Since(start).Round(time.Millisecond))
	return dir
}

// Emulator is the emulator's path in a Binaries directory.
func Emulator(dir string) string { return filepath.Join(dir, "aws-lambda-rie") }

// Bootstrap is a function's bootstrap in a Binaries directory.
func Bootstrap(dir, fn string) string { return filepath.Join(dir, fn, "bootstrap") }

func repoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		t.Fatal("not inside the imagepipe module")
	}
	return filepath.Dir(mod)
}

func withoutMake(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS":
			continue
		}
		out = append(out, kv)
	}
	return out
}
