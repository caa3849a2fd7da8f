package process

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/eventbus"
)

// How a replayed image ended, as recorded for `imagepipe replay`.
const (
	// ReplayRedone: the image was processed again (its outputs were
	// missing, or from another source, or it had failed before).
	ReplayRedone = "redone"
	// ReplayDuplicate: already done from the same source; nothing to do.
	ReplayDuplicate = "duplicate"
	// ReplayFailed: refused or given up on; the record names the code.
	ReplayFailed = "failed"
)

// replayNames are the names EventBridge gives replays. Compiled on first
// use: a repetition {1,64} costs a third of a millisecond to compile, at
// the start of every imagepipe command otherwise.
var replayNames = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`) })

// ReplayPrefix is where the worker records the images of a replay in the
// processed bucket: processed/replays/<replay>/<image id>/<outcome>, with
// outcome "redone", "duplicate" or "failed-<code>". `imagepipe replay`
// lists it to tell how the replay went; a lifecycle rule expires it.
func ReplayPrefix(replay string) string { return "processed/replays/" + replay + "/" }

// ReplayRecord is the body of a replay record.
type ReplayRecord struct {
	ImageID string               `json:"image_id"`
	Replay  string               `json:"replay_name"`
	Outcome string               `json:"outcome"`
	Source  eventbus.ImageSource `json:"source"`
	Error   *eventbus.ImageError `json:"error,omitempty"`
}

// ParseReplayKey reads a key under ReplayPrefix(replay): the image id, the
// outcome and, for a failure, the error code.
func ParseReplayKey(replay, key string) (imageID, outcome, code string, ok bool) {
	rest, ok := strings.CutPrefix(key, ReplayPrefix(replay))
	if !ok {
		return "", "", "", false
	}
	imageID, outcome, ok = strings.Cut(rest, "/")
	if !ok || imageID == "" || strings.Contains(outcome, "/") {
		return "", "", "", false
	}
	if c, failed := strings.CutPrefix(outcome, ReplayFailed+"-"); failed {
		return imageID, ReplayFailed, c, c != ""
	}
	if outcome != ReplayRedone && outcome != ReplayDuplicate {
		return "", "", "", false
	}
	return imageID, outcome, "", true
}

// recordReplay writes how a replayed image ended; nothing for an image that
// no replay caused. An error is transient (the message comes back).
func (h *Handler) recordReplay(ctx context.Context, j *job, outcome string, ie *eventbus.ImageError) error {
	if j.replay == "" {
		return nil
	}
	if !replayNames().MatchString(j.replay) {
		j.log.Warn("replay-name is not an EventBridge replay name: no replay record", "replay_name", j.replay)
		return nil
	}
	name := outcome
	if ie != nil {
		name += "-" + ie.Code
	}
	raw, err := json.Marshal(ReplayRecord{ImageID: j.imageID, Replay: j.replay, Outcome: outcome, Source: j.src, Error: ie})
	if err != nil {
		return fmt.Errorf("encode replay record: %w", err)
	}
	key := ReplayPrefix(j.replay) + j.imageID + "/" + name
	if _, err := h.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(h.cfg.ProcessedBucket), Key: aws.String(key),
		Body: bytes.NewReader(raw), ContentLength: aws.Int64(int64(len(raw))), ContentType: aws.String("application/json"),
	}); err != nil {
		return fmt.Errorf("put replay record %s: %w", key, err)
	}
	return nil
}
