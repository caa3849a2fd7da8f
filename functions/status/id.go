package status

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Image ids (DESIGN.md §3) have UUIDv7's layout (RFC 9562 §5.7) written as
// 32 lowercase hex digits without dashes: 48 bits of Unix milliseconds,
// the version 7, 12 bits that count within a millisecond, the variant and
// 62 random bits. Ids sort as they were made, so listing processed/status/
// in key order (what S3 does) lists images in creation order, and a time
// is turned into the key to start a listing after. Ids derived from a key
// (uploads not made through the API: the first 32 hex digits of
// the key's SHA-256) are 32 hex
// digits too but carry no time.

var idClock struct {
	sync.Mutex
	ms  int64
	seq uint16
}

// NewID returns a new image id, later than every id this process made
// before.
func NewID() string { return newIDAt(time.Now()) }

func newIDAt(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ms := now.UnixMilli()
	idClock.Lock()
	switch {
	case ms > idClock.ms:
		idClock.ms = ms
		idClock.seq = binary.BigEndian.Uint16(b[6:8]) & 0x3ff // room to count up
	case idClock.seq < 0xfff:
		idClock.seq++
	default: // 3000 ids in one millisecond: borrow the next one
		idClock.ms++
		idClock.seq = 0
	}
	ms, seq := idClock.ms, idClock.seq
	idClock.Unlock()
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | byte(seq>>8)
	b[7] = byte(seq)
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// IDTime returns when an id of NewID's layout was made. ok is false for an
// id that does not have the layout (a key-derived id, most of the time) or
// whose time is not plausible.
func IDTime(id string) (t time.Time, ok bool) {
	if !ValidID(id) || id[12] != '7' || !(id[16] >= '8' && id[16] <= 'b') {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(id[:12], 16, 64)
	if err != nil {
		return time.Time{}, false
	}
	t = time.UnixMilli(ms)
	if t.Year() < 2020 || t.After(time.Now().Add(24*time.Hour)) {
		return time.Time{}, false
	}
	return t, true
}

// IDFloor is the smallest id NewID could make at t: every id made at or
// after t sorts after it.
func IDFloor(t time.Time) string {
	return fmt.Sprintf("%012x", max(t.UnixMilli(), 0)) + strings.Repeat("0", 20)
}

// IDForKey is the image id of an object in the uploads bucket: the id in
// uploads/<id>.<ext> for the keys the API makes, else one derived from the
// key (the first 32 hex digits of its SHA-256), the same each time, for an
// object put there by other means (DESIGN.md §5). ok is false for a key
// outside uploads/.
func IDForKey(key string) (id string, ok bool) {
	name, ok := strings.CutPrefix(key, "uploads/")
	if !ok || name == "" {
		return "", false
	}
	if id := strings.TrimSuffix(name, path.Ext(name)); ValidID(id) {
		return id, true
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16]), true
}
