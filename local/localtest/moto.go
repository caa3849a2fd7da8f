package localtest

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// motoListening is the line moto_server's web server prints once it is
// bound: " * Running on http://127.0.0.1:PORT".
var motoListening = regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)

// Moto starts a moto_server of the test's own on a port the system picks
// (-p 0) and returns its endpoint once it answers. The port is the one
// the server itself says it bound, so two servers started at once (by
// tests of other packages) can never be mistaken for each other, as they
// can when a free port is picked first and handed over. The server and
// its process group are stopped when the test ends; its log is shown if
// the test failed. Without moto_server the test skips, except under
// CI=true, where it fails (Needed).
func Moto(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		Needed(t, fmt.Sprintf("moto_server not found on PATH: pip install 'moto[server]' (%v)", err))
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", "0")
	cmd.Env = append(os.Environ(), "MOTO_IAM_LOAD_MANAGED_POLICIES=true", "PYTHONUNBUFFERED=1")
	// Its own process group, so the cleanup stops a wrapper's children
	// too; and killed with the test process, so a test killed with -9
	// leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	pid := cmd.Process.Pid
	var (
		mu  sync.Mutex
		log strings.Builder
	)
	found := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			log.WriteString(line + "\n")
			mu.Unlock()
			if m := motoListening.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(exited)
	}()
	logged := func() string { mu.Lock(); defer mu.Unlock(); return log.String() }
	t.Cleanup(func() {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("moto_server log:\n%s", logged())
		}
	})

	var endpoint string
	select {
	case endpoint = <-found:
	case <-exited:
		t.Fatalf("moto_server exited before listening:\n%s", logged())
	case <-time.After(60 * time.Second):
		t.Fatalf("moto_server did not say where it listens within 60 s:\n%s", logged())
	}
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return endpoint
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server on %s did not answer within 30 s (last error %v)", endpoint, err)
		}
		select {
		case <-exited:
			t.Fatalf("moto_server exited:\n%s", logged())
		case <-time.After(100 * time.Millisecond): // polling a condition with a deadline
		}
	}
}
