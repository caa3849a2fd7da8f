// Package pack writes the deployment zip of a Lambda custom runtime
// (https://docs.aws.amazon.com/lambda/latest/dg/golang-package.html): one
// executable entry named "bootstrap". The output depends only on the
// executable's bytes: the entry's time and mode are fixed, so the same
// build gives the same zip and Terraform's source_code_hash stays put.
package pack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// EntryName is the file the provided.al2023 runtime executes.
const EntryName = "bootstrap"

// ModTime is the timestamp of every entry: the zip format's epoch
// (MS-DOS time cannot go below 1980).
var ModTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// Zip writes the zip of executable bytes exe to w.
func Zip(w io.Writer, exe []byte) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	hdr := &zip.FileHeader{
		Name:     EntryName,
		Method:   zip.Deflate,
		Modified: ModTime,
	}
	hdr.SetMode(0o755)
	f, err := zw.CreateHeader(hdr)
	if err != nil {
		return fmt.Errorf("zip entry %s: %w", EntryName, err)
	}
	if _, err := f.Write(exe); err != nil {
		return fmt.Errorf("zip entry %s: %w", EntryName, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish zip: %w", err)
	}
	return nil
}

// File zips the executable at exePath into outPath, writing through a
// temporary file so a failed run never leaves a truncated zip behind.
func File(outPath, exePath string) error {
	exe, err := os.ReadFile(exePath)
	if err != nil {
		return fmt.Errorf("read executable: %w", err)
	}
	var buf bytes.Buffer
	if err := Zip(&buf, exe); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(outPath), ".lambdazip-*")
	if err != nil {
		return fmt.Errorf("create temporary zip: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), outPath); err != nil {
		return fmt.Errorf("rename to %s: %w", outPath, err)
	}
	return nil
}
