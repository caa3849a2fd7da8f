package imaging

import (
	"bytes"
	stdzlib "compress/zlib"
	"encoding/binary"
	"io"
	"testing"

	"github.com/klauspost/compress/zlib"
)

// BenchmarkInflate is why the PNG and TIFF decoders inflate with
// github.com/klauspost/compress rather than the standard library: the zlib
// stream of the benchmarks' 12 MP photo PNG (its IDAT chunks), inflated
// whole by each (the README's Choices section quotes cpu-ms/op).
func BenchmarkInflate(b *testing.B) {
	benchInputs(b)
	stream := idatStream(b, png12)
	for _, c := range []struct {
		name string
		open func(io.Reader) (io.ReadCloser, error)
	}{
		{"compress-zlib", stdzlib.NewReader},
		{"klauspost-zlib", zlib.NewReader},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(stream)))
			loop(b, func() {
				zr, err := c.open(bytes.NewReader(stream))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, zr); err != nil {
					b.Fatal(err)
				}
				if err := zr.Close(); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// idatStream is the concatenated payload of a PNG's IDAT chunks.
func idatStream(b *testing.B, png []byte) []byte {
	var out []byte
	for p := 8; p+8 <= len(png); {
		n := int(binary.BigEndian.Uint32(png[p:]))
		if p+12+n > len(png) {
			break
		}
		if string(png[p+4:p+8]) == "IDAT" {
			out = append(out, png[p+8:p+8+n]...)
		}
		p += 12 + n
	}
	if len(out) == 0 {
		b.Fatal("the PNG has no IDAT chunk")
	}
	return out
}
