package pack_test

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/scripts/lambdazip/internal/pack"
)

func TestFileIsReproducible(t *testing.T) {
	dir := t.TempDir()
	exe := bytes.Repeat([]byte("\x7fELF not really an executable "), 1000)

	// The same bytes, written at different times with different modes,
	// must give the same zip.
	a := filepath.Join(dir, "a", "bootstrap")
	b := filepath.Join(dir, "b", "bootstrap")
	for _, p := range []string{a, b} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(a, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, exe, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(b, time.Now().Add(-48*time.Hour), time.Now().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}

	za, zb := filepath.Join(dir, "a.zip"), filepath.Join(dir, "out", "b.zip")
	if err := pack.File(za, a); err != nil {
		t.Fatal(err)
	}
	if err := pack.File(zb, b); err != nil {
		t.Fatal(err)
	}
	ba, err := os.ReadFile(za)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile(zb)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ba, bb) {
		t.Fatalf("zips of the same executable differ (%d and %d bytes)", len(ba), len(bb))
	}

	// A different executable must give a different zip.
	var other bytes.Buffer
	if err := pack.Zip(&other, append(exe, '!')); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other.Bytes(), ba) {
		t.Fatal("zips of different executables are equal")
	}
}

func TestZipHoldsExecutableBootstrap(t *testing.T) {
	exe := []byte("#!/bin/sh\necho hi\n")
	var buf bytes.Buffer
	if err := pack.Zip(&buf, exe); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 {
		t.Fatalf("zip has %d entries, want 1", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" {
		t.Errorf("entry name = %q, want bootstrap", f.Name)
	}
	if got := f.Mode().Perm(); got != 0o755 {
		t.Errorf("entry mode = %v, want -rwxr-xr-x", f.Mode())
	}
	if f.Mode().IsDir() || !f.Mode().IsRegular() {
		t.Errorf("entry is not a regular file: %v", f.Mode())
	}
	if !f.Modified.Equal(pack.ModTime) {
		t.Errorf("entry time = %v, want %v", f.Modified, pack.ModTime)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, exe) {
		t.Errorf("entry content = %q, want %q", got, exe)
	}
}
