package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image/png"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

func TestParseReplayTime(t *testing.T) {
	now := time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     time.Time
		wantErr  bool
	}{
		{name: "rfc3339", in: "2026-11-28T04:00:00Z", want: now.Add(-time.Hour)},
		{name: "rfc3339 offset", in: "2026-11-28T06:00:00+02:00", want: now.Add(-time.Hour)},
		{name: "relative", in: "-1h30m", want: now.Add(-90 * time.Minute)},
		{name: "relative future", in: "+5m", want: now.Add(5 * time.Minute)},
		{name: "now", in: "now", want: now},
		{name: "bare duration", in: "1h", wantErr: true},
		{name: "garbage", in: "-yesterday", wantErr: true},
		{name: "date only", in: "2026-11-28", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseReplayTime(tc.in, now)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parsed %q as %v", tc.in, got)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("parseReplayTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestReplayUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "help", args: []string{"--help"}, code: 0, want: "Usage: imagepipe replay"},
		{name: "no from", args: nil, code: 2, want: "--from is required"},
		{name: "bad from", args: []string{"--from", "yesterday"}, code: 2, want: "--from"},
		{name: "reversed", args: []string{"--from", "-1h", "--to", "-2h"}, code: 2, want: "is before"},
		{name: "extra argument", args: []string{"--from", "-1h", "x"}, code: 2, want: "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"replay"}, tc.args...), &out, &errb)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Errorf("exit %d, output %q%q; want exit %d mentioning %q", code, out.String(), errb.String(), tc.code, tc.want)
			}
		})
	}
}

// TestReplayAgainstLocalStack uploads an image to a paused local stack (so
// nothing consumes the queue) and replays the uploads archive with the
// command, reading the credentials from the data directory.
func TestReplayAgainstLocalStack(t *testing.T) {
	for _, k := range []string{local.EnvAccessKeyID, local.EnvSecretAccessKey, local.EnvData, "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	ctx := context.Background()
	st, err := local.Start(ctx, local.Config{DataDir: dir, APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())

	var img bytes.Buffer
	if err := png.Encode(&img, testImage(8, 8)); err != nil {
		t.Fatal(err)
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	if _, err := st.S3Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(local.UploadsBucket), Key: aws.String("uploads/" + hex.EncodeToString(id[:]) + ".png"),
		Body: bytes.NewReader(img.Bytes()), ContentType: aws.String("image/png"),
	}); err != nil {
		t.Fatal(err)
	}
	q := st.Queue(local.ProcessQueue)
	before, err := q.Stats(ctx)
	if err != nil || before.Visible != 1 {
		t.Fatalf("process queue holds %d messages (%v), want the upload's event", before.Visible, err)
	}

	var out, errb bytes.Buffer
	code := run(ctx, []string{"replay", "--data", dir, "--endpoint", st.EdgeURL(), "--from", "-10m", "--to", "+1m",
		"--rule", "uploads-to-queue", "--name", "cmd-test", "--no-wait", "--timeout", "30s"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	t.Logf("imagepipe replay output:\n%s", out.String())
	for _, want := range []string{"replay cmd-test: STARTING", "1 events archived", "rule " + local.UploadsRule + " of", "replay cmd-test: completed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	after, err := q.Stats(ctx)
	if err != nil || after.Visible != 2 {
		t.Errorf("process queue holds %d messages after the replay (%v), want 2", after.Visible, err)
	}

	// A second replay with the same name is refused by the edge.
	out.Reset()
	errb.Reset()
	code = run(ctx, []string{"replay", "--data", dir, "--endpoint", st.EdgeURL(), "--from", "-10m", "--name", "cmd-test", "--no-wait"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "ResourceAlreadyExistsException") {
		t.Errorf("duplicate name: exit %d, stderr %q", code, errb.String())
	}
	// An unknown archive.
	errb.Reset()
	code = run(ctx, []string{"replay", "--data", dir, "--endpoint", st.EdgeURL(), "--from", "-10m", "--archive", "nope", "--rule", "x"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "ResourceNotFoundException") {
		t.Errorf("unknown archive: exit %d, stderr %q", code, errb.String())
	}
	// No credentials anywhere.
	errb.Reset()
	code = run(ctx, []string{"replay", "--data", t.TempDir(), "--endpoint", st.EdgeURL(), "--from", "-10m"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "no credentials") {
		t.Errorf("no credentials: exit %d, stderr %q", code, errb.String())
	}
}

// fakeReplayAPI plays a replay through the given DescribeReplay answers.
type fakeReplayAPI struct {
	states  []*eventbridge.DescribeReplayOutput
	started *eventbridge.StartReplayInput
	calls   int
}

func (f *fakeReplayAPI) DescribeArchive(_ context.Context, in *eventbridge.DescribeArchiveInput, _ ...func(*eventbridge.Options)) (*eventbridge.DescribeArchiveOutput, error) {
	return &eventbridge.DescribeArchiveOutput{ArchiveName: in.ArchiveName, ArchiveArn: aws.String("arn:aws:events:eu-west-1:111122223333:archive/" + aws.ToString(in.ArchiveName)),
		EventSourceArn: aws.String("arn:aws:events:eu-west-1:111122223333:event-bus/default"), EventCount: 42}, nil
}

func (f *fakeReplayAPI) ListTagsForResource(_ context.Context, in *eventbridge.ListTagsForResourceInput, _ ...func(*eventbridge.Options)) (*eventbridge.ListTagsForResourceOutput, error) {
	return &eventbridge.ListTagsForResourceOutput{Tags: []ebtypes.Tag{{Key: aws.String(tagStack), Value: aws.String("imagepipe")}}}, nil
}

func (f *fakeReplayAPI) DescribeRule(_ context.Context, in *eventbridge.DescribeRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error) {
	return &eventbridge.DescribeRuleOutput{Name: in.Name, Arn: aws.String("arn:aws:events:eu-west-1:111122223333:rule/" + aws.ToString(in.Name))}, nil
}

func (f *fakeReplayAPI) StartReplay(_ context.Context, in *eventbridge.StartReplayInput, _ ...func(*eventbridge.Options)) (*eventbridge.StartReplayOutput, error) {
	f.started = in
	return &eventbridge.StartReplayOutput{State: ebtypes.ReplayStateStarting}, nil
}

func (f *fakeReplayAPI) DescribeReplay(_ context.Context, _ *eventbridge.DescribeReplayInput, _ ...func(*eventbridge.Options)) (*eventbridge.DescribeReplayOutput, error) {
	d := f.states[min(f.calls, len(f.states)-1)]
	f.calls++
	return d, nil
}

func TestReplayerProgressAndFailure(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC)
	running := func(last time.Time) *eventbridge.DescribeReplayOutput {
		return &eventbridge.DescribeReplayOutput{State: ebtypes.ReplayStateRunning, EventLastReplayedTime: aws.Time(last)}
	}
	tests := []struct {
		name    string
		states  []*eventbridge.DescribeReplayOutput
		wantErr string
		want    []string
	}{
		{
			name: "completed",
			states: []*eventbridge.DescribeReplayOutput{
				{State: ebtypes.ReplayStateStarting}, running(t0), running(t0), running(t0.Add(time.Minute)),
				{State: ebtypes.ReplayStateCompleted, EventLastReplayedTime: aws.Time(t0.Add(2 * time.Minute)), ReplayStartTime: aws.Time(t0), ReplayEndTime: aws.Time(t0.Add(3 * time.Second))},
			},
			want: []string{
				"replay r: STARTING, 2026-11-28T03:00:00Z to 2026-11-28T05:00:00Z from archive imagepipe-uploads (42 events archived) to rule imagepipe-uploads-to-queue of arn:aws:events:eu-west-1:111122223333:event-bus/default",
				"replay r: RUNNING, replayed up to 2026-11-28T04:00:00Z",
				"replay r: RUNNING, replayed up to 2026-11-28T04:01:00Z",
				"replay r: COMPLETED, replayed up to 2026-11-28T04:02:00Z",
				"replay r: completed in 3s",
			},
		},
		{
			name:    "failed",
			states:  []*eventbridge.DescribeReplayOutput{running(t0), {State: ebtypes.ReplayStateFailed, StateReason: aws.String("Archive imagepipe-uploads does not exist.")}},
			wantErr: "replay r failed: Archive imagepipe-uploads does not exist.",
		},
		{
			name:    "cancelled",
			states:  []*eventbridge.DescribeReplayOutput{{State: ebtypes.ReplayStateCancelled}},
			wantErr: "replay r cancelled: no reason given",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeReplayAPI{states: tc.states}
			var out bytes.Buffer
			r := &replayer{client: f, out: &out, poll: time.Millisecond, dep: deployment{stack: "imagepipe", checkTags: true}}
			err := r.run(context.Background(), replayRequest{name: "r", archive: "imagepipe-uploads", from: t0.Add(-time.Hour), to: t0.Add(time.Hour)})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Errorf("output:\n%s\nwant:\n%s", out.String(), strings.Join(tc.want, "\n"))
				}
			}
			if aws.ToString(f.started.EventSourceArn) != "arn:aws:events:eu-west-1:111122223333:archive/imagepipe-uploads" ||
				len(f.started.Destination.FilterArns) != 1 || f.started.Destination.FilterArns[0] != "arn:aws:events:eu-west-1:111122223333:rule/imagepipe-uploads-to-queue" ||
				!f.started.EventStartTime.Equal(t0.Add(-time.Hour)) {
				t.Errorf("StartReplay input = %+v", f.started)
			}
		})
	}
}

// TestReplayWithAWSConfig runs 'imagepipe replay --aws' against
// moto_server, through the default SDK configuration (AWS_ENDPOINT_URL and
// the AWS_* credentials), on a stack laid out as Terraform lays it out:
// buckets and rule tagged with the stack's name, archive named after it.
func TestReplayWithAWSConfig(t *testing.T) {
	endpoint := localtest.Moto(t)
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv(envStack, "")
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(cfg)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	buses, err := eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{})
	if err != nil {
		t.Fatal(err)
	}
	stackTag := func(stack string) []ebtypes.Tag {
		return []ebtypes.Tag{{Key: aws.String(tagStack), Value: aws.String(stack)}}
	}
	// The same stack's buckets in us-east-1 (this region) and in
	// eu-west-1: the command takes this region's.
	for bucket, role := range map[string]string{"st-uploads": "uploads", "st-processed": "processed", "st-uploads-eu": "uploads", "st-processed-eu": "processed"} {
		in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
		if strings.HasSuffix(bucket, "-eu") {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}
		}
		if _, err := s3c.CreateBucket(ctx, in, func(o *s3.Options) {
			if strings.HasSuffix(bucket, "-eu") {
				o.Region = "eu-west-1"
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: &s3types.Tagging{TagSet: []s3types.Tag{
			{Key: aws.String(tagStack), Value: aws.String("imagepipe")}, {Key: aws.String(tagBucket), Value: aws.String(role)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	rule, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("imagepipe-uploads-to-queue"),
		EventPattern: aws.String(`{"source":["aws.s3"],"detail":{"bucket":{"name":["st-uploads"]}}}`), Tags: stackTag("imagepipe")})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"imagepipe-uploads", "untagged-uploads"} {
		if _, err := eb.CreateArchive(ctx, &eventbridge.CreateArchiveInput{ArchiveName: aws.String(name), EventSourceArn: buses.Arn}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("untagged-uploads-to-queue"), EventPattern: aws.String(`{"source":["x"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("test"), DetailType: aws.String("Tick"), Detail: aws.String(`{}`)}}}); err != nil {
		t.Fatal(err)
	}

	// The default: the stack's uploads archive to its uploads rule only,
	// then the images (none were uploaded) are waited for.
	var out, errb bytes.Buffer
	code := run(ctx, []string{"replay", "--aws", "--from", "-1h", "--to", "+1m", "--name", "moto-replay", "--timeout", "60s"}, &out, &errb)
	t.Logf("output:\n%s%s", out.String(), errb.String())
	for _, want := range []string{"from archive imagepipe-uploads", "to rule imagepipe-uploads-to-queue of", "replay moto-replay: completed", "waiting for the 0 images", "replay moto-replay: 0 images: 0 redone, 0 skipped as duplicates, 0 failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	d, err := eb.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: aws.String("moto-replay")})
	if err != nil || d.State != ebtypes.ReplayStateCompleted || aws.ToString(d.Destination.Arn) != aws.ToString(buses.Arn) ||
		len(d.Destination.FilterArns) != 1 || d.Destination.FilterArns[0] != aws.ToString(rule.RuleArn) {
		t.Errorf("moto's replay: %+v, %v; want only the filter %s", d, err, aws.ToString(rule.RuleArn))
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "a rule without the stack's tag", args: []string{"--stack", "untagged", "--no-wait"}, want: "has no imagepipe:stack tag"},
		{name: "a stack with no buckets", args: []string{"--stack", "other"}, want: `no uploads or processed bucket tagged imagepipe:stack=other and imagepipe:bucket in us-east-1`},
		{name: "another archive needs --rule", args: []string{"--archive", "untagged-uploads", "--no-wait"}, want: "say which rules get its events with --rule"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(ctx, append([]string{"replay", "--aws", "--from", "-1h", "--name", fmt.Sprintf("refused-%d", i)}, tc.args...), &out, &errb)
			if code != 1 || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errb.String(), tc.want)
			}
			if _, err := eb.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: aws.String(fmt.Sprintf("refused-%d", i))}); err == nil {
				t.Errorf("a refused replay was started")
			}
		})
	}
}
