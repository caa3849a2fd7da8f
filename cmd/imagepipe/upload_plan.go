package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/imaging"
)

// Why a file was not sent, for the counts of the summary.
const (
	skipNotImage  = "not an image"
	skipExcluded  = "excluded"
	skipDone      = "already done"
	skipHiddenDir = "in a hidden directory"
	skipSubdir    = "in a subdirectory (use -r)"
	skipSpecial   = "not a regular file"
)

// uploadExtTypes are the types a file name claims: a file that claims one
// and is not one by its bytes is refused, not skipped.
var uploadExtTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
	".webp": "image/webp", ".tif": "image/tiff", ".tiff": "image/tiff", ".bmp": "image/bmp",
}

// filterRule is one --include or --exclude pattern.
type filterRule struct {
	include bool
	pattern string
	re      *regexp.Regexp
	base    bool // no "/" in the pattern: it is matched against the base name
}

// filters are the --include and --exclude patterns in the order given: the
// last one that matches a file decides, and a file no pattern matches is
// included (as in `aws s3 cp --recursive`).
type filters []filterRule

func (f *filters) add(include bool, pattern string) error {
	re, err := globRegexp(pattern)
	if err != nil {
		return err
	}
	*f = append(*f, filterRule{include: include, pattern: pattern, re: re, base: !strings.Contains(pattern, "/")})
	return nil
}

// included reports whether rel (the file's path below the directory given,
// with slashes) is to be uploaded.
func (f filters) included(rel string) bool {
	in := true
	for _, r := range f {
		name := rel
		if r.base {
			name = path.Base(rel)
		}
		if r.re.MatchString(name) {
			in = r.include
		}
	}
	return in
}

// globRegexp compiles a glob: * is any run of characters but /, ** any run
// including /, ? one character, [...] a class; a trailing / is dropped.
func globRegexp(glob string) (*regexp.Regexp, error) {
	if glob == "" {
		return nil, errors.New("empty pattern")
	}
	var b strings.Builder
	b.WriteString("^")
	g := strings.TrimSuffix(glob, "/")
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				i++
				if i+1 < len(g) && g[i+1] == '/' { // "**/" also matches nothing
					i++
					b.WriteString("(?:.*/)?")
					continue
				}
				b.WriteString(".*")
				continue
			}
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := strings.IndexByte(g[i:], ']')
			if j < 2 {
				return nil, fmt.Errorf("pattern %q: unclosed [", glob)
			}
			class := g[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// uploadPlan is what an upload run will do, decided before any request.
type uploadPlan struct {
	jobs []*uploadJob
	// skipped counts the files not sent by reason; the ones worth a line
	// of their own (a non-image in a directory) are jobs with a line too.
	skipped map[string]int
}

// uploadJob is one file to send, or a refused or skipped one with its line.
type uploadJob struct {
	path  string // as given or found in a directory
	name  string // base name, for the API and the progress lines
	base  string // output base name, unique in this run
	ctype string
	size  int64
	line  uploadLine // set when the file is refused or skipped in planning
}

// foundFile is a file named on the command line or found in a directory.
type foundFile struct {
	path    string
	fromDir bool
}

// collected is what collectFiles found in the command line's paths.
type collected struct {
	files []foundFile
	// skipped counts the files of the directories not taken, by reason.
	skipped map[string]int
	// missing are the paths that cannot be read, with why.
	missing []foundProblem
	// empty are the directories that held no file at all.
	empty []string
}

type foundProblem struct{ path, code, msg string }

// collectFiles expands the directories among paths: their files, and with
// recursive every level below (hidden directories only when named), kept
// or not by the filters. Files are taken once each, in the order given
// (a directory's in name order).
func collectFiles(paths []string, recursive bool, flt filters) collected {
	c := collected{skipped: map[string]int{}}
	seen := map[string]bool{}
	add := func(path string, fromDir bool) {
		if abs, err := filepath.Abs(path); err == nil {
			if seen[abs] {
				return
			}
			seen[abs] = true
		}
		c.files = append(c.files, foundFile{path: path, fromDir: fromDir})
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			c.missing = append(c.missing, foundProblem{root, "not_found", fileError(err)})
			continue
		}
		if !st.IsDir() {
			add(root, false)
			continue
		}
		files := 0
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				c.missing = append(c.missing, foundProblem{path, "read_error", fileError(err)})
				return nil
			}
			if path == root {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				switch {
				case !recursive:
					c.skipped[skipSubdir] += countFiles(path)
				case strings.HasPrefix(d.Name(), "."):
					c.skipped[skipHiddenDir] += countFiles(path)
				default:
					return nil
				}
				return filepath.SkipDir
			}
			if !d.Type().IsRegular() {
				// A symbolic link to a file is followed; to a directory
				// (a loop, perhaps) it is not.
				if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
					c.skipped[skipSpecial]++
					return nil
				}
			}
			if !flt.included(rel) {
				c.skipped[skipExcluded]++
				return nil
			}
			files++
			add(path, true)
			return nil
		})
		if err != nil {
			c.missing = append(c.missing, foundProblem{root, "read_error", fileError(err)})
		}
		if files == 0 && len(flt) == 0 {
			c.empty = append(c.empty, root)
		}
	}
	return c
}

// emptyDirMessage says why a directory gave nothing.
func emptyDirMessage(recursive bool) string {
	if recursive {
		return "no files in this directory"
	}
	return "no files directly in this directory (-r searches its subdirectories)"
}

// uniqueBases names each file's outputs after it, without its extension,
// numbered when two share a name: a/cat.jpg and b/cat.jpg make cat and
// cat-2.
func uniqueBases(paths []string) []string {
	used := map[string]int{}
	out := make([]string, len(paths))
	for i, p := range paths {
		name := filepath.Base(p)
		base := strings.TrimSuffix(name, filepath.Ext(name))
		if base == "" {
			base = name
		}
		used[base]++
		out[i] = base
		if n := used[base]; n > 1 {
			out[i] = fmt.Sprintf("%s-%d", base, n)
		}
	}
	return out
}

// planUploads checks each file's bytes and size without any request.
// Refused files get a failed line; what a directory holds that is not to
// be sent is counted.
func planUploads(paths []string, recursive bool, flt filters) *uploadPlan {
	c := collectFiles(paths, recursive, flt)
	p := &uploadPlan{skipped: c.skipped}
	for _, m := range c.missing {
		p.jobs = append(p.jobs, refused(m.path, m.code, m.msg))
	}
	var names []string
	var sendable []*uploadJob
	for _, f := range c.files {
		j := planFile(f.path, f.fromDir)
		if j.line.Status == statusSkipped {
			p.skipped[skipNotImage]++
		}
		p.jobs = append(p.jobs, j)
		if j.line.Status == "" {
			sendable = append(sendable, j)
			names = append(names, j.path)
		}
	}
	for i, base := range uniqueBases(names) {
		sendable[i].base = base
	}
	for _, dir := range c.empty {
		p.jobs = append(p.jobs, &uploadJob{path: dir, line: uploadLine{File: dir, Status: statusSkipped,
			Error: &api.ErrorBody{Code: "empty_directory", Message: emptyDirMessage(recursive)}}})
	}
	return p
}

// countFiles counts the regular files below dir, for what a skipped
// directory held.
func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// planFile checks one file by its first bytes. A file whose bytes are not
// an image is refused when it was named or claims an image type by its
// name, and skipped when a directory merely held it (notes.txt).
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
	claimed := uploadExtTypes[strings.ToLower(filepath.Ext(path))]
	switch {
	case j.size == 0:
		return refused(path, "invalid_size", "the file is empty")
	case j.ctype == "" && fromDir && claimed == "":
		j.line = uploadLine{File: path, Status: statusSkipped, Bytes: j.size,
			Error: &api.ErrorBody{Code: "not_an_image", Message: "not an image file (by its bytes)"}}
	case j.ctype == "" && claimed != "":
		return refused(path, "not_an_image", fmt.Sprintf("the name says %s but the bytes are not an image of an accepted type (jpeg, png, gif, webp, tiff, bmp); not sent", claimed))
	case j.ctype == "":
		return refused(path, "not_an_image", "the bytes are not an image of an accepted type (jpeg, png, gif, webp, tiff, bmp); not sent")
	case j.size > maxUploadBytes:
		return refused(path, "too_large", fmt.Sprintf("the file is %s; imagepipe takes files up to %s (one presigned PUT, no multipart), so it was not sent", humanSize(j.size), humanSize(maxUploadBytes)))
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
