package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// startDev runs `imagepipe dev` as a user would and returns once it says
// it is running, with its API and edge URLs.
func startDev(t *testing.T, env []string, args ...string) (cmd *exec.Cmd, apiURL string, out *localtest.Buffer) {
	t.Helper()
	cmd = exec.Command(cliBin, append([]string{"dev"}, args...)...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IMAGEPIPE_") && !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out = &localtest.Buffer{}
	cmd.Stderr = out
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	api := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			if m := regexp.MustCompile(`^  API +(http://\S+)/v1 `).FindStringSubmatch(sc.Text()); m != nil {
				api <- m[1]
			}
		}
	}()
	select {
	case apiURL = <-api:
	case <-time.After(60 * time.Second):
		t.Fatalf("imagepipe dev did not start:\n%s", out.String())
	}
	return cmd, apiURL, out
}

// TestDevStartUp: the address from the environment, a second dev on the
// same data directory refused with the holder's PID, a port conflict said
// with the flags to change, the CLI finding the stack through --data, and
// Ctrl-C ending with status 0.
func TestDevStartUp(t *testing.T) {
	data := t.TempDir()
	port := strings.TrimPrefix(cliFreeURL(t), "http://127.0.0.1:")
	cmd, apiURL, out := startDev(t, []string{local.EnvAPIAddr + "=127.0.0.1:" + port, local.EnvEdgeAddr + "=127.0.0.1:0"}, "--data", data)
	if apiURL != "http://127.0.0.1:"+port {
		t.Errorf("API at %s, want the port of %s=127.0.0.1:%s", apiURL, local.EnvAPIAddr, port)
	}

	res := runCLI(t, cliOpts{}, "dev", "--data", data, "--api", "127.0.0.1:0", "--edge", "127.0.0.1:0")
	want := fmt.Sprintf("imagepipe dev: data directory %s is in use by imagepipe dev (PID %d, API %s): stop it first, or give this one another directory with --data DIR\n", data, cmd.Process.Pid, apiURL)
	if res.code != 1 || res.stderr != want {
		t.Errorf("second dev on the same data: exit %d\n%q\nwant\n%q", res.code, res.stderr, want)
	}
	res = runCLI(t, cliOpts{}, "dev", "--data", t.TempDir(), "--api", "127.0.0.1:"+port, "--edge", "127.0.0.1:0")
	for _, w := range []string{
		"imagepipe dev: the api address 127.0.0.1:" + port + " is in use (by another imagepipe dev, on another data directory). Choose free ports with --api and --edge:\n",
		"  make run ARGS=\"--api 127.0.0.1:",
		"(or set IMAGEPIPE_API_ADDR and IMAGEPIPE_EDGE_ADDR)\n",
	} {
		if res.code != 1 || !strings.Contains(res.stderr, w) {
			t.Errorf("port conflict: exit %d, stderr lacks %q:\n%s", res.code, w, res.stderr)
		}
	}

	// From another directory, the CLI finds the stack, its port and its
	// key through --data; --api takes what the banner prints, or less.
	img := cliWriteFile(t, filepath.Join(t.TempDir(), "cat.png"), cliPNG(t, cliImage(8, 8)))
	for _, args := range [][]string{
		{"--data", data},
		{"--data", data, "--api", apiURL + "/v1"},
		{"--data", data, "--api", strings.TrimPrefix(apiURL, "http://")},
	} {
		res := runCLI(t, cliOpts{}, append(append([]string{"upload", "--wait"}, args...), img)...)
		if res.code != 0 || !strings.Contains(res.stdout, ": done (image ") {
			t.Errorf("upload %v: exit %d\n%s%s", args, res.code, res.stdout, res.stderr)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("dev after SIGINT: %v, want exit 0\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "imagepipe dev: stopped\n") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestMakeRunCtrlC: under make run, Ctrl-C on the terminal stops the stack
// and make exits 0, saying no error. A terminal is needed (python's pty).
func TestMakeRunCtrlC(t *testing.T) {
	for _, tool := range []string{"make", "/usr/bin/python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed (CI=true): %v", tool, err)
			}
			t.Skipf("%s not found: %v", tool, err)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// Runs make in a new terminal, waits for the banner, types Ctrl-C and
	// prints the exit status.
	const script = `
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp("make", ["make", "--no-print-directory", "-C", sys.argv[1], "run", "ARGS=--data " + sys.argv[2] + " --api 127.0.0.1:0 --edge 127.0.0.1:0"])
buf, sent, deadline = b"", False, time.time() + 240
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            d = os.read(fd, 4096)
        except OSError:
            d = b""
        if not d:
            break
        buf += d
    if not sent and b"Press Ctrl-C to stop" in buf:
        os.write(fd, b"\x03")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace"))
print("\nEXIT %d" % os.waitstatus_to_exitcode(status))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, root, t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s := string(out)
	if !strings.HasSuffix(strings.TrimSpace(s), "EXIT 0") || strings.Contains(s, "Error") || !strings.Contains(s, "imagepipe dev: stopped") {
		t.Errorf("make run, then Ctrl-C:\n%s", s)
	}
}
