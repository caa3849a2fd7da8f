package process

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/imaging"
	"github.com/imagepipe/imagepipe/metrics"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvProcessedBucket = "PROCESSED_BUCKET"
	EnvEventBusName    = "EVENT_BUS_NAME"
	EnvMaxInputBytes   = "MAX_INPUT_BYTES"
	EnvMaxPixels       = "MAX_PIXELS"
	EnvJPEGQuality     = "JPEG_QUALITY"
	EnvThumbnailSizes  = "THUMBNAIL_SIZES"
	EnvMaxReceiveCount = "MAX_RECEIVE_COUNT"
	EnvMemoryBudgetMB  = "MEMORY_BUDGET_MB"
	EnvStartMargin     = "START_MARGIN"
	EnvFinishMargin    = "FINISH_MARGIN"
	// envPixelBudget is the setting MEMORY_BUDGET_MB replaced; it is
	// refused so that an old deployment does not silently lose it.
	envPixelBudget = "PIXEL_BUDGET"
)

// Config is what the worker needs to know.
type Config struct {
	ProcessedBucket string
	EventBusName    string
	Imaging         imaging.Options
	// MaxReceiveCount is the queue's redrive maxReceiveCount: on the last
	// attempt a transient failure also emits a failure event, because the
	// message goes to the dead-letter queue next.
	MaxReceiveCount int
	// Concurrency is how many images of a batch are worked on at once.
	Concurrency int
	// MemoryBudget bounds, in bytes, the memory of the images worked on at
	// once across the batch (each image weighs its pixels times what its
	// format takes per pixel), so a batch fits the function's memory
	// whatever the images. ConfigFromEnv derives it from the Go memory
	// limit (GOMEMLIMIT, 90 % of the function's memory on Lambda). An image
	// that alone needs more is refused as too_many_pixels.
	MemoryBudget int64
	// StartMargin: no image is started when less time than this is left
	// before the invocation's deadline; those messages come back.
	StartMargin time.Duration
	// FinishMargin: the work under way is cancelled this long before the
	// deadline, so that the answer (with its partial batch failures) gets
	// back to Lambda before the function is stopped.
	FinishMargin time.Duration
	// Stack is the value of the metrics' Stack dimension (metrics.EnvStack).
	Stack string
	// Function is the value of the metrics' Function dimension; empty
	// means "process" (the deadletter function, which runs GiveUp, sets
	// its own).
	Function string
}

// DefaultConfig returns the defaults with the given bucket.
func DefaultConfig(processedBucket string) Config {
	return Config{
		ProcessedBucket: processedBucket,
		EventBusName:    eventbus.DefaultBusName,
		Imaging:         imaging.DefaultOptions(),
		MaxReceiveCount: 5,
		Concurrency:     runtime.GOMAXPROCS(0),
		MemoryBudget:    1 << 30,
		StartMargin:     10 * time.Second,
		FinishMargin:    2 * time.Second,
		Stack:           metrics.DefaultStack,
	}
}

// ConfigFromEnv reads the configuration from the environment. The bucket
// and the bus name the deployed resources and have no default: without
// them the function fails at start, not on its first event.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig(os.Getenv(EnvProcessedBucket))
	c.EventBusName = os.Getenv(EnvEventBusName)
	c.Stack = os.Getenv(metrics.EnvStack)
	var errs []error
	intEnv := func(name string, dst *int64) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				return
			}
			*dst = n
		}
	}
	intEnv(EnvMaxInputBytes, &c.Imaging.MaxBytes)
	intEnv(EnvMaxPixels, &c.Imaging.MaxPixels)
	if limit := memoryLimit(); limit > 0 {
		c.MemoryBudget = DeriveMemoryBudget(limit, c.Concurrency, c.Imaging.MaxBytes)
	}
	budgetMB := c.MemoryBudget >> 20
	intEnv(EnvMemoryBudgetMB, &budgetMB)
	c.MemoryBudget = budgetMB << 20
	if os.Getenv(envPixelBudget) != "" {
		errs = append(errs, fmt.Errorf("%s is no longer read: set %s (the default is derived from the function's memory)", envPixelBudget, EnvMemoryBudgetMB))
	}
	durEnv := func(name string, dst *time.Duration) {
		if v := os.Getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				return
			}
			*dst = d
		}
	}
	durEnv(EnvStartMargin, &c.StartMargin)
	durEnv(EnvFinishMargin, &c.FinishMargin)
	var q, mrc int64 = int64(c.Imaging.JPEGQuality), int64(c.MaxReceiveCount)
	intEnv(EnvJPEGQuality, &q)
	intEnv(EnvMaxReceiveCount, &mrc)
	c.Imaging.JPEGQuality, c.MaxReceiveCount = int(q), int(mrc)
	if v := os.Getenv(EnvThumbnailSizes); v != "" {
		sizes, err := ParseSizes(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvThumbnailSizes, err))
		}
		c.Imaging.ThumbSizes = sizes
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// ParseSizes parses a comma-separated list of thumbnail sizes ("256,512").
func ParseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("thumbnail size %q is not a number", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.ProcessedBucket == "" {
		errs = append(errs, fmt.Errorf("%s is required", EnvProcessedBucket))
	}
	if c.EventBusName == "" {
		errs = append(errs, fmt.Errorf("%s is required", EnvEventBusName))
	}
	if c.Stack == "" {
		errs = append(errs, fmt.Errorf("%s is required: the stack's name, the Stack dimension of the metrics", metrics.EnvStack))
	}
	if err := c.Imaging.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxReceiveCount < 1 {
		errs = append(errs, fmt.Errorf("%s must be at least 1", EnvMaxReceiveCount))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("concurrency must be at least 1"))
	}
	if c.MemoryBudget < 1<<20 {
		errs = append(errs, fmt.Errorf("%s must be at least 1", EnvMemoryBudgetMB))
	}
	if c.StartMargin < 0 || c.FinishMargin < 0 {
		errs = append(errs, fmt.Errorf("%s and %s must not be negative", EnvStartMargin, EnvFinishMargin))
	}
	return errors.Join(errs...)
}
