package s3server

import (
	"encoding/binary"
	"testing"
)

// TestChecksumAlgorithms checks each x-amz-checksum-* algorithm against its
// catalogued check value (the checksum of "123456789").
func TestChecksumAlgorithms(t *testing.T) {
	want := map[string]uint64{
		"x-amz-checksum-crc32":     0xcbf43926,
		"x-amz-checksum-crc32c":    0xe3069283,
		"x-amz-checksum-crc64nvme": 0xae8b14860a799888,
	}
	for name, check := range want {
		h := checksumAlgorithms[name]()
		h.Write([]byte("123456789"))
		sum := h.Sum(nil)
		var got uint64
		if len(sum) == 4 {
			got = uint64(binary.BigEndian.Uint32(sum))
		} else {
			got = binary.BigEndian.Uint64(sum)
		}
		if got != check {
			t.Errorf("%s(123456789) = %#x, want %#x", name, got, check)
		}
	}
}
