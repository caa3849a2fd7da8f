// Command process is the worker function behind the SQS event source
// mapping (with ReportBatchItemFailures).
package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/process"
)

// handlerFunc is what lambda.Start runs: an SQS batch in, partial batch
// failures out.
type handlerFunc = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

func main() { awsenv.Main(newHandler) }

// newHandler reads the configuration from the environment and builds the
// handler. main and the test share it (through awsenv).
func newHandler(_ context.Context, awsCfg aws.Config, logger *slog.Logger) (handlerFunc, error) {
	cfg, err := process.ConfigFromEnv()
	if err != nil {
		return nil, fmt.Errorf("bad configuration: %w", err)
	}
	pub := eventbus.NewEventBridge(eventbridge.NewFromConfig(awsCfg), cfg.EventBusName)
	h, err := process.New(cfg, awsenv.S3(awsCfg), pub, logger)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
