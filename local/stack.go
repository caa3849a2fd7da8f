package local

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/imagepipe/imagepipe/client"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/deadletter"
	"github.com/imagepipe/imagepipe/functions/notify"
	"github.com/imagepipe/imagepipe/functions/presign"
	"github.com/imagepipe/imagepipe/functions/process"
	"github.com/imagepipe/imagepipe/local/bus"
	"github.com/imagepipe/imagepipe/local/cloudwatch"
	"github.com/imagepipe/imagepipe/local/events"
	"github.com/imagepipe/imagepipe/local/guard"
	"github.com/imagepipe/imagepipe/local/lambdarie"
	"github.com/imagepipe/imagepipe/local/queue"
	"github.com/imagepipe/imagepipe/local/runner"
	"github.com/imagepipe/imagepipe/local/s3server"
	"github.com/imagepipe/imagepipe/local/sigv4"
	"github.com/imagepipe/imagepipe/local/sqsserver"
	"github.com/imagepipe/imagepipe/web"
)

// Stack is a running local pipeline.
type Stack struct {
	cfg    Config
	creds  Credentials
	log    *slog.Logger
	apiURL string
	edge   string

	store    *queue.Store
	metrics  *cloudwatch.Registry
	router   *bus.Router
	replayer *bus.Replayer
	s3       *s3server.Server
	awsCfg   aws.Config
	api      *http.Server
	edgeSrv  *http.Server
	// fnCfg is awsCfg for the functions in this process: their calls to
	// the edge are served in-process (inProcess).
	fnCfg aws.Config

	queues    map[string]*queue.Queue
	sqsQueues *sqsserver.Registry
	// binaries are the functions run under the Lambda runtime emulator
	// (Config.LambdaBinaries), stopped by Close.
	binaries []*lambdarie.Function
	lock     *dataLock

	presignCfg presign.Config

	cancelRunners context.CancelFunc
	runners       sync.WaitGroup
	stopReplays   context.CancelFunc
	replays       sync.WaitGroup
	ready         atomic.Bool
	closeOnce     sync.Once
	closeErr      error
}

// Start starts the stack and returns once it is ready (GET /healthz
// answers 200). Addresses ending in ":0" get free ports.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	cfg.defaults()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	creds, err := loadCredentials(cfg)
	if err != nil {
		lock.release()
		return nil, err
	}
	// Every log line goes through the local CloudWatch, which counts the
	// functions' embedded metrics for GET /metrics.
	reg := cloudwatch.New()
	st := &Stack{cfg: cfg, creds: creds, log: slog.New(reg.Handler(cfg.Logger.Handler(), cfg.MetricsInLogs)), metrics: reg, queues: map[string]*queue.Queue{}, lock: lock}
	defer func() {
		if err != nil {
			st.Close(context.Background())
		}
	}()

	edgeLn, err := listen(cfg.EdgeAddr)
	if err != nil {
		return nil, &ListenError{Flag: "edge", Addr: cfg.EdgeAddr, Err: err}
	}
	apiLn, err := listen(cfg.APIAddr)
	if err != nil {
		edgeLn.Close()
		return nil, &ListenError{Flag: "api", Addr: cfg.APIAddr, Err: err}
	}
	st.edge = "http://" + edgeLn.Addr().String()
	st.apiURL = "http://" + apiLn.Addr().String()
	if err := lock.describe(Running{PID: os.Getpid(), APIURL: st.apiURL, EdgeURL: st.edge, StartedAt: time.Now().UTC()}); err != nil {
		edgeLn.Close()
		apiLn.Close()
		return nil, fmt.Errorf("describe the stack in %s: %w", filepath.Join(cfg.DataDir, LockFile), err)
	}

	if st.store, err = queue.Open(filepath.Join(cfg.DataDir, "state.db")); err != nil {
		edgeLn.Close()
		apiLn.Close()
		return nil, err
	}
	if st.store.Released > 0 {
		st.log.Info("resuming the messages the previous run was working on", "messages", st.store.Released)
	}
	verifier := &sigv4.Verifier{Credentials: sigv4.StaticCredentials(creds.AccessKeyID, creds.SecretAccessKey)}
	st.s3, err = s3server.New(s3server.Config{
		Dir:            filepath.Join(cfg.DataDir, "s3"),
		Region:         Region,
		Verifier:       verifier,
		AllowedOrigins: append(origins(st.apiURL), cfg.CORSOrigins...),
		Logger:         st.log.With("component", "s3"),
	})
	if err != nil {
		edgeLn.Close()
		apiLn.Close()
		return nil, err
	}
	for _, b := range []string{UploadsBucket, ProcessedBucket} {
		if err := st.s3.CreateBucket(ctx, b); err != nil {
			edgeLn.Close()
			apiLn.Close()
			return nil, fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	if err := st.buildBus(); err != nil {
		edgeLn.Close()
		apiLn.Close()
		return nil, err
	}
	st.metrics.Gauge("imagepipe_queue_messages",
		"Messages in the local queues by state: visible (waiting, SQS ApproximateNumberOfMessagesVisible) and in_flight (received, not yet deleted).",
		st.queueGauges)
	st.s3.OnObjectCreated(st.objectCreated)
	if st.replayer, err = bus.NewReplayer(st.router, st.log.With("component", "replay")); err != nil {
		edgeLn.Close()
		apiLn.Close()
		return nil, err
	}
	replayCtx, stopReplays := context.WithCancel(context.Background())
	st.stopReplays = stopReplays
	st.replays.Add(1)
	go func() {
		defer st.replays.Done()
		_ = st.replayer.Run(replayCtx) // resumes the replays an earlier run left unfinished
	}()

	if st.sqsQueues, err = sqsserver.NewRegistry(ctx, st.store, Region, Account); err != nil {
		edgeLn.Close()
		apiLn.Close()
		return nil, err
	}
	st.sqsQueues.Logger = st.log.With("component", "sqs")
	for _, q := range st.queues {
		st.sqsQueues.Add(q)
	}
	eb := &events.Handler{Router: st.router, Replays: st.replayer, Verifier: verifier, Logger: st.log.With("component", "events"), Queues: st.sqsQueues.ByARN}
	sqsAPI := &sqsserver.Handler{Queues: st.sqsQueues, Verifier: verifier, Logger: st.log.With("component", "sqs")}
	edge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case events.IsEventBridge(r):
			eb.ServeHTTP(w, r)
		case sqsserver.IsSQS(r), sqsserver.IsSQSQuery(r):
			sqsAPI.ServeHTTP(w, r)
		default:
			st.s3.ServeHTTP(w, r)
		}
	})
	st.edgeSrv = guard.Server(edge, guard.Config{})
	go st.edgeSrv.Serve(edgeLn)

	st.awsCfg = aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		BaseEndpoint: aws.String(st.edge),
		APIOptions:   cfg.APIOptions,
	}
	st.fnCfg = st.awsCfg.Copy()
	st.fnCfg.HTTPClient = &http.Client{Transport: &inProcess{host: edgeLn.Addr().String(), handler: edge, next: http.DefaultTransport}}
	// Bodies go unsigned (UNSIGNED-PAYLOAD): they never leave the process,
	// and on AWS (HTTPS) the SDK does not hash them with SHA-256 either (it
	// sends STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32). Over plain
	// HTTP it would hash every output, and the edge again to check it.
	s3Client := s3.NewFromConfig(st.fnCfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		o.EndpointResolverV2 = newCachedS3Endpoints(s3.NewDefaultEndpointResolverV2())
	})
	api, err := st.startFunctions(s3Client)
	if err != nil {
		apiLn.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", st.healthz)
	mux.Handle("GET /metrics", st.metrics)
	mux.Handle("/v1/", api)
	mux.Handle("/", web.HandlerFor(func(r *http.Request) web.Config {
		c := web.Config{MaxUploadBytes: st.presignCfg.MaxUploadBytes}
		// Only to a page opened on this machine's own name: a page reached
		// through another host name (DNS rebinding) must not read it.
		if !cfg.NoPageKey && client.LoopbackHost(r.Host) {
			c.APIKey = creds.APIKey
		}
		return c
	}))
	st.api = guard.Server(mux, guard.Config{})
	go st.api.Serve(apiLn)
	st.ready.Store(true)
	st.log.Info("imagepipe is ready", "api", st.apiURL, "edge", st.edge, "data", cfg.DataDir)
	return st, nil
}

// healthz answers 200 {"status":"ok","queue_store":"ok"} when the stack is
// ready and its queue store reads and writes; 503 with the reason otherwise.
func (st *Stack) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	body := map[string]string{"status": "ok", "queue_store": "ok"}
	code := http.StatusOK
	if !st.ready.Load() {
		body["status"], code = "starting", http.StatusServiceUnavailable
	}
	if err := st.store.Health(r.Context()); err != nil {
		body["status"], body["queue_store"], code = "unhealthy", err.Error(), http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// buildBus makes the buses, the rules from eventbus/patterns and the
// archives.
func (st *Stack) buildBus() error {
	var err error
	if st.router, err = bus.New(st.store, Region, Account, st.log.With("component", "bus")); err != nil {
		return err
	}
	st.router.AddBus(CustomBus)
	visibility := 2 * st.cfg.FunctionTimeout
	inbox := queue.Options{VisibilityTimeout: 2 * deadLetterTimeout, MaxReceiveCount: 10}
	st.queues[ProcessQueue] = st.store.Queue(ProcessQueue, queue.Options{VisibilityTimeout: visibility, MaxReceiveCount: st.cfg.MaxReceiveCount, DeadLetter: ProcessDLQInbox})
	inbox.DeadLetter = ProcessDLQ
	st.queues[ProcessDLQInbox] = st.store.Queue(ProcessDLQInbox, inbox)
	st.queues[ProcessDLQ] = st.store.Queue(ProcessDLQ, queue.Options{})
	st.queues[NotifyQueue] = st.store.Queue(NotifyQueue, queue.Options{VisibilityTimeout: visibility, MaxReceiveCount: 3, DeadLetter: NotifyDLQInbox})
	inbox.DeadLetter = NotifyDLQ
	st.queues[NotifyDLQInbox] = st.store.Queue(NotifyDLQInbox, inbox)
	st.queues[NotifyDLQ] = st.store.Queue(NotifyDLQ, queue.Options{})

	vars := RuleVars()
	uploads, err := eventbus.RulePattern(eventbus.RuleUploadsToQueue, vars)
	if err != nil {
		return err
	}
	completions, err := eventbus.RulePattern(eventbus.RuleCompletionsToNotify, vars)
	if err != nil {
		return err
	}
	rules := []*bus.Rule{
		{Name: UploadsRule, Bus: "default", Pattern: uploads, Target: st.queues[ProcessQueue], TargetARN: st.queueARN(ProcessQueue),
			Description: "S3 Object Created in the uploads bucket to the process queue"},
		{Name: CompletionsRule, Bus: CustomBus, Pattern: completions, Target: st.queues[NotifyQueue], TargetARN: "arn:aws:lambda:" + Region + ":" + Account + ":function:imagepipe-notify",
			Description: "Completion events to the notify function"},
	}
	for _, r := range rules {
		if err := st.router.AddRule(r); err != nil {
			return err
		}
	}
	now := time.Now()
	for _, a := range []*bus.Archive{
		{Name: UploadsArchive, Bus: "default", Pattern: uploads, CreatedAt: now},
		{Name: CompletionsArchive, Bus: CustomBus, CreatedAt: now},
	} {
		if err := st.router.AddArchive(a); err != nil {
			return err
		}
	}
	return nil
}

// objectCreated is S3's EventBridge notification of the uploads bucket.
func (st *Stack) objectCreated(ctx context.Context, o s3server.ObjectCreated) error {
	if o.Bucket != UploadsBucket {
		return nil
	}
	detail, err := json.Marshal(eventbus.ObjectCreated{
		Version:         "0",
		Bucket:          eventbus.S3Bucket{Name: o.Bucket},
		Object:          eventbus.S3Object{Key: o.Key, Size: o.Size, ETag: o.ETag, Sequencer: o.Sequencer},
		RequestID:       o.RequestID,
		Requester:       Account,
		SourceIPAddress: o.SourceIP,
		Reason:          o.Reason,
	})
	if err != nil {
		return err
	}
	ev := st.router.NewEvent(eventbus.Entry{
		Source: eventbus.SourceS3, DetailType: eventbus.DetailTypeObjectCreated, Detail: detail,
		Resources: []string{"arn:aws:s3:::" + o.Bucket},
	})
	_, err = st.router.Put(ctx, "default", ev)
	return err
}

// startFunctions builds the four functions over SDK clients pointed at the
// edge and starts the runners. It returns the handler of /v1/, the API
// key check included.
func (st *Stack) startFunctions(s3Client *s3.Client) (http.Handler, error) {
	st.presignCfg = presign.DefaultConfig(UploadsBucket, ProcessedBucket)
	st.presignCfg.CORSAllowedOrigins = st.cfg.CORSOrigins
	if st.cfg.DownloadURLTTL > 0 {
		st.presignCfg.DownloadURLTTL = st.cfg.DownloadURLTTL
	}
	fns, err := st.inProcessFunctions(s3Client)
	if st.cfg.LambdaBinaries != "" {
		fns, err = st.binaryFunctions()
	}
	if err != nil {
		return nil, err
	}
	deadLetters, err := st.deadLetterFunction(s3Client)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	st.cancelRunners = cancel
	mappings := []*runner.Mapping{
		{Name: "imagepipe-process", Queue: st.queues[ProcessQueue], QueueARN: st.queueARN(ProcessQueue), Region: Region,
			Function: fns.process, Mode: runner.SQS, BatchSize: 10, Concurrency: 2, Timeout: st.cfg.FunctionTimeout,
			Logger: st.log.With("component", "runner", "function", "process")},
		{Name: "imagepipe-notify", Queue: st.queues[NotifyQueue], Region: Region,
			Function: fns.notify, Mode: runner.Async, Concurrency: 2, Timeout: 10 * time.Second,
			Logger: st.log.With("component", "runner", "function", "notify")},
	}
	for _, q := range []string{ProcessDLQInbox, NotifyDLQInbox} {
		mappings = append(mappings, &runner.Mapping{Name: "imagepipe-deadletter", Queue: st.queues[q], QueueARN: st.queueARN(q), Region: Region,
			Function: deadLetters, Mode: runner.SQS, BatchSize: 10, Concurrency: 1, Timeout: deadLetterTimeout,
			Logger: st.log.With("component", "runner", "function", "deadletter")})
	}
	if st.cfg.Paused {
		st.log.Info("paused: events are queued, no function runs")
		mappings = nil
	}
	for _, m := range mappings {
		st.runners.Add(1)
		go func() {
			defer st.runners.Done()
			_ = m.Run(ctx)
		}()
	}
	return fns.api, nil
}

// deadLetterFunction is the dead-letter function, in this process in both
// modes: it parks messages with SQS's SendMessage and their attributes,
// which the local queues do not keep (the edge refuses a SendMessage with
// attributes), so its binary could not (on AWS and in the moto test it
// runs as its binary).
func (st *Stack) deadLetterFunction(s3Client *s3.Client) (runner.Handler, error) {
	cfg := process.DefaultConfig(ProcessedBucket)
	cfg.EventBusName = CustomBus
	cfg.MaxReceiveCount = st.cfg.MaxReceiveCount
	pub := eventbus.NewEventBridge(eventbridge.NewFromConfig(st.fnCfg), CustomBus)
	dl, err := deadletter.New(deadletter.Config{Worker: cfg, ProcessDLQURL: st.QueueURL(ProcessDLQ), EventsDLQURL: st.QueueURL(NotifyDLQ)},
		s3Client, pub, queueSender{st}, st.log.With("function", "deadletter"))
	if err != nil {
		return nil, err
	}
	return runner.NewHandler(dl.Handle), nil
}

// inProcessFunctions builds the three functions' handlers in this process.
func (st *Stack) inProcessFunctions(s3Client *s3.Client) (functions, error) {
	api, err := presign.New(st.presignCfg, s3Client, st.log.With("function", "presign"))
	if err != nil {
		return functions{}, err
	}
	pcfg := process.DefaultConfig(ProcessedBucket)
	pcfg.EventBusName = CustomBus
	pcfg.MaxReceiveCount = st.cfg.MaxReceiveCount
	pub := eventbus.NewEventBridge(eventbridge.NewFromConfig(st.fnCfg), CustomBus)
	worker, err := process.New(pcfg, s3Client, pub, st.log.With("function", "process"))
	if err != nil {
		return functions{}, err
	}
	notifier, err := notify.New(notify.Config{ProcessedBucket: ProcessedBucket}, s3Client, st.log.With("function", "notify"))
	if err != nil {
		return functions{}, err
	}
	return functions{api: apiKeyCheck(st.creds.APIKey, api), process: runner.NewHandler(worker.Handle), notify: runner.NewHandlerNoResponse(notifier.Handle)}, nil
}

// apiKeyCheck answers 403 {"message":"Forbidden"} without the right
// x-api-key, as API Gateway does for a method that requires a key, with the
// API's CORS headers as the gateway responses carry them on AWS. OPTIONS
// needs no key (the CORS preflight; API Gateway's OPTIONS methods take
// none).
func apiKeyCheck(key string, api *presign.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			api.ServeHTTP(w, r)
			return
		}
		got := r.Header.Get("x-api-key")
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
			api.SetCORSHeaders(w.Header(), r)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("x-amzn-ErrorType", "ForbiddenException")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"Forbidden"}` + "\n"))
			return
		}
		api.ServeHTTP(w, r)
	})
}

// Close stops taking requests, lets the invocations under way finish, and
// closes the state. It is safe to call more than once.
func (st *Stack) Close(ctx context.Context) error {
	st.closeOnce.Do(func() {
		st.ready.Store(false)
		var errs []error
		if st.api != nil {
			errs = append(errs, st.api.Shutdown(ctx))
		}
		if st.cancelRunners != nil {
			st.cancelRunners()
		}
		if st.stopReplays != nil {
			st.stopReplays() // a replay under way resumes on the next start
		}
		done := make(chan struct{})
		go func() { st.runners.Wait(); st.replays.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("drain: %w", ctx.Err()))
		}
		for _, fn := range st.binaries {
			errs = append(errs, fn.Close())
		}
		if st.edgeSrv != nil {
			errs = append(errs, st.edgeSrv.Shutdown(ctx))
		}
		if st.sqsQueues != nil {
			st.sqsQueues.Close() // a move task under way stops; the rest stays in its queue
		}
		if st.store != nil {
			errs = append(errs, st.store.Close())
		}
		errs = append(errs, st.lock.release())
		st.closeErr = errors.Join(errs...)
	})
	return st.closeErr
}

// APIURL is the base URL of the API and the page.
func (st *Stack) APIURL() string { return st.apiURL }

// EdgeURL is the base URL of the AWS-compatible edge.
func (st *Stack) EdgeURL() string { return st.edge }

// APIKey is the key the API wants in x-api-key.
func (st *Stack) APIKey() string { return st.creds.APIKey }

// Credentials are the edge's credentials and the API key.
func (st *Stack) Credentials() Credentials { return st.creds }

// DataDir is the stack's data directory.
func (st *Stack) DataDir() string { return st.cfg.DataDir }

// AWSConfig is an SDK configuration pointed at the edge.
func (st *Stack) AWSConfig() aws.Config { return st.awsCfg.Copy() }

// S3Client is an S3 client pointed at the edge (path style).
func (st *Stack) S3Client() *s3.Client {
	return s3.NewFromConfig(st.awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// Router is the local EventBridge.
func (st *Stack) Router() *bus.Router { return st.router }

// Replayer runs the archive replays of the local EventBridge.
func (st *Stack) Replayer() *bus.Replayer { return st.replayer }

// Metrics is the local CloudWatch behind GET /metrics.
func (st *Stack) Metrics() *cloudwatch.Registry { return st.metrics }

// queueGauges reads the depth of every queue of the stack.
func (st *Stack) queueGauges(ctx context.Context) []cloudwatch.GaugeSample {
	names := make([]string, 0, len(st.queues))
	for n := range st.queues {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []cloudwatch.GaugeSample
	for _, n := range names {
		s, err := st.queues[n].Stats(ctx)
		if err != nil {
			continue
		}
		out = append(out,
			cloudwatch.GaugeSample{Labels: map[string]string{"queue": n, "state": "visible"}, Value: float64(s.Visible)},
			cloudwatch.GaugeSample{Labels: map[string]string{"queue": n, "state": "in_flight"}, Value: float64(s.InFlight)})
	}
	return out
}

// Queue returns one of the stack's queues by name (ProcessQueue, ...).
func (st *Stack) Queue(name string) *queue.Queue { return st.queues[name] }

// NewQueue returns a queue of the stack's store, made on first use: a
// target for a rule added through Router().AddRule (e.g. by a test that
// reads what a bus delivers). No function consumes it.
func (st *Stack) NewQueue(name string, opts queue.Options) *queue.Queue {
	return st.store.Queue(name, opts)
}

func (st *Stack) queueARN(name string) string {
	return "arn:aws:sqs:" + Region + ":" + Account + ":" + name
}

// QueueURL is the URL of one of the stack's queues, in the shape of an SQS
// queue URL on the edge (<edge>/<account>/<name>).
func (st *Stack) QueueURL(name string) string {
	return st.edge + "/" + Account + "/" + name
}

// deadLetterTimeout is the dead-letter function's timeout.
const deadLetterTimeout = 30 * time.Second

// queueSender is SQS's SendMessage on the stack's queues, by queue URL,
// for a function that sends to a queue (the dead-letter function parking
// its messages). Message attributes are not kept: the local queue has none.
type queueSender struct{ st *Stack }

func (q queueSender) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	url := aws.ToString(in.QueueUrl)
	name := url[strings.LastIndex(url, "/")+1:]
	target, ok := q.st.queues[name]
	if !ok || url != q.st.QueueURL(name) {
		return nil, fmt.Errorf("send to %s: no such local queue", url)
	}
	id, err := target.Send(ctx, []byte(aws.ToString(in.MessageBody)))
	if err != nil {
		return nil, err
	}
	return &sqs.SendMessageOutput{MessageId: aws.String(id)}, nil
}

// ListenError is Start's error when the API or the edge cannot listen on
// its address (most often: another program has the port).
type ListenError struct {
	Flag string // "api" or "edge", the `imagepipe dev` flag
	Addr string
	Err  error
}

func (e *ListenError) Error() string { return fmt.Sprintf("%s: %v", e.Flag, e.Err) }
func (e *ListenError) Unwrap() error { return e.Err }

// InUse reports whether the address is taken by another listener.
func (e *ListenError) InUse() bool { return errors.Is(e.Err, syscall.EADDRINUSE) }

func listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("address %q is not a loopback address: the local stack only listens on this machine", addr)
	}
	return net.Listen("tcp", addr)
}

// origins are the page's origins, by IP and by name.
func origins(apiURL string) []string {
	return []string{apiURL, strings.Replace(apiURL, "127.0.0.1", "localhost", 1)}
}
