// Package awsenv builds the AWS SDK clients of the Lambda entry points from
// the Lambda environment. With AWS_ENDPOINT_URL set (an emulator such as
// the local stack or moto), S3 uses path-style addressing.
package awsenv

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Load reads the SDK configuration from the environment.
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// S3 returns an S3 client for cfg. Objects PUT through a presigned URL
// carry no checksum, and the SDK would print a plain-text "Response has
// no supported checksum" line, between the JSON log lines, for every read
// of one: that line is turned off.
func S3(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
		o.DisableLogOutputChecksumValidationSkipped = true
	})
}

// Main builds a function's handler with Lambda's logger and the SDK
// configuration of the environment, and runs it with lambda.Start. A
// handler that cannot be built is logged and the process exits 1, which
// Lambda reports as an init error.
func Main[H any](build func(context.Context, aws.Config, *slog.Logger) (H, error)) {
	logger := lambdacontext.NewLogger()
	if limit, ok := SetMemoryLimit(); ok {
		logger.Debug("Go memory limit set from the function's memory", "bytes", limit)
	}
	if percent, ok := SetGCPercent(); ok {
		logger.Debug("Go collector target set under the memory limit", "gogc", percent)
	}
	h, err := Build(context.Background(), logger, build)
	if err != nil {
		logger.Error("start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// MemoryLimitShare is the share of the function's memory given to the Go
// runtime as its soft memory limit: the GC works harder as the heap nears
// it, well before Lambda stops the function for running out of memory. The
// rest is for what the Go runtime does not count (stacks outside the heap,
// the runtime API client's buffers).
const MemoryLimitShare = 0.9

// SetMemoryLimit sets the Go runtime's memory limit to MemoryLimitShare of
// the function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, in MB), unless
// GOMEMLIMIT is set (the runtime has read it already). It returns the limit
// it set.
func SetMemoryLimit() (int64, bool) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	mb, err := strconv.ParseInt(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64)
	if err != nil || mb <= 0 {
		return 0, false
	}
	limit := int64(float64(mb<<20) * MemoryLimitShare)
	debug.SetMemoryLimit(limit)
	return limit, true
}

// GCPercent is the collector's target (GOGC) of a function under a memory
// limit. Lambda bills a function's memory whether its heap uses it or not,
// and at Go's default (100) the collector ran every few megabytes
// allocated: the image worker spent a sixth of its CPU on a 2 MP photo
// collecting a heap of a few megabytes (BenchmarkBinaries warm/process-2MP,
// 39 CPU-ms at 100, 33 at 400; peak memory 24 MB, then 38). The memory
// limit still holds the heap under 90 % of the function's memory: near it
// the collector runs as often as it must, whatever GOGC says.
const GCPercent = 400

// SetGCPercent sets the collector's target to GCPercent when the runtime
// has a memory limit (GOMEMLIMIT, or SetMemoryLimit's) and GOGC is not set
// (the runtime has read it already). It returns the target it set.
func SetGCPercent() (int, bool) {
	if os.Getenv("GOGC") != "" || debug.SetMemoryLimit(-1) == math.MaxInt64 {
		return 0, false
	}
	debug.SetGCPercent(GCPercent)
	return GCPercent, true
}

// Build is what Main does before lambda.Start; the entry points' tests
// call it to get the handler Lambda would run.
func Build[H any](ctx context.Context, logger *slog.Logger, build func(context.Context, aws.Config, *slog.Logger) (H, error)) (H, error) {
	cfg, err := Load(ctx)
	if err != nil {
		var zero H
		return zero, err
	}
	return build(ctx, cfg, logger)
}
