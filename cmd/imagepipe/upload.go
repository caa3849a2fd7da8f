package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/client"
	"github.com/imagepipe/imagepipe/imaging"
	"github.com/imagepipe/imagepipe/local"
)

func init() {
	register(&command{name: "upload", summary: "upload images through the API; wait for and download their outputs", run: runUpload})
}

const uploadUsage = `Usage: imagepipe upload [--wait] [--out DIR] [--concurrency N] [--json] [--timeout D] FILE|DIR...

Uploads each FILE, and the image files directly inside each DIR (not its
subdirectories; other files are skipped with a message), the way the page
does: POST /v1/uploads for a presigned URL, then PUT the bytes straight to
S3. The content type comes from the file's bytes, else from its extension.
Files over 100 MiB are refused before any request (the API's own limit is
25 MiB by default).

--wait polls each image's status until it is done or failed; --out DIR
(implies --wait) downloads the outputs as DIR/<base>.gray.<ext> and
DIR/<base>.thumb.<ext>. On a terminal each file has a progress bar; otherwise
plain lines ("cat.jpg uploaded (1.2 MB)"). --json prints one JSON object per
file on stdout: file, image_id, status (pending, done, failed or skipped),
error {code, message}, outputs {gray, thumb} with their local paths.
A summary ("3 done, 1 failed") ends the run on stderr. The exit status is 0
when every file went through, 1 when one failed or there was no image to
send, 2 for a usage error.

The API is --api, else $` + envAPIURL + `, else the local stack at
http://` + local.DefaultAPIAddr + `; the key is --key, else $` + local.EnvAPIKey + `, else (for a
local API) the one in the data directory ($` + local.EnvData + `, default ./` + local.DefaultDataDir + `).
Against AWS, use the Terraform outputs:
  export ` + envAPIURL + `=$(terraform output -raw api_url) ` + local.EnvAPIKey + `=$(terraform output -raw api_key)

Example:
  imagepipe upload photos/ --out gray/ --concurrency 8
  imagepipe upload cat.jpg --wait --json | jq -r .outputs.gray.url

Flags:
`

// maxUploadBytes is the largest file the CLI sends at all: one presigned
// PUT, no multipart (api.HardMaxUploadBytes).
const maxUploadBytes = api.HardMaxUploadBytes

// uploadExtTypes is the fallback when the bytes do not tell the type.
var uploadExtTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
	".webp": "image/webp", ".tif": "image/tiff", ".tiff": "image/tiff", ".bmp": "image/bmp",
}

// outputExts names downloaded outputs by their content type.
var outputExts = map[string]string{
	"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/tiff": "tiff", "image/bmp": "bmp",
}

// Result states of a file, beyond the API's pending, done and failed.
const statusSkipped = "skipped"

// uploadLine is the JSON line printed for each file.
type uploadLine struct {
	File        string                `json:"file"`
	ImageID     string                `json:"image_id,omitempty"`
	Status      string                `json:"status"`
	ContentType string                `json:"content_type,omitempty"`
	Bytes       int64                 `json:"bytes,omitempty"`
	Error       *api.ErrorBody        `json:"error,omitempty"`
	Warnings    []string              `json:"warnings,omitempty"`
	DurationMS  int64                 `json:"duration_ms,omitempty"`
	Outputs     map[string]uploadFile `json:"outputs,omitempty"`
}

// uploadFile is one output of a file: the local path with --out, the
// presigned URL without.
type uploadFile struct {
	Path        string `json:"path,omitempty"`
	URL         string `json:"url,omitempty"`
	Key         string `json:"key"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Bytes       int64  `json:"bytes"`
	ContentType string `json:"content_type"`
}

// uploadJob is one file to send, planned before any request.
type uploadJob struct {
	path  string // as given or found in a directory
	name  string // base name, for the API and the progress lines
	base  string // output base name, unique in this run
	ctype string
	size  int64
	line  uploadLine // set when the file is refused or skipped in planning
}

type uploadOptions struct {
	wait        bool
	out         string
	concurrency int
	timeout     time.Duration
}

func runUpload(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imagepipe upload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), uploadUsage)
		fs.PrintDefaults()
	}
	var conn apiConfig
	conn.register(fs)
	var o uploadOptions
	fs.BoolVar(&o.wait, "wait", false, "wait until each image is processed (done or failed)")
	fs.StringVar(&o.out, "out", "", "download the outputs into this directory (created if missing; implies --wait)")
	fs.IntVar(&o.concurrency, "concurrency", 4, "files handled at once, 1-64")
	asJSON := fs.Bool("json", false, "print one JSON object per file on stdout")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "with --wait, how long to wait for each image's processing")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "imagepipe upload: "+format+"\n", a...)
		fs.Usage()
		return 2
	}
	switch {
	case len(paths) == 0:
		return usageErr("no FILE or DIR given")
	case o.concurrency < 1 || o.concurrency > 64:
		return usageErr("--concurrency must be 1-64, got %d", o.concurrency)
	case o.timeout <= 0:
		return usageErr("--timeout must be positive, got %s", o.timeout)
	}
	if o.out != "" {
		o.wait = true
	}
	cl, err := conn.client()
	if err != nil {
		fmt.Fprintf(stderr, "imagepipe upload: %v\n", err)
		return 2
	}

	jobs := planUploads(paths)
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			fmt.Fprintf(stderr, "imagepipe upload: --out: %v\n", err)
			return 1
		}
	}

	prog := newProgress(stderr)
	defer prog.close()
	var (
		counts   = map[string]int{}
		printMu  sync.Mutex
		enc      = newLineEncoder(stdout)
		fatalMsg string
	)
	report := func(l uploadLine) {
		printMu.Lock()
		defer printMu.Unlock()
		counts[l.Status]++
		if *asJSON {
			prog.write(func() { _ = enc.Encode(l) })
			return
		}
		prog.println(stdout, resultText(l))
	}

	var todo []*uploadJob
	for _, j := range jobs {
		if j.line.Status != "" {
			report(j.line)
			continue
		}
		todo = append(todo, j)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	up := &uploader{client: cl, opts: o, prog: prog}
	work := make(chan *uploadJob)
	var wg sync.WaitGroup
	for range min(o.concurrency, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				l, err := up.run(ctx, j)
				if err != nil && (client.ErrorCode(err) == "forbidden" || client.IsUnreachable(err)) {
					// The API cannot be used at all: say it once and
					// stop the others.
					printMu.Lock()
					if fatalMsg == "" {
						fatalMsg = describeError(cl, err)
					}
					printMu.Unlock()
					cancel(errors.New("stopped after an earlier error"))
				}
				report(l)
			}
		}()
	}
	for _, j := range todo {
		work <- j
	}
	close(work)
	wg.Wait()
	prog.close()

	if fatalMsg != "" {
		fmt.Fprintf(stderr, "imagepipe upload: %s\n", fatalMsg)
	}
	fmt.Fprintf(stderr, "%s\n", summary(counts, o.wait))
	if counts[api.StatusFailed] > 0 || fatalMsg != "" {
		return 1
	}
	if len(todo) == 0 {
		// Only skipped files: most likely the wrong directory.
		fmt.Fprintln(stderr, "imagepipe upload: no image to upload")
		return 1
	}
	return 0
}

// planUploads expands directories and checks each file (type, size)
// without any request. Refused files get a failed line, non-images found
// in a directory a skipped one.
func planUploads(paths []string) []*uploadJob {
	var jobs []*uploadJob
	seen := map[string]bool{}
	add := func(path string, fromDir bool) {
		abs, err := filepath.Abs(path)
		if err == nil {
			if seen[abs] {
				return
			}
			seen[abs] = true
		}
		jobs = append(jobs, planFile(path, fromDir))
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			jobs = append(jobs, refused(p, "not_found", fileError(err)))
			continue
		}
		if !st.IsDir() {
			add(p, false)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			jobs = append(jobs, refused(p, "not_found", fileError(err)))
			continue
		}
		n := 0
		for _, e := range entries { // sorted by name
			if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
				continue
			}
			if !e.Type().IsRegular() {
				if info, err := os.Stat(filepath.Join(p, e.Name())); err != nil || !info.Mode().IsRegular() {
					continue
				}
			}
			add(filepath.Join(p, e.Name()), true)
			n++
		}
		if n == 0 {
			jobs = append(jobs, &uploadJob{path: p, line: uploadLine{File: p, Status: statusSkipped,
				Error: &api.ErrorBody{Code: "empty_directory", Message: "no files directly in this directory (subdirectories are not searched)"}}})
		}
	}
	// Unique output names: a/cat.jpg and b/cat.jpg become cat and cat-2.
	used := map[string]int{}
	for _, j := range jobs {
		if j.line.Status != "" {
			continue
		}
		base := strings.TrimSuffix(j.name, filepath.Ext(j.name))
		if base == "" {
			base = j.name
		}
		used[base]++
		j.base = base
		if n := used[base]; n > 1 {
			j.base = fmt.Sprintf("%s-%d", base, n)
		}
	}
	return jobs
}

func planFile(path string, fromDir bool) *uploadJob {
	j := &uploadJob{path: path, name: filepath.Base(path)}
	f, err := os.Open(path)
	if err != nil {
		return refused(path, "not_found", fileError(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return refused(path, "not_found", fileError(err))
	}
	j.size = st.Size()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return refused(path, "read_error", err.Error())
	}
	_, j.ctype = imaging.Sniff(head[:n])
	if j.ctype == "" {
		j.ctype = uploadExtTypes[strings.ToLower(filepath.Ext(path))]
	}
	switch {
	case j.ctype == "" && fromDir:
		j.line = uploadLine{File: path, Status: statusSkipped, Bytes: j.size,
			Error: &api.ErrorBody{Code: "unsupported_content_type", Message: "not an image file (by its bytes and its name)"}}
	case j.ctype == "":
		return refused(path, "unsupported_content_type", "not an image of an accepted type (jpeg, png, gif, webp, tiff, bmp) by its bytes or its name")
	case j.size == 0:
		return refused(path, "invalid_size", "the file is empty")
	case j.size > maxUploadBytes:
		return refused(path, "too_large", fmt.Sprintf("the file is %s; imagepipe takes files up to %d MiB (one presigned PUT, no multipart), so it was not sent", humanSize(j.size), maxUploadBytes>>20))
	}
	return j
}

func refused(path, code, msg string) *uploadJob {
	return &uploadJob{path: path, line: uploadLine{File: path, Status: api.StatusFailed, Error: &api.ErrorBody{Code: code, Message: msg}}}
}

// fileError drops the Go prefix from a path error.
func fileError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// uploader sends one file through the pipeline.
type uploader struct {
	client *client.Client
	opts   uploadOptions
	prog   *progress
}

// run uploads j, and with --wait waits for it and downloads its outputs.
// It always returns the file's line; err is the error behind a failure,
// for the caller to tell a broken configuration from a bad file.
func (u *uploader) run(ctx context.Context, j *uploadJob) (uploadLine, error) {
	l := uploadLine{File: j.path, ContentType: j.ctype, Bytes: j.size, Status: api.StatusFailed}
	fail := func(code string, err error) (uploadLine, error) {
		msg := err.Error()
		var ae *client.APIError
		switch {
		case errors.As(err, &ae):
			code, msg = ae.Code, ae.Message
		case client.IsUnreachable(err):
			code = "unreachable"
		case ctx.Err() != nil:
			code, msg = "cancelled", context.Cause(ctx).Error()
		}
		l.Error = &api.ErrorBody{Code: code, Message: msg}
		return l, err
	}
	if err := context.Cause(ctx); err != nil {
		return fail("cancelled", err)
	}
	bar := u.prog.start(j.name, j.size)
	defer u.prog.done(bar)

	bar.phase("presign")
	var resp *api.UploadResponse
	err := retry(ctx, func() error {
		var err error
		resp, err = u.client.CreateUpload(ctx, api.UploadRequest{Filename: j.name, ContentType: j.ctype, Size: j.size})
		return err
	})
	if err != nil {
		return fail("presign_failed", err)
	}
	l.ImageID = resp.ImageID

	bar.phase("upload")
	err = retry(ctx, func() error {
		f, err := os.Open(j.path)
		if err != nil {
			return err
		}
		defer f.Close()
		bar.set(0)
		return u.client.Put(ctx, resp.Upload, &countingReader{r: io.LimitReader(f, j.size), bar: bar}, j.size)
	})
	if err != nil {
		return fail("upload_failed", err)
	}
	u.prog.note(fmt.Sprintf("%s uploaded (%s)", j.path, humanSize(j.size)))
	if !u.opts.wait {
		l.Status = api.StatusPending
		return l, nil
	}

	bar.phase("processing")
	wctx, cancel := context.WithTimeoutCause(ctx, u.opts.timeout, errWaitTimeout)
	v, err := u.client.Wait(wctx, resp.ImageID, client.WaitOptions{})
	cancel()
	if err != nil {
		if errors.Is(err, errWaitTimeout) {
			return fail("timeout", fmt.Errorf("still pending after %s; check later with `imagepipe status %s`", u.opts.timeout, resp.ImageID))
		}
		return fail("status_failed", err)
	}
	l.Warnings, l.DurationMS = v.Warnings, v.DurationMS
	if v.Status != api.StatusDone {
		// failed, or expired (the PUT above went through, so only if the
		// object was removed before the worker saw it).
		l.Error = v.Error
		if l.Error == nil {
			l.Error = &api.ErrorBody{Code: "failed", Message: "the pipeline failed the image without saying why"}
		}
		return l, nil
	}
	l.Outputs = make(map[string]uploadFile, len(v.Outputs))
	for name, o := range v.Outputs {
		l.Outputs[name] = uploadFile{URL: o.URL, Key: o.Key, Width: o.Width, Height: o.Height, Bytes: o.Bytes, ContentType: o.ContentType}
	}
	if u.opts.out != "" {
		bar.phase("download")
		for _, name := range sortedKeys(l.Outputs) {
			o := l.Outputs[name]
			path, err := u.download(ctx, j, name, o)
			if err != nil {
				return fail("download_failed", fmt.Errorf("%s: %w", name, err))
			}
			o.Path, o.URL = path, ""
			l.Outputs[name] = o
		}
	}
	l.Status = api.StatusDone
	return l, nil
}

// errWaitTimeout ends the wait for one image after --timeout.
var errWaitTimeout = errors.New("wait timeout")

// download writes one output to DIR/<base>.<name>.<ext>, through a
// temporary file so that a half-written output never has the final name.
func (u *uploader) download(ctx context.Context, j *uploadJob, name string, o uploadFile) (string, error) {
	ext := outputExts[o.ContentType]
	if ext == "" {
		ext = strings.TrimPrefix(filepath.Ext(o.Key), ".")
	}
	path := filepath.Join(u.opts.out, j.base+"."+name+"."+ext)
	tmp, err := os.CreateTemp(u.opts.out, "."+j.base+".*.part")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	err = retry(ctx, func() error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := tmp.Truncate(0); err != nil {
			return err
		}
		n, err := u.client.Download(ctx, o.URL, tmp)
		if err == nil && o.Bytes > 0 && n != o.Bytes {
			err = fmt.Errorf("got %d bytes, the status says %d", n, o.Bytes)
		}
		return err
	})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// retry calls f up to three times while it fails with a temporary error,
// pausing a little longer each time.
func retry(ctx context.Context, f func() error) error {
	pause := 300 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || attempt == 3 || !client.IsTemporary(err) || client.IsUnreachable(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause *= 3
	}
}

// resultText is the line printed for a file without --json.
func resultText(l uploadLine) string {
	var b strings.Builder
	status := l.Status
	if status == api.StatusPending {
		status = "uploaded, processing"
	}
	b.WriteString(l.File + ": " + status)
	if l.ImageID != "" {
		b.WriteString(" (image " + l.ImageID + ")")
	}
	if l.Error != nil {
		b.WriteString(": " + l.Error.Code + ": " + l.Error.Message)
	}
	for _, name := range sortedKeys(l.Outputs) {
		o := l.Outputs[name]
		where := o.Path
		if where == "" {
			where = o.Key
		}
		fmt.Fprintf(&b, "\n  %-6s %dx%d %s %s", name, o.Width, o.Height, humanSize(o.Bytes), where)
	}
	return b.String()
}

// summary is the last line: "3 done, 1 failed" (with --wait) or
// "4 uploaded, 1 failed".
func summary(counts map[string]int, wait bool) string {
	var parts []string
	if wait {
		parts = append(parts, fmt.Sprintf("%d done", counts[api.StatusDone]))
	} else {
		parts = append(parts, fmt.Sprintf("%d uploaded", counts[api.StatusPending]))
	}
	parts = append(parts, fmt.Sprintf("%d failed", counts[api.StatusFailed]))
	if n := counts[statusSkipped]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", n))
	}
	return strings.Join(parts, ", ")
}

// countingReader advances a progress bar as the body is read.
type countingReader struct {
	r   io.Reader
	bar *bar
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.add(int64(n))
	return n, err
}

// progress draws one bar per file in flight on a terminal, and plain lines
// otherwise. Lines printed through it (results, notes) appear above the
// bars.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int
	bars  []*bar
	drawn int
	stop  chan struct{}
	ended chan struct{}
	once  sync.Once
}

type bar struct {
	name  string
	total int64
	sent  atomic.Int64
	state atomic.Value // string
}

func (b *bar) phase(s string) { b.state.Store(s) }
func (b *bar) set(n int64)    { b.sent.Store(n) }
func (b *bar) add(n int64)    { b.sent.Add(n) }

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, stop: make(chan struct{}), ended: make(chan struct{})}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		p.tty = true
		p.width = 80
		if wd, _, err := term.GetSize(int(f.Fd())); err == nil && wd > 20 {
			p.width = wd
		}
		go p.loop()
	} else {
		close(p.ended)
	}
	return p
}

func (p *progress) loop() {
	defer close(p.ended)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.redraw()
			p.mu.Unlock()
		}
	}
}

func (p *progress) start(name string, total int64) *bar {
	b := &bar{name: name, total: total}
	b.phase("waiting")
	p.mu.Lock()
	p.bars = append(p.bars, b)
	p.mu.Unlock()
	return b
}

func (p *progress) done(b *bar) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.bars {
		if x == b {
			p.bars = append(p.bars[:i], p.bars[i+1:]...)
			break
		}
	}
	if p.tty {
		p.redraw()
	}
}

// note prints a progress line when there are no bars to show it.
func (p *progress) note(line string) {
	if p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, line)
}

// println prints a permanent line to w (stdout or stderr) above the bars.
func (p *progress) println(w io.Writer, line string) {
	p.write(func() { fmt.Fprintln(w, line) })
}

// write runs f with the bars cleared, for output that must not mix with
// them.
func (p *progress) write(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	f()
	if p.tty {
		p.draw()
	}
}

func (p *progress) clear() {
	for ; p.drawn > 0; p.drawn-- {
		fmt.Fprint(p.w, "\x1b[1A\x1b[2K")
	}
}

func (p *progress) redraw() {
	p.clear()
	p.draw()
}

func (p *progress) draw() {
	var b strings.Builder
	for _, x := range p.bars {
		line := x.render(p.width - 1)
		b.WriteString(line + "\n")
		p.drawn++
	}
	fmt.Fprint(p.w, b.String())
}

func (b *bar) render(width int) string {
	name := b.name
	if r := []rune(name); len(r) > 24 {
		name = string(r[:23]) + "…"
	}
	state, _ := b.state.Load().(string)
	var line string
	if state == "upload" {
		sent := min(b.sent.Load(), b.total)
		const cells = 24
		filled := 0
		if b.total > 0 {
			filled = int(sent * cells / b.total)
		}
		pct := 0
		if b.total > 0 {
			pct = int(sent * 100 / b.total)
		}
		line = fmt.Sprintf("%-24s [%s%s] %3d%% %s/%s", name, strings.Repeat("=", filled), strings.Repeat(" ", cells-filled), pct, humanSize(sent), humanSize(b.total))
	} else {
		line = fmt.Sprintf("%-24s %s…", name, state)
	}
	if r := []rune(line); width > 0 && len(r) > width {
		line = string(r[:width])
	}
	return line
}

// close removes the bars; it is safe to call more than once.
func (p *progress) close() {
	p.once.Do(func() {
		if p.tty {
			close(p.stop)
		}
		<-p.ended
		p.mu.Lock()
		p.bars = nil
		p.clear()
		p.mu.Unlock()
	})
}
