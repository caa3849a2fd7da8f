package s3server

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// multipartStore keeps multipart uploads on disk (Dir/multipart/<upload id>/),
// so that parts are not held in memory, an upload in progress survives a
// restart, and completion streams the parts into the backend. gofakes3 uses it
// in place of its in-memory uploader because store implements
// gofakes3.MultipartBackend.
type multipartStore struct {
	dir     string // Dir/multipart
	tmpDir  string // Dir/tmp, same file system
	objects *objectStore
	mu      sync.Mutex // serialises changes to one upload's files
}

// store is the backend gofakes3 sees: objects through objectStore,
// multipart uploads through multipartStore.
type store struct {
	*objectStore
	*multipartStore
}

var (
	_ gofakes3.Backend          = store{}
	_ gofakes3.MultipartBackend = store{}
)

type uploadInfo struct {
	Bucket    string            `json:"bucket"`
	Key       string            `json:"key"`
	Meta      map[string]string `json:"meta"`
	Initiated time.Time         `json:"initiated"`
	id        gofakes3.UploadID
}

type partInfo struct {
	Number       int       `json:"number"`
	ETag         string    `json:"etag"` // quoted MD5 hex
	Size         int64     `json:"size"`
	LastModified time.Time `json:"last_modified"`
}

func (p partInfo) dataFile() string {
	return fmt.Sprintf("part-%05d-%s", p.Number, strings.Trim(p.ETag, `"`))
}

func (m *multipartStore) uploadDir(id gofakes3.UploadID) (string, bool) {
	s := string(id)
	if len(s) != 32 {
		return "", false
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", false
	}
	return filepath.Join(m.dir, s), true
}

// writeFile writes a small file whole or not at all.
func (m *multipartStore) writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(m.tmpDir, "mpu-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func (m *multipartStore) load(bucket, object string, id gofakes3.UploadID) (*uploadInfo, string, error) {
	dir, ok := m.uploadDir(id)
	if !ok {
		return nil, "", gofakes3.ErrNoSuchUpload
	}
	b, err := os.ReadFile(filepath.Join(dir, "upload.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", gofakes3.ErrNoSuchUpload
	}
	if err != nil {
		return nil, "", fmt.Errorf("s3server: read upload %s: %w", id, err)
	}
	var u uploadInfo
	if err := json.Unmarshal(b, &u); err != nil {
		return nil, "", fmt.Errorf("s3server: read upload %s: %w", id, err)
	}
	if bucket != "" && (u.Bucket != bucket || u.Key != object) {
		return nil, "", gofakes3.ErrNoSuchUpload
	}
	u.id = id
	return &u, dir, nil
}

func (m *multipartStore) parts(dir string) (map[int]partInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("s3server: list parts: %w", err)
	}
	parts := map[int]partInfo{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || !strings.HasPrefix(name, "part-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("s3server: read part: %w", err)
		}
		var p partInfo
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("s3server: read part %s: %w", name, err)
		}
		parts[p.Number] = p
	}
	return parts, nil
}

func (m *multipartStore) CreateMultipartUpload(bucket, object string, meta map[string]string) (gofakes3.UploadID, error) {
	var b [16]byte
	rand.Read(b[:])
	id := gofakes3.UploadID(hex.EncodeToString(b[:]))
	dir, _ := m.uploadDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("s3server: create upload: %w", err)
	}
	data, err := json.Marshal(uploadInfo{Bucket: bucket, Key: object, Meta: meta, Initiated: time.Now().UTC()})
	if err != nil {
		return "", err
	}
	if err := m.writeFile(filepath.Join(dir, "upload.json"), data); err != nil {
		os.RemoveAll(dir)
		return "", storageError("create an upload of", bucket, object, err)
	}
	return id, nil
}

func (m *multipartStore) UploadPart(bucket, object string, id gofakes3.UploadID, partNumber int, contentLength int64, input io.Reader) (string, error) {
	if partNumber < 1 || partNumber > gofakes3.MaxUploadPartNumber {
		return "", gofakes3.ErrInvalidPart
	}
	_, dir, err := m.load(bucket, object, id)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(m.tmpDir, "part-*")
	if err != nil {
		return "", storageError("store a part of", bucket, object, err)
	}
	defer os.Remove(f.Name())
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), input)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", storageError("store a part of", bucket, object, err)
	}
	if n != contentLength {
		return "", gofakes3.ErrIncompleteBody
	}
	p := partInfo{Number: partNumber, ETag: `"` + hex.EncodeToString(h.Sum(nil)) + `"`, Size: n, LastModified: time.Now().UTC()}
	data, err := json.Marshal(p)
	if err != nil {
		return "", err
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	// The data file is named after its MD5, and the part's JSON, written
	// last, says which data file is the part: a crash in between leaves the
	// previous version of the part whole.
	if err := os.Rename(f.Name(), filepath.Join(dir, p.dataFile())); err != nil {
		return "", fmt.Errorf("s3server: store part: %w", err)
	}
	old, _ := m.parts(dir)
	jsonPath := filepath.Join(dir, fmt.Sprintf("part-%05d.json", partNumber))
	if err := m.writeFile(jsonPath, data); err != nil {
		return "", fmt.Errorf("s3server: store part: %w", err)
	}
	if prev, ok := old[partNumber]; ok && prev.dataFile() != p.dataFile() {
		os.Remove(filepath.Join(dir, prev.dataFile()))
	}
	return p.ETag, nil
}

func (m *multipartStore) ListParts(bucket, object string, id gofakes3.UploadID, marker int, limit int64) (*gofakes3.ListMultipartUploadPartsResult, error) {
	_, dir, err := m.load(bucket, object, id)
	if err != nil {
		return nil, err
	}
	parts, err := m.parts(dir)
	if err != nil {
		return nil, err
	}
	numbers := make([]int, 0, len(parts))
	for n := range parts {
		if n > marker {
			numbers = append(numbers, n)
		}
	}
	sort.Ints(numbers)
	res := &gofakes3.ListMultipartUploadPartsResult{
		Bucket: bucket, Key: object, UploadID: id, MaxParts: limit, PartNumberMarker: marker, StorageClass: "STANDARD",
	}
	for _, n := range numbers {
		if int64(len(res.Parts)) >= limit {
			res.IsTruncated = true
			break
		}
		p := parts[n]
		res.Parts = append(res.Parts, gofakes3.ListMultipartUploadPartItem{
			PartNumber: n, ETag: p.ETag, Size: p.Size, LastModified: gofakes3.NewContentTime(p.LastModified),
		})
		res.NextPartNumberMarker = n
	}
	return res, nil
}

func (m *multipartStore) ListMultipartUploads(bucket string, marker *gofakes3.UploadListMarker, prefix gofakes3.Prefix, limit int64) (*gofakes3.ListMultipartUploadsResult, error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("s3server: list uploads: %w", err)
	}
	var uploads []*uploadInfo
	for _, e := range entries {
		u, _, err := m.load("", "", gofakes3.UploadID(e.Name()))
		if err != nil || u.Bucket != bucket {
			continue
		}
		uploads = append(uploads, u)
	}
	sort.Slice(uploads, func(i, j int) bool {
		if uploads[i].Key != uploads[j].Key {
			return uploads[i].Key < uploads[j].Key
		}
		return uploads[i].id < uploads[j].id
	})
	res := &gofakes3.ListMultipartUploadsResult{Bucket: bucket, Prefix: prefix.Prefix, Delimiter: prefix.Delimiter, MaxUploads: limit}
	if marker != nil {
		res.KeyMarker, res.UploadIDMarker = marker.Object, marker.UploadID
	}
	seen := map[string]bool{}
	var match gofakes3.PrefixMatch
	for _, u := range uploads {
		if marker != nil && marker.Object != "" {
			if u.Key < marker.Object || u.Key == marker.Object && (marker.UploadID == "" || u.id <= marker.UploadID) {
				continue
			}
		}
		if !prefix.Match(u.Key, &match) {
			continue
		}
		if int64(len(res.Uploads)+len(res.CommonPrefixes)) >= limit {
			res.IsTruncated = true
			break
		}
		if match.CommonPrefix {
			if !seen[match.MatchedPart] {
				seen[match.MatchedPart] = true
				res.CommonPrefixes = append(res.CommonPrefixes, match.AsCommonPrefix())
			}
			continue
		}
		res.Uploads = append(res.Uploads, gofakes3.ListMultipartUploadItem{
			Key: u.Key, UploadID: u.id, StorageClass: "STANDARD", Initiated: gofakes3.NewContentTime(u.Initiated),
		})
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.id
	}
	return res, nil
}

func (m *multipartStore) AbortMultipartUpload(bucket, object string, id gofakes3.UploadID) error {
	_, dir, err := m.load(bucket, object, id)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("s3server: abort upload %s: %w", id, err)
	}
	return nil
}

func (m *multipartStore) CompleteMultipartUpload(bucket, object string, id gofakes3.UploadID, input *gofakes3.CompleteMultipartUploadRequest) (gofakes3.VersionID, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, dir, err := m.load(bucket, object, id)
	if err != nil {
		return "", "", err
	}
	parts, err := m.parts(dir)
	if err != nil {
		return "", "", err
	}
	if len(input.Parts) == 0 {
		return "", "", gofakes3.ErrorMessage(gofakes3.ErrMalformedXML, "You must specify at least one part")
	}
	var (
		readers []io.Reader
		size    int64
		md5s    = md5.New()
	)
	defer func() {
		for _, r := range readers {
			r.(*os.File).Close()
		}
	}()
	for i, in := range input.Parts {
		if i > 0 && in.PartNumber <= input.Parts[i-1].PartNumber {
			return "", "", gofakes3.ErrInvalidPartOrder
		}
		p, ok := parts[in.PartNumber]
		if !ok || strings.Trim(in.ETag, `"`) != strings.Trim(p.ETag, `"`) {
			return "", "", gofakes3.ErrorMessagef(gofakes3.ErrInvalidPart, "part %d was not uploaded with ETag %s", in.PartNumber, in.ETag)
		}
		sum, err := hex.DecodeString(strings.Trim(p.ETag, `"`))
		if err != nil {
			return "", "", fmt.Errorf("s3server: part %d has a bad stored ETag: %w", in.PartNumber, err)
		}
		md5s.Write(sum)
		f, err := os.Open(filepath.Join(dir, p.dataFile()))
		if err != nil {
			return "", "", fmt.Errorf("s3server: open part %d: %w", in.PartNumber, err)
		}
		readers = append(readers, f)
		size += p.Size
	}
	etag := hex.EncodeToString(md5s.Sum(nil)) + "-" + strconv.Itoa(len(input.Parts))
	if _, err := m.objects.put(bucket, object, storedMetadata(u.Meta), io.MultiReader(readers...), size, etag, nil); err != nil {
		return "", "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", "", fmt.Errorf("s3server: remove completed upload %s: %w", id, err)
	}
	return "", `"` + etag + `"`, nil
}
