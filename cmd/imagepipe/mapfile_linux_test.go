package main

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagepipe/imagepipe/imaging"
)

// noisyJPEG is a JPEG of at least mapMin bytes, so that mapFile maps it.
func noisyJPEG(t *testing.T) []byte {
	t.Helper()
	m := image.NewGray(image.Rect(0, 0, 512, 512))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.IntN(256))
	}
	m.SetGray(0, 0, color.Gray{})
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	if b.Len() < mapMin {
		t.Fatalf("test JPEG is %d bytes, mapFile reads files under %d", b.Len(), mapMin)
	}
	return b.Bytes()
}

// A mapped input gives the same outputs as the read one.
func TestMapFileSameAsRead(t *testing.T) {
	in := noisyJPEG(t)
	path := filepath.Join(t.TempDir(), "in.jpg")
	if err := os.WriteFile(path, in, 0o644); err != nil {
		t.Fatal(err)
	}
	data, release, err := mapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if !bytes.Equal(data, in) {
		t.Fatal("mapped bytes differ from the file's")
	}
	mapped, err := processMapped(context.Background(), path, data, imaging.DefaultOptions(), imaging.Process)
	if err != nil {
		t.Fatal(err)
	}
	read, err := imaging.Process(context.Background(), in, imaging.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := range read.Outputs {
		if !bytes.Equal(mapped.Outputs[i].Data, read.Outputs[i].Data) {
			t.Errorf("output %s differs between the mapped and the read input", read.Outputs[i].Name)
		}
	}
}

// A file truncated by another program while it is mapped makes an error
// for that file, not a crash of the process (SIGBUS).
func TestMapFileTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.jpg")
	if err := os.WriteFile(path, noisyJPEG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	data, release, err := mapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	res, err := processMapped(context.Background(), path, data, imaging.DefaultOptions(), imaging.Process)
	if err == nil || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("got %v, %v; want the error of a file changed while it was read", res, err)
	}
	// A fault elsewhere is not the file's: it still panics.
	defer func() {
		if recover() == nil {
			t.Error("a fault outside the mapping was recovered as the file's")
		}
	}()
	processMapped(context.Background(), path, data, imaging.DefaultOptions(), func(context.Context, []byte, imaging.Options) (*imaging.Result, error) {
		var r *imaging.Result
		return nil, errors.New(r.ColorProfile) // a nil dereference
	})
}
