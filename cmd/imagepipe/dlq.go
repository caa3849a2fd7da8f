package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/deadletter"
	"github.com/imagepipe/imagepipe/functions/status"
)

func init() {
	register(&command{name: "dlq", summary: "list the dead letters or move them back to be processed again (list, redrive)", run: runDLQ})
}

const dlqUsage = `Usage: imagepipe dlq SUBCOMMAND [flags]

Subcommands:
  list     print the upload events in the process dead-letter queue
  redrive  move them back to the process queue, to be processed again

An upload event lands in the dead-letter queue when the worker could not
finish its image after the queue's receives (its image is then failed with
retries_exhausted). Both work on the local stack and, with --aws, on a
deployed one, through SQS: list receives the messages and lets them go,
redrive is SQS's StartMessageMoveTask.

Run 'imagepipe dlq SUBCOMMAND --help' for its flags and an example.
`

const dlqListUsage = `Usage: imagepipe dlq list [--queue process|events] [--json] [--limit N] [--aws [--stack NAME]]

Prints the messages of a dead-letter queue without taking them: for the
process queue's (default) the image each upload event is about, the
image's status now, when the upload came, when its message was parked
there and its key (with --json on AWS also the queue it was
dead-lettered from). --queue events lists the completion events that could not be
delivered to notify (already applied to their images). --json prints one
JSON object per message.

` + stackHelp + `

Example:
  imagepipe dlq list
  imagepipe dlq list --json | jq -r .image_id

Flags:
`

const dlqRedriveUsage = `Usage: imagepipe dlq redrive [--wait [--timeout D]] [--rate N] [--aws [--stack NAME]]

Moves the upload events of the process dead-letter queue back to the
process queue (SQS StartMessageMoveTask, as aws sqs start-message-move-task
does), and follows the task until it ends. The worker processes their
images again; --wait waits until each is done or has failed again.

Exit status: 0 when every message moved (and with --wait every image is
done), 1 when the task failed, when messages hidden by a receive stayed
behind, or when an image failed again (or was still failed when --wait
ran out of --timeout), 3 when one was still pending or processing then.

` + stackHelp + `

Example:
  imagepipe dlq redrive --wait
  imagepipe dlq redrive --aws --stack prod

Flags:
`

func runDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, dlqUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, dlqUsage)
		return 0
	case "list", "ls":
		return runDLQList(ctx, args[1:], stdout, stderr)
	case "redrive":
		return runDLQRedrive(ctx, args[1:], stdout, stderr)
	}
	unknownSubcommand(stderr, "dlq", args[0], []string{"list", "redrive"})
	fmt.Fprint(stderr, dlqUsage)
	return 2
}

// deadLetter is one message of a dead-letter queue.
type deadLetter struct {
	MessageID string `json:"message_id"`
	// EventTime is the event's own time (an upload's: when it arrived);
	// ParkedAt when the message was put in the dead-letter queue.
	EventTime time.Time `json:"event_time,omitzero"`
	ParkedAt  time.Time `json:"parked_at"`
	// From is the queue it was dead-lettered from, as the deadletter
	// function records it (deadletter.SourceAttribute); the local queues
	// keep no message attributes, so only on AWS.
	From       string `json:"from,omitempty"`
	ImageID    string `json:"image_id,omitempty"`
	Key        string `json:"key,omitempty"`
	Source     string `json:"source,omitempty"`
	DetailType string `json:"detail_type,omitempty"`
	Status     string `json:"status,omitempty"`
	Error      string `json:"error,omitempty"`
	receipt    string
}

// peekVisibility is how long a peek hides the messages it has seen.
const peekVisibility = 60 * time.Second

// peek is what peekDeadLetters saw.
type peek struct {
	letters []deadLetter
	// lost counts the receives whose answer was lost on the way (the SDK
	// asked again): their messages, up to 10 each, were not seen and stay
	// hidden until hiddenUntil.
	lost        int
	hiddenUntil time.Time
}

// lostWarning says what a lost receive means, "" when none was lost.
func (p peek) lostWarning() string {
	if p.lost == 0 {
		return ""
	}
	return fmt.Sprintf("the answer to %d receive(s) was lost on the way (the SDK asked again): up to %d messages were not seen and stay hidden until %s",
		p.lost, 10*p.lost, p.hiddenUntil.Local().Format("15:04:05"))
}

// peekDeadLetters receives up to limit messages of a queue (0: all),
// hiding each for a while so that every one is seen once, and lets them go
// again; keep, when set, deletes those it returns true for instead.
func peekDeadLetters(ctx context.Context, c *sqs.Client, url string, limit int, keep func(deadLetter) bool) (p peek, err error) {
	var out []deadLetter
	defer func() { p.letters = out }()
	seen := map[string]bool{}
	defer func() {
		// Let them go at once, whatever happened.
		rctx := context.WithoutCancel(ctx)
		for _, d := range out {
			if d.receipt != "" {
				_, _ = c.ChangeMessageVisibility(rctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: &d.receipt, VisibilityTimeout: 0})
			}
		}
	}()
	for limit == 0 || len(out) < limit {
		n := int32(10)
		if limit > 0 {
			n = int32(min(10, limit-len(out)))
		}
		res, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: n, VisibilityTimeout: int32(peekVisibility / time.Second),
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp},
			MessageAttributeNames:       []string{deadletter.SourceAttribute}})
		if err != nil {
			return p, err
		}
		if a, ok := awsretry.GetAttemptResults(res.ResultMetadata); ok && len(a.Results) > 1 {
			// An attempt before this one may have taken messages whose
			// answer never came.
			p.lost += len(a.Results) - 1
			p.hiddenUntil = time.Now().Add(peekVisibility)
		}
		if len(res.Messages) == 0 {
			break
		}
		fresh := 0
		for _, m := range res.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id], fresh = true, fresh+1
			d := deadLetter{MessageID: id, receipt: aws.ToString(m.ReceiptHandle)}
			if ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); err == nil {
				d.ParkedAt = time.UnixMilli(ms).UTC()
			}
			if a, ok := m.MessageAttributes[deadletter.SourceAttribute]; ok {
				from := aws.ToString(a.StringValue)
				d.From = from[strings.LastIndex(from, ":")+1:]
			}
			describeDeadLetter(&d, aws.ToString(m.Body))
			if keep != nil && keep(d) {
				if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
					return p, err
				}
				d.receipt = ""
			}
			out = append(out, d)
		}
		if fresh == 0 {
			break
		}
	}
	return p, nil
}

// describeDeadLetter reads what a dead letter is about from its body: an
// EventBridge event, an S3 upload's or a completion.
func describeDeadLetter(d *deadLetter, body string) {
	var ev eventbus.Event
	if json.Unmarshal([]byte(body), &ev) != nil {
		return
	}
	d.Source, d.DetailType, d.EventTime = ev.Source, ev.DetailType, ev.Time.UTC()
	switch ev.Source {
	case eventbus.SourceS3:
		var oc eventbus.ObjectCreated
		if json.Unmarshal(ev.Detail, &oc) == nil {
			d.Key = oc.Object.Key
			d.ImageID, _ = status.IDForKey(oc.Object.Key)
		}
	case eventbus.SourceProcess:
		var id eventbus.ImageDetail
		if json.Unmarshal(ev.Detail, &id) == nil {
			d.ImageID, d.Key = id.ImageID, id.Source.Key
		}
	}
}

func dlqFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *stackTarget) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var target stackTarget
	target.register(fs)
	return fs, &target
}

// queueURL finds a queue's URL by name.
func queueURL(ctx context.Context, c *sqs.Client, name string) (string, error) {
	out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
	if err != nil {
		return "", fmt.Errorf("queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

func runDLQList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "imagepipe dlq list"
	fs, target := dlqFlags(name, dlqListUsage, stderr)
	which := fs.String("queue", "process", "the dead-letter queue: process (upload events) or events (completion events)")
	asJSON := fs.Bool("json", false, "print one JSON object per message")
	limit := fs.Int("limit", 0, "list at most this many messages (0: all)")
	rest, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(rest) > 0 || (*which != "process" && *which != "events") || *limit < 0 {
		fmt.Fprintf(stderr, "%s: want --queue process or events, a --limit of 0 or more, and no argument\n", name)
		fs.Usage()
		return 2
	}
	st, err := target.resolve(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	c := sqs.NewFromConfig(st.cfg)
	qname := st.processDLQ
	if *which == "events" {
		qname = st.eventsDLQ
	}
	url, err := queueURL(ctx, c, qname)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	pk, err := peekDeadLetters(ctx, c, url, *limit, nil)
	if err != nil {
		fmt.Fprintf(stderr, "%s: receive from %s: %v\n", name, qname, err)
		return 1
	}
	letters := pk.letters
	// The images' status now, from their records.
	if err := st.findBuckets(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: the images' status is not shown: %v\n", name, err)
	}
	store := status.Store{Client: s3.NewFromConfig(st.cfg, func(o *s3.Options) { o.UsePathStyle = st.pathStyle() }), Bucket: st.processedBucket}
	for i := range letters {
		if letters[i].ImageID == "" || st.processedBucket == "" {
			continue
		}
		if rec, err := store.Get(ctx, letters[i].ImageID); err == nil {
			letters[i].Status = rec.Status
			if rec.Error != nil {
				letters[i].Error = rec.Error.Code
			}
		}
	}
	enc := newLineEncoder(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	if !*asJSON && len(letters) > 0 {
		fmt.Fprintln(tw, "IMAGE\tSTATUS\tEVENT\tPARKED\tKEY")
	}
	for _, d := range letters {
		if *asJSON {
			_ = enc.Encode(d)
			continue
		}
		st := d.Status
		if d.Error != "" {
			st += " (" + d.Error + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", orDash(d.ImageID), orDash(st), localTime(d.EventTime), localTime(d.ParkedAt), orDash(d.Key))
	}
	tw.Flush()
	fmt.Fprintf(stderr, "%d messages in %s\n", len(letters), qname)
	if w := pk.lostWarning(); w != "" {
		fmt.Fprintf(stderr, "%s: %s; list again then\n", name, w)
	}
	return 0
}

func runDLQRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "imagepipe dlq redrive"
	fs, target := dlqFlags(name, dlqRedriveUsage, stderr)
	wait := fs.Bool("wait", false, "wait until the moved images are done or have failed again")
	timeout := fs.Duration("timeout", 5*time.Minute, "with --wait, how long to wait for the images")
	rate := fs.Int("rate", 0, "move at most this many messages a second (0: as fast as SQS goes)")
	rest, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(rest) > 0 || *timeout <= 0 || *rate < 0 || *rate > 500 {
		fmt.Fprintf(stderr, "%s: want no argument, a positive --timeout and a --rate of 0-500\n", name)
		fs.Usage()
		return 2
	}
	st, err := target.resolve(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	c := sqs.NewFromConfig(st.cfg)
	arn := func(qname string) (string, string, error) {
		url, err := queueURL(ctx, c, qname)
		if err != nil {
			return "", "", err
		}
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return "", "", fmt.Errorf("queue %s: %w", qname, err)
		}
		return url, a.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
	}
	dlqURL, dlqARN, err := arn(st.processDLQ)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	_, destARN, err := arn(st.processQueue)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	poll := time.Second
	if st.local {
		poll = 100 * time.Millisecond
	}
	// A move task takes the messages visible when it starts: those hidden
	// by a receive (a dlq list running, a receive whose answer was lost)
	// would stay behind, so their hiding is waited out first.
	behind := false // messages hidden when the move started, left in the DLQ
	shown := func() bool {
		deadline := time.Now().Add(peekVisibility + 5*time.Second)
		for said := false; ; said = true {
			a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &dlqURL,
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
				return true
			}
			n, _ := strconv.Atoi(a.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
			switch {
			case n == 0:
				return true
			case time.Now().After(deadline):
				fmt.Fprintf(stderr, "%s: %d messages are still hidden and stay behind: redrive again once they show\n", name, n)
				behind = true
				return true
			case !said:
				fmt.Fprintf(stderr, "%s: %d messages of %s are hidden by an earlier receive (a dlq list, an answer lost on the way); waiting until they show again (at most %s), so that the move takes them\n",
					name, n, st.processDLQ, peekVisibility)
			}
			if !sleepCtx(ctx, poll) {
				return false
			}
		}
	}
	var images []string
	before := map[string]*status.Record{}
	store := status.Store{Client: s3.NewFromConfig(st.cfg, func(o *s3.Options) { o.UsePathStyle = st.pathStyle() })}
	if !*wait && !shown() {
		return 1
	}
	if *wait {
		if err := st.findBuckets(ctx); err != nil {
			fmt.Fprintf(stderr, "%s: %v (without --wait the messages are moved all the same)\n", name, err)
			return 1
		}
		// The images to wait for: a receive of this peek whose answer was
		// lost hides its messages again, so then it is done once more.
		var pk peek
		for try := 1; ; try++ {
			if !shown() {
				return 1
			}
			if pk, err = peekDeadLetters(ctx, c, dlqURL, 0, nil); err != nil {
				fmt.Fprintf(stderr, "%s: receive from %s: %v\n", name, st.processDLQ, err)
				return 1
			}
			if pk.lost == 0 {
				break
			}
			if try == 3 {
				fmt.Fprintf(stderr, "%s: %s; they stay behind: redrive again then\n", name, pk.lostWarning())
				behind = true
				break
			}
		}
		store.Bucket = st.processedBucket
		for _, d := range pk.letters {
			if d.ImageID == "" || slices.Contains(images, d.ImageID) {
				continue
			}
			images = append(images, d.ImageID)
			if rec, err := store.Get(ctx, d.ImageID); err == nil {
				before[d.ImageID] = rec
			}
		}
	}
	in := &sqs.StartMessageMoveTaskInput{SourceArn: &dlqARN, DestinationArn: &destARN}
	if *rate > 0 {
		in.MaxNumberOfMessagesPerSecond = aws.Int32(int32(*rate))
	}
	task, err := c.StartMessageMoveTask(ctx, in)
	if err != nil {
		fmt.Fprintf(stderr, "%s: start moving %s to %s: %v\n", name, st.processDLQ, st.processQueue, err)
		return 1
	}
	fmt.Fprintf(stdout, "moving the messages of %s back to %s (task %s)\n", st.processDLQ, st.processQueue, truncate(aws.ToString(task.TaskHandle), 24))
	for {
		l, err := c.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: &dlqARN, MaxResults: aws.Int32(1)})
		if err != nil {
			fmt.Fprintf(stderr, "%s: follow the task: %v (it goes on: aws sqs list-message-move-tasks --source-arn %s)\n", name, err, dlqARN)
			return 1
		}
		if len(l.Results) > 0 && aws.ToString(l.Results[0].Status) != "RUNNING" {
			r := l.Results[0]
			fmt.Fprintf(stdout, "%s: %d of %d messages moved\n", strings.ToLower(aws.ToString(r.Status)), r.ApproximateNumberOfMessagesMoved, aws.ToInt64(r.ApproximateNumberOfMessagesToMove))
			if aws.ToString(r.Status) != "COMPLETED" {
				fmt.Fprintf(stderr, "%s: the task ended %s: %s\n", name, aws.ToString(r.Status), aws.ToString(r.FailureReason))
				return 1
			}
			break
		}
		if !sleepCtx(ctx, poll) {
			fmt.Fprintf(stderr, "%s: interrupted; the task goes on (aws sqs cancel-message-move-task stops it)\n", name)
			return 1
		}
	}
	code := 0
	if *wait && len(images) > 0 {
		code = waitImages(ctx, store, images, before, *timeout, poll, stdout)
	}
	if behind && code == 0 {
		code = 1
	}
	return code
}

// waitImages polls the images' records until each is done or has failed
// again, and prints how each ended; at the timeout it says what the
// others are. before holds each image's record as it was before it was
// sent again: a failed record that differs from it is a new failure. A
// failure the same as the one recorded (same bytes, same code) is not
// recorded twice (notify applies a completion once), so such an image
// shows as still failed at the timeout. The exit status: 0 all done, 1
// one failed (again, or still) or unreadable, 3 one still pending or
// processing.
func waitImages(ctx context.Context, store status.Store, ids []string, before map[string]*status.Record, timeout, poll time.Duration, stdout io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code := 0
	left := append([]string(nil), ids...)
	last := map[string]*status.Record{}
	for len(left) > 0 {
		var still []string
		for _, id := range left {
			rec, err := store.Get(ctx, id)
			if err == nil {
				last[id] = rec
			}
			switch {
			case err == nil && rec.Status == api.StatusDone:
				fmt.Fprintf(stdout, "%s: done\n", id)
			case err == nil && rec.Status == api.StatusFailed && !sameRecord(rec, before[id]):
				fmt.Fprintf(stdout, "%s: failed again%s\n", id, failureReason(rec))
				code = 1
			default:
				still = append(still, id)
			}
		}
		if left = still; len(left) == 0 || !sleepCtx(ctx, poll) {
			break
		}
	}
	for _, id := range left {
		rec := last[id]
		switch {
		case rec == nil:
			fmt.Fprintf(stdout, "%s: its status could not be read (ask again with imagepipe status %s)\n", id, id)
			code = 1
		case rec.Status == api.StatusFailed:
			fmt.Fprintf(stdout, "%s: still failed after %s%s (the same failure again is not recorded twice)\n", id, timeout, failureReason(rec))
			code = 1
		default:
			fmt.Fprintf(stdout, "%s: still %s after %s (ask again with imagepipe status %s)\n", id, rec.Status, timeout, id)
			if code == 0 {
				code = exitTimeout
			}
		}
	}
	return code
}

// sameRecord says whether a record shows the same completion as an
// earlier read of it (nil: none was read).
func sameRecord(rec, before *status.Record) bool {
	return before != nil && rec.Status == before.Status && rec.CompletionID == before.CompletionID &&
		rec.UpdatedAt.Equal(before.UpdatedAt) && failureReason(rec) == failureReason(before)
}

// failureReason is ": code: message" of a failed record, "" without one.
func failureReason(rec *status.Record) string {
	if rec.Error == nil {
		return ""
	}
	return ": " + rec.Error.Code + ": " + rec.Error.Message
}

// orDash is s, or "-" for an empty column.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// localTime is a column's time in the local zone, "-" for none.
func localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
