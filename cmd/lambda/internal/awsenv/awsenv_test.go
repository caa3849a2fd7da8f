package awsenv

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	debug.SetMemoryLimit(math.MaxInt64)

	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1536")
	limit, ok := SetMemoryLimit()
	if want := int64(1536 << 20 * 9 / 10); !ok || limit != want || debug.SetMemoryLimit(-1) != want {
		t.Fatalf("1536 MB function: limit %d (set %v), runtime %d; want %d", limit, ok, debug.SetMemoryLimit(-1), want)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1000MiB")
	if _, ok := SetMemoryLimit(); ok || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatal("GOMEMLIMIT set in the environment was overridden")
	}
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
	if _, ok := SetMemoryLimit(); ok {
		t.Fatal("a limit was set outside Lambda")
	}
}

func TestSetGCPercent(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	debug.SetMemoryLimit(math.MaxInt64)
	if _, ok := SetGCPercent(); ok || debug.SetGCPercent(100) != 100 {
		t.Fatal("the collector's target was raised with no memory limit to hold the heap")
	}

	debug.SetMemoryLimit(1 << 30)
	if p, ok := SetGCPercent(); !ok || p != GCPercent || debug.SetGCPercent(100) != GCPercent {
		t.Fatalf("under a memory limit: target %d (set %v), want %d", p, ok, GCPercent)
	}

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	if _, ok := SetGCPercent(); ok || debug.SetGCPercent(100) != 50 {
		t.Fatal("GOGC set in the environment was overridden")
	}
}
