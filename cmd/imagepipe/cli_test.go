package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// The tests in cli_test.go, upload_test.go and status_test.go run the built
// binary, as a user or a script would, against one in-process local stack.
var (
	cliBin     string // the binary built by TestMain
	testCommit string // the commit it was built from, when git could tell
	testDir    string // removed when the tests end

	stackOnce sync.Once
	stack     *local.Stack
	stackErr  error
	stackLog  localtest.Buffer
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	testDir, err = os.MkdirTemp("", "imagepipe-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(testDir)
	cliBin = filepath.Join(testDir, "bin", "imagepipe")
	args := []string{"build", "-o", cliBin} // as make build
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race") // go test -race: check the binary too
			}
		}
	}
	// The commit, as `make build` stamps it (the go command may record
	// none: GOFLAGS=-buildvcs=false, a git worktree).
	if out, err := exec.Command("git", "log", "-1", "--format=%H %cI").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) == 2 {
			testCommit = f[0]
			args = append(args, "-ldflags", "-X main.vcsRevision="+f[0]+" -X main.vcsTime="+f[1])
		}
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "go build -o %s ./cmd/imagepipe: %v\n", cliBin, err)
		return 1
	}
	code := m.Run()
	if stack != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := stack.Close(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "close local stack: %v\n", err)
			code = 1
		}
	}
	return code
}

// testStack returns the shared local stack, started on first use on free
// loopback ports with its data under testDir. Its warnings are shown with
// a failing test.
func testStack(t *testing.T) *local.Stack {
	t.Helper()
	stackOnce.Do(func() {
		stack, stackErr = local.Start(context.Background(), local.Config{
			DataDir:  filepath.Join(testDir, "data"),
			APIAddr:  "127.0.0.1:0",
			EdgeAddr: "127.0.0.1:0",
			Logger:   slog.New(slog.NewTextHandler(&stackLog, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	})
	if stackErr != nil {
		t.Fatalf("start local stack: %v", stackErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("local stack log so far:\n%s", stackLog.String())
		}
	})
	return stack
}

// cliResult is what one run of the binary did.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cliOpts set the environment (on top of a clean one: no IMAGEPIPE_* or
// AWS_* of the developer's) and the working directory (default: an empty
// temporary one, so that no ./.imagepipe is found by accident).
type cliOpts struct {
	env []string
	dir string
}

func runCLI(t *testing.T, o cliOpts, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBin, args...)
	cmd.Dir = o.dir
	if cmd.Dir == "" {
		cmd.Dir = t.TempDir()
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IMAGEPIPE_") && !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, o.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		res.code = ee.ExitCode()
	default:
		t.Fatalf("imagepipe %s: %v (ctx: %v)\nstderr:\n%s", strings.Join(args, " "), err, ctx.Err(), res.stderr)
	}
	return res
}

// localEnv points the CLI at the shared stack through the environment,
// the way `imagepipe dev` tells users to.
func cliEnv(st *local.Stack) []string {
	return []string{envAPIURL + "=" + st.APIURL(), local.EnvAPIKey + "=" + st.APIKey()}
}

// freeURL is a loopback URL where nothing listens.
func cliFreeURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// testImage is an opaque colour gradient: smooth, so that JPEG keeps it
// close, and coloured, so that gray conversion is visible.
func cliImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: uint8((x + y) * 127 / (w + h)), A: 255})
		}
	}
	return img
}

func cliJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func cliPNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func cliWriteFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// luma is ITU-R 601 luma, as DESIGN.md §5 defines the gray output.
func cliLuma(c color.Color) int {
	r, g, b, _ := c.RGBA()
	return int((r>>8)*299+(g>>8)*587+(b>>8)*114) / 1000
}

func TestMisuse(t *testing.T) {
	st := testStack(t)
	emptyDir := t.TempDir()
	img := cliWriteFile(t, filepath.Join(t.TempDir(), "cat.jpg"), cliJPEG(t, cliImage(32, 24)))
	for _, tc := range []struct {
		name       string
		env        []string
		args       []string
		wantCode   int
		wantStderr []string // substrings, in order
		wantStdout []string // substrings, in order; stdout is empty when none
	}{
		{name: "upload unknown flag", env: cliEnv(st), args: []string{"upload", "--frobnicate", img}, wantCode: 2,
			wantStderr: []string{"imagepipe upload: flag provided but not defined: -frobnicate\nUsage: imagepipe upload", "Example:"}},
		{name: "upload unknown flag after the files", env: cliEnv(st), args: []string{"upload", img, "--wiat"}, wantCode: 2,
			wantStderr: []string{"imagepipe upload: flag provided but not defined: -wiat\nDid you mean --wait?\nUsage: imagepipe upload"}},
		{name: "upload a flag's prefix", env: cliEnv(st), args: []string{"upload", img, "--concur", "2"}, wantCode: 2,
			wantStderr: []string{"flag provided but not defined: -concur\nDid you mean --concurrency?\n"}},
		{name: "upload no files", env: cliEnv(st), args: []string{"upload", "--wait"}, wantCode: 2,
			wantStderr: []string{"imagepipe upload: no FILE or DIR given\nUsage: imagepipe upload"}},
		{name: "upload concurrency zero", env: cliEnv(st), args: []string{"upload", img, "--concurrency", "0"}, wantCode: 2,
			wantStderr: []string{"imagepipe upload: --concurrency must be 1-64, got 0\nUsage: imagepipe upload"}},
		{name: "upload concurrency not a number", env: cliEnv(st), args: []string{"upload", "--concurrency=four", img}, wantCode: 2,
			wantStderr: []string{`imagepipe upload: invalid value "four" for flag -concurrency: parse error` + "\nUsage: imagepipe upload"}},
		{name: "upload flag without value", env: cliEnv(st), args: []string{"upload", img, "--out"}, wantCode: 2,
			wantStderr: []string{"imagepipe upload: flag needs an argument: -out\nUsage: imagepipe upload"}},
		{name: "upload bad timeout", env: cliEnv(st), args: []string{"upload", "--timeout", "-1s", img}, wantCode: 2,
			wantStderr: []string{"--timeout must be positive, got -1s"}},
		{name: "upload missing key", env: nil, args: []string{"upload", img}, wantCode: 2,
			wantStderr: []string{"imagepipe upload: no API key: " + filepath.Join(".imagepipe", "credentials.json") + " not found. Start the local stack (make run, or imagepipe dev), pass the data directory it uses with --data DIR, or set IMAGEPIPE_API_KEY\n"}},
		{name: "upload missing key in the data dir named by env", env: []string{local.EnvData + "=" + emptyDir}, args: []string{"upload", img}, wantCode: 2,
			wantStderr: []string{"no API key: " + filepath.Join(emptyDir, "credentials.json") + " not found."}},
		{name: "upload missing key in the data dir named by --data", args: []string{"upload", "--data", emptyDir, img}, wantCode: 2,
			wantStderr: []string{"no API key: " + filepath.Join(emptyDir, "credentials.json") + " not found."}},
		{name: "upload remote API without key", env: []string{envAPIURL + "=https://abc123.execute-api.eu-west-1.amazonaws.com/prod"}, args: []string{"upload", img}, wantCode: 2,
			wantStderr: []string{"no API key for https://abc123.execute-api.eu-west-1.amazonaws.com/prod: pass --key or set IMAGEPIPE_API_KEY"}},
		{name: "upload bad API URL", env: []string{local.EnvAPIKey + "=k"}, args: []string{"upload", "--api", "ftp://127.0.0.1:8080", img}, wantCode: 2,
			wantStderr: []string{`imagepipe upload: API URL "ftp://127.0.0.1:8080": want [http(s)://]host[:port][/path]`}},
		{name: "status no id", env: cliEnv(st), args: []string{"status", "--json"}, wantCode: 2,
			wantStderr: []string{"imagepipe status: no image ID given\nUsage: imagepipe status"}},
		{name: "status unknown flag", env: cliEnv(st), args: []string{"status", "--verbose", "0123456789abcdef0123456789abcdef"}, wantCode: 2,
			wantStderr: []string{"imagepipe status: flag provided but not defined: -verbose\nUsage: imagepipe status"}},
		{name: "status missing key", env: nil, args: []string{"status", "0123456789abcdef0123456789abcdef"}, wantCode: 2,
			wantStderr: []string{"imagepipe status: no API key: "}},
		{name: "unknown command", args: []string{"uplaod", img}, wantCode: 2,
			wantStderr: []string{"imagepipe: unknown command \"uplaod\"\nDid you mean 'imagepipe upload'?\n"}},
		{name: "unknown subcommand", args: []string{"events", "tial"}, wantCode: 2,
			wantStderr: []string{"imagepipe events: unknown subcommand \"tial\"\nDid you mean 'imagepipe events tail'?\n"}},
		{name: "dev lambda binaries without the emulator", args: []string{"dev", "--data", filepath.Join(emptyDir, "d1"), "--api", "127.0.0.1:0", "--edge", "127.0.0.1:0", "--lambda-binaries", emptyDir}, wantCode: 1,
			wantStderr: []string{"imagepipe dev: aws-lambda-rie is neither in " + emptyDir + " nor on PATH: `make lambda-host` installs it"}},
		{name: "dev lambda binaries without a bootstrap", args: []string{"dev", "--data", filepath.Join(emptyDir, "d2"), "--api", "127.0.0.1:0", "--edge", "127.0.0.1:0", "--lambda-binaries", emptyDir, "--lambda-emulator", img}, wantCode: 1,
			wantStderr: []string{"imagepipe dev: --lambda-binaries " + emptyDir + ": function imagepipe-presign: bootstrap: stat " + filepath.Join(emptyDir, "presign", "bootstrap") + ": no such file or directory (make lambda-host builds them into dist/host)"}},
		{name: "version extra argument", args: []string{"version", "now"}, wantCode: 2,
			wantStderr: []string{"imagepipe version: unexpected argument \"now\"\nUsage: imagepipe version"}},
		{name: "upload help", args: []string{"upload", "--help"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe upload", "Example:\n  imagepipe upload -r photos/ --out gray/", "-concurrency int"}},
		{name: "help upload", args: []string{"help", "upload"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe upload", "Example:"}},
		{name: "status help", args: []string{"status", "-h"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe status", "Example:\n  imagepipe status 3f2a"}},
		{name: "version help", args: []string{"version", "--help"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe version", "Example:"}},
		{name: "dev help", args: []string{"dev", "--help"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe dev", "Example:"}},
		{name: "convert help", args: []string{"convert", "--help"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe convert", "Example:"}},
		{name: "ls help", args: []string{"ls", "--help"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe ls", "Example:"}},
		{name: "events help", args: []string{"events", "--help"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe events", "tail"}},
		{name: "events tail help", args: []string{"events", "tail", "--help"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe events tail", "Example:"}},
		{name: "dlq help", args: []string{"dlq", "--help"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe dlq", "redrive"}},
		{name: "retry help", args: []string{"retry", "--help"}, wantCode: 0,
			wantStdout: []string{"Usage: imagepipe retry", "Example:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, cliOpts{env: tc.env}, tc.args...)
			if res.code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstderr:\n%s", res.code, tc.wantCode, res.stderr)
			}
			inOrder := func(what, got string, wants []string) {
				t.Helper()
				if len(wants) == 0 && got != "" {
					t.Errorf("%s should be empty, got:\n%s", what, got)
				}
				rest := got
				for _, want := range wants {
					i := strings.Index(rest, want)
					if i < 0 {
						t.Errorf("%s lacks %q (in order)\n%s:\n%s", what, want, what, got)
						break
					}
					rest = rest[i+len(want):]
				}
			}
			inOrder("stdout", res.stdout, tc.wantStdout)
			inOrder("stderr", res.stderr, tc.wantStderr)
			var errLines int
			for _, l := range strings.Split(strings.SplitN(res.stderr, "Usage:", 2)[0], "\n") {
				if l != "" && !strings.HasPrefix(l, "Did you mean") && !strings.HasPrefix(l, "Run 'imagepipe --help'") {
					errLines++
				}
			}
			if tc.wantCode == 2 && errLines > 1 {
				t.Errorf("the error before the usage should be one line (and a suggestion):\n%s", res.stderr)
			}
		})
	}
}

func TestTopLevelUsageListsCommands(t *testing.T) {
	res := runCLI(t, cliOpts{}, "--help")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	for _, name := range []string{"upload", "status", "version"} {
		if !strings.Contains(res.stdout, "\n  "+name+" ") {
			t.Errorf("usage does not list %s:\n%s", name, res.stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	res := runCLI(t, cliOpts{}, "version")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	want := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if !strings.HasPrefix(res.stdout, "imagepipe ") || !strings.HasSuffix(res.stdout, want) {
		t.Errorf("version = %q, want imagepipe <version> ... %q", res.stdout, want)
	}
	v := strings.Fields(res.stdout)[1]
	switch {
	case testCommit == "" && os.Getenv("CI") == "":
		t.Log("git could not tell the commit: the version is not checked")
	case testCommit == "":
		t.Error("git log could not tell the commit the binary was built from")
	case !strings.HasPrefix(v, "v") || !strings.Contains(res.stdout, " ("+testCommit[:12]):
		t.Errorf("version = %q, want a module version (a pseudo-version from commit %s) and the commit", res.stdout, testCommit)
	}
	if res2 := runCLI(t, cliOpts{}, "--version"); res2.code != 0 || res2.stdout != res.stdout {
		t.Errorf("--version: exit %d %q, want %q", res2.code, res2.stdout, res.stdout)
	}

	res = runCLI(t, cliOpts{}, "version", "--json")
	var got buildVersion
	if err := cliDecodeOne(res.stdout, &got); err != nil {
		t.Fatalf("version --json: %v: %q", err, res.stdout)
	}
	if got.Go != runtime.Version() || got.Version != v || got.Platform != runtime.GOOS+"/"+runtime.GOARCH || got.Commit != testCommit {
		t.Errorf("version --json = %+v, want version %s, go %s", got, v, runtime.Version())
	}
}

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantPos  []string
		wantWait bool
		wantOut  string
		wantErr  bool
	}{
		{name: "flags first", args: []string{"--wait", "--out", "o", "a", "b"}, wantPos: []string{"a", "b"}, wantWait: true, wantOut: "o"},
		{name: "flags last", args: []string{"a", "b", "--wait", "--out", "o"}, wantPos: []string{"a", "b"}, wantWait: true, wantOut: "o"},
		{name: "flags between", args: []string{"a", "--out=o", "b", "-wait"}, wantPos: []string{"a", "b"}, wantWait: true, wantOut: "o"},
		{name: "double dash", args: []string{"--wait", "a", "--", "--out", "b"}, wantPos: []string{"a", "--out", "b"}, wantWait: true},
		{name: "no positionals", args: []string{"--wait"}, wantPos: nil, wantWait: true},
		{name: "unknown flag late", args: []string{"a", "--nope"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			var stderr bytes.Buffer
			fs.SetOutput(&stderr)
			wait := fs.Bool("wait", false, "")
			out := fs.String("out", "", "")
			pos, err := parseInterleaved(fs, tc.args, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				if !strings.HasPrefix(stderr.String(), "test: flag provided but not defined: -nope\n") {
					t.Errorf("stderr = %q", stderr.String())
				}
				return
			}
			if !reflect.DeepEqual(pos, tc.wantPos) || *wait != tc.wantWait || *out != tc.wantOut {
				t.Errorf("got %q wait=%v out=%q, want %q wait=%v out=%q", pos, *wait, *out, tc.wantPos, tc.wantWait, tc.wantOut)
			}
		})
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1234567: "1.2 MB", 25 << 20: "26.2 MB", 3_000_000_000: "3.0 GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// jsonUnmarshalStrict decodes exactly one JSON value with no unknown
// fields.
func cliDecodeOne(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	_, err := dec.Token()
	if err != io.EOF {
		return fmt.Errorf("trailing data: %v", err)
	}
	return nil
}
