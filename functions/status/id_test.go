package status

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIDsSortInCreationOrder(t *testing.T) {
	base := time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC)
	var ids []string
	// Many in the same millisecond, then later ones, then more in a
	// millisecond already used (a clock that did not move on).
	for i := range 5000 {
		ids = append(ids, newIDAt(base.Add(time.Duration(i/2000)*time.Millisecond)))
	}
	ids = append(ids, newIDAt(base.Add(time.Hour)), newIDAt(base.Add(time.Hour)))
	ids = append(ids, newIDAt(base)) // the clock went back: still later
	if !slices.IsSorted(ids) {
		t.Fatal("ids made one after the other do not sort in that order")
	}
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatal("duplicate ids")
	}
	for _, id := range ids {
		if !ValidID(id) {
			t.Fatalf("%q is not a valid id", id)
		}
		if id[12] != '7' || !strings.ContainsRune("89ab", rune(id[16])) {
			t.Fatalf("%q does not have UUIDv7's version and variant", id)
		}
	}
	got, ok := IDTime(ids[0])
	if !ok || !got.Equal(base) {
		t.Errorf("IDTime(%s) = %v, %v; want %v", ids[0], got, ok, base)
	}
	if floor := IDFloor(base); !(floor < ids[0]) || !(IDFloor(base.Add(time.Hour)) > ids[4999]) {
		t.Errorf("IDFloor(%v) = %s does not bound the ids made from then on", base, floor)
	}
}

func TestIDTimeOfOtherIDs(t *testing.T) {
	sum := sha256.Sum256([]byte("uploads/cat.jpg"))
	keyDerived := hex.EncodeToString(sum[:16])
	for _, id := range []string{keyDerived, "0123456789abcdef0123456789abcdef", "00000000000000000000000000000000", "not-an-id"} {
		if tm, ok := IDTime(id); ok {
			t.Errorf("IDTime(%s) = %v, want no time", id, tm)
		}
	}
	if !ValidID(keyDerived) {
		t.Errorf("key-derived id %s must stay valid", keyDerived)
	}
}

func TestIDForKey(t *testing.T) {
	sum := sha256.Sum256([]byte("uploads/cat.jpg"))
	for key, want := range map[string]string{
		"uploads/01a2344307ee7301909bfeaedebfb466.jpg": "01a2344307ee7301909bfeaedebfb466",
		"uploads/0123456789abcdef0123456789abcdef.png": "0123456789abcdef0123456789abcdef",
		"uploads/cat.jpg": hex.EncodeToString(sum[:16]),
		"elsewhere/x.jpg": "",
		"uploads/":        "",
	} {
		got, ok := IDForKey(key)
		if got != want || ok != (want != "") {
			t.Errorf("IDForKey(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
}
