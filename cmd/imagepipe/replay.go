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

	"github.com/imagepipe/imagepipe/local"
)

func init() {
	register(&command{name: "replay", summary: "replay a time window of an EventBridge archive (re-process uploads)", run: runReplay})
}

const replayUsage = `Usage: imagepipe replay --from T [--to T] [--rule NAME]... [--archive NAME] [--name NAME] [--aws]

Starts an EventBridge replay of the archive's events whose time is in
[--from, --to] and prints its progress until it ends. Replayed events carry
"replay-name" and go to the rules of the archive's bus (only the --rule ones
when given). Replaying the uploads archive re-processes those uploads: the
worker skips an image whose outputs are there for the same source, and
re-creates missing ones.

By default it talks to the local stack (imagepipe dev): endpoint
$AWS_ENDPOINT_URL or http://127.0.0.1:4566, credentials from
$IMAGEPIPE_ACCESS_KEY_ID/$IMAGEPIPE_SECRET_ACCESS_KEY or the data directory.
With --aws it uses the default AWS SDK configuration (profile, region,
credentials) and the archives Terraform creates (<name>-uploads,
<name>-completions).

T is RFC 3339 (2026-11-28T04:00:00Z), a time relative to now (-1h, -90m,
-2h30m) or "now".

Exit status: 0 when the replay completed, 1 when it failed or was cancelled
(the reason is printed), 2 on bad usage.

Example:
  imagepipe replay --from -1h
  imagepipe replay --aws --archive imagepipe-uploads --from 2026-11-28T00:00:00Z --to 2026-11-28T06:00:00Z

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
	fs.Var(&rules, "rule", "replay only to this rule of the archive's bus (repeatable)")
	archive := fs.String("archive", local.UploadsArchive, "archive to replay from")
	name := fs.String("name", "", "replay name (default imagepipe-replay-<UTC time>)")
	useAWS := fs.Bool("aws", false, "use the default AWS SDK configuration instead of the local stack")
	dataDir := fs.String("data", firstSet(os.Getenv(local.EnvData), local.DefaultDataDir), "local stack data directory, for its credentials (env "+local.EnvData+")")
	endpoint := fs.String("endpoint", firstSet(os.Getenv("AWS_ENDPOINT_URL"), "http://"+local.DefaultEdgeAddr), "local edge URL (env AWS_ENDPOINT_URL)")
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
	if *name == "" {
		*name = "imagepipe-replay-" + now.UTC().Format("20060102T150405Z")
	}

	var cfg aws.Config
	if *useAWS {
		cfg, err = config.LoadDefaultConfig(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "imagepipe replay: AWS configuration: %v\n", err)
			return 1
		}
	} else {
		cfg, err = localAWSConfig(*dataDir, *endpoint)
		if err != nil {
			fmt.Fprintf(stderr, "imagepipe replay: %v\n", err)
			return 1
		}
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	r := &replayer{client: eventbridge.NewFromConfig(cfg), out: stdout, poll: replayPollEvery}
	if err := r.run(ctx, *name, *archive, rules, start, end); err != nil {
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
	DescribeArchive(context.Context, *eventbridge.DescribeArchiveInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeArchiveOutput, error)
	DescribeRule(context.Context, *eventbridge.DescribeRuleInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	StartReplay(context.Context, *eventbridge.StartReplayInput, ...func(*eventbridge.Options)) (*eventbridge.StartReplayOutput, error)
	DescribeReplay(context.Context, *eventbridge.DescribeReplayInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeReplayOutput, error)
}

type replayer struct {
	client replayAPI
	out    io.Writer
	poll   time.Duration
}

// run starts the replay and prints a line each time its state or progress
// changes, until it ends. It returns nil when the replay completed.
func (r *replayer) run(ctx context.Context, name, archive string, rules []string, from, to time.Time) error {
	arch, err := r.client.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String(archive)})
	if err != nil {
		return fmt.Errorf("archive %s: %w", archive, err)
	}
	busARN := aws.ToString(arch.EventSourceArn)
	dest := &ebtypes.ReplayDestination{Arn: aws.String(busARN)}
	for _, rule := range rules {
		d, err := r.client.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(rule), EventBusName: aws.String(busARN)})
		if err != nil {
			return fmt.Errorf("rule %s: %w", rule, err)
		}
		dest.FilterArns = append(dest.FilterArns, aws.ToString(d.Arn))
	}
	started, err := r.client.StartReplay(ctx, &eventbridge.StartReplayInput{
		ReplayName:     aws.String(name),
		Description:    aws.String("imagepipe replay"),
		EventSourceArn: arch.ArchiveArn,
		EventStartTime: aws.Time(from),
		EventEndTime:   aws.Time(to),
		Destination:    dest,
	})
	if err != nil {
		return fmt.Errorf("start replay: %w", err)
	}
	target := "every rule"
	if len(rules) > 0 {
		target = "rules " + strings.Join(rules, ", ")
	}
	fmt.Fprintf(r.out, "replay %s: %s, %s to %s from archive %s (%d events archived) to %s of %s\n",
		name, started.State, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), archive, arch.EventCount, target, busARN)
	last := string(started.State)
	for {
		d, err := r.client.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: aws.String(name)})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("stopped watching replay %s (it goes on; 'aws events cancel-replay --replay-name %s' stops it): %w", name, name, ctx.Err())
			}
			return fmt.Errorf("describe replay %s: %w", name, err)
		}
		line := string(d.State)
		if d.EventLastReplayedTime != nil {
			line += ", replayed up to " + d.EventLastReplayedTime.UTC().Format(time.RFC3339)
		}
		if line != last {
			fmt.Fprintf(r.out, "replay %s: %s\n", name, line)
			last = line
		}
		switch d.State {
		case ebtypes.ReplayStateCompleted:
			took := ""
			if d.ReplayStartTime != nil && d.ReplayEndTime != nil {
				took = " in " + d.ReplayEndTime.Sub(*d.ReplayStartTime).Round(time.Millisecond).String()
			}
			fmt.Fprintf(r.out, "replay %s: completed%s\n", name, took)
			return nil
		case ebtypes.ReplayStateFailed, ebtypes.ReplayStateCancelled:
			reason := aws.ToString(d.StateReason)
			if reason == "" {
				reason = "no reason given"
			}
			return fmt.Errorf("replay %s %s: %s", name, strings.ToLower(string(d.State)), reason)
		}
		t := time.NewTimer(r.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("stopped watching replay %s (it goes on; 'aws events cancel-replay --replay-name %s' stops it): %w", name, name, ctx.Err())
		case <-t.C:
		}
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
