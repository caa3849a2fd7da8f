//go:build !unix

package s3server

import "os"

func openTemp(dir, pattern string) (*os.File, error) { return os.CreateTemp(dir, pattern) }

func openRead(name string) (*os.File, error) { return os.Open(name) }

func renameFile(from, to string) error { return os.Rename(from, to) }

func openSpare(name string) (*os.File, error) { return os.OpenFile(name, os.O_RDWR, 0) }
