package process

import (
	"strings"
	"testing"

	"github.com/imagepipe/imagepipe/metrics"
)

// TestConfigFromEnvNeedsTheResources: the bucket, the bus and the stack
// (the metrics' Stack dimension) have no default on Lambda; the tunables do.
func TestConfigFromEnvNeedsTheResources(t *testing.T) {
	for _, name := range []string{EnvProcessedBucket, EnvEventBusName, metrics.EnvStack, EnvMaxInputBytes, EnvMaxPixels, EnvJPEGQuality, EnvThumbnailSizes, EnvMaxReceiveCount, EnvMemoryBudgetMB, envPixelBudget, EnvStartMargin, EnvFinishMargin} {
		t.Setenv(name, "")
	}
	_, err := ConfigFromEnv()
	if err == nil || !strings.Contains(err.Error(), EnvProcessedBucket+" is required") || !strings.Contains(err.Error(), EnvEventBusName+" is required") ||
		!strings.Contains(err.Error(), metrics.EnvStack+" is required") {
		t.Fatalf("err = %v, want the three variables named", err)
	}
	t.Setenv(EnvProcessedBucket, "b")
	t.Setenv(EnvEventBusName, "bus")
	t.Setenv(metrics.EnvStack, "prod")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.EventBusName != "bus" || c.ProcessedBucket != "b" || c.MaxReceiveCount != 5 || c.Stack != "prod" {
		t.Errorf("config %+v", c)
	}
}
