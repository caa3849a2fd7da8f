package lambdarie

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits and defaults of Lambda that the harness applies.
const (
	// MaxSyncPayload is the largest request payload of a synchronous
	// invocation (6 MB); Lambda refuses a larger one without running the
	// function.
	MaxSyncPayload = 6 * 1024 * 1024
	// InitTimeout bounds the init phase (Lambda gives it 10 s).
	InitTimeout = 10 * time.Second
	// DefaultTimeout and DefaultMemoryMB are Lambda's defaults.
	DefaultTimeout  = 3 * time.Second
	DefaultMemoryMB = 128
)

// AWS is where a function's SDK clients go and with which credentials: on
// Lambda the runtime sets the region and the role's credentials; against
// an emulator AWS_ENDPOINT_URL points every client at it.
type AWS struct {
	EndpointURL     string
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Config is one function as deployed.
type Config struct {
	// Name is the function name (AWS_LAMBDA_FUNCTION_NAME, the ARN, logs).
	Name string
	// Bootstrap is the path of the function's executable.
	Bootstrap string
	// Emulator is the path of aws-lambda-rie.
	Emulator string
	// Env is the function's own environment (Terraform's
	// function_environment for it). It may not set Lambda's reserved
	// variables.
	Env map[string]string
	AWS AWS
	// MemoryMB, Timeout: the function's settings (defaults 128, 3 s). The
	// emulator enforces the timeout; it does not limit memory.
	MemoryMB int
	Timeout  time.Duration
	// LogFormat is "JSON" or "Text" (default JSON), LogLevel the
	// application log level (default INFO): AWS_LAMBDA_LOG_FORMAT and
	// AWS_LAMBDA_LOG_LEVEL, as Lambda's logging_config sets them.
	LogFormat string
	LogLevel  string
	// Concurrency is the most execution environments at once (default 1):
	// an invocation beyond it waits for one to be free.
	Concurrency int
	// Log receives every line the emulator and the function print; nil
	// drops them.
	Log func(line string)
}

func (c *Config) defaults() {
	if c.MemoryMB <= 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.LogFormat == "" {
		c.LogFormat = "JSON"
	}
	if c.LogLevel == "" {
		c.LogLevel = "INFO"
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Log == nil {
		c.Log = func(string) {}
	}
}

// Function runs one function's bootstrap under the emulator, in as many
// execution environments as invocations at once (up to Concurrency). It
// is a lambda.Handler, so the local runner can invoke it in place of the
// in-process handler.
type Function struct {
	cfg    Config
	env    []string
	slots  chan struct{}
	client *http.Client

	mu     sync.Mutex
	idle   []*environment
	all    map[*environment]struct{}
	closed bool
	seq    int
}

// New checks the configuration and the files; no process starts until the
// first invocation (the first cold start).
func New(cfg Config) (*Function, error) {
	cfg.defaults()
	for _, p := range []struct{ what, path string }{{"bootstrap", cfg.Bootstrap}, {"emulator", cfg.Emulator}} {
		fi, err := os.Stat(p.path)
		if err != nil {
			return nil, fmt.Errorf("function %s: %s: %w", cfg.Name, p.what, err)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("function %s: %s %s is not an executable file", cfg.Name, p.what, p.path)
		}
	}
	// The emulator runs in the bootstrap's directory: relative paths
	// would resolve from there.
	for _, p := range []*string{&cfg.Bootstrap, &cfg.Emulator} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	env, err := Environment(cfg)
	if err != nil {
		return nil, err
	}
	return &Function{
		cfg:    cfg,
		env:    env,
		slots:  make(chan struct{}, cfg.Concurrency),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency}},
		all:    map[*environment]struct{}{},
	}, nil
}

// Name is the function's name.
func (f *Function) Name() string { return f.cfg.Name }

// ARN is the function's ARN in the configured region (account
// 000000000000, as emulators use).
func (f *Function) ARN() string {
	return "arn:aws:lambda:" + f.cfg.AWS.Region + ":000000000000:function:" + f.cfg.Name
}

// Result is what one invocation gave and what the emulator reported.
type Result struct {
	Payload   []byte
	RequestID string
	// Cold is true when the invocation started an execution environment;
	// InitDuration is then the emulator's INIT REPORT.
	Cold         bool
	InitDuration time.Duration
	// Duration is the emulator's REPORT Duration. On a cold invocation the
	// emulator counts the init in it (Lambda reports the two apart).
	Duration time.Duration
	// CPU is the user+system time the bootstrap process spent during the
	// invocation, init included when cold (0 where /proc cannot tell).
	CPU time.Duration
	// PeakRSS is the bootstrap process's peak resident memory so far, in
	// bytes (VmHWM; 0 where /proc cannot tell): what Lambda reports as
	// "Max Memory Used", which the emulator does not measure.
	PeakRSS int64
	// Log holds the lines printed during the invocation.
	Log []string
}

// InitError is a failed init: the bootstrap exited (or timed out) before
// asking for its first event. Log holds everything the environment
// printed, the function's own reason among it.
type InitError struct {
	Function string
	Log      []string
}

func (e *InitError) Error() string {
	return fmt.Sprintf("function %s: init failed (Runtime.ExitError): %s", e.Function, strings.Join(FunctionLines(e.Log), " | "))
}

// FunctionError is an error the function returned or a crash during the
// invocation (Type Runtime.ExitError).
type FunctionError struct {
	Function string
	Type     string
	Message  string
	// Payload is the error document, {"errorMessage":…,"errorType":…}.
	Payload []byte
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function %s: %s: %s", e.Function, e.Type, e.Message)
}

// TimeoutError is an invocation that ran past the function's timeout; its
// environment is thrown away, as Lambda resets it.
type TimeoutError struct {
	Function string
	Timeout  time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("function %s: task timed out after %.2f seconds", e.Function, e.Timeout.Seconds())
}

// ErrPayloadTooLarge is Lambda's RequestEntityTooLargeException.
var ErrPayloadTooLarge = fmt.Errorf("request payload is over the %d bytes of a synchronous invocation", MaxSyncPayload)

// Invoke implements lambda.Handler: the response payload, or the
// function's error.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	r, err := f.InvokeReport(ctx, payload)
	return r.Payload, err
}

// InvokeReport invokes the function once, synchronously, in a free
// execution environment (a new one if none is idle and Concurrency
// allows), and returns the result with the emulator's report.
func (f *Function) InvokeReport(ctx context.Context, payload []byte) (Result, error) {
	if len(payload) > MaxSyncPayload {
		return Result{}, fmt.Errorf("function %s: %w", f.cfg.Name, ErrPayloadTooLarge)
	}
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { <-f.slots }()
	e, err := f.take(ctx)
	if err != nil {
		return Result{}, err
	}
	res, keep, err := e.invoke(ctx, payload)
	f.put(e, keep)
	return res, err
}

// Close stops every execution environment.
func (f *Function) Close() error {
	f.mu.Lock()
	f.closed = true
	envs := make([]*environment, 0, len(f.all))
	for e := range f.all {
		envs = append(envs, e)
	}
	f.all, f.idle = map[*environment]struct{}{}, nil
	f.mu.Unlock()
	for _, e := range envs {
		e.stop()
	}
	return nil
}

func (f *Function) take(ctx context.Context) (*environment, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, fmt.Errorf("function %s is closed", f.cfg.Name)
	}
	for n := len(f.idle); n > 0; n = len(f.idle) {
		e := f.idle[n-1]
		f.idle = f.idle[:n-1]
		select {
		case <-e.waited:
			// The emulator died while idle (killed from outside).
			delete(f.all, e)
			go e.stop()
			continue
		default:
		}
		f.mu.Unlock()
		return e, nil
	}
	f.seq++
	id := f.seq
	f.mu.Unlock()
	e, err := f.start(ctx, id)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		e.stop()
		return nil, fmt.Errorf("function %s is closed", f.cfg.Name)
	}
	f.all[e] = struct{}{}
	return e, nil
}

func (f *Function) put(e *environment, keep bool) {
	f.mu.Lock()
	if keep && !f.closed {
		f.idle = append(f.idle, e)
		f.mu.Unlock()
		return
	}
	delete(f.all, e)
	f.mu.Unlock()
	e.stop()
}

// environment is one aws-lambda-rie process and the bootstrap it runs.
type environment struct {
	fn     *Function
	id     int
	cmd    *exec.Cmd
	url    string
	waited chan struct{} // the emulator exited
	eof    chan struct{} // its output is read to the end

	mu       sync.Mutex
	lines    []string
	dropped  int // lines no longer kept, so that marks stay valid
	changed  chan struct{}
	initDone bool // INIT RTDONE(status: success) seen
	initDur  time.Duration
	reports  map[string]time.Duration // REPORT Duration by request id
	invoked  bool
	child    int // the bootstrap's pid, once seen
	stopOnce sync.Once
}

// start starts an emulator and waits until it takes invocations. Ports
// are picked free and may be taken in between: a start that fails that
// way is tried again.
func (f *Function) start(ctx context.Context, id int) (*environment, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		e, err := f.tryStart(ctx, id)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("function %s: start the runtime emulator: %w", f.cfg.Name, lastErr)
}

func (f *Function) tryStart(ctx context.Context, id int) (*environment, error) {
	invokeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(f.cfg.Emulator,
		"--log-level", "info",
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", apiAddr,
		f.cfg.Bootstrap)
	// Lambda runs the bootstrap in its task root (/var/task).
	cmd.Dir = filepath.Dir(f.cfg.Bootstrap)
	cmd.Env = f.env
	cmd.Stdout, cmd.Stderr = pw, pw
	// Its own process group, so that stop ends the bootstrap too; and it
	// dies with this process (kill -9 of the stack leaves no emulator).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	pw.Close()
	e := &environment{
		fn: f, id: id, cmd: cmd,
		url:     "http://" + invokeAddr + "/2015-03-31/functions/function/invocations",
		waited:  make(chan struct{}),
		eof:     make(chan struct{}),
		changed: make(chan struct{}),
		reports: map[string]time.Duration{},
	}
	go e.read(pr)
	go func() { _ = cmd.Wait(); close(e.waited) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", invokeAddr, time.Second)
		if err == nil {
			c.Close()
			return e, nil
		}
		select {
		case <-e.waited:
			<-e.eof
			return nil, fmt.Errorf("aws-lambda-rie exited before listening on %s: %s", invokeAddr, strings.Join(e.since(0), " | "))
		case <-ctx.Done():
			e.stop()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, fmt.Errorf("aws-lambda-rie did not listen on %s within 10s", invokeAddr)
		}
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Bounds of what an environment keeps of its output: the lines of the
// current invocation only, the last maxLines of them, each cut at
// maxLineBytes.
const (
	maxLines     = 2000
	maxLineBytes = 64 << 10
)

// read keeps the emulator's lines and the figures of its reports. It
// reads to the end whatever the lines' length, so the emulator never
// blocks on a full pipe.
func (e *environment) read(r io.ReadCloser) {
	defer close(e.eof)
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line == "" && err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) > maxLineBytes {
			line = line[:maxLineBytes] + "…"
		}
		e.fn.cfg.Log(line)
		e.mu.Lock()
		if len(e.lines) >= maxLines {
			e.lines = append(e.lines[:0], e.lines[len(e.lines)-maxLines/2:]...)
			e.dropped += maxLines - maxLines/2
		}
		e.lines = append(e.lines, line)
		switch {
		case strings.Contains(line, "INIT RTDONE(status: success)"):
			e.initDone = true
		case strings.Contains(line, "INIT REPORT(durationMs: "):
			if ms, ok := number(line, "INIT REPORT(durationMs: ", ")"); ok && e.initDur == 0 {
				e.initDur = time.Duration(ms * float64(time.Millisecond))
			}
		case strings.HasPrefix(line, "REPORT RequestId: "):
			id, _, _ := strings.Cut(strings.TrimPrefix(line, "REPORT RequestId: "), "\t")
			ms, _ := number(line, "\tDuration: ", " ms")
			e.reports[strings.TrimSpace(id)] = time.Duration(ms * float64(time.Millisecond))
		}
		close(e.changed)
		e.changed = make(chan struct{})
		e.mu.Unlock()
	}
}

// number parses the float between prefix and suffix in line.
func number(line, prefix, suffix string) (float64, bool) {
	_, rest, ok := strings.Cut(line, prefix)
	if !ok {
		return 0, false
	}
	v, _, ok := strings.Cut(rest, suffix)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	return f, err == nil
}

// since returns the lines kept from mark m on.
func (e *environment) since(m int) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := min(max(m-e.dropped, 0), len(e.lines))
	return append([]string(nil), e.lines[i:]...)
}

// mark forgets the lines of earlier invocations and returns a mark for
// since.
func (e *environment) mark() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropped += len(e.lines)
	e.lines = e.lines[:0]
	clear(e.reports)
	return e.dropped
}

// waitReport waits (bounded) for the REPORT line of requestID.
func (e *environment) waitReport(requestID string, within time.Duration) (time.Duration, bool) {
	t := time.NewTimer(within)
	defer t.Stop()
	for {
		e.mu.Lock()
		d, ok := e.reports[requestID]
		ch := e.changed
		e.mu.Unlock()
		if ok {
			return d, true
		}
		select {
		case <-ch:
		case <-e.eof:
			return 0, false
		case <-t.C:
			return 0, false
		}
	}
}

// invoke runs one invocation. keep says whether the environment can take
// the next one.
func (e *environment) invoke(ctx context.Context, payload []byte) (Result, bool, error) {
	name := e.fn.cfg.Name
	e.mu.Lock()
	cold := !e.invoked
	e.invoked = true
	e.mu.Unlock()
	cpu0 := e.cpu()
	mark := e.mark()
	res := Result{RequestID: newRequestID(), Cold: cold}

	// The emulator ends a timed-out invocation itself; this bound only
	// catches an emulator that stopped answering.
	hctx, cancel := context.WithTimeout(ctx, e.fn.cfg.Timeout+InitTimeout+5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(hctx, http.MethodPost, e.url, bytes.NewReader(payload))
	if err != nil {
		return res, false, err
	}
	req.Header.Set("X-Amzn-RequestId", res.RequestID)
	resp, err := e.fn.client.Do(req)
	if err != nil {
		e.stop()
		if ctx.Err() != nil {
			return res, false, fmt.Errorf("function %s: invocation abandoned: %w", name, ctx.Err())
		}
		return res, false, fmt.Errorf("function %s: invoke through the emulator: %w; output: %s", name, err, strings.Join(e.since(mark), " | "))
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		e.stop()
		return res, false, fmt.Errorf("function %s: read the response: %w", name, err)
	}

	if resp.StatusCode != http.StatusOK {
		// 502: the runtime exited, in init or during the invocation. The
		// environment is thrown away; its whole output is read first.
		e.stop()
		lines := e.since(mark)
		e.mu.Lock()
		initDone := e.initDone
		e.mu.Unlock()
		res.Log = lines
		if !initDone {
			return res, false, &InitError{Function: name, Log: lines}
		}
		msg := strings.Join(FunctionLines(lines), " | ")
		if msg == "" {
			msg = fmt.Sprintf("the emulator answered %d", resp.StatusCode)
		}
		return res, false, &FunctionError{Function: name, Type: "Runtime.ExitError", Message: msg}
	}
	if bytes.HasPrefix(body, []byte("Task timed out after")) {
		e.stop()
		res.Log = e.since(mark)
		return res, false, &TimeoutError{Function: name, Timeout: e.fn.cfg.Timeout}
	}

	res.Duration, _ = e.waitReport(res.RequestID, 5*time.Second)
	res.CPU = max(e.cpu()-cpu0, 0)
	res.PeakRSS = e.peakRSS()
	res.Log = e.since(mark)
	if cold {
		e.mu.Lock()
		res.InitDuration = e.initDur
		e.mu.Unlock()
	}
	if fe, ok := functionError(body); ok {
		fe.Function = name
		return res, true, fe
	}
	res.Payload = body
	return res, true, nil
}

// functionError recognises the error document a runtime posts to
// /runtime/invocation/{id}/error. Lambda flags it with the
// X-Amz-Function-Error header, which the emulator does not pass on, so the
// document itself is the sign: an object with errorMessage and errorType
// and nothing but stackTrace besides. No imagepipe function answers with
// such an object.
func functionError(body []byte) (*FunctionError, bool) {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return nil, false
	}
	_, hasMsg := doc["errorMessage"]
	_, hasType := doc["errorType"]
	if !hasMsg || !hasType {
		return nil, false
	}
	for k := range doc {
		if k != "errorMessage" && k != "errorType" && k != "stackTrace" {
			return nil, false
		}
	}
	var fe struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	_ = json.Unmarshal(body, &fe)
	return &FunctionError{Type: fe.Type, Message: fe.Message, Payload: body}, true
}

// stop ends the emulator's process group and waits for its output.
func (e *environment) stop() {
	e.stopOnce.Do(func() {
		pid := e.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-e.waited
		select {
		case <-e.eof:
		case <-time.After(5 * time.Second):
			// A child that kept the pipe open outlived its group.
		}
	})
}

// cpu is the user+system time of the bootstrap process so far.
func (e *environment) cpu() time.Duration {
	e.mu.Lock()
	pid := e.child
	e.mu.Unlock()
	if pid == 0 {
		pid = childOf(e.cmd.Process.Pid)
		if pid == 0 {
			return 0
		}
		e.mu.Lock()
		e.child = pid
		e.mu.Unlock()
	}
	return processCPU(pid)
}

// peakRSS is the bootstrap process's peak resident memory so far.
func (e *environment) peakRSS() int64 {
	e.mu.Lock()
	pid := e.child
	e.mu.Unlock()
	if pid == 0 {
		return 0
	}
	return processPeakRSS(pid)
}

// FunctionLines drops the emulator's own lines (rapid's, START, END,
// REPORT), leaving what the function printed.
func FunctionLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if IsEmulatorLine(l) || strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, l)
	}
	return out
}

// IsEmulatorLine says whether a line is the emulator's rather than the
// function's.
func IsEmulatorLine(l string) bool {
	return strings.Contains(l, "] (rapid) ") || strings.HasPrefix(l, "START RequestId: ") ||
		strings.HasPrefix(l, "END RequestId: ") || strings.HasPrefix(l, "REPORT RequestId: ")
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
