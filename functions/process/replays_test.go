package process

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/imagepipe/imagepipe/imaging"
)

// TestReplayRecords: every image a replay causes gets one record of how it
// ended, under the replay's prefix, that ParseReplayKey reads back.
func TestReplayRecords(t *testing.T) {
	h, fs, _ := newTestHandler(t, func(c *Config) { c.MaxReceiveCount = 2 })
	ctx := context.Background()
	const replay = "nightly-2025-03-01"
	ids := map[string]string{
		"done":      "11111111111111111111111111111111",
		"duplicate": "22222222222222222222222222222222",
		"refused":   "33333333333333333333333333333333",
		"transient": "44444444444444444444444444444444",
	}
	done := fs.upload("uploads/"+ids["done"]+".png", testPNG(t, 8, 8))
	dup := fs.upload("uploads/"+ids["duplicate"]+".png", testPNG(t, 9, 9))
	refused := fs.upload("uploads/"+ids["refused"]+".png", []byte("not an image"))
	transient := fs.upload("uploads/"+ids["transient"]+".png", testPNG(t, 4, 4))
	handle(t, ctx, h, message(t, "first", 1, dup, "")) // done before the replay
	fs.getErr = func(_, key string) error {
		if key == transient.Object.Key {
			return httpError("GetObject", 500, "InternalError", "We encountered an internal error. Please try again.")
		}
		return nil
	}
	handle(t, ctx, h,
		message(t, "a", 1, done, replay), message(t, "b", 1, dup, replay),
		message(t, "c", 1, refused, replay), message(t, "d", 1, transient, replay))
	// The transient failure is recorded only once it is given up on.
	handle(t, ctx, h, message(t, "e", 2, transient, replay))

	got := map[string]string{}
	for key, obj := range fs.objects {
		name, ok := strings.CutPrefix(key, processedBucket+"/")
		if !ok || !strings.HasPrefix(name, "processed/replays/") {
			continue
		}
		id, outcome, code, ok := ParseReplayKey(replay, name)
		if !ok {
			t.Errorf("record key %q does not parse", name)
			continue
		}
		var rec ReplayRecord
		if err := json.Unmarshal(obj.data, &rec); err != nil || rec.ImageID != id || rec.Outcome != outcome || rec.Replay != replay {
			t.Errorf("record %s: %+v, %v", name, rec, err)
		}
		got[id] = strings.TrimSuffix(outcome+" "+code, " ")
	}
	want := map[string]string{
		ids["done"]:      ReplayRedone,
		ids["duplicate"]: ReplayDuplicate,
		ids["refused"]:   ReplayFailed + " " + imaging.ErrNotAnImage.Code,
		ids["transient"]: ReplayFailed + " " + CodeRetriesExhausted,
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("image %s: recorded %q, want %q", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("records %v, want %v", got, want)
	}

	// Images outside a replay leave no record.
	h, fs, _ = newTestHandler(t)
	handle(t, ctx, h, message(t, "x", 1, fs.upload("uploads/"+imageID+".png", testPNG(t, 8, 8)), ""))
	for _, k := range fs.puts {
		if strings.Contains(k, "/replays/") {
			t.Errorf("record %s for an image no replay caused", k)
		}
	}
}

func TestParseReplayKey(t *testing.T) {
	tests := []struct {
		key, id, outcome, code string
		ok                     bool
	}{
		{"processed/replays/r1/abc/redone", "abc", ReplayRedone, "", true},
		{"processed/replays/r1/abc/duplicate", "abc", ReplayDuplicate, "", true},
		{"processed/replays/r1/abc/failed-not_an_image", "abc", ReplayFailed, "not_an_image", true},
		{"processed/replays/r1/abc/failed-", "", "", "", false},
		{"processed/replays/r1/abc/unknown", "", "", "", false},
		{"processed/replays/r2/abc/redone", "", "", "", false},
		{"processed/replays/r1/abc/x/redone", "", "", "", false},
		{"processed/replays/r1/abc", "", "", "", false},
	}
	for _, tc := range tests {
		id, outcome, code, ok := ParseReplayKey("r1", tc.key)
		if ok != tc.ok || (ok && (id != tc.id || outcome != tc.outcome || code != tc.code)) {
			t.Errorf("ParseReplayKey(%q) = %q %q %q %v", tc.key, id, outcome, code, ok)
		}
	}
}

// TestPartitionOfTheUploadEvent: completion events name the source object
// with the partition of the event that announced it (aws-cn in China).
func TestPartitionOfTheUploadEvent(t *testing.T) {
	h, fs, rec := newTestHandler(t)
	msg := message(t, "cn", 1, fs.upload("uploads/"+imageID+".png", testPNG(t, 8, 8)), "")
	msg.Body = strings.Replace(msg.Body, `"arn:aws:s3:::`, `"arn:aws-cn:s3:::`, 1)
	handle(t, context.Background(), h, msg)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.entries) != 1 || !slices.Equal(rec.entries[0].Resources, []string{"arn:aws-cn:s3:::" + uploadsBucket + "/uploads/" + imageID + ".png"}) {
		t.Errorf("completion events %+v, want the source in the aws-cn partition", rec.entries)
	}
}
