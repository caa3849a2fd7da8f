package s3server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/afero"
)

// storeFs is the file system the backend keeps buckets (dir/buckets) and
// metadata (dir/metadata) in; writes go through dir/tmp.
func storeFs(dir string) afero.Fs {
	return atomicFs{Fs: afero.NewBasePathFs(afero.NewOsFs(), dir), tmpDir: "tmp"}
}

// atomicFs makes every file the s3afero backend writes (objects and their
// metadata) appear whole or not at all: a file created for writing is written
// under tmpDir and renamed over its name when closed. s3afero itself writes
// objects in place, so a process killed mid-write would leave a truncated
// object that later lists and reads as if it were complete.
type atomicFs struct {
	afero.Fs
	tmpDir string // inside Fs, on the same file system as the objects
}

func (fs atomicFs) Create(name string) (afero.File, error) {
	return fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (fs atomicFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	const replace = os.O_CREATE | os.O_TRUNC
	if flag&replace != replace || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return fs.Fs.OpenFile(name, flag, perm)
	}
	var b [8]byte
	rand.Read(b[:])
	tmp := filepath.Join(fs.tmpDir, "write-"+hex.EncodeToString(b[:]))
	f, err := fs.Fs.OpenFile(tmp, flag|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, fs: fs.Fs, tmp: tmp, name: name}, nil
}

// atomicFile is a file being written under a temporary name.
type atomicFile struct {
	afero.File
	fs   afero.Fs
	tmp  string
	name string

	once sync.Once
	err  error
}

func (f *atomicFile) Name() string { return f.name }

// Close puts the file in place.
func (f *atomicFile) Close() error {
	f.once.Do(func() {
		if err := f.File.Close(); err != nil {
			f.fs.Remove(f.tmp)
			f.err = err
			return
		}
		if err := f.fs.Rename(f.tmp, f.name); err != nil {
			f.fs.Remove(f.tmp)
			f.err = errors.Join(errors.New("s3server: put file in place"), err)
		}
	})
	return f.err
}
