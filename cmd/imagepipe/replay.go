package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local"
)

func init() {
	register(&command{name: "replay", summary: "replay a time window of an archive to the stack's rule and wait for the images", run: runReplay})
}

const replayUsage = `Usage: imagepipe replay --from T [--to T] [--archive NAME] [--rule NAME]... [--all-rules]
                        [--name NAME] [--no-wait] [--aws [--stack NAME]]

Replays the events of an EventBridge archive whose time is in [--from, --to],
to the stack's own rule only, and waits until the replayed images are
re-processed: it reports how many were redone, skipped as duplicates (done
before from the same source) or failed.

The default archive is the stack's uploads archive (<stack>-uploads), whose
events go to <stack>-uploads-to-queue: the worker re-processes each upload,
skipping images already done from the same source. The completions archive
(--archive completions) goes to <stack>-completions-to-notify. --rule NAME
(a full rule name, or a pattern name such as uploads-to-queue) replaces the
default rule; --all-rules sends the events to every rule of the bus, which
in a shared account includes other software's rules.

By default it talks to the local stack (imagepipe dev): endpoint --endpoint,
$AWS_ENDPOINT_URL, the stack running on --data, or http://127.0.0.1:4566, credentials from
$IMAGEPIPE_ACCESS_KEY_ID/$IMAGEPIPE_SECRET_ACCESS_KEY or the data directory.
With --aws it uses the default AWS SDK configuration (profile, region,
credentials) and the stack Terraform deployed as --stack (its name
variable, default $IMAGEPIPE_STACK or imagepipe): the rule must carry the
tag imagepipe:stack=<stack>, and the buckets are found by their tags
(tag:GetResources). On AWS an archive receives events a few minutes after
they happen, so a replay covers only what was archived; the images counted
are those uploaded up to the last replayed event.

T is RFC 3339 (2026-11-28T04:00:00Z), a time relative to now (-1h, -90m,
-2h30m) or "now".

Exit status: 0 when the replay completed and every replayed image was
re-processed without failing; 1 when the replay failed or was cancelled,
an image failed, or --timeout passed first (what is pending is printed);
2 on bad usage.

Example:
  imagepipe replay --from -1h
  imagepipe replay --aws --stack prod --from 2026-11-28T00:00:00Z --to 2026-11-28T06:00:00Z

Flags:
`

// replayPollEvery is how often progress is read.
const replayPollEvery = 250 * time.Millisecond

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imagepipe replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "start of the window: RFC 3339, relative (-1h) or now (required)")
	to := fs.String("to", "now", "end of the window: RFC 3339, relative (-5m) or now")
	var rules stringList
	fs.Var(&rules, "rule", "replay only to this rule of the archive's bus (repeatable; default: the archive's own rule)")
	allRules := fs.Bool("all-rules", false, "replay to every rule of the archive's bus (other software's rules too)")
	archive := fs.String("archive", eventbus.ArchiveUploads, "archive to replay from: uploads, completions or a full archive name")
	name := fs.String("name", "", "replay name (default imagepipe-replay-<UTC time>)")
	noWait := fs.Bool("no-wait", false, "return when the replay completes, without waiting for the images")
	useAWS := fs.Bool("aws", false, "use the default AWS SDK configuration instead of the local stack")
	stack := fs.String("stack", defaultStack(), "with --aws: the stack's Terraform name (env "+envStack+")")
	dataDir := fs.String("data", firstSet(os.Getenv(local.EnvData), local.DefaultDataDir), "local stack data directory, for its credentials (env "+local.EnvData+")")
	endpoint := fs.String("endpoint", "", "local edge URL (env AWS_ENDPOINT_URL; default: the stack running on --data)")
	timeout := fs.Duration("timeout", 0, "give up watching after this long (0: no limit)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), replayUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imagepipe replay: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	now := time.Now()
	if *from == "" {
		fmt.Fprintln(stderr, "imagepipe replay: --from is required (e.g. --from -1h)")
		return 2
	}
	start, err := parseReplayTime(*from, now)
	if err != nil {
		fmt.Fprintf(stderr, "imagepipe replay: --from: %v\n", err)
		return 2
	}
	end, err := parseReplayTime(*to, now)
	if err != nil {
		fmt.Fprintf(stderr, "imagepipe replay: --to: %v\n", err)
		return 2
	}
	if end.Before(start) {
		fmt.Fprintf(stderr, "imagepipe replay: --to %s is before --from %s\n", end.Format(time.RFC3339), start.Format(time.RFC3339))
		return 2
	}
	if *allRules && len(rules) > 0 {
		fmt.Fprintln(stderr, "imagepipe replay: --all-rules and --rule exclude each other")
		return 2
	}
	if *name == "" {
		*name = "imagepipe-replay-" + now.UTC().Format("20060102T150405Z")
	}

	var (
		cfg aws.Config
		dep deployment
	)
	if *useAWS {
		cfg, err = config.LoadDefaultConfig(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "imagepipe replay: AWS configuration: %v\n", err)
			return 1
		}
		dep = deployment{stack: *stack, checkTags: true}
	} else {
		cfg, err = localAWSConfig(*dataDir, localEdge(*endpoint, *dataDir))
		if err != nil {
			fmt.Fprintf(stderr, "imagepipe replay: %v\n", err)
			return 1
		}
		dep = localDeployment()
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = !*useAWS || os.Getenv("AWS_ENDPOINT_URL") != "" })
	r := &replayer{client: eventbridge.NewFromConfig(cfg), out: stdout, poll: replayPollEvery, dep: dep, wait: !*noWait, objects: s3c}
	if *useAWS {
		r.poll = time.Second
	}
	if *useAWS && r.wait {
		// Found before anything starts: a stack that cannot be watched is
		// said at once (--no-wait replays without watching).
		r.dep.uploadsBucket, r.dep.processedBucket, err = lookupBuckets(ctx, tagging.NewFromConfig(cfg), s3c, cfg.Region, dep.stack)
		if err != nil {
			fmt.Fprintf(stderr, "imagepipe replay: %v (--no-wait replays without watching the images)\n", err)
			return 1
		}
	}
	if err := r.run(ctx, replayRequest{name: *name, archive: dep.archiveName(*archive), rules: rules, allRules: *allRules, from: start, to: end}); err != nil {
		fmt.Fprintf(stderr, "imagepipe replay: %v\n", err)
		return 1
	}
	return 0
}

// localAWSConfig points the SDK at the local edge with the local stack's
// credentials: the IMAGEPIPE_* environment, then the data directory, then
// the AWS_* environment that 'imagepipe dev' tells users to export.
func localAWSConfig(dataDir, endpoint string) (aws.Config, error) {
	id, secret := os.Getenv(local.EnvAccessKeyID), os.Getenv(local.EnvSecretAccessKey)
	if id == "" || secret == "" {
		creds, err := local.ReadCredentials(dataDir)
		switch {
		case err == nil:
			id, secret = creds.AccessKeyID, creds.SecretAccessKey
		case os.Getenv("AWS_ACCESS_KEY_ID") != "" && os.Getenv("AWS_SECRET_ACCESS_KEY") != "":
			id, secret = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		default:
			return aws.Config{}, fmt.Errorf("no credentials for the local stack (start 'imagepipe dev' once, or pass --data DIR, or use --aws): %w", err)
		}
	}
	return aws.Config{
		Region:       firstSet(os.Getenv("AWS_REGION"), local.Region),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		BaseEndpoint: aws.String(endpoint),
	}, nil
}

// replayAPI is the part of the EventBridge client replay uses.
type replayAPI interface {
	ruleAPI
	DescribeArchive(context.Context, *eventbridge.DescribeArchiveInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeArchiveOutput, error)
	StartReplay(context.Context, *eventbridge.StartReplayInput, ...func(*eventbridge.Options)) (*eventbridge.StartReplayOutput, error)
	DescribeReplay(context.Context, *eventbridge.DescribeReplayInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeReplayOutput, error)
}

type replayer struct {
	client  replayAPI
	objects objectsAPI
	out     io.Writer
	poll    time.Duration
	dep     deployment
	// wait for the images of an uploads replay to be re-processed.
	wait bool
}

// replayRequest is one replay to start.
type replayRequest struct {
	name, archive string
	// rules to replay to (full or pattern names); none means the archive's
	// own rule, unless allRules.
	rules    []string
	allRules bool
	from, to time.Time
}

// run starts the replay, prints a line each time its state or progress
// changes until it ends, then (for the uploads archive) waits for its
// images. It returns nil when the replay completed and no image failed.
func (r *replayer) run(ctx context.Context, req replayRequest) error {
	arch, err := r.client.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String(req.archive)})
	if err != nil {
		return fmt.Errorf("archive %s: %w", req.archive, err)
	}
	busARN := aws.ToString(arch.EventSourceArn)
	uploads := req.archive == eventbus.ArchiveName(r.dep.stack, eventbus.ArchiveUploads)
	rules, chosen := req.rules, false
	if len(rules) == 0 && !req.allRules {
		switch req.archive {
		case eventbus.ArchiveName(r.dep.stack, eventbus.ArchiveUploads):
			rules = []string{eventbus.RuleUploadsToQueue}
		case eventbus.ArchiveName(r.dep.stack, eventbus.ArchiveCompletions):
			rules = []string{eventbus.RuleCompletionsToNotify}
		default:
			return fmt.Errorf("archive %s is not one of stack %s's: say which rules get its events with --rule NAME (or --all-rules)", req.archive, r.dep.stack)
		}
		chosen = true
	}
	dest := &ebtypes.ReplayDestination{Arn: aws.String(busARN)}
	var names []string
	for _, rule := range rules {
		full := r.dep.ruleName(rule)
		ruleARN, err := r.dep.ruleARN(ctx, r.client, full, busARN, chosen)
		if err != nil {
			return err
		}
		dest.FilterArns = append(dest.FilterArns, ruleARN)
		names = append(names, full)
	}
	started, err := r.client.StartReplay(ctx, &eventbridge.StartReplayInput{
		ReplayName:     aws.String(req.name),
		Description:    aws.String("imagepipe replay"),
		EventSourceArn: arch.ArchiveArn,
		EventStartTime: aws.Time(req.from),
		EventEndTime:   aws.Time(req.to),
		Destination:    dest,
	})
	if err != nil {
		return fmt.Errorf("start replay: %w", err)
	}
	target := "every rule (--all-rules)"
	if len(names) > 0 {
		target = "rule " + strings.Join(names, ", ")
	}
	fmt.Fprintf(r.out, "replay %s: %s, %s to %s from archive %s (%d events archived) to %s of %s\n",
		req.name, started.State, req.from.UTC().Format(time.RFC3339), req.to.UTC().Format(time.RFC3339), req.archive, arch.EventCount, target, busARN)
	last := string(started.State)
	var done *eventbridge.DescribeReplayOutput
	for done == nil {
		d, err := r.client.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: aws.String(req.name)})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("stopped watching replay %s (it goes on; 'aws events cancel-replay --replay-name %s' stops it): %w", req.name, req.name, ctx.Err())
			}
			return fmt.Errorf("describe replay %s: %w", req.name, err)
		}
		line := string(d.State)
		if d.EventLastReplayedTime != nil {
			line += ", replayed up to " + d.EventLastReplayedTime.UTC().Format(time.RFC3339)
		}
		if line != last {
			fmt.Fprintf(r.out, "replay %s: %s\n", req.name, line)
			last = line
		}
		switch d.State {
		case ebtypes.ReplayStateCompleted:
			took := ""
			if d.ReplayStartTime != nil && d.ReplayEndTime != nil {
				took = " in " + d.ReplayEndTime.Sub(*d.ReplayStartTime).Round(time.Millisecond).String()
			}
			fmt.Fprintf(r.out, "replay %s: completed%s\n", req.name, took)
			done = d
			continue
		case ebtypes.ReplayStateFailed, ebtypes.ReplayStateCancelled:
			reason := aws.ToString(d.StateReason)
			if reason == "" {
				reason = "no reason given"
			}
			return fmt.Errorf("replay %s %s: %s", req.name, strings.ToLower(string(d.State)), reason)
		}
		if err := sleep(ctx, r.poll); err != nil {
			return fmt.Errorf("stopped watching replay %s (it goes on; 'aws events cancel-replay --replay-name %s' stops it): %w", req.name, req.name, err)
		}
	}
	if !uploads || !r.wait || r.dep.uploadsBucket == "" {
		return nil
	}
	// Only uploads up to the last replayed event were replayed (on AWS the
	// archive lags a few minutes behind).
	bound := req.to
	if done.EventLastReplayedTime != nil && done.EventLastReplayedTime.Before(bound) {
		bound = *done.EventLastReplayedTime
	}
	return r.waitImages(ctx, req.name, req.from, bound)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// parseReplayTime reads RFC 3339, "now", or a duration relative to now
// ("-1h", "-90m", "+5m").
func parseReplayTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "now" {
		return now, nil
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a relative time like -1h or -30m", s)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-11-28T04:00:00Z), relative (-1h) nor now", s)
	}
	return t, nil
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
