package sqsserver_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// TestAWSCLI runs the operator's aws sqs and aws events commands against
// the local edge, as the README shows them.
func TestAWSCLI(t *testing.T) {
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	awsJSON := func(out any, args ...string) {
		t.Helper()
		stdout, stderr, code := localtest.AWSCLI(t, st, args...)
		if code != 0 {
			t.Fatalf("aws %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		if out != nil {
			if err := json.Unmarshal([]byte(stdout), out); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stdout)
			}
		}
	}
	arn := func(name string) string { return "arn:aws:sqs:" + local.Region + ":" + local.Account + ":" + name }
	url := func(name string) string { return st.EdgeURL() + "/" + local.Account + "/" + name }

	var queues struct{ QueueUrls []string }
	awsJSON(&queues, "sqs", "list-queues")
	for _, q := range []string{local.ProcessQueue, local.ProcessDLQ} {
		if !slices.Contains(queues.QueueUrls, url(q)) {
			t.Errorf("list-queues %v lacks %s", queues.QueueUrls, url(q))
		}
	}
	var got struct{ QueueUrl string }
	awsJSON(&got, "sqs", "get-queue-url", "--queue-name", local.ProcessDLQ)
	if got.QueueUrl != url(local.ProcessDLQ) {
		t.Errorf("get-queue-url: %q, want %q", got.QueueUrl, url(local.ProcessDLQ))
	}
	var attrs struct{ Attributes map[string]string }
	awsJSON(&attrs, "sqs", "get-queue-attributes", "--queue-url", url(local.ProcessQueue), "--attribute-names", "All")
	if a := attrs.Attributes; a["QueueArn"] != arn(local.ProcessQueue) || a["ApproximateNumberOfMessages"] != "0" ||
		!strings.Contains(a["RedrivePolicy"], `"deadLetterTargetArn":"`) {
		t.Errorf("get-queue-attributes: %v", a)
	}

	// A queue of one's own: send, receive, change visibility, delete, purge.
	const mine = "operator-scratch"
	awsJSON(&got, "sqs", "create-queue", "--queue-name", mine, "--attributes", "VisibilityTimeout=30", "--tags", "team=ops")
	for _, body := range []string{`{"n":1}`, `{"n":2}`} {
		awsJSON(nil, "sqs", "send-message", "--queue-url", got.QueueUrl, "--message-body", body)
	}
	var msgs struct {
		Messages []struct {
			MessageId, ReceiptHandle, Body, MD5OfBody string
			Attributes                                map[string]string
		}
	}
	awsJSON(&msgs, "sqs", "receive-message", "--queue-url", got.QueueUrl, "--max-number-of-messages", "10", "--attribute-names", "All")
	if len(msgs.Messages) != 2 || msgs.Messages[0].Body != `{"n":1}` || msgs.Messages[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("receive-message: %+v", msgs)
	}
	// Hidden now; one made visible again comes back with a second receive.
	awsJSON(nil, "sqs", "change-message-visibility", "--queue-url", got.QueueUrl, "--receipt-handle", msgs.Messages[1].ReceiptHandle, "--visibility-timeout", "0")
	awsJSON(nil, "sqs", "delete-message", "--queue-url", got.QueueUrl, "--receipt-handle", msgs.Messages[0].ReceiptHandle)
	awsJSON(&msgs, "sqs", "receive-message", "--queue-url", got.QueueUrl, "--wait-time-seconds", "1", "--attribute-names", "ApproximateReceiveCount")
	if len(msgs.Messages) != 1 || msgs.Messages[0].Body != `{"n":2}` || msgs.Messages[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("receive-message after change-message-visibility: %+v", msgs)
	}
	var tags struct{ Tags map[string]string }
	awsJSON(&tags, "sqs", "list-queue-tags", "--queue-url", got.QueueUrl)
	if tags.Tags["team"] != "ops" {
		t.Errorf("list-queue-tags: %v", tags.Tags)
	}
	awsJSON(nil, "sqs", "purge-queue", "--queue-url", got.QueueUrl)
	awsJSON(&attrs, "sqs", "get-queue-attributes", "--queue-url", got.QueueUrl, "--attribute-names", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
	if attrs.Attributes["ApproximateNumberOfMessages"] != "0" || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("after purge-queue: %v", attrs.Attributes)
	}
	awsJSON(nil, "sqs", "delete-queue", "--queue-url", got.QueueUrl)

	// Errors as SQS words them.
	if _, stderr, code := localtest.AWSCLI(t, st, "sqs", "receive-message", "--queue-url", url("nope")); code == 0 ||
		!strings.Contains(stderr, "(AWS.SimpleQueueService.NonExistentQueue)") {
		t.Errorf("receive-message from a missing queue: exit %d %s", code, stderr)
	}
	if _, stderr, code := localtest.AWSCLI(t, st, "sqs", "start-message-move-task", "--source-arn", arn(local.ProcessQueue)); code == 0 ||
		!strings.Contains(stderr, "must be configured as a Dead Letter Queue") {
		t.Errorf("start-message-move-task from a queue that is no DLQ: exit %d %s", code, stderr)
	}

	// EventBridge: the buses, a rule's target, a rule of one's own.
	var buses struct{ EventBuses []struct{ Name, Arn string } }
	awsJSON(&buses, "events", "list-event-buses")
	var names []string
	for _, b := range buses.EventBuses {
		names = append(names, b.Name)
	}
	if !slices.Equal(names, []string{"default", local.CustomBus}) {
		t.Errorf("list-event-buses: %v", names)
	}
	var targets struct{ Targets []struct{ Id, Arn string } }
	awsJSON(&targets, "events", "list-targets-by-rule", "--rule", local.UploadsRule)
	if len(targets.Targets) != 1 || targets.Targets[0].Arn != arn(local.ProcessQueue) {
		t.Errorf("list-targets-by-rule %s: %+v", local.UploadsRule, targets)
	}
	awsJSON(&got, "sqs", "create-queue", "--queue-name", "watch")
	awsJSON(nil, "events", "put-rule", "--name", "watch", "--event-bus-name", local.CustomBus, "--event-pattern", `{"source":["my.app"]}`)
	awsJSON(nil, "events", "put-targets", "--rule", "watch", "--event-bus-name", local.CustomBus, "--targets", "Id=q,Arn="+arn("watch"))
	awsJSON(nil, "events", "put-events", "--entries", `[{"Source":"my.app","DetailType":"Ping","Detail":"{}","EventBusName":"`+local.CustomBus+`"}]`)
	awsJSON(&msgs, "sqs", "receive-message", "--queue-url", got.QueueUrl, "--wait-time-seconds", "5")
	if len(msgs.Messages) != 1 || !strings.Contains(msgs.Messages[0].Body, `"detail-type":"Ping"`) {
		t.Errorf("the rule's queue got %+v, want the event", msgs)
	}
	if _, stderr, code := localtest.AWSCLI(t, st, "events", "delete-rule", "--name", local.UploadsRule); code == 0 || !strings.Contains(stderr, "ManagedRuleException") {
		t.Errorf("delete-rule of the stack's own rule: exit %d %s", code, stderr)
	}
	awsJSON(nil, "events", "remove-targets", "--rule", "watch", "--event-bus-name", local.CustomBus, "--ids", "q")
	awsJSON(nil, "events", "delete-rule", "--name", "watch", "--event-bus-name", local.CustomBus)
	var rules struct{ Rules []struct{ Name string } }
	awsJSON(&rules, "events", "list-rules", "--event-bus-name", local.CustomBus)
	for _, r := range rules.Rules {
		if r.Name == "watch" {
			t.Error("the rule is still there after delete-rule")
		}
	}
}
