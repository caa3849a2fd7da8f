// Command deadletter is the function behind the SQS event source mappings
// of the dead-letter inboxes (with ReportBatchItemFailures): it ends the
// image of every dead letter and parks the message in its dead-letter
// queue.
package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/deadletter"
)

// handlerFunc is what lambda.Start runs: an SQS batch in, partial batch
// failures out.
type handlerFunc = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

func main() { awsenv.Main(newHandler) }

// newHandler reads the configuration from the environment and builds the
// handler. main and the test share it (through awsenv).
func newHandler(_ context.Context, awsCfg aws.Config, logger *slog.Logger) (handlerFunc, error) {
	cfg, err := deadletter.ConfigFromEnv()
	if err != nil {
		return nil, fmt.Errorf("bad configuration: %w", err)
	}
	pub := eventbus.NewEventBridge(eventbridge.NewFromConfig(awsCfg), cfg.Worker.EventBusName)
	h, err := deadletter.New(cfg, awsenv.S3(awsCfg), pub, sqs.NewFromConfig(awsCfg), logger)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
