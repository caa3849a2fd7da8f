//go:build !unix

package local

import "os"

// Without flock the data directory is not locked: two stacks on it are
// not prevented (imagepipe dev is made for Linux and macOS).
func tryLock(*os.File) (bool, error)  { return true, nil }
func lockHeld(*os.File) (bool, error) { return false, nil }
