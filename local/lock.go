package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// LockFile is the file under the data directory that a running stack
// holds locked (flock) and describes itself in: its PID and addresses, so
// that a second `imagepipe dev` on the same directory refuses with the
// holder's PID, and the CLI finds a stack started on other ports.
const LockFile = "dev.lock"

// Running describes the stack that holds a data directory.
type Running struct {
	PID       int       `json:"pid"`
	APIURL    string    `json:"api_url"`
	EdgeURL   string    `json:"edge_url"`
	StartedAt time.Time `json:"started_at"`
}

// LockedError is Start's error when another process runs a stack on the
// data directory.
type LockedError struct {
	Dir string
	// Holder is what the running stack wrote; its PID is 0 when it had not
	// written it yet.
	Holder Running
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.Holder.PID > 0 {
		who = fmt.Sprintf("imagepipe dev (PID %d", e.Holder.PID)
		if e.Holder.APIURL != "" {
			who += ", API " + e.Holder.APIURL
		}
		who += ")"
	}
	return fmt.Sprintf("data directory %s is in use by %s: stop it first, or give this one another directory with --data DIR", e.Dir, who)
}

// ReadRunning returns what the last stack on dataDir wrote, and whether it
// is running: the lock is held. A stack that stopped or was killed leaves
// its file behind (its last addresses) but not its lock.
func ReadRunning(dataDir string) (Running, bool, error) {
	path := filepath.Join(dataDir, LockFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Running{}, false, nil
	}
	if err != nil {
		return Running{}, false, err
	}
	defer f.Close()
	held, err := lockHeld(f)
	if err != nil {
		return Running{}, false, err
	}
	var r Running
	_ = json.NewDecoder(f).Decode(&r)
	return r, held, nil
}

// dataLock is the lock a running stack holds.
type dataLock struct{ f *os.File }

// lockDataDir takes the data directory's lock, or answers a *LockedError.
func lockDataDir(dataDir string) (*dataLock, error) {
	path := filepath.Join(dataDir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		var holder Running
		_ = json.NewDecoder(f).Decode(&holder)
		f.Close()
		return nil, &LockedError{Dir: dataDir, Holder: holder}
	}
	return &dataLock{f: f}, nil
}

// describe writes what the holder is, for ReadRunning and LockedError.
func (l *dataLock) describe(r Running) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err = l.f.WriteAt(append(raw, '\n'), 0)
	return err
}

// release lets the lock go (closing the descriptor releases the flock).
func (l *dataLock) release() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
