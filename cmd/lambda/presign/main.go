// Command presign is the API function behind API Gateway.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/functions/presign"
)

func main() {
	logger := lambdacontext.NewLogger()
	cfg, err := presign.ConfigFromEnv()
	if err != nil {
		fatal(logger, "bad configuration", err)
	}
	awsCfg, err := awsenv.Load(context.Background())
	if err != nil {
		fatal(logger, "aws config", err)
	}
	h, err := presign.New(cfg, awsenv.S3(awsCfg), logger)
	if err != nil {
		fatal(logger, "start", err)
	}
	lambda.Start(h.HandleAPIGateway)
}

func fatal(logger *slog.Logger, msg string, err error) {
	logger.Error(msg, "err", err)
	os.Exit(1)
}
