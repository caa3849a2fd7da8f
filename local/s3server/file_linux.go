package s3server

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// exchangeFile swaps the files at a and b in one step (renameat2
// RENAME_EXCHANGE): each name is always one of the two files. A file system
// without it gives an error wrapping errors.ErrUnsupported.
func exchangeFile(a, b string) error {
	for {
		err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
		switch {
		case err == nil:
			return nil
		case err == unix.EINTR:
			continue
		case err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP:
			return &os.LinkError{Op: "exchange", Old: a, New: b, Err: errors.Join(errors.ErrUnsupported, err)}
		}
		return &os.LinkError{Op: "exchange", Old: a, New: b, Err: err}
	}
}
