// Command presign is the API function behind API Gateway.
package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/functions/presign"
)

// handlerFunc is what lambda.Start runs: a REST API proxy integration.
type handlerFunc = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

func main() { awsenv.Main(newHandler) }

// newHandler reads the configuration from the environment and builds the
// handler. main and the test share it (through awsenv).
func newHandler(_ context.Context, awsCfg aws.Config, logger *slog.Logger) (handlerFunc, error) {
	cfg, err := presign.ConfigFromEnv()
	if err != nil {
		return nil, fmt.Errorf("bad configuration: %w", err)
	}
	h, err := presign.New(cfg, awsenv.S3(awsCfg), logger)
	if err != nil {
		return nil, err
	}
	return h.HandleAPIGateway, nil
}
