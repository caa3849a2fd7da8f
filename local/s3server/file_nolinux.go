//go:build !linux

package s3server

import (
	"errors"
	"os"
)

// exchangeFile is renameat2's RENAME_EXCHANGE, only on Linux.
func exchangeFile(a, b string) error {
	return &os.LinkError{Op: "exchange", Old: a, New: b, Err: errors.ErrUnsupported}
}
