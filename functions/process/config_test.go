package process

import (
	"strings"
	"testing"
)

// TestConfigFromEnvNeedsTheResources: the bucket and the bus have no
// default on Lambda; the tunables do.
func TestConfigFromEnvNeedsTheResources(t *testing.T) {
	for _, name := range []string{EnvProcessedBucket, EnvEventBusName, EnvMaxInputBytes, EnvMaxPixels, EnvJPEGQuality, EnvThumbnailSizes, EnvMaxReceiveCount, EnvPixelBudget} {
		t.Setenv(name, "")
	}
	_, err := ConfigFromEnv()
	if err == nil || !strings.Contains(err.Error(), EnvProcessedBucket+" is required") || !strings.Contains(err.Error(), EnvEventBusName+" is required") {
		t.Fatalf("err = %v, want both resource variables named", err)
	}
	t.Setenv(EnvProcessedBucket, "b")
	t.Setenv(EnvEventBusName, "bus")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.EventBusName != "bus" || c.ProcessedBucket != "b" || c.MaxReceiveCount != 3 {
		t.Errorf("config %+v", c)
	}
}
