package s3server

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// objectStore is the backend gofakes3 sees for objects. Each object is ONE
// file, Dir/objects/<bucket>/<encoded key>: the object's bytes, then its
// metadata as JSON, then an 8-byte footer (the JSON's length and a magic
// number). A new version is written whole under Dir/tmp and renamed over
// the old one, so bytes and metadata become visible together or not at all:
// a crash at any moment leaves either the old version or the new one, never
// an object without its metadata.
//
// File names encode the key (encodeKey): any key S3 accepts, with empty,
// "." or ".." segments, a trailing "/", a 300-byte segment or any UTF-8,
// has a file name, and no key can name a path outside its bucket.
//
// An index of every object (key, size, ETag, metadata) is kept in memory
// and built at start by reading each file's footer: listing, HEAD and the
// conditions of a conditional write never read the object files, so a
// damaged file cannot fail a listing. A file whose footer does not hold at
// start (cut short by a power loss, written by something else) is moved to
// Dir/damaged and logged; a file that changes under the running server is
// dropped from the index the first time a GET notices.
type objectStore struct {
	dir     string // Dir/objects
	tmpDir  string // Dir/tmp, same file system
	damaged string // Dir/damaged
	log     *slog.Logger

	mu      sync.RWMutex
	buckets map[string]*bucketIndex

	// keys serialises the file operations on one key: a write holds its
	// stripe from the check of its conditions to the rename and the index
	// update, a GET from the index lookup to the open. The file system
	// calls (a rename can block for milliseconds) are made without mu, so
	// writes to other keys, HEADs and listings do not wait behind them.
	keys [64]sync.RWMutex

	spares spares
}

// keyLock is the stripe of keys that bucket/key belongs to.
func (s *objectStore) keyLock(bucket, key string) *sync.RWMutex {
	h := fnv.New32a()
	h.Write([]byte(bucket))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return &s.keys[h.Sum32()%uint32(len(s.keys))]
}

// spares are files under Dir/tmp whose inodes the next files written take
// again (written over, see reusedFile): a version replaced by a newer one, a
// deleted object, a refused body. Creating a file allocates an inode, and on
// ext4 without a journal the allocator scans past every inode freed in the
// last minute or more (recently_deleted): with a file freed for every one
// written, the creates of a busy store cost more than the rest of a small
// PutObject. A replaced version becomes a spare by the rename that replaces
// it (RENAME_EXCHANGE), so keeping it costs no system call; only a version no
// GET has open is taken, so no reader ever sees its bytes change. A spare
// keeps its old bytes until taken: at most maxSpares files and maxSpareBytes
// are kept, the rest removed as before. Dir/tmp is emptied at start: spares
// never outlive the process.
type spares struct {
	mu       sync.Mutex
	files    []spare
	bytes    int64
	max      int // 0: none kept
	maxBytes int64
	seq      atomic.Uint64
	// noExchange is set once the file system refused RENAME_EXCHANGE.
	noExchange atomic.Bool
}

type spare struct {
	name string
	size int64
}

const (
	maxSpares     = 64
	maxSpareBytes = 32 << 20
)

func (p *spares) take() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.files) == 0 {
		return ""
	}
	f := p.files[len(p.files)-1]
	p.files = p.files[:len(p.files)-1]
	p.bytes -= f.size
	return f.name
}

// room reports whether a spare of size bytes would be kept.
func (p *spares) room(size int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.files) < p.max && p.bytes+size <= p.maxBytes
}

// keep adds a file under Dir/tmp of size bytes to the spares, or removes it
// when there is no room.
func (p *spares) keep(name string, size int64) {
	p.mu.Lock()
	if len(p.files) < p.max && p.bytes+size <= p.maxBytes {
		p.files = append(p.files, spare{name, size})
		p.bytes += size
		name = ""
	}
	p.mu.Unlock()
	if name != "" {
		os.Remove(name)
	}
}

// names are the spares' file names (for tests).
func (p *spares) names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.files))
	for i, f := range p.files {
		out[i] = f.name
	}
	return out
}

// newFile is a file under Dir/tmp to write a body or an object to, from its
// start: a spare (a reusedFile, its old bytes cut by trim once written), or
// a new one.
func (s *objectStore) newFile(pattern string) (tempFile, error) {
	for {
		name := s.spares.take()
		if name == "" {
			return createTemp(s.tmpDir, pattern)
		}
		f, err := openSpare(name)
		if err == nil {
			var info os.FileInfo
			if info, err = f.Stat(); err == nil {
				return &reusedFile{File: f, stale: info.Size()}, nil
			}
			f.Close()
		}
		os.Remove(name)
		if noSpace(err) {
			return nil, err
		}
	}
}

// reusedFile is a spare being written over. It is not emptied when taken:
// on ext4 (auto_da_alloc) a file truncated to nothing has its data flushed
// when it is closed, and its blocks freed (discarded, on a disk mounted with
// discard) only to be allocated again; that costs more than the rest of a
// small PutObject. Written over in place, the file keeps its blocks, and
// trim cuts what is left of the old bytes past the new ones.
type reusedFile struct {
	*os.File
	stale int64 // the file's size when taken: old bytes may remain up to here
}

// staleSize is the size f had when it was taken as a spare (0 for a new
// file).
func staleSize(f tempFile) int64 {
	if rf, ok := f.(*reusedFile); ok {
		return rf.stale
	}
	return 0
}

// trim cuts f at its current offset when f is a spare whose old bytes reach
// past it, so that the file holds exactly what was written. Every writer of
// a file from newFile calls it before the file is read or renamed into
// place.
func trim(f tempFile) error {
	rf, ok := f.(*reusedFile)
	if !ok {
		return nil
	}
	off, err := rf.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if rf.stale > off {
		if err := rf.Truncate(off); err != nil {
			return err
		}
		rf.stale = off
	}
	return nil
}

// spareName is a new name under Dir/tmp for a file becoming a spare.
func (s *objectStore) spareName() string {
	return filepath.Join(s.tmpDir, "spare-"+strconv.FormatUint(s.spares.seq.Add(1), 10))
}

type bucketIndex struct {
	created time.Time
	keys    []string // sorted
	objects map[string]*objectMeta
}

// objectMeta is an object's metadata: in its file's trailer and in the index.
type objectMeta struct {
	Key      string            `json:"key"`
	Size     int64             `json:"size"`
	MD5      string            `json:"md5"`  // hex MD5 of the bytes
	ETag     string            `json:"etag"` // S3's ETag without quotes (the MD5, or "<md5 of part md5s>-<parts>")
	Modified time.Time         `json:"modified"`
	Meta     map[string]string `json:"meta,omitempty"` // Content-Type, X-Amz-Meta-*, ...

	// readers counts the GETs that have this version's file open; it
	// changes only under the key's lock (opens) or down (closes).
	readers atomic.Int32
}

const (
	footerMagic    = "IPO1"
	footerLen      = 8
	maxTrailerLen  = 1 << 20 // metadata JSON; S3 allows 2 KB of user metadata
	maxFileNameLen = 240     // room under the common 255-byte limit
	// etagHeader carries an ETag that is not the hex MD5 (multipart uploads)
	// from GetObject/HeadObject to the response writer, which puts it in
	// ETag (gofakes3 derives ETag from the MD5).
	etagHeader = "X-Imagepipe-Etag"
)

var (
	_ gofakes3.Backend = (*objectStore)(nil)

	errNoSpace = errors.New("no space left on the device")
)

// openObjectStore opens the store under dir (the server's data directory),
// building the index from the files and importing objects of the previous
// layout (Dir/buckets + Dir/metadata).
func openObjectStore(dir, tmpDir string, log *slog.Logger) (*objectStore, error) {
	s := &objectStore{
		dir:     filepath.Join(dir, "objects"),
		tmpDir:  tmpDir,
		damaged: filepath.Join(dir, "damaged"),
		log:     log,
		buckets: map[string]*bucketIndex{},
		spares:  spares{max: maxSpares, maxBytes: maxSpareBytes},
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", s.dir, err)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() || gofakes3.ValidateBucketName(e.Name()) != nil {
			s.quarantine(filepath.Join(s.dir, e.Name()), "not a bucket directory")
			continue
		}
		if err := s.loadBucket(e.Name()); err != nil {
			return nil, err
		}
	}
	if err := s.importOldLayout(dir); err != nil {
		return nil, err
	}
	return s, nil
}

// loadBucket reads the trailers of one bucket's files into the index.
func (s *objectStore) loadBucket(name string) error {
	bdir := filepath.Join(s.dir, name)
	info, err := os.Stat(bdir)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", name, err)
	}
	entries, err := os.ReadDir(bdir)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", name, err)
	}
	b := &bucketIndex{created: info.ModTime(), objects: make(map[string]*objectMeta, len(entries))}
	var mu sync.Mutex
	work := make(chan os.DirEntry)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for e := range work {
				path := filepath.Join(bdir, e.Name())
				m, err := readTrailer(path)
				if err == nil && !e.Type().IsRegular() {
					err = errors.New("not a regular file")
				}
				if err == nil && encodeKey(m.Key) != e.Name() {
					err = fmt.Errorf("its name does not encode its key %q", m.Key)
				}
				if err != nil {
					s.quarantine(path, err.Error())
					continue
				}
				mu.Lock()
				b.objects[m.Key] = m
				mu.Unlock()
			}
		})
	}
	for _, e := range entries {
		work <- e
	}
	close(work)
	wg.Wait()
	b.keys = make([]string, 0, len(b.objects))
	for k := range b.objects {
		b.keys = append(b.keys, k)
	}
	sort.Strings(b.keys)
	s.buckets[name] = b
	return nil
}

// quarantine moves a file the store cannot use out of the way, so that it
// neither fails a listing nor gets lost.
func (s *objectStore) quarantine(path, why string) {
	rel, _ := filepath.Rel(s.dir, path)
	dst := filepath.Join(s.damaged, time.Now().UTC().Format("20060102T150405")+"-"+strings.ReplaceAll(rel, string(filepath.Separator), "_"))
	err := os.MkdirAll(s.damaged, 0o700)
	if err == nil {
		err = os.Rename(path, dst)
	}
	if err != nil {
		s.log.Error("s3: a damaged object file could not be moved aside; remove it by hand", "file", path, "reason", why, "err", err)
		return
	}
	s.log.Warn("s3: moved a damaged object file aside", "file", path, "to", dst, "reason", why)
}

// readTrailer reads and checks the metadata at the end of an object file.
func readTrailer(path string) (*objectMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return trailerOf(f, info.Size())
}

func trailerOf(f io.ReaderAt, size int64) (*objectMeta, error) {
	if size < footerLen {
		return nil, fmt.Errorf("%d bytes is too short for an object file", size)
	}
	var foot [footerLen]byte
	if _, err := f.ReadAt(foot[:], size-footerLen); err != nil {
		return nil, fmt.Errorf("read footer: %w", err)
	}
	if string(foot[4:]) != footerMagic {
		return nil, errors.New("no object footer (cut short?)")
	}
	n := int64(binary.BigEndian.Uint32(foot[:4]))
	if n > maxTrailerLen || n > size-footerLen {
		return nil, fmt.Errorf("footer claims %d bytes of metadata in a file of %d", n, size)
	}
	raw := make([]byte, n)
	if _, err := f.ReadAt(raw, size-footerLen-n); err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	var m objectMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if m.Size != size-footerLen-n {
		return nil, fmt.Errorf("metadata says %d bytes, the file holds %d", m.Size, size-footerLen-n)
	}
	if m.Key == "" || len(m.MD5) != 32 || m.ETag == "" {
		return nil, errors.New("metadata without key, MD5 or ETag")
	}
	return &m, nil
}

// encodeKey is the file name of key in its bucket directory: bytes outside
// [a-z0-9._-] (and a leading '.') as %XX with upper-case hex digits, so the
// name is ASCII, never "." or "..", has no '/', and two keys never differ
// only in the case of their names (case-insensitive file systems). A name
// longer than maxFileNameLen is "~" and the SHA-256 of the key ('~' is
// always escaped otherwise); the key itself is in the file's trailer.
func encodeKey(key string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || (c == '.' && i > 0) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
		if b.Len() > maxFileNameLen {
			break
		}
	}
	if b.Len() > maxFileNameLen {
		sum := sha256.Sum256([]byte(key))
		return "~" + hex.EncodeToString(sum[:])
	}
	return b.String()
}

func (s *objectStore) path(bucket, key string) string {
	return filepath.Join(s.dir, bucket, encodeKey(key))
}

// noSpace reports whether err is the file system being full.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, errNoSpace)
}

// storageError turns a file system error into gofakes3's InternalError
// (500, which SDKs retry), saying so plainly when the disk is full.
func storageError(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	if noSpace(err) {
		return gofakes3.ErrorMessage(gofakes3.ErrInternal, "The local S3 has no disk space left for its data directory; free some space and try again.")
	}
	return fmt.Errorf("s3server: %s %s/%s: %w", op, bucket, key, err)
}

// ---------------------------------------------------------------------------
// Buckets

func (s *objectStore) ListBuckets() ([]gofakes3.BucketInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]gofakes3.BucketInfo, 0, len(s.buckets))
	for name, b := range s.buckets {
		out = append(out, gofakes3.BucketInfo{Name: name, CreationDate: gofakes3.NewContentTime(b.created)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *objectStore) CreateBucket(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[name]; ok {
		return gofakes3.ResourceError(gofakes3.ErrBucketAlreadyExists, name)
	}
	if err := os.MkdirAll(filepath.Join(s.dir, name), 0o700); err != nil {
		return storageError("create bucket", name, "", err)
	}
	s.buckets[name] = &bucketIndex{created: time.Now(), objects: map[string]*objectMeta{}}
	return nil
}

func (s *objectStore) BucketExists(name string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.buckets[name]
	return ok, nil
}

func (s *objectStore) DeleteBucket(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[name]
	if !ok {
		return gofakes3.BucketNotFound(name)
	}
	if len(b.keys) > 0 {
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	}
	if err := os.RemoveAll(filepath.Join(s.dir, name)); err != nil {
		return storageError("delete bucket", name, "", err)
	}
	delete(s.buckets, name)
	return nil
}

func (s *objectStore) ForceDeleteBucket(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[name]; !ok {
		return gofakes3.BucketNotFound(name)
	}
	if err := os.RemoveAll(filepath.Join(s.dir, name)); err != nil {
		return storageError("delete bucket", name, "", err)
	}
	delete(s.buckets, name)
	return nil
}

// ---------------------------------------------------------------------------
// Listing

// ListBucket lists from the index, with S3's prefix, delimiter, marker and
// max-keys semantics: a key containing the delimiter after the prefix
// counts once, as the common prefix up to and including that delimiter.
func (s *objectStore) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	var p gofakes3.Prefix
	if prefix != nil {
		p = *prefix
	}
	max := page.MaxKeys
	if max <= 0 {
		max = gofakes3.DefaultMaxBucketKeys
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[name]
	if !ok {
		return nil, gofakes3.BucketNotFound(name)
	}
	out := gofakes3.NewObjectList()
	start := sort.SearchStrings(b.keys, p.Prefix)
	if page.HasMarker && page.Marker > p.Prefix {
		start = sort.Search(len(b.keys), func(i int) bool { return b.keys[i] > page.Marker })
	}
	var n int64
	lastPrefix := ""
	for _, key := range b.keys[start:] {
		if !strings.HasPrefix(key, p.Prefix) {
			break
		}
		if page.HasMarker && key <= page.Marker {
			continue
		}
		cp := ""
		if p.HasDelimiter && p.Delimiter != "" {
			if i := strings.Index(key[len(p.Prefix):], p.Delimiter); i >= 0 {
				cp = key[:len(p.Prefix)+i+len(p.Delimiter)]
			}
		}
		if cp != "" && (cp == lastPrefix || (page.HasMarker && cp <= page.Marker)) {
			continue
		}
		if n == max {
			out.IsTruncated = true
			break
		}
		n++
		if cp != "" {
			out.AddPrefix(cp)
			lastPrefix = cp
			out.NextMarker = cp
			continue
		}
		m := b.objects[key]
		out.Add(&gofakes3.Content{
			Key:          key,
			LastModified: gofakes3.NewContentTime(m.Modified),
			ETag:         `"` + m.ETag + `"`,
			Size:         m.Size,
			StorageClass: gofakes3.StorageStandard,
		})
		out.NextMarker = key
	}
	if !out.IsTruncated {
		out.NextMarker = ""
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Reading

func (s *objectStore) lookup(bucket, key string) (*objectMeta, error) {
	b, ok := s.buckets[bucket]
	if !ok {
		return nil, gofakes3.BucketNotFound(bucket)
	}
	m, ok := b.objects[key]
	if !ok {
		return nil, gofakes3.KeyNotFound(key)
	}
	return m, nil
}

func (m *objectMeta) object(contents io.ReadCloser, rng *gofakes3.ObjectRange) *gofakes3.Object {
	meta := make(map[string]string, len(m.Meta)+2)
	for k, v := range m.Meta {
		meta[k] = v
	}
	meta["Last-Modified"] = m.Modified.UTC().Format(http.TimeFormat)
	if m.ETag != m.MD5 {
		meta[etagHeader] = `"` + m.ETag + `"`
	}
	hash, _ := hex.DecodeString(m.MD5)
	return &gofakes3.Object{Name: m.Key, Metadata: meta, Size: m.Size, Contents: contents, Hash: hash, Range: rng}
}

func (s *objectStore) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, err := s.lookup(bucket, key)
	if err != nil {
		return nil, err
	}
	return m.object(io.NopCloser(bytes.NewReader(nil)), nil), nil
}

func (s *objectStore) GetObject(bucket, key string, rangeRequest *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	kl := s.keyLock(bucket, key)
	kl.RLock()
	s.mu.RLock()
	m, err := s.lookup(bucket, key)
	s.mu.RUnlock()
	if err != nil {
		kl.RUnlock()
		return nil, err
	}
	// Opened under the key's lock: a version renamed in later is not this
	// one.
	path := s.path(bucket, key)
	f, err := openRead(path)
	if err == nil {
		m.readers.Add(1) // before a write can replace it: see spares
	}
	kl.RUnlock()
	if err != nil {
		s.forget(bucket, key, m, path, err.Error())
		return nil, gofakes3.KeyNotFound(key)
	}
	body := &objectReader{f: f, m: m}
	if info, err := f.Stat(); err != nil || info.Size() < m.Size+footerLen {
		body.Close()
		s.forget(bucket, key, m, path, "the file is shorter than its object")
		return nil, gofakes3.KeyNotFound(key)
	}
	rng, err := rangeRequest.Range(m.Size)
	if err != nil {
		body.Close()
		return nil, err
	}
	start, length := int64(0), m.Size
	if rng != nil {
		start, length = rng.Start, rng.Length
	}
	body.r = io.NewSectionReader(f, start, length)
	return m.object(body, rng), nil
}

// objectReader is the body of a GET: part of an object's file, copied out
// 256 KiB at a time (WriteTo).
type objectReader struct {
	r      *io.SectionReader
	f      *os.File
	m      *objectMeta
	closed bool
}

func (o *objectReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func (o *objectReader) WriteTo(w io.Writer) (int64, error) {
	buf := getCopyBuffer()
	defer putCopyBuffer(buf)
	return io.CopyBuffer(w, onlyReader{o.r}, *buf)
}

func (o *objectReader) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	err := o.f.Close()
	o.m.readers.Add(-1)
	return err
}

// forget drops an object whose file went wrong under the running server.
func (s *objectStore) forget(bucket, key string, m *objectMeta, path, why string) {
	kl := s.keyLock(bucket, key) // no write renames a new version in meanwhile
	kl.Lock()
	defer kl.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucket]
	if !ok || b.objects[key] != m {
		return // changed meanwhile
	}
	b.remove(key)
	if _, err := os.Stat(path); err == nil {
		s.quarantine(path, why)
		return
	}
	s.log.Error("s3: an object's file disappeared; the object is gone", "bucket", bucket, "key", key, "reason", why)
}

func (b *bucketIndex) remove(key string) {
	if _, ok := b.objects[key]; !ok {
		return
	}
	delete(b.objects, key)
	if i, found := slices.BinarySearch(b.keys, key); found {
		b.keys = slices.Delete(b.keys, i, i+1)
	}
}

func (b *bucketIndex) put(m *objectMeta) {
	if _, ok := b.objects[m.Key]; !ok {
		i, _ := slices.BinarySearch(b.keys, m.Key)
		b.keys = slices.Insert(b.keys, i, m.Key)
	}
	b.objects[m.Key] = m
}

// ---------------------------------------------------------------------------
// Writing

// PutObject stores a new version of bucket/key: the bytes and the metadata S3
// keeps (storedMetadata) go to one file under Dir/tmp, which replaces the old
// version in one rename. The conditions (If-Match, If-None-Match) are checked
// against the index under the lock that also covers the rename, so two
// conditional writes never both succeed.
func (s *objectStore) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	_, err := s.put(bucket, key, storedMetadata(meta), input, size, "", conditions)
	return gofakes3.PutObjectResult{}, err
}

// put writes an object; etag "" means the MD5 of the bytes.
func (s *objectStore) put(bucket, key string, meta map[string]string, input io.Reader, size int64, etag string, conditions *gofakes3.PutConditions) (*objectMeta, error) {
	if err := s.precheck(bucket, key, conditions); err != nil {
		return nil, err
	}
	f, err := s.newFile("object-*")
	if err != nil {
		return nil, storageError("put", bucket, key, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), input)
	if err != nil {
		return nil, storageError("put", bucket, key, err)
	}
	if size >= 0 && n != size {
		return nil, gofakes3.ErrIncompleteBody
	}
	m := &objectMeta{Key: key, Size: n, MD5: hex.EncodeToString(h.Sum(nil)), ETag: etag, Meta: meta}
	if err := s.commit(bucket, f, m, conditions); err != nil {
		return nil, err
	}
	committed = true
	return m, nil
}

// putSpooled stores a PutObject body spooled (and hashed) by the server:
// the spool file itself, positioned after the body, becomes the object, so
// the bytes are written and hashed once. On success the file is taken
// (renamed into place); on an error it is left to the spool's cleanup.
func (s *objectStore) putSpooled(bucket, key string, meta map[string]string, sp *spooled, conditions *gofakes3.PutConditions) (*objectMeta, error) {
	if err := s.precheck(bucket, key, conditions); err != nil {
		return nil, err
	}
	m := &objectMeta{Key: key, Size: sp.size, MD5: hex.EncodeToString(sp.md5), Meta: meta}
	if err := s.commit(bucket, sp.f, m, conditions); err != nil {
		return nil, err
	}
	sp.taken = true
	return m, nil
}

// precheck fails a write early, before its body is read: a missing bucket
// or a condition that does not hold. commit checks again under the key's
// lock, right before the rename.
func (s *objectStore) precheck(bucket, key string, conditions *gofakes3.PutConditions) error {
	if ok, _ := s.BucketExists(bucket); !ok {
		return gofakes3.BucketNotFound(bucket)
	}
	if conditions == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkConditions(bucket, key, conditions)
}

// commit appends m's trailer to f, which holds the object's bytes and is
// positioned after them, closes it and renames it over bucket/m.Key. The
// conditions are checked under the key's lock that also covers the rename
// and the index update, so two conditional writes never both succeed. On
// an error f is the caller's to remove.
func (s *objectStore) commit(bucket string, f tempFile, m *objectMeta, conditions *gofakes3.PutConditions) error {
	m.Modified = time.Now().UTC().Truncate(time.Millisecond)
	if m.ETag == "" {
		m.ETag = m.MD5
	}
	if err := writeTrailer(f, m); err != nil {
		return storageError("put", bucket, m.Key, err)
	}
	if err := trim(f); err != nil {
		return storageError("put", bucket, m.Key, err)
	}
	if err := f.Close(); err != nil {
		return storageError("put", bucket, m.Key, err)
	}

	kl := s.keyLock(bucket, m.Key)
	kl.Lock()
	defer kl.Unlock()
	if err := s.precheck(bucket, m.Key, conditions); err != nil {
		return err
	}
	path := s.path(bucket, m.Key)
	if err := s.replace(bucket, f.Name(), path, m.Key); err != nil {
		return storageError("put", bucket, m.Key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucket]
	if !ok { // deleted meanwhile, with everything in it
		os.Remove(path)
		return gofakes3.BucketNotFound(bucket)
	}
	b.put(m)
	return nil
}

// replace renames the file tmp, a new version of bucket/key, to path. The
// version it replaces becomes a spare when no GET has it open: the two are
// exchanged in one rename, and tmp's name then holds the old version. The
// caller holds the key's lock.
func (s *objectStore) replace(bucket, tmp, path, key string) error {
	s.mu.RLock()
	old, _ := s.lookup(bucket, key)
	s.mu.RUnlock()
	if old != nil && old.readers.Load() == 0 && !s.spares.noExchange.Load() && s.spares.room(fileSize(old)) {
		err := exchangeFile(tmp, path)
		if err == nil {
			s.spares.keep(tmp, fileSize(old))
			return nil
		}
		if errors.Is(err, errors.ErrUnsupported) {
			s.spares.noExchange.Store(true)
		}
		// The old file is missing (ENOENT) or cannot be exchanged: a
		// plain rename.
	}
	return renameFile(tmp, path)
}

// writeTrailer writes m's JSON and the footer, in one write.
func writeTrailer(w io.Writer, m *objectMeta) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	n := len(raw)
	raw = binary.BigEndian.AppendUint32(raw, uint32(n))
	raw = append(raw, footerMagic...)
	_, err = w.Write(raw)
	return err
}

// checkConditions applies S3's conditional write rules: If-None-Match: *
// fails with 412 when the key exists; If-Match fails with 404 NoSuchKey when
// it does not and 412 when its ETag differs. The caller holds mu (and the
// key's lock when the answer must hold until its write).
func (s *objectStore) checkConditions(bucket, key string, c *gofakes3.PutConditions) error {
	m, err := s.lookup(bucket, key)
	exists := err == nil
	if c.IfNoneMatch != nil {
		if *c.IfNoneMatch != "*" {
			return gofakes3.ErrorMessage(gofakes3.ErrNotImplemented, "A header you provided implies functionality that is not implemented: If-None-Match only takes *.")
		}
		if exists {
			return gofakes3.ErrorMessage(gofakes3.ErrPreconditionFailed, "At least one of the pre-conditions you specified did not hold")
		}
	}
	if c.IfMatch != nil {
		if !exists {
			return gofakes3.KeyNotFound(key)
		}
		if !etagMatches(*c.IfMatch, m.ETag) {
			return gofakes3.ErrorMessage(gofakes3.ErrPreconditionFailed, "At least one of the pre-conditions you specified did not hold")
		}
	}
	return nil
}

// etagMatches compares an If-Match value (quoted or not, "*" for any) with
// an ETag.
func etagMatches(want, etag string) bool {
	want = strings.TrimSpace(want)
	if want == "*" {
		return true
	}
	for v := range strings.SplitSeq(want, ",") {
		if strings.Trim(strings.TrimSpace(v), `"`) == etag {
			return true
		}
	}
	return false
}

func (s *objectStore) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	src, err := s.GetObject(srcBucket, srcKey, nil)
	if err != nil {
		return gofakes3.CopyObjectResult{}, err
	}
	defer src.Contents.Close()
	m, err := s.put(dstBucket, dstKey, storedMetadata(meta), src.Contents, src.Size, "", nil)
	if err != nil {
		return gofakes3.CopyObjectResult{}, err
	}
	return gofakes3.CopyObjectResult{ETag: `"` + m.ETag + `"`, LastModified: gofakes3.NewContentTime(m.Modified)}, nil
}

// DeleteObject removes an object; a missing key is not an error (S3).
func (s *objectStore) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	return gofakes3.ObjectDeleteResult{}, s.deleteIf(bucket, key, "")
}

// deleteIf deletes bucket/key; with ifMatch set, only when its ETag matches
// (404 NoSuchKey when it does not exist, 412 when it differs), as S3's
// conditional DeleteObject.
func (s *objectStore) deleteIf(bucket, key, ifMatch string) error {
	kl := s.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()
	var conditions *gofakes3.PutConditions
	if ifMatch != "" {
		conditions = &gofakes3.PutConditions{IfMatch: &ifMatch}
	}
	if err := s.precheck(bucket, key, conditions); err != nil {
		return err
	}
	s.mu.RLock()
	_, err := s.lookup(bucket, key)
	s.mu.RUnlock()
	if err != nil {
		return nil // not there: S3 answers 204 too
	}
	if err := s.removeFile(bucket, key); err != nil && !errors.Is(err, os.ErrNotExist) {
		return storageError("delete", bucket, key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.buckets[bucket]; ok {
		b.remove(key)
	}
	return nil
}

// fileSize is about the size of m's file (its trailer is a few hundred
// bytes).
func fileSize(m *objectMeta) int64 { return m.Size + 1024 }

// removeFile removes bucket/key's file, making it a spare when no GET has
// it open. The caller holds the key's lock.
func (s *objectStore) removeFile(bucket, key string) error {
	path := s.path(bucket, key)
	s.mu.RLock()
	m, _ := s.lookup(bucket, key)
	s.mu.RUnlock()
	if m != nil && m.readers.Load() == 0 && s.spares.room(fileSize(m)) {
		spare := s.spareName()
		if err := renameFile(path, spare); err == nil {
			s.spares.keep(spare, fileSize(m))
			return nil
		}
	}
	return os.Remove(path)
}

func (s *objectStore) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var res gofakes3.MultiDeleteResult
	if ok, _ := s.BucketExists(bucket); !ok {
		return res, gofakes3.BucketNotFound(bucket)
	}
	for _, key := range keys {
		if err := s.deleteIf(bucket, key, ""); err != nil {
			s.log.Error("s3: delete failed", "bucket", bucket, "key", key, "err", err)
			res.Error = append(res.Error, gofakes3.ErrorResult{Code: gofakes3.ErrInternal, Message: gofakes3.ErrInternal.Message(), Key: key})
			continue
		}
		res.Deleted = append(res.Deleted, gofakes3.ObjectID{Key: key})
	}
	return res, nil
}

// ---------------------------------------------------------------------------
// The previous layout

// importOldLayout moves the objects of the layout before this one (files at
// Dir/buckets/<bucket>/<key>, metadata JSON under Dir/metadata, written in
// two steps) into the store, then removes it. An object whose metadata file
// is missing or unreadable, the orphan a crash could leave there, keeps its
// bytes: its MD5 is computed again and its content type is lost. Running it
// again after a crash redoes what was not removed yet.
func (s *objectStore) importOldLayout(dir string) error {
	oldBuckets := filepath.Join(dir, "buckets")
	entries, err := os.ReadDir(oldBuckets)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", oldBuckets, err)
	}
	imported := 0
	for _, e := range entries {
		bucket := e.Name()
		if !e.IsDir() || gofakes3.ValidateBucketName(bucket) != nil {
			continue
		}
		if ok, _ := s.BucketExists(bucket); !ok {
			if err := s.CreateBucket(bucket); err != nil {
				return err
			}
		}
		root := filepath.Join(oldBuckets, bucket)
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			key := filepath.ToSlash(rel)
			meta := oldMetadata(dir, bucket, key)
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := s.put(bucket, key, storedMetadata(meta), f, -1, "", nil); err != nil {
				return fmt.Errorf("import %s/%s: %w", bucket, key, err)
			}
			imported++
			return nil
		})
		if err != nil {
			return fmt.Errorf("import the objects of %s: %w", root, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "metadata")); err != nil {
		return err
	}
	if err := os.RemoveAll(oldBuckets); err != nil {
		return err
	}
	s.log.Info("s3: imported the objects of the previous storage layout", "objects", imported)
	return nil
}

// oldMetadata reads the user metadata the previous layout kept for a key
// (nil when it has none).
func oldMetadata(dir, bucket, key string) map[string]string {
	h := fnvHash(key)
	flat := strings.NewReplacer("/", "_", "\\", "_").Replace(key)
	raw, err := os.ReadFile(filepath.Join(dir, "metadata", bucket, flat+"-"+h))
	if err != nil {
		return nil
	}
	var m struct {
		Meta map[string]string
	}
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m.Meta
}

// tempFile is a file being written under Dir/tmp.
type tempFile interface {
	io.ReadWriteSeeker
	io.Closer
	Name() string
}

// createTemp makes the files the server writes bodies and objects to (a
// variable so that a test can make the disk "full").
var createTemp = func(dir, pattern string) (tempFile, error) { return openTemp(dir, pattern) }
