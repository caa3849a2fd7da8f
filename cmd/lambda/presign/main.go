// Command presign is the API function behind API Gateway.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/functions/presign"
)

// handlerFunc is what lambda.Start runs: a REST API proxy integration.
type handlerFunc = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

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
	cfg, err := presign.ConfigFromEnv()
	if err != nil {
		return nil, fmt.Errorf("bad configuration: %w", err)
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	h, err := presign.New(cfg, awsenv.S3(awsCfg), logger)
	if err != nil {
		return nil, err
	}
	return h.HandleAPIGateway, nil
}
