package docs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/local/localtest"
	"golang.org/x/image/tiff"
)

// The README's shell blocks say what they are by their fence's info string:
//
//	```sh runnable   run by TestREADMECommands, in order, in one shell, against
//	                 a local stack (`imagepipe dev`) started as `make run`
//	                 starts it, in a directory holding the files the README
//	                 names (cat.jpg, photos/, ...) and bin/imagepipe
//	```sh aws        needs a deployed stack: listed, checked for syntax only
//	```sh manual     starts, builds or resets what the test provides itself
//	                 (make run, make test, go build, removing the data
//	                 directory): listed, checked for syntax only
//
// A `sh` block with none of these fails the test, so no command is added to
// the README without deciding how it is checked.
const (
	tagRunnable = "runnable"
	tagAWS      = "aws"
	tagManual   = "manual"
)

// The commands are written for `make run`'s addresses; the test's stack
// listens on free ports, which replace these in the commands.
const (
	defaultAPI  = "127.0.0.1:8080"
	defaultEdge = "127.0.0.1:4566"
)

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	localtest.Needed(t, fmt.Sprintf("%s is not on PATH; install it to run this test (%v)", name, err))
	return ""
}

// readmeShellBlocks returns the README's sh blocks, each checked for a tag.
func readmeShellBlocks(t *testing.T) []fence {
	t.Helper()
	var out []fence
	for _, f := range fences(t, filepath.Join(root, "README.md")) {
		if f.lang != "sh" && f.lang != "bash" && f.lang != "shell" {
			continue
		}
		n := 0
		for _, tag := range []string{tagRunnable, tagAWS, tagManual} {
			if f.tagged(tag) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: a sh block must be tagged once, runnable, aws or manual (```sh runnable); it has %q", f.where(), f.tags)
			continue
		}
		out = append(out, f)
	}
	return out
}

// TestREADMECommands runs every runnable block of the README against a local
// stack, in order, in one shell (variables and files carry over as in a
// reader's terminal), waiting between blocks until the stack has no work
// queued or in flight (as a reader waits for the page to say done). Blocks
// for AWS and the manual ones are checked for syntax and listed.
func TestREADMECommands(t *testing.T) {
	blocks := readmeShellBlocks(t)
	var runnable []fence
	for _, f := range blocks {
		if f.tagged(tagRunnable) {
			runnable = append(runnable, f)
			continue
		}
		if err := syntaxCheck(f.body); err != nil {
			t.Errorf("%s: %v", f.where(), err)
		}
		kind := "AWS only"
		if f.tagged(tagManual) {
			kind = "manual"
		}
		t.Logf("%s: not run (%s): %s", f.where(), kind, firstLine(f.body))
	}
	if len(runnable) == 0 {
		t.Fatal("no README block is tagged runnable")
	}
	st := startStack(t)
	sh := st.shell(t)
	for _, f := range runnable {
		start := time.Now()
		if err := sh.run(f); err != nil {
			t.Fatalf("%s: %v\n--- the shell's output:\n%s\n--- the stack's log (tail):\n%s", f.where(), err, sh.output(), st.logTail())
		}
		t.Logf("%s: ran in %s: %s", f.where(), time.Since(start).Round(time.Millisecond), firstLine(f.body))
		if err := st.waitIdle(2 * time.Minute); err != nil {
			t.Fatalf("%s: %v", f.where(), err)
		}
	}
}

// TestShellRunnerCatchesFailures: the runner fails a block whose command
// fails, whose pipeline fails in the middle, or that uses an unset
// variable, and runs the defaults' addresses against the test's stack.
func TestShellRunnerCatchesFailures(t *testing.T) {
	st := startStack(t)
	ok := fence{file: "test", body: "curl -sf http://" + defaultAPI + "/healthz >/dev/null\nX=1\n"}
	if err := st.shell(t).run(ok); err != nil {
		t.Fatalf("a block that should pass: %v", err)
	}
	for name, body := range map[string]string{
		"failing command":  "true\nfalse\necho never\n",
		"failing pipeline": "false | cat\n",
		"unset variable":   "echo $NO_SUCH_VARIABLE\n",
		"failing curl":     "curl -sf http://" + defaultAPI + "/v1/images/00000000000000000000000000000000\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := st.shell(t).run(fence{file: "test", body: body}); err == nil {
				t.Errorf("the block passed:\n%s", body)
			}
		})
	}
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

func syntaxCheck(body string) error {
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bash -n: %v: %s", err, out)
	}
	return nil
}

// --- the stack ---------------------------------------------------------------

// stack is `imagepipe dev` running in a work directory that holds the files
// the README's commands name.
type stack struct {
	dev       *exec.Cmd
	work, bin string
	api, edge string // host:port
	env       []string
	log       *localtest.Buffer
}

var (
	stackOnce sync.Once
	shared    *stack
	sharedErr error
)

// TestMain stops the shared stack (SIGTERM: it drains and exits) and removes
// its directory.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.dev.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { shared.dev.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			shared.dev.Process.Kill()
		}
		os.RemoveAll(shared.work)
	}
	os.Exit(code)
}

// startStack starts one stack for the package's tests (built and started
// once; stopped when the test binary exits).
func startStack(t *testing.T) *stack {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq", "aws"} {
		requireTool(t, tool)
	}
	stackOnce.Do(func() { shared, sharedErr = newStack() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func newStack() (*stack, error) {
	work, err := os.MkdirTemp("", "imagepipe-readme-")
	if err != nil {
		return nil, err
	}
	s := &stack{work: work, bin: filepath.Join(work, "bin"), log: &localtest.Buffer{}}
	build := exec.Command("go", "build", "-o", filepath.Join(s.bin, "imagepipe"), "./cmd/imagepipe")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/imagepipe: %v\n%s", err, out)
	}
	if err := writeFixtures(work); err != nil {
		return nil, err
	}
	ports := freePorts(2)
	s.api, s.edge = "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
	dev := exec.Command(filepath.Join(s.bin, "imagepipe"), "dev", "--data", ".imagepipe", "--api", s.api, "--edge", s.edge)
	dev.Dir = work
	dev.Env = cleanEnv(work)
	dev.Stdout, dev.Stderr = s.log, s.log
	dev.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := dev.Start(); err != nil {
		return nil, err
	}
	s.dev = dev
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + s.api + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			dev.Process.Kill()
			return nil, fmt.Errorf("imagepipe dev did not become ready in a minute:\n%s", s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var creds struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	raw, err := os.ReadFile(filepath.Join(work, ".imagepipe", "credentials.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &creds); err != nil {
		return nil, err
	}
	// What a reader has after pasting the export line imagepipe dev prints.
	s.env = append(cleanEnv(work),
		"AWS_ENDPOINT_URL=http://"+s.edge, "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1")
	return s, nil
}

// cleanEnv is a reader's environment without anything of the developer's
// AWS or imagepipe settings: PATH with bin/ first, a HOME of its own.
func cleanEnv(work string) []string {
	home := filepath.Join(work, "home")
	os.MkdirAll(home, 0o755)
	return []string{
		"PATH=" + filepath.Join(work, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home, "LANG=C.UTF-8", "TERM=dumb",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		"GOFLAGS=" + os.Getenv("GOFLAGS"), "GOCACHE=" + goEnv("GOCACHE"), "GOMODCACHE=" + goEnv("GOMODCACHE"),
	}
}

func goEnv(name string) string {
	out, _ := exec.Command("go", "env", name).Output()
	return strings.TrimSpace(string(out))
}

func freePorts(n int) []int {
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func (s *stack) logTail() string {
	lines := strings.Split(s.log.String(), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// queueGauge is one line of the stack's queue depths at /metrics.
var queueGauge = regexp.MustCompile(`^imagepipe_queue_messages\{queue="([^"]+)",state="([a-z_]+)"\} (\d+)`)

// waitIdle waits until no queue but the dead-letter queues (where messages
// stay until someone acts) holds a message, visible or in flight.
func (s *stack) waitIdle(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		busy, err := s.busyQueues()
		if err == nil && len(busy) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the stack still had work after %s: %v %v\n%s", limit, busy, err, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *stack) busyQueues() ([]string, error) {
	resp, err := http.Get("http://" + s.api + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var busy []string
	seen := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		m := queueGauge.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		seen++
		if !strings.HasSuffix(m[1], "-dlq") && m[3] != "0" {
			busy = append(busy, m[1]+" "+m[2]+"="+m[3])
		}
	}
	if seen == 0 {
		return nil, errors.New("GET /metrics reports no imagepipe_queue_messages")
	}
	return busy, sc.Err()
}

// --- the shell ---------------------------------------------------------------

// shell is one bash, fed the blocks one by one: variables, the working
// directory and files carry over from block to block.
type shell struct {
	s      *stack
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	done   *bufio.Reader // "done N" after each block, on fd 3
	out    *localtest.Buffer
	exited chan error
	n      int
}

func (s *stack) shell(t *testing.T) *shell {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sh := &shell{s: s, out: &localtest.Buffer{}, exited: make(chan error, 1), done: bufio.NewReader(pr)}
	sh.cmd = exec.Command("bash", "--noprofile", "--norc")
	sh.cmd.Dir = s.work
	sh.cmd.Env = s.env
	sh.cmd.Stdout, sh.cmd.Stderr = sh.out, sh.out
	sh.cmd.ExtraFiles = []*os.File{pw}
	sh.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if sh.stdin, err = sh.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sh.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() { sh.exited <- sh.cmd.Wait(); pr.Close() }()
	t.Cleanup(func() {
		sh.stdin.Close()
		syscall.Kill(-sh.cmd.Process.Pid, syscall.SIGKILL)
	})
	fmt.Fprintln(sh.stdin, "set -euo pipefail")
	return sh
}

func (sh *shell) output() string { return sh.out.String() }

// run feeds one block, with the test stack's addresses for the defaults',
// and waits until it has run (3 minutes at most). A failing command ends
// the shell (set -e): the error says so.
func (sh *shell) run(f fence) error {
	sh.n++
	body := strings.NewReplacer(defaultAPI, sh.s.api, "localhost:8080", sh.s.api, defaultEdge, sh.s.edge, "localhost:4566", sh.s.edge).Replace(f.body)
	path := filepath.Join(sh.s.work, fmt.Sprintf(".block-%d.sh", sh.n))
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(sh.out, "\n$ # block %d, %s\n", sh.n, f.where())
	if _, err := fmt.Fprintf(sh.stdin, "source %q\necho done %d >&3\n", path, sh.n); err != nil {
		return fmt.Errorf("the shell is gone: %w", err)
	}
	line := make(chan string, 1)
	go func() {
		l, _ := sh.done.ReadString('\n')
		line <- l
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	select {
	case l := <-line:
		if strings.TrimSpace(l) == fmt.Sprintf("done %d", sh.n) {
			return nil
		}
		err := <-sh.exited
		return fmt.Errorf("a command failed and ended the shell (%v)", err)
	case err := <-sh.exited:
		return fmt.Errorf("a command failed and ended the shell (%v)", err)
	case <-ctx.Done():
		syscall.Kill(-sh.cmd.Process.Pid, syscall.SIGKILL)
		return errors.New("the block did not finish in 3 minutes")
	}
}

// --- the files the README names ---------------------------------------------

// writeFixtures puts in work the files the README's commands use: photos
// of a few sizes and formats, a directory of them with a text file, and an
// EventBridge pattern and event.
func writeFixtures(work string) error {
	photo := func(w, h int, seed uint64) image.Image {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		r := rand.New(rand.NewPCG(seed, 7))
		for y := range h {
			for x := range w {
				n := uint8(r.IntN(16))
				m.SetRGBA(x, y, color.RGBA{R: uint8(x*200/w) + n, G: uint8(y*200/h) + n, B: uint8((x+y)*90/(w+h)) + n, A: 255})
			}
		}
		return m
	}
	jpegFile := func(img image.Image) []byte {
		var b bytes.Buffer
		jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
		return b.Bytes()
	}
	var pngBuf, tiffBuf bytes.Buffer
	if err := png.Encode(&pngBuf, photo(800, 600, 2)); err != nil {
		return err
	}
	if err := tiff.Encode(&tiffBuf, photo(640, 900, 3), &tiff.Options{Compression: tiff.Deflate}); err != nil {
		return err
	}
	files := map[string][]byte{
		"cat.jpg":          jpegFile(photo(1632, 1224, 1)),
		"my_image.png":     pngBuf.Bytes(),
		"scan.tiff":        tiffBuf.Bytes(),
		"photos/photo.jpg": jpegFile(photo(1200, 800, 4)),
		"photos/beach.jpg": jpegFile(photo(900, 1200, 5)),
		"photos/notes.txt": []byte("not an image\n"),
		"my-pattern.json":  []byte(`{"source":["my.app"],"detail-type":["Ping"]}` + "\n"),
		"my-event.json":    []byte(`{"source":"my.app","detail-type":"Ping","detail":{}}` + "\n"),
	}
	for name, data := range files {
		path := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
