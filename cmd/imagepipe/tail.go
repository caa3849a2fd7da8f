package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/imagepipe/imagepipe/eventbus"
)

const tailUsage = `Usage: imagepipe events tail [--bus imagepipe|default]... [--pattern FILE] [--json] [--count N] [--timeout D] [--aws [--stack NAME]]

Prints the events of the stack's buses as they happen: the uploads' "Object
Created" on the default bus and the "Image Processed" / "Image Processing
Failed" completions on the imagepipe bus (both buses unless --bus says one).
It works the way AWS's own tools tail a bus: a temporary rule on each bus
sends what matches (--pattern, an EventBridge pattern in a file or inline;
default every event) to a temporary SQS queue that it reads, and both are
removed when it ends (Ctrl-C, --count, --timeout). They are named
imagepipe-tail-<time>-<random> and tagged with a heartbeat that a running
tail renews every minute: if it is killed before it can clean up, the next
imagepipe events tail removes what was left after 5 minutes, and it says
what it could not remove.

` + stackHelp + `

Example:
  imagepipe events tail
  imagepipe events tail --bus imagepipe --pattern failed.json
  imagepipe events tail --json --count 2 | jq -r .detail.image_id
  imagepipe events tail --aws --stack prod

Flags:
`

// Tail resources: their name prefix, tags, the target id on each rule.
const (
	tailPrefix       = "imagepipe-tail-"
	tailTagHeartbeat = "imagepipe:tail-heartbeat"
	tailTargetID     = "tail"
	tailHeartbeat    = time.Minute
	tailStale        = 5 * time.Minute
	// everyEvent matches every event: all have version "0".
	everyEvent = `{"version":["0"]}`
)

func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "imagepipe events tail"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), tailUsage)
		fs.PrintDefaults()
	}
	var target stackTarget
	target.register(fs)
	var buses stringList
	fs.Var(&buses, "bus", "a bus to tail: imagepipe (completions) or default (uploads); repeatable (default both)")
	patternArg := fs.String("pattern", "", "an EventBridge pattern the events must match: a file, or inline JSON")
	asJSON := fs.Bool("json", false, "print each event as JSON, one per line")
	count := fs.Int("count", 0, "stop after this many events (0: until interrupted)")
	timeout := fs.Duration("timeout", 0, "stop after this long (0: until interrupted)")
	rest, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, name+": "+format+"\n", a...)
		fs.Usage()
		return 2
	}
	if len(rest) > 0 {
		return usageErr("unexpected argument %q", rest[0])
	}
	if *count < 0 || *timeout < 0 {
		return usageErr("--count and --timeout must not be negative")
	}
	pattern := everyEvent
	if *patternArg != "" {
		pattern = *patternArg
		if !strings.HasPrefix(strings.TrimSpace(pattern), "{") {
			b, err := os.ReadFile(strings.TrimPrefix(pattern, "@"))
			if err != nil {
				return usageErr("--pattern: %v", err)
			}
			pattern = string(b)
		}
		if _, err := eventbus.ParsePattern(pattern); err != nil {
			return usageErr("--pattern: %v", err)
		}
	}
	st, err := target.resolve(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	busNames := []string{"default", st.customBus}
	if len(buses) > 0 {
		busNames = nil
		for _, b := range buses {
			switch b {
			case "default":
				busNames = append(busNames, "default")
			case "imagepipe", st.customBus:
				busNames = append(busNames, st.customBus)
			default:
				return usageErr("--bus %q: the stack's buses are default and %s", b, st.customBus)
			}
		}
		slices.Sort(busNames)
		busNames = slices.Compact(busNames)
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	t := &tailer{eb: eventbridge.NewFromConfig(st.cfg), sqs: sqs.NewFromConfig(st.cfg), out: stdout, log: stderr, json: *asJSON, now: time.Now}
	return t.run(ctx, busNames, pattern, *count)
}

// tailer tails buses through a temporary rule per bus and a temporary queue.
type tailer struct {
	eb   *eventbridge.Client
	sqs  *sqs.Client
	out  io.Writer
	log  io.Writer
	json bool
	now  func() time.Time

	name     string
	queueURL string
	rules    []string // buses with a rule made
}

func (t *tailer) say(format string, a ...any) {
	fmt.Fprintf(t.log, "imagepipe events tail: "+format+"\n", a...)
}

func (t *tailer) run(ctx context.Context, buses []string, pattern string, count int) int {
	t.removeLeftovers(ctx, buses)
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	t.name = tailPrefix + t.now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(rnd[:])
	err := t.setUp(ctx, buses, pattern)
	defer func() {
		// On the way out, whatever ended the tail (Ctrl-C included):
		// remove what was made, with a context of its own.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		t.cleanUp(cctx)
	}()
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		t.say("%v", err)
		return 1
	}
	t.say("tailing %s into queue %s (Ctrl-C to stop)", strings.Join(buses, " and "), t.name)
	seen, beat := 0, t.now()
	for ctx.Err() == nil {
		if t.now().Sub(beat) >= tailHeartbeat {
			beat = t.now()
			if _, err := t.sqs.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: &t.queueURL, Tags: map[string]string{tailTagHeartbeat: strconv.FormatInt(beat.Unix(), 10)}}); err != nil && ctx.Err() == nil {
				t.say("renew the heartbeat of %s: %v", t.name, err)
			}
		}
		out, err := t.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &t.queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 5})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.say("receive from %s: %v", t.name, err)
			return 1
		}
		var done []sqstypes.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			if count > 0 && seen == count {
				break
			}
			t.print(aws.ToString(m.Body))
			seen++
			done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if len(done) > 0 {
			_, _ = t.sqs.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: &t.queueURL, Entries: done})
		}
		if count > 0 && seen == count {
			break
		}
	}
	return 0
}

// print writes one event: the JSON as it came with --json, else a line.
func (t *tailer) print(body string) {
	if t.json {
		fmt.Fprintln(t.out, strings.TrimSpace(body))
		return
	}
	var ev eventbus.Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		fmt.Fprintln(t.out, strings.TrimSpace(body))
		return
	}
	fmt.Fprintf(t.out, "%s  %-18s %-24s %s\n", ev.Time.Local().Format("15:04:05"), ev.Source, ev.DetailType, eventSummary(ev))
}

// eventSummary says what an event is about in a few words.
func eventSummary(ev eventbus.Event) string {
	switch {
	case ev.Source == eventbus.SourceS3:
		var d eventbus.ObjectCreated
		if json.Unmarshal(ev.Detail, &d) == nil {
			return fmt.Sprintf("s3://%s/%s (%s)", d.Bucket.Name, d.Object.Key, humanSize(d.Object.Size))
		}
	case ev.Source == eventbus.SourceProcess:
		var d eventbus.ImageDetail
		if json.Unmarshal(ev.Detail, &d) == nil {
			s := "image " + d.ImageID
			if d.Error != nil {
				return s + " failed: " + d.Error.Code + ": " + d.Error.Message
			}
			var outs []string
			for _, o := range d.Outputs {
				outs = append(outs, fmt.Sprintf("%s %dx%d", o.Name, o.Width, o.Height))
			}
			s += fmt.Sprintf(" done in %d ms", d.DurationMS)
			if len(outs) > 0 {
				s += " (" + strings.Join(outs, ", ") + ")"
			}
			if d.ReplayName != "" {
				s += " [replay " + d.ReplayName + "]"
			}
			return s
		}
	}
	return truncate(string(ev.Detail), 120)
}

// setUp makes the rules and the queue they send to.
func (t *tailer) setUp(ctx context.Context, buses []string, pattern string) error {
	var ruleARNs []string
	for _, bus := range buses {
		out, err := t.eb.PutRule(ctx, &eventbridge.PutRuleInput{
			Name: &t.name, EventBusName: aws.String(bus), EventPattern: &pattern, State: ebtypes.RuleStateEnabled,
			Description: aws.String("imagepipe events tail: temporary, removed when the tail ends"),
			Tags:        []ebtypes.Tag{{Key: aws.String(tailTagHeartbeat), Value: aws.String(strconv.FormatInt(t.now().Unix(), 10))}},
		})
		if err != nil {
			return fmt.Errorf("put rule %s on bus %s: %w", t.name, bus, err)
		}
		t.rules = append(t.rules, bus)
		ruleARNs = append(ruleARNs, aws.ToString(out.RuleArn))
	}
	// The queue lets the rules send to it, and keeps what nobody read for
	// a minute only.
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Sid": "TailRules", "Effect": "Allow", "Principal": map[string]string{"Service": "events.amazonaws.com"},
		"Action": "sqs:SendMessage", "Resource": "*",
		"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": ruleARNs}},
	}}})
	q, err := t.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &t.name,
		Attributes: map[string]string{"Policy": string(policy), "MessageRetentionPeriod": "60"},
		Tags:       map[string]string{tailTagHeartbeat: strconv.FormatInt(t.now().Unix(), 10)},
	})
	if err != nil {
		return fmt.Errorf("create queue %s: %w", t.name, err)
	}
	t.queueURL = aws.ToString(q.QueueUrl)
	attrs, err := t.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &t.queueURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("queue %s: %w", t.name, err)
	}
	queueARN := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	for _, bus := range buses {
		out, err := t.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &t.name, EventBusName: aws.String(bus),
			Targets: []ebtypes.Target{{Id: aws.String(tailTargetID), Arn: &queueARN}}})
		if err == nil && out.FailedEntryCount > 0 {
			err = errors.New(aws.ToString(out.FailedEntries[0].ErrorMessage))
		}
		if err != nil {
			return fmt.Errorf("target rule %s on bus %s at %s: %w", t.name, bus, t.name, err)
		}
	}
	return nil
}

// cleanUp removes the rules and the queue; what it cannot remove it
// names, with the commands that remove it.
func (t *tailer) cleanUp(ctx context.Context) {
	var left []string
	for _, bus := range t.rules {
		if err := deleteRule(ctx, t.eb, bus, t.name); err != nil {
			left = append(left, fmt.Sprintf("rule %s on bus %s (%v):\n    aws events remove-targets --event-bus-name %s --rule %s --ids %s\n    aws events delete-rule --event-bus-name %s --name %s",
				t.name, bus, err, bus, t.name, tailTargetID, bus, t.name))
		}
	}
	if t.queueURL != "" {
		if _, err := t.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &t.queueURL}); err != nil {
			left = append(left, fmt.Sprintf("queue %s (%v):\n    aws sqs delete-queue --queue-url %s", t.name, err, t.queueURL))
		}
	}
	if len(left) > 0 {
		t.say("could not remove what the tail made; the next imagepipe events tail removes it after %s, or remove it now:\n  %s",
			tailStale, strings.Join(left, "\n  "))
	}
}

// deleteRule removes a rule and its target; a rule already gone is fine.
func deleteRule(ctx context.Context, eb *eventbridge.Client, bus, name string) error {
	_, err := eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &name, EventBusName: &bus, Ids: []string{tailTargetID}})
	var nf *ebtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: &name, EventBusName: &bus})
	if errors.As(err, &nf) {
		return nil
	}
	return err
}

// removeLeftovers removes the rules and queues of tails that ended
// without cleaning up (killed): their heartbeat, or the time in their name,
// is older than tailStale.
func (t *tailer) removeLeftovers(ctx context.Context, buses []string) {
	stale := t.now().Add(-tailStale)
	var removed []string
	fresh := map[string]bool{}
	out, err := t.sqs.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(tailPrefix)})
	if err != nil {
		return // not worth failing the tail for
	}
	for _, url := range out.QueueUrls {
		name := url[strings.LastIndex(url, "/")+1:]
		tags, err := t.sqs.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
		if err != nil {
			continue
		}
		if beat, ok := heartbeat(tags.Tags[tailTagHeartbeat], name); !ok || beat.After(stale) {
			fresh[name] = true
			continue
		}
		for _, bus := range buses {
			_ = deleteRule(ctx, t.eb, bus, name)
		}
		if _, err := t.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err == nil {
			removed = append(removed, name)
		}
	}
	// Rules whose queue never came (killed between the two).
	for _, bus := range buses {
		rules, err := t.eb.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(bus), NamePrefix: aws.String(tailPrefix)})
		if err != nil {
			continue
		}
		for _, r := range rules.Rules {
			name := aws.ToString(r.Name)
			if beat, ok := heartbeat("", name); fresh[name] || !ok || beat.After(stale) {
				continue
			}
			if deleteRule(ctx, t.eb, bus, name) == nil && !slices.Contains(removed, name) {
				removed = append(removed, name)
			}
		}
	}
	if len(removed) > 0 {
		t.say("removed what earlier tails left behind (killed before they could): %s", strings.Join(removed, ", "))
	}
}

// heartbeat is when a tail resource was last known alive: its heartbeat
// tag (Unix seconds), else the time in its name.
func heartbeat(tag, name string) (time.Time, bool) {
	if n, err := strconv.ParseInt(tag, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	stamp, _, _ := strings.Cut(strings.TrimPrefix(name, tailPrefix), "-")
	t, err := time.Parse("20060102T150405Z", stamp)
	return t, err == nil
}
