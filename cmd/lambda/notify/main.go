// Command notify is the function that the completions-to-notify rule
// invokes for every completion event.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/notify"
)

// handlerFunc is what lambda.Start runs: one EventBridge event, an error
// meaning "retry" (asynchronous invocation).
type handlerFunc = func(context.Context, eventbus.Event) error

func main() {
	logger := lambdacontext.NewLogger()
	h, err := newHandler(context.Background(), logger)
	if err != nil {
		logger.Error("start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// newHandler reads the configuration and the AWS SDK settings from the
// environment and builds the handler. main and the test share it.
func newHandler(ctx context.Context, logger *slog.Logger) (handlerFunc, error) {
	cfg, err := notify.ConfigFromEnv()
	if err != nil {
		return nil, fmt.Errorf("bad configuration: %w", err)
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	h, err := notify.New(cfg, awsenv.S3(awsCfg), logger)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
