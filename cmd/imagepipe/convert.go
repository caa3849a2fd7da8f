package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/imagepipe/imagepipe/imaging"
)

func init() {
	register(&command{
		name:    "convert",
		summary: "run the worker's image steps (gray + thumbnail) on local files",
		run:     runConvert,
	})
}

const convertUsage = `Usage: imagepipe convert [--out DIR] [-r] [--json] [--max-pixels N] [--max-bytes N] [--quality Q] [--thumb-sizes 256,512] FILE|DIR...

Runs the worker's image steps on local files, without the pipeline: format
sniffed from the bytes, limits from the header, EXIF orientation, ITU-R 601
gray and thumbnails. For each FILE, and the image files in each DIR (with
-r, in its subdirectories too), it writes DIR/<base>.gray.<ext> and
DIR/<base>.thumb.<ext> (further thumbnail sizes as <base>.thumb_<n>.<ext>),
where <ext> is jpg for JPEG input and png otherwise; two files of one name
make <base> and <base>-2. A file a directory holds that is not an image by
its bytes is skipped and counted. It prints a line per file for people, or
with --json one JSON object per file (file, format, width, height, path,
outputs with their paths, duration_ms, error). The "path" says how the
outputs were made: "dct" from a JPEG's coefficients without decoding
pixels, "pixels" otherwise. A refused file says its error code
(not_an_image, unsupported_format, corrupt_image, too_many_pixels,
too_large, too_complex) on stderr and the exit status is 1.

Example:
  imagepipe convert --out /tmp/out --thumb-sizes 256,1024 cat.jpg scan.tiff
  imagepipe convert -r --out gray/ photos/
  imagepipe convert --json --out /tmp/out cat.jpg | jq .outputs

Flags:
`

// convertLine is the JSON line printed for each file.
type convertLine struct {
	File        string          `json:"file"`
	Format      string          `json:"format,omitempty"`
	Mismatch    string          `json:"extension_mismatch,omitempty"` // the format the file name claims, when it differs
	Width       int             `json:"width,omitempty"`
	Height      int             `json:"height,omitempty"`
	Orientation int             `json:"orientation,omitempty"`
	Profile     string          `json:"color_profile,omitempty"` // the embedded ICC profile converted to sRGB
	Warnings    []string        `json:"warnings,omitempty"`
	Path        string          `json:"path,omitempty"` // how the outputs were made: "dct" or "pixels"
	Outputs     []convertOutput `json:"outputs,omitempty"`
	DurationMS  int64           `json:"duration_ms"`
	Error       *convertError   `json:"error,omitempty"`
}

type convertOutput struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Bytes       int    `json:"bytes"`
}

type convertError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imagepipe convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), convertUsage)
		fs.PrintDefaults()
	}
	def := imaging.DefaultOptions()
	out := fs.String("out", ".", "directory for the outputs (created if missing)")
	maxPixels := fs.Int64("max-pixels", def.MaxPixels, "refuse images with more pixels (from the header) as too_many_pixels")
	maxBytes := fs.Int64("max-bytes", def.MaxBytes, "refuse files larger than this as too_large")
	quality := fs.Int("quality", def.JPEGQuality, "JPEG output quality, 1-100")
	sizes := fs.String("thumb-sizes", "256", "comma-separated longest sides of the thumbnails")
	recursive := fs.Bool("r", false, "convert the images of the directories' subdirectories too")
	asJSON := fs.Bool("json", false, "print one JSON object per file instead of a line for people")
	paths, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	opts := imaging.Options{MaxPixels: *maxPixels, MaxBytes: *maxBytes, JPEGQuality: *quality}
	var errs []error
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			errs = append(errs, fmt.Errorf("--thumb-sizes: %q is not a number", s))
			continue
		}
		opts.ThumbSizes = append(opts.ThumbSizes, n)
	}
	if *maxPixels <= 0 || *maxBytes <= 0 || *quality <= 0 {
		errs = append(errs, errors.New("--max-pixels, --max-bytes and --quality must be positive"))
	}
	if err := errors.Join(append(errs, opts.Validate())...); err != nil {
		fmt.Fprintf(stderr, "imagepipe convert: %v\n", err)
		return 2
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "imagepipe convert: no FILE or DIR given")
		fs.Usage()
		return 2
	}
	found := collectFiles(paths, *recursive, nil)
	status := 0
	for _, m := range found.missing {
		fmt.Fprintf(stderr, "imagepipe convert: %s: %s\n", m.path, m.msg)
		status = 1
	}
	for _, dir := range found.empty {
		fmt.Fprintf(stderr, "imagepipe convert: %s: %s\n", dir, emptyDirMessage(*recursive))
	}
	var files []string
	for _, f := range found.files {
		if f.fromDir && !looksLikeImage(f.path) {
			found.skipped[skipNotImage]++
			continue
		}
		files = append(files, f.path)
	}
	if len(files) > 0 {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			fmt.Fprintf(stderr, "imagepipe convert: %v\n", err)
			return 1
		}
	}
	// An image's buffers stay live until its outputs are written, so
	// collecting during a file frees next to nothing and costs CPU (a
	// tenth of a 12 MP JPEG's): the collector runs between files instead,
	// unless GOGC or GOMEMLIMIT ask for something else. A memory limit
	// per file (convertMemoryLimit) still starts it if garbage piles up.
	manualGC := os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == ""
	if manualGC {
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	}
	enc := newLineEncoder(stdout)
	converted, refused := 0, 0
	for i, base := range uniqueBases(files) {
		file := files[i]
		if manualGC && i > 0 {
			runtime.GC()
		}
		line, err := convertFile(ctx, file, base, *out, opts, manualGC)
		if err != nil {
			code := imaging.Code(err)
			if code == "" {
				code = "failed"
			}
			line.Error = &convertError{Code: code, Message: imaging.Reason(err)}
			fmt.Fprintf(stderr, "imagepipe convert: %s: %s: %s\n", file, code, line.Error.Message)
			status = 1
			refused++
		} else {
			converted++
		}
		switch {
		case *asJSON:
			if err := enc.Encode(line); err != nil {
				fmt.Fprintf(stderr, "imagepipe convert: %v\n", err)
				return 1
			}
		case line.Error == nil:
			fmt.Fprintln(stdout, convertText(line))
		}
		if ctx.Err() != nil {
			return 1
		}
	}
	if len(files) != 1 || len(found.skipped) > 0 {
		fmt.Fprintf(stderr, "%d converted, %d refused%s\n", converted, refused, skippedText(found.skipped))
	}
	if len(files) == 0 && status == 0 {
		fmt.Fprintln(stderr, "imagepipe convert: no image to convert")
		return 1
	}
	return status
}

// looksLikeImage reports whether a file's first bytes are an image's.
func looksLikeImage(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // let the conversion say what is wrong
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	format, _ := imaging.Sniff(head[:n])
	return format != ""
}

// convertText is a file's line for people: "cat.jpg: jpeg 4000x3000 →
// out/cat.gray.jpg 812.3 kB, out/cat.thumb.jpg 12.1 kB (412 ms, dct)", then
// its warnings.
func convertText(l convertLine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %dx%d", l.File, l.Format, l.Width, l.Height)
	if l.Mismatch != "" {
		fmt.Fprintf(&b, " (named as %s)", l.Mismatch)
	}
	b.WriteString(" →")
	for i, o := range l.Outputs {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s %s", o.Path, humanSize(int64(o.Bytes)))
	}
	if l.Path != "" {
		fmt.Fprintf(&b, " (%d ms, %s)", l.DurationMS, l.Path)
	} else {
		fmt.Fprintf(&b, " (%d ms)", l.DurationMS)
	}
	for _, w := range l.Warnings {
		b.WriteString("\n  warning: " + w)
	}
	return b.String()
}

// extFormats maps file name extensions to the format they claim.
var extFormats = map[string]string{
	".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".png": "png", ".gif": "gif",
	".webp": "webp", ".tif": "tiff", ".tiff": "tiff", ".bmp": "bmp",
}

// convertMemoryLimit is the Go memory limit while convert works on data
// with the collector off: twice the most that the file and its pixels can
// take (8 bytes a pixel, more than the image steps hold for any format),
// at least 256 MiB. Below it the collector never runs during a file; past
// it, it does.
func convertMemoryLimit(data []byte, maxPixels int64) int64 {
	need := int64(len(data))
	if info, err := imaging.Probe(data); err == nil {
		need += min(info.Pixels(), maxPixels) * 8
	}
	return max(2*need, 256<<20)
}

// processMapped runs process on data, the bytes of file as mapFile gave
// them. A mapped file that is truncated meanwhile faults when its lost
// pages are read; the fault panics (debug.SetPanicOnFault) instead of
// killing the process, and becomes the file's error. imaging reads its
// input in the calling goroutine only, so the fault happens here.
func processMapped(ctx context.Context, file string, data []byte, opts imaging.Options,
	process func(context.Context, []byte, imaging.Options) (*imaging.Result, error)) (res *imaging.Result, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if f, ok := r.(interface{ Addr() uintptr }); ok && len(data) > 0 {
			if a, lo := f.Addr(), uintptr(unsafe.Pointer(unsafe.SliceData(data))); a >= lo && a-lo < uintptr(len(data)) {
				res, err = nil, fmt.Errorf("%s changed while it was read (truncated by another program?): %v", file, r)
				return
			}
		}
		panic(r)
	}()
	return process(ctx, data, opts)
}

func convertFile(ctx context.Context, file, base, outDir string, opts imaging.Options, limitMemory bool) (convertLine, error) {
	start := time.Now()
	line := convertLine{File: file}
	defer func() { line.DurationMS = time.Since(start).Milliseconds() }()
	// Refuse an oversized file before reading it.
	st, err := os.Stat(file)
	if err != nil {
		return line, err
	}
	if st.Size() > opts.MaxBytes {
		return line, &imaging.Error{Code: imaging.ErrTooLarge.Code,
			Err: fmt.Errorf("%d bytes, limit %d", st.Size(), opts.MaxBytes)}
	}
	data, release, err := mapFile(file)
	if err != nil {
		return line, err
	}
	defer release() // the outputs are fresh memory: nothing refers to data
	if limitMemory {
		debug.SetMemoryLimit(convertMemoryLimit(data, opts.MaxPixels))
	}
	res, err := processMapped(ctx, file, data, opts, imaging.Process)
	line.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		return line, err
	}
	ext := strings.ToLower(filepath.Ext(file))
	line.Format, line.Width, line.Height, line.Orientation = res.Info.Format, res.Info.Width, res.Info.Height, res.Info.Orientation
	line.Profile, line.Warnings = res.ColorProfile, res.Warnings
	if claimed, ok := extFormats[ext]; ok && claimed != res.Info.Format {
		line.Mismatch = claimed
	}
	for _, o := range res.Outputs {
		path := filepath.Join(outDir, base+"."+o.Name+"."+o.Ext)
		if err := writeOutput(outDir, base, path, o.Data); err != nil {
			return line, err
		}
		line.Outputs = append(line.Outputs, convertOutput{Name: o.Name, Path: path, ContentType: o.ContentType,
			Width: o.Width, Height: o.Height, Bytes: len(o.Data)})
		line.Path = o.Path
	}
	line.DurationMS = time.Since(start).Milliseconds()
	return line, nil
}

// writeOutput writes data to path through a part file (partFile), so that
// a convert killed or out of disk mid-write leaves no truncated output
// under the output's name.
func writeOutput(dir, base, path string, data []byte) error {
	tmp, err := partFile(dir, base)
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
