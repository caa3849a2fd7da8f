// Command notify is the function that the completions-to-notify rule
// invokes for every completion event.
package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/notify"
)

// handlerFunc is what lambda.Start runs: one EventBridge event, an error
// meaning "retry" (asynchronous invocation).
type handlerFunc = func(context.Context, eventbus.Event) error

func main() { awsenv.Main(newHandler) }

// newHandler reads the configuration from the environment and builds the
// handler. main and the test share it (through awsenv).
func newHandler(_ context.Context, awsCfg aws.Config, logger *slog.Logger) (handlerFunc, error) {
	cfg, err := notify.ConfigFromEnv()
	if err != nil {
		return nil, fmt.Errorf("bad configuration: %w", err)
	}
	h, err := notify.New(cfg, awsenv.S3(awsCfg), logger)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
