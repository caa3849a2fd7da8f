package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// startTail runs `imagepipe events tail` in the background against the
// stack and returns once it says it is tailing.
func startTail(t *testing.T, st *local.Stack, args ...string) (cmd *exec.Cmd, stdout *localtest.Buffer, stderr *localtest.Buffer) {
	t.Helper()
	cmd = exec.Command(cliBin, append([]string{"events", "tail", "--data", st.DataDir(), "--endpoint", st.EdgeURL()}, args...)...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IMAGEPIPE_") && !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, stderr = &localtest.Buffer{}, &localtest.Buffer{}
	cmd.Stdout = stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		once := sync.Once{}
		for sc.Scan() {
			stderr.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), ": tailing ") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("events tail did not start:\n%s", stderr.String())
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, stdout, stderr
}

// tailLeftovers lists the queues and rules named like a tail's.
func tailLeftovers(t *testing.T, st *local.Stack) []string {
	t.Helper()
	ctx := context.Background()
	var left []string
	qs, err := sqs.NewFromConfig(st.AWSConfig()).ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(tailPrefix)})
	if err != nil {
		t.Fatal(err)
	}
	left = append(left, qs.QueueUrls...)
	for _, bus := range []string{"default", local.CustomBus} {
		rs, err := eventbridge.NewFromConfig(st.AWSConfig()).ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(bus), NamePrefix: aws.String(tailPrefix)})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs.Rules {
			left = append(left, bus+"/"+aws.ToString(r.Name))
		}
	}
	return left
}

// TestEventsTail: a tail sees an upload's two events, Object Created and
// Image Processed, and Ctrl-C removes its rules and queue.
func TestEventsTail(t *testing.T) {
	st := testStack(t)
	cmd, stdout, stderr := startTail(t, st, "--json")
	if left := tailLeftovers(t, st); len(left) != 3 {
		t.Errorf("while tailing: %v, want a queue and a rule on each bus", left)
	}
	img := cliWriteFile(t, filepath.Join(t.TempDir(), "tail.png"), cliPNG(t, cliImage(24, 16)))
	up := runCLI(t, cliOpts{env: cliEnv(st)}, "upload", "--wait", "--json", img)
	id := cliJSONLines(t, up.stdout)["tail.png"].ImageID
	if up.code != 0 || id == "" {
		t.Fatalf("upload: exit %d\n%s", up.code, up.stderr)
	}
	var created, processed bool
	for deadline := time.Now().Add(30 * time.Second); !(created && processed) && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		created, processed = false, false
		for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			var ev eventbus.Event
			if json.Unmarshal([]byte(l), &ev) != nil {
				continue
			}
			created = created || ev.Source == eventbus.SourceS3 && ev.DetailType == eventbus.DetailTypeObjectCreated && strings.Contains(string(ev.Detail), "uploads/"+id+".png")
			processed = processed || ev.Source == eventbus.SourceProcess && ev.DetailType == eventbus.DetailTypeProcessed && strings.Contains(string(ev.Detail), `"image_id":"`+id+`"`)
		}
	}
	if !created || !processed {
		t.Errorf("tail printed Object Created %v, Image Processed %v for %s; want both\nstdout:\n%s\nstderr:\n%s", created, processed, id, stdout.String(), stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("events tail after Ctrl-C: %v, want exit 0\n%s", err, stderr.String())
	}
	if left := tailLeftovers(t, st); len(left) != 0 {
		t.Errorf("after Ctrl-C the tail left %v", left)
	}
}

// TestEventsTailLines: without --json, one line per event for people;
// --pattern narrows, --count ends the tail.
func TestEventsTailLines(t *testing.T) {
	st := testStack(t)
	pattern := cliWriteFile(t, filepath.Join(t.TempDir(), "failed.json"), []byte(`{"detail-type":["Image Processing Failed"]}`))
	cmd, stdout, stderr := startTail(t, st, "--bus", "imagepipe", "--pattern", pattern, "--count", "1")
	good := cliWriteFile(t, filepath.Join(t.TempDir(), "good.png"), cliPNG(t, cliImage(8, 8)))
	// The bytes are refused by the CLI, so the failure is made by the
	// worker: a file put in the bucket without the API.
	res := runCLI(t, cliOpts{env: cliEnv(st)}, "upload", "--wait", good)
	if res.code != 0 {
		t.Fatal(res.stderr)
	}
	putUpload(t, st, "uploads/tail-fake.jpg", []byte("not a jpeg"))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("tail --count 1: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("tail --count 1 did not end\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "imagepipe.process  Image Processing Failed") || !strings.Contains(lines[0], "failed: not_an_image: ") {
		t.Errorf("tail printed:\n%s", stdout.String())
	}
}

// TestEventsTailRemovesLeftovers: what a killed tail left (its heartbeat
// old) is removed by the next one, which says so.
func TestEventsTailRemovesLeftovers(t *testing.T) {
	st := testStack(t)
	ctx := context.Background()
	const old = tailPrefix + "20200101T000000Z-abcdef"
	sqsc, eb := sqs.NewFromConfig(st.AWSConfig()), eventbridge.NewFromConfig(st.AWSConfig())
	_, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(old), Tags: map[string]string{tailTagHeartbeat: "1577836800"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, bus := range []string{"default", local.CustomBus} {
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(old), EventBusName: aws.String(bus), EventPattern: aws.String(everyEvent)}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(old), EventBusName: aws.String(bus),
			Targets: []ebtypes.Target{{Id: aws.String(tailTargetID), Arn: aws.String("arn:aws:sqs:" + local.Region + ":" + local.Account + ":" + old)}}}); err != nil {
			t.Fatal(err)
		}
	}
	res := runCLI(t, cliOpts{}, "events", "tail", "--data", st.DataDir(), "--endpoint", st.EdgeURL(), "--timeout", "1s")
	if res.code != 0 || !strings.Contains(res.stderr, "removed what earlier tails left behind (killed before they could): "+old) {
		t.Errorf("exit %d\n%s", res.code, res.stderr)
	}
	if left := tailLeftovers(t, st); len(left) != 0 {
		t.Errorf("left: %v", left)
	}
}
