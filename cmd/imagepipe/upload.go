package main

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/client"
)

func init() {
	register(&command{name: "upload", summary: "upload images through the API; wait for and download their outputs", run: runUpload})
}

const uploadUsage = `Usage: imagepipe upload [-r] [--include GLOB]... [--exclude GLOB]... [--dry-run]
                        [--skip-done] [--wait [--timeout D]] [--out DIR] [--concurrency N]
                        [--json] [--quiet | --no-progress] FILE|DIR...

Uploads each FILE, and the files in each DIR (with -r, in its subdirectories
too; hidden directories only when named), the way the page does: POST
/v1/uploads for a presigned URL, then PUT the bytes straight to S3, their MD5
signed in (S3 refuses other bytes). Every file is checked by its bytes before
any request: one that is not an image is refused when named or when its name
claims an image (fake.jpg), and skipped when a directory merely holds it
(notes.txt). What is not sent is counted and said in the summary.

--include and --exclude filter the files found in directories (not the ones
named), in the order given, the last matching one deciding, as aws s3 cp
does: a GLOB without / is matched against the file name, one with / against
the path below the directory; * does not cross /, ** does.
  imagepipe upload -r photos/ --exclude '*' --include '*.jpg' --exclude 'raw/**'

--skip-done skips a file when an image uploaded with the same bytes is done
(found by their MD5: GET /v1/images?content_md5=); with --out its outputs are
downloaded all the same. --dry-run says what would be sent, sending nothing.

--wait polls each image's status until it is done or failed; --out DIR
(implies --wait, made when the first output arrives) downloads the outputs as
DIR/<base>.gray.<ext> and DIR/<base>.thumb.<ext>. On a terminal an overall
line (files, bytes, speed, time left) and a bar per file are drawn;
--no-progress prints lines instead, --quiet only errors and the summary.
--json prints one JSON object per file on stdout: file, image_id, status
(pending, processing, done, failed or skipped), error {code, message},
outputs {gray, thumb} with their local paths. Sizes are SI (1 MB = 1000 kB).

Exit status: 0 when every file went through, 1 when one failed (or there was
nothing to send), 2 for a usage or configuration error, 3 when --wait ran out
of --timeout with an image still pending or processing (it goes on; ask
again with imagepipe status ID).

` + apiHelp + `

Example:
  imagepipe upload -r photos/ --out gray/ --concurrency 8
  imagepipe upload cat.jpg --wait --json | jq -r .outputs.gray.url

Flags:
`

// maxUploadBytes is the largest file the CLI sends at all: one presigned
// PUT, no multipart.
const maxUploadBytes = api.HardMaxUploadBytes

// outputExts names downloaded outputs by their content type.
var outputExts = map[string]string{
	"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/tiff": "tiff", "image/bmp": "bmp",
}

// Result states of a file, beyond the API's.
const statusSkipped = "skipped"

// exitTimeout is the exit status when --wait ran out of --timeout.
const exitTimeout = 3

// uploadLine is the JSON line printed for each file.
type uploadLine struct {
	File        string                `json:"file"`
	ImageID     string                `json:"image_id,omitempty"`
	Status      string                `json:"status"`
	ContentType string                `json:"content_type,omitempty"`
	Bytes       int64                 `json:"bytes,omitempty"`
	ContentMD5  string                `json:"content_md5,omitempty"`
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

// maxConcurrency bounds upload --concurrency (and the idle connections the
// CLI's client keeps per host).
const maxConcurrency = 64

type uploadOptions struct {
	wait        bool
	out         string
	concurrency int
	timeout     time.Duration
	skipDone    bool
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
	var flt filters
	fs.BoolVar(&o.wait, "wait", false, "wait until each image is processed (done or failed)")
	fs.StringVar(&o.out, "out", "", "download the outputs into this directory (made when needed; implies --wait)")
	fs.IntVar(&o.concurrency, "concurrency", 4, fmt.Sprintf("files handled at once, 1-%d", maxConcurrency))
	asJSON := fs.Bool("json", false, "print one JSON object per file on stdout")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "with --wait, how long to wait for each image's processing")
	recursive := fs.Bool("r", false, "upload the files of the directories' subdirectories too")
	fs.BoolVar(recursive, "recursive", false, "same as -r")
	fs.Func("include", "upload the files that match GLOB (repeatable; see above)", func(v string) error { return flt.add(true, v) })
	fs.Func("exclude", "do not upload the files that match GLOB (repeatable; see above)", func(v string) error { return flt.add(false, v) })
	dryRun := fs.Bool("dry-run", false, "say what would be uploaded and skipped; send nothing")
	fs.BoolVar(&o.skipDone, "skip-done", false, "skip files whose bytes were uploaded before and are done (outputs exist)")
	quiet := fs.Bool("quiet", false, "print only errors and the summary")
	fs.BoolVar(quiet, "q", false, "same as --quiet")
	noProgress := fs.Bool("no-progress", false, "no progress bars: plain lines even on a terminal")
	paths, err := parseInterleaved(fs, args, stdout)
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
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return usageErr("--concurrency must be 1-%d, got %d", maxConcurrency, o.concurrency)
	case o.timeout <= 0:
		return usageErr("--timeout must be positive, got %s", o.timeout)
	}
	if o.out != "" {
		o.wait = true
	}

	plan := planUploads(paths, *recursive, flt)
	var todo []*uploadJob
	var bytes int64
	for _, j := range plan.jobs {
		if j.line.Status == "" {
			todo = append(todo, j)
			bytes += j.size
		}
	}
	if *dryRun && !o.skipDone {
		return printDryRun(stdout, stderr, plan, todo, bytes, nil)
	}
	// The API is checked before anything else is done: a configuration
	// that cannot work is said once, first, and leaves nothing behind.
	var cl *client.Client
	var ep endpoint
	if len(todo) > 0 {
		var code int
		if cl, ep, code = conn.connect(ctx, "imagepipe upload", stderr); cl == nil {
			return code
		}
	}
	if *dryRun {
		done := map[*uploadJob]string{}
		for _, j := range todo {
			sum, err := fileMD5(j.path)
			if err != nil {
				continue
			}
			if v, err := findDone(ctx, cl, sum); err == nil && v != nil {
				done[j] = v.ImageID
			}
		}
		return printDryRun(stdout, stderr, plan, todo, bytes, done)
	}

	prog := newProgress(stderr, !*noProgress && !*quiet, *quiet)
	defer prog.close()
	prog.plan(len(todo), bytes)
	var (
		counts   = map[string]int{}
		printMu  sync.Mutex
		enc      = newLineEncoder(stdout)
		fatalMsg string
		started  = time.Now()
	)
	report := func(l uploadLine) {
		printMu.Lock()
		defer printMu.Unlock()
		counts[l.Status]++
		if l.Status == statusSkipped && l.Error != nil && l.Error.Code == "already_done" {
			plan.skipped[skipDone]++
		}
		switch {
		case *asJSON:
			prog.write(func() { _ = enc.Encode(l) })
		case *quiet && l.Status == api.StatusFailed:
			prog.println(stderr, resultText(l))
		case !*quiet:
			prog.println(stdout, resultText(l))
		}
	}
	for _, j := range plan.jobs {
		if j.line.Status != "" {
			report(j.line)
		}
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
					// The API cannot be used any more: say it once and
					// stop the others.
					printMu.Lock()
					if fatalMsg == "" {
						fatalMsg = ep.describe(cl, err)
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
	fmt.Fprintln(stderr, summary(counts, plan.skipped, o.wait, prog.sent.Load(), time.Since(started)))
	switch {
	case counts[api.StatusFailed] > 0 || fatalMsg != "":
		return 1
	case len(todo) == 0:
		// Nothing to send: most likely the wrong directory or filters.
		fmt.Fprintln(stderr, "imagepipe upload: no image to upload")
		return 1
	case o.wait && counts[api.StatusPending]+counts[api.StatusProcessing] > 0:
		return exitTimeout
	}
	return 0
}

// printDryRun says what a run would send and skip. done names the files
// --skip-done would skip, with their image.
func printDryRun(stdout, stderr io.Writer, plan *uploadPlan, todo []*uploadJob, bytes int64, done map[*uploadJob]string) int {
	failed := 0
	for _, j := range plan.jobs {
		switch {
		case j.line.Status == api.StatusFailed:
			failed++
			fmt.Fprintln(stdout, resultText(j.line))
		case j.line.Status != "":
			fmt.Fprintln(stdout, resultText(j.line))
		case done[j] != "":
			fmt.Fprintf(stdout, "%s: would skip: already done (image %s)\n", j.path, done[j])
		default:
			fmt.Fprintf(stdout, "%s: would upload (%s, %s)\n", j.path, j.ctype, humanSize(j.size))
		}
	}
	skipped := maps.Clone(plan.skipped)
	if len(done) > 0 {
		skipped[skipDone] = len(done)
		for j := range done {
			bytes -= j.size
		}
	}
	fmt.Fprintf(stderr, "dry run: would upload %d files (%s)%s%s; nothing was sent\n", len(todo)-len(done), humanSize(bytes),
		plural(failed, ", %d refused"), skippedText(skipped))
	if failed > 0 {
		return 1
	}
	return 0
}

func plural(n int, format string) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(format, n)
}

// skippedText is ", 5 skipped (excluded: 3, not an image: 2)" or "".
func skippedText(skipped map[string]int) string {
	total := 0
	var why []string
	for _, reason := range sortedKeys(skipped) {
		if n := skipped[reason]; n > 0 {
			total += n
			why = append(why, fmt.Sprintf("%s: %d", reason, n))
		}
	}
	if total == 0 {
		return ""
	}
	return fmt.Sprintf(", %d skipped (%s)", total, strings.Join(why, ", "))
}

// uploader sends one file through the pipeline.
type uploader struct {
	client *client.Client
	opts   uploadOptions
	prog   *progress
	// done learns how long this run's images take, so that --wait polls
	// each about when it should be done.
	done client.DoneEstimate
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

	bar.phase("reading")
	sum, err := fileMD5(j.path)
	if err != nil {
		return fail("read_error", err)
	}
	l.ContentMD5 = sum
	if u.opts.skipDone {
		bar.phase("looking for it")
		v, err := findDone(ctx, u.client, sum)
		if err != nil {
			return fail("lookup_failed", err)
		}
		if v != nil {
			l.Status, l.ImageID = statusSkipped, v.ImageID
			l.Error = &api.ErrorBody{Code: "already_done", Message: "the same bytes were uploaded before and are done"}
			u.prog.unplan(j.size)
			if u.opts.out != "" {
				if err := u.outputs(ctx, bar, j, &l, v); err != nil {
					return fail("download_failed", err)
				}
			}
			return l, nil
		}
	}

	bar.phase("presign")
	asked := time.Now()
	var resp *api.UploadResponse
	err = retry(ctx, func() error {
		var err error
		resp, err = u.client.CreateUpload(ctx, api.UploadRequest{Filename: j.name, ContentType: j.ctype, Size: j.size, ContentMD5: sum})
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
	uploading := time.Since(asked)
	u.prog.note(fmt.Sprintf("%s uploaded (%s)", j.path, humanSize(j.size)))
	if !u.opts.wait {
		l.Status = api.StatusPending
		return l, nil
	}

	bar.phase("processing")
	wctx, cancel := context.WithTimeoutCause(ctx, u.opts.timeout, errWaitTimeout)
	v, err := u.client.Wait(wctx, resp.ImageID, u.done.Options())
	cancel()
	if err == nil {
		u.done.Add(uploading, v)
	}
	if err != nil {
		if errors.Is(err, errWaitTimeout) && ctx.Err() == nil {
			// Not a failure: the image goes on, and the caller learns it.
			l.Status = api.StatusPending
			if v != nil && v.Status == api.StatusProcessing {
				l.Status = api.StatusProcessing
			}
			l.Error = &api.ErrorBody{Code: "timeout", Message: fmt.Sprintf("still %s after %s; check later with `imagepipe status %s`", l.Status, u.opts.timeout, resp.ImageID)}
			return l, nil
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
	if err := u.outputs(ctx, bar, j, &l, v); err != nil {
		return fail("download_failed", err)
	}
	l.Status = api.StatusDone
	return l, nil
}

// outputs fills the line's outputs from a done image, and with --out
// downloads them.
func (u *uploader) outputs(ctx context.Context, bar *bar, j *uploadJob, l *uploadLine, v *api.ImageView) error {
	l.Outputs = make(map[string]uploadFile, len(v.Outputs))
	for name, o := range v.Outputs {
		l.Outputs[name] = uploadFile{URL: o.URL, Key: o.Key, Width: o.Width, Height: o.Height, Bytes: o.Bytes, ContentType: o.ContentType}
	}
	if u.opts.out == "" {
		return nil
	}
	bar.phase("download")
	if v.Outputs[sortedKeys(v.Outputs)[0]].URL == "" {
		// A listing's view has no URLs: ask the image.
		full, err := u.client.Image(ctx, v.ImageID)
		if err != nil {
			return err
		}
		for name, o := range full.Outputs {
			f := l.Outputs[name]
			f.URL = o.URL
			l.Outputs[name] = f
		}
	}
	for _, name := range sortedKeys(l.Outputs) {
		o := l.Outputs[name]
		path, err := u.download(ctx, j, name, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		o.Path, o.URL = path, ""
		l.Outputs[name] = o
	}
	return nil
}

// findDone returns the done image uploaded with the bytes whose MD5 is
// sum, or nil when there is none.
func findDone(ctx context.Context, cl *client.Client, sum string) (*api.ImageView, error) {
	var l *api.ImageList
	err := retry(ctx, func() error {
		var err error
		l, err = cl.ListImages(ctx, client.ListOptions{ContentMD5: sum, Statuses: []string{api.StatusDone}})
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, v := range l.Images {
		if v.Status == api.StatusDone && len(v.Outputs) > 0 {
			return &v, nil
		}
	}
	return nil, nil
}

// fileMD5 is the hex MD5 of a file's bytes.
func fileMD5(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// errWaitTimeout ends the wait for one image after --timeout.
var errWaitTimeout = errors.New("wait timeout")

// download writes one output to DIR/<base>.<name>.<ext> (mode 0644 less
// the umask, like any file a program writes), through a temporary file so
// that a half-written output never has the final name. DIR is made on the
// first download.
func (u *uploader) download(ctx context.Context, j *uploadJob, name string, o uploadFile) (string, error) {
	ext := outputExts[o.ContentType]
	if ext == "" {
		ext = strings.TrimPrefix(filepath.Ext(o.Key), ".")
	}
	if err := os.MkdirAll(u.opts.out, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(u.opts.out, j.base+"."+name+"."+ext)
	tmp, err := partFile(u.opts.out, j.base)
	if err != nil {
		return "", err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
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
	if err := os.Rename(tmpName, path); err != nil {
		return "", err
	}
	return path, nil
}

// partFile creates DIR/.<base>.<random>.part, the file an output is
// written to before it is renamed to its name: a half-written output (a
// kill -9, a full disk) never has the final name.
func partFile(dir, base string) (*os.File, error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return os.OpenFile(filepath.Join(dir, "."+base+"."+hex.EncodeToString(rnd[:])+".part"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
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
	switch {
	case status == api.StatusPending && l.Error == nil:
		status = "uploaded, processing"
	case status == statusSkipped && l.Error != nil && l.Error.Code == "already_done":
		status = "skipped, already done"
	}
	b.WriteString(l.File + ": " + status)
	if l.ImageID != "" {
		b.WriteString(" (image " + l.ImageID + ")")
	}
	if l.Error != nil && l.Error.Code != "already_done" {
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

// summary is the last line: "3 done, 1 failed, 2 skipped (2 not images);
// 4.1 MB in 2.3s (1.8 MB/s)" (with --wait) or "4 uploaded, ...".
func summary(counts, skipped map[string]int, wait bool, sent int64, took time.Duration) string {
	var parts []string
	if wait {
		parts = append(parts, fmt.Sprintf("%d done", counts[api.StatusDone]))
		if n := counts[api.StatusPending] + counts[api.StatusProcessing]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d still processing", n))
		}
	} else {
		parts = append(parts, fmt.Sprintf("%d uploaded", counts[api.StatusPending]))
	}
	parts = append(parts, fmt.Sprintf("%d failed", counts[api.StatusFailed]))
	s := strings.Join(parts, ", ") + skippedText(skipped)
	if sent > 0 && took > 0 {
		s += fmt.Sprintf("; %s in %s (%s/s)", humanSize(sent), humanDuration(took), humanSize(int64(float64(sent)/took.Seconds())))
	}
	return s
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
