// Command process is the worker function behind the SQS event source
// mapping (with ReportBatchItemFailures).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/process"
)

func main() {
	logger := lambdacontext.NewLogger()
	cfg, err := process.ConfigFromEnv()
	if err != nil {
		fatal(logger, "bad configuration", err)
	}
	awsCfg, err := awsenv.Load(context.Background())
	if err != nil {
		fatal(logger, "aws config", err)
	}
	pub := eventbus.NewEventBridge(eventbridge.NewFromConfig(awsCfg), cfg.EventBusName)
	h, err := process.New(cfg, awsenv.S3(awsCfg), pub, logger)
	if err != nil {
		fatal(logger, "start", err)
	}
	lambda.Start(h.Handle)
}

func fatal(logger *slog.Logger, msg string, err error) {
	logger.Error(msg, "err", err)
	os.Exit(1)
}
